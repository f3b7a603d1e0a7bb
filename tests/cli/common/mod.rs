//! Shared test environment: runs the real `git-fleet` binary against real git
//! repositories in temp dirs, with an isolated HOME and git config and fixed dates.
#![allow(dead_code)]

pub mod peer_states;
pub mod staging;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Held by every test that changes this process's environment (`HOME` for
/// code that reads `~/.ssh`, git identity for the library's own git calls):
/// all tests share one process, so no two may change it at once.
pub fn process_env_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// All tests share one binary, so a test that loads the machine on purpose
/// (hundreds of processes, SIGKILL loops) could make another's time limit
/// fail. Tests with a time limit hold `timed()`, tests that load the machine
/// hold `heavy()`: the two never overlap (each kind with the rest does).
static LOAD: RwLock<()> = RwLock::new(());

pub fn timed() -> RwLockReadGuard<'static, ()> {
    LOAD.read().unwrap_or_else(|e| e.into_inner())
}

pub fn heavy() -> RwLockWriteGuard<'static, ()> {
    LOAD.write().unwrap_or_else(|e| e.into_inner())
}

pub struct TestEnv {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_git-fleet"))
}

impl TestEnv {
    pub fn new() -> TestEnv {
        let dir = tempfile::Builder::new()
            .prefix("fleet-test")
            .tempdir()
            .unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        TestEnv { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// A command with the isolated environment: no system or global config,
    /// fixed identity and dates, no color, and `git-fleet` first on PATH.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>, cwd: &Path) -> Command {
        let mut cmd = Command::new(program);
        let bin_dir = bin().parent().unwrap().to_path_buf();
        let path = format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        cmd.current_dir(cwd)
            .env_clear()
            .env("PATH", path)
            .env("HOME", self.home())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "Test Author")
            .env("GIT_AUTHOR_EMAIL", "author@example.com")
            .env("GIT_COMMITTER_NAME", "Test Committer")
            .env("GIT_COMMITTER_EMAIL", "committer@example.com")
            .env("GIT_AUTHOR_DATE", "2026-01-02T03:04:05Z")
            .env("GIT_COMMITTER_DATE", "2026-01-02T03:04:05Z")
            .env("GIT_EDITOR", ":")
            .env("LC_ALL", "C")
            .env("TZ", "UTC")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        cmd
    }

    /// Run `git-fleet ARGS` in `cwd`.
    pub fn fleet(&self, cwd: &Path, args: &[&str]) -> Run {
        Run::from(self.command(bin(), cwd).args(args).output().unwrap())
    }

    /// Run `git-fleet ARGS` in `cwd` with `input` on stdin.
    pub fn fleet_stdin(&self, cwd: &Path, args: &[&str], input: &[u8]) -> Run {
        use std::io::Write;
        let mut child = self
            .command(bin(), cwd)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        Run::from(child.wait_with_output().unwrap())
    }

