//! Run records: one commit per reconcile tick at `refs/fleet/runs/<target>`,
//! tree `YYYY/MM/<run-id>.json`. `gc` drops routine runs after 90 days and
//! failed/partial ones after 365, rewriting the chain as a new root.

use crate::error::{Result, StoreError};
use crate::store::{Store, TreeEdits};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const RUNS_PREFIX: &str = "refs/fleet/runs/";
pub const KEEP_SUCCESS_DAYS: i64 = 90;
pub const KEEP_FAILED_DAYS: i64 = 365;

pub fn runs_ref(target: &str) -> String {
    format!("{RUNS_PREFIX}{target}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Success,
    Failed,
    Partial,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    pub id: String,
    pub target: String,
    pub started: i64,
    pub ended: i64,
    pub status: RunStatus,
    /// The commit the desired state was read from.
    pub synced_revision: Option<String>,
    /// kind -> change type -> count.
    pub counts: BTreeMap<String, BTreeMap<String, usize>>,
    pub diffs: usize,
    pub opened: Vec<String>,
    pub applied: Vec<String>,
    pub errors: Vec<String>,
    #[serde(default)]
    pub notes: Vec<String>,
}

/// Seconds since the epoch; `GIT_FLEET_NOW` overrides it (tests, gc dry runs).
pub fn now() -> i64 {
    if let Some(t) = std::env::var("GIT_FLEET_NOW")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return t;
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn path_of(run: &Run) -> String {
    let (y, m) = year_month(run.started);
    format!("{y:04}/{m:02}/{}.json", run.id)
}

/// Civil year and month of a Unix time (UTC).
pub fn year_month(secs: i64) -> (i64, i64) {
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m)
}

pub fn record(store: &Store, run: &Run) -> Result<()> {
    let json =
        serde_json::to_vec_pretty(run).map_err(|e| StoreError::encode("cannot encode run", e))?;
    let blob = store.write_blob(&json)?;
    let message = format!(
        "run {} {:?}\n\nFleet-Target: {}\nFleet-Run: {}\nFleet-Status: {}\nFleet-Diffs: {}\nFleet-Opened: {}\nFleet-Applied: {}\n",
        run.target,
        run.status,
        run.target,
        run.id,
        serde_json::to_value(run.status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
        run.diffs,
        run.opened.len(),
        run.applied.len()
    );
    store.chain_append(&runs_ref(run.target.as_str()), |_| {
        Ok((
            TreeEdits {
                upserts: vec![(path_of(run), blob)],
                removals: vec![],
                replace_all: false,
            },
            message.clone(),
        ))
    })?;
    Ok(())
}

/// Every run recorded for `target`, newest first.
pub fn list(store: &Store, target: &str) -> Result<Vec<Run>> {
    let Some(tip) = store.resolve(&runs_ref(target))? else {
        return Ok(Vec::new());
    };
    let mut runs = Vec::new();
    for year in store.list_tree(store.commit_tree(tip)?)? {
        for month in store.list_tree(year.id)? {
            for file in store.list_tree(month.id)? {
                let run: Run = serde_json::from_slice(&store.read_blob(file.id)?).map_err(|e| {
                    StoreError::decode(format!("run record {} is unreadable", file.name), e)
                })?;
                runs.push(run);
            }
        }
    }
    runs.sort_by(|a, b| b.started.cmp(&a.started).then(b.id.cmp(&a.id)));
    Ok(runs)
}

/// Targets with run records.
pub fn targets(store: &Store) -> Result<Vec<String>> {
    Ok(store
        .refs_under(RUNS_PREFIX)?
        .into_iter()
        .map(|r| r[RUNS_PREFIX.len()..].to_string())
        .collect())
}

/// Whether a run is past its retention at `now`.
pub fn expired(run: &Run, now: i64) -> bool {
    let days = match run.status {
        RunStatus::Success => KEEP_SUCCESS_DAYS,
        RunStatus::Failed | RunStatus::Partial => KEEP_FAILED_DAYS,
    };
    now - run.ended > days * 86_400
}

/// Drop expired runs of `target`: the chain is rewritten as a new root commit
/// holding only what is kept. Returns the dropped runs.
pub fn gc(store: &Store, target: &str, now: i64, dry_run: bool) -> Result<Vec<Run>> {
    let name = runs_ref(target);
    let mut dropped = Vec::new();
    let result = store.update_ref(&name, &format!("git-fleet: gc {target}"), |tip| {
        let Some(tip) = tip else { return Ok(None) };
        let runs = list(store, target)?;
        let (gone, kept): (Vec<Run>, Vec<Run>) = runs.into_iter().partition(|r| expired(r, now));
        dropped = gone;
        if dropped.is_empty() || dry_run {
            return Ok(None);
        }
        let mut editor = store
            .repo()
            .edit_tree(gix::ObjectId::empty_tree(store.repo().object_hash()))
            .map_err(|e| StoreError::repo("cannot build tree", e))?;
        for run in &kept {
            let json = serde_json::to_vec_pretty(run).map_err(|e| StoreError::encode("cannot encode run", e))?;
            let blob = store.write_blob(&json)?;
            editor
                .upsert(path_of(run).as_str(), gix::object::tree::EntryKind::Blob, blob)
                .map_err(|e| StoreError::repo("cannot build tree", e))?;
        }
        let tree = editor
            .write()
            .map_err(|e| StoreError::repo("cannot write tree", e))?
            .detach();
        let message = format!(
            "gc runs of {target}: kept {}, dropped {}\n\nFleet-Target: {target}\nFleet-Previous: {tip}\n",
            kept.len(),
            dropped.len()
        );
        let commit = store.new_commit(&message, tree, None)?;
        Ok(Some((commit, ())))
    })?;
    let _ = result;
    Ok(dropped)
}
