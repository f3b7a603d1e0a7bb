//! `diff --rendered`: per node, the rendered values a diff changes (before
//! -> after), and the provider_configs changes that diff never proposes.

use crate::error::{Error, Result};
use crate::fleet::render::{render_node_refs, Index};
use crate::fleet::Fleet;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeSet;

#[derive(Debug, Clone, Serialize)]
pub struct ValueChange {
    pub key: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    /// The assignment whose layer set the value, on each side.
    pub before_from: Option<String>,
    pub after_from: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeChanges {
    pub node: String,
    pub values: Vec<ValueChange>,
}

/// One provider config that differs: informational, never applied.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderChange {
    pub name: String,
    /// create, update or destroy.
    pub change: &'static str,
    /// Leaf paths (`region`, `network.zone`, `list[1]`) before -> after.
    pub fields: Vec<PathChange>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PathChange {
    pub path: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Rendered values that differ between `before` (live) and `after`
/// (desired), per node, for `nodes` (empty: every node on either side; an
/// unknown one is refused, naming the nodes there are). Nodes without a
/// change are left out.
pub fn node_changes(before: &Fleet, after: &Fleet, nodes: &[String]) -> Result<Vec<NodeChanges>> {
    let (bi, ai) = (Index::new(before), Index::new(after));
    let all: BTreeSet<&str> = bi.nodes().chain(ai.nodes()).collect();
    for n in nodes {
        if !all.contains(n.as_str()) {
            return Err(Error::usage(format!(
                "unknown node '{n}': neither desired nor live has it; {}",
                super::known_list("nodes", n, all.iter().copied())
            )));
        }
    }
    let wanted: Vec<&str> = if nodes.is_empty() {
        all.into_iter().collect()
    } else {
        nodes.iter().map(String::as_str).collect()
    };
    let mut out = Vec::new();
    for node in wanted {
        let (b, a) = (
            render_node_refs(before, node),
            render_node_refs(after, node),
        );
        let keys: BTreeSet<&str> = b.keys().chain(a.keys()).copied().collect();
        let values: Vec<ValueChange> = keys
            .into_iter()
            .filter_map(|k| {
                let (bv, av) = (b.get(k), a.get(k));
                if bv.map(|x| x.0) == av.map(|x| x.0) {
                    return None;
                }
                Some(ValueChange {
                    key: k.to_string(),
                    before: bv.map(|x| x.0.clone()),
                    after: av.map(|x| x.0.clone()),
                    before_from: bv.map(|x| x.1.to_string()),
                    after_from: av.map(|x| x.1.to_string()),
                })
            })
            .collect();
        if !values.is_empty() {
            out.push(NodeChanges {
                node: node.to_string(),
                values,
            });
        }
    }
    Ok(out)
}

/// provider_configs that differ, leaf by leaf.
pub fn provider_changes(before: &Fleet, after: &Fleet) -> Vec<ProviderChange> {
    let names: BTreeSet<&String> = before
        .provider_configs
        .keys()
        .chain(after.provider_configs.keys())
        .collect();
    let mut out = Vec::new();
    for name in names {
        let (b, a) = (
            before.provider_configs.get(name),
            after.provider_configs.get(name),
        );
        if b == a {
            continue;
        }
        let mut fields = Vec::new();
        leaf_diff("", b, a, &mut fields);
        out.push(ProviderChange {
            name: name.clone(),
            change: match (b, a) {
                (None, _) => "create",
                (_, None) => "destroy",
                _ => "update",
            },
            fields,
        });
    }
    out
}

/// Differences between two JSON values, by leaf path.
pub fn leaf_diff(path: &str, b: Option<&Value>, a: Option<&Value>, out: &mut Vec<PathChange>) {
    // A mapping that appears or goes lists its leaves, not one opaque value.
    let empty = Value::Object(Default::default());
    let (b, a) = match (b, a) {
        (None, Some(Value::Object(_))) => (Some(&empty), a),
        (Some(Value::Object(_)), None) => (b, Some(&empty)),
        _ => (b, a),
    };
    match (b, a) {
        (Some(Value::Object(bm)), Some(Value::Object(am))) => {
            let keys: BTreeSet<&String> = bm.keys().chain(am.keys()).collect();
            for k in keys {
                let sub = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                leaf_diff(&sub, bm.get(k), am.get(k), out);
            }
        }
        (Some(Value::Array(ba)), Some(Value::Array(aa))) => {
            for i in 0..ba.len().max(aa.len()) {
                leaf_diff(&format!("{path}[{i}]"), ba.get(i), aa.get(i), out);
            }
        }
        _ if b == a => {}
        _ => out.push(PathChange {
            path: if path.is_empty() {
                "(value)".into()
            } else {
                path.to_string()
            },
            before: b.cloned(),
            after: a.cloned(),
        }),
    }
}
