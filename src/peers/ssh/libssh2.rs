//! The libssh2 transport: one `ssh2::Session` per host, shared by every peer on it.
//!
//! Sessions live in a process-wide cache keyed by the host alias as written, with its
//! `user@host:port`, identities and `HostKeyAlias` (plus the known_hosts file they were
//! checked against): aliases of one address are separate hosts, as for OpenSSH, each
//! with its own session and its own remembered failure. A session is not safe to drive from
//! two threads at once, so each sits behind its own mutex: commands on one host run
//! one after another, commands on different hosts in parallel. A session found dead
//! when a command opens its channel is reopened once, with the full host-key check.
//! A failed connect is remembered for a short while, so the other peers on a host that
//! timed out do not each wait out the connect timeout again.
//!
//! Argv commands (git, ls) are written to one long-lived remote `sh` per session
//! ([`RemoteSh`]); user scripts get a channel each. Reads are non-blocking and wait in
//! poll(2) on the socket, so output is taken the moment it arrives.
//!
//! Host keys: libssh2 neither reads known_hosts nor checks anything by itself. We load
//! `~/.ssh/known_hosts` line by line into `session.known_hosts()` and `check_port`
//! the key the server presented. libssh2 compares against every key recorded for the
//! host whatever its type, so a server presenting an ECDSA key to a known_hosts that
//! only records its Ed25519 key looks "changed"; to behave like OpenSSH we prefer the
//! same host-key algorithms OpenSSH does, and on a mismatch retry with the remaining
//! algorithms before calling the key changed.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use ssh2::{
    BlockDirections, CheckResult, HashType, HostKeyType, KnownHostFileKind, KnownHostKeyFormat,
    MethodType, Session,
};

use super::{remote_command, remote_script, timeout_ms, ShFraming, SshHome, Target};
use crate::peers::shell::{CmdOutput, PeerShell, ShellError, SshOptions};

/// Host-key algorithms in OpenSSH's default order (SHA-1 `ssh-rsa` and DSA left out, as
/// OpenSSH does), so we are shown the key an OpenSSH user most likely recorded.
const HOSTKEY_ALGORITHMS: [&str; 6] = [
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
];

/// The longest the read loop sleeps in poll(2) before looking at the channel again
/// (a safety net: it is woken as soon as the socket is ready).
const POLL: Duration = Duration::from_millis(50);

/// How long a failed connection is remembered: the other peers on a host that just
/// timed out or refused us get the same answer at once instead of waiting again.
const FAILURE_MEMORY: Duration = Duration::from_secs(30);

/// One host's connection, shared by all shells on that host.
struct HostConn {
    target: Target,
    known_hosts: PathBuf,
    accept_new: bool,
    connect_timeout: Duration,
    slot: Mutex<Slot>,
}

/// An authenticated session and a second handle on its socket, which the read loop
/// polls for readiness (the session owns the first; `Session` offers no safe `AsFd`).
struct Live {
    session: Session,
    socket: TcpStream,
    /// The session's long-lived remote `sh` for argv commands, once started.
    shell: Option<RemoteSh>,
}

/// One remote `sh` reading command lines from its stdin, so a command costs a line
/// written and its framed output read, not a channel and a login shell of its own (the
/// remote login shell may read rc files that take far longer than a git command: bash
/// sources ~/.bashrc for every command sshd starts).
///
/// Each command runs in a subshell with stdin from /dev/null; after it the shell
/// prints `\n<token> <status>\n` on stdout and `\n<token>\n` on stderr. The token is
/// random per shell, so no command output can forge the end of a command.
struct RemoteSh {
    channel: ssh2::Channel,
    framing: ShFraming,
}

#[derive(Default)]
struct Slot {
    session: Option<Live>,
    /// The last failed connect: when, with which `accept_new`, and why.
    failed: Option<(Instant, bool, ShellError)>,
}

type Cache = Mutex<HashMap<String, Arc<HostConn>>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A shell on one peer host, over the host's shared session.
pub(super) struct Libssh2Shell {
    conn: Arc<HostConn>,
}

