//! Deliver one commit to every peer checkout that can take it as a fast-forward,
//! and say exactly why each other peer did not move.
//!
//! Per peer (in parallel, bounded): one fanout at a time (a per-peer lock,
//! else `busy`) -> reachable -> exists -> is a repository -> no operation in
//! progress and no `index.lock` (`busy`) -> on the expected branch -> no
//! staged or unstaged changes to tracked files -> peer HEAD is an ancestor of
//! the commit -> the tip of the peer's branch on the peer's own remote
//! (`git ls-remote`, read-only) is the commit or a descendant of it (else
//! `not-on-remote`, or `wrong-branch` for a peer that follows another branch)
//! -> no skip-worktree/assume-unchanged file with local edits that the move
//! changes -> fetch -> `git merge --ff-only <tip>` -> read back HEAD (host
//! proof) -> reload, health, readback (runtime proof).
//!
//! Runtime steps are owed until they pass: a move owes every declared step;
//! a later run of a peer that is already current runs the steps its last
//! record still owes (see [`Owed`]), so a failed reload is retried.
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
//! Fetching: every peer, local or SSH, runs `git fetch <remote> <branch>`
//! itself, from its own remote, so a peer only ever receives what that remote
//! has on that branch (never objects from this repository).
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
    /// The peer's remote branch does not hold the commit (never pushed).
    NotOnRemote,
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
    pub const ALL: [Blocker; 15] = [
        Blocker::Dirty,
        Blocker::Diverged,
        Blocker::Ahead,
        Blocker::WrongBranch,
        Blocker::Detached,
        Blocker::Missing,
        Blocker::NotARepo,
        Blocker::NotOnRemote,
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
            Blocker::NotOnRemote => "not-on-remote",
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

/// Runtime steps still owed by a peer for a commit: set by a move (every
/// declared step), cleared step by step as each one passes. Recorded as
/// `Fleet-Owed: <peer> reload health readback` (or `none`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Owed {
    pub reload: bool,
    pub health: bool,
    pub readback: bool,
}

impl Owed {
    /// Every step the peer declares.
    pub fn declared(peer: &Peer) -> Owed {
        Owed {
            reload: peer.reload.is_some(),
            health: peer.health.is_some(),
            readback: peer.readback.is_some(),
        }
    }

    pub fn all() -> Owed {
        Owed {
            reload: true,
            health: true,
            readback: true,
        }
    }

    pub fn is_empty(self) -> bool {
        !(self.reload || self.health || self.readback)
    }

    /// Only the steps both owe.
    pub fn and(self, other: Owed) -> Owed {
        Owed {
            reload: self.reload && other.reload,
            health: self.health && other.health,
            readback: self.readback && other.readback,
        }
    }

