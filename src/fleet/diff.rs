//! Desired vs live: create / update / destroy per resource within each kind's
//! diff scope, field-level before/after, and the blast radius of each change.

use super::model::{split_assignment_key, Assignment, Fleet, Kind, Module, Template};
use super::render::{node_assignments, render_node_refs, render_refs, RenderedRefs};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeType {
    Create,
    Update,
    Destroy,
}

impl ChangeType {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeType::Create => "create",
            ChangeType::Update => "update",
            ChangeType::Destroy => "destroy",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// How far a change reaches: the estimate is fan-out x density; `measured`
/// counts the (node, key) rendered values that really change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BlastRadius {
    pub fan_out: usize,
    pub density: usize,
    pub estimate: usize,
    pub measured: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub kind: Kind,
    pub name: String,
    pub change: ChangeType,
    pub fields: Vec<FieldChange>,
    pub blast_radius: BlastRadius,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Diff {
    pub changes: Vec<Change>,
    /// Fan-out is the number of distinct nodes reached; density and estimate
    /// are sums over changes; measured counts each changed (node, key) once.
    pub total: BlastRadius,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Count of changes per kind and change type.
    pub fn counts(&self) -> BTreeMap<String, BTreeMap<&'static str, usize>> {
        let mut out: BTreeMap<String, BTreeMap<&'static str, usize>> = BTreeMap::new();
        for c in &self.changes {
            *out.entry(c.kind.to_string())
                .or_default()
                .entry(c.change.as_str())
                .or_default() += 1;
        }
        out
    }
}

/// A resource of any diffed kind, for the field-level comparison.
#[derive(Clone, Copy)]
enum Resource<'a> {
    Template(&'a Template),
    Module(&'a Module),
    Assignment(&'a Assignment),
}

impl Resource<'_> {
    fn fields(self) -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                out.insert(k.to_string(), v);
            }
        };
        match self {
            Resource::Template(t) => {
                put("name", Some(Value::from(t.name.clone())));
                put("description", t.description.clone().map(Value::from));
                put(
                    "node_platform_id",
                    t.node_platform_id.clone().map(Value::from),
                );
            }
            Resource::Module(m) => {
                put("name", Some(Value::from(m.name.clone())));
                put("priority", Some(Value::from(m.priority)));
                put("variety", m.variety.clone().map(Value::from));
                for (k, v) in &m.config {
                    out.insert(format!("config.{k}"), v.clone());
                }
            }
            Resource::Assignment(a) => {
                put("enabled", Some(Value::from(a.enabled)));
                put("priority", a.priority.map(Value::from));
                for (k, v) in &a.config {
                    out.insert(format!("config.{k}"), v.clone());
                }
            }
        }
        out
    }
}

fn field_changes(before: Option<Resource<'_>>, after: Option<Resource<'_>>) -> Vec<FieldChange> {
    let b = before.map(Resource::fields).unwrap_or_default();
    let a = after.map(Resource::fields).unwrap_or_default();
    let keys: BTreeSet<&String> = b.keys().chain(a.keys()).collect();
    keys.into_iter()
        .filter(|k| b.get(*k) != a.get(*k))
        .map(|k| FieldChange {
            field: k.clone(),
            before: b.get(k).cloned(),
            after: a.get(k).cloned(),
        })
        .collect()
}

/// Equal resources: the same shared value (a desired fleet built from the
/// live one shares every unchanged resource), else equal contents.
trait Same {
    fn same(&self, other: &Self) -> bool;
}

impl<T: PartialEq> Same for std::sync::Arc<T> {
    fn same(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(self, other) || **self == **other
    }
}