pub(super) fn connect(
    target: Target,
    home: &SshHome,
    opts: &SshOptions,
) -> Result<Libssh2Shell, ShellError> {
    let known_hosts = home.known_hosts();
    let key = format!("{} {}", target.session_key(), known_hosts.display());
    let conn = {
        let mut cache = lock(cache());
        Arc::clone(cache.entry(key).or_insert_with(|| {
            Arc::new(HostConn {
                target,
                known_hosts,
                accept_new: opts.accept_new_host_keys,
                connect_timeout: opts.connect_timeout,
                slot: Mutex::new(Slot::default()),
            })
        }))
    };
    {
        // Connect now (outside the cache lock) so connection problems surface here.
        let accept_new = opts.accept_new_host_keys;
        let mut slot = lock(&conn.slot);
        if slot.session.is_none() {
            if let Some((at, with_accept_new, error)) = &slot.failed {
                if *with_accept_new == accept_new && at.elapsed() < FAILURE_MEMORY {
                    return Err(error.clone());
                }
            }
            match conn.open(accept_new) {
                Ok(session) => {
                    slot.session = Some(session);
                    slot.failed = None;
                }
                Err(error) => {
                    if matches!(error, ShellError::Unreachable(_)) {
                        slot.failed = Some((Instant::now(), accept_new, error.clone()));
                    }
                    return Err(error);
                }
            }
        }
    }
    Ok(Libssh2Shell { conn })
}

impl PeerShell for Libssh2Shell {
    /// Through the session's long-lived remote `sh` (see [`RemoteSh`]); user scripts
    /// (`run_shell`) keep a channel of their own, as they may leave background
    /// processes holding their output open.
    fn run(&self, dir: &str, argv: &[&str], timeout: Duration) -> Result<CmdOutput, ShellError> {
        self.conn.exec_in_sh(&remote_command(dir, argv)?, timeout)
    }

    fn run_shell(
        &self,
        dir: &str,
        script: &str,
        timeout: Duration,
    ) -> Result<CmdOutput, ShellError> {
        self.conn.exec(&remote_script(dir, script)?, timeout)
    }
}

impl HostConn {
    fn label(&self) -> String {
        self.target.label()
    }

    /// Runs one command line on the host's session, reopening a dead session once.
    fn exec(&self, command: &str, timeout: Duration) -> Result<CmdOutput, ShellError> {
        let mut slot = lock(&self.slot);
        let reopen = || -> Result<(Live, ssh2::Channel), ShellError> {
            let live = self.open(self.accept_new)?;
            let channel = live.session.channel_session().map_err(|e| {
                ShellError::Unreachable(format!("{}: cannot open a channel: {e}", self.label()))
            })?;
            Ok((live, channel))
        };
        let (live, channel) = match slot.session.take() {
            Some(live) => {
                live.session.set_timeout(timeout_ms(self.connect_timeout));
                match live.session.channel_session() {
                    Ok(channel) => (live, channel),
                    // The session died since (server restarted, network dropped): nothing
                    // has run yet, so a new session and a second try are safe.
                    Err(_) => reopen()?,
                }
            }
            None => reopen()?,
        };
        let result = run_channel(&live, channel, command, timeout, &self.label());
        // After a timeout or an I/O error the session is in an unknown state: it is
        // dropped, and the next command starts afresh.
        if result.is_ok() {
            slot.session = Some(live);
        }
        result
    }

