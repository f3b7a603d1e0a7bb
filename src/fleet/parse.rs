//! Parsing untrusted fleet.yaml with serde-saphyr under strict options: one
//! document, bounded size, depth and alias expansion, duplicate keys refused at
//! every level, no tags or merge keys honoured. Every error names file:line:col.

use super::model::{Assignment, Config, Fleet, Kind, Module, Template, DEFAULT_PRIORITY};
use super::validate;
use crate::error::{Diagnostic, Error, Result};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::Spanned;
use std::marker::PhantomData;

/// fleet.yaml larger than this is refused before parsing.
pub const MAX_BYTES: usize = 1024 * 1024;
/// Deepest nesting accepted (mappings and sequences).
pub const MAX_DEPTH: usize = 64;

pub use super::source_map::SourceMap;

/// A parsed and validated fleet with the position of every resource.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub fleet: Fleet,
    pub source: SourceMap,
}

/// Parse and validate fleet.yaml bytes; `file` is the name used in messages.
pub fn parse(file: &str, bytes: &[u8]) -> Result<Parsed> {
    let text = check_text(file, bytes)?;
    // Every problem keeps its source line, shown under the message.
    parse_text(file, text).map_err(|e| e.with_source(file, text))
}

fn parse_text(file: &str, text: &str) -> Result<Parsed> {
    let raw: RawFleet = serde_saphyr::from_str_with_options(text, options())
        .map_err(|e| Error::invalid(in_words(yaml_diagnostic(file, &e, 0), text)))?;
    let (fleet, source) = raw.into_fleet(file, 0)?;
    validate::validate(&fleet, &source)?;
    Ok(Parsed { fleet, source })
}

/// What the parser's message leaves out, from the text: the key whose value
/// has the wrong type (and that value), and the line a tab really indents
/// (the scanner notices it on the line before or at the next token).
fn in_words(d: Diagnostic, text: &str) -> Diagnostic {
    let Some(line) = d.line else { return d };
    if d.message.contains("tab") {
        return tab_indent(&d, text, line).unwrap_or(d);
    }
    let must = match d.message.as_str() {
        "expected an integer" => "must be an integer",
        "expected a number" => "must be a number",
        "expected a boolean: write true or false" => "must be true or false",
        "expected a mapping (key: value pairs)" => "must be a mapping (key: value pairs)",
        // serde-saphyr's words for any scalar a list or mapping stands in for.
        "expected string scalar" => "must be a single value, not a list or mapping",
        "expected a string" => "must be a string",
        _ => return d,
    };
    let Some(source) = text.split('\n').nth(line - 1) else {
        return d;
    };
    let col = d.column.unwrap_or(1).max(1);
    let split = source
        .char_indices()
        .nth(col - 1)
        .map_or(source.len(), |(i, _)| i);
    let (before, value) = source.split_at(split);
    // `  key: <value>`, `- key: <value>` or `{a: {key: <value>}}`: the key is
    // left of the colon, after any flow bracket or comma.
    let Some(key) = before
        .trim_end()
        .strip_suffix(':')
        .map(|k| {
            k.rsplit(['{', '[', ','])
                .next()
                .unwrap_or(k)
                .trim()
                .trim_start_matches("- ")
                .trim()
                .trim_matches(['"', '\''])
        })
        .filter(|k| !k.is_empty())
    else {
        return d;
    };
    let flow = before.contains(['{', '[']);
    let value = value
        .split(" #")
        .next()
        .unwrap_or("")
        .trim_end_matches('\r');
    let value = if flow {
        value.split([',', '}', ']']).next().unwrap_or("")
    } else {
        value
    }
    .trim();
    let mut out = Diagnostic {
        message: if value.is_empty() {
            format!("'{key}' {must}")
        } else {
            format!("'{key}' {must}, found '{value}'")
        },
        ..d
    };
    if !value.is_empty() {
        out = out.spanning(value.chars().count());
    }
    out
}

/// The first line from `line - 1` on whose indentation holds a tab.
fn tab_indent(d: &Diagnostic, text: &str, line: usize) -> Option<Diagnostic> {
    text.split('\n')
        .enumerate()
        .skip(line.saturating_sub(2))
        .find_map(|(n, l)| {
            let indent = &l[..l.len() - l.trim_start_matches([' ', '\t']).len()];
            let col = indent.chars().position(|c| c == '\t')?;
            Some(
                Diagnostic::new(
                    d.file.clone(),
                    "a tab indents this line: YAML indents with spaces only",
                )
                .at(n + 1, col + 1)
                .spanning(1),
            )
        })
}

