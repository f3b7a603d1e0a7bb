//! Live snapshots: a commit chain at `refs/fleet/live/<target>` whose tree holds
//! the recorded state as canonical YAML (for people) and compact JSON (fast to read).

use crate::config::Config;
use crate::error::{Error, GitContext, Result, StoreError};
use crate::fleet::Fleet;
use crate::store::{ChainEntry, Store, TreeEdits};
use gix::ObjectId;

pub use crate::paths::{JSON_PATH, LIVE_PREFIX, YAML_PATH};

pub fn live_ref(target: &str) -> String {
    format!("{LIVE_PREFIX}{target}")
}

/// A recorded live state.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub commit: ObjectId,
    pub fleet: Fleet,
    /// The blob id of the snapshot's `fleet.json`: equal ids mean equal fleets.
    pub json_blob: ObjectId,
}

/// Record `fleet` as the next live snapshot of `target`.
pub fn record(
    store: &Store,
    target: &str,
    fleet: &Fleet,
    source: &str,
    message: Option<&str>,
) -> Result<ObjectId> {
    let yaml = serde_saphyr::to_string(fleet)
        .map_err(|e| StoreError::encode("cannot render snapshot YAML", e))?;
    let json = serde_json::to_vec(fleet)
        .map_err(|e| StoreError::encode("cannot render snapshot JSON", e))?;
    let yaml_blob = store.write_blob(yaml.as_bytes())?;
    let json_blob = store.write_blob(&json)?;
    let counts = fleet
        .counts()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ");
    let subject = message
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| format!("snapshot {target}"));
    // A recorded snapshot is live for the embedded driver: like every change
    // of live it is receipted first, and the snapshot commit names its receipt.
    let before = store.resolve(&live_ref(target))?;
    let receipt = crate::receipts::append(
        store,
        &crate::receipts::ReceiptInput {
            action: "snapshot".into(),
            source_commit: match before {
                Some(tip) => tip,
                None => store.rev_commit("HEAD").unwrap_or(json_blob),
            },
            target: Some(target.to_string()),
            proposal: None,
            change: None,
            policy: None,
            before: Some(before.map_or_else(|| "none".to_string(), |c| c.to_string())),
            after: Some(format!("content {json_blob}")),
            extra: vec![("Fleet-Source".to_string(), source.replace('\n', " "))],
        },
    )?;
    let body = format!(
        "{subject}\n\nFleet-Target: {target}\nFleet-Source: {}\nFleet-Counts: {counts}\nFleet-Receipt: {}\n",
        source.replace('\n', " "),
        receipt.id
    );
    store.chain_append(&live_ref(target), |_| {
        Ok((
            TreeEdits {
                upserts: vec![
                    (YAML_PATH.to_string(), yaml_blob),
                    (JSON_PATH.to_string(), json_blob),
                ],
                removals: vec![],
                replace_all: true,
            },
            body.clone(),
        ))
    })
}

/// Write (but do not publish) the snapshot commit that would follow `parent`.
/// `message` carries the record's trailers (an apply's `Fleet-Receipt`...).
pub fn prepare(
    store: &Store,
    target: &str,
    fleet: &Fleet,
    parent: Option<ObjectId>,
    message: &str,
) -> Result<ObjectId> {
    let tree = snapshot_tree(store, fleet)?;
    store.new_commit(&snapshot_message(target, message), tree, parent)
}

/// Record `fleet` as the next snapshot of `target` whatever the tip is now
/// (a readback is what live became, so it follows any concurrent snapshot).
pub fn append(store: &Store, target: &str, fleet: &Fleet, message: &str) -> Result<ObjectId> {
    let tree = snapshot_tree(store, fleet)?;
    let body = snapshot_message(target, message);
    store
        .update_ref(
            &live_ref(target),
            &format!("git-fleet: record live {target}"),
            |tip| {
                let commit = store.new_commit(&body, tree, tip)?;
                Ok(Some((commit, commit)))
            },
        )?
        .ok_or_else(|| {
            StoreError::NotWritten {
                reference: live_ref(target),
            }
            .into()
        })
}

fn snapshot_message(target: &str, message: &str) -> String {
    format!("{}\nFleet-Target: {target}\n", message.trim_end())
}

