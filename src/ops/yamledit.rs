//! Lossless edits of a desired file: only the edited entries change, every
//! other byte (comments, key order, quoting, odd spacing) stays as written.
//!
//! The edit is made on a concrete syntax tree (`yaml-edit`, rowan-based), never
//! by re-serialising the parsed model. The result is then parsed again with the
//! project's strict parser and validated, and each value set is read back:
//! an edit that does not round-trip is refused, nothing is written.

use crate::error::{Diagnostic, Error, Result};
use crate::fleet::{Kind, Parsed};
use serde::Serialize;
use serde_json::Value;
use std::str::FromStr;
use yaml_edit::{Document, Mapping, Sequence};

/// One change to the document, by path of mapping keys from the root
/// (`["modules", "nginx-public", "config", "nginx_workers"]`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Edit {
    /// Upsert: missing mappings on the way are created.
    Set { path: Vec<String>, value: Value },
    /// Remove the entry (nothing to do when it is absent).
    Remove { path: Vec<String> },
}

impl Edit {
    pub fn path(&self) -> &[String] {
        match self {
            Edit::Set { path, .. } | Edit::Remove { path } => path,
        }
    }
}

/// Apply `edits` to `text` (the file `label`, which parses to `before`); the
/// new text and its parse. Refused (nothing changes) when the result does not
/// parse, does not validate, or does not mean exactly `before` plus the edits.
pub fn apply(
    label: &str,
    text: &str,
    before: &crate::fleet::Fleet,
    edits: &[Edit],
) -> Result<(String, Parsed)> {
    let located = |message: String| Error::invalid(Diagnostic::new(label, message));
    let doc = Document::from_str(text).map_err(|e| {
        located(format!(
            "cannot edit: the file does not parse as YAML ({e})"
        ))
    })?;
    let root = doc.as_mapping().ok_or_else(|| {
        located(
            "cannot edit: the document is not a mapping of kinds (templates, modules, ...)".into(),
        )
    })?;
    for edit in edits {
        match edit {
            Edit::Set { path, value } => set_path(label, &root, path, value)?,
            Edit::Remove { path } => remove_path(&root, path),
        }
    }
    let out = doc.to_string();
    let parsed = crate::fleet::parse(label, out.as_bytes()).map_err(|e| match e {
        Error::Invalid(mut diags) => {
            for d in &mut diags {
                d.message = format!("after the edit: {}", d.message);
            }
            Error::Invalid(diags)
        }
        other => other,
    })?;
    for edit in edits {
        if let Edit::Set { path, value } = edit {
            let got = read_back(&parsed, path);
            if got.as_ref() != Some(value) {
                return Err(located(format!(
                    "the edit of {} did not read back as {value} (got {}); nothing written",
                    path.join("."),
                    got.map(|v| v.to_string())
                        .unwrap_or_else(|| "nothing".into())
                )));
            }
        }
    }
    // The file must now mean exactly what it meant plus the edits: an
    // editor that touched anything else is caught here.
    match expected(before, edits) {
        Ok(want) if want == parsed.fleet => {}
        Ok(want) => {
            let also: Vec<String> = crate::fleet::diff::diff(&want, &parsed.fleet)
                .changes
                .iter()
                .map(|c| format!("{}/{}", c.kind, c.name))
                .collect();
            return Err(located(format!(
                "the edit would also change {} (a value shared through a YAML anchor/alias?); nothing written",
                if also.is_empty() { "other values".to_string() } else { also.join(", ") }
            )));
        }
        Err(why) => return Err(located(format!("cannot edit: {why}"))),
    }
    Ok((out, parsed))
}

