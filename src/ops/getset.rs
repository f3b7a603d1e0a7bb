//! `get` and `set`: find and upsert values of the resources a selector
//! matches, in a target's desired file.

use super::select::{select_each, Selector};
use super::yamledit::{parse_scalar, Edit};
use crate::error::{Error, Result};
use crate::fleet::{Fleet, Kind};
use serde::Serialize;
use serde_json::Value;

/// One value `get` found.
#[derive(Debug, Clone, Serialize)]
pub struct Found {
    /// `kind/name`.
    pub resource: String,
    /// The dotted key asked for (None: the whole resource).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// None when the resource has no such key.
    pub value: Option<Value>,
}

/// A dotted path into a resource (`config.nginx_workers`), checked.
pub fn key_path(key: &str) -> Result<Vec<String>> {
    let parts: Vec<String> = key.split('.').map(str::to_string).collect();
    if parts.iter().any(String::is_empty) {
        return Err(Error::usage(format!(
            "key '{key}': expected a dotted path such as config.nginx_workers"
        )));
    }
    Ok(parts)
}

/// The values of `key` (or whole resources) of what `selectors` match.
pub fn get(
    fleet: &Fleet,
    file: &str,
    selectors: &[Selector],
    key: Option<&str>,
) -> Result<Vec<Found>> {
    let path = key.map(key_path).transpose()?;
    let mut out = Vec::new();
    for (kind, name) in select_each(fleet, selectors, file)? {
        let resource = crate::proposals::resource_json(fleet, kind, &name);
        let value = match &path {
            None => resource,
            Some(p) => {
                resource.and_then(|r| p.iter().try_fold(r, |v, k| v.get(k.as_str()).cloned()))
            }
        };
        out.push(Found {
            resource: format!("{kind}/{name}"),
            key: key.map(str::to_string),
            value,
        });
    }
    Ok(out)
}

/// `KEY=VALUE` arguments: the dotted key and the value typed as YAML.
pub fn parse_assignments(args: &[String]) -> Result<Vec<(String, Vec<String>, Value)>> {
    if args.is_empty() {
        return Err(Error::usage(
            "nothing to set: give KEY=VALUE (e.g. config.nginx_workers=6)",
        ));
    }
    args.iter()
        .map(|a| {
            let (key, value) = a.split_once('=').ok_or_else(|| {
                Error::usage(format!(
                    "'{a}': expected KEY=VALUE (e.g. config.nginx_workers=6)"
                ))
            })?;
            Ok((key.to_string(), key_path(key)?, parse_scalar(value)?))
        })
        .collect()
}

/// The edits `set` makes: every KEY=VALUE in every selected resource.
/// Provider configs are informational and never edited here.
pub fn plan(
    fleet: &Fleet,
    file: &str,
    selectors: &[Selector],
    values: &[(String, Vec<String>, Value)],
) -> Result<Vec<Edit>> {
    let mut edits = Vec::new();
    for (kind, name) in select_each(fleet, selectors, file)? {
        if kind == Kind::ProviderConfigs {
            return Err(Error::usage(format!(
                "provider_configs/{name} is informational only: set does not edit it"
            )));
        }
        for (_, path, value) in values {
            let mut full = vec![kind.as_str().to_string(), name.clone()];
            full.extend(path.iter().cloned());
            edits.push(Edit::Set {
                path: full,
                value: value.clone(),
            });
        }
    }
    Ok(edits)
}

/// The commit message of a `set`: what was set, the user's message, and the
/// trailers (`Fleet-Target`, `Fleet-Selector`, `Fleet-Keys`, `Fleet-Policy`).
pub fn commit_message(
    selector: &Selector,
    args: &[String],
    body: Option<&str>,
    prepared: &super::edit::Prepared,
) -> String {
    let mut message = format!("set {}: {}\n\n", selector.text, args.join(" "));
    if let Some(body) = body.map(str::trim).filter(|m| !m.is_empty()) {
        message.push_str(body);
        message.push_str("\n\n");
    }
    if let Some(t) = &prepared.place.target {
        message.push_str(&format!("Fleet-Target: {t}\n"));
    }
    message.push_str(&format!("Fleet-Selector: {}\n", selector.text));
    let keys: Vec<&str> = args
        .iter()
        .map(|a| a.split_once('=').map_or(a.as_str(), |(k, _)| k))
        .collect();
    message.push_str(&format!("Fleet-Keys: {}\n", keys.join(" ")));
    for note in prepared.policy_notes() {
        message.push_str(&format!("Fleet-Policy: {note}\n"));
    }
    message
}