    /// The owed step names, in order.
    pub fn names(self) -> Vec<&'static str> {
        [
            (self.reload, "reload"),
            (self.health, "health"),
            (self.readback, "readback"),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| n)
        .collect()
    }

    /// `reload health` or `none`.
    pub fn as_text(self) -> String {
        if self.is_empty() {
            "none".into()
        } else {
            self.names().join(" ")
        }
    }

    pub fn parse(text: &str) -> Owed {
        let mut owed = Owed::default();
        for word in text.split_whitespace() {
            match word {
                "reload" => owed.reload = true,
                "health" => owed.health = true,
                "readback" => owed.readback = true,
                _ => {}
            }
        }
        owed
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
    /// Runtime steps still owed after this run (see [`Owed`]).
    pub owed: Owed,
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
    /// The run id of the pending record written before any peer moved
    /// (None for a dry run); [`super::record::append`] completes it.
    pub run: Option<String>,
    /// The per-peer fanout locks of this run: released when the last copy
    /// of the report is dropped, after the caller recorded it.
    pub locks: Arc<Vec<super::lock::PeerLock>>,
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
    // One fanout per peer at a time: every peer's lock is taken first and
    // held until the caller has recorded this run (the locks live in the
    // report), so the next fanout of a peer reads this run's record.
    let mut held = Vec::new();
    let mut busy: Vec<Option<String>> = vec![None; req.peers.len()];
    if !req.dry_run {
        let locks_dir = store.repo().common_dir().join("fleet").join("locks");
        let mut seen: BTreeMap<String, &str> = BTreeMap::new();
        for (i, peer) in req.peers.iter().enumerate() {
            let key = lock_key(peer);
            if let Some(first) = seen.get(&key) {
                // Two names for one checkout: delivered once, through the first.
                busy[i] = Some(format!(
                    "the same checkout as peer {first}, which this fanout delivers to; nothing was touched twice"
                ));
                continue;
            }
            seen.insert(key.clone(), &peer.name);
            match super::lock::PeerLock::try_take(&locks_dir, &key) {
                Ok(lock) => held.push(lock),
                Err(super::lock::NotTaken::Busy(pid)) => {
                    busy[i] = Some(format!(
                        "another fanout{} is delivering to this peer right now; nothing was touched (run fanout again when it is done)",
                        pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
                    ))
                }
                Err(super::lock::NotTaken::Io(path, source)) => {
                    return Err(Error::Other(format!(
                        "cannot take the fanout lock {} ({source}); nothing was delivered",
                        path.display()
                    )))
                }
            }
        }
    }
    // What each peer still owes from earlier runs on this commit. Read before
    // anything moves: a record that cannot be read stops the run here.
    let prior = super::record::owed_by_peer(store, req.commit).map_err(|e| {
        Error::Other(format!(
            "cannot read the fanout records of {} in {NOTES_REF} ({e}); nothing was delivered",
            short(req.commit)
        ))
    })?;
    // Write-ahead: the run is on record before any peer can move; a record
    // that cannot be written (read-only .git, full disk) stops it here.
    let run = if req.dry_run {
        None
    } else {
        Some(super::record::begin(store, req).map_err(|e| {
            Error::Other(format!(
                "cannot record the fanout in {NOTES_REF} ({e}); nothing was delivered"
            ))
        })?)
    };
    let hosts = Hosts::new(&req.peers);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<PeerReport>>> = Mutex::new(vec![None; req.peers.len()]);
    let jobs = req.jobs.clamp(1, req.peers.len().max(1));
    // gix repositories are not Send here: each worker opens its own.
    let git_dir = store.git_dir().to_path_buf();
    let open_error: Mutex<Option<String>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let (hosts, next, results, git_dir, open_error, prior, busy) = (
                &hosts,
                &next,
                &results,
                &git_dir,
                &open_error,
                &prior,
                &busy,
            );
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
                    let owed = prior.get(&peer.name).copied().unwrap_or_default();
                    let ctx = PeerCtx {
                        hosts,
                        connector,
                        busy: busy[index].clone(),
                        owed,
                    };
                    let report = deliver(&repo, req, peer, &ctx, &stage);
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
        run,
        locks: Arc::new(held),
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

/// What [`deliver`] needs besides the peer: shells, whether another fanout
/// holds the peer, and the steps owed from earlier runs.
struct PeerCtx<'a> {
    hosts: &'a Hosts,
    connector: &'a Connector,
    /// Another fanout holds this peer's lock: why it is not touched.
    busy: Option<String>,
    owed: Owed,
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
    /// Steps owed from earlier runs (a move this run owes all of them).
    owed_before: Owed,
    /// The peer's HEAD was moved by this run.
    moved: std::cell::Cell<bool>,
    /// The runtime steps ran (so their statuses say what is still owed).
    runtime_ran: std::cell::Cell<bool>,
    /// The tip of the peer's branch on its remote, once asked.
    tip: std::cell::OnceCell<Option<ObjectId>>,
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
    ctx: &PeerCtx<'_>,
    stage: &dyn Fn(Stage),
) -> PeerReport {
    let (hosts, connector) = (ctx.hosts, ctx.connector);
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
        owed: ctx.owed.and(Owed::declared(peer)),
        elapsed: Duration::ZERO,
    };
    if let Some(why) = &ctx.busy {
        report.outcome = Outcome::Blocked(Blocker::Busy);
        report.reason = why.clone();
        return report;
    }
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
        owed_before: ctx.owed.and(Owed::declared(peer)),
        moved: std::cell::Cell::new(false),
        runtime_ran: std::cell::Cell::new(false),
        tip: std::cell::OnceCell::new(),
    };
    let Stop(outcome, reason) = match run.deliver(&mut report, stage) {
        Ok(stop) | Err(stop) => stop,
    };
    report.owed = run.owed_after(&report.runtime);
    report.before = report.before.or(run.head_seen.get());
    report.outcome = outcome;
    report.reason = one_line(&reason);
    report.elapsed = start.elapsed();
    report
}

