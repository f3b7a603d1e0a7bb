//! `sync`: fetch another clone's fleet records into a private namespace, merge
//! them with ours (losing nothing), and push the result back, fast-forwards only.
//!
//! Merge rules per ref kind, when both sides moved:
//! - notes (`refs/notes/fleet/*`): per annotated object, the union of blocks;
//!   a merge commit keeps both histories. The receipt log gets a signed merge
//!   receipt so `receipts verify` checks both sides' chains.
//! - proposals: by id; every transition of both sides kept; two different
//!   review decisions neither side saw make the proposal `conflict` (reported).
//! - live snapshots: per resource, three-way against the merge base; a
//!   resource changed differently on both sides is a conflict (reported,
//!   named by `Fleet-Conflict` in the merge commit, auto-apply held).
//! - runs: the union of run files; halt: the newer tip's state (reported),
//!   both recorded as parents.

use crate::error::{Result, StoreError, SyncError};
use crate::fleet::{Fleet, Kind};
use crate::gitcmd::git;
use crate::proposals::{merge_transitions, resource_json, set_resource, Proposal, State};
use crate::store::{RefUpdate, Store};
use gix::object::tree::EntryKind;
use gix::ObjectId;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Rounds of fetch-merge-push before giving up when other clones keep
/// pushing between our fetch and our push (each round merges their news).
const MAX_ROUNDS: usize = 30;

#[derive(Debug, Default, Serialize)]
pub struct SyncReport {
    pub remote: String,
    pub fetched: usize,
    pub fast_forwarded: Vec<String>,
    pub merged: Vec<String>,
    pub pushed: Vec<String>,
    pub conflicts: Vec<String>,
    /// Remote refs moved back to an ancestor of what an earlier sync
    /// fetched (or deleted): neither merged nor pushed over.
    pub rewound: Vec<Rewind>,
    pub notes: Vec<String>,
    pub rounds: usize,
}

/// A remote fleet ref that went back in history.
#[derive(Debug, Clone, Serialize)]
pub struct Rewind {
    #[serde(rename = "ref")]
    pub name: String,
    /// What an earlier sync fetched from the remote.
    pub seen: String,
    /// What the remote holds now (None: deleted).
    pub remote: Option<String>,
}

/// A push the remote itself refused (a hook, access control): final, never
/// retried. `lines` are the `!` porcelain lines, `messages` the `remote:` ones.
struct Refused {
    remote: String,
    lines: Vec<String>,
    messages: Vec<String>,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the remote {} refused the push (not retried):",
            self.remote
        )?;
        for l in self.lines.iter().chain(&self.messages) {
            write!(f, "\n  {l}")?;
        }
        Ok(())
    }
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
    // Run git where the user would: a remote URL relative to the work tree
    // resolves as it does for `git fetch` (the git dir in a bare repository).
    let dir = store.work_dir().unwrap_or(store.git_dir()).to_path_buf();
    let prefix = private_prefix(remote);
    let mut report = SyncReport {
        remote: remote.to_string(),
        ..SyncReport::default()
    };
    for round in 1..=MAX_ROUNDS {
        report.rounds = round;
        // What earlier syncs fetched, to catch a remote that moved back.
        let mut seen: BTreeMap<String, ObjectId> = BTreeMap::new();
        for r in store.refs_under(&prefix)? {
            if let Some(v) = store.resolve(&r)? {
                seen.insert(r, v);
            }
        }
        fetch(&dir, remote, &prefix)?;
        let skip = keep_rewound(store, &prefix, &seen, &mut report)?;
        let push = merge_all(store, remote, &prefix, &skip, &mut report)?;
        if push.is_empty() || push_merged(store, &dir, remote, &push, &mut report)? {
            return Ok(report);
        }
        report.notes.push(format!(
            "round {round}: the remote moved during sync; merging again"
        ));
        pause(round);
    }
    Err(SyncError::KeptMoving {
        remote: remote.to_string(),
        rounds: MAX_ROUNDS,
    }
    .into())
}

