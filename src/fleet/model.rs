//! The typed model of fleet.yaml (desired state) and of live snapshots.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A module's or assignment's configuration: top-level keys to YAML values.
pub type Config = BTreeMap<String, serde_json::Value>;

/// Default module priority when fleet.yaml leaves it out.
pub const DEFAULT_PRIORITY: i64 = 50;
/// Priorities are accepted in this inclusive range.
pub const PRIORITY_RANGE: std::ops::RangeInclusive<i64> = 0..=100;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Template {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_platform_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Module {
    pub name: String,
    pub priority: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variety: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: Config,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: Config,
}

/// One fleet state: what fleet.yaml declares, or what a live snapshot recorded.
/// Resources are shared (`Arc`): a desired fleet built from a live one with a
/// few edits shares every unchanged resource instead of copying it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Fleet {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub templates: BTreeMap<String, Arc<Template>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub modules: BTreeMap<String, Arc<Module>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub assignments: BTreeMap<String, Arc<Assignment>>,
    /// Informational only: never compared, applied, or searched for credentials beyond validation.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub provider_configs: BTreeMap<String, serde_json::Value>,
}

/// The kinds of resource fleet.yaml declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Templates,
    Modules,
    Assignments,
    ProviderConfigs,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::Templates,
        Kind::Modules,
        Kind::Assignments,
        Kind::ProviderConfigs,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Templates => "templates",
            Kind::Modules => "modules",
            Kind::Assignments => "assignments",
            Kind::ProviderConfigs => "provider_configs",
        }
    }

    /// The singular noun, for messages.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Templates => "template",
            Kind::Modules => "module",
            Kind::Assignments => "assignment",
            Kind::ProviderConfigs => "provider config",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Split an assignment key `node:module`.
pub fn split_assignment_key(key: &str) -> Option<(&str, &str)> {
    let (node, module) = key.split_once(':')?;
    if node.is_empty() || module.is_empty() || module.contains(':') {
        return None;
    }
    Some((node, module))
}

impl Assignment {
    /// The priority this assignment renders at: its own, else its module's.
    pub fn effective_priority(&self, module: Option<&Module>) -> i64 {
        self.priority
            .or(module.map(|m| m.priority))
            .unwrap_or(DEFAULT_PRIORITY)
    }
}

impl Fleet {
    /// Number of resources of each kind.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        BTreeMap::from([
            ("templates", self.templates.len()),
            ("modules", self.modules.len()),
            ("assignments", self.assignments.len()),
            ("provider_configs", self.provider_configs.len()),
        ])
    }
}
