//! A real `sshd` for tests: generated host and user keys in a temp dir, an unprivileged
//! port on 127.0.0.1, run in the foreground as the current user, killed on drop.
//!
//! Nothing here skips: if sshd or ssh-keygen is missing or sshd does not come up, the
//! test fails with the reason (`.ci/run` installs openssh-server).
#![allow(dead_code)]

use std::fs;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SSHD: &str = "/usr/sbin/sshd";

/// Runs a program and returns its stdout; panics with its stderr on failure.
pub fn run_ok(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e} (is it installed?)"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Generates a key pair without passphrase at `path` (and `path.pub`).
pub fn keygen(path: &Path, kind: &str) {
    let _ = fs::remove_file(path);
    let _ = fs::remove_file(path.with_extension("pub"));
    run_ok(
        "ssh-keygen",
        &[
            "-q",
            "-t",
            kind,
            "-N",
            "",
            "-C",
            "git-fleet-test",
            "-f",
            path.to_str().unwrap(),
        ],
    );
}

/// `SHA256:...` of a public key file, as ssh-keygen prints it.
pub fn fingerprint(public_key: &Path) -> String {
    let out = run_ok(
        "ssh-keygen",
        &["-l", "-E", "sha256", "-f", public_key.to_str().unwrap()],
    );
    out.split_whitespace()
        .nth(1)
        .expect("ssh-keygen -l output")
        .to_string()
}

pub fn current_user() -> String {
    run_ok("id", &["-un"]).trim().to_string()
}

/// One sshd on 127.0.0.1:`port`, with its own host keys, authorized_keys and log.
pub struct Sshd {
    pub dir: PathBuf,
    pub port: u16,
    /// Host key pairs (private key paths; `.pub` beside them).
    pub host_keys: Vec<PathBuf>,
    child: Child,
}

impl Sshd {
    /// Starts sshd in `dir` (created) with Ed25519 host key, accepting `authorized` keys.
    pub fn start(dir: &Path, authorized: &[&Path]) -> Sshd {
        Sshd::start_with_host_keys(dir, authorized, &["ed25519"])
    }

    /// Starts sshd with one generated host key per kind (`ed25519`, `ecdsa`, `rsa`).
    pub fn start_with_host_keys(dir: &Path, authorized: &[&Path], kinds: &[&str]) -> Sshd {
        assert!(
            Path::new(SSHD).is_file(),
            "{SSHD} not found: install openssh-server (apt-get install -y openssh-server)"
        );
        fs::create_dir_all(dir).unwrap();
        let host_keys: Vec<PathBuf> = kinds
            .iter()
            .map(|kind| {
                let key = dir.join(format!("ssh_host_{kind}_key"));
                keygen(&key, kind);
                key
            })
            .collect();
        let mut auth = String::new();
        for key in authorized {
            auth.push_str(&fs::read_to_string(key).unwrap());
        }
        fs::write(dir.join("authorized_keys"), auth).unwrap();
        // sshd running as root insists on its privilege separation directory.
        if run_ok("id", &["-u"]).trim() == "0" {
            fs::create_dir_all("/run/sshd")
                .unwrap_or_else(|e| panic!("cannot create /run/sshd for sshd: {e}"));
        }
        let mut last_log = String::new();
        for _ in 0..5 {
            let port = free_port();
            match Sshd::spawn(dir, port, &host_keys) {
                Ok(child) => {
                    return Sshd {
                        dir: dir.to_path_buf(),
                        port,
                        host_keys,
                        child,
                    }
                }
                Err(log) => last_log = log,
            }
        }
        panic!("sshd did not start; its log:\n{last_log}");
    }

    fn spawn(dir: &Path, port: u16, host_keys: &[PathBuf]) -> Result<Child, String> {
        let mut config = format!(
            "Port {port}\n\
             ListenAddress 127.0.0.1\n\
             AuthorizedKeysFile {auth}\n\
             PidFile {pid}\n\
             StrictModes no\n\
             UsePAM no\n\
             PermitRootLogin prohibit-password\n\
             PubkeyAuthentication yes\n\
             PasswordAuthentication no\n\
             KbdInteractiveAuthentication no\n\
             AcceptEnv none\n\
             PrintMotd no\n\
             LogLevel INFO\n",
            auth = dir.join("authorized_keys").display(),
            pid = dir.join("sshd.pid").display(),
        );
        for key in host_keys {
            config.push_str(&format!("HostKey {}\n", key.display()));
        }
        let cfg = dir.join("sshd_config");
        fs::write(&cfg, config).unwrap();
        let log_path = dir.join("sshd.log");
        let log = fs::File::create(&log_path).unwrap();
        let mut child = Command::new(SSHD)
            .arg("-f")
            .arg(&cfg)
            .args(["-D", "-e"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot run {SSHD}: {e}"))?;
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(15) {
            if let Ok(Some(status)) = child.try_wait() {
                let log = fs::read_to_string(&log_path).unwrap_or_default();
                return Err(format!("sshd exited with {status}:\n{log}"));
            }
            if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
                return Ok(child);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        Err(format!(
            "sshd did not listen on port {port} within 15s:\n{}",
            fs::read_to_string(&log_path).unwrap_or_default()
        ))
    }

    /// Stops this sshd and every connection it is serving, then starts it again on the
    /// same port with the same keys: clients' sessions are dead, the server is back.
    pub fn restart(&mut self) {
        for pid in children_of(self.child.id()) {
            // The shell's builtin: /bin/kill (procps) may not be installed.
            let _ = Command::new("sh")
                .args(["-c", "kill -KILL \"$1\"", "sh", &pid.to_string()])
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::rename(self.dir.join("sshd.log"), self.dir.join("sshd.log.old"));
        self.child = Sshd::spawn(&self.dir, self.port, &self.host_keys)
            .unwrap_or_else(|log| panic!("sshd did not restart: {log}"));
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
    }

    /// How many logins sshd accepted (one per SSH session).
    pub fn accepted_logins(&self) -> usize {
        self.log().matches("Accepted publickey").count()
    }

    /// `[127.0.0.1]:port keytype base64` for host key `i`, a known_hosts line.
    pub fn known_hosts_line(&self, i: usize) -> String {
        let public = fs::read_to_string(self.host_keys[i].with_extension("pub")).unwrap();
        let mut fields = public.split_whitespace();
        let (kind, key) = (fields.next().unwrap(), fields.next().unwrap());
        format!("[127.0.0.1]:{} {kind} {key}\n", self.port)
    }

    pub fn host_fingerprint(&self, i: usize) -> String {
        fingerprint(&self.host_keys[i].with_extension("pub"))
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The processes whose parent is `parent` (from /proc: no `ps` needed).
fn children_of(parent: u32) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        // stat: "pid (comm) state ppid ...", comm may contain spaces and parentheses.
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent) {
            pids.push(pid);
        }
    }
    pids
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port on 127.0.0.1")
}
