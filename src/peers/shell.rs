//! How fanout talks to a peer host: one trait, implemented for local peers
//! here and for SSH peers in `ssh.rs`.
//!
//! Every peer command goes through [`PeerShell`]. Git commands are spawned
//! from an argv (never through a shell); only the user's own reload, health
//! and readback strings run via `sh -c`, in the peer directory.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
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
    /// When `dir` does not exist or cannot be entered, the command fails
    /// (a non-zero code or [`ShellError::Other`]).
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

/// Variables that point git at a particular repository (`git rev-parse
/// --local-env-vars`, plus the quarantine and namespace a hook may run under).
/// Inherited from a hook, they would make a peer's git act on the delivering
/// repository, so they are removed from every peer command.
pub const REPO_ENV_VARS: &[&str] = &[
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_OBJECT_DIRECTORY",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_IMPLICIT_WORK_TREE",
    "GIT_GRAFT_FILE",
    "GIT_INDEX_FILE",
    "GIT_NO_REPLACE_OBJECTS",
    "GIT_REPLACE_REF_BASE",
    "GIT_PREFIX",
    "GIT_SHALLOW_FILE",
    "GIT_COMMON_DIR",
    "GIT_QUARANTINE_PATH",
    "GIT_NAMESPACE",
    "GIT_REFLOG_ACTION",
];

/// How long output is still collected after a command exited, when something
/// it started in the background keeps its stdout or stderr open.
const OUTPUT_GRACE: Duration = Duration::from_millis(300);

/// A peer on this machine: commands are spawned directly, each in its own
/// process group so a timeout can stop everything it started.
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
    for var in REPO_ENV_VARS {
        cmd.env_remove(var);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd
        .spawn()
        .map_err(|e| ShellError::Other(format!("cannot run {:?}: {e}", cmd.get_program())))?;
    let out = spawn_reader(child.stdout.take());
    let err = spawn_reader(child.stderr.take());
    let status = wait_with_timeout(child, timeout)?;
    let deadline = Instant::now() + OUTPUT_GRACE;
    let stdout = collect(&out, deadline);
    let stderr = collect(&err, deadline);
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

/// Reads a pipe in chunks on its own thread, so a full pipe never stalls the
/// child and a pipe held open by a background grandchild never stalls us.
fn spawn_reader<R: Read + Send + 'static>(pipe: Option<R>) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    if let Some(mut pipe) = pipe {
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
    }
    rx
}

/// Everything the reader got until it finished or `deadline` passed.
fn collect(rx: &mpsc::Receiver<Vec<u8>>, deadline: Instant) -> String {
    let mut bytes = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Waits for `child` on a helper thread (so its exit is seen at once); once
/// `timeout` has passed, kills its whole process group and returns `None`.
fn wait_with_timeout(
    child: Child,
    timeout: Duration,
) -> Result<Option<std::process::ExitStatus>, ShellError> {
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    let mut child = child;
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    match rx.recv_timeout(timeout) {
        Ok(Ok(status)) => Ok(Some(status)),
        Ok(Err(e)) => Err(ShellError::Other(format!("wait failed: {e}"))),
        Err(_) => {
            // The child leads its own process group (process_group(0)).
            let _ = Command::new("sh")
                .args([
                    "-c",
                    "kill -s KILL -- \"-$1\" 2>/dev/null || kill -s KILL \"$1\" 2>/dev/null",
                    "sh",
                    &pid.to_string(),
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let _ = rx.recv_timeout(Duration::from_secs(5));
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_argv_without_a_shell() {
        let dir = std::env::temp_dir();
        let dir = dir.to_str().unwrap();
        let out = LocalShell
            .run(
                dir,
                &["echo", "$(touch nope)", "a;b"],
                Duration::from_secs(5),
            )
            .unwrap();
        assert_eq!(out.stdout, "$(touch nope) a;b\n");
        assert!(out.success());
    }

    #[test]
    fn a_timeout_kills_the_command_and_what_it_started() {
        let dir = std::env::temp_dir();
        let start = Instant::now();
        let r = LocalShell.run_shell(
            dir.to_str().unwrap(),
            "sleep 30 & sleep 30",
            Duration::from_millis(300),
        );
        assert!(matches!(r, Err(ShellError::Timeout(_))), "{r:?}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_background_child_holding_stdout_does_not_stall() {
        let dir = std::env::temp_dir();
        let start = Instant::now();
        let out = LocalShell
            .run_shell(
                dir.to_str().unwrap(),
                "echo started; sleep 5 &",
                Duration::from_secs(10),
            )
            .unwrap();
        assert_eq!(out.stdout, "started\n");
        assert!(start.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn a_missing_directory_is_an_error() {
        let r = LocalShell.run("/no/such/dir", &["true"], Duration::from_secs(1));
        assert!(matches!(r, Err(ShellError::Other(_))));
    }
}