    /// Runs one command line in the session's remote `sh`, starting it (and reopening
    /// a dead session) first when needed: nothing has run yet then, so that is safe.
    fn exec_in_sh(&self, command: &str, timeout: Duration) -> Result<CmdOutput, ShellError> {
        let mut slot = lock(&self.slot);
        let label = self.label();
        let start = |live: &mut Live| -> Result<(), ShellError> {
            live.session.set_timeout(timeout_ms(self.connect_timeout));
            let sh = RemoteSh::start(&live.session).map_err(|e| {
                ShellError::Unreachable(format!("{label}: cannot start a remote sh: {e}"))
            })?;
            live.shell = Some(sh);
            Ok(())
        };
        let reusable = slot.session.take().and_then(|mut live| {
            let ready = if live.shell.is_some() {
                live.shell_alive()
            } else {
                start(&mut live).is_ok()
            };
            ready.then_some(live)
        });
        let mut live = match reusable {
            Some(live) => live,
            // None yet, or the session died since (server restarted, network dropped).
            None => {
                let mut live = self.open(self.accept_new)?;
                start(&mut live)?;
                live
            }
        };
        let result = run_in_sh(&mut live, command, timeout, &label);
        // After a timeout or an I/O error the session is in an unknown state: it is
        // dropped, and the next command starts afresh.
        if result.is_ok() {
            slot.session = Some(live);
        }
        result
    }

    /// TCP connect, handshake, host-key check, authentication.
    fn open(&self, accept_new: bool) -> Result<Live, ShellError> {
        let t = &self.target;
        let supported = Session::new()
            .and_then(|s| s.supported_algs(MethodType::HostKey))
            .map_err(|e| ShellError::Other(format!("libssh2: {e}")))?;
        let mut algorithms: Vec<&str> = HOSTKEY_ALGORITHMS
            .iter()
            .copied()
            .filter(|a| supported.contains(a))
            .collect();
        let mut changed: Option<String> = None;
        loop {
            let (session, socket) = match self.handshake(&algorithms) {
                Ok(s) => s,
                // A retry after a mismatch failing means the server has no key of the
                // remaining types: the key we saw first is the changed one.
                Err(e) => return Err(changed.map(ShellError::Unreachable).unwrap_or(e)),
            };
            match self.check_host_key(&session, accept_new)? {
                HostKeyVerdict::Known => {
                    authenticate(&session, t)?;
                    session.set_timeout(0);
                    return Ok(Live {
                        session,
                        socket,
                        shell: None,
                    });
                }
                HostKeyVerdict::Mismatch { message, kind } => {
                    changed.get_or_insert(message);
                    algorithms.retain(|a| !same_family(a, kind));
                    if algorithms.is_empty() {
                        return Err(ShellError::Unreachable(changed.unwrap_or_default()));
                    }
                }
            }
        }
    }

    fn handshake(&self, algorithms: &[&str]) -> Result<(Session, TcpStream), ShellError> {
        let t = &self.target;
        let label = self.label();
        let addrs: Vec<_> = (t.host.as_str(), t.port)
            .to_socket_addrs()
            .map_err(|e| {
                ShellError::Unreachable(format!("{label}: cannot resolve {}: {e}", t.host))
            })?
            .collect();
        let mut last_err = None;
        let mut tcp = None;
        for addr in &addrs {
            match TcpStream::connect_timeout(addr, self.connect_timeout) {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(e) => last_err = Some(e),
            }
        }
        let tcp = tcp.ok_or_else(|| {
            let why = last_err.map_or("no address".to_string(), |e| e.to_string());
            ShellError::Unreachable(format!("{label}: cannot connect: {why}"))
        })?;
        let _ = tcp.set_nodelay(true);
        let socket = tcp
            .try_clone()
            .map_err(|e| ShellError::Other(format!("{label}: cannot duplicate the socket: {e}")))?;
        let mut session = Session::new().map_err(|e| ShellError::Other(format!("libssh2: {e}")))?;
        session.set_tcp_stream(tcp);
        session.set_timeout(timeout_ms(self.connect_timeout));
        session
            .method_pref(MethodType::HostKey, &algorithms.join(","))
            .map_err(|e| ShellError::Other(format!("libssh2: host key algorithms: {e}")))?;
        session
            .handshake()
            .map_err(|e| ShellError::Unreachable(format!("{label}: SSH handshake failed: {e}")))?;
        Ok((session, socket))
    }

