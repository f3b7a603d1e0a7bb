//! The worker pool: peers delivered in parallel (bounded by `jobs`), after
//! each peer's fanout lock is taken.

use super::deliver::{deliver, lock_key};
use super::hosts::{Hosts, PeerCtx};
use super::report::{Connector, Event, Owed, PeerReport, Request};
use crate::error::{FanoutError, Result};
use crate::peers::lock::PeerLock;
use crate::store::Store;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Take every peer's fanout lock (none for a dry run). A peer whose lock
/// another fanout holds, or a second name for one checkout, gets the reason
/// it is not touched in `busy`.
pub(super) fn take_locks(
    store: &Store,
    req: &Request,
) -> Result<(Vec<PeerLock>, Vec<Option<String>>)> {
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
            match crate::peers::lock::PeerLock::try_take(&locks_dir, &key) {
                Ok(lock) => held.push(lock),
                Err(crate::peers::lock::NotTaken::Busy(pid)) => {
                    busy[i] = Some(format!(
                        "another fanout{} is delivering to this peer right now; nothing was touched (run fanout again when it is done)",
                        pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
                    ))
                }
                Err(crate::peers::lock::NotTaken::Io(path, source)) => {
                    return Err(FanoutError::Lock { path, source }.into());
                }
            }
        }
    }
    Ok((held, busy))
}

/// Deliver to every peer on `req.jobs` workers; the reports in peer order.
pub(super) fn deliver_all(
    store: &Store,
    req: &Request,
    connector: &Connector,
    progress: &(dyn Fn(Event) + Sync),
    prior: &BTreeMap<String, Owed>,
    busy: &[Option<String>],
) -> Result<Vec<PeerReport>> {
    let hosts = Hosts::new(&req.peers);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<PeerReport>>> = Mutex::new(vec![None; req.peers.len()]);
    let jobs = req.jobs.clamp(1, req.peers.len().max(1));
    // gix repositories are not Send here: each worker opens its own.
    let git_dir = store.git_dir().to_path_buf();
    let open_error: Mutex<Option<FanoutError>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let (hosts, next, results, git_dir, open_error) =
                (&hosts, &next, &results, &git_dir, &open_error);
            scope.spawn(move || {
                let repo = match gix::open(git_dir) {
                    Ok(repo) => repo,
                    Err(e) => {
                        if let Ok(mut slot) = open_error.lock() {
                            *slot = Some(FanoutError::Open {
                                git_dir: git_dir.to_path_buf(),
                                source: Box::new(e),
                            });
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
        return Err(e.into());
    }
    let peers = results
        .into_inner()
        .map_err(|_| FanoutError::WorkerPanicked)?
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or(FanoutError::WorkerStopped)?;
    Ok(peers)
}
