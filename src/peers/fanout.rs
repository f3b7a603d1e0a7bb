//! Deliver one commit to every peer checkout that can take it as a fast-forward,
//! and say exactly why each other peer did not move.
//!
//! Per peer (in parallel, bounded): reachable -> exists -> is a repository ->
//! no operation in progress and no `index.lock` (`busy`) -> on the expected
//! branch -> no staged or unstaged changes to tracked files -> peer HEAD is an
//! ancestor of the commit -> fetch -> `git merge --ff-only` -> read back HEAD
//! (host proof) -> reload, health, readback (runtime proof).
//!
//! A blocked peer is never written to: every check before the merge only
//! reads, and objects are fetched only once every check has passed. Nothing
//! here stashes, resets, rebases, cleans, checks out or forces, and untracked
//! files are never looked at. The merge itself is git's `--ff-only`, which
//! refuses to overwrite anything changed since the checks; HEAD is read back
//! afterwards either way.
//!
//! Before the merge, the paths the commit adds are checked: an untracked (or
//! ignored) file where the commit would create one blocks the peer (`dirty`),
//! since git would refuse it (untracked) or silently overwrite it (ignored).
//! The one thing a refused merge still writes in a peer that raced is git's
//! own `ORIG_HEAD` (set to the unchanged HEAD before git tries).
//!
//! Fetching: a local peer receives the missing objects straight from this
//! repository's object database (in-process, no refs written, no network, no
//! dependency on the peer's remote being reachable or up to date); an SSH
//! peer runs `git fetch <remote> <branch>` on its host, since this repository
//! is usually not reachable from there.
//!
//! Library code: no printing. Progress is reported through a callback.

use super::config::{Location, Peer, PeerSsh};
use super::local;
use super::shell::{CmdOutput, LocalShell, PeerShell, ShellError, SshOptions};
use crate::error::{Error, Result};
use crate::store::Store;
use gix::ObjectId;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The notes ref that holds one block per fanout run, on the delivered commit.
pub const NOTES_REF: &str = "refs/notes/fleet/fanout";

/// Why a peer was not brought to the commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Blocker {
    Dirty,
    Diverged,
    Ahead,
    WrongBranch,
    Detached,
    Missing,
    NotARepo,
    Busy,
    Unreachable,
    FetchFailed,
    /// `git merge --ff-only` refused for a reason none of the others describe.
    MergeFailed,
    ReloadFailed,
    HealthFailed,
    ReadbackMismatch,
}

impl Blocker {
    pub const ALL: [Blocker; 14] = [
        Blocker::Dirty,
        Blocker::Diverged,
        Blocker::Ahead,
        Blocker::WrongBranch,
        Blocker::Detached,
        Blocker::Missing,
        Blocker::NotARepo,
        Blocker::Busy,
        Blocker::Unreachable,
        Blocker::FetchFailed,
        Blocker::MergeFailed,
        Blocker::ReloadFailed,
        Blocker::HealthFailed,
        Blocker::ReadbackMismatch,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Blocker::Dirty => "dirty",
            Blocker::Diverged => "diverged",
            Blocker::Ahead => "ahead",
            Blocker::WrongBranch => "wrong-branch",
            Blocker::Detached => "detached",
            Blocker::Missing => "missing",
            Blocker::NotARepo => "not-a-repo",
            Blocker::Busy => "busy",
            Blocker::Unreachable => "unreachable",
            Blocker::FetchFailed => "fetch-failed",
            Blocker::MergeFailed => "merge-failed",
            Blocker::ReloadFailed => "reload-failed",
            Blocker::HealthFailed => "health-failed",
            Blocker::ReadbackMismatch => "readback-mismatch",
        }
    }

    pub fn parse(s: &str) -> Option<Blocker> {
        Blocker::ALL.into_iter().find(|b| b.as_str() == s)
    }
}

/// What happened to one peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Already at the commit.
    Current,
    /// Moved to the commit by a fast-forward.
    FastForwarded,
    /// `--dry-run`: every check passed; a real run would fast-forward.
    WouldFastForward,
    Blocked(Blocker),
}

impl Outcome {
    /// `current`, `fast-forwarded`, `would-fast-forward`, or the blocker's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Current => "current",
            Outcome::FastForwarded => "fast-forwarded",
            Outcome::WouldFastForward => "would-fast-forward",
            Outcome::Blocked(b) => b.as_str(),
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        match s {
            "current" => Some(Outcome::Current),
            "fast-forwarded" => Some(Outcome::FastForwarded),
            "would-fast-forward" => Some(Outcome::WouldFastForward),
            other => Blocker::parse(other).map(Outcome::Blocked),
        }
    }

    pub fn is_blocked(self) -> bool {
        matches!(self, Outcome::Blocked(_))
    }
}