fn snapshot_tree(store: &Store, fleet: &Fleet) -> Result<ObjectId> {
    let yaml = serde_saphyr::to_string(fleet)
        .map_err(|e| StoreError::encode("cannot render snapshot YAML", e))?;
    let json = serde_json::to_vec(fleet)
        .map_err(|e| StoreError::encode("cannot render snapshot JSON", e))?;
    let mut editor = store
        .repo()
        .edit_tree(ObjectId::empty_tree(store.repo().object_hash()))
        .git(|| "cannot build snapshot tree".into())?;
    for (path, bytes) in [(YAML_PATH, yaml.into_bytes()), (JSON_PATH, json)] {
        let blob = store.write_blob(&bytes)?;
        editor
            .upsert(path, gix::object::tree::EntryKind::Blob, blob)
            .git(|| "cannot build snapshot tree".into())?;
    }
    Ok(editor
        .write()
        .git(|| "cannot write snapshot tree".into())?
        .detach())
}

/// Move `refs/fleet/live/<target>` from `from` to `to`; `Ok(false)` (nothing
/// written) if it moved meanwhile.
pub fn advance(store: &Store, target: &str, from: Option<ObjectId>, to: ObjectId) -> Result<bool> {
    let moved = std::cell::Cell::new(false);
    store.update_ref(
        &live_ref(target),
        &format!("git-fleet: apply to {target}"),
        |current| {
            if current != from {
                moved.set(true);
                return Ok(None);
            }
            Ok(Some((to, ())))
        },
    )?;
    Ok(!moved.get())
}

/// The fleet recorded by snapshot commit `commit`.
pub fn read_at(store: &Store, commit: ObjectId) -> Result<Fleet> {
    let json = store
        .read_path(commit, JSON_PATH)?
        .ok_or_else(|| StoreError::MissingFile {
            commit: commit.to_string(),
            file: JSON_PATH.into(),
        })?;
    serde_json::from_slice(&json)
        .git(|| format!("snapshot {commit} holds an unreadable {JSON_PATH}"))
}

/// The newest snapshot of `target`, if any was recorded.
pub fn latest(store: &Store, target: &str) -> Result<Option<Snapshot>> {
    match store.resolve(&live_ref(target))? {
        Some(commit) => snapshot_at(store, commit).map(Some),
        None => Ok(None),
    }
}

/// Where remote-tracking copies of fleet refs live: `init`'s fetch refspecs
/// and `sync` both write `refs/fleet-remote/<remote>/fleet/...`.
pub const FETCHED_PREFIX: &str = "refs/fleet-remote/";
const FETCHED_LIVE: &str = "/fleet/live/";

/// The fetched copies of `target`'s live ref (one per remote that has it).
pub fn fetched_refs(store: &Store, target: &str) -> Result<Vec<String>> {
    let suffix = format!("{FETCHED_LIVE}{target}");
    Ok(store
        .refs_under(FETCHED_PREFIX)?
        .into_iter()
        .filter(|r| r.ends_with(&suffix) && r.len() > FETCHED_PREFIX.len() + suffix.len())
        .collect())
}

/// The recorded live state of `target` and the ref it was read from: the
/// local `refs/fleet/live/<target>`, else the copy fetched from a remote (a
/// fresh clone after `init` and `git fetch`). Remotes that disagree are an
/// error: which one is right is not for us to guess.
pub fn latest_recorded(store: &Store, target: &str) -> Result<Option<(Snapshot, String)>> {
    match latest_recorded_commit(store, target)? {
        Some((commit, name)) => Ok(Some((snapshot_at(store, commit)?, name))),
        None => Ok(None),
    }
}