/// The key of a peer's fanout lock: its location, as precisely as known.
fn lock_key(peer: &Peer) -> String {
    match &peer.location {
        Location::Local(p) => {
            let p = p.canonicalize().unwrap_or_else(|_| p.clone());
            format!("local {}", p.display())
        }
        Location::Ssh(s) => format!("ssh {} {}", s.authority(), s.path),
    }
}

/// A value for a shell command line in a hint, quoted so pasting it runs
/// nothing but the command shown.
pub fn quoted(s: &str) -> String {
    shlex::try_quote(s)
        .map(|q| q.into_owned())
        .unwrap_or_else(|_| format!("{s:?}"))
}

/// `scheme://user:password@host` with the password replaced by `***`, in
/// every URL of `s`: reasons and records never repeat a password.
pub fn redact(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| "/?#'\"`<>".contains(c) || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rsplit_once('@') {
            Some((userinfo, host)) if userinfo.contains(':') => {
                let user = userinfo.split(':').next().unwrap_or("");
                out.push_str(&format!("{user}:***@{host}"));
            }
            _ => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
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
        let target = match self.ancestry(probe.head)? {
            Ancestry::Equal => {
                self.runtime(report, probe.head, false, stage)?;
                let again = if self.owed_before.reload && !self.req.dry_run {
                    "; the owed reload ran again"
                } else {
                    ""
                };
                return Ok(Stop(
                    Outcome::Current,
                    format!("already at {short_c} on {}{again}", self.branch),
                ));
            }
            Ancestry::Ahead => {
                // At its remote branch's tip, which holds the commit: the
                // commit is delivered; nothing to push, nothing to move.
                if matches!(self.remote_tip(), Ok(Some(tip)) if tip == probe.head) {
                    self.runtime(report, probe.head, false, stage)?;
                    return Ok(Stop(
                        Outcome::Current,
                        format!(
                            "at {} on {}, the tip of {}/{}, which contains {short_c}",
                            short(probe.head),
                            self.branch,
                            self.peer.remote,
                            self.branch
                        ),
                    ));
                }
                return Err(blocked(
                    Blocker::Ahead,
                    format!(
                        "HEAD {} has commits after {short_c}; push them or deliver a newer commit",
                        short(probe.head)
                    ),
                ));
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
            Ancestry::Behind => self.target()?,
        };
        let short_t = short(target);
        let via = if target == commit {
            String::new()
        } else {
            format!(
                " (the tip of {}/{}, which contains {short_c})",
                self.peer.remote, self.branch
            )
        };
        self.check_nothing_in_the_way(probe.head, target)?;
        self.check_hidden_edits(probe.head, target)?;
        if self.req.dry_run {
            return Ok(Stop(
                Outcome::WouldFastForward,
                format!(
                    "would fast-forward {}..{short_t} on {}{via}",
                    short(probe.head),
                    self.branch
                ),
            ));
        }
        stage(Stage::Fetching);
        self.fetch(target)?;
        stage(Stage::Merging);
        let merged = self.merge(probe.head, target);
        // Read back whatever happened: the host proof, or proof nothing moved.
        let (head, on_branch) = self.read_head()?;
        report.after = Some(head);
        if head != probe.head {
            self.moved.set(true);
        }
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
        if head != target || !on_branch {
            let why = if on_branch {
                format!("HEAD read back as {} after the fast-forward, not {short_t} (the peer moved meanwhile)", short(head))
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
        self.runtime(report, target, true, stage)?;
        Ok(Stop(
            Outcome::FastForwarded,
            format!(
                "{}..{short_t} on {}, HEAD read back{via}",
                short(probe.head),
                self.branch
            ),
        ))
    }

    /// The tip of the peer's branch as the peer's own remote has it (`git
    /// ls-remote`, which writes nothing), asked once. None: no such branch.
    fn remote_tip(&self) -> std::result::Result<Option<ObjectId>, Stop> {
        if let Some(tip) = self.tip.get() {
            return Ok(*tip);
        }
        let want = format!("refs/heads/{}", self.branch);
        let out = self.git(&["ls-remote", "--", &self.peer.remote, &want])?;
        if !out.success() {
            return Err(blocked(
                Blocker::FetchFailed,
                format!(
                    "git ls-remote {} {want} failed: {}",
                    quoted(&self.peer.remote),
                    first_line(out.stderr.trim())
                ),
            ));
        }
        let tip = out
            .stdout
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .find(|(_, name)| name.trim() == want)
            .and_then(|(id, _)| ObjectId::from_hex(id.trim().as_bytes()).ok());
        let _ = self.tip.set(tip);
        Ok(tip)
    }

    /// Where a peer behind the commit moves: its remote branch's tip, when
    /// that is the commit or a descendant of it. Writes nothing to the peer
    /// unless this repository lacks the tip (then objects only, no ref).
    fn target(&self) -> std::result::Result<ObjectId, Stop> {
        let commit = self.req.commit;
        let tip = self.remote_tip()?.ok_or_else(|| {
            blocked(
                Blocker::NotOnRemote,
                format!(
                    "{} has no branch {}, so {} is not there to deliver (push it first)",
                    self.peer.remote,
                    self.branch,
                    short(commit)
                ),
            )
        })?;
        if tip == commit {
            return Ok(tip);
        }
        if self.repo.has_object(tip) {
            return match self.repo.merge_base(commit, tip) {
                Ok(Some(base)) if base.detach() == commit => Ok(tip),
                _ => Err(self.not_on_branch(tip)),
            };
        }
        if self.req.dry_run {
            return Ok(tip); // a real run checks it in the peer
        }
        // Only the peer can tell: objects only (no FETCH_HEAD, no ref).
        let out = self.git(&[
            "-c",
            "maintenance.auto=false",
            "-c",
            "gc.auto=0",
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-write-fetch-head",
            "--refmap=",
            "--",
            &self.peer.remote,
            &format!("refs/heads/{}", self.branch),
        ])?;
        if !out.success() {
            return Err(self.fetch_failed(&out));
        }
        let out = self.git(&[
            "merge-base",
            "--is-ancestor",
            &commit.to_string(),
            &tip.to_string(),
        ])?;
        if out.success() {
            Ok(tip)
        } else {
            Err(self.not_on_branch(tip))
        }
    }

    /// The remote branch does not hold the commit: another branch's commit
    /// (`wrong-branch`), or one never pushed (`not-on-remote`).
    fn not_on_branch(&self, tip: ObjectId) -> Stop {
        let c = short(self.req.commit);
        // A detached delivery ("HEAD") names no branch to compare with.
        if self.branch != self.req.branch && self.req.branch != "HEAD" {
            blocked(
                Blocker::WrongBranch,
                format!(
                    "{c} is not on {}/{} (at {}): the peer follows {}, and {c} was delivered from {}",
                    self.peer.remote,
                    self.branch,
                    short(tip),
                    self.branch,
                    self.req.branch
                ),
            )
        } else {
            blocked(
                Blocker::NotOnRemote,
                format!(
                    "{}/{} is at {}, which does not contain {c} (push it first)",
                    self.peer.remote,
                    self.branch,
                    short(tip)
                ),
            )
        }
    }

    fn fetch_failed(&self, out: &CmdOutput) -> Stop {
        blocked(
            Blocker::FetchFailed,
            format!(
                "git fetch {} {} failed: {}",
                quoted(&self.peer.remote),
                self.branch,
                first_line(out.stderr.trim())
            ),
        )
    }

    /// What is owed after this run: what the steps left unpassed when they
    /// ran; everything declared after a move; else what was owed before.
    fn owed_after(&self, rt: &Runtime) -> Owed {
        let declared = Owed::declared(self.peer);
        let before = if self.moved.get() {
            declared
        } else {
            self.owed_before
        };
        if !self.runtime_ran.get() {
            return before;
        }
        let open = |s: &Step| s.status != StepStatus::Ok;
        Owed {
            reload: before.reload && open(&rt.reload),
            health: declared.health && open(&rt.health),
            readback: declared.readback && open(&rt.readback),
        }
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
        // A bare repository has no work tree to deliver to.
        if let Ok(o) = self.shell.run(
            &self.dir,
            &["git", "rev-parse", "--is-bare-repository"],
            self.timeout(),
        ) {
            if o.success() && o.stdout.trim() == "true" {
                return blocked(
                    Blocker::NotARepo,
                    format!(
                        "{} is a bare repository: it has no work tree to deliver to (a peer is a checkout)",
                        self.dir
                    ),
                );
            }
        }
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
                if first_line(err).is_empty() {
                    format!(
                        "{} is not a checkout git can read (git rev-parse printed {} lines, no error)",
                        self.dir,
                        lines.len()
                    )
                } else {
                    format!("cannot read the repository: {}", first_line(err))
                },
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
    fn check_nothing_in_the_way(
        &self,
        head: ObjectId,
        target: ObjectId,
    ) -> std::result::Result<(), Stop> {
        let Ok(added) = added_paths(self.repo, head, self.known(target)) else {
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
        let names = first_three(&in_the_way);
        Err(blocked(
            Blocker::Dirty,
            format!(
                "untracked or ignored files are where {} adds files (left untouched): {}",
                short(target),
                names.join(", ")
            ),
        ))
    }

    /// `target` when this repository has it, else the delivered commit (the
    /// part of the move this repository can see).
    fn known(&self, target: ObjectId) -> ObjectId {
        if self.repo.has_object(target) {
            target
        } else {
            self.req.commit
        }
    }

    /// A file marked skip-worktree or assume-unchanged hides its local edits
    /// from `git status`, but `git merge --ff-only` refuses to overwrite it
    /// (after writing ORIG_HEAD). Found here first, before any write: such a
    /// file with local edits that the move changes blocks the peer (`dirty`).
    fn check_hidden_edits(
        &self,
        head: ObjectId,
        target: ObjectId,
    ) -> std::result::Result<(), Stop> {
        let Ok(changed) = changed_paths(self.repo, head, self.known(target)) else {
            return Ok(()); // git merge --ff-only still refuses what it must
        };
        if changed.is_empty() {
            return Ok(());
        }
        let hidden = match self.local_repo().and_then(local::hidden_entries) {
            Some(all) => {
                let changed: HashSet<&str> = changed.iter().map(String::as_str).collect();
                all.into_iter()
                    .filter(|(p, _)| changed.contains(p.as_str()))
                    .collect()
            }
            None => self.hidden_via_git(&changed)?,
        };
        if hidden.is_empty() {
            return Ok(());
        }
        let paths: Vec<&str> = hidden.iter().map(|(p, _)| p.as_str()).collect();
        let present = self.existing(&paths)?;
        let present: Vec<&(String, ObjectId)> = hidden
            .iter()
            .zip(present)
            .filter(|(_, there)| *there)
            .map(|(h, _)| h)
            .collect();
        if present.is_empty() {
            return Ok(()); // not in the work tree: nothing local to lose
        }
        let mut argv = vec!["hash-object", "--"];
        argv.extend(present.iter().map(|(p, _)| p.as_str()));
        let out = self.git(&argv)?;
        let ids: Vec<Option<ObjectId>> = out
            .stdout
            .lines()
            .map(|l| ObjectId::from_hex(l.trim().as_bytes()).ok())
            .collect();
        let edited: Vec<&str> = present
            .iter()
            .enumerate()
            .filter(|(i, (_, id))| !out.success() || ids.get(*i).copied().flatten() != Some(*id))
            .map(|(_, (p, _))| p.as_str())
            .collect();
        if edited.is_empty() {
            return Ok(());
        }
        let names = first_three(&edited);
        Err(blocked(
            Blocker::Dirty,
            format!(
                "{} file{} marked skip-worktree or assume-unchanged {} local edits that {} changes (left untouched; `git update-index --no-skip-worktree --no-assume-unchanged` shows them): {}",
                edited.len(),
                if edited.len() == 1 { "" } else { "s" },
                if edited.len() == 1 { "has" } else { "have" },
                short(target),
                names.join(", ")
            ),
        ))
    }

    /// Index entries among `paths` marked skip-worktree or assume-unchanged,
    /// with their blob ids, as git lists them (`ls-files -v -s`).
    fn hidden_via_git(
        &self,
        paths: &[String],
    ) -> std::result::Result<Vec<(String, ObjectId)>, Stop> {
        let mut argv = vec!["--literal-pathspecs", "ls-files", "-v", "-s", "-z", "--"];
        argv.extend(paths.iter().map(String::as_str));
        let out = self.git(&argv)?;
        if !out.success() {
            return Ok(Vec::new()); // git merge --ff-only still refuses
        }
        Ok(out
            .stdout
            .split('\0')
            .filter_map(|rec| {
                let (meta, path) = rec.split_once('\t')?;
                let mut f = meta.split(' ');
                let tag = f.next()?;
                let hidden = tag == "S" || tag.chars().all(|c| c.is_ascii_lowercase());
                let id = ObjectId::from_hex(f.nth(1)?.as_bytes()).ok()?;
                hidden.then(|| (path.to_string(), id))
            })
            .collect())
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

    /// `git fetch <remote> <branch>` in the peer, from its own remote (as
    /// `git pull` would, updating its remote-tracking branch), then make sure
    /// the target arrived.
    fn fetch(&self, target: ObjectId) -> std::result::Result<(), Stop> {
        let out = self.git(&[
            "-c",
            "maintenance.auto=false",
            "-c",
            "gc.auto=0",
            "fetch",
            "--quiet",
            "--no-tags",
            "--",
            &self.peer.remote,
            &self.branch,
        ])?;
        if !out.success() {
            return Err(self.fetch_failed(&out));
        }
        let spec = format!("{target}^{{commit}}");
        let out = self.git(&["cat-file", "-e", &spec])?;
        if !out.success() {
            return Err(blocked(
                Blocker::FetchFailed,
                format!(
                    "{}/{} no longer has {} (it was rewound during fanout)",
                    self.peer.remote,
                    self.branch,
                    short(target)
                ),
            ));
        }
        Ok(())
    }

    /// `git merge --ff-only T`, with autostash forced off (a peer's
    /// `merge.autoStash` must never stash anything) and no auto-gc.
    fn merge(&self, before: ObjectId, target: ObjectId) -> std::result::Result<(), Stop> {
        let hex = target.to_string();
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
    /// The reload runs after a move, and again on every later run while it
    /// is owed (it failed, or never ran); health and readback run each time.
    /// The readback must print `expected`, the commit the peer is at.
    fn runtime(
        &self,
        report: &mut PeerReport,
        expected: ObjectId,
        moved: bool,
        stage: &dyn Fn(Stage),
    ) -> std::result::Result<(), Stop> {
        if self.req.dry_run {
            return Ok(());
        }
        self.runtime_ran.set(true);
        let commit = expected;
        if let Some(script) = &self.peer.reload {
            if moved || self.owed_before.reload {
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
                report.runtime.reload.detail =
                    Some("already current and nothing owed; not reloaded".into());
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
    redact(&exit_text_raw(o))
}

fn exit_text_raw(o: &CmdOutput) -> String {
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
    redact(&match e {
        ShellError::Unreachable(m) => m.clone(),
        ShellError::Timeout(m) => format!("timed out ({m})"),
        ShellError::Other(m) => m.clone(),
    })
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

/// Paths of files (and symlinks, submodules) that differ between `from`'s
/// and `to`'s trees: changed, added or removed.
fn changed_paths(
    repo: &gix::Repository,
    from: ObjectId,
    to: ObjectId,
) -> std::result::Result<Vec<String>, String> {
    let tree_of = |c: ObjectId| -> std::result::Result<ObjectId, String> {
        let commit = repo.find_commit(c).map_err(|e| e.to_string())?;
        commit
            .tree_id()
            .map(|t| t.detach())
            .map_err(|e| e.to_string())
    };
    let mut out = Vec::new();
    walk_changed(repo, Some(tree_of(from)?), Some(tree_of(to)?), "", &mut out)?;
    Ok(out)
}

type TreeEntries = Vec<(String, ObjectId, bool)>;

fn walk_changed(
    repo: &gix::Repository,
    old: Option<ObjectId>,
    new: Option<ObjectId>,
    prefix: &str,
    out: &mut Vec<String>,
) -> std::result::Result<(), String> {
    if old == new || out.len() > MAX_IN_THE_WAY_PATHS {
        return Ok(());
    }
    let hash = repo.object_hash();
    let read = |id: Option<ObjectId>| -> std::result::Result<TreeEntries, String> {
        let Some(id) = id else {
            return Ok(Vec::new());
        };
        let obj = repo.find_object(id).map_err(|e| e.to_string())?;
        gix::objs::TreeRefIter::from_bytes(&obj.data, hash)
            .map(|e| {
                e.map(|e| (e.filename.to_string(), e.oid.to_owned(), e.mode.is_tree()))
                    .map_err(|e| e.to_string())
            })
            .collect()
    };
    let (a, b) = (read(old)?, read(new)?);
    let mut names: Vec<&String> = a.iter().chain(&b).map(|(n, _, _)| n).collect();
    names.sort();
    names.dedup();
    for name in names {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        let find = |v: &TreeEntries| {
            v.iter()
                .find(|(n, _, _)| n == name)
                .map(|(_, id, t)| (*id, *t))
        };
        let (x, y) = (find(&a), find(&b));
        if x == y {
            continue;
        }
        let tree = |e: Option<(ObjectId, bool)>| e.filter(|(_, t)| *t).map(|(id, _)| id);
        let (xt, yt) = (tree(x), tree(y));
        if xt.is_some() || yt.is_some() {
            walk_changed(repo, xt, yt, &path, out)?;
        }
        let file = |e: Option<(ObjectId, bool)>| e.filter(|(_, t)| !*t);
        if file(x) != file(y) {
            out.push(path);
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
    let flat: String = redact(s)
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

/// The first three paths of a list, then "..." when there are more.
fn first_three<'a>(paths: &[&'a str]) -> Vec<&'a str> {
    let mut names: Vec<&str> = paths.iter().take(3).copied().collect();
    if paths.len() > 3 {
        names.push("...");
    }
    names
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