/// One runtime step (reload, health, readback).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepStatus {
    /// The peer declares no such command: explicitly out of scope.
    OutOfScope,
    /// Not run (an earlier step failed, the peer was blocked, or nothing changed).
    Skipped,
    Ok,
    Failed,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::OutOfScope => "out-of-scope",
            StepStatus::Skipped => "skipped",
            StepStatus::Ok => "ok",
            StepStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<StepStatus> {
        [
            StepStatus::OutOfScope,
            StepStatus::Skipped,
            StepStatus::Ok,
            StepStatus::Failed,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub status: StepStatus,
    /// What the command said, on one line (readback: what it printed).
    pub detail: Option<String>,
}

impl Step {
    fn new(status: StepStatus) -> Step {
        Step {
            status,
            detail: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Runtime {
    pub reload: Step,
    pub health: Step,
    pub readback: Step,
}

impl Runtime {
    fn for_peer(peer: &Peer) -> Runtime {
        let initial = |declared: &Option<String>| {
            Step::new(if declared.is_some() {
                StepStatus::Skipped
            } else {
                StepStatus::OutOfScope
            })
        };
        Runtime {
            reload: initial(&peer.reload),
            health: initial(&peer.health),
            readback: initial(&peer.readback),
        }
    }
}

/// The result for one peer.
#[derive(Debug, Clone)]
pub struct PeerReport {
    pub name: String,
    pub location: String,
    /// The branch the peer had to be on.
    pub branch: String,
    pub outcome: Outcome,
    /// One line: why it is blocked, or what was proven.
    pub reason: String,
    /// The peer's HEAD before (when it could be read).
    pub before: Option<ObjectId>,
    /// The peer's HEAD read back at the end (host proof), when it could be read.
    pub after: Option<ObjectId>,
    pub runtime: Runtime,
    pub elapsed: Duration,
}

/// A stage a peer is in, for progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Connecting,
    Checking,
    Fetching,
    Merging,
    Reloading,
    Health,
    Readback,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Connecting => "connecting",
            Stage::Checking => "checking",
            Stage::Fetching => "fetching",
            Stage::Merging => "fast-forwarding",
            Stage::Reloading => "reloading",
            Stage::Health => "health check",
            Stage::Readback => "reading back",
        }
    }
}

/// Progress, reported from worker threads.
#[derive(Debug, Clone)]
pub enum Event {
    Stage {
        index: usize,
        stage: Stage,
    },
    Done {
        index: usize,
        report: Box<PeerReport>,
    },
}

/// What to deliver, where.
#[derive(Debug, Clone)]
pub struct Request {
    pub commit: ObjectId,
    /// The branch being delivered (a peer without its own `branch` must be on it).
    pub branch: String,
    pub peers: Vec<Peer>,
    /// Peers handled at once (at least 1).
    pub jobs: usize,
    pub dry_run: bool,
    pub ssh: SshOptions,
}

/// All peers' results, in the order of `Request::peers`.
#[derive(Debug, Clone)]
pub struct Report {
    pub commit: ObjectId,
    pub branch: String,
    pub dry_run: bool,
    pub peers: Vec<PeerReport>,
    pub elapsed: Duration,
}

impl Report {
    pub fn blocked(&self) -> usize {
        self.peers.iter().filter(|p| p.outcome.is_blocked()).count()
    }
}

/// Opens SSH sessions to `PeerSsh` hosts; replaceable in tests.
pub type Connector =
    dyn Fn(&PeerSsh, &SshOptions) -> std::result::Result<Box<dyn PeerShell>, ShellError> + Sync;

/// The SSH transport of `super::ssh`: one session per host (libssh2) or a
/// multiplexed system `ssh` (openssh).
pub fn ssh_connector(
    peer: &PeerSsh,
    opts: &SshOptions,
) -> std::result::Result<Box<dyn PeerShell>, ShellError> {
    super::ssh::connect(peer, opts)
}

/// Deliver `req.commit` to every peer of `req`. Never fails as a whole because
/// of one peer: each peer's problem is its outcome.
pub fn run(store: &Store, req: &Request, progress: &(dyn Fn(Event) + Sync)) -> Result<Report> {
    run_with(store, req, &ssh_connector, progress)
}

/// [`run`] with a chosen SSH connector.
pub fn run_with(
    store: &Store,
    req: &Request,
    connector: &Connector,
    progress: &(dyn Fn(Event) + Sync),
) -> Result<Report> {
    let start = Instant::now();
    if store.repo().find_commit(req.commit).is_err() {
        return Err(Error::usage(format!("{} is not a commit here", req.commit)));
    }
    let hosts = Hosts::new(&req.peers);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<PeerReport>>> = Mutex::new(vec![None; req.peers.len()]);
    let jobs = req.jobs.clamp(1, req.peers.len().max(1));
    // gix repositories are not Send here: each worker opens its own.
    let git_dir = store.git_dir().to_path_buf();
    let open_error: Mutex<Option<String>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let (hosts, next, results, git_dir, open_error) =
                (&hosts, &next, &results, &git_dir, &open_error);
            scope.spawn(move || {
                let repo = match gix::open(git_dir) {
                    Ok(repo) => repo,
                    Err(e) => {
                        if let Ok(mut slot) = open_error.lock() {
                            *slot = Some(format!("cannot open {}: {e}", git_dir.display()));
                        }
                        return;
                    }
                };
                loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    let Some(peer) = req.peers.get(index) else {
                        break;
                    };
                    let stage = |stage| progress(Event::Stage { index, stage });
                    let report = deliver(&repo, req, peer, hosts, connector, &stage);
                    progress(Event::Done {
                        index,
                        report: Box::new(report.clone()),
                    });
                    if let Ok(mut r) = results.lock() {
                        r[index] = Some(report);
                    }
                }
            });
        }
    });
    if let Some(e) = open_error.into_inner().ok().flatten() {
        return Err(Error::Other(e));
    }
    let peers = results
        .into_inner()
        .map_err(|_| Error::Other("a fanout worker panicked".into()))?
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| Error::Other("a fanout worker stopped early".into()))?;
    Ok(Report {
        commit: req.commit,
        branch: req.branch.clone(),
        dry_run: req.dry_run,
        peers,
        elapsed: start.elapsed(),
    })
}

