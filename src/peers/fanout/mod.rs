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

mod checks;
mod deliver;
mod hosts;
mod pool;
pub mod report;
mod run;
mod runtime;
mod status;
pub mod text;

pub use report::*;
pub use runtime::readback_matches;
pub use text::{one_line, quoted, redact, short};

use self::pool::{deliver_all, take_locks};
use crate::error::{Error, FanoutError, Result};
use crate::store::Store;
use std::sync::Arc;
use std::time::Instant;

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
    let (held, busy) = take_locks(store, req)?;
    // What each peer still owes from earlier runs on this commit. Read before
    // anything moves: a record that cannot be read stops the run here.
    let prior = crate::peers::record::owed_by_peer(store, req.commit).map_err(|e| {
        FanoutError::ReadRecords {
            commit: short(req.commit),
            notes_ref: NOTES_REF,
            source: Box::new(e),
        }
    })?;
    // Write-ahead: the run is on record before any peer can move; a record
    // that cannot be written (read-only .git, full disk) stops it here.
    let run = if req.dry_run {
        None
    } else {
        Some(
            crate::peers::record::begin(store, req).map_err(|e| FanoutError::Record {
                notes_ref: NOTES_REF,
                source: Box::new(e),
            })?,
        )
    };
    let peers = deliver_all(store, req, connector, progress, &prior, &busy)?;
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

#[cfg(test)]
mod tests;