/// Size and encoding checks no YAML parser enforces.
pub fn check_text<'a>(file: &str, bytes: &'a [u8]) -> Result<&'a str> {
    if bytes.len() > MAX_BYTES {
        return Err(Error::invalid(Diagnostic::new(
            file,
            format!(
                "file is {} bytes; fleet files are limited to 1 MiB ({MAX_BYTES} bytes)",
                bytes.len()
            ),
        )));
    }
    std::str::from_utf8(bytes).map_err(|e| {
        let valid = &bytes[..e.valid_up_to()];
        let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = valid.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        let col = String::from_utf8_lossy(&valid[line_start..])
            .chars()
            .count()
            + 1;
        Error::invalid(
            Diagnostic::new(
                file,
                format!("not valid UTF-8 (byte 0x{:02x})", bytes[e.valid_up_to()]),
            )
            .at(line, col),
        )
    })
}

pub(crate) fn options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = MAX_DEPTH;
    budget.max_nodes = 2_000_000; // a 1 MiB fleet is ~300k nodes; the byte limit bounds the rest
    budget.max_documents = 1;
    budget.max_aliases = 10_000;
    budget.max_anchors = 10_000;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.strict_booleans = true;
    options.reject_unsupported_tags = true;
    options.merge_keys = serde_saphyr::MergeKeyPolicy::Error;
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    options.with_snippet = false;
    options.alias_limits.max_total_replayed_events = 10_000;
    options.alias_limits.max_alias_expansions_per_anchor = 1_000;
    options
}

/// Turn a serde-saphyr error into a message for people, shifted by `line_offset`.
pub(crate) fn yaml_diagnostic(
    file: &str,
    err: &serde_saphyr::Error,
    line_offset: usize,
) -> Diagnostic {
    use serde_saphyr::Error as E;
    let message = match err.without_snippet() {
        E::DuplicateMappingKey { key: Some(key), .. } => format!("duplicate key '{key}'"),
        E::DuplicateMappingKey { key: None, .. } => "duplicate key".to_string(),
        E::UnsupportedTag { tag, .. } => {
            format!("YAML tag '{tag}' is not allowed: fleet files are plain data")
        }
        E::MultipleDocuments { .. } => {
            "more than one YAML document: a fleet file holds exactly one".to_string()
        }
        E::MergeKeyNotAllowed { .. } => {
            "merge keys ('<<') are not allowed: write the keys out".to_string()
        }
        E::Budget { breach, .. } => budget_message(&format!("{breach:?}")),
        E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. } => {
            "aliases expand beyond the allowed bound (alias bomb?)".to_string()
        }
        E::InvalidBooleanStrict { .. } => "expected a boolean: write true or false".to_string(),
        other => {
            let text = other.to_string();
            if text.contains("alias") && (text.contains("limit") || text.contains("exceeded")) {
                "aliases expand beyond the allowed bound (alias bomb?)".to_string()
            } else {
                clean_message(&text)
            }
        }
    };
    let d = Diagnostic::new(file, message);
    match err.location() {
        Some(loc) if loc.line() > 0 => d.at(
            loc.line() as usize + line_offset,
            loc.column().max(1) as usize,
        ),
        _ => d,
    }
}

fn budget_message(breach: &str) -> String {
    let lower = breach.to_lowercase();
    if lower.contains("depth") {
        format!("nesting deeper than {MAX_DEPTH} levels")
    } else if lower.contains("alias") || lower.contains("anchor") || lower.contains("replay") {
        "aliases expand beyond the allowed bound (alias bomb?)".to_string()
    } else if lower.contains("document") {
        "more than one YAML document: a fleet file holds exactly one".to_string()
    } else {
        format!("document exceeds a parser limit ({breach})")
    }
}

/// Drop serde-saphyr's location suffix and programmer hints from a message.
fn clean_message(message: &str) -> String {
    let mut m = message
        .lines()
        .next()
        .unwrap_or("invalid YAML")
        .trim()
        .to_string();
    for marker in [" at line ", " (line ", ", line "] {
        if let Some(pos) = m.find(marker) {
            m.truncate(pos);
        }
    }
    let m = m.trim_start_matches("error: ").trim().to_string();
    let m = match m.as_str() {
        "invalid i64" | "invalid u64" | "invalid i32" => "expected an integer".to_string(),
        "invalid f64" => "expected a number".to_string(),
        "expected mapping start" => "expected a mapping (key: value pairs)".to_string(),
        // The scanner's texts, said as the indentation or quoting to fix.
        "mapping values are not allowed in this context" => {
            "a 'key: value' is not allowed here: check this line's indentation against the line above"
                .to_string()
        }
        _ if m.contains("did not find expected key") => {
            "this line is not indented like the keys above it".to_string()
        }
        _ if m.contains("could not find expected ':'") => {
            "a key without ':' (write key: value)".to_string()
        }
        _ if m.starts_with("unexpected character: `") => {
            let c = m["unexpected character: `".len()..].trim_end_matches('\'');
            format!("'{c}' cannot start a plain value (it is reserved in YAML): put the value in quotes")
        }
        _ => m,
    };
    if m.is_empty() {
        "invalid YAML".into()
    } else {
        m
    }
}

