//! SSH peers against a real `sshd` on 127.0.0.1 (see `sshd.rs`), through the public
//! API: `git_fleet::peers::ssh::connect` and `PeerShell::run`.
//!
//! The code under test reads `$HOME/.ssh/{config,known_hosts}`, so each test points HOME
//! at its own temp home; tests hold one lock so no two change the environment at once.

use crate::sshd;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::MutexGuard;
use std::time::{Duration, Instant};

use git_fleet::peers::config::{PeerSsh, Transport};
use git_fleet::peers::shell::{PeerShell, ShellError, SshOptions};
use git_fleet::peers::ssh;
use sshd::Sshd;

const T: Duration = Duration::from_secs(20);

/// A temp home with a user key, `~/.ssh/config` and `~/.ssh/known_hosts`.
struct World {
    _tmp: Option<tempfile::TempDir>,
    root: PathBuf,
    home: PathBuf,
    /// The user's private key (`~/.ssh/fleet_test_key`, named in ~/.ssh/config only).
    key: PathBuf,
    user: String,
    _env: MutexGuard<'static, ()>,
}

impl World {
    fn new() -> World {
        let tmp = tempfile::Builder::new()
            .prefix("fleet-ssh")
            .tempdir()
            .unwrap();
        let (root, home) = (tmp.path().to_path_buf(), tmp.path().join("home"));
        let mut world = World::at(&root, &home);
        world._tmp = Some(tmp);
        world
    }

    /// Sets up `home/.ssh` in an existing directory tree (a `TestEnv`'s).
    fn at(root: &Path, home: &Path) -> World {
        let env = crate::common::process_env_lock();
        fs::create_dir_all(home.join(".ssh")).unwrap();
        let key = home.join(".ssh").join("fleet_test_key");
        sshd::keygen(&key, "ed25519");
        fs::write(home.join(".ssh/config"), "").unwrap();
        fs::write(home.join(".ssh/known_hosts"), "").unwrap();
        // Single-threaded use of the environment: every test holds the process env lock.
        std::env::set_var("HOME", home);
        std::env::remove_var("SSH_AUTH_SOCK");
        std::env::remove_var("XDG_RUNTIME_DIR");
        World {
            _tmp: None,
            root: root.to_path_buf(),
            home: home.to_path_buf(),
            user: sshd::current_user(),
            key,
            _env: env,
        }
    }

    fn root(&self) -> &Path {
        &self.root
    }

    fn sshd(&self, name: &str) -> Sshd {
        Sshd::start(&self.root().join(name), &[&self.key.with_extension("pub")])
    }

    /// `Host <alias>` -> 127.0.0.1, the sshd's port, our user and key. The key is named
    /// `~/.ssh/...` for libssh2 (which takes `~` from $HOME, like the rest of git-fleet);
    /// the system ssh takes `~` from the password database, so it gets the full path.
    fn alias(&self, alias: &str, sshd: &Sshd) {
        self.alias_with_key(alias, sshd, "~/.ssh/fleet_test_key");
    }

    fn alias_for_openssh(&self, alias: &str, sshd: &Sshd) {
        self.alias_with_key(alias, sshd, self.key.to_str().unwrap());
    }

    fn alias_with_key(&self, alias: &str, sshd: &Sshd, key: &str) {
        let mut config = fs::read_to_string(self.home.join(".ssh/config")).unwrap();
        config.push_str(&format!(
            "Host {alias}\n    HostName 127.0.0.1\n    Port {}\n    User {}\n    \
             IdentityFile {key}\n    ServerAliveInterval 30\n\n",
            sshd.port, self.user
        ));
        fs::write(self.home.join(".ssh/config"), config).unwrap();
    }

    fn known_hosts(&self) -> String {
        fs::read_to_string(self.home.join(".ssh/known_hosts")).unwrap_or_default()
    }

    fn add_known_host(&self, line: &str) {
        let mut text = self.known_hosts();
        text.push_str(line);
        fs::write(self.home.join(".ssh/known_hosts"), text).unwrap();
    }

    fn peer(&self, alias: &str, transport: Transport) -> PeerSsh {
        PeerSsh {
            user: None,
            host: alias.to_string(),
            port: None,
            path: self.root().display().to_string(),
            transport,
            identity: None,
        }
    }
}