/// A ref to push: its name, the merged value, and the remote's value.
type Push = (String, ObjectId, Option<ObjectId>);

/// Fetch the remote's records into this remote's private refs.
fn fetch(dir: &std::path::Path, remote: &str, prefix: &str) -> Result<()> {
    let fetch = git(
        dir,
        &[
            "fetch",
            "--quiet",
            "--no-tags",
            "--prune",
            remote,
            &format!("+refs/fleet/*:{prefix}fleet/*"),
            &format!("+refs/notes/fleet/*:{prefix}notes/fleet/*"),
        ],
    )?;
    if !fetch.success {
        return Err(SyncError::Fetch {
            remote: remote.to_string(),
            stderr: fetch.stderr.trim().to_string(),
        }
        .into());
    }
    Ok(())
}

/// Remote refs that moved back (or vanished) since an earlier sync saw
/// them: their private copy keeps what was seen, they are reported, and
/// their names are returned so this round neither merges nor pushes them.
fn keep_rewound(
    store: &Store,
    prefix: &str,
    seen: &BTreeMap<String, ObjectId>,
    report: &mut SyncReport,
) -> Result<BTreeSet<String>> {
    let mut skip: BTreeSet<String> = BTreeSet::new();
    report.rewound.clear();
    for (private, old) in seen {
        let now = store.resolve(private)?;
        let back = match now {
            None => true,
            Some(now) => now != *old && store.is_ancestor(now, *old)?,
        };
        if !back {
            continue;
        }
        let name = format!("refs/{}", &private[prefix.len()..]);
        // Keep what we saw, so the next sync refuses again rather than
        // taking the shorter history as the remote's word.
        store.commit_updates(
            &[RefUpdate {
                name: private.clone(),
                old: now,
                new: *old,
            }],
            "git-fleet: sync keeps the value a rewound remote ref had",
        )?;
        report.rewound.push(Rewind {
            name: name.clone(),
            seen: old.to_string(),
            remote: now.map(|n| n.to_string()),
        });
        skip.insert(name);
    }
    Ok(skip)
}

/// Merge every record ref on either side (but `skip`); the ones whose
/// merged value the remote does not have yet.
fn merge_all(
    store: &Store,
    remote: &str,
    prefix: &str,
    skip: &BTreeSet<String>,
    report: &mut SyncReport,
) -> Result<Vec<Push>> {
    // Names on either side.
    let mut names: BTreeSet<String> = BTreeSet::new();
    for p in ["refs/fleet/", "refs/notes/fleet/"] {
        names.extend(store.refs_under(p)?);
    }
    let remote_refs = store.refs_under(prefix)?;
    report.fetched = remote_refs.len();
    for r in &remote_refs {
        names.insert(format!("refs/{}", &r[prefix.len()..]));
    }
    let mut push: Vec<Push> = Vec::new();
    for name in names.difference(skip) {
        let theirs = store.resolve(&private_name(remote, name))?;
        let merged = merge_one(store, name, theirs, report)?;
        if let Some(ours) = merged {
            if Some(ours) != theirs {
                push.push((name.clone(), ours, theirs));
            }
        }
    }
    Ok(push)
}

