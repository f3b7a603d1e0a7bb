//! `history kind/name`: one resource's timeline, oldest first: desired edits
//! (each commit that changed the resource itself, compared with its first
//! parent, not merely the file), live snapshots that changed it, proposals
//! and their decisions, applies and rollbacks, with their receipts.

use super::at::{self, named_receipt};
use super::rendered::{leaf_diff, PathChange};
use crate::desired::Desired;
use crate::error::{Error, Result};
use crate::fleet::{Fleet, Kind};
use crate::proposals::{resource_json, State};
use crate::store::Store;
use gix::ObjectId;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// RFC 3339, UTC.
    pub time: String,
    #[serde(skip)]
    pub seconds: i64,
    /// `desired`, `live`, `proposal`, `decision`, `apply`, `rollback`, `receipt`.
    pub kind: &'static str,
    /// One line for people.
    pub what: String,
    /// The desired or snapshot commit, when the event is one.
    pub commit: Option<String>,
    pub actor: Option<String>,
    pub proposal: Option<String>,
    pub receipt: Option<String>,
    pub reason: Option<String>,
    /// What changed in the resource, by field path.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<PathChange>,
}

#[derive(Debug, Clone, Serialize)]
pub struct History {
    pub resource: String,
    pub target: Option<String>,
    pub desired: String,
    pub events: Vec<Event>,
}

/// `kind/name` (kinds: templates, modules, assignments, provider_configs).
pub fn parse_resource(spec: &str) -> Result<(Kind, String)> {
    let bad = || {
        Error::usage_hint(
            format!("'{spec}' is not kind/name"),
            "for example modules/nginx-public or assignments/app-01:tls (kinds: templates, modules, assignments, provider_configs)",
        )
    };
    let (kind, name) = spec.split_once('/').ok_or_else(bad)?;
    let kind = Kind::ALL
        .into_iter()
        .find(|k| k.as_str() == kind)
        .ok_or_else(bad)?;
    if name.is_empty() {
        return Err(bad());
    }
    Ok((kind, name.to_string()))
}

fn event(seconds: i64, kind: &'static str, what: String) -> Event {
    Event {
        time: at::format_time(seconds),
        seconds,
        kind,
        what,
        commit: None,
        actor: None,
        proposal: None,
        receipt: None,
        reason: None,
        fields: Vec::new(),
    }
}

fn change_word(before: &Option<Value>, after: &Option<Value>) -> &'static str {
    match (before, after) {
        (None, _) => "create",
        (_, None) => "destroy",
        _ => "update",
    }
}

fn fields_of(before: &Option<Value>, after: &Option<Value>) -> Vec<PathChange> {
    let mut out = Vec::new();
    leaf_diff("", before.as_ref(), after.as_ref(), &mut out);
    out
}

/// The timeline of `kind/name`: desired edits on the current branch in
/// `path`, and with a target its live snapshots, proposals and receipts.
/// A resource no record ever mentions is refused, naming the closest ones.
pub fn history(
    store: &Store,
    target: Option<&str>,
    path: &str,
    kind: Kind,
    name: &str,
) -> Result<History> {
    let resource = format!("{kind}/{name}");
    let mut events = Vec::new();
    let mut names: BTreeSet<String> = BTreeSet::new();
    desired_events(store, path, kind, name, &mut events, &mut names)?;
    if let Some(target) = target {
        live_events(store, target, kind, name, &mut events, &mut names)?;
        let proposals = crate::proposals::Book::open(store, target)?.all(store)?;
        let mut rollbacks = BTreeSet::new();
        for p in proposals
            .iter()
            .filter(|p| p.kind == kind && p.name == name)
        {
            if p.rollback {
                rollbacks.insert(p.id.clone());
            }
            proposal_events(p, &mut events);
        }
        let suffix = format!(" {resource}");
        for r in at::receipts_at(store, None)?.into_iter().rev() {
            let about = r.field("Fleet-Target") == Some(target)
                && r.field("Fleet-Change")
                    .is_some_and(|c| c.ends_with(&suffix));
            if !about {
                continue;
            }
            let result = r.field(crate::reconcile::RESULT).unwrap_or("");
            let proposal = r.field("Fleet-Proposal").map(str::to_string);
            let rollback = proposal.as_ref().is_some_and(|p| rollbacks.contains(p));
            let mut e = event(
                r.time().unwrap_or(0),
                "receipt",
                format!(
                    "receipt: {}{}{} {}",
                    r.action(),
                    if rollback { " (rollback)" } else { "" },
                    if result.is_empty() {
                        String::new()
                    } else {
                        format!(" {result}")
                    },
                    r.field("Fleet-Change").unwrap_or_default()
                ),
            );
            e.actor = r.field("Fleet-Actor").map(str::to_string);
            e.proposal = proposal;
            e.receipt = Some(r.id.clone());
            e.reason = r.field("Fleet-Reason").map(str::to_string);
            e.commit = Some(r.source_commit.clone());
            events.push(e);
        }
    }
    if events.is_empty() {
        return Err(Error::usage(format!(
            "no record mentions {resource} (desired {path}{}): {}",
            target.map(|t| format!(", target {t}")).unwrap_or_default(),
            super::known_list(
                &format!("{kind} there are"),
                name,
                names.iter().map(String::as_str),
            )
        )));
    }
    // Oldest first; records of one second keep their source order.
    events.sort_by_key(|e| e.seconds);
    Ok(History {
        resource,
        target: target.map(str::to_string),
        desired: path.to_string(),
        events,
    })
}

