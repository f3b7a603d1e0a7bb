//! The openssh transport: the system `ssh`, for setups libssh2 cannot serve (ProxyJump,
//! certificates, FIDO keys, `Match` blocks). OpenSSH reads its own config, so the
//! host stays the alias as written in the peer location.
//!
//! Every command is one `ssh` process; `ControlMaster=auto` with `ControlPersist=60`
//! makes them share one connection per host (the first command starts a background
//! master, the others attach to it). `BatchMode=yes` so nothing ever prompts, and
//! `StrictHostKeyChecking=yes` (`accept-new` when opted in) so host keys are checked
//! against known_hosts as with libssh2.
//!
//! OpenSSH takes `~` from the password database and ignores `$HOME`. When `$HOME` is not
//! the account's home (CI, containers, tests), we point `ssh` at `$HOME/.ssh/config` and
//! `$HOME/.ssh/known_hosts` explicitly, so both transports use the same files. (`-F`
//! then also skips `/etc/ssh/ssh_config`; with the normal `$HOME` nothing is overridden.)

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::{remote_command, remote_script, ShFraming, SshHome};
use crate::peers::config::PeerSsh;
use crate::peers::shell::{CmdOutput, PeerShell, ShellError, SshOptions};

/// Longest control socket path we hand to ssh (a Unix socket path is at most 104-108
/// bytes, and OpenSSH appends a temporary suffix while creating it).
const MAX_CONTROL_PATH: usize = 90;

/// `ssh` exits 255 for its own errors (connect, host key, authentication), a status a
/// remote command may use too; these prefixes tell ssh's own messages apart.
const SSH_ERROR_MARKERS: [&str; 9] = [
    "ssh: ",
    "Host key verification failed",
    "Permission denied (",
    "Connection closed by",
    "Connection reset by",
    "Connection timed out",
    "kex_exchange_identification",
    "banner exchange",
    "@@@@@@@@",
];

pub(super) struct OpensshShell {
    program: OsString,
    args: Vec<OsString>,
    destination: String,
    /// `ssh host sh`, the long-lived remote shell for argv commands, once started.
    sh: Mutex<Option<SshSh>>,
}

/// A running `ssh host sh`: its stdin, and both output streams as `(stream, bytes)`
/// chunks from reader threads (an empty chunk: that stream ended). Commands are
/// framed as [`ShFraming`] says: one remote login shell per host, not per command.
struct SshSh {
    child: Child,
    stdin: ChildStdin,
    chunks: mpsc::Receiver<(usize, Vec<u8>)>,
    framing: ShFraming,
}

pub(super) fn connect(
    peer: &PeerSsh,
    home: &SshHome,
    opts: &SshOptions,
) -> Result<OpensshShell, ShellError> {
    if peer.host.is_empty()
        || peer.host.starts_with('-')
        || peer
            .host
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(ShellError::Other(format!(
            "{:?}: not a host name ssh can be given",
            peer.host
        )));
    }
    let mut args: Vec<OsString> = Vec::new();
    let mut opt = |o: String| {
        args.push("-o".into());
        args.push(o.into());
    };
    opt("BatchMode=yes".into());
    opt(format!(
        "StrictHostKeyChecking={}",
        if opts.accept_new_host_keys {
            "accept-new"
        } else {
            "yes"
        }
    ));
    opt(format!(
        "ConnectTimeout={}",
        opts.connect_timeout.as_secs_f64().ceil().max(1.0) as u64
    ));
    // Keep ssh's own warnings ("Permanently added ...") out of command output; errors,
    // including a changed host key, are still printed.
    opt("LogLevel=ERROR".into());
    match control_dir(home) {
        Some(dir) => {
            opt("ControlMaster=auto".into());
            opt(format!(
                "ControlPath={}/{}",
                dir.display(),
                control_name(peer, home)
            ));
            opt("ControlPersist=60".into());
        }
        None => opt("ControlMaster=no".into()),
    }
    if !is_account_home(&home.home) {
        let config = home.config();
        args.push("-F".into());
        args.push(if config.is_file() {
            config.into_os_string()
        } else {
            "/dev/null".into()
        });
        let mut known = OsString::from("UserKnownHostsFile=");
        known.push(home.known_hosts());
        args.push("-o".into());
        args.push(known);
    }
    if let Some(port) = peer.port {
        args.push("-p".into());
        args.push(port.to_string().into());
    }
    if let Some(user) = &peer.user {
        args.push("-l".into());
        args.push(user.into());
    }
    if let Some(identity) = &peer.identity {
        args.push("-i".into());
        args.push(identity.into());
    }
    args.push("-T".into());
    let shell = OpensshShell {
        program: "ssh".into(),
        args,
        destination: peer.host.clone(),
        sh: Mutex::new(None),
    };
    // Reachable, host key accepted, authenticated: the master and the remote sh are up
    // for what follows.
    let probe = shell
        .run_in_sh("true", opts.connect_timeout + Duration::from_secs(5))
        .map_err(|e| match e {
            ShellError::Other(m) | ShellError::Timeout(m) => ShellError::Unreachable(m),
            unreachable => unreachable,
        })?;
    if !probe.success() {
        return Err(ShellError::Unreachable(format!(
            "{}: ssh exited with {:?}: {}",
            shell.destination,
            probe.code,
            summarize(&probe.stderr)
        )));
    }
    Ok(shell)
}