/// Push the merged values, atomically. Ok(true): pushed; Ok(false): the
/// remote moved since the fetch (another round merges its new state).
fn push_merged(
    store: &Store,
    dir: &std::path::Path,
    remote: &str,
    push: &[Push],
    report: &mut SyncReport,
) -> Result<bool> {
    // Only fast-forwards: every value pushed descends from what was
    // fetched (a merge has it as a parent), so no `+` and no force. A
    // remote that moved since the fetch rejects it, and the next round
    // fetches and merges its new state.
    let mut args: Vec<String> = vec![
        "push".into(),
        "--porcelain".into(),
        "--atomic".into(),
        remote.into(),
    ];
    for (name, ours, _) in push {
        args.push(format!("{ours}:{name}"));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let pushed = git(dir, &refs)?;
    if pushed.success {
        report.pushed = push.iter().map(|(n, _, _)| n.clone()).collect();
        // Our private copy now matches what the remote holds.
        for (name, ours, theirs) in push {
            let _ = store.commit_updates(
                &[RefUpdate {
                    name: private_name(remote, name),
                    old: *theirs,
                    new: *ours,
                }],
                "git-fleet: sync pushed",
            );
        }
        return Ok(true);
    }
    match push_failure(&pushed.stdout, &pushed.stderr) {
        PushFailure::Moved => Ok(false),
        PushFailure::Refused { lines, messages } => {
            let refused = Refused {
                remote: remote.to_string(),
                lines,
                messages,
            };
            Err(SyncError::Refused(refused.to_string()).into())
        }
        PushFailure::Other => Err(SyncError::Push {
            remote: remote.to_string(),
            output: format!("{}{}", pushed.stdout.trim(), pushed.stderr.trim()),
        }
        .into()),
    }
}

enum PushFailure {
    /// Another clone pushed first (non-fast-forward, or lost a ref lock on
    /// the server): fetch, merge and push again.
    Moved,
    /// The remote's hooks or access control said no: final.
    Refused {
        lines: Vec<String>,
        messages: Vec<String>,
    },
    Other,
}

/// Read `git push --porcelain` output: `!\t<src>:<dst>\t[rejected] (fetch first)`
/// is a race; `[remote rejected] (<why>)` is a refusal unless `<why>` is the
/// server losing a ref-lock race or the atomic transaction another ref broke.
fn push_failure(stdout: &str, stderr: &str) -> PushFailure {
    let failed: Vec<&str> = stdout.lines().filter(|l| l.starts_with('!')).collect();
    let race = |l: &str| {
        let why = l.rsplit('\t').next().unwrap_or(l);
        why.contains("[rejected]")
            || why.contains("stale info")
            || why.contains("atomic")
            || why.contains("cannot lock ref")
            || why.contains("failed to update ref")
            || why.contains("incorrect old value")
    };
    let refused: Vec<String> = failed
        .iter()
        .filter(|l| l.contains("[remote rejected]") && !race(l))
        .map(|l| l.trim_start_matches('!').trim().replace('\t', " "))
        .collect();
    if !refused.is_empty() {
        let messages = stderr
            .lines()
            .filter(|l| l.starts_with("remote:"))
            .map(|l| l.trim_end().to_string())
            .collect();
        return PushFailure::Refused {
            lines: refused,
            messages,
        };
    }
    if !failed.is_empty() && failed.iter().all(|l| race(l)) {
        return PushFailure::Moved;
    }
    PushFailure::Other
}

/// A short, growing, jittered wait between rounds, so clones racing for the
/// same refs stop colliding in lockstep.
fn pause(round: usize) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0)
        ^ (std::process::id() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let cap = 20 * (round.min(10) as u64);
    std::thread::sleep(std::time::Duration::from_millis(nanos % (cap + 1)));
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
            outcome = Outcome::FastForwardFrom(ours);
            return Ok(Some((theirs, theirs)));
        }
        let merged = merge_diverged(store, name, ours, theirs, report)?;
        outcome = Outcome::Merged;
        Ok(Some((merged, merged)))
    })?;
    match outcome {
        Outcome::FastForward => report.fast_forwarded.push(name.to_string()),
        Outcome::FastForwardFrom(old) => {
            report.fast_forwarded.push(name.to_string());
            if let Some(theirs) = theirs {
                arrived_conflicts(store, name, old, theirs, report)?;
            }
        }
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
    /// Fast-forwarded from this local value.
    FastForwardFrom(ObjectId),
    Merged,
}