impl Drop for World {
    /// Stops the control masters the openssh transport left behind (ControlPersist).
    fn drop(&mut self) {
        let dir = self.home.join(".ssh/git-fleet-cm");
        for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
            let _ = std::process::Command::new("ssh")
                .arg("-S")
                .arg(entry.path())
                .args(["-O", "exit", "placeholder"])
                .stdin(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

fn opts(accept_new: bool) -> SshOptions {
    SshOptions {
        accept_new_host_keys: accept_new,
        connect_timeout: Duration::from_secs(10),
    }
}

fn connect(peer: &PeerSsh, accept_new: bool) -> Result<Box<dyn PeerShell>, ShellError> {
    ssh::connect(peer, &opts(accept_new))
}

fn unreachable_reason(result: Result<impl Sized, ShellError>) -> String {
    match result {
        Err(ShellError::Unreachable(reason)) => reason,
        Err(other) => panic!("expected Unreachable, got {other:?}"),
        Ok(_) => panic!("expected Unreachable, got a connection"),
    }
}

fn both_transports() -> [Transport; 2] {
    [Transport::Libssh2, Transport::Openssh]
}

#[test]
fn runs_in_the_directory_over_one_session() {
    let w = World::new();
    let server = w.sshd("sshd");
    w.alias("fleet-a", &server);
    w.add_known_host(&server.known_hosts_line(0));
    let dir = w.root().join("peer checkout");
    fs::create_dir_all(&dir).unwrap();
    let dir = dir.to_str().unwrap();

    let shell = connect(&w.peer("fleet-a", Transport::Libssh2), false).unwrap();
    let out = shell.run(dir, &["pwd"], T).unwrap();
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.stdout, format!("{dir}\n"));

    let out = shell
        .run(dir, &["sh", "-c", "echo out; echo err >&2; exit 3"], T)
        .unwrap();
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (Some(3), "out\n", "err\n")
    );

    let out = shell
        .run_shell(dir, "basename \"$PWD\"; echo $((6*7))", T)
        .unwrap();
    assert_eq!(out.stdout, "peer checkout\n42\n", "{out:?}");

    // Git runs there too, non-interactively.
    let out = shell.run(dir, &["git", "init", "-q", "."], T).unwrap();
    assert!(out.success(), "{out:?}");
    let out = shell
        .run(dir, &["git", "rev-parse", "--show-toplevel"], T)
        .unwrap();
    assert_eq!(out.stdout.trim(), dir);

    // Several megabytes on both streams at once: no stall on a full channel window.
    let out = shell
        .run_shell(
            dir,
            "head -c 3000000 /dev/zero | tr '\\0' e >&2; head -c 3000000 /dev/zero | tr '\\0' o",
            T,
        )
        .unwrap();
    assert_eq!((out.stdout.len(), out.stderr.len()), (3_000_000, 3_000_000));

    // A second peer on the same host reuses the session.
    let second = connect(&w.peer("fleet-a", Transport::Libssh2), false).unwrap();
    assert!(second.run(dir, &["true"], T).unwrap().success());
    assert!(shell.run(dir, &["true"], T).unwrap().success());
    assert_eq!(server.accepted_logins(), 1, "sshd log:\n{}", server.log());

    // The server restarts (our session dies with it): the next command reconnects.
    let mut server = server;
    server.restart();
    let out = shell.run(dir, &["echo", "back"], T).unwrap();
    assert_eq!(out.stdout, "back\n");
    assert_eq!(server.accepted_logins(), 1, "sshd log:\n{}", server.log());

    // A missing directory is the command failing, not the transport.
    let out = shell.run("/nonexistent/dir", &["true"], T).unwrap();
    assert_ne!(out.code, Some(0));
    assert!(out.stderr.contains("nonexistent"), "{out:?}");
}

#[test]
fn unknown_host_key_is_refused_unless_accepted_and_a_changed_key_always() {
    let w = World::new();
    let server = w.sshd("sshd");
    w.alias("fleet-b", &server);
    let dir = w.root().to_str().unwrap().to_string();
    let peer = w.peer("fleet-b", Transport::Libssh2);

    let reason = unreachable_reason(connect(&peer, false));
    let host = format!("[127.0.0.1]:{}", server.port);
    assert!(reason.contains(&host), "{reason}");
    assert!(reason.contains(&server.host_fingerprint(0)), "{reason}");
    assert!(reason.contains("not in"), "{reason}");
    assert_eq!(w.known_hosts(), "", "a refused key must not be recorded");
    assert_eq!(server.accepted_logins(), 0);
    // Another peer on the same host gets the same answer.
    assert_eq!(unreachable_reason(connect(&peer, false)), reason);

    // Opted in: recorded (in a form OpenSSH finds), then used.
    let shell = connect(&peer, true).unwrap();
    assert!(shell.run(&dir, &["true"], T).unwrap().success());
    let found = sshd::run_ok(
        "ssh-keygen",
        &[
            "-F",
            &host,
            "-f",
            w.home.join(".ssh/known_hosts").to_str().unwrap(),
        ],
    );
    assert!(found.contains("ssh-ed25519"), "{found}");

    // Another server whose recorded key is not the one it presents: refused, even with
    // accept-new, and known_hosts is left alone.
    let other = Sshd::start(&w.root().join("sshd2"), &[&w.key.with_extension("pub")]);
    w.alias("fleet-b2", &other);
    let forged = server
        .known_hosts_line(0)
        .replace(&format!(":{} ", server.port), &format!(":{} ", other.port));
    w.add_known_host(&forged);
    let before = w.known_hosts();
    let reason = unreachable_reason(connect(&w.peer("fleet-b2", Transport::Libssh2), true));
    assert!(reason.contains("CHANGED"), "{reason}");
    assert!(reason.contains(&other.host_fingerprint(0)), "{reason}");
    assert_eq!(w.known_hosts(), before);
    assert_eq!(other.accepted_logins(), 0);
}

/// A server with several host keys, of which known_hosts records only the ECDSA one
/// (libssh2 would negotiate Ed25519 first): that is a known host, not a changed key.
#[test]
fn a_recorded_key_of_another_type_is_still_known() {
    let w = World::new();
    let server = Sshd::start_with_host_keys(
        &w.root().join("sshd"),
        &[&w.key.with_extension("pub")],
        &["ed25519", "ecdsa"],
    );
    w.alias("fleet-c", &server);
    w.add_known_host(&server.known_hosts_line(1));
    let shell = connect(&w.peer("fleet-c", Transport::Libssh2), false).unwrap();
    assert!(shell
        .run(w.root().to_str().unwrap(), &["true"], T)
        .unwrap()
        .success());
}

#[test]
fn hostile_directories_and_arguments_execute_nothing() {
    let w = World::new();
    let server = w.sshd("sshd");
    w.alias_for_openssh("fleet-d", &server);
    w.add_known_host(&server.known_hosts_line(0));
    let marker = |n: usize| w.root().join(format!("pwned-{n}"));
    let m = |n: usize| marker(n).display().to_string();
    let dir = w.root().join(format!(
        "peer $(touch {}) `touch {}`; touch {} 'single' \"double\"\nnewline & touch {} | x",
        m(1),
        m(2),
        m(3),
        m(4)
    ));
    fs::create_dir_all(&dir).unwrap();
    let dir = dir.to_str().unwrap();
    let hostile_args = [
        format!("$(touch {})", m(5)),
        format!("`touch {}`", m(6)),
        format!("main; touch {}", m(7)),
        format!("x' ; touch {} ; echo '", m(8)),
        format!("x\" ; touch {} ; echo \"", m(9)),
        format!("line\ntouch {}", m(10)),
        format!("a && touch {} || b", m(11)),
    ];
    for transport in both_transports() {
        let shell = connect(&w.peer("fleet-d", transport), false).unwrap();
        let out = shell.run(dir, &["pwd"], T).unwrap();
        assert_eq!(out.stdout, format!("{dir}\n"), "{transport:?}: {out:?}");

        let mut argv = vec!["printf", "%s\\n"];
        argv.extend(hostile_args.iter().map(String::as_str));
        let out = shell.run(dir, &argv, T).unwrap();
        let expected: String = hostile_args.iter().map(|a| format!("{a}\n")).collect();
        assert_eq!(out.stdout, expected, "{transport:?}: {out:?}");

        // As a branch name, and as the directory of a command that is then missing.
        for arg in &hostile_args {
            let out = shell
                .run(dir, &["git", "rev-parse", "--verify", "--quiet", arg], T)
                .unwrap();
            assert_ne!(out.code, Some(0));
            let out = shell.run(arg, &["true"], T).unwrap();
            assert_ne!(out.code, Some(0), "{transport:?}: cd into {arg:?}: {out:?}");
        }
        // A user script is one argument of `sh -c`; the directory still stays literal.
        let out = shell.run_shell(dir, "pwd", T).unwrap();
        assert_eq!(out.stdout, format!("{dir}\n"));
    }
    for n in 1..=11 {
        assert!(
            !marker(n).exists(),
            "marker {n} was created: something executed"
        );
    }
    let leftovers: Vec<_> = fs::read_dir(dir).unwrap().flatten().collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn openssh_transport_checks_host_keys_and_multiplexes() {
    let w = World::new();
    let server = w.sshd("sshd");
    w.alias_for_openssh("fleet-e", &server);
    let peer = w.peer("fleet-e", Transport::Openssh);
    let dir = w.root().join("checkout");
    fs::create_dir_all(&dir).unwrap();
    let dir = dir.to_str().unwrap();

    let reason = unreachable_reason(connect(&peer, false));
    assert!(reason.contains("Host key verification failed"), "{reason}");
    assert_eq!(w.known_hosts(), "");

    let shell = connect(&peer, true).unwrap();
    assert!(
        w.known_hosts().contains("ssh-ed25519"),
        "{}",
        w.known_hosts()
    );
    let out = shell.run(dir, &["pwd"], T).unwrap();
    assert_eq!(out.stdout, format!("{dir}\n"), "{out:?}");
    assert_eq!(
        out.stderr, "",
        "ssh's own chatter must stay out of command output"
    );
    let out = shell
        .run(dir, &["sh", "-c", "echo out; echo err >&2; exit 4"], T)
        .unwrap();
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (Some(4), "out\n", "err\n")
    );
    let again = connect(&peer, false).unwrap();
    assert!(again.run(dir, &["true"], T).unwrap().success());
    assert_eq!(
        server.accepted_logins(),
        1,
        "one multiplexed connection; sshd log:\n{}",
        server.log()
    );

    // The same host, changed key: refused.
    let other = Sshd::start(&w.root().join("sshd2"), &[&w.key.with_extension("pub")]);
    w.alias_for_openssh("fleet-e2", &other);
    let forged = server
        .known_hosts_line(0)
        .replace(&format!(":{} ", server.port), &format!(":{} ", other.port));
    w.add_known_host(&forged);
    let reason = unreachable_reason(connect(&w.peer("fleet-e2", Transport::Openssh), true));
    assert!(reason.contains("HOST KEY CHANGED"), "{reason}");
    assert!(reason.contains(&other.host_fingerprint(0)), "{reason}");
    assert!(!reason.contains('\n'), "one line: {reason}");
}

#[test]
fn command_timeout_then_the_host_is_usable_again() {
    let w = World::new();
    let server = w.sshd("sshd");
    w.alias_for_openssh("fleet-f", &server);
    w.add_known_host(&server.known_hosts_line(0));
    let dir = w.root().to_str().unwrap().to_string();
    for transport in both_transports() {
        let shell = connect(&w.peer("fleet-f", transport), false).unwrap();
        let start = Instant::now();
        let result = shell.run(&dir, &["sleep", "30"], Duration::from_millis(700));
        assert!(
            matches!(result, Err(ShellError::Timeout(_))),
            "{transport:?}: {result:?}"
        );
        assert!(start.elapsed() < Duration::from_secs(10), "{transport:?}");
        let out = shell.run(&dir, &["echo", "alive"], T).unwrap();
        assert_eq!(out.stdout, "alive\n", "{transport:?}");
    }
}

#[test]
fn unreachable_hosts_and_refused_keys_say_why() {
    let w = World::new();
    let server = w.sshd("sshd");
    w.add_known_host(&server.known_hosts_line(0));
    // Explicit user, port and identity in the location, no ~/.ssh/config entry.
    let mut peer = w.peer("127.0.0.1", Transport::Libssh2);
    peer.port = Some(server.port);
    peer.user = Some(w.user.clone());
    peer.identity = Some(w.key.clone());
    let shell = connect(&peer, false).unwrap();
    assert!(shell.run("/", &["true"], T).unwrap().success());

    // A key the server does not accept.
    let stranger = w.root().join("stranger_key");
    sshd::keygen(&stranger, "ed25519");
    let other = Sshd::start(&w.root().join("sshd2"), &[&w.key.with_extension("pub")]);
    w.add_known_host(&other.known_hosts_line(0));
    let mut peer2 = peer.clone();
    peer2.port = Some(other.port);
    peer2.identity = Some(stranger.clone());
    // Only the stranger key: hide the default keys by giving a config IdentityFile.
    fs::write(
        w.home.join(".ssh/config"),
        format!("Host 127.0.0.1\n    IdentityFile {}\n", stranger.display()),
    )
    .unwrap();
    let reason = unreachable_reason(connect(&peer2, false));
    assert!(reason.contains("authentication failed"), "{reason}");

    // Nothing listening.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut peer3 = peer.clone();
    peer3.port = Some(port);
    let reason = unreachable_reason(connect(&peer3, false));
    assert!(reason.contains("cannot connect"), "{reason}");
    let mut peer4 = peer3.clone();
    peer4.transport = Transport::Openssh;
    let reason = unreachable_reason(connect(&peer4, false));
    assert!(reason.contains("refused"), "{reason}");

    // ProxyJump needs the openssh transport.
    fs::write(
        w.home.join(".ssh/config"),
        "Host jumped\n    HostName 127.0.0.1\n    ProxyJump bastion\n",
    )
    .unwrap();
    let reason = unreachable_reason(connect(&w.peer("jumped", Transport::Libssh2), false));
    assert!(reason.contains("openssh"), "{reason}");
}

/// `HostKeyAlias` in ~/.ssh/config names the known_hosts entry, as OpenSSH does: the
/// key is looked up (and, opted in, recorded) under the alias, not `[address]:port`,
/// and a key recorded for the address does not vouch for a host whose alias says
/// otherwise. Each alias is its own session, so one alias's check never covers another.
#[test]
fn host_key_alias_names_the_known_hosts_entry() {
    let w = World::new();
    let server = w.sshd("sshd");
    let other = Sshd::start(&w.root().join("sshd2"), &[&w.key.with_extension("pub")]);
    let with_alias = |alias: &str, key_alias: &str| {
        w.alias_for_openssh(alias, &server);
        let config = fs::read_to_string(w.home.join(".ssh/config")).unwrap();
        let config = config.replace(
            &format!("Host {alias}\n"),
            &format!("Host {alias}\n    HostKeyAlias {key_alias}\n"),
        );
        fs::write(w.home.join(".ssh/config"), config).unwrap();
    };
    let key_line = |s: &Sshd, name: &str| {
        s.known_hosts_line(0)
            .replace(&format!("[127.0.0.1]:{}", s.port), name)
    };
    let dir = w.root().to_str().unwrap().to_string();

    // Recorded only under the alias: known.
    with_alias("fleet-hka", "web-1.fleet.test");
    w.add_known_host(&key_line(&server, "web-1.fleet.test"));
    for transport in both_transports() {
        let shell = connect(&w.peer("fleet-hka", transport), false)
            .unwrap_or_else(|e| panic!("{transport:?}: {e}"));
        assert!(shell.run(&dir, &["true"], T).unwrap().success());
    }

    // The address's entry holds the right key, the alias's entry another one: changed.
    with_alias("fleet-hkb", "db-1.fleet.test");
    w.add_known_host(&server.known_hosts_line(0));
    w.add_known_host(&key_line(&other, "db-1.fleet.test"));
    for transport in both_transports() {
        let reason = unreachable_reason(connect(&w.peer("fleet-hkb", transport), true));
        assert!(
            reason.contains("CHANGED") || reason.contains("verification failed"),
            "{transport:?}: {reason}"
        );
    }

    // Opted in, a new key is recorded under the alias.
    with_alias("fleet-hkc", "new-1.fleet.test");
    let shell = connect(&w.peer("fleet-hkc", Transport::Libssh2), true).unwrap();
    assert!(shell.run(&dir, &["true"], T).unwrap().success());
    let found = sshd::run_ok(
        "ssh-keygen",
        &[
            "-F",
            "new-1.fleet.test",
            "-f",
            w.home.join(".ssh/known_hosts").to_str().unwrap(),
        ],
    );
    assert!(found.contains("ssh-ed25519"), "{found}");
}

/// A failed connect is remembered per `~/.ssh/config` alias, not per address: an alias
/// whose key the server refuses does not make another alias of the same
/// `user@address:port`, with a key it accepts, unreachable.
#[test]
fn a_failure_is_remembered_per_alias_not_per_address() {
    let w = World::new();
    let server = w.sshd("sshd");
    w.add_known_host(&server.known_hosts_line(0));
    let stranger = w.root().join("stranger_key");
    sshd::keygen(&stranger, "ed25519");
    w.alias_with_key("fleet-refused", &server, stranger.to_str().unwrap());
    w.alias("fleet-accepted", &server);
    let reason = unreachable_reason(connect(&w.peer("fleet-refused", Transport::Libssh2), false));
    assert!(reason.contains("authentication failed"), "{reason}");
    let shell = connect(&w.peer("fleet-accepted", Transport::Libssh2), false)
        .unwrap_or_else(|e| panic!("another alias of the same address: {e}"));
    assert!(shell
        .run(w.root().to_str().unwrap(), &["true"], T)
        .unwrap()
        .success());
    // And the refused alias is still refused (its own failure, remembered).
    let again = unreachable_reason(connect(&w.peer("fleet-refused", Transport::Libssh2), false));
    assert_eq!(again, reason);
}
