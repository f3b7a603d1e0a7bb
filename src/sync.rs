//! `sync`: fetch another clone's fleet records into a private namespace, merge
//! them with ours (losing nothing), and push the result back with a lease.
//!
//! Merge rules per ref kind, when both sides moved:
//! - notes (`refs/notes/fleet/*`): per annotated object, the union of blocks;
//!   a merge commit keeps both histories. The receipt log gets a signed merge
//!   receipt so `receipts verify` checks both sides' chains.
//! - proposals: by id; every transition of both sides kept, in time order; a
//!   proposal that ended `applied` on one side and `rejected`/`ignored` on the
//!   other is reported as a conflict (the later transition stands, never silently).
//! - runs: the union of run files; live snapshots and halt: the newer tip's
//!   state (reported), both recorded as parents.

use crate::error::{Error, Result};
use crate::gitcmd::git;
use crate::proposals::{merge_transitions, Proposal, State};
use crate::store::{RefUpdate, Store};
use gix::object::tree::EntryKind;
use gix::ObjectId;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

const MAX_ROUNDS: usize = 5;

#[derive(Debug, Default, Serialize)]
pub struct SyncReport {
    pub remote: String,
    pub fetched: usize,
    pub fast_forwarded: Vec<String>,
    pub merged: Vec<String>,
    pub pushed: Vec<String>,
    pub conflicts: Vec<String>,
    pub notes: Vec<String>,
    pub rounds: usize,
}

fn private_prefix(remote: &str) -> String {
    format!("refs/fleet-remote/{remote}/")
}

/// Local ref -> its private copy of the remote's value.
fn private_name(remote: &str, local: &str) -> String {
    format!(
        "{}{}",
        private_prefix(remote),
        local.trim_start_matches("refs/")
    )
}