    /// Run `git ARGS` in `cwd`, panicking with its stderr on failure.
    pub fn git(&self, cwd: &Path, args: &[&str]) -> String {
        let out = self.command("git", cwd).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "git {:?} failed: {}",
            args,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A new repository at `root/name` with one commit on `main`.
    pub fn repo(&self, name: &str) -> PathBuf {
        let path = self.root().join(name);
        std::fs::create_dir_all(&path).unwrap();
        self.git(&path, &["init", "-q", "-b", "main"]);
        std::fs::write(path.join("README"), "hello\n").unwrap();
        self.git(&path, &["add", "README"]);
        self.git(&path, &["commit", "-q", "-m", "initial"]);
        path
    }

    /// An empty bare repository at `root/name` whose default branch is `main`.
    pub fn bare(&self, name: &str) -> PathBuf {
        let path = self.root().join(name);
        self.git(
            self.root(),
            &["init", "-q", "--bare", "-b", "main", path.to_str().unwrap()],
        );
        path
    }

    /// A bare origin `root/origin.git` whose `main` holds `files`, pushed by a
    /// seed clone `root/seed` (returned second, with `origin` as its remote).
    pub fn seeded_origin(&self, files: &[(&str, &str)]) -> (PathBuf, PathBuf) {
        let origin = self.bare("origin.git");
        let seed = self.repo("seed");
        for (name, text) in files {
            std::fs::write(seed.join(name), text).unwrap();
        }
        self.git(&seed, &["add", "."]);
        self.git(&seed, &["commit", "-q", "-m", "fleet"]);
        self.git(
            &seed,
            &["remote", "add", "origin", origin.to_str().unwrap()],
        );
        self.git(&seed, &["push", "-q", "origin", "main"]);
        (origin, seed)
    }

    /// `origin` as `repo`'s remote `origin`, with `repo`'s `main` pushed to
    /// it (with `-u` when `track`: `main` then tracks `origin/main`).
    pub fn add_origin(&self, repo: &Path, origin: &Path, track: bool) {
        self.git(repo, &["remote", "add", "origin", origin.to_str().unwrap()]);
        let mut push = vec!["push", "-q"];
        if track {
            push.push("-u");
        }
        self.git(repo, &[push, vec!["origin", "main"]].concat());
    }

    /// A new bare `root/origin.git` holding `repo`'s `main`, as `repo`'s
    /// `origin` (see `add_origin`).
    pub fn origin_of(&self, repo: &Path, track: bool) -> PathBuf {
        let origin = self.bare("origin.git");
        self.add_origin(repo, &origin, track);
        origin
    }

    /// A clone of `origin` at `root/name`.
    pub fn clone_of(&self, origin: &Path, name: &str) -> PathBuf {
        let path = self.root().join(name);
        self.git(
            self.root(),
            &[
                "clone",
                "-q",
                origin.to_str().unwrap(),
                path.to_str().unwrap(),
            ],
        );
        path
    }

    /// Every ref with its value, for "nothing was written" checks.
    pub fn refs(&self, repo: &Path) -> String {
        let out = self
            .command("git", repo)
            .args(["for-each-ref", "--format=%(refname) %(objectname)"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Run {
    /// Exit code, stdout and stderr as one text, for snapshots (both streams
    /// are what the user sees; an empty one is shown as empty).
    pub fn transcript(&self) -> String {
        format!(
            "exit: {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl TestEnv {
    /// `text` with what varies between runs replaced by placeholders, never
    /// dropped: this env's temp dir (`[ROOT]`), the test binary's dir
    /// (`[BIN]`), timestamps (`[TIME]`), hex ids of 7+ digits (`[ID]`),
    /// numbers of 10+ digits (`[N]`), and an apply owner's host, pid and
    /// process start (`[HOST] pid=[PID] start=[N]`).
    pub fn normalise(&self, text: &str) -> String {
        let mut text = text.to_string();
        for (path, name) in [
            (bin().parent().unwrap().to_path_buf(), "[BIN]"),
            (self.root().to_path_buf(), "[ROOT]"),
        ] {
            if let Ok(real) = path.canonicalize() {
                text = text.replace(real.to_str().unwrap(), name);
            }
            text = text.replace(path.to_str().unwrap(), name);
        }
        redact_owner(&redact_words(&redact_times(&text)))
    }
}

/// `YYYY-MM-DD[T ]HH:MM:SS` with optional fraction and zone (`Z`, `+00:00`,
/// ` +0000`, ` UTC`) becomes `[TIME]`.
fn redact_times(text: &str) -> String {
    fn shape(b: &[u8], pattern: &[u8]) -> bool {
        b.len() >= pattern.len()
            && pattern.iter().zip(b).all(|(p, c)| match p {
                b'9' => c.is_ascii_digit(),
                b'T' => *c == b'T' || *c == b' ',
                _ => p == c,
            })
    }
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        let at_word_start = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        if at_word_start && shape(&b[i..], b"9999-99-99T99:99:99") {
            let mut j = i + 19;
            if b.get(j) == Some(&b'.') {
                j += 1;
                while b.get(j).is_some_and(|c| c.is_ascii_digit()) {
                    j += 1;
                }
            }
            for zone in [
                &b"Z"[..],
                b"+99:99",
                b"-99:99",
                b" +9999",
                b" -9999",
                b" UTC",
            ] {
                if shape(&b[j..], zone) {
                    j += zone.len();
                    break;
                }
            }
            out.push_str(&text[copied..i]);
            out.push_str("[TIME]");
            i = j;
            copied = j;
            continue;
        }
        i += 1;
    }
    out.push_str(&text[copied..]);
    out
}

/// Words (runs of ASCII letters and digits) that are hex ids (7+ lowercase
/// hex digits, at least one a digit and one a letter) or long numbers (10+
/// digits: epoch seconds in run ids) become `[ID]` / `[N]`.
fn redact_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let hex = word.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
        let digits = word.bytes().filter(u8::is_ascii_digit).count();
        // Ids are shown at 12, 40 or 64 hex digits; such an id may happen to
        // hold no letter (about 1 in 300 for 12), so those lengths are ids
        // whatever their digits.
        let id_length = matches!(word.len(), 12 | 40 | 64);
        if hex && (id_length || (word.len() >= 7 && digits > 0 && digits < word.len())) {
            out.push_str("[ID]");
        } else if digits == word.len() && digits >= 10 {
            out.push_str("[N]");
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// `<host> pid=<pid> start=<ticks>` (an apply's owner) becomes
/// `[HOST] pid=[PID] start=[N]`.
fn redact_owner(text: &str) -> String {
    text.lines()
        .map(|line| match line.find(" pid=") {
            Some(at) if line[at..].contains(" start=") => {
                let host_start = line[..at].rfind(' ').map_or(0, |s| s + 1);
                let rest = &line[at + 5..];
                let pid_end = rest.find(' ').unwrap_or(rest.len());
                let start = &rest[pid_end..];
                let start_digits = start
                    .strip_prefix(" start=")
                    .map(|s| s.trim_start_matches(|c: char| c.is_ascii_digit()));
                match start_digits {
                    Some(after) => {
                        format!("{}[HOST] pid=[PID] start=[N]{after}", &line[..host_start])
                    }
                    None => line.to_string(),
                }
            }
            _ => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + if text.ends_with('\n') { "\n" } else { "" }
}