/// A mapping whose keys keep their source position; duplicates are already
/// refused by the parser.
pub(crate) struct LocMap<T>(pub Vec<(Spanned<String>, T)>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for LocMap<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = LocMap<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    let value = map.next_value::<T>()?;
                    out.push((key, value));
                }
                Ok(LocMap(out))
            }
            // `kind:` with no entries is an empty mapping, not an error.
            fn visit_unit<E: serde::de::Error>(self) -> std::result::Result<Self::Value, E> {
                Ok(LocMap(Vec::new()))
            }
        }
        d.deserialize_map(V(PhantomData))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFleet {
    #[serde(default)]
    pub templates: Option<LocMap<RawTemplate>>,
    #[serde(default)]
    pub modules: Option<LocMap<RawModule>>,
    #[serde(default)]
    pub assignments: Option<LocMap<RawAssignment>>,
    #[serde(default)]
    pub provider_configs: Option<LocMap<PValue>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTemplate {
    pub name: Option<Spanned<String>>,
    pub description: Option<String>,
    pub node_platform_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawModule {
    pub name: Option<Spanned<String>>,
    pub priority: Option<Spanned<i64>>,
    pub variety: Option<String>,
    pub config: Option<Config>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAssignment {
    pub enabled: Option<bool>,
    pub priority: Option<Spanned<i64>>,
    pub config: Option<Config>,
}

impl RawTemplate {
    pub fn into_model(self, key: &str) -> (Template, Option<Spanned<String>>) {
        let declared = self.name.clone();
        (
            Template {
                name: self
                    .name
                    .map(|n| n.value)
                    .unwrap_or_else(|| key.to_string()),
                description: self.description,
                node_platform_id: self.node_platform_id,
            },
            declared,
        )
    }
}

impl RawModule {
    pub fn into_model(self, key: &str) -> (Module, Option<Spanned<String>>) {
        let declared = self.name.clone();
        (
            Module {
                name: self
                    .name
                    .map(|n| n.value)
                    .unwrap_or_else(|| key.to_string()),
                priority: self.priority.map(|p| p.value).unwrap_or(DEFAULT_PRIORITY),
                variety: self.variety,
                config: self.config.unwrap_or_default(),
            },
            declared,
        )
    }
}

impl RawAssignment {
    pub fn into_model(self) -> Assignment {
        Assignment {
            enabled: self.enabled.unwrap_or(true),
            priority: self.priority.map(|p| p.value),
            config: self.config.unwrap_or_default(),
        }
    }
}

/// A `name:` field that disagrees with its key, pointed at the field.
fn name_mismatch(
    file: &str,
    kind: Kind,
    key: &str,
    declared: Option<Spanned<String>>,
    line_offset: usize,
) -> Option<Diagnostic> {
    let d = declared.filter(|d| d.value != key)?;
    let (line, col) = pos(&d, line_offset);
    Some(
        Diagnostic::new(
            file,
            format!(
                "{} '{key}' declares name '{}': the name must equal its key",
                kind.noun(),
                d.value
            ),
        )
        .at(line, col),
    )
}

fn pos<T>(key: &Spanned<T>, line_offset: usize) -> (usize, usize) {
    (
        key.referenced.line() as usize + line_offset,
        key.referenced.column().max(1) as usize,
    )
}

impl RawFleet {
    /// Build the model and the source map; names declared in a `name:` field
    /// that disagree with their key are reported by the validator.
    pub fn into_fleet(self, file: &str, line_offset: usize) -> Result<(Fleet, SourceMap)> {
        let mut fleet = Fleet::default();
        let mut source = SourceMap::new(file);
        let mut mismatches = Vec::new();
        for (key, raw) in self.templates.map(|m| m.0).unwrap_or_default() {
            let (line, col) = pos(&key, line_offset);
            source.record(Kind::Templates, &key.value, line, col);
            let (t, declared) = raw.into_model(&key.value);
            mismatches.extend(name_mismatch(
                file,
                Kind::Templates,
                &key.value,
                declared,
                line_offset,
            ));
            fleet.templates.insert(key.value, t.into());
        }
        for (key, raw) in self.modules.map(|m| m.0).unwrap_or_default() {
            let (line, col) = pos(&key, line_offset);
            source.record(Kind::Modules, &key.value, line, col);
            if let Some(p) = &raw.priority {
                let (line, col) = pos(p, line_offset);
                source.record_field(Kind::Modules, &key.value, "priority", line, col);
            }
            let (m, declared) = raw.into_model(&key.value);
            mismatches.extend(name_mismatch(
                file,
                Kind::Modules,
                &key.value,
                declared,
                line_offset,
            ));
            fleet.modules.insert(key.value, m.into());
        }
        for (key, raw) in self.assignments.map(|m| m.0).unwrap_or_default() {
            let (line, col) = pos(&key, line_offset);
            source.record(Kind::Assignments, &key.value, line, col);
            if let Some(p) = &raw.priority {
                let (line, col) = pos(p, line_offset);
                source.record_field(Kind::Assignments, &key.value, "priority", line, col);
            }
            fleet.assignments.insert(key.value, raw.into_model().into());
        }
        for (key, value) in self.provider_configs.map(|m| m.0).unwrap_or_default() {
            let (line, col) = pos(&key, line_offset);
            source.record(Kind::ProviderConfigs, &key.value, line, col);
            let json = value.into_json(&key.value, &mut |path, (line, col)| {
                source.record_field(
                    Kind::ProviderConfigs,
                    &key.value,
                    path,
                    line + line_offset,
                    col,
                )
            });
            fleet.provider_configs.insert(key.value, json);
        }
        if !mismatches.is_empty() {
            return Err(Error::Invalid(mismatches));
        }
        Ok((fleet, source))
    }
}

/// A provider_configs value that remembers where each of its keys was written,
/// so a credential-looking key is reported at its own line.
pub(crate) enum PValue {
    Map(Vec<(Spanned<String>, PValue)>),
    Seq(Vec<PValue>),
    Scalar(serde_json::Value),
}

impl PValue {
    /// Convert to JSON, reporting each key path (`aws.auth.token`, `list[0].x`) and position.
    fn into_json(self, path: &str, at: &mut dyn FnMut(&str, (usize, usize))) -> serde_json::Value {
        match self {
            PValue::Scalar(v) => v,
            PValue::Seq(items) => serde_json::Value::Array(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| v.into_json(&format!("{path}[{i}]"), at))
                    .collect(),
            ),
            PValue::Map(entries) => {
                let mut map = serde_json::Map::new();
                for (k, v) in entries {
                    let here = format!("{path}.{}", k.value);
                    at(
                        &here,
                        (
                            k.referenced.line() as usize,
                            k.referenced.column().max(1) as usize,
                        ),
                    );
                    map.insert(k.value, v.into_json(&here, at));
                }
                serde_json::Value::Object(map)
            }
        }
    }
}

impl<'de> Deserialize<'de> for PValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PValue;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<PValue, A::Error> {
                let mut out = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    out.push((key, map.next_value::<PValue>()?));
                }
                Ok(PValue::Map(out))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<PValue, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element::<PValue>()? {
                    out.push(v);
                }
                Ok(PValue::Seq(out))
            }
            fn visit_bool<E>(self, v: bool) -> std::result::Result<PValue, E> {
                Ok(PValue::Scalar(v.into()))
            }
            fn visit_i64<E>(self, v: i64) -> std::result::Result<PValue, E> {
                Ok(PValue::Scalar(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> std::result::Result<PValue, E> {
                Ok(PValue::Scalar(v.into()))
            }
            fn visit_f64<E>(self, v: f64) -> std::result::Result<PValue, E> {
                Ok(PValue::Scalar(
                    serde_json::Number::from_f64(v).map_or(serde_json::Value::Null, Into::into),
                ))
            }
            fn visit_str<E>(self, v: &str) -> std::result::Result<PValue, E> {
                Ok(PValue::Scalar(v.into()))
            }
            fn visit_string<E>(self, v: String) -> std::result::Result<PValue, E> {
                Ok(PValue::Scalar(v.into()))
            }
            fn visit_unit<E>(self) -> std::result::Result<PValue, E> {
                Ok(PValue::Scalar(serde_json::Value::Null))
            }
            fn visit_none<E>(self) -> std::result::Result<PValue, E> {
                Ok(PValue::Scalar(serde_json::Value::Null))
            }
            fn visit_some<D2: Deserializer<'de>>(
                self,
                d: D2,
            ) -> std::result::Result<PValue, D2::Error> {
                PValue::deserialize(d)
            }
        }
        d.deserialize_any(V)
    }
}