    fn check_host_key(
        &self,
        session: &Session,
        accept_new: bool,
    ) -> Result<HostKeyVerdict, ShellError> {
        let t = &self.target;
        let label = self.label();
        let (key, kind) = session.host_key().ok_or_else(|| {
            ShellError::Unreachable(format!("{label}: the server sent no host key"))
        })?;
        let fingerprint = fingerprint(session);
        let path = &self.known_hosts;
        let mut known = session
            .known_hosts()
            .map_err(|e| ShellError::Other(format!("libssh2: {e}")))?;
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == ErrorKind::NotFound => String::new(),
            Err(e) => {
                return Err(ShellError::Unreachable(format!(
                    "{label}: cannot read {}: {e}",
                    path.display()
                )))
            }
        };
        // Line by line: libssh2's own reader stops at the first line it cannot parse
        // (a key type it does not know, `@cert-authority`, `@revoked`), losing every
        // host after it. Such lines are skipped here; see `transport = "openssh"`.
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with('@') {
                continue;
            }
            let _ = known.read_str(line, KnownHostFileKind::OpenSSH);
        }
        // `HostKeyAlias`: looked up (and recorded) under that name alone, as OpenSSH does.
        let (host, verdict) = match &t.host_key_alias {
            Some(alias) => (alias.clone(), known.check(alias, key)),
            None => (
                known_hosts_name(&t.host, t.port),
                known.check_port(&t.host, t.port, key),
            ),
        };
        match verdict {
            CheckResult::Match => Ok(HostKeyVerdict::Known),
            CheckResult::NotFound if accept_new => {
                append_known_host(session, path, &host, key, kind).map_err(|e| {
                    ShellError::Unreachable(format!(
                        "{label}: cannot add the host key to {}: {e}",
                        path.display()
                    ))
                })?;
                Ok(HostKeyVerdict::Known)
            }
            CheckResult::NotFound => Err(ShellError::Unreachable(format!(
                "{label}: host key for {host} is not in {} (server offered {} {fingerprint}); \
                 check the fingerprint and add it (e.g. `ssh {}{}` once), or pass \
                 --accept-new-host-keys",
                path.display(),
                key_name(kind),
                if t.port == 22 {
                    String::new()
                } else {
                    format!("-p {} ", t.port)
                },
                t.host,
            ))),
            CheckResult::Mismatch => Ok(HostKeyVerdict::Mismatch {
                message: format!(
                    "{label}: HOST KEY CHANGED for {host}: the server offered {} \
                     {fingerprint}, which is not the key recorded in {}; refusing to \
                     connect (someone may be intercepting the connection, or the host was \
                     reinstalled: check, then remove the old line with `ssh-keygen -R '{host}'`)",
                    key_name(kind),
                    path.display(),
                ),
                kind,
            }),
            CheckResult::Failure => Err(ShellError::Unreachable(format!(
                "{label}: cannot check the host key ({} {fingerprint}) against {}",
                key_name(kind),
                path.display()
            ))),
        }
    }
}

enum HostKeyVerdict {
    Known,
    Mismatch { message: String, kind: HostKeyType },
}

/// The known_hosts name of a host: `host`, or `[host]:port` off port 22.
fn known_hosts_name(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

fn key_name(kind: HostKeyType) -> &'static str {
    match kind {
        HostKeyType::Ed25519 => "ED25519 key",
        HostKeyType::Ecdsa256 | HostKeyType::Ecdsa384 | HostKeyType::Ecdsa521 => "ECDSA key",
        HostKeyType::Rsa => "RSA key",
        HostKeyType::Dss => "DSA key",
        HostKeyType::Unknown => "key",
    }
}

fn same_family(algorithm: &str, kind: HostKeyType) -> bool {
    match kind {
        HostKeyType::Ed25519 => algorithm == "ssh-ed25519",
        HostKeyType::Ecdsa256 => algorithm == "ecdsa-sha2-nistp256",
        HostKeyType::Ecdsa384 => algorithm == "ecdsa-sha2-nistp384",
        HostKeyType::Ecdsa521 => algorithm == "ecdsa-sha2-nistp521",
        HostKeyType::Rsa => algorithm.starts_with("rsa-") || algorithm == "ssh-rsa",
        HostKeyType::Dss | HostKeyType::Unknown => true,
    }
}

