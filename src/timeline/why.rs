//! `why NODE KEY`: the rendered value, every layer that set or overrode it
//! (with file:line and the commit that last changed that line), and the
//! record that put the value live.

use super::at::{self, ReceiptIndex};
use crate::desired::Desired;
use crate::error::{Error, Result};
use crate::fleet::parse::LocMap;
use crate::fleet::render::{node_assignments, render_node_refs, Index};
use crate::fleet::Fleet;
use crate::store::Store;
use gix::ObjectId;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_saphyr::Spanned;
use std::collections::HashMap;
use std::path::Path;

/// What to explain, and where each side comes from.
pub struct Request<'a> {
    pub node: &'a str,
    pub key: &'a str,
    /// The desired file's bytes and label.
    pub desired: &'a Desired,
    pub fleet: &'a Fleet,
    /// Its path in the repository, for `git blame`.
    pub path: &'a str,
    /// The commit the desired file was read from; None = the work tree.
    pub commit: Option<ObjectId>,
    pub target: Option<&'a str>,
    /// The live snapshot to compare with (None: the target has none).
    pub live: Option<&'a at::LiveThen>,
    /// The receipt log to name receipts from.
    pub receipts: &'a [crate::receipts::Receipt],
}

/// One module or assignment config that sets the key, in render order.
#[derive(Debug, Clone, Serialize)]
pub struct Layer {
    /// `modules` or `assignments`.
    pub kind: &'static str,
    /// The module's name or the assignment's key.
    pub name: String,
    /// The assignment that brings this layer to the node.
    pub assignment: String,
    /// The priority the layer renders at.
    pub priority: i64,
    pub value: Value,
    pub file: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// False for a disabled assignment: listed, never rendered.
    pub enabled: bool,
    /// The layer whose value is the rendered one.
    pub wins: bool,
    /// The commit that last changed the line (git blame).
    pub commit: Option<Blame>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Blame {
    /// All zeros when the line is not committed yet.
    pub commit: String,
    pub author: String,
    pub time: String,
    pub summary: String,
}

impl Blame {
    pub fn committed(&self) -> bool {
        self.commit.bytes().any(|b| b != b'0')
    }
}

/// How the live snapshot stands to the desired value.
#[derive(Debug, Clone, Serialize)]
pub struct LiveView {
    /// `live` (the same value), `differs`, `not-live-yet` (live has no such
    /// value), `no-snapshot` (the target has none, or no target).
    pub state: &'static str,
    #[serde(rename = "ref")]
    pub ref_name: Option<String>,
    pub snapshot: Option<String>,
    pub value: Option<Value>,
    /// The oldest snapshot of the run that has had this live value.
    pub since: Option<Since>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Since {
    pub snapshot: String,
    pub time: String,
    /// The receipt the snapshot names (an apply's completing receipt when
    /// there is one), if any.
    pub receipt: Option<ReceiptRef>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReceiptRef {
    pub id: String,
    pub action: String,
    pub result: Option<String>,
    pub proposal: Option<String>,
    pub change: Option<String>,
    pub actor: Option<String>,
    pub time: Option<String>,
}

impl ReceiptRef {
    pub fn of(r: &crate::receipts::Receipt) -> ReceiptRef {
        let f = |k: &str| r.field(k).map(str::to_string);
        ReceiptRef {
            id: r.id.clone(),
            action: r.action().to_string(),
            result: f(crate::reconcile::RESULT),
            proposal: f("Fleet-Proposal"),
            change: f("Fleet-Change"),
            actor: f("Fleet-Actor"),
            time: f("Fleet-Time"),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Why {
    pub node: String,
    pub key: String,
    pub desired: String,
    pub target: Option<String>,
    /// The rendered value (None: only disabled assignments set it).
    pub value: Option<Value>,
    /// The assignment whose layer won.
    pub from: Option<String>,
    pub layers: Vec<Layer>,
    pub live: LiveView,
}

/// Explain one rendered value. Unknown node or key: a usage error naming
/// what exists and the closest names.
pub fn explain(store: &Store, req: &Request<'_>) -> Result<Why> {
    let fleet = req.fleet;
    let index = Index::new(fleet);
    if !index.by_node.contains_key(req.node) {
        return Err(Error::usage(format!(
            "unknown node '{}' in {}: {}",
            req.node,
            req.desired.label,
            super::known_list("nodes", req.node, index.nodes())
        )));
    }
    let rendered = render_node_refs(fleet, req.node);
    // Every layer, in render order: enabled by (priority, module name), the
    // module's config before the assignment's own; disabled ones after.
    let mut units: Vec<(bool, i64, &str, &str, &crate::fleet::Assignment)> =
        node_assignments(fleet, req.node)
            .map(|(key, m, a)| {
                let module = fleet.modules.get(m).map(|v| &**v);
                (!a.enabled, a.effective_priority(module), m, key, a)
            })
            .collect();
    units.sort_by(|x, y| (x.0, x.1, x.2).cmp(&(y.0, y.1, y.2)));
    let positions = locate(req.desired);
    let mut layers = Vec::new();
    for (disabled, priority, module, key, assignment) in units {
        let from_module = fleet
            .modules
            .get(module)
            .and_then(|m| m.config.get(req.key))
            .map(|v| ("modules", module, v));
        let from_assignment = assignment
            .config
            .get(req.key)
            .map(|v| ("assignments", key, v));
        for (kind, name, value) in from_module.into_iter().chain(from_assignment) {
            let pos = positions.get(&(kind, name.to_string(), req.key.to_string()));
            layers.push(Layer {
                kind,
                name: name.to_string(),
                assignment: key.to_string(),
                priority,
                value: value.clone(),
                file: req.desired.label.clone(),
                line: pos.map(|p| p.0),
                column: pos.map(|p| p.1),
                enabled: !disabled,
                wins: false,
                commit: None,
            });
        }
    }
    if layers.is_empty() {
        let keys: Vec<&str> = rendered.keys().copied().collect();
        return Err(Error::usage(format!(
            "node {} has no key '{}' in {}: {}",
            req.node,
            req.key,
            req.desired.label,
            super::known_list("its keys", req.key, keys)
        )));
    }
    let won = rendered.get(req.key).map(|(v, from)| ((*v).clone(), *from));
    if let Some((_, from)) = &won {
        // The last enabled layer is the one render kept.
        if let Some(l) = layers
            .iter_mut()
            .rev()
            .find(|l| l.enabled && l.assignment == *from)
        {
            l.wins = true;
        }
    }
    for l in &mut layers {
        if let Some(line) = l.line {
            l.commit = blame(store, req.path, req.commit, line);
        }
    }
    let live = live_view(store, req, won.as_ref().map(|(v, _)| v))?;
    Ok(Why {
        node: req.node.to_string(),
        key: req.key.to_string(),
        desired: req.desired.label.clone(),
        target: req.target.map(str::to_string),
        value: won.as_ref().map(|(v, _)| v.clone()),
        from: won.map(|(_, f)| f.to_string()),
        layers,
        live,
    })
}

/// The live value, whether it is the desired one, and the oldest snapshot
/// of the run that has held it (with the receipt that snapshot names).
fn live_view(store: &Store, req: &Request<'_>, desired: Option<&Value>) -> Result<LiveView> {
    let Some(live) = req.live else {
        return Ok(LiveView {
            state: "no-snapshot",
            ref_name: None,
            snapshot: None,
            value: None,
            since: None,
        });
    };
    let value_in = |fleet: &Fleet| {
        render_node_refs(fleet, req.node)
            .get(req.key)
            .map(|(v, _)| (*v).clone())
    };
    let now = value_in(&live.fleet);
    let state = match (&now, desired) {
        (None, _) => "not-live-yet",
        (Some(l), Some(d)) if l == d => "live",
        _ => "differs",
    };
    let mut since = None;
    if now.is_some() {
        // Walk back while the value stays the same (bounded: a long chain
        // of equal values is summarised by the oldest one read).
        let mut oldest: Option<(ObjectId, i64, String)> = None;
        for entry in store.chain_walk_from(live.commit).take(10_000) {
            let (commit, entry) = entry?;
            let fleet = if commit == live.commit {
                live.fleet.clone()
            } else {
                match crate::live::read_at(store, commit) {
                    Ok(f) => f,
                    Err(_) => break,
                }
            };
            if value_in(&fleet) != now {
                break;
            }
            oldest = Some((commit, entry.time, entry.message));
        }
        if let Some((commit, time, message)) = oldest {
            let index = ReceiptIndex::new(req.receipts);
            since = Some(Since {
                snapshot: commit.to_string(),
                time: at::format_time(time),
                receipt: at::named_receipt(&message)
                    .and_then(|id| index.settled(&id).map(ReceiptRef::of)),
            });
        }
    }
    Ok(LiveView {
        state,
        ref_name: Some(live.ref_name.clone()),
        snapshot: Some(live.commit.to_string()),
        value: now,
        since,
    })
}

/// `git blame --porcelain -L n,n` of the desired file (at `commit`, else in
/// the work tree, where an uncommitted line blames as zeros).
fn blame(store: &Store, path: &str, commit: Option<ObjectId>, line: usize) -> Option<Blame> {
    let dir: &Path = store.work_dir().unwrap_or(store.git_dir());
    let range = format!("{line},{line}");
    let rev = commit.map(|c| c.to_string());
    let mut args = vec!["blame", "--porcelain", "-L", &range];
    if let Some(rev) = &rev {
        args.push(rev);
    }
    args.extend(["--", path]);
    let out = crate::gitcmd::git(dir, &args).ok()?;
    if !out.success {
        return None;
    }
    let mut lines = out.stdout.lines();
    let commit = lines.next()?.split_whitespace().next()?.to_string();
    let (mut author, mut mail, mut time, mut summary) = (None, None, None, None);
    for l in lines {
        if let Some(v) = l.strip_prefix("author ") {
            author = Some(v.to_string());
        } else if let Some(v) = l.strip_prefix("author-mail ") {
            mail = Some(v.to_string());
        } else if let Some(v) = l.strip_prefix("committer-time ") {
            time = v.parse::<i64>().ok();
        } else if let Some(v) = l.strip_prefix("summary ") {
            summary = Some(v.to_string());
        } else if l.starts_with('\t') {
            break;
        }
    }
    Some(Blame {
        commit,
        author: format!(
            "{} {}",
            author.unwrap_or_default(),
            mail.unwrap_or_default()
        )
        .trim()
        .to_string(),
        time: time.map(at::format_time).unwrap_or_default(),
        summary: summary.unwrap_or_default(),
    })
}

#[derive(Deserialize)]
struct LocFleet {
    #[serde(default)]
    modules: Option<LocMap<LocUnit>>,
    #[serde(default)]
    assignments: Option<LocMap<LocUnit>>,
}

#[derive(Deserialize)]
struct LocUnit {
    #[serde(default)]
    config: Option<LocMap<serde::de::IgnoredAny>>,
}

type Positions = HashMap<(&'static str, String, String), (usize, usize)>;

/// Where each config key of each module and assignment is written: a second,
/// position-keeping read of the (already validated) file.
fn locate(desired: &Desired) -> Positions {
    let mut out = Positions::new();
    let Ok(text) = std::str::from_utf8(&desired.bytes) else {
        return out;
    };
    let Ok(raw) =
        serde_saphyr::from_str_with_options::<LocFleet>(text, crate::fleet::parse::options())
    else {
        return out;
    };
    for (kind, units) in [("modules", raw.modules), ("assignments", raw.assignments)] {
        for (name, unit) in units.map(|m| m.0).unwrap_or_default() {
            for (key, _) in unit.config.map(|m| m.0).unwrap_or_default() {
                out.insert(
                    (kind, name.value.clone(), key.value.clone()),
                    position(&key),
                );
            }
        }
    }
    out
}

fn position(key: &Spanned<String>) -> (usize, usize) {
    (
        key.referenced.line() as usize,
        key.referenced.column().max(1) as usize,
    )
}
