//! `[[ignore]]` rules: drift in matching fields is never proposed and never
//! counted in blast radius. Applied by making desired agree with live on
//! those fields before diffing, so every count follows from one diff.

use crate::config::{Config, IgnoreRule};
use crate::fleet::diff::{diff, ChangeType};
use crate::fleet::{Fleet, Kind};
use crate::proposals::{resource_json, set_resource};
use glob::{MatchOptions, Pattern};
use serde::Serialize;
use serde_json::Value;

/// One field whose drift a rule ignores.
#[derive(Debug, Clone, Serialize)]
pub struct Ignored {
    /// `kind/name/field`, e.g. `modules/web/config.replicas`.
    pub path: String,
    pub live: Option<Value>,
    pub desired: Option<Value>,
    /// The rule's `path`, and its `reason`.
    pub rule: String,
    pub reason: Option<String>,
}

fn options() -> MatchOptions {
    MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: false,
    }
}

fn rule_for<'a>(rules: &'a [IgnoreRule], target: &str, path: &str) -> Option<&'a IgnoreRule> {
    rules.iter().find(|r| {
        r.target.as_deref().is_none_or(|t| t == target)
            && Pattern::new(&r.path).is_ok_and(|p| p.matches_with(path, options()))
    })
}

/// `desired` with every ignored field set to live's value (or left out when
/// live has none), and the fields that were ignored. Only updates of
/// resources both sides have are touched: a whole resource is never ignored.
pub fn neutralize(
    config: &Config,
    target: &str,
    live: &Fleet,
    desired: Fleet,
) -> (Fleet, Vec<Ignored>) {
    if config.ignore.is_empty() {
        return (desired, Vec::new());
    }
    let mut out = desired.clone();
    let mut ignored = Vec::new();
    for change in diff(live, &desired).changes {
        if change.change != ChangeType::Update || change.kind == Kind::ProviderConfigs {
            continue;
        }
        let Some(mut resource) = resource_json(&out, change.kind, &change.name) else {
            continue;
        };
        let mut touched = false;
        for f in &change.fields {
            let path = format!("{}/{}/{}", change.kind, change.name, f.field);
            let Some(rule) = rule_for(&config.ignore, target, &path) else {
                continue;
            };
            let (parent, key) = match f.field.strip_prefix("config.") {
                Some(k) => (Some("config"), k),
                None => (None, f.field.as_str()),
            };
            let slot = match parent {
                Some(p) => resource.as_object_mut().map(|o| {
                    o.entry(p)
                        .or_insert_with(|| Value::Object(Default::default()))
                }),
                None => Some(&mut resource),
            };
            if let Some(Value::Object(map)) = slot {
                match &f.before {
                    Some(v) => {
                        map.insert(key.to_string(), v.clone());
                    }
                    None => {
                        map.remove(key);
                    }
                }
                touched = true;
                ignored.push(Ignored {
                    path,
                    live: f.before.clone(),
                    desired: f.after.clone(),
                    rule: rule.path.clone(),
                    reason: rule.reason.clone(),
                });
            }
        }
        if touched && set_resource(&mut out, change.kind, &change.name, Some(&resource)).is_err() {
            // A field live holds that desired's model cannot: keep desired.
            set_resource(
                &mut out,
                change.kind,
                &change.name,
                resource_json(&desired, change.kind, &change.name).as_ref(),
            )
            .ok();
        }
    }
    (out, ignored)
}