/// `SHA256:<base64>`, as `ssh` and `ssh-keygen -l` print it.
fn fingerprint(session: &Session) -> String {
    match session.host_key_hash(HashType::Sha256) {
        Some(hash) => format!(
            "SHA256:{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(hash)
        ),
        None => "(no fingerprint)".to_string(),
    }
}

/// Appends one `name keytype key` line to known_hosts (never rewriting the file, which
/// may hold lines libssh2 does not understand).
fn append_known_host(
    session: &Session,
    path: &Path,
    name: &str,
    key: &[u8],
    kind: HostKeyType,
) -> Result<(), String> {
    let format = match kind {
        HostKeyType::Rsa => KnownHostKeyFormat::SshRsa,
        HostKeyType::Dss => KnownHostKeyFormat::SshDss,
        HostKeyType::Ecdsa256 => KnownHostKeyFormat::Ecdsa256,
        HostKeyType::Ecdsa384 => KnownHostKeyFormat::Ecdsa384,
        HostKeyType::Ecdsa521 => KnownHostKeyFormat::Ecdsa521,
        HostKeyType::Ed25519 => KnownHostKeyFormat::Ed25519,
        HostKeyType::Unknown => return Err("unknown host key type".to_string()),
    };
    let mut one = session.known_hosts().map_err(|e| e.to_string())?;
    one.add(name, key, "", format).map_err(|e| e.to_string())?;
    let entry = one
        .hosts()
        .map_err(|e| e.to_string())?
        .into_iter()
        .next()
        .ok_or("libssh2 lost the entry")?;
    let line = one
        .write_string(&entry, KnownHostFileKind::OpenSSH)
        .map_err(|e| e.to_string())?;
    if let Some(dir) = path.parent() {
        create_private_dir(dir).map_err(|e| e.to_string())?;
    }
    let needs_newline = std::fs::read(path)
        .map(|b| !b.is_empty() && !b.ends_with(b"\n"))
        .unwrap_or(false);
    let mut file = open_append_private(path).map_err(|e| e.to_string())?;
    let mut text = String::new();
    if needs_newline {
        text.push('\n');
    }
    text.push_str(line.trim_end());
    text.push('\n');
    file.write_all(text.as_bytes()).map_err(|e| e.to_string())
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

fn open_append_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

/// Agent first (when `SSH_AUTH_SOCK` is set), then each identity file that exists.
fn authenticate(session: &Session, t: &Target) -> Result<(), ShellError> {
    let mut tried: Vec<String> = Vec::new();
    if std::env::var_os("SSH_AUTH_SOCK").is_some_and(|s| !s.is_empty()) {
        tried.push("ssh-agent".to_string());
        if let Ok(mut agent) = session.agent() {
            if agent.connect().is_ok() && agent.list_identities().is_ok() {
                for identity in agent.identities().unwrap_or_default() {
                    if agent.userauth(&t.user, &identity).is_ok() && session.authenticated() {
                        let _ = agent.disconnect();
                        return Ok(());
                    }
                }
                let _ = agent.disconnect();
            }
        }
    }
    for key in &t.identities {
        if !key.is_file() {
            continue;
        }
        tried.push(key.display().to_string());
        let public = PathBuf::from(format!("{}.pub", key.display()));
        let public = public.is_file().then_some(public);
        if session
            .userauth_pubkey_file(&t.user, public.as_deref(), key, None)
            .is_ok()
            && session.authenticated()
        {
            return Ok(());
        }
    }
    let tried = if tried.is_empty() {
        "no agent, no identity file found".to_string()
    } else {
        format!("tried {}", tried.join(", "))
    };
    Err(ShellError::Unreachable(format!(
        "{}: public key authentication failed ({tried})",
        t.label()
    )))
}

/// Executes `command` on a fresh channel and collects its output until it exits or
/// `timeout` passes. Both streams are drained in turn so a chatty stderr can never fill
/// the channel window while we wait on stdout.
///
/// The reads are non-blocking and the loop sleeps in poll(2) on the socket until
/// libssh2 can make progress: a command's output and exit are taken as soon as they
/// arrive, never after a fixed wait per idle stream.
fn run_channel(
    live: &Live,
    mut channel: ssh2::Channel,
    command: &str,
    timeout: Duration,
    label: &str,
) -> Result<CmdOutput, ShellError> {
    let session = &live.session;
    let deadline = Instant::now() + timeout;
    let remaining = || deadline.saturating_duration_since(Instant::now());
    let timed_out = || {
        ShellError::Timeout(format!(
            "{label}: no result after {}s",
            timeout.as_secs_f64()
        ))
    };
    let io_err =
        |what: &str, e: &dyn std::fmt::Display| ShellError::Other(format!("{label}: {what}: {e}"));
    session.set_timeout(timeout_ms(remaining()));
    channel.exec(command).map_err(|e| {
        let e = std::io::Error::from(e);
        if e.kind() == ErrorKind::TimedOut {
            timed_out()
        } else {
            io_err("cannot start the command", &e)
        }
    })?;
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    session.set_blocking(false);
    let read = read_streams(
        session,
        &live.socket,
        &mut channel,
        [&mut stdout, &mut stderr],
        deadline,
        &|_, _| false,
    );
    session.set_blocking(true);
    match read {
        Ok(()) => {}
        Err(None) => return Err(timed_out()),
        Err(Some(e)) => return Err(io_err("reading the command output", &e)),
    }
    session.set_timeout(timeout_ms(remaining().max(Duration::from_millis(500))));
    channel
        .wait_close()
        .map_err(|e| io_err("closing the channel", &e))?;
    session.set_timeout(0);
    let signal = channel
        .exit_signal()
        .ok()
        .and_then(|s| s.exit_signal)
        .filter(|s| !s.is_empty());
    let code = match signal {
        Some(_) => None,
        None => Some(
            channel
                .exit_status()
                .map_err(|e| io_err("reading the exit status", &e))?,
        ),
    };
    Ok(CmdOutput {
        code,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    })
}

/// Reads both streams of `channel` (the session non-blocking) until each is at its
/// end of file or `done(stream, bytes so far)` says it is complete. `Err(None)`: the
/// deadline passed.
fn read_streams(
    session: &Session,
    socket: &TcpStream,
    channel: &mut ssh2::Channel,
    sinks: [&mut Vec<u8>; 2],
    deadline: Instant,
    done: &dyn Fn(i32, &[u8]) -> bool,
) -> Result<(), Option<std::io::Error>> {
    let mut buf = vec![0u8; 32 * 1024];
    let mut finished = [false, false];
    let mut rechecked = false;
    let [out, err] = sinks;
    let mut sinks = [out, err];
    loop {
        let mut progressed = false;
        for (stream_id, sink) in sinks.iter_mut().enumerate() {
            let id = stream_id as i32;
            while !finished[stream_id] {
                match channel.stream(id).read(&mut buf) {
                    Ok(0) => finished[stream_id] = true,
                    Ok(n) => {
                        sink.extend_from_slice(&buf[..n]);
                        progressed = true;
                        finished[stream_id] = done(id, sink);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => return Err(Some(e)),
                }
            }
        }
        if finished == [true, true] {
            return Ok(());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(None);
        }
        // Reading one stream may have queued packets for the other (or the EOF): read
        // once more before sleeping when libssh2 holds something (data queued for a
        // stream already complete stays there: then sleep all the same, never spin).
        let pending = channel.eof() || channel.read_window().available > 0;
        if progressed || (pending && !rechecked) {
            rechecked = !progressed;
            continue;
        }
        rechecked = false;
        wait_for_socket(session, socket, left.min(POLL)).map_err(Some)?;
    }
}

/// Sleeps until the session's socket is ready in the direction libssh2 is blocked on
/// (readable when it does not say), or `max` passed. True when it is ready.
fn wait_for_socket(session: &Session, socket: &TcpStream, max: Duration) -> std::io::Result<bool> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let dirs = session.block_directions();
    let mut flags = PollFlags::empty();
    if matches!(
        dirs,
        BlockDirections::Inbound | BlockDirections::Both | BlockDirections::None
    ) {
        flags |= PollFlags::IN;
    }
    if matches!(dirs, BlockDirections::Outbound | BlockDirections::Both) {
        flags |= PollFlags::OUT;
    }
    let timeout = Timespec {
        tv_sec: max.as_secs() as i64,
        tv_nsec: i64::from(max.subsec_nanos()),
    };
    let mut fds = [PollFd::new(socket, flags)];
    match poll(&mut fds, Some(&timeout)) {
        Ok(n) => Ok(n > 0),
        Err(rustix::io::Errno::INTR) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

impl RemoteSh {
    fn start(session: &Session) -> Result<RemoteSh, ssh2::Error> {
        let mut channel = session.channel_session()?;
        channel.exec("sh")?;
        Ok(RemoteSh {
            channel,
            framing: ShFraming::new(),
        })
    }
}

impl Live {
    /// Whether the remote `sh` is there and idle: an idle shell prints nothing, so a
    /// readable socket with an end of file or an error on the channel means it is gone.
    fn shell_alive(&mut self) -> bool {
        let Some(sh) = self.shell.as_mut() else {
            return false;
        };
        if sh.channel.eof() {
            return false;
        }
        if !matches!(
            wait_for_socket(&self.session, &self.socket, Duration::ZERO),
            Ok(true)
        ) {
            return true; // nothing arrived since the last command
        }
        self.session.set_blocking(false);
        let mut byte = [0u8; 1];
        let alive = matches!(
            sh.channel.read(&mut byte),
            Err(ref e) if e.kind() == ErrorKind::WouldBlock
        ) && !sh.channel.eof();
        self.session.set_blocking(true);
        alive
    }
}

/// Writes `command` to the remote `sh` and reads its framed output (see [`RemoteSh`]).
fn run_in_sh(
    live: &mut Live,
    command: &str,
    timeout: Duration,
    label: &str,
) -> Result<CmdOutput, ShellError> {
    let deadline = Instant::now() + timeout;
    let Live {
        session,
        socket,
        shell,
    } = live;
    let sh = shell
        .as_mut()
        .ok_or_else(|| ShellError::Other(format!("{label}: no remote sh")))?;
    let line = sh.framing.line(command);
    let timed_out = || {
        ShellError::Timeout(format!(
            "{label}: no result after {}s",
            timeout.as_secs_f64()
        ))
    };
    session.set_timeout(timeout_ms(
        deadline.saturating_duration_since(Instant::now()),
    ));
    sh.channel.write_all(line.as_bytes()).map_err(|e| {
        if e.kind() == ErrorKind::TimedOut {
            timed_out()
        } else {
            ShellError::Other(format!("{label}: cannot send the command: {e}"))
        }
    })?;
    sh.channel
        .flush()
        .map_err(|e| ShellError::Other(format!("{label}: cannot send the command: {e}")))?;
    let framing = &sh.framing;
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    session.set_blocking(false);
    let read = read_streams(
        session,
        socket,
        &mut sh.channel,
        [&mut stdout, &mut stderr],
        deadline,
        &|which, buf| framing.complete(which, buf),
    );
    // On failure the session stays non-blocking: it is dropped, and dropping a blocking
    // session would wait for the remote command to close its channel.
    match read {
        Ok(()) => {
            session.set_blocking(true);
            session.set_timeout(0);
        }
        Err(None) => return Err(timed_out()),
        Err(Some(e)) => {
            return Err(ShellError::Other(format!(
                "{label}: reading the command output: {e}"
            )))
        }
    }
    framing.finish(stdout, stderr).ok_or_else(|| {
        ShellError::Other(format!(
            "{label}: the remote sh ended before the command finished"
        ))
    })
}
