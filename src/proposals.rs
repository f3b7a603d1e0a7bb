//! Proposals: one reviewed change each, stored as a commit chain at
//! `refs/fleet/proposals/<target>` whose tree holds one JSON file per proposal at
//! `<id[0..2]>/<id>`. One write = one tick's or one command's transitions.

use crate::error::{Result, StoreError};
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
    /// Two different review decisions neither side saw before deciding
    /// (never stored: computed from the transitions). A decision made after
    /// seeing both resolves it.
    Conflict,
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
            State::Conflict => "conflict",
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
            State::Conflict,
            State::Superseded,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    /// Still waiting for a person or for apply.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            State::PendingReview | State::Approved | State::Conflict
        )
    }

    /// A review decision: two concurrent ones that differ are a conflict.
    pub fn is_decision(self) -> bool {
        matches!(self, State::Approved | State::Rejected | State::Ignored)
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
    /// The ids ([`Transition::id`]) of the transitions this one followed:
    /// every head of the history its writer saw. Empty for the first one, and
    /// in files written before causal history (each of those follows the
    /// previous parentless transition in the list).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parents: Vec<String>,
    /// An SSH signature (namespace git-fleet) over `policy::decision_payload`,
    /// when the decider had signing configured: approvals then count keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// The receipt of the action this transition records (an apply's), so a
    /// receipt log moved back is caught by `receipts verify`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<String>,
}

impl Transition {
    /// A hash of the whole transition, parents included (16 hex digits).
    pub fn id(&self) -> String {
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        format!("{:x}", Sha256::digest(&bytes))[..16].to_string()
    }
}

/// The transitions of one proposal as a causal graph.
struct History {
    /// Indexes of each transition's parents.
    parents: Vec<Vec<usize>>,
    /// Indexes of each transition's ancestors (itself excluded).
    ancestors: Vec<std::collections::BTreeSet<usize>>,
}

