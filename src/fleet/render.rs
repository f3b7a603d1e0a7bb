//! The rendered manifest: a node's effective config is the config of its enabled
//! assignments' modules merged in ascending priority (an assignment's priority
//! overrides its module's), each assignment's own config overriding its module's.
//! Ties are broken by module name so rendering is deterministic.

use super::model::{split_assignment_key, Assignment, Fleet, Module};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// One effective value and the assignment that set it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RenderedValue {
    pub value: serde_json::Value,
    /// The assignment key (`node:module`) whose module or own config won.
    pub from: String,
}

pub type Rendered = BTreeMap<String, RenderedValue>;

/// Which assignments each node has and which nodes use each module.
#[derive(Debug, Default)]
pub struct Index<'a> {
    pub by_node: BTreeMap<&'a str, Vec<(&'a str, &'a str)>>,
    pub by_module: HashMap<&'a str, Vec<&'a str>>,
}

impl<'a> Index<'a> {
    /// Index by node: (assignment key, module) pairs, and by module: nodes.
    pub fn new(fleet: &'a Fleet) -> Index<'a> {
        let mut index = Index::default();
        for key in fleet.assignments.keys() {
            if let Some((node, module)) = split_assignment_key(key) {
                index
                    .by_node
                    .entry(node)
                    .or_default()
                    .push((key.as_str(), module));
                index.by_module.entry(module).or_default().push(node);
            }
        }
        index
    }

    pub fn nodes(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.by_node.keys().copied()
    }
}

/// A rendered config that borrows from the fleet: key -> (value, assignment key).
pub type RenderedRefs<'a> = BTreeMap<&'a str, (&'a serde_json::Value, &'a str)>;

/// Merge `assignments` (key, module name, assignment) of one node, borrowing
/// (the diff renders thousands of nodes and only compares values).
pub fn render_refs<'a>(
    assignments: impl IntoIterator<Item = (&'a str, &'a str, &'a Assignment)>,
    module: impl Fn(&str) -> Option<&'a Module>,
) -> RenderedRefs<'a> {
    let mut layers: Vec<(i64, &str, &str, &Assignment, Option<&Module>)> = assignments
        .into_iter()
        .filter(|(_, _, a)| a.enabled)
        .map(|(key, m, a)| {
            let module = module(m);
            (a.effective_priority(module), m, key, a, module)
        })
        .collect();
    layers.sort_by(|x, y| (x.0, x.1).cmp(&(y.0, y.1)));
    let mut out = RenderedRefs::new();
    for (_, _, key, assignment, module) in layers {
        let module_config = module.map(|m| &m.config).into_iter().flatten();
        for (k, v) in module_config.chain(assignment.config.iter()) {
            out.insert(k.as_str(), (v, key));
        }
    }
    out
}

/// Merge `assignments` (key, module name, assignment) of one node.
pub fn render_with<'a>(
    assignments: impl IntoIterator<Item = (&'a str, &'a str, &'a Assignment)>,
    module: impl Fn(&str) -> Option<&'a Module>,
) -> Rendered {
    render_refs(assignments, module)
        .into_iter()
        .map(|(k, (v, from))| {
            (
                k.to_string(),
                RenderedValue {
                    value: v.clone(),
                    from: from.to_string(),
                },
            )
        })
        .collect()
}

/// The assignments of `node`: keys sort so that all `node:*` keys are
/// contiguous, so this is a range lookup, not a scan.
pub fn node_assignments<'a>(
    fleet: &'a Fleet,
    node: &str,
) -> impl Iterator<Item = (&'a str, &'a str, &'a Assignment)> + 'a {
    let prefix = format!("{node}:");
    fleet
        .assignments
        .range::<str, _>((
            std::ops::Bound::Included(prefix.as_str()),
            std::ops::Bound::Unbounded,
        ))
        // The range keeps no borrow of its bound: no Vec needed to outlive `prefix`.
        .take_while(move |(k, _)| k.starts_with(&prefix))
        .filter_map(|(k, a)| split_assignment_key(k).map(|(_, m)| (k.as_str(), m, &**a)))
}

/// The rendered config of `node` in `fleet`, without an index, borrowing.
pub fn render_node_refs<'a>(fleet: &'a Fleet, node: &str) -> RenderedRefs<'a> {
    render_refs(node_assignments(fleet, node), |m| {
        fleet.modules.get(m).map(|v| &**v)
    })
}

/// The rendered config of `node` in `fleet`.
pub fn render_node(fleet: &Fleet, index: &Index<'_>, node: &str) -> Rendered {
    let pairs = index.by_node.get(node).map(Vec::as_slice).unwrap_or(&[]);
    render_with(
        pairs
            .iter()
            .filter_map(|(key, m)| fleet.assignments.get(*key).map(|a| (*key, *m, &**a))),
        |m| fleet.modules.get(m).map(|v| &**v),
    )
}

/// Every node's rendered config (nodes are the node names of assignment keys).
pub fn render_all(fleet: &Fleet) -> BTreeMap<String, Rendered> {
    let index = Index::new(fleet);
    index
        .nodes()
        .map(|n| (n.to_string(), render_node(fleet, &index, n)))
        .collect()
}
