//! Proposals: one reviewed change each, stored as a commit chain at
//! `refs/fleet/proposals/<target>` whose tree holds one JSON file per proposal at
//! `<id[0..2]>/<id>`. One write = one tick's or one command's transitions.

use crate::error::{Error, Result};
use crate::fleet::diff::{Change, ChangeType, FieldChange};
use crate::fleet::{Fleet, Kind};
use crate::store::{Store, TreeEdits};
use gix::ObjectId;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub const PROPOSALS_PREFIX: &str = "refs/fleet/proposals/";

pub fn proposals_ref(target: &str) -> String {
    format!("{PROPOSALS_PREFIX}{target}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    PendingReview,
    Approved,
    Applied,
    Rejected,
    Ignored,
    Failed,
    /// Desired moved on: a newer proposal for the resource, or none needed.
    Superseded,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::PendingReview => "pending_review",
            State::Approved => "approved",
            State::Applied => "applied",
            State::Rejected => "rejected",
            State::Ignored => "ignored",
            State::Failed => "failed",
            State::Superseded => "superseded",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        [
            State::PendingReview,
            State::Approved,
            State::Applied,
            State::Rejected,
            State::Ignored,
            State::Failed,
            State::Superseded,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    /// Still waiting for a person or for apply.
    pub fn is_open(self) -> bool {
        matches!(self, State::PendingReview | State::Approved)
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub state: State,
    pub actor: String,
    /// Seconds since the epoch.
    pub time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// An SSH signature (namespace git-fleet) over `policy::decision_payload`,
    /// when the decider had signing configured: approvals then count keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    pub id: String,
    pub target: String,
    pub kind: Kind,
    pub name: String,
    pub change: ChangeType,
    /// The live resource when the proposal was computed (None for a create).
    pub before: Option<Value>,
    /// The desired resource (None for a destroy).
    pub after: Option<Value>,
    pub fields: Vec<FieldChange>,
    /// The commit the desired state came from (None for a file outside history).
    pub source_commit: Option<String>,
    /// The live snapshot the proposal was computed against.
    pub live_snapshot: Option<String>,
    /// Opened by `rollback`: never auto-applied.
    #[serde(default)]
    pub rollback: bool,
    /// Set when a rollback undid this proposal's change: its desired content is
    /// never auto-applied again (a new desired content gets a new id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolled_back_by: Option<String>,
    pub transitions: Vec<Transition>,
}

impl Proposal {
    pub fn state(&self) -> State {
        self.transitions
            .last()
            .map(|t| t.state)
            .unwrap_or(State::PendingReview)
    }

    pub fn push(&mut self, state: State, actor: &str, time: i64, reason: Option<String>) {
        self.transitions.push(Transition {
            state,
            actor: actor.to_string(),
            time,
            reason,
            signature: None,
        });
    }

    /// Distinct actors who approved since the proposal last entered review.
    pub fn approvers(&self) -> Vec<String> {
        let start = self
            .transitions
            .iter()
            .rposition(|t| t.state == State::PendingReview)
            .map_or(0, |i| i + 1);
        let mut actors: Vec<String> = self.transitions[start..]
            .iter()
            .filter(|t| t.state == State::Approved)
            .map(|t| t.actor.clone())
            .collect();
        actors.sort();
        actors.dedup();
        actors
    }

    pub fn resource(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }

    pub fn path(&self) -> String {
        format!("{}/{}", &self.id[..2], self.id)
    }
}

/// A resource of `fleet` as JSON (None when absent).
pub fn resource_json(fleet: &Fleet, kind: Kind, name: &str) -> Option<Value> {
    match kind {
        Kind::Templates => fleet
            .templates
            .get(name)
            .and_then(|r| serde_json::to_value(r).ok()),
        Kind::Modules => fleet
            .modules
            .get(name)
            .and_then(|r| serde_json::to_value(r).ok()),
        Kind::Assignments => fleet
            .assignments
            .get(name)
            .and_then(|r| serde_json::to_value(r).ok()),
        Kind::ProviderConfigs => fleet.provider_configs.get(name).cloned(),
    }
}

/// Put (or remove, for None) a resource given as JSON into `fleet`.
pub fn set_resource(
    fleet: &mut Fleet,
    kind: Kind,
    name: &str,
    value: Option<&Value>,
) -> Result<()> {
    let bad =
        |e: serde_json::Error| Error::Other(format!("stored {kind}/{name} is unreadable: {e}"));
    match (kind, value) {
        (Kind::Templates, Some(v)) => {
            fleet
                .templates
                .insert(name.into(), serde_json::from_value(v.clone()).map_err(bad)?);
        }
        (Kind::Modules, Some(v)) => {
            fleet
                .modules
                .insert(name.into(), serde_json::from_value(v.clone()).map_err(bad)?);
        }
        (Kind::Assignments, Some(v)) => {
            fleet
                .assignments
                .insert(name.into(), serde_json::from_value(v.clone()).map_err(bad)?);
        }
        (Kind::ProviderConfigs, Some(v)) => {
            fleet.provider_configs.insert(name.into(), v.clone());
        }
        (Kind::Templates, None) => {
            fleet.templates.remove(name);
        }
        (Kind::Modules, None) => {
            fleet.modules.remove(name);
        }
        (Kind::Assignments, None) => {
            fleet.assignments.remove(name);
        }
        (Kind::ProviderConfigs, None) => {
            fleet.provider_configs.remove(name);
        }
    }
    Ok(())
}

/// The id of a proposal: a hash of target, resource, change type and desired
/// content, so detecting the same diff again never opens it twice.
pub fn proposal_id(
    target: &str,
    kind: Kind,
    name: &str,
    change: ChangeType,
    after: Option<&Value>,
) -> String {
    let mut h = Sha256::new();
    for part in [target, kind.as_str(), name, change.as_str()] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    h.update(after.map(|v| v.to_string()).unwrap_or_default().as_bytes());
    format!("{:x}", h.finalize())
}

/// A new proposal for `change` (state pending_review).
#[allow(clippy::too_many_arguments)]
pub fn from_change(
    target: &str,
    change: &Change,
    live: &Fleet,
    desired: &Fleet,
    source_commit: Option<String>,
    live_snapshot: Option<String>,
    actor: &str,
    time: i64,
    reason: Option<String>,
) -> Proposal {
    let before = resource_json(live, change.kind, &change.name);
    let after = resource_json(desired, change.kind, &change.name);
    let id = proposal_id(
        target,
        change.kind,
        &change.name,
        change.change,
        after.as_ref(),
    );
    let mut p = Proposal {
        id,
        target: target.to_string(),
        kind: change.kind,
        name: change.name.clone(),
        change: change.change,
        before,
        after,
        fields: change.fields.clone(),
        source_commit,
        live_snapshot,
        rollback: false,
        rolled_back_by: None,
        transitions: Vec::new(),
    };
    p.push(State::PendingReview, actor, time, reason);
    p
}

/// The proposals of one target as stored at one commit.
pub struct Book {
    pub target: String,
    pub tip: Option<ObjectId>,
    /// id -> blob of every stored proposal (read lazily).
    index: BTreeMap<String, ObjectId>,
}

impl Book {
    /// List the stored proposals of `target` (reads only trees, not proposals).
    pub fn open(store: &Store, target: &str) -> Result<Book> {
        let tip = store.resolve(&proposals_ref(target))?;
        let mut index = BTreeMap::new();
        if let Some(tip) = tip {
            for dir in store.list_tree(store.commit_tree(tip)?)? {
                if !dir.is_tree {
                    continue;
                }
                for file in store.list_tree(dir.id)? {
                    if !file.is_tree {
                        index.insert(file.name, file.id);
                    }
                }
            }
        }
        Ok(Book {
            target: target.to_string(),
            tip,
            index,
        })
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub fn contains(&self, id: &str) -> bool {
        self.index.contains_key(id)
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.index.keys().map(String::as_str)
    }

    pub fn get(&self, store: &Store, id: &str) -> Result<Option<Proposal>> {
        match self.index.get(id) {
            Some(blob) => Ok(Some(decode(&store.read_blob(*blob)?, id)?)),
            None => Ok(None),
        }
    }

    /// Ids starting with `prefix`.
    pub fn matching(&self, prefix: &str) -> Vec<&str> {
        self.index
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k.as_str())
            .collect()
    }

    pub fn all(&self, store: &Store) -> Result<Vec<Proposal>> {
        self.index
            .iter()
            .map(|(id, blob)| decode(&store.read_blob(*blob)?, id))
            .collect()
    }
}

fn decode(bytes: &[u8], id: &str) -> Result<Proposal> {
    serde_json::from_slice(bytes)
        .map_err(|e| Error::Other(format!("proposal {id} is unreadable: {e}")))
}

/// Write `proposals` (new or changed) for `target` in one commit. `merge` is
/// called with the proposal as stored now (if any) and the one to write, so a
/// concurrent writer's transitions are kept rather than overwritten.
pub fn write(
    store: &Store,
    target: &str,
    proposals: &[Proposal],
    message: &str,
) -> Result<ObjectId> {
    if proposals.is_empty() {
        return Err(Error::Other("internal: no proposals to write".into()));
    }
    store.chain_append(&proposals_ref(target), |tip| {
        let current = match tip {
            Some(_) => Some(Book::open(store, target)?),
            None => None,
        };
        let mut upserts = Vec::new();
        for p in proposals {
            let merged = match current
                .as_ref()
                .map(|b| b.get(store, &p.id))
                .transpose()?
                .flatten()
            {
                Some(stored) => merge_transitions(&stored, p),
                None => p.clone(),
            };
            let json = serde_json::to_vec_pretty(&merged)
                .map_err(|e| Error::Other(format!("cannot encode proposal: {e}")))?;
            upserts.push((merged.path(), store.write_blob(&json)?));
        }
        Ok((
            TreeEdits {
                upserts,
                removals: vec![],
                replace_all: false,
            },
            message.to_string(),
        ))
    })
}

/// Keep every transition of both versions, in time order (stored first on ties).
pub fn merge_transitions(stored: &Proposal, ours: &Proposal) -> Proposal {
    let mut merged = ours.clone();
    let mut all: Vec<Transition> = stored.transitions.clone();
    for t in &ours.transitions {
        if !all.contains(t) {
            all.push(t.clone());
        }
    }
    all.sort_by_key(|t| t.time);
    merged.transitions = all;
    merged.rolled_back_by = ours
        .rolled_back_by
        .clone()
        .or(stored.rolled_back_by.clone());
    merged
}