impl History {
    fn of(ts: &[Transition]) -> History {
        let ids: Vec<String> = ts.iter().map(Transition::id).collect();
        let index: BTreeMap<&str, usize> = ids
            .iter()
            .enumerate()
            .rev()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        let mut last_parentless: Option<usize> = None;
        let parents: Vec<Vec<usize>> = ts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                if t.parents.is_empty() {
                    // Old files (and concurrent creations): a list in order.
                    let p = last_parentless.replace(i);
                    p.into_iter().collect()
                } else {
                    t.parents
                        .iter()
                        .filter_map(|p| index.get(p.as_str()).copied())
                        .filter(|&p| p != i)
                        .collect()
                }
            })
            .collect();
        let mut ancestors = vec![std::collections::BTreeSet::new(); ts.len()];
        for (i, set) in ancestors.iter_mut().enumerate() {
            let mut todo: Vec<usize> = parents[i].clone();
            while let Some(p) = todo.pop() {
                if p != i && set.insert(p) {
                    todo.extend(parents[p].iter().copied());
                }
            }
        }
        History { parents, ancestors }
    }

    /// Transitions no other one follows.
    fn heads(&self) -> Vec<usize> {
        let mut followed = vec![false; self.parents.len()];
        for ps in &self.parents {
            for &p in ps {
                followed[p] = true;
            }
        }
        (0..self.parents.len()).filter(|&i| !followed[i]).collect()
    }

    /// Pairs of different decisions made concurrently (neither followed the
    /// other) that no later transition followed both of.
    fn conflicts(&self, ts: &[Transition]) -> Vec<(usize, usize)> {
        let decisions: Vec<usize> = (0..ts.len())
            .filter(|&i| ts[i].state.is_decision())
            .collect();
        let mut out = Vec::new();
        for (n, &a) in decisions.iter().enumerate() {
            for &b in &decisions[n + 1..] {
                if ts[a].state == ts[b].state
                    || self.ancestors[a].contains(&b)
                    || self.ancestors[b].contains(&a)
                {
                    continue;
                }
                let resolved = self
                    .ancestors
                    .iter()
                    .any(|anc| anc.contains(&a) && anc.contains(&b));
                if !resolved {
                    out.push((a, b));
                }
            }
        }
        out
    }
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
    /// Decided causally: `conflict` while two different decisions neither
    /// side saw stand unresolved; else the state of the head furthest from
    /// the first transition (wall-clock time only breaks ties).
    pub fn state(&self) -> State {
        if self.transitions.is_empty() {
            return State::PendingReview;
        }
        let h = History::of(&self.transitions);
        if !h.conflicts(&self.transitions).is_empty() {
            return State::Conflict;
        }
        h.heads()
            .into_iter()
            .max_by_key(|&i| (h.ancestors[i].len(), self.transitions[i].time, i))
            .map(|i| self.transitions[i].state)
            .unwrap_or(State::PendingReview)
    }

    /// The concurrent decisions that make this proposal a conflict, as
    /// "approved by X / rejected by Y" lines.
    pub fn conflicting_decisions(&self) -> Vec<String> {
        let h = History::of(&self.transitions);
        h.conflicts(&self.transitions)
            .into_iter()
            .map(|(a, b)| {
                let (a, b) = (&self.transitions[a], &self.transitions[b]);
                format!("{} by {} / {} by {}", a.state, a.actor, b.state, b.actor)
            })
            .collect()
    }

    /// Record a transition after everything this copy has seen: its parents
    /// are the current heads, so a decision made after a conflict resolves it.
    pub fn push(&mut self, state: State, actor: &str, time: i64, reason: Option<String>) {
        let mut parents: Vec<String> = if self.transitions.is_empty() {
            Vec::new()
        } else {
            History::of(&self.transitions)
                .heads()
                .into_iter()
                .map(|i| self.transitions[i].id())
                .collect()
        };
        parents.sort();
        parents.dedup();
        self.transitions.push(Transition {
            state,
            actor: actor.to_string(),
            time,
            reason,
            parents,
            signature: None,
            receipt: None,
        });
    }

    /// [`Proposal::push`] for a transition an action wrote a receipt for.
    pub fn push_receipted(
        &mut self,
        state: State,
        actor: &str,
        time: i64,
        reason: Option<String>,
        receipt: &str,
    ) {
        self.push(state, actor, time, reason);
        if let Some(t) = self.transitions.last_mut() {
            t.receipt = Some(receipt.to_string());
        }
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
        |e: serde_json::Error| StoreError::decode(format!("stored {kind}/{name} is unreadable"), e);
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
        .map_err(|e| StoreError::decode(format!("proposal {id} is unreadable"), e).into())
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
        return Err(crate::error::ReconcileError::NoProposals.into());
    }
    store.chain_append(&proposals_ref(target), |tip| {
        let current = match tip {
            Some(_) => Some(Book::open(store, target)?),
            None => None,
        };
        // Streamed: each file is encoded and written as a blob before the
        // next one is built; only (path, blob id) is kept for the tree.
        let mut upserts = Vec::with_capacity(proposals.len());
        let mut json = Vec::new();
        for p in proposals {
            let stored = current
                .as_ref()
                .map(|b| b.get(store, &p.id))
                .transpose()?
                .flatten();
            let merged;
            let out = match stored {
                Some(stored) => {
                    merged = merge_transitions(&stored, p);
                    &merged
                }
                None => p,
            };
            json.clear();
            serde_json::to_writer_pretty(&mut json, out)
                .map_err(|e| StoreError::encode("cannot encode proposal", e))?;
            upserts.push((out.path(), store.write_blob(&json)?));
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

/// Keep every transition of both versions, in time order (stored first on
/// ties); which one followed which is in their `parents`, not in the order.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn proposal(transitions: &str) -> Proposal {
        serde_json::from_str(&format!(
            r#"{{"id":"00aa","target":"t","kind":"modules","name":"m","change":"update",
               "before":null,"after":null,"fields":[],"source_commit":null,
               "live_snapshot":null,"transitions":{transitions}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn files_without_parents_read_as_a_list_in_order() {
        let p = proposal(
            r#"[{"state":"pending_review","actor":"a","time":1},
                {"state":"approved","actor":"a","time":2},
                {"state":"rejected","actor":"b","time":3}]"#,
        );
        assert_eq!(p.state(), State::Rejected);
        let mut q = p.clone();
        q.push(State::Approved, "c", 4, None);
        assert_eq!(q.transitions[3].parents, vec![p.transitions[2].id()]);
        assert_eq!(q.state(), State::Approved);
    }

    #[test]
    fn concurrent_different_decisions_conflict_until_one_follows_both() {
        let base = proposal(r#"[{"state":"pending_review","actor":"a","time":1}]"#);
        let (mut x, mut y) = (base.clone(), base.clone());
        x.push(State::Approved, "x", 5, None);
        y.push(State::Rejected, "y", 2, None);
        let mut m = merge_transitions(&x, &y);
        assert_eq!(m.state(), State::Conflict);
        m.push(State::Rejected, "z", 3, None);
        assert_eq!(m.state(), State::Rejected);
        // The same decision twice is no conflict; further progress wins.
        let (mut x, mut y) = (base.clone(), base);
        x.push(State::Approved, "x", 5, None);
        y.push(State::Approved, "y", 6, None);
        y.push(State::Applied, "y", 7, None);
        assert_eq!(merge_transitions(&y, &x).state(), State::Applied);
    }
}