fn diff_map<'a, T: Same>(
    kind: Kind,
    live: &'a BTreeMap<String, T>,
    desired: &'a BTreeMap<String, T>,
    wrap: impl Fn(&'a T) -> Resource<'a>,
    out: &mut Vec<Change>,
) {
    use std::cmp::Ordering;
    // Both maps are sorted: walk them together instead of building a union.
    let mut l = live.iter().peekable();
    let mut d = desired.iter().peekable();
    loop {
        let (name, before, after) = match (l.peek(), d.peek()) {
            (None, None) => break,
            (Some((ln, lv)), None) => {
                let item = (*ln, Some(*lv), None);
                l.next();
                item
            }
            (None, Some((dn, dv))) => {
                let item = (*dn, None, Some(*dv));
                d.next();
                item
            }
            (Some((ln, lv)), Some((dn, dv))) => match ln.as_str().cmp(dn.as_str()) {
                Ordering::Equal => {
                    let item = (*ln, Some(*lv), Some(*dv));
                    l.next();
                    d.next();
                    item
                }
                Ordering::Less => {
                    let item = (*ln, Some(*lv), None);
                    l.next();
                    item
                }
                Ordering::Greater => {
                    let item = (*dn, None, Some(*dv));
                    d.next();
                    item
                }
            },
        };
        let change = match (before, after) {
            (None, Some(_)) => ChangeType::Create,
            (Some(_), None) => ChangeType::Destroy,
            (Some(b), Some(a)) if !b.same(a) => ChangeType::Update,
            _ => continue,
        };
        let fields = field_changes(before.map(&wrap), after.map(&wrap));
        if change == ChangeType::Update && fields.is_empty() {
            continue;
        }
        out.push(Change {
            kind,
            name: name.clone(),
            change,
            fields,
            blast_radius: BlastRadius::default(),
        });
    }
}

/// Compare desired with live and measure each change's blast radius.
pub fn diff(live: &Fleet, desired: &Fleet) -> Diff {
    let mut changes = Vec::new();
    diff_map(
        Kind::Templates,
        &live.templates,
        &desired.templates,
        |t: &'_ std::sync::Arc<Template>| Resource::Template(t),
        &mut changes,
    );
    diff_map(
        Kind::Modules,
        &live.modules,
        &desired.modules,
        |m: &'_ std::sync::Arc<Module>| Resource::Module(m),
        &mut changes,
    );
    diff_map(
        Kind::Assignments,
        &live.assignments,
        &desired.assignments,
        |a: &'_ std::sync::Arc<Assignment>| Resource::Assignment(a),
        &mut changes,
    );

    let mut reached: BTreeSet<String> = BTreeSet::new();
    let mut total = BlastRadius::default();
    // Per node: its live rendering (the same for every change that reaches
    // it), how many changes reach it, and the last one's measured count.
    let mut seen: std::collections::HashMap<String, Seen<'_>> = std::collections::HashMap::new();
    let mut on_module = None;
    let changed_modules: Vec<String> = changes
        .iter()
        .filter(|c| c.kind == Kind::Modules)
        .map(|c| c.name.clone())
        .collect();
    for change in &mut changes {
        let nodes = fan_out(change, live, desired, &changed_modules, &mut on_module);
        let density = density(change, live, desired);
        let measured = nodes
            .iter()
            .map(|node| {
                let node_seen = seen.entry(node.clone()).or_insert_with(|| Seen {
                    before: render_node_refs(live, node),
                    changes: 0,
                    measured: 0,
                });
                let after = render_one_change(live, node, change, desired);
                let n = changed_values(&node_seen.before, &after);
                node_seen.changes += 1;
                node_seen.measured = n;
                n
            })
            .sum();
        change.blast_radius = BlastRadius {
            fan_out: nodes.len(),
            density,
            estimate: nodes.len() * density,
            measured,
        };
        total.density += density;
        total.estimate += nodes.len() * density;
        reached.extend(nodes);
    }
    total.fan_out = reached.len();
    total.measured = reached
        .iter()
        .map(|node| match seen.get(node) {
            // Every change that can alter a node's rendering reaches it (an
            // enabled assignment of its, or a module of one): reached by one
            // change, desired renders it as that change alone did.
            Some(s) if s.changes == 1 => s.measured,
            Some(s) => changed_values(&s.before, &render_node_refs(desired, node)),
            None => changed_values(
                &render_node_refs(live, node),
                &render_node_refs(desired, node),
            ),
        })
        .sum();
    Diff { changes, total }
}

/// A reached node: its live rendering, how many changes reach it, and the
/// measured count of the last one.
struct Seen<'a> {
    before: RenderedRefs<'a>,
    changes: usize,
    measured: usize,
}

/// Nodes with an enabled assignment of each changed module, in live or
/// desired: built once (one walk over the assignments) when a module changed.
type OnModule<'a> = std::collections::HashMap<&'a str, BTreeSet<&'a str>>;