/// One shell per host: local peers share one, SSH peers one per
/// `transport user@host:port identity`, opened on first use.
struct Hosts {
    local: Arc<dyn PeerShell>,
    ssh: BTreeMap<String, OnceLock<Connection>>,
}

/// An SSH host's shell, or why it could not be reached.
type Connection = std::result::Result<Arc<dyn PeerShell>, ShellError>;

fn host_key(ssh: &PeerSsh) -> String {
    format!(
        "{} {} {}",
        ssh.transport.as_str(),
        ssh.authority(),
        ssh.identity
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    )
}

impl Hosts {
    fn new(peers: &[Peer]) -> Hosts {
        let mut ssh = BTreeMap::new();
        for p in peers {
            if let Location::Ssh(s) = &p.location {
                ssh.entry(host_key(s)).or_insert_with(OnceLock::new);
            }
        }
        Hosts {
            local: Arc::new(LocalShell),
            ssh,
        }
    }

    fn shell(
        &self,
        location: &Location,
        opts: &SshOptions,
        connector: &Connector,
    ) -> std::result::Result<Arc<dyn PeerShell>, ShellError> {
        match location {
            Location::Local(_) => Ok(self.local.clone()),
            Location::Ssh(s) => {
                let cell = self
                    .ssh
                    .get(&host_key(s))
                    .ok_or_else(|| ShellError::Other("unknown host".into()))?;
                cell.get_or_init(|| connector(s, opts).map(Arc::from))
                    .clone()
            }
        }
    }
}

/// Everything one peer's delivery needs.
struct PeerRun<'a> {
    repo: &'a gix::Repository,
    req: &'a Request,
    peer: &'a Peer,
    shell: Arc<dyn PeerShell>,
    dir: String,
    branch: String,
    local: std::cell::OnceCell<Option<gix::Repository>>,
    /// The peer's HEAD as soon as a check has read it.
    head_seen: std::cell::Cell<Option<ObjectId>>,
}

/// Early exit from the per-peer checks: the outcome and its reason.
struct Stop(Outcome, String);

fn blocked(b: Blocker, reason: impl Into<String>) -> Stop {
    Stop(Outcome::Blocked(b), reason.into())
}

fn deliver(
    repo: &gix::Repository,
    req: &Request,
    peer: &Peer,
    hosts: &Hosts,
    connector: &Connector,
    stage: &dyn Fn(Stage),
) -> PeerReport {
    let start = Instant::now();
    let branch = peer.branch.clone().unwrap_or_else(|| req.branch.clone());
    let mut report = PeerReport {
        name: peer.name.clone(),
        location: peer.location_text.clone(),
        branch: branch.clone(),
        outcome: Outcome::Blocked(Blocker::Unreachable),
        reason: String::new(),
        before: None,
        after: None,
        runtime: Runtime::for_peer(peer),
        elapsed: Duration::ZERO,
    };
    if matches!(peer.location, Location::Ssh(_)) {
        stage(Stage::Connecting);
    }
    let shell = match hosts.shell(&peer.location, &req.ssh, connector) {
        Ok(shell) => shell,
        Err(e) => {
            report.reason = one_line(&shell_error_text(&e));
            report.elapsed = start.elapsed();
            return report;
        }
    };
    let dir = match &peer.location {
        Location::Local(p) => p.display().to_string(),
        Location::Ssh(s) => s.path.clone(),
    };
    let run = PeerRun {
        repo,
        req,
        peer,
        shell,
        dir,
        branch,
        local: std::cell::OnceCell::new(),
        head_seen: std::cell::Cell::new(None),
    };
    let Stop(outcome, reason) = match run.deliver(&mut report, stage) {
        Ok(stop) | Err(stop) => stop,
    };
    report.before = report.before.or(run.head_seen.get());
    report.outcome = outcome;
    report.reason = one_line(&reason);
    report.elapsed = start.elapsed();
    report
}

/// What the read-only checks found out about a peer.
struct Probe {
    head: ObjectId,
}

/// Relation of the peer's HEAD to the delivered commit.
enum Ancestry {
    Equal,
    Behind,
    Ahead,
    Diverged,
}

