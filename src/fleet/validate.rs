//! Checks that need the whole fleet: names, key formats, references, ranges,
//! and credentials that must never be in a fleet file.

use super::model::{split_assignment_key, Fleet, Kind, PRIORITY_RANGE};
use super::source_map::SourceMap;
use crate::error::{Diagnostic, Error, Result};

/// Longest accepted resource or node name.
pub const MAX_NAME: usize = 128;

/// Key fragments that mark a provider_configs entry as a credential.
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "private_key",
    "privatekey",
    "credential",
    "access_key",
    "accesskey",
];

/// Why `name` is not safe as a resource name (used in refs and tree paths), if it is not.
pub fn unsafe_name(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("is empty");
    }
    if name.len() > MAX_NAME {
        return Some("is longer than 128 characters");
    }
    if name == "." || name == ".." || name.contains("..") {
        return Some("contains '..'");
    }
    if !name.as_bytes()[0].is_ascii_alphanumeric() {
        return Some("must start with a letter or digit");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        return Some("may only contain letters, digits, '-', '_' and '.'");
    }
    if name.ends_with(".lock") || name.ends_with('.') {
        return Some("must not end with '.' or '.lock'");
    }
    None
}

/// Validate a parsed fleet; every problem is collected, in file order.
pub fn validate(fleet: &Fleet, source: &SourceMap) -> Result<()> {
    let mut problems: Vec<Diagnostic> = Vec::new();
    for name in fleet.templates.keys() {
        if let Some(why) = unsafe_name(name) {
            problems.push(source.diag(
                Kind::Templates,
                name,
                format!("template name '{}' {why}", printable(name)),
            ));
        }
    }
    for (name, module) in &fleet.modules {
        if let Some(why) = unsafe_name(name) {
            problems.push(source.diag(
                Kind::Modules,
                name,
                format!("module name '{}' {why}", printable(name)),
            ));
        }
        if !PRIORITY_RANGE.contains(&module.priority) {
            problems.push(source.diag_field(
                Kind::Modules,
                name,
                "priority",
                format!(
                    "module '{}' has priority {}; priorities must be between {} and {}",
                    printable(name),
                    module.priority,
                    PRIORITY_RANGE.start(),
                    PRIORITY_RANGE.end()
                ),
            ));
        }
    }
    for (key, assignment) in &fleet.assignments {
        let shown = printable(key);
        let Some((node, module)) = split_assignment_key(key) else {
            problems.push(source.diag(
                Kind::Assignments,
                key,
                format!("assignment key '{shown}' must have the form node:module"),
            ));
            continue;
        };
        if let Some(why) = unsafe_name(node) {
            problems.push(source.diag(
                Kind::Assignments,
                key,
                format!("node name '{}' in '{shown}' {why}", printable(node)),
            ));
        } else if let Some(why) = unsafe_name(module) {
            problems.push(source.diag(
                Kind::Assignments,
                key,
                format!("module name '{}' in '{shown}' {why}", printable(module)),
            ));
        } else if !fleet.modules.contains_key(module) {
            problems.push(source.diag(
                Kind::Assignments,
                key,
                format!("assignment '{shown}' names undefined module '{module}'"),
            ));
        }
        if let Some(p) = assignment.priority.filter(|p| !PRIORITY_RANGE.contains(p)) {
            problems.push(source.diag_field(
                Kind::Assignments,
                key,
                "priority",
                format!(
                    "assignment '{shown}' has priority {p}; priorities must be between {} and {}",
                    PRIORITY_RANGE.start(),
                    PRIORITY_RANGE.end()
                ),
            ));
        }
    }
    for (name, value) in &fleet.provider_configs {
        if let Some(why) = unsafe_name(name) {
            problems.push(source.diag(
                Kind::ProviderConfigs,
                name,
                format!("provider config name '{}' {why}", printable(name)),
            ));
        }
        if let Some((path, problem)) = find_credential(value, name) {
            problems.push(source.diag_field(Kind::ProviderConfigs, name, &path, problem));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    problems.sort_by_key(|d| (d.line.unwrap_or(usize::MAX), d.column.unwrap_or(0)));
    Err(Error::Invalid(problems))
}

/// A key that looks like a credential, or a URL carrying one, anywhere in `value`.
fn find_credential(value: &serde_json::Value, path: &str) -> Option<(String, String)> {
    match value {
        serde_json::Value::Object(map) => map.iter().find_map(|(k, v)| {
            let lower = k.to_ascii_lowercase();
            let here = format!("{path}.{k}");
            if SECRET_WORDS.iter().any(|w| lower.contains(w)) {
                let message = format!(
                    "provider_configs key '{}' looks like a secret; credentials never go in a fleet file",
                    printable(&here)
                );
                Some((here, message))
            } else {
                find_credential(v, &here)
            }
        }),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| find_credential(v, &format!("{path}[{i}]"))),
        serde_json::Value::String(s) if has_inline_credentials(s) => Some((
            path.to_string(),
            format!(
                "provider_configs value at '{}' is a URL with inline credentials; credentials never go in a fleet file",
                printable(path)
            ),
        )),
        _ => None,
    }
}

/// `scheme://user:pass@host...`
pub fn has_inline_credentials(s: &str) -> bool {
    let Some((_, rest)) = s.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    match authority.rsplit_once('@') {
        Some((userinfo, _)) => userinfo.contains(':'),
        None => false,
    }
}

/// Names echoed in messages with control characters escaped.
pub fn printable(s: &str) -> String {
    s.chars()
        .flat_map(|c| c.escape_debug())
        .collect::<String>()
        .replace("\\'", "'")
        .replace("\\\"", "\"")
}