/// `fleet` with `edits` applied to its model (what the edited file must parse to).
fn expected(
    fleet: &crate::fleet::Fleet,
    edits: &[Edit],
) -> std::result::Result<crate::fleet::Fleet, String> {
    let mut out = fleet.clone();
    for edit in edits {
        let [kind, name, rest @ ..] = edit.path() else {
            return Err(format!(
                "path {} is not kind.name...",
                edit.path().join(".")
            ));
        };
        let kind = Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == kind)
            .ok_or_else(|| format!("unknown kind '{kind}'"))?;
        let resource = match edit {
            Edit::Set { value, .. } if rest.is_empty() => Some(value.clone()),
            Edit::Set { value, .. } => {
                let mut r =
                    crate::proposals::resource_json(&out, kind, name).unwrap_or(Value::Null);
                put(&mut r, rest, value.clone())?;
                Some(r)
            }
            Edit::Remove { .. } if rest.is_empty() => None,
            Edit::Remove { .. } => {
                let mut r =
                    crate::proposals::resource_json(&out, kind, name).unwrap_or(Value::Null);
                remove(&mut r, rest);
                Some(r)
            }
        };
        crate::proposals::set_resource(&mut out, kind, name, resource.as_ref())
            .map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// Upsert `value` at `path` in a JSON value, creating objects on the way.
pub fn put(at: &mut Value, path: &[String], value: Value) -> std::result::Result<(), String> {
    let Some((last, parents)) = path.split_last() else {
        *at = value;
        return Ok(());
    };
    let mut at = at;
    for key in parents {
        if at.is_null() {
            *at = Value::Object(Default::default());
        }
        at = at
            .as_object_mut()
            .ok_or_else(|| format!("{key} is inside a value that is not a mapping"))?
            .entry(key.clone())
            .or_insert(Value::Null);
    }
    if at.is_null() {
        *at = Value::Object(Default::default());
    }
    at.as_object_mut()
        .ok_or_else(|| format!("{last} is inside a value that is not a mapping"))?
        .insert(last.clone(), value);
    Ok(())
}

fn remove(at: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut at = at;
    for key in parents {
        match at.get_mut(key.as_str()) {
            Some(next) => at = next,
            None => return,
        }
    }
    if let Some(map) = at.as_object_mut() {
        map.remove(last.as_str());
    }
}

/// The value at `path` ([kind, name, field...]) in a parsed fleet.
pub fn read_back(parsed: &Parsed, path: &[String]) -> Option<Value> {
    let [kind, name, rest @ ..] = path else {
        return None;
    };
    let kind = Kind::ALL.into_iter().find(|k| k.as_str() == kind)?;
    let resource = crate::proposals::resource_json(&parsed.fleet, kind, name)?;
    rest.iter()
        .try_fold(resource, |v, k| v.get(k.as_str()).cloned())
}

fn set_path(label: &str, root: &Mapping, path: &[String], value: &Value) -> Result<()> {
    let Some((last, parents)) = path.split_last() else {
        return Ok(());
    };
    let mut map = root.clone();
    for (i, key) in parents.iter().enumerate() {
        match map.get_mapping(key.as_str()) {
            Some(next) => map = next,
            None if map.contains_key(key.as_str()) && !is_null(&map, key) => {
                return Err(Error::invalid(Diagnostic::new(
                    label,
                    format!(
                        "cannot set {}: {} is not a mapping",
                        path.join("."),
                        path[..=i].join(".")
                    ),
                )))
            }
            None => {
                // Build the rest of the path as one new nested mapping.
                let mut nested = value.clone();
                for k in path[i + 1..].iter().rev() {
                    let mut m = serde_json::Map::new();
                    m.insert(k.clone(), nested);
                    nested = Value::Object(m);
                }
                set_json(&map, key, &nested);
                return Ok(());
            }
        }
    }
    set_json(&map, last, value);
    Ok(())
}

fn is_null(map: &Mapping, key: &str) -> bool {
    map.get(key)
        .and_then(|n| n.as_scalar().map(|s| s.is_null()))
        .unwrap_or(false)
}

fn remove_path(root: &Mapping, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut map = root.clone();
    for key in parents {
        match map.get_mapping(key.as_str()) {
            Some(next) => map = next,
            None => return,
        }
    }
    map.remove(last.as_str());
}

/// Upsert `key: value` in `map`, typed as the JSON value is.
fn set_json(map: &Mapping, key: &str, value: &Value) {
    match value {
        Value::Null => map.set(key, Option::<i64>::None),
        Value::Bool(b) => map.set(key, *b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => map.set(key, i),
            (None, Some(u)) => map.set(key, u),
            _ => map.set(key, n.as_f64().unwrap_or_default()),
        },
        Value::String(s) => map.set(key, s.as_str()),
        Value::Array(items) => map.set(key, sequence(items)),
        Value::Object(entries) => map.set(key, mapping(entries)),
    }
}

fn mapping(entries: &serde_json::Map<String, Value>) -> Mapping {
    let m = Mapping::new();
    for (k, v) in entries {
        set_json(&m, k, v);
    }
    m
}

fn sequence(items: &[Value]) -> Sequence {
    let s = Sequence::new();
    for v in items {
        match v {
            Value::Null => s.push(Option::<i64>::None),
            Value::Bool(b) => s.push(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => s.push(i),
                None => s.push(n.as_f64().unwrap_or_default()),
            },
            Value::String(t) => s.push(t.as_str()),
            Value::Array(inner) => s.push(sequence(inner)),
            Value::Object(entries) => s.push(mapping(entries)),
        }
    }
    s
}

/// A command-line value typed as YAML would type it (`3` is an int, `true` a
/// boolean, `"3"` a string), read by the same strict parser as fleet files.
pub fn parse_scalar(text: &str) -> Result<Value> {
    if text.trim().is_empty() {
        return Ok(Value::String(text.to_string()));
    }
    let value = serde_saphyr::from_str_with_options::<Value>(text, crate::fleet::parse::options())
        .map_err(|e| {
            Error::usage(format!(
                "value {text:?} is not valid YAML: {}",
                crate::fleet::parse::yaml_diagnostic("value", &e, 0).message
            ))
        })?;
    // `#x` is a YAML comment, so null: never guess that was meant.
    if value.is_null() && !matches!(text.trim(), "null" | "Null" | "NULL" | "~") {
        return Err(Error::usage_hint(
            format!("value {text:?} reads as null in YAML (a comment?)"),
            "quote it for a string, e.g. KEY='\"#x\"', or write null",
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ODD: &str = "# top\nmodules:\n  # the public one\n  nginx-public:\n    priority:   40   # odd\n    config:\n      nginx_workers: 4   # workers\n      'name_q': \"x\"\n  db: {priority: 10}\n";

    fn odd() -> crate::fleet::Fleet {
        crate::fleet::parse("f.yaml", ODD.as_bytes()).unwrap().fleet
    }

    fn set(path: &str, value: Value) -> Edit {
        Edit::Set {
            path: path.split('.').map(str::to_string).collect(),
            value,
        }
    }

    #[test]
    fn one_value_changes_one_line() {
        let (out, _) = apply(
            "f.yaml",
            ODD,
            &odd(),
            &[set("modules.nginx-public.config.nginx_workers", 6.into())],
        )
        .unwrap();
        let changed: Vec<_> = ODD
            .lines()
            .zip(out.lines())
            .filter(|(a, b)| a != b)
            .collect();
        assert_eq!(
            changed,
            vec![(
                "      nginx_workers: 4   # workers",
                "      nginx_workers: 6   # workers"
            )]
        );
        assert_eq!(ODD.lines().count(), out.lines().count());
    }

    #[test]
    fn missing_mappings_are_created_and_invalid_results_refused() {
        let (out, parsed) = apply(
            "f.yaml",
            ODD,
            &odd(),
            &[set("modules.db.config.pool", 5.into())],
        )
        .unwrap();
        assert_eq!(
            read_back(
                &parsed,
                &[
                    "modules".into(),
                    "db".into(),
                    "config".into(),
                    "pool".into()
                ]
            ),
            Some(5.into())
        );
        assert!(
            out.starts_with("# top\nmodules:\n  # the public one\n"),
            "{out}"
        );
        let e = apply(
            "f.yaml",
            ODD,
            &odd(),
            &[set("modules.db.priority", 500.into())],
        )
        .unwrap_err();
        assert!(e.to_string().contains("f.yaml"), "{e}");
    }

    #[test]
    fn scalars_are_typed_as_yaml() {
        assert_eq!(parse_scalar("3").unwrap(), Value::from(3));
        assert_eq!(parse_scalar("\"3\"").unwrap(), Value::from("3"));
        assert_eq!(parse_scalar("true").unwrap(), Value::from(true));
        assert_eq!(parse_scalar("TLSv1.3").unwrap(), Value::from("TLSv1.3"));
        assert_eq!(parse_scalar("").unwrap(), Value::from(""));
        assert_eq!(parse_scalar("~").unwrap(), Value::Null);
        assert!(parse_scalar("#x").is_err());
    }
}