impl PeerRun<'_> {
    fn timeout(&self) -> Duration {
        self.peer.timeout
    }

    fn git(&self, args: &[&str]) -> std::result::Result<CmdOutput, Stop> {
        let mut argv = Vec::with_capacity(args.len() + 1);
        argv.push("git");
        argv.extend_from_slice(args);
        self.shell
            .run(&self.dir, &argv, self.timeout())
            .map_err(|e| blocked(Blocker::Unreachable, shell_error_text(&e)))
    }

    /// The whole delivery; `Ok` and `Err` both carry the final outcome.
    fn deliver(
        &self,
        report: &mut PeerReport,
        stage: &dyn Fn(Stage),
    ) -> std::result::Result<Stop, Stop> {
        stage(Stage::Checking);
        let probe = self.probe()?;
        report.before = Some(probe.head);
        report.after = Some(probe.head);
        let commit = self.req.commit;
        let short_c = short(commit);
        match self.ancestry(probe.head)? {
            Ancestry::Equal => {
                self.runtime(report, false, stage)?;
                return Ok(Stop(
                    Outcome::Current,
                    format!("already at {short_c} on {}", self.branch),
                ));
            }
            Ancestry::Ahead => {
                return Err(blocked(
                    Blocker::Ahead,
                    format!(
                        "HEAD {} has commits after {short_c}; push them or deliver a newer commit",
                        short(probe.head)
                    ),
                ))
            }
            Ancestry::Diverged => {
                return Err(blocked(
                    Blocker::Diverged,
                    format!(
                        "HEAD {} is not an ancestor of {short_c} (the peer has its own commits)",
                        short(probe.head)
                    ),
                ))
            }
            Ancestry::Behind => {}
        }
        self.check_nothing_in_the_way(probe.head)?;
        if self.req.dry_run {
            return Ok(Stop(
                Outcome::WouldFastForward,
                format!(
                    "would fast-forward {}..{short_c} on {}",
                    short(probe.head),
                    self.branch
                ),
            ));
        }
        stage(Stage::Fetching);
        self.fetch()?;
        stage(Stage::Merging);
        let merged = self.merge(probe.head);
        // Read back whatever happened: the host proof, or proof nothing moved.
        let (head, on_branch) = self.read_head()?;
        report.after = Some(head);
        if let Err(stop) = merged {
            return Err(if head == probe.head {
                stop
            } else {
                Stop(
                    stop.0,
                    format!("{}; HEAD moved to {} meanwhile", stop.1, short(head)),
                )
            });
        }
        if head != commit || !on_branch {
            let why = if on_branch {
                format!("HEAD read back as {} after the fast-forward, not {short_c} (the peer moved meanwhile)", short(head))
            } else {
                format!(
                    "the peer left {} during the fast-forward (HEAD {})",
                    self.branch,
                    short(head)
                )
            };
            let blocker = if !on_branch {
                Blocker::WrongBranch
            } else if matches!(self.ancestry(head), Ok(Ancestry::Ahead)) {
                Blocker::Ahead
            } else {
                Blocker::Diverged
            };
            return Err(blocked(blocker, why));
        }
        self.runtime(report, true, stage)?;
        Ok(Stop(
            Outcome::FastForwarded,
            format!(
                "{}..{short_c} on {}, HEAD read back",
                short(probe.head),
                self.branch
            ),
        ))
    }

    /// Exists, is a repository (at its top level), nothing in progress, on
    /// the branch, clean. Only reads.
    fn probe(&self) -> std::result::Result<Probe, Stop> {
        const STATE: [(&str, &str); 7] = local::IN_PROGRESS;
        if let Location::Local(path) = &self.peer.location {
            match std::fs::metadata(path) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(blocked(
                        Blocker::NotARepo,
                        format!("{} is a file, not a directory", path.display()),
                    ))
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(blocked(
                        Blocker::Missing,
                        format!("{} does not exist", path.display()),
                    ))
                }
                Err(e) => {
                    return Err(blocked(
                        Blocker::Missing,
                        format!("cannot read {}: {e}", path.display()),
                    ))
                }
            }
        }
        if let Some(repo) = self.local_repo() {
            if let Some(why) = local::in_progress(repo) {
                return Err(blocked(Blocker::Busy, why));
            }
            if let Some((name, head)) = local::head(repo) {
                self.check_branch(name.as_deref().unwrap_or("HEAD"), head)?;
                if !local::certainly_clean(repo, head) {
                    self.check_clean()?;
                }
                return Ok(Probe { head });
            }
            // Unborn or unreadable HEAD: git words it below.
        }
        let mut args: Vec<&str> = vec!["rev-parse", "--show-cdup"];
        for (path, _) in STATE {
            args.extend(["--git-path", path]);
        }
        args.extend(["HEAD", "--symbolic-full-name", "HEAD"]);
        let out = self.git(&args)?;
        let lines: Vec<&str> = out.stdout.lines().collect();
        if !out.success() || lines.len() != 3 + STATE.len() {
            return Err(self.classify_probe_failure(&out, &lines));
        }
        if !lines[0].trim().is_empty() {
            return Err(blocked(
                Blocker::NotARepo,
                format!(
                    "{} is not a repository's top level (it is inside the repository at {})",
                    self.dir,
                    lines[0].trim()
                ),
            ));
        }
        let paths = &lines[1..1 + STATE.len()];
        let present = self.existing(paths)?;
        for ((_, why), exists) in STATE.iter().zip(&present) {
            if *exists {
                return Err(blocked(Blocker::Busy, *why));
            }
        }
        let head_line = lines[1 + STATE.len()];
        let symbolic = lines[2 + STATE.len()];
        let head = ObjectId::from_hex(head_line.trim().as_bytes()).map_err(|_| {
            blocked(
                Blocker::NotARepo,
                format!("cannot read HEAD: '{}'", head_line.trim()),
            )
        })?;
        self.check_branch(symbolic, head)?;
        self.check_clean()?;
        Ok(Probe { head })
    }

    /// Detached, or on another branch than expected: blocked.
    fn check_branch(&self, symbolic: &str, head: ObjectId) -> std::result::Result<(), Stop> {
        self.head_seen.set(Some(head));
        if symbolic == "HEAD" {
            return Err(blocked(
                Blocker::Detached,
                format!(
                    "HEAD is detached at {}; expected branch {}",
                    short(head),
                    self.branch
                ),
            ));
        }
        let current = symbolic.strip_prefix("refs/heads/").unwrap_or(symbolic);
        if current != self.branch {
            return Err(blocked(
                Blocker::WrongBranch,
                format!("on {current}, expected {}", self.branch),
            ));
        }
        Ok(())
    }

    /// The peer's repository opened in-process (local peers whose work tree
    /// is exactly their location), opened once.
    fn local_repo(&self) -> Option<&gix::Repository> {
        self.local
            .get_or_init(|| match &self.peer.location {
                Location::Local(path) => local::open(path),
                Location::Ssh(_) => None,
            })
            .as_ref()
    }

    fn classify_probe_failure(&self, out: &CmdOutput, lines: &[&str]) -> Stop {
        let err = out.stderr.trim();
        if err.contains("not a git repository") {
            return blocked(
                Blocker::NotARepo,
                format!("{} is not a git repository", self.dir),
            );
        }
        if err.contains("unknown revision") && lines.len() >= 2 {
            return blocked(
                Blocker::Diverged,
                format!(
                    "the peer's branch has no commits yet, so {} cannot fast-forward (clone it instead)",
                    self.branch
                ),
            );
        }
        // Does the directory exist at all? (SSH peers: `cd` is what failed.)
        match self.shell.run(&self.dir, &["true"], self.timeout()) {
            Ok(o) if o.success() => blocked(
                Blocker::NotARepo,
                format!("cannot read the repository: {}", first_line(err)),
            ),
            Ok(o) => blocked(
                Blocker::Missing,
                format!(
                    "{} does not exist or cannot be entered ({})",
                    self.dir,
                    first_line(o.stderr.trim())
                ),
            ),
            Err(ShellError::Other(m)) => blocked(
                Blocker::Missing,
                format!("{} does not exist ({})", self.dir, first_line(&m)),
            ),
            Err(e) => blocked(Blocker::Unreachable, shell_error_text(&e)),
        }
    }

    /// Which of `paths` (relative to the peer directory, or absolute) exist.
    fn existing(&self, paths: &[&str]) -> std::result::Result<Vec<bool>, Stop> {
        if let Location::Local(root) = &self.peer.location {
            return Ok(paths
                .iter()
                .map(|p| root.join(p).symlink_metadata().is_ok())
                .collect());
        }
        let mut argv = vec!["ls", "-d", "--"];
        argv.extend_from_slice(paths);
        let out = self
            .shell
            .run(&self.dir, &argv, self.timeout())
            .map_err(|e| blocked(Blocker::Unreachable, shell_error_text(&e)))?;
        let listed: HashSet<&str> = out.stdout.lines().collect();
        Ok(paths.iter().map(|p| listed.contains(p)).collect())
    }

    /// No staged, unstaged or conflicted changes to tracked files. Untracked
    /// files are not even listed. `--no-optional-locks`: a read-only status
    /// that does not refresh (rewrite) the peer's index.
    fn check_clean(&self) -> std::result::Result<(), Stop> {
        let out = self.git(&[
            "--no-optional-locks",
            "status",
            "--porcelain=v2",
            "-z",
            "--untracked-files=no",
            "--ignore-submodules=none",
        ])?;
        if !out.success() {
            if out.stderr.contains("index.lock") {
                return Err(blocked(Blocker::Busy, first_line(out.stderr.trim())));
            }
            return Err(blocked(
                Blocker::NotARepo,
                format!("git status failed: {}", first_line(out.stderr.trim())),
            ));
        }
        let changes = parse_status(&out.stdout);
        if changes.is_empty() {
            return Ok(());
        }
        let staged = changes.iter().filter(|c| c.staged).count();
        let unstaged = changes.iter().filter(|c| c.unstaged).count();
        let conflicted = changes.iter().filter(|c| c.conflicted).count();
        let mut parts = Vec::new();
        if staged > 0 {
            parts.push(format!("{staged} staged"));
        }
        if unstaged > 0 {
            parts.push(format!("{unstaged} unstaged"));
        }
        if conflicted > 0 {
            parts.push(format!("{conflicted} conflicted"));
        }
        let mut names: Vec<&str> = changes.iter().take(3).map(|c| c.path.as_str()).collect();
        if changes.len() > 3 {
            names.push("...");
        }
        Err(blocked(
            Blocker::Dirty,
            format!(
                "{} change{} to tracked files ({}): {}",
                changes.len(),
                if changes.len() == 1 { "" } else { "s" },
                parts.join(", "),
                names.join(", ")
            ),
        ))
    }

    /// Paths the fast-forward would create must not exist in the peer: an
    /// untracked file there would make git refuse (after it has already
    /// rewritten ORIG_HEAD), and an *ignored* one git would silently
    /// overwrite. Checked before anything is written.
    fn check_nothing_in_the_way(&self, head: ObjectId) -> std::result::Result<(), Stop> {
        let Ok(added) = added_paths(self.repo, head, self.req.commit) else {
            return Ok(()); // git merge --ff-only still refuses what it must
        };
        if added.is_empty() || added.len() > MAX_IN_THE_WAY_PATHS {
            return Ok(());
        }
        let mut in_the_way = Vec::new();
        match &self.peer.location {
            Location::Local(root) => {
                for (path, is_dir) in &added {
                    if let Ok(meta) = root.join(path).symlink_metadata() {
                        if !*is_dir || !meta.is_dir() {
                            in_the_way.push(path.as_str());
                        }
                    }
                }
            }
            Location::Ssh(_) => {
                // `ls -dp`: existing paths, directories with a trailing '/'.
                let mut argv = vec!["ls", "-dp", "--"];
                argv.extend(added.iter().map(|(p, _)| p.as_str()));
                let out = self
                    .shell
                    .run(&self.dir, &argv, self.timeout())
                    .map_err(|e| blocked(Blocker::Unreachable, shell_error_text(&e)))?;
                let listed: HashSet<&str> = out.stdout.lines().collect();
                for (path, is_dir) in &added {
                    let as_dir = format!("{path}/");
                    if listed.contains(path.as_str())
                        || (!*is_dir && listed.contains(as_dir.as_str()))
                    {
                        in_the_way.push(path.as_str());
                    }
                }
            }
        }
        if in_the_way.is_empty() {
            return Ok(());
        }
        let mut names: Vec<&str> = in_the_way.iter().take(3).copied().collect();
        if in_the_way.len() > 3 {
            names.push("...");
        }
        Err(blocked(
            Blocker::Dirty,
            format!(
                "untracked or ignored files are where {} adds files (left untouched): {}",
                short(self.req.commit),
                names.join(", ")
            ),
        ))
    }

    /// Where the peer's HEAD stands relative to the commit. Answered in this
    /// repository when it knows the peer's HEAD; otherwise the peer has
    /// commits we lack, and only the peer can tell ahead from diverged.
    fn ancestry(&self, head: ObjectId) -> std::result::Result<Ancestry, Stop> {
        let commit = self.req.commit;
        if head == commit {
            return Ok(Ancestry::Equal);
        }
        if self.repo.find_commit(head).is_ok() {
            return match self.repo.merge_base(head, commit) {
                Ok(Some(base)) if base.detach() == head => Ok(Ancestry::Behind),
                Ok(Some(base)) if base.detach() == commit => Ok(Ancestry::Ahead),
                Ok(_) => Ok(Ancestry::Diverged),
                Err(e) => Err(blocked(
                    Blocker::Diverged,
                    format!(
                        "cannot relate HEAD {} to {}: {e}",
                        short(head),
                        short(commit)
                    ),
                )),
            };
        }
        let hex = commit.to_string();
        let out = self.git(&["merge-base", "--is-ancestor", &hex, "HEAD"])?;
        Ok(if out.success() {
            Ancestry::Ahead
        } else {
            Ancestry::Diverged
        })
    }

    fn fetch(&self) -> std::result::Result<(), Stop> {
        let commit = self.req.commit;
        match &self.peer.location {
            Location::Local(_) if self.local_repo().is_some() => {
                let peer = self.local_repo().expect("checked");
                local::copy_objects(self.repo, peer, commit)
                    .map(|_| ())
                    .map_err(|e| {
                        blocked(
                            Blocker::FetchFailed,
                            format!("cannot copy objects into the peer: {e}"),
                        )
                    })
            }
            _ => {
                let out = self.git(&[
                    "fetch",
                    "--quiet",
                    "--no-tags",
                    "--",
                    &self.peer.remote,
                    &self.branch,
                ])?;
                if !out.success() {
                    return Err(blocked(
                        Blocker::FetchFailed,
                        format!(
                            "git fetch {} {} failed: {}",
                            self.peer.remote,
                            self.branch,
                            first_line(out.stderr.trim())
                        ),
                    ));
                }
                let spec = format!("{commit}^{{commit}}");
                let out = self.git(&["cat-file", "-e", &spec])?;
                if !out.success() {
                    return Err(blocked(
                        Blocker::FetchFailed,
                        format!(
                            "{}/{} does not contain {} yet (push it first)",
                            self.peer.remote,
                            self.branch,
                            short(commit)
                        ),
                    ));
                }
                Ok(())
            }
        }
    }

    /// `git merge --ff-only C`, with autostash forced off (a peer's
    /// `merge.autoStash` must never stash anything) and no auto-gc.
    fn merge(&self, before: ObjectId) -> std::result::Result<(), Stop> {
        let hex = self.req.commit.to_string();
        let out = self.git(&[
            "-c",
            "merge.autoStash=false",
            "-c",
            "maintenance.auto=false",
            "-c",
            "gc.auto=0",
            "merge",
            "--ff-only",
            "--quiet",
            &hex,
        ])?;
        if out.success() {
            return Ok(());
        }
        let err = out.stderr.trim();
        let text = format!("{} {}", out.stdout.trim(), err);
        let line = first_line(err);
        Err(
            if text.contains("index.lock") || text.contains("File exists") {
                blocked(
                    Blocker::Busy,
                    format!("git merge found the index locked: {line}"),
                )
            } else if text.contains("untracked working tree files would be overwritten") {
                blocked(
                Blocker::Dirty,
                format!("untracked files are in the way of the fast-forward; nothing was touched: {}", merge_paths(err)),
            )
            } else if text.contains("would be overwritten") || text.contains("local changes") {
                blocked(
                    Blocker::Dirty,
                    format!(
                        "changed during fanout; git refused to overwrite: {}",
                        merge_paths(err)
                    ),
                )
            } else if text.contains("fast-forward") || text.contains("diverg") {
                blocked(
                    Blocker::Diverged,
                    format!(
                        "HEAD moved away from {} during fanout: {line}",
                        short(before)
                    ),
                )
            } else {
                blocked(
                    Blocker::MergeFailed,
                    format!("git merge --ff-only failed: {line}"),
                )
            },
        )
    }

    /// HEAD and whether it is still on the expected branch.
    fn read_head(&self) -> std::result::Result<(ObjectId, bool), Stop> {
        if let Some((name, head)) = self.local_repo().and_then(local::head) {
            return Ok((head, name == Some(format!("refs/heads/{}", self.branch))));
        }
        let out = self.git(&["rev-parse", "HEAD", "--symbolic-full-name", "HEAD"])?;
        let mut lines = out.stdout.lines();
        let head = lines
            .next()
            .and_then(|l| ObjectId::from_hex(l.trim().as_bytes()).ok())
            .filter(|_| out.success())
            .ok_or_else(|| {
                blocked(
                    Blocker::Unreachable,
                    format!("cannot read HEAD back: {}", first_line(out.stderr.trim())),
                )
            })?;
        let symbolic = lines.next().unwrap_or("");
        Ok((head, symbolic == format!("refs/heads/{}", self.branch)))
    }

    /// reload (only after a fast-forward), health, readback.
    fn runtime(
        &self,
        report: &mut PeerReport,
        moved: bool,
        stage: &dyn Fn(Stage),
    ) -> std::result::Result<(), Stop> {
        if self.req.dry_run {
            return Ok(());
        }
        let commit = self.req.commit;
        if let Some(script) = &self.peer.reload {
            if moved {
                stage(Stage::Reloading);
                let (ok, detail) = self.script(script);
                report.runtime.reload = Step {
                    status: if ok {
                        StepStatus::Ok
                    } else {
                        StepStatus::Failed
                    },
                    detail: Some(detail.clone()),
                };
                if !ok {
                    return Err(blocked(Blocker::ReloadFailed, format!("reload: {detail}")));
                }
            } else {
                report.runtime.reload.detail = Some("already current; not reloaded".into());
            }
        }
        if let Some(script) = &self.peer.health {
            stage(Stage::Health);
            let (ok, detail) = self.script(script);
            report.runtime.health = Step {
                status: if ok {
                    StepStatus::Ok
                } else {
                    StepStatus::Failed
                },
                detail: Some(detail.clone()),
            };
            if !ok {
                return Err(blocked(Blocker::HealthFailed, format!("health: {detail}")));
            }
        }
        if let Some(script) = &self.peer.readback {
            stage(Stage::Readback);
            let out = self.shell.run_shell(&self.dir, script, self.timeout());
            let (ok, detail) = match &out {
                Ok(o) if o.success() => {
                    let printed = o.stdout.trim().to_string();
                    (readback_matches(&printed, commit), printed)
                }
                Ok(o) => (false, exit_text(o)),
                Err(e) => (false, shell_error_text(e)),
            };
            report.runtime.readback = Step {
                status: if ok {
                    StepStatus::Ok
                } else {
                    StepStatus::Failed
                },
                detail: Some(one_line(&detail)),
            };
            if !ok {
                return Err(blocked(
                    Blocker::ReadbackMismatch,
                    format!(
                        "readback printed '{}', expected {}",
                        one_line(&detail),
                        commit
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Run a user command: (succeeded, one line about it).
    fn script(&self, script: &str) -> (bool, String) {
        match self.shell.run_shell(&self.dir, script, self.timeout()) {
            Ok(o) if o.success() => (true, "ok".into()),
            Ok(o) => (false, exit_text(&o)),
            Err(e) => (false, shell_error_text(&e)),
        }
    }
}

/// A readback proves the commit when it prints the full id, or an
/// abbreviation of at least 7 hex digits (`git rev-parse --short HEAD`).
pub fn readback_matches(printed: &str, commit: ObjectId) -> bool {
    let printed = printed.trim().to_ascii_lowercase();
    let full = commit.to_string();
    printed == full
        || (printed.len() >= 7
            && printed.len() <= full.len()
            && printed.bytes().all(|b| b.is_ascii_hexdigit())
            && full.starts_with(&printed))
}

fn exit_text(o: &CmdOutput) -> String {
    let code = match o.code {
        Some(c) => format!("exited {c}"),
        None => "killed by a signal".into(),
    };
    let said = if o.stderr.trim().is_empty() {
        o.stdout.trim()
    } else {
        o.stderr.trim()
    };
    if said.is_empty() {
        code
    } else {
        format!("{code}: {}", first_line(said))
    }
}

fn shell_error_text(e: &ShellError) -> String {
    match e {
        ShellError::Unreachable(m) => m.clone(),
        ShellError::Timeout(m) => format!("timed out ({m})"),
        ShellError::Other(m) => m.clone(),
    }
}

/// The file names git lists (indented) after "would be overwritten".
fn merge_paths(stderr: &str) -> String {
    let names: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with('\t') || l.starts_with("    "))
        .map(str::trim)
        .take(3)
        .collect();
    if names.is_empty() {
        first_line(stderr).to_string()
    } else {
        names.join(", ")
    }
}

/// A change to a tracked file, from `git status --porcelain=v2 -z`.
#[derive(Debug, PartialEq, Eq)]
struct Change {
    path: String,
    staged: bool,
    unstaged: bool,
    conflicted: bool,
}

fn parse_status(out: &str) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut records = out.split('\0');
    while let Some(rec) = records.next() {
        let (fields, conflicted) = match rec.as_bytes().first() {
            Some(b'1') => (9, false),
            Some(b'2') => (10, false),
            Some(b'u') => (11, true),
            _ => continue,
        };
        let parts: Vec<&str> = rec.splitn(fields, ' ').collect();
        let xy = parts.get(1).copied().unwrap_or("..").as_bytes();
        let path = parts.last().copied().unwrap_or("").to_string();
        if rec.starts_with('2') {
            records.next(); // the original path of a rename or copy
        }
        changes.push(Change {
            path,
            staged: !conflicted && xy.first().is_some_and(|c| *c != b'.'),
            unstaged: !conflicted && xy.get(1).is_some_and(|c| *c != b'.'),
            conflicted,
        });
    }
    changes
}

/// Above this many new paths the in-the-way pre-check is skipped (git's own
/// refusal still protects the files).
const MAX_IN_THE_WAY_PATHS: usize = 2000;

/// Paths that exist in `to`'s tree but not in `from`'s: files (false) and the
/// new directories leading to them (true), parents first.
fn added_paths(
    repo: &gix::Repository,
    from: ObjectId,
    to: ObjectId,
) -> std::result::Result<Vec<(String, bool)>, String> {
    let tree_of = |c: ObjectId| -> std::result::Result<ObjectId, String> {
        let commit = repo.find_commit(c).map_err(|e| e.to_string())?;
        commit
            .tree_id()
            .map(|t| t.detach())
            .map_err(|e| e.to_string())
    };
    let mut out = Vec::new();
    walk_added(repo, Some(tree_of(from)?), tree_of(to)?, "", &mut out)?;
    Ok(out)
}

fn walk_added(
    repo: &gix::Repository,
    old: Option<ObjectId>,
    new: ObjectId,
    prefix: &str,
    out: &mut Vec<(String, bool)>,
) -> std::result::Result<(), String> {
    if old == Some(new) || out.len() > MAX_IN_THE_WAY_PATHS {
        return Ok(());
    }
    let hash = repo.object_hash();
    let read = |id: ObjectId| -> std::result::Result<Vec<(String, ObjectId, bool)>, String> {
        let obj = repo.find_object(id).map_err(|e| e.to_string())?;
        gix::objs::TreeRefIter::from_bytes(&obj.data, hash)
            .map(|e| {
                e.map(|e| (e.filename.to_string(), e.oid.to_owned(), e.mode.is_tree()))
                    .map_err(|e| e.to_string())
            })
            .collect()
    };
    let old_entries = match old {
        Some(id) => read(id)?,
        None => Vec::new(),
    };
    for (name, id, is_tree) in read(new)? {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        match old_entries.iter().find(|(n, _, _)| *n == name) {
            Some((_, old_id, true)) if is_tree => walk_added(repo, Some(*old_id), id, &path, out)?,
            Some(_) => {} // present before (a change of a tracked path)
            None if is_tree => {
                out.push((path.clone(), true));
                walk_added(repo, None, id, &path, out)?;
            }
            None => out.push((path, false)),
        }
    }
    Ok(())
}

/// The first 12 hex digits.
pub fn short(id: ObjectId) -> String {
    id.to_string()[..12].to_string()
}

fn first_line(s: &str) -> &str {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
}

/// Text made safe for one trailer line: no line breaks, bounded length.
pub fn one_line(s: &str) -> String {
    let flat: String = s
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    if flat.chars().count() > 240 {
        let cut: String = flat.chars().take(237).collect();
        format!("{cut}...")
    } else {
        flat
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_records() {
        let out = [
            "1 M. N... 100644 100644 100644 a a x.txt",
            "1 .M N... 100644 100644 100644 a a dir/y z",
            "2 R. N... 100644 100644 100644 a a R100 new",
            "old",
            "u UU N... 1 2 3 4 a b c conf",
            "",
        ]
        .join("\0");
        let out = out.as_str();
        let c = parse_status(out);
        assert_eq!(c.len(), 4);
        assert_eq!(
            (c[0].path.as_str(), c[0].staged, c[0].unstaged),
            ("x.txt", true, false)
        );
        assert_eq!(
            (c[1].path.as_str(), c[1].staged, c[1].unstaged),
            ("dir/y z", false, true)
        );
        assert_eq!(c[2].path, "new");
        assert!(c[3].conflicted);
        assert!(parse_status("").is_empty());
    }

    #[test]
    fn readback_accepts_full_or_long_enough_prefixes() {
        let c = ObjectId::from_hex(b"0123456789abcdef0123456789abcdef01234567").unwrap();
        assert!(readback_matches(
            "0123456789abcdef0123456789abcdef01234567\n",
            c
        ));
        assert!(readback_matches("0123456", c));
        assert!(!readback_matches("012345", c));
        assert!(!readback_matches("1123456", c));
        assert!(!readback_matches("", c));
    }

    #[test]
    fn outcomes_round_trip() {
        for b in Blocker::ALL {
            assert_eq!(Outcome::parse(b.as_str()), Some(Outcome::Blocked(b)));
        }
        assert_eq!(Outcome::parse("current"), Some(Outcome::Current));
        assert_eq!(one_line("a\nb\t c"), "a b c");
    }
}