fn on_module<'a>(live: &'a Fleet, desired: &'a Fleet, wanted: &[String]) -> OnModule<'a> {
    let mut out = OnModule::new();
    for fleet in [live, desired] {
        for (key, a) in &fleet.assignments {
            // Only the changed modules' nodes are needed: the module part is
            // after the last ':', so most keys are skipped without a full
            // split or a set insert (this walk covers every assignment twice).
            let Some(colon) = key.bytes().rposition(|b| b == b':') else {
                continue;
            };
            let tail = &key[colon + 1..];
            if !a.enabled || !wanted.iter().any(|m| m == tail) {
                continue;
            }
            if let Some((node, module)) = split_assignment_key(key) {
                out.entry(module).or_default().insert(node);
            }
        }
    }
    out
}

/// Nodes whose rendered config the change can reach.
fn fan_out<'a>(
    change: &Change,
    live: &'a Fleet,
    desired: &'a Fleet,
    changed_modules: &[String],
    index: &mut Option<OnModule<'a>>,
) -> BTreeSet<String> {
    let mut nodes = BTreeSet::new();
    match change.kind {
        Kind::Modules => {
            let index = index.get_or_insert_with(|| on_module(live, desired, changed_modules));
            if let Some(on) = index.get(change.name.as_str()) {
                nodes.extend(on.iter().map(|n| n.to_string()));
            }
        }
        Kind::Assignments => {
            let enabled_somewhere = [live, desired]
                .iter()
                .any(|f| f.assignments.get(&change.name).is_some_and(|a| a.enabled));
            if let (true, Some((node, _))) = (enabled_somewhere, split_assignment_key(&change.name))
            {
                nodes.insert(node.to_string());
            }
        }
        Kind::Templates | Kind::ProviderConfigs => {}
    }
    nodes
}

/// Config values carried by the changed unit (an assignment carries its module's).
fn density(change: &Change, live: &Fleet, desired: &Fleet) -> usize {
    match change.kind {
        Kind::Modules => [live, desired]
            .iter()
            .filter_map(|f| f.modules.get(&change.name))
            .map(|m| m.config.len())
            .max()
            .unwrap_or(0),
        Kind::Assignments => [live, desired]
            .iter()
            .filter_map(|f| {
                let a = f.assignments.get(&change.name)?;
                let (_, module) = split_assignment_key(&change.name)?;
                let mut keys: BTreeSet<&String> = a.config.keys().collect();
                if let Some(m) = f.modules.get(module) {
                    keys.extend(m.config.keys());
                }
                Some(keys.len())
            })
            .max()
            .unwrap_or(0),
        Kind::Templates | Kind::ProviderConfigs => 0,
    }
}

/// Render `node` as live would be with only `change` applied from desired.
fn render_one_change<'a>(
    live: &'a Fleet,
    node: &str,
    change: &'a Change,
    desired: &'a Fleet,
) -> RenderedRefs<'a> {
    let mut assignments: Vec<(&str, &str, &Assignment)> = node_assignments(live, node)
        .filter(|(key, _, _)| change.kind != Kind::Assignments || *key != change.name)
        .collect();
    if change.kind == Kind::Assignments {
        if let (Some(a), Some((n, m))) = (
            desired.assignments.get(&change.name),
            split_assignment_key(&change.name),
        ) {
            if n == node {
                assignments.push((change.name.as_str(), m, a));
            }
        }
    }
    render_refs(assignments, |m| {
        if change.kind == Kind::Modules && m == change.name {
            desired.modules.get(m).map(|v| &**v)
        } else {
            live.modules.get(m).map(|v| &**v)
        }
    })
}

/// Keys whose effective value differs (added, removed or changed).
fn changed_values(before: &RenderedRefs<'_>, after: &RenderedRefs<'_>) -> usize {
    use std::cmp::Ordering;
    // Both are sorted by key: one walk over the two instead of a search per key.
    let (mut b, mut a) = (before.iter().peekable(), after.iter().peekable());
    let mut n = 0;
    loop {
        match (b.peek(), a.peek()) {
            (None, None) => return n,
            (Some(_), None) => return n + b.count(),
            (None, Some(_)) => return n + a.count(),
            (Some((bk, (bv, _))), Some((ak, (av, _)))) => match bk.cmp(ak) {
                Ordering::Equal => {
                    n += usize::from(bv != av);
                    b.next();
                    a.next();
                }
                Ordering::Less => {
                    n += 1;
                    b.next();
                }
                Ordering::Greater => {
                    n += 1;
                    a.next();
                }
            },
        }
    }
}
