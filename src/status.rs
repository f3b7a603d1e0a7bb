//! `git fleet status` as data: is automation halted, what waits per target
//! (proposals by state, conflicting decisions, the last run), and the last
//! fanout with what it still owes. Read only; the command presents it.

use crate::config::Config;
use crate::error::Result;
use crate::halt::{self, HaltState};
use crate::live;
use crate::peers::config::Peer;
use crate::peers::fanout::NOTES_REF;
use crate::peers::proof::prove;
use crate::peers::record::parse_note;
use crate::proposals::{Book, State};
use crate::runs::{self, Run};
use crate::store::Store;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub halt: HaltState,
    pub targets: Vec<TargetStatus>,
    /// The most recent fanout run recorded here, if any.
    pub fanout: Option<FanoutStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetStatus {
    pub target: String,
    pub pending_review: usize,
    /// Approved and not yet applied.
    pub approved: usize,
    pub failed: usize,
    /// Ids of proposals with two review decisions neither side saw.
    pub conflicts: Vec<String>,
    pub last_run: Option<Run>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FanoutStatus {
    /// The commit the last fanout delivered.
    pub commit: String,
    pub run: String,
    pub time: String,
    pub actor: String,
    /// Declared peers, and how many of them are done for `commit`.
    pub peers: usize,
    pub delivered: usize,
    /// Every peer delivered, runtime proved, and the remote has the commit.
    pub complete: bool,
    /// What is still owed, one line each (from `git fleet proof`).
    pub owed: Vec<String>,
}

impl Status {
    /// Something to look at: halted, a conflict, or a fanout not complete.
    pub fn needs_attention(&self) -> bool {
        self.halt.halted
            || self.targets.iter().any(|t| !t.conflicts.is_empty())
            || self.fanout.as_ref().is_some_and(|f| !f.complete)
    }
}

/// Gather the status of the repository in `store`. `peers` are the declared
/// peers; `remote` is the remote a delivered commit must be on.
pub fn status(
    store: &Store,
    config: &Config,
    peers: &[Peer],
    remote: Option<&str>,
) -> Result<Status> {
    let mut targets = Vec::new();
    for target in live::known_targets(store, config)? {
        targets.push(target_status(store, &target)?);
    }
    Ok(Status {
        halt: halt::state(store)?,
        targets,
        fanout: last_fanout(store, peers, remote)?,
    })
}

fn target_status(store: &Store, target: &str) -> Result<TargetStatus> {
    let mut t = TargetStatus {
        target: target.to_string(),
        pending_review: 0,
        approved: 0,
        failed: 0,
        conflicts: Vec::new(),
        last_run: runs::list(store, target)?.into_iter().next(),
    };
    for p in Book::open(store, target)?.all(store)? {
        match p.state() {
            State::PendingReview => t.pending_review += 1,
            State::Approved => t.approved += 1,
            State::Failed => t.failed += 1,
            State::Conflict => t.conflicts.push(p.id.clone()),
            State::Applied | State::Rejected | State::Ignored | State::Superseded => {}
        }
    }
    Ok(t)
}

/// The newest fanout record in any note (run times are ISO 8601 UTC, so
/// they sort as text), and the closeout of its commit.
fn last_fanout(
    store: &Store,
    peers: &[Peer],
    remote: Option<&str>,
) -> Result<Option<FanoutStatus>> {
    let Some(tip) = store.resolve(NOTES_REF)? else {
        return Ok(None);
    };
    let latest = store
        .notes_at(tip)?
        .into_iter()
        .flat_map(|(_, text)| parse_note(&text))
        .max_by(|a, b| a.time.cmp(&b.time));
    let Some(record) = latest else {
        return Ok(None);
    };
    let Ok(commit) = gix::ObjectId::from_hex(record.commit.as_bytes()) else {
        return Ok(None);
    };
    let exists = store.repo().find_object(commit).is_ok();
    let proof = prove(store, commit, exists, remote, peers)?;
    Ok(Some(FanoutStatus {
        commit: record.commit,
        run: record.run,
        time: record.time,
        actor: record.actor,
        peers: proof.peers.iter().filter(|p| p.configured).count(),
        delivered: proof.peers.iter().filter(|p| p.configured && p.ok).count(),
        complete: proof.complete,
        owed: proof.missing,
    }))
}