/// Conflicts another clone's merge brought in by fast-forward (`old` ->
/// `new`): every clone that receives one reports it once, not only the one
/// whose sync found it.
fn arrived_conflicts(
    store: &Store,
    name: &str,
    old: ObjectId,
    new: ObjectId,
    report: &mut SyncReport,
) -> Result<()> {
    if name.starts_with(crate::live::LIVE_PREFIX) {
        let now = conflicts_at(store, new)?;
        if !now.is_empty() && conflicts_at(store, old)?.is_empty() {
            report.conflicts.push(format!(
                "{name}: {} changed differently in two clones (merged elsewhere); auto-apply is held until a new snapshot or apply",
                now.join(", ")
            ));
        }
        return Ok(());
    }
    if !name.starts_with(crate::proposals::PROPOSALS_PREFIX) {
        return Ok(());
    }
    // Only what changed is read: equal subtrees and blobs are skipped by id.
    let files = |tree: ObjectId| -> Result<BTreeMap<String, ObjectId>> {
        Ok(store
            .list_tree(tree)?
            .into_iter()
            .map(|i| (i.name, i.id))
            .collect())
    };
    let read = |id: ObjectId| -> Result<Proposal> {
        serde_json::from_slice(&store.read_blob(id)?)
            .map_err(|e| StoreError::decode("a stored proposal is unreadable", e).into())
    };
    let before = files(store.commit_tree(old)?)?;
    for (dir, tree) in files(store.commit_tree(new)?)? {
        let was = match before.get(&dir) {
            Some(t) if *t == tree => continue,
            Some(t) => files(*t)?,
            None => BTreeMap::new(),
        };
        for (file, blob) in files(tree)? {
            let prior = was.get(&file);
            if prior == Some(&blob) {
                continue;
            }
            let p = read(blob)?;
            if p.state() != State::Conflict {
                continue;
            }
            if let Some(prior) = prior {
                if read(*prior)?.state() == State::Conflict {
                    continue;
                }
            }
            report.conflicts.push(format!(
                "{name}: proposal {} ({}) has review decisions neither side saw: {}",
                &p.id[..p.id.len().min(12)],
                p.resource(),
                p.conflicting_decisions().join("; ")
            ));
        }
    }
    Ok(())
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
    if name.starts_with(crate::live::LIVE_PREFIX) {
        return merge_live(store, name, ours, theirs, report);
    }
    // The halt switch, decided causally: neither side saw the other's state.
    // The same state on both sides merges quietly; a halt and a resume that
    // crossed are a conflict, and the halt stands (a resume that never saw the
    // halt must not cancel it) until someone who has seen both decides again.
    let halted = |tip: ObjectId| -> Result<bool> {
        Ok(store
            .read_path(tip, "state")?
            .is_some_and(|s| s.starts_with(b"halted")))
    };
    let (ours_halted, theirs_halted) = (halted(ours)?, halted(theirs)?);
    let (kept, what) = if ours_halted == theirs_halted {
        (ours, "the same state on both sides")
    } else {
        let kept = if ours_halted { ours } else { theirs };
        report.conflicts.push(format!(
            "{name}: a halt and a resume neither side saw; kept halted ({}): run `git fleet resume` or `git fleet halt` to decide",
            &kept.to_string()[..12]
        ));
        (kept, "a halt and a resume crossed; halted kept")
    };
    store.new_commit_with_parents(&message(what), store.commit_tree(kept)?, &[ours, theirs])
}

/// The trailer a live merge commit names each conflicting resource with; the
/// tick holds auto-apply of the target while its live tip carries one.
pub const CONFLICT_TRAILER: &str = "Fleet-Conflict";

/// Resources the live tip of `target` records as a sync conflict (changed
/// differently in two clones): empty once a snapshot or an apply descending
/// from the conflicted state is recorded.
pub fn live_conflicts(store: &Store, target: &str) -> Result<Vec<String>> {
    let Some(tip) = store.resolve(&crate::live::live_ref(target))? else {
        return Ok(Vec::new());
    };
    conflicts_at(store, tip)
}