impl PeerShell for OpensshShell {
    /// Through the long-lived `ssh host sh`; user scripts (`run_shell`) get an `ssh` of
    /// their own, as they may leave background processes holding their output open.
    fn run(&self, dir: &str, argv: &[&str], timeout: Duration) -> Result<CmdOutput, ShellError> {
        self.run_in_sh(&remote_command(dir, argv)?, timeout)
    }

    fn run_shell(
        &self,
        dir: &str,
        script: &str,
        timeout: Duration,
    ) -> Result<CmdOutput, ShellError> {
        self.exec(&remote_script(dir, script)?, timeout)
    }
}

impl OpensshShell {
    /// ssh's own failure (exit 255 with one of its error lines: connect, host
    /// key, authentication) as `Unreachable`; None for anything else.
    fn ssh_failure(&self, status: Option<i32>, stderr: &str) -> Option<ShellError> {
        let ssh_said = stderr
            .lines()
            .any(|l| SSH_ERROR_MARKERS.iter().any(|m| l.starts_with(m)));
        (status == Some(255) && ssh_said).then(|| {
            ShellError::Unreachable(format!("{}: {}", self.destination, summarize(stderr)))
        })
    }

    fn start_sh(&self) -> Result<SshSh, ShellError> {
        let mut child = Command::new(&self.program)
            .args(&self.args)
            .arg("--")
            .arg(&self.destination)
            .arg("sh")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| ShellError::Other(format!("cannot run {:?}: {e}", self.program)))?;
        let (tx, chunks) = mpsc::channel();
        let pipes: [(usize, Option<Box<dyn Read + Send>>); 2] = [
            (
                0,
                child
                    .stdout
                    .take()
                    .map(|p| Box::new(p) as Box<dyn Read + Send>),
            ),
            (
                1,
                child
                    .stderr
                    .take()
                    .map(|p| Box::new(p) as Box<dyn Read + Send>),
            ),
        ];
        for (id, pipe) in pipes {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 32 * 1024];
                if let Some(mut pipe) = pipe {
                    while let Ok(n) = pipe.read(&mut buf) {
                        if n == 0 || tx.send((id, buf[..n].to_vec())).is_err() {
                            break;
                        }
                    }
                }
                let _ = tx.send((id, Vec::new()));
            });
        }
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| ShellError::Other("ssh: no stdin".to_string()))?;
        Ok(SshSh {
            child,
            stdin,
            chunks,
            framing: ShFraming::new(),
        })
    }

    /// Runs one command line in the remote `sh`, starting it first when there is none
    /// or it exited (nothing was sent to that one, so starting afresh is safe).
    fn run_in_sh(&self, command: &str, timeout: Duration) -> Result<CmdOutput, ShellError> {
        let deadline = Instant::now() + timeout;
        let mut slot = self.sh.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(sh) = slot.as_mut() {
            if !matches!(sh.child.try_wait(), Ok(None)) {
                *slot = None;
            }
        }
        let mut sh = match slot.take() {
            Some(sh) => sh,
            None => self.start_sh()?,
        };
        let result = self.run_framed(&mut sh, command, deadline, timeout);
        match &result {
            Ok(_) => *slot = Some(sh),
            // Timed out, or ssh / the shell is gone: it is stopped, the next command
            // starts a new one.
            Err(_) => {
                let _ = sh.child.kill();
                let _ = sh.child.wait();
            }
        }
        result
    }

    fn run_framed(
        &self,
        sh: &mut SshSh,
        command: &str,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<CmdOutput, ShellError> {
        let line = sh.framing.line(command);
        // A failed write means ssh is gone: its streams end, and what it said is read.
        let _ = sh
            .stdin
            .write_all(line.as_bytes())
            .and_then(|_| sh.stdin.flush());
        let mut bufs = [Vec::new(), Vec::new()];
        let mut done = [false, false];
        while done != [true, true] {
            let left = deadline.saturating_duration_since(Instant::now());
            match sh.chunks.recv_timeout(left) {
                Ok((id, chunk)) if chunk.is_empty() => done[id] = true,
                Ok((id, chunk)) => {
                    bufs[id].extend_from_slice(&chunk);
                    done[id] = sh.framing.complete(id as i32, &bufs[id]);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(ShellError::Timeout(format!(
                        "{}: no result after {}s",
                        self.destination,
                        timeout.as_secs_f64()
                    )))
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        let [stdout, stderr] = bufs;
        if let Some(out) = sh.framing.finish(stdout, stderr.clone()) {
            return Ok(out);
        }
        // ssh ended before the command did: its own error (connect, host key,
        // authentication), or the remote shell died.
        let stderr = String::from_utf8_lossy(&stderr).into_owned();
        let status = sh.child.wait().ok().and_then(|s| s.code());
        if let Some(e) = self.ssh_failure(status, &stderr) {
            return Err(e);
        }
        Err(ShellError::Other(format!(
            "{}: the remote sh ended before the command finished (ssh exited with {status:?}): {}",
            self.destination,
            summarize(&stderr)
        )))
    }

    fn exec(&self, command: &str, timeout: Duration) -> Result<CmdOutput, ShellError> {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args)
            .arg("--")
            .arg(&self.destination)
            .arg(command)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| ShellError::Other(format!("cannot run {:?}: {e}", self.program)))?;
        let out = spawn_reader(child.stdout.take());
        let err = spawn_reader(child.stderr.take());
        let status = wait_with_timeout(&mut child, timeout)
            .map_err(|e| ShellError::Other(format!("{}: ssh: {e}", self.destination)))?;
        let Some(status) = status else {
            // Not joining the readers: with multiplexing, ssh handed our pipes to the
            // control master, which keeps them until the remote command ends.
            return Err(ShellError::Timeout(format!(
                "{}: no result after {}s",
                self.destination,
                timeout.as_secs_f64()
            )));
        };
        let stdout = out.join().unwrap_or_default();
        let stderr = err.join().unwrap_or_default();
        if stdout.is_empty() {
            if let Some(e) = self.ssh_failure(status.code(), &stderr) {
                return Err(e);
            }
        }
        Ok(CmdOutput {
            code: status.code(),
            stdout,
            stderr,
        })
    }
}

/// ssh's error output on one line: its multi-line banners (a changed host key) cut down
/// to what matters, the rest joined with "; ".
fn summarize(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(|l| l.trim().trim_end_matches('.'))
        .filter(|l| !l.is_empty() && !l.starts_with("@@@"))
        .collect();
    if stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED") {
        let fingerprint = lines
            .iter()
            .find(|l| l.starts_with("SHA256:"))
            .copied()
            .unwrap_or("?");
        let offending = lines
            .iter()
            .find(|l| l.starts_with("Offending"))
            .copied()
            .unwrap_or("");
        return format!(
            "HOST KEY CHANGED: the server offered {fingerprint}, not the recorded key \
             ({offending}); Host key verification failed"
        );
    }
    lines.join("; ")
}

