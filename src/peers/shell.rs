//! How fanout talks to a peer host: one trait, implemented for local peers
//! here and for SSH peers in `ssh.rs`.
//!
//! Every peer command goes through [`PeerShell`]. Git commands are spawned
//! from an argv (never through a shell); only the user's own reload, health
//! and readback strings run via `sh -c`, in the peer directory.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What a peer command produced. `code` is `None` when the process was
/// killed by a signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdOutput {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl CmdOutput {
    /// True when the command exited with status 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// Why a peer command could not be run to completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShellError {
    /// The peer host could not be reached (connect, auth, host key).
    Unreachable(String),
    /// The command did not finish within its timeout and was killed.
    Timeout(String),
    /// Anything else (spawn failure, I/O error on the channel).
    Other(String),
}

impl std::fmt::Display for ShellError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ShellError::Unreachable(m) => write!(f, "unreachable: {m}"),
            ShellError::Timeout(m) => write!(f, "timed out: {m}"),
            ShellError::Other(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for ShellError {}

/// Runs commands on one peer host.
pub trait PeerShell: Send + Sync {
    /// Run argv (argv[0] is the program, e.g. "git") in `dir` on the peer host.
    fn run(&self, dir: &str, argv: &[&str], timeout: Duration) -> Result<CmdOutput, ShellError>;
    /// Run a user-declared shell command (reload/health/readback) in `dir`.
    fn run_shell(
        &self,
        dir: &str,
        script: &str,
        timeout: Duration,
    ) -> Result<CmdOutput, ShellError>;
}

/// Options for opening an SSH connection to a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshOptions {
    /// Accept and remember a host key seen for the first time
    /// (never a changed one).
    pub accept_new_host_keys: bool,
    /// How long to wait for the TCP connect and handshake.
    pub connect_timeout: Duration,
}

impl Default for SshOptions {
    fn default() -> Self {
        SshOptions {
            accept_new_host_keys: false,
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// A peer on this machine: commands are spawned directly.
#[derive(Debug, Clone, Default)]
pub struct LocalShell;

impl PeerShell for LocalShell {
    fn run(&self, dir: &str, argv: &[&str], timeout: Duration) -> Result<CmdOutput, ShellError> {
        let (program, args) = argv
            .split_first()
            .ok_or_else(|| ShellError::Other("empty argv".to_string()))?;
        let mut cmd = Command::new(program);
        cmd.args(args).current_dir(dir);
        if *program == "git" {
            // Never let a peer command stop to ask for anything.
            cmd.env("GIT_TERMINAL_PROMPT", "0")
                .env("GIT_EDITOR", "true")
                .env("GIT_MERGE_AUTOEDIT", "no");
        }
        run_with_timeout(cmd, dir, timeout)
    }

    fn run_shell(
        &self,
        dir: &str,
        script: &str,
        timeout: Duration,
    ) -> Result<CmdOutput, ShellError> {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(script).current_dir(dir);
        run_with_timeout(cmd, dir, timeout)
    }
}

fn run_with_timeout(
    mut cmd: Command,
    dir: &str,
    timeout: Duration,
) -> Result<CmdOutput, ShellError> {
    if !Path::new(dir).is_dir() {
        return Err(ShellError::Other(format!("{dir}: no such directory")));
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| ShellError::Other(format!("spawn failed: {e}")))?;
    let out_reader = spawn_reader(child.stdout.take());
    let err_reader = spawn_reader(child.stderr.take());
    let status = wait_with_timeout(&mut child, timeout)?;
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    match status {
        Some(status) => Ok(CmdOutput {
            code: status.code(),
            stdout,
            stderr,
        }),
        None => Err(ShellError::Timeout(format!(
            "no result after {}s",
            timeout.as_secs_f64()
        ))),
    }
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
fn wait_with_timeout(
    child: &mut Child,
    timeout: Duration,
) -> Result<Option<std::process::ExitStatus>, ShellError> {
    let start = Instant::now();
    let mut nap = Duration::from_millis(1);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(Some(status)),
            Ok(None) => {}
            Err(e) => return Err(ShellError::Other(format!("wait failed: {e}"))),
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