/// The snapshot commit [`latest_recorded`] reads and its ref, not decoded.
pub fn latest_recorded_commit(store: &Store, target: &str) -> Result<Option<(ObjectId, String)>> {
    if let Some(commit) = store.resolve(&live_ref(target))? {
        return Ok(Some((commit, live_ref(target))));
    }
    let mut found: Vec<(String, ObjectId)> = Vec::new();
    for name in fetched_refs(store, target)? {
        if let Some(id) = store.resolve(&name)? {
            found.push((name, id));
        }
    }
    match found.as_slice() {
        [] => Ok(None),
        [(name, id), rest @ ..] if rest.iter().all(|(_, other)| other == id) => {
            Ok(Some((*id, name.clone())))
        }
        _ => Err(Error::usage_hint(
            format!(
                "no local live snapshot of target {target}, and the fetched ones differ: {}",
                found
                    .iter()
                    .map(|(n, id)| format!("{n} ({})", &id.to_string()[..12]))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "record one locally with `git fleet sync <remote>`",
        )),
    }
}

/// The refusal when `target` has no snapshot to compare or propose against.
pub fn no_snapshot(store: &Store, target: &str) -> Error {
    let fetched = fetched_refs(store, target).unwrap_or_default();
    let hint = match fetched.first() {
        Some(name) => format!(
            "{name} was fetched but is not recorded here: run `git fleet sync` to merge it into {}",
            live_ref(target)
        ),
        None => format!(
            "record live state with `git fleet snapshot {target} --from FILE`, or in a clone run `git fleet init` and `git fetch` to get the recorded one"
        ),
    };
    Error::usage_hint(format!("no live snapshot for target {target}"), hint)
}

/// The snapshot recorded by commit `commit`.
fn snapshot_at(store: &Store, commit: ObjectId) -> Result<Snapshot> {
    let json_blob = json_blob_at(store, commit)?;
    let json = store.read_blob(json_blob)?;
    let fleet = serde_json::from_slice(&json)
        .git(|| format!("snapshot {commit} holds an unreadable {JSON_PATH}"))?;
    Ok(Snapshot {
        commit,
        fleet,
        json_blob,
    })
}

/// The blob id of snapshot commit `commit`'s `fleet.json` (equal ids, equal
/// fleets), without reading the blob.
pub fn json_blob_at(store: &Store, commit: ObjectId) -> Result<ObjectId> {
    Ok(store
        .list_tree(store.commit_tree(commit)?)?
        .into_iter()
        .find(|e| e.name == JSON_PATH)
        .map(|e| e.id)
        .ok_or_else(|| StoreError::MissingFile {
            commit: commit.to_string(),
            file: JSON_PATH.into(),
        })?)
}

/// The git blob id `fleet` has as a snapshot's `fleet.json`.
pub fn json_blob_id(fleet: &Fleet) -> Option<ObjectId> {
    let json = serde_json::to_vec(fleet).ok()?;
    gix::objs::compute_hash(gix::hash::Kind::Sha1, gix::objs::Kind::Blob, &json).ok()
}

/// Snapshot records of `target`, newest first.
pub fn history(store: &Store, target: &str) -> Result<Vec<ChainEntry>> {
    store
        .chain_walk(&live_ref(target))?
        .map(|r| r.map(|(_, e)| e))
        .collect()
}

/// Targets declared in fleet.toml or having a snapshot (recorded here or
/// fetched from a remote), sorted, no duplicates.
pub fn known_targets(store: &Store, config: &Config) -> Result<Vec<String>> {
    let mut names: Vec<String> = config.targets.keys().cloned().collect();
    for r in store.refs_under(LIVE_PREFIX)? {
        names.push(r[LIVE_PREFIX.len()..].to_string());
    }
    for r in store.refs_under(FETCHED_PREFIX)? {
        if let Some((_, target)) = r[FETCHED_PREFIX.len()..].split_once(FETCHED_LIVE) {
            names.push(target.to_string());
        }
    }
    names.sort();
    names.dedup();
    Ok(names)
}

/// The target to compare against: the one named (which must be known), or
/// the only known one. A typo never silently diffs against nothing.
pub fn resolve_target(store: &Store, config: &Config, named: Option<&str>) -> Result<String> {
    let known = known_targets(store, config)?;
    let list = if known.is_empty() {
        "none yet".to_string()
    } else {
        known.join(", ")
    };
    match named {
        Some(name) if known.iter().any(|k| k == name) => Ok(name.to_string()),
        Some(name) => Err(Error::usage_hint(
            format!("unknown target '{name}' (known targets: {list})"),
            format!("record its live state with `git fleet snapshot {name}` or declare [targets.{name}] in fleet.toml"),
        )),
        None => match known.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(Error::usage_hint(
                "no target to compare against: none is declared or snapshotted",
                "record live state with `git fleet snapshot <target>` or declare [targets.<name>] in fleet.toml",
            )),
            _ => Err(Error::usage_hint(
                format!("several targets are known ({list}); name one"),
                "for example: git fleet diff <target>",
            )),
        },
    }
}