pub fn sync(store: &Store, remote: &str) -> Result<SyncReport> {
    let dir = store.git_dir().to_path_buf();
    let mut report = SyncReport {
        remote: remote.to_string(),
        ..SyncReport::default()
    };
    for round in 1..=MAX_ROUNDS {
        report.rounds = round;
        let fetch = git(
            &dir,
            &[
                "fetch",
                "--quiet",
                "--no-tags",
                "--prune",
                remote,
                &format!("+refs/fleet/*:{}fleet/*", private_prefix(remote)),
                &format!(
                    "+refs/notes/fleet/*:{}notes/fleet/*",
                    private_prefix(remote)
                ),
            ],
        )?;
        if !fetch.success {
            return Err(Error::Other(format!(
                "git fetch {remote} failed: {}",
                fetch.stderr.trim()
            )));
        }
        // Names on either side.
        let mut names: BTreeSet<String> = BTreeSet::new();
        for prefix in ["refs/fleet/", "refs/notes/fleet/"] {
            names.extend(store.refs_under(prefix)?);
        }
        let remote_refs = store.refs_under(&private_prefix(remote))?;
        report.fetched = remote_refs.len();
        for r in &remote_refs {
            names.insert(format!("refs/{}", &r[private_prefix(remote).len()..]));
        }
        let mut push: Vec<(String, ObjectId, Option<ObjectId>)> = Vec::new();
        for name in &names {
            let theirs = store.resolve(&private_name(remote, name))?;
            let merged = merge_one(store, name, theirs, &mut report)?;
            if let Some(ours) = merged {
                if Some(ours) != theirs {
                    push.push((name.clone(), ours, theirs));
                }
            }
        }
        if push.is_empty() {
            return Ok(report);
        }
        // Push with a lease on every ref: a remote that moved since the fetch
        // refuses, and the next round merges its new state.
        let mut args: Vec<String> = vec!["push".into(), "--porcelain".into(), "--atomic".into()];
        for (name, _, theirs) in &push {
            args.push(format!(
                "--force-with-lease={name}:{}",
                theirs.map(|t| t.to_string()).unwrap_or_default()
            ));
        }
        args.push(remote.into());
        for (name, ours, _) in &push {
            args.push(format!("+{ours}:{name}"));
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let pushed = git(&dir, &refs)?;
        if pushed.success {
            report.pushed = push.iter().map(|(n, _, _)| n.clone()).collect();
            // Our private copy now matches what the remote holds.
            for (name, ours, theirs) in &push {
                let _ = store.commit_updates(
                    &[RefUpdate {
                        name: private_name(remote, name),
                        old: *theirs,
                        new: *ours,
                    }],
                    "git-fleet: sync pushed",
                );
            }
            return Ok(report);
        }
        // A hook that declines (the server's policy) is an answer, not a race.
        let declined = pushed.stdout.contains("remote rejected");
        let stale = !declined
            && (pushed.stdout.contains("stale info")
                || pushed.stderr.contains("stale info")
                || pushed.stdout.contains("rejected"));
        if !stale {
            return Err(Error::Other(format!(
                "git push {remote} failed: {}{}",
                pushed.stdout.trim(),
                pushed.stderr.trim()
            )));
        }
        report.notes.push(format!(
            "round {round}: the remote moved during sync; merging again"
        ));
    }
    Err(Error::Other(format!(
        "sync with {remote}: the remote kept moving; gave up after {MAX_ROUNDS} rounds (nothing lost: run it again)"
    )))
}

/// Merge the remote value `theirs` into local ref `name`; returns the local
/// value afterwards (None when neither side has it).
fn merge_one(
    store: &Store,
    name: &str,
    theirs: Option<ObjectId>,
    report: &mut SyncReport,
) -> Result<Option<ObjectId>> {
    let log = format!("git-fleet: sync {name}");
    let mut outcome = Outcome::Same;
    let result = store.update_ref(name, &log, |ours| {
        let Some(theirs) = theirs else {
            outcome = Outcome::Same;
            return Ok(None); // only ours: push it
        };
        let Some(ours) = ours else {
            outcome = Outcome::FastForward;
            return Ok(Some((theirs, theirs)));
        };
        if ours == theirs || store.is_ancestor(theirs, ours)? {
            outcome = Outcome::Same;
            return Ok(None);
        }
        if store.is_ancestor(ours, theirs)? {
            outcome = Outcome::FastForward;
            return Ok(Some((theirs, theirs)));
        }
        let merged = merge_diverged(store, name, ours, theirs, report)?;
        outcome = Outcome::Merged;
        Ok(Some((merged, merged)))
    })?;
    match outcome {
        Outcome::FastForward => report.fast_forwarded.push(name.to_string()),
        Outcome::Merged => report.merged.push(name.to_string()),
        Outcome::Same => {}
    }
    match result {
        Some(v) => Ok(Some(v)),
        None => store.resolve(name),
    }
}

enum Outcome {
    Same,
    FastForward,
    Merged,
}

fn merge_diverged(
    store: &Store,
    name: &str,
    ours: ObjectId,
    theirs: ObjectId,
    report: &mut SyncReport,
) -> Result<ObjectId> {
    if name == crate::receipts::RECEIPTS_REF {
        let tree = union_notes(store, ours, theirs)?;
        return crate::receipts::merge_commit(store, ours, theirs, tree);
    }
    let message = |what: &str| {
        format!("sync: merge {name}\n\nFleet-Merge: {what}\nFleet-Ours: {ours}\nFleet-Theirs: {theirs}\n")
    };
    if name.starts_with("refs/notes/fleet/") {
        let tree = union_notes(store, ours, theirs)?;
        return store.new_commit_with_parents(
            &message("union of note blocks"),
            tree,
            &[ours, theirs],
        );
    }
    if name.starts_with(crate::proposals::PROPOSALS_PREFIX) {
        let tree = union_proposals(store, name, ours, theirs, report)?;
        return store.new_commit_with_parents(
            &message("proposals by id, all transitions kept"),
            tree,
            &[ours, theirs],
        );
    }
    if name.starts_with(crate::runs::RUNS_PREFIX) {
        let tree = union_files(store, store.commit_tree(ours)?, store.commit_tree(theirs)?)?;
        return store.new_commit_with_parents(
            &message("union of run records"),
            tree,
            &[ours, theirs],
        );
    }
    // Live snapshots and halt: one state wins, the newer; both stay in history.
    let (o, _) = store.chain_entry(ours)?;
    let (t, _) = store.chain_entry(theirs)?;
    let (winner, which) = if t.time > o.time {
        (theirs, "theirs")
    } else {
        (ours, "ours")
    };
    report.notes.push(format!(
        "{name}: both sides recorded new states; kept the newer ({which}, {})",
        &winner.to_string()[..12]
    ));
    store.new_commit_with_parents(
        &message(&format!("newer state kept ({which})")),
        store.commit_tree(winner)?,
        &[ours, theirs],
    )
}

/// Notes of both commits: per object, our blocks then their blocks we lack.
/// Subtrees both sides share (the same tree id) are skipped, so the cost
/// follows what changed, not the number of notes.
fn union_notes(store: &Store, ours: ObjectId, theirs: ObjectId) -> Result<ObjectId> {
    let (ours_tree, theirs_tree) = (store.commit_tree(ours)?, store.commit_tree(theirs)?);
    let mut editor = store
        .repo()
        .edit_tree(ours_tree)
        .map_err(|e| Error::Other(format!("cannot edit notes tree: {e}")))?;
    let mut merge_note = |ours: ObjectId, theirs: ObjectId| -> Result<Option<ObjectId>> {
        let local = String::from_utf8_lossy(&store.read_blob(ours)?).into_owned();
        let other = String::from_utf8_lossy(&store.read_blob(theirs)?).into_owned();
        Ok(Some(
            store.write_blob(union_blocks(&local, &other).as_bytes())?,
        ))
    };
    if union_trees(
        store,
        &mut editor,
        ours_tree,
        theirs_tree,
        "",
        &mut merge_note,
    )? {
        return Ok(editor
            .write()
            .map_err(|e| Error::Other(format!("cannot write notes tree: {e}")))?
            .detach());
    }
    union_notes_by_object(store, ours, theirs)
}

/// Structural union of two notes trees laid out alike; false when the layouts
/// differ somewhere (then the caller merges object by object).
fn union_trees(
    store: &Store,
    editor: &mut gix::object::tree::Editor<'_>,
    ours: ObjectId,
    theirs: ObjectId,
    prefix: &str,
    merge: &mut dyn FnMut(ObjectId, ObjectId) -> Result<Option<ObjectId>>,
) -> Result<bool> {
    if ours == theirs {
        return Ok(true);
    }
    let mine: BTreeMap<String, crate::store::TreeItem> = store
        .list_tree(ours)?
        .into_iter()
        .map(|i| (i.name.clone(), i))
        .collect();
    for item in store.list_tree(theirs)? {
        let path = format!("{prefix}{}", item.name);
        match mine.get(&item.name) {
            None => {
                let kind = if item.is_tree {
                    EntryKind::Tree
                } else {
                    EntryKind::Blob
                };
                editor
                    .upsert(path.as_str(), kind, item.id)
                    .map_err(|e| Error::Other(format!("cannot edit notes tree: {e}")))?;
            }
            Some(m) if m.id == item.id => {}
            Some(m) if m.is_tree && item.is_tree => {
                if !union_trees(store, editor, m.id, item.id, &format!("{path}/"), merge)? {
                    return Ok(false);
                }
            }
            Some(m) if !m.is_tree && !item.is_tree => {
                if let Some(blob) = merge(m.id, item.id)? {
                    editor
                        .upsert(path.as_str(), EntryKind::Blob, blob)
                        .map_err(|e| Error::Other(format!("cannot edit tree: {e}")))?;
                }
            }
            Some(_) => return Ok(false), // a note here, a fanout directory there
        }
    }
    Ok(true)
}

/// Our blocks, then theirs that we lack.
fn union_blocks(local: &str, other: &str) -> String {
    let have: Vec<&str> = crate::store::notes::blocks(local);
    let mut out = local.trim_end_matches('\n').to_string();
    for b in crate::store::notes::blocks(other) {
        if !have.contains(&b) {
            out.push_str("\n\n");
            out.push_str(b);
        }
    }
    out.push('\n');
    out
}

/// Object by object, whatever fanout each side used.
fn union_notes_by_object(store: &Store, ours: ObjectId, theirs: ObjectId) -> Result<ObjectId> {
    let mine: BTreeMap<ObjectId, String> = store.notes_at(ours)?.into_iter().collect();
    let mut editor = store
        .repo()
        .edit_tree(store.commit_tree(ours)?)
        .map_err(|e| Error::Other(format!("cannot edit notes tree: {e}")))?;
    for (object, text) in store.notes_at(theirs)? {
        let merged = match mine.get(&object) {
            Some(local) if local == &text => continue,
            Some(local) => {
                let have: Vec<&str> = crate::store::notes::blocks(local);
                let mut out = local.trim_end_matches('\n').to_string();
                let mut changed = false;
                for b in crate::store::notes::blocks(&text) {
                    if !have.contains(&b) {
                        out.push_str("\n\n");
                        out.push_str(b);
                        changed = true;
                    }
                }
                if !changed {
                    continue;
                }
                out.push('\n');
                out
            }
            None => text,
        };
        let hex = object.to_string();
        let path = format!("{}/{}/{}", &hex[..2], &hex[2..4], &hex[4..]);
        // Drop another layout's copy so git sees one note per object.
        for other in [format!("{}/{}", &hex[..2], &hex[2..]), hex.clone()] {
            let _ = editor.remove(other.as_str());
        }
        let blob = store.write_blob(merged.as_bytes())?;
        editor
            .upsert(path.as_str(), EntryKind::Blob, blob)
            .map_err(|e| Error::Other(format!("cannot edit notes tree: {e}")))?;
    }
    Ok(editor
        .write()
        .map_err(|e| Error::Other(format!("cannot write notes tree: {e}")))?
        .detach())
}

/// Every file of `theirs` missing from `ours` is added (run records are unique files).
fn union_files(store: &Store, ours: ObjectId, theirs: ObjectId) -> Result<ObjectId> {
    let mut editor = store
        .repo()
        .edit_tree(ours)
        .map_err(|e| Error::Other(format!("cannot edit tree: {e}")))?;
    union_trees(store, &mut editor, ours, theirs, "", &mut |_, _| Ok(None))?;
    Ok(editor
        .write()
        .map_err(|e| Error::Other(format!("cannot write tree: {e}")))?
        .detach())
}

/// Proposals by id (`<id[0..2]>/<id>`), transitions of both sides; a
/// proposal applied on one side and rejected/ignored on the other is reported.
fn union_proposals(
    store: &Store,
    name: &str,
    ours: ObjectId,
    theirs: ObjectId,
    report: &mut SyncReport,
) -> Result<ObjectId> {
    let ours_tree = store.commit_tree(ours)?;
    let mut editor = store
        .repo()
        .edit_tree(ours_tree)
        .map_err(|e| Error::Other(format!("cannot edit tree: {e}")))?;
    let read = |id: ObjectId| -> Result<Proposal> {
        serde_json::from_slice(&store.read_blob(id)?)
            .map_err(|e| Error::Other(format!("a stored proposal is unreadable: {e}")))
    };
    let mut merge = |mine: ObjectId, other: ObjectId| -> Result<Option<ObjectId>> {
        let (local, p) = (read(mine)?, read(other)?);
        if local == p {
            return Ok(None);
        }
        let ended = |x: &Proposal| {
            x.transitions
                .iter()
                .rev()
                .find(|t| matches!(t.state, State::Applied | State::Rejected | State::Ignored))
                .map(|t| t.state)
        };
        if let (Some(a), Some(b)) = (ended(&local), ended(&p)) {
            if a != b && (a == State::Applied || b == State::Applied) {
                report.conflicts.push(format!(
                    "{name}: proposal {} ({}) was {a} on one side and {b} on the other",
                    &local.id[..12],
                    local.resource()
                ));
            }
        }
        let merged = merge_transitions(&local, &p);
        let json = serde_json::to_vec_pretty(&merged)
            .map_err(|e| Error::Other(format!("cannot encode proposal: {e}")))?;
        Ok(Some(store.write_blob(&json)?))
    };
    union_trees(
        store,
        &mut editor,
        ours_tree,
        store.commit_tree(theirs)?,
        "",
        &mut merge,
    )?;
    Ok(editor
        .write()
        .map_err(|e| Error::Other(format!("cannot write tree: {e}")))?
        .detach())
}