fn spawn_reader<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Waits for `child`; kills it and returns `None` once `timeout` has passed.
fn wait_with_timeout(child: &mut Child, timeout: Duration) -> std::io::Result<Option<ExitStatus>> {
    let start = Instant::now();
    let mut nap = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if start.elapsed() >= timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(20));
    }
}

/// The control socket's name: one master per alias as written (with its user, port and
/// identity), not per resolved address as `%C` would give. Two aliases of one address
/// may differ in `HostKeyAlias` or identity; a master checked and authenticated for one
/// must not serve the other. (A `HostName` changed in ~/.ssh/config takes effect when
/// the master times out, after `ControlPersist`.)
fn control_name(peer: &PeerSsh, home: &SshHome) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (
        &peer.host,
        &peer.user,
        peer.port,
        &peer.identity,
        home.config(),
    )
        .hash(&mut h);
    format!("fleet-{:016x}", h.finish())
}

/// A private directory for control sockets: `$XDG_RUNTIME_DIR/git-fleet-ssh`, else
/// `~/.ssh/git-fleet-cm`. `None` (no multiplexing) when neither can be made or the
/// socket path would be too long.
fn control_dir(home: &SshHome) -> Option<PathBuf> {
    let runtime = std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|d| !d.is_empty())
        .map(|d| PathBuf::from(d).join("git-fleet-ssh"));
    let candidates = runtime
        .into_iter()
        .chain(std::iter::once(home.dir.join("git-fleet-cm")));
    for dir in candidates {
        // The socket name is `fleet-` and 16 hex digits.
        if dir.as_os_str().len() + 1 + 22 > MAX_CONTROL_PATH {
            continue;
        }
        if make_private_dir(&dir).is_ok() {
            return Some(dir);
        }
    }
    None
}

fn make_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if !dir.is_dir() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let mode = std::fs::metadata(dir)?.permissions().mode();
    if mode & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Whether `home` is the account's home directory from the password database, which
/// is where OpenSSH looks. When that cannot be told, assume it is (change nothing).
fn is_account_home(home: &Path) -> bool {
    static ACCOUNT_HOME: OnceLock<Option<PathBuf>> = OnceLock::new();
    let account = ACCOUNT_HOME.get_or_init(|| {
        use std::os::unix::fs::MetadataExt;
        let uid = std::fs::metadata("/proc/self").ok()?.uid();
        let out = Command::new("getent")
            .args(["passwd", &uid.to_string()])
            .stderr(Stdio::null())
            .output()
            .ok()?;
        let line = String::from_utf8(out.stdout).ok()?;
        let dir = line.trim_end().split(':').nth(5)?;
        (!dir.is_empty()).then(|| PathBuf::from(dir))
    });
    match account {
        Some(account) => {
            let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
            canon(account) == canon(home)
        }
        None => true,
    }
}