fn conflicts_at(store: &Store, commit: ObjectId) -> Result<Vec<String>> {
    let (entry, _) = store.chain_entry(commit)?;
    let prefix = format!("{CONFLICT_TRAILER}: ");
    Ok(entry
        .message
        .lines()
        .filter_map(|l| l.strip_prefix(prefix.as_str()))
        .map(|r| r.trim().to_string())
        .collect())
}

fn names_of(fleet: &Fleet, kind: Kind) -> Vec<String> {
    match kind {
        Kind::Templates => fleet.templates.keys().cloned().collect(),
        Kind::Modules => fleet.modules.keys().cloned().collect(),
        Kind::Assignments => fleet.assignments.keys().cloned().collect(),
        Kind::ProviderConfigs => fleet.provider_configs.keys().cloned().collect(),
    }
}

/// Two live snapshots that grew apart, merged per resource against their
/// merge base, as git merges files: a resource changed on one side only takes
/// that side's value; changed the same way on both, that value; changed
/// differently on both, a conflict: our value stays in the tree, theirs in
/// history (the second parent), and the commit names it with
/// `Fleet-Conflict`, which holds auto-apply until a later record resolves it.
fn merge_live(
    store: &Store,
    name: &str,
    ours: ObjectId,
    theirs: ObjectId,
    report: &mut SyncReport,
) -> Result<ObjectId> {
    let target = &name[crate::live::LIVE_PREFIX.len()..];
    let base = store
        .repo()
        .merge_base(ours, theirs)
        .ok()
        .flatten()
        .map(|b| b.detach());
    let base_fleet = match base {
        Some(b) => crate::live::read_at(store, b)?,
        None => Fleet::default(),
    };
    let our_fleet = crate::live::read_at(store, ours)?;
    let their_fleet = crate::live::read_at(store, theirs)?;
    let mut merged = our_fleet.clone();
    let mut conflicts = Vec::new();
    for kind in Kind::ALL {
        let mut names: BTreeSet<String> = BTreeSet::new();
        for f in [&base_fleet, &our_fleet, &their_fleet] {
            names.extend(names_of(f, kind));
        }
        for n in names {
            let b = resource_json(&base_fleet, kind, &n);
            let o = resource_json(&our_fleet, kind, &n);
            let t = resource_json(&their_fleet, kind, &n);
            if o == t || t == b {
                continue;
            }
            if o == b {
                set_resource(&mut merged, kind, &n, t.as_ref())?;
                continue;
            }
            conflicts.push(format!("{kind}/{n}"));
        }
    }
    // A tip that is itself an unresolved conflict stays one.
    let mut held = conflicts.clone();
    for tip in [ours, theirs] {
        held.extend(conflicts_at(store, tip)?);
    }
    held.sort();
    held.dedup();
    let short = |c: ObjectId| c.to_string()[..12].to_string();
    let base_text = base.map_or("none".to_string(), |b| b.to_string());
    let mut message = format!(
        "sync: merge {name}\n\nFleet-Target: {target}\nFleet-Merge: per resource against the merge base\nFleet-Base: {base_text}\nFleet-Ours: {ours}\nFleet-Theirs: {theirs}\n"
    );
    for c in &held {
        message.push_str(&format!("{CONFLICT_TRAILER}: {c}\n"));
    }
    if !conflicts.is_empty() {
        report.conflicts.push(format!(
            "{name}: {} changed differently on both sides since {}: ours ({}) kept in the tree, theirs ({}) in history; auto-apply of {target} is held until a new snapshot or apply",
            conflicts.join(", "),
            base.map_or("the start".to_string(), short),
            short(ours),
            short(theirs)
        ));
    } else if !held.is_empty() {
        report.notes.push(format!(
            "{name}: still a conflict ({}); auto-apply of {target} is held until a new snapshot or apply",
            held.join(", ")
        ));
    }
    let yaml = serde_saphyr::to_string(&merged)
        .map_err(|e| StoreError::encode("cannot render snapshot YAML", e))?;
    let json = serde_json::to_vec(&merged)
        .map_err(|e| StoreError::encode("cannot render snapshot JSON", e))?;
    let mut editor = store
        .repo()
        .edit_tree(ObjectId::empty_tree(store.repo().object_hash()))
        .map_err(|e| StoreError::repo("cannot build snapshot tree", e))?;
    for (path, bytes) in [
        (crate::live::YAML_PATH, yaml.into_bytes()),
        (crate::live::JSON_PATH, json),
    ] {
        let blob = store.write_blob(&bytes)?;
        editor
            .upsert(path, EntryKind::Blob, blob)
            .map_err(|e| StoreError::repo("cannot build snapshot tree", e))?;
    }
    let tree = editor
        .write()
        .map_err(|e| StoreError::repo("cannot write snapshot tree", e))?
        .detach();
    store.new_commit_with_parents(&message, tree, &[ours, theirs])
}