fn names_of(fleet: &Fleet, kind: Kind) -> Vec<String> {
    match kind {
        Kind::Templates => fleet.templates.keys().cloned().collect(),
        Kind::Modules => fleet.modules.keys().cloned().collect(),
        Kind::Assignments => fleet.assignments.keys().cloned().collect(),
        Kind::ProviderConfigs => fleet.provider_configs.keys().cloned().collect(),
    }
}

/// Each commit on the current branch that changed the resource, against its
/// first parent (`git log --topo-order -- path`, oldest first).
fn desired_events(
    store: &Store,
    path: &str,
    kind: Kind,
    name: &str,
    events: &mut Vec<Event>,
    names: &mut BTreeSet<String>,
) -> Result<()> {
    if store.rev_commit("HEAD").is_err() {
        return Ok(()); // no commit yet: no desired history
    }
    let dir = store.work_dir().unwrap_or(store.git_dir());
    let log = crate::gitcmd::git_ok(
        dir,
        &[
            "log",
            "--reverse",
            "--topo-order",
            "--format=%H%x1f%P%x1f%ct%x1f%an <%ae>%x1f%s",
            "HEAD",
            "--",
            path,
        ],
    )?;
    // A version that does not parse says nothing about the resource.
    let mut cache: HashMap<ObjectId, Option<Option<Value>>> = HashMap::new();
    let mut at_commit =
        |c: ObjectId, names: &mut BTreeSet<String>| -> Result<Option<Option<Value>>> {
            if let Some(v) = cache.get(&c) {
                return Ok(v.clone());
            }
            let bytes = store.read_path(c, path)?;
            let value = match bytes {
                None => Some(None),
                Some(bytes) => {
                    let d = Desired {
                        label: format!("{c}:{path}"),
                        exists: true,
                        bytes,
                    };
                    crate::desired::parse(&d).ok().map(|p| {
                        names.extend(names_of(&p.fleet, kind));
                        resource_json(&p.fleet, kind, name)
                    })
                }
            };
            cache.insert(c, value.clone());
            Ok(value)
        };
    for line in log.lines() {
        let f: Vec<&str> = line.split('\x1f').collect();
        let [id, parents, time, author, subject] = f.as_slice() else {
            continue;
        };
        let Ok(commit) = ObjectId::from_hex(id.as_bytes()) else {
            continue;
        };
        let parent = parents
            .split_whitespace()
            .next()
            .and_then(|p| ObjectId::from_hex(p.as_bytes()).ok());
        let after = at_commit(commit, names)?;
        let before = match parent {
            Some(p) => at_commit(p, names)?,
            None => Some(None),
        };
        let (Some(before), Some(after)) = (before, after) else {
            continue;
        };
        if before == after {
            continue;
        }
        let mut e = event(
            time.parse().unwrap_or(0),
            "desired",
            format!(
                "desired: {} {kind}/{name} ({})",
                change_word(&before, &after),
                subject
            ),
        );
        e.commit = Some(commit.to_string());
        e.actor = Some(author.to_string());
        e.fields = fields_of(&before, &after);
        events.push(e);
    }
    Ok(())
}

/// Snapshots of `target` (first-parent, oldest first) that changed the resource.
fn live_events(
    store: &Store,
    target: &str,
    kind: Kind,
    name: &str,
    events: &mut Vec<Event>,
    names: &mut BTreeSet<String>,
) -> Result<()> {
    let mut chain = Vec::new();
    for entry in store.chain_walk(&crate::live::live_ref(target))? {
        chain.push(entry?);
    }
    let mut before: Option<Value> = None;
    for (i, (commit, entry)) in chain.into_iter().rev().enumerate() {
        let Ok(fleet) = crate::live::read_at(store, commit) else {
            continue;
        };
        if i == 0 {
            names.extend(names_of(&fleet, kind));
        }
        let after = resource_json(&fleet, kind, name);
        if after != before {
            let mut e = event(
                entry.time,
                "live",
                format!(
                    "live: {} {kind}/{name} ({})",
                    change_word(&before, &after),
                    entry.message.lines().next().unwrap_or_default()
                ),
            );
            e.commit = Some(commit.to_string());
            e.actor = Some(entry.author.clone());
            e.receipt = named_receipt(&entry.message);
            e.fields = fields_of(&before, &after);
            events.push(e);
        }
        before = after;
    }
    Ok(())
}

fn proposal_events(p: &crate::proposals::Proposal, events: &mut Vec<Event>) {
    for (i, t) in p.transitions.iter().enumerate() {
        let (kind, what) = match t.state {
            State::PendingReview if i == 0 => (
                if p.rollback { "rollback" } else { "proposal" },
                format!(
                    "{} {} {}",
                    if p.rollback {
                        "rollback proposed:"
                    } else {
                        "proposed:"
                    },
                    p.change.as_str(),
                    p.resource()
                ),
            ),
            State::PendingReview => ("proposal", "back to review".to_string()),
            State::Approved | State::Rejected | State::Ignored => {
                ("decision", t.state.as_str().to_string())
            }
            State::Applied if p.rollback => ("rollback", "rollback applied".to_string()),
            State::Applied | State::Failed => ("apply", t.state.as_str().to_string()),
            other => ("proposal", other.as_str().to_string()),
        };
        let mut e = event(t.time, kind, format!("{what} (proposal {})", &p.id[..12]));
        e.actor = Some(t.actor.clone());
        e.proposal = Some(p.id.clone());
        e.receipt = t.receipt.clone();
        e.reason = t.reason.clone();
        if i == 0 {
            e.fields = fields_of(&p.before, &p.after);
        }
        events.push(e);
    }
}
