//! What a fanout is asked and what it says: outcomes, blockers, runtime
//! steps and what each peer still owes.
use crate::peers::config::{Peer, PeerSsh};
use crate::peers::shell::{PeerShell, ShellError, SshOptions};
use gix::ObjectId;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

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
    pub(super) fn new(status: StepStatus) -> Step {
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
    pub(super) fn for_peer(peer: &Peer) -> Runtime {
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
    /// (None for a dry run); [`crate::peers::record::append`] completes it.
    pub run: Option<String>,
    /// The per-peer fanout locks of this run: released when the last copy
    /// of the report is dropped, after the caller recorded it.
    pub locks: Arc<Vec<crate::peers::lock::PeerLock>>,
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

/// The SSH transport of `crate::peers::ssh`: one session per host (libssh2) or a
/// multiplexed system `ssh` (openssh).
pub fn ssh_connector(
    peer: &PeerSsh,
    opts: &SshOptions,
) -> std::result::Result<Box<dyn PeerShell>, ShellError> {
    crate::peers::ssh::connect(peer, opts)
}