/// Notes of both commits: per object, our blocks then their blocks we lack.
/// Subtrees both sides share (the same tree id) are skipped, so the cost
/// follows what changed, not the number of notes.
fn union_notes(store: &Store, ours: ObjectId, theirs: ObjectId) -> Result<ObjectId> {
    let (ours_tree, theirs_tree) = (store.commit_tree(ours)?, store.commit_tree(theirs)?);
    let mut editor = store
        .repo()
        .edit_tree(ours_tree)
        .map_err(|e| StoreError::repo("cannot edit notes tree", e))?;
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
            .map_err(|e| StoreError::repo("cannot write notes tree", e))?
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
                    .map_err(|e| StoreError::repo("cannot edit notes tree", e))?;
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
                        .map_err(|e| StoreError::repo("cannot edit tree", e))?;
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
        .map_err(|e| StoreError::repo("cannot edit notes tree", e))?;
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
            .map_err(|e| StoreError::repo("cannot edit notes tree", e))?;
    }
    Ok(editor
        .write()
        .map_err(|e| StoreError::repo("cannot write notes tree", e))?
        .detach())
}

/// Every file of `theirs` missing from `ours` is added (run records are unique files).
fn union_files(store: &Store, ours: ObjectId, theirs: ObjectId) -> Result<ObjectId> {
    let mut editor = store
        .repo()
        .edit_tree(ours)
        .map_err(|e| StoreError::repo("cannot edit tree", e))?;
    union_trees(store, &mut editor, ours, theirs, "", &mut |_, _| Ok(None))?;
    Ok(editor
        .write()
        .map_err(|e| StoreError::repo("cannot write tree", e))?
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
        .map_err(|e| StoreError::repo("cannot edit tree", e))?;
    let read = |id: ObjectId| -> Result<Proposal> {
        serde_json::from_slice(&store.read_blob(id)?)
            .map_err(|e| StoreError::decode("a stored proposal is unreadable", e).into())
    };
    let mut merge = |mine: ObjectId, other: ObjectId| -> Result<Option<ObjectId>> {
        let (local, p) = (read(mine)?, read(other)?);
        if local == p {
            return Ok(None);
        }
        let merged = merge_transitions(&local, &p);
        if merged.state() == State::Conflict && local.state() != State::Conflict {
            report.conflicts.push(format!(
                "{name}: proposal {} ({}) has review decisions neither side saw: {}",
                &local.id[..12],
                local.resource(),
                merged.conflicting_decisions().join("; ")
            ));
        }
        let json = serde_json::to_vec_pretty(&merged)
            .map_err(|e| StoreError::encode("cannot encode proposal", e))?;
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
        .map_err(|e| StoreError::repo("cannot write tree", e))?
        .detach())
}
