//! The lowest-level facts about fleet.toml and repository paths: file names,
//! defaults, the size cap and positions in text. Imports nothing of the crate
//! but errors, so every module can use it without an import circle.

use crate::error::{Diagnostic, Error, Result};
use std::path::{Component, Path};

pub const CONFIG_FILE: &str = "fleet.toml";
pub const DEFAULT_DESIRED: &str = "fleet.yaml";
pub const DEFAULT_MAX_PROPOSALS: usize = 25;
/// fleet.toml is read whole and parsed eagerly: cap it like a fleet file.
pub const MAX_CONFIG_BYTES: usize = 1024 * 1024;

/// A relative path as git names it: its normal components joined by `/`
/// (`.` components and repeated or trailing slashes dropped).
pub fn normalise_relative(p: &str) -> String {
    Path::new(p)
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The bytes of `path` (`None` if it does not exist), refusing a file over
/// [`MAX_CONFIG_BYTES`] without reading more than the limit.
pub fn read_capped(path: &Path, label: &str) -> Result<Option<Vec<u8>>> {
    use std::io::Read;
    let read_err = |source| Error::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(read_err(source)),
    };
    if let Ok(meta) = file.metadata() {
        check_size(label, meta.len())?;
    }
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    check_size(label, bytes.len() as u64)?;
    Ok(Some(bytes))
}

pub(crate) fn check_size(label: &str, len: u64) -> Result<()> {
    if len > MAX_CONFIG_BYTES as u64 {
        return Err(Error::invalid(Diagnostic::new(
            label,
            format!(
                "file is {len} bytes; config files are limited to 1 MiB ({MAX_CONFIG_BYTES} bytes)"
            ),
        )));
    }
    Ok(())
}

/// Relative, no `..`, no absolute or drive prefix.
pub fn is_safe_relative(p: &str) -> bool {
    !p.is_empty()
        && !p.contains('\0')
        && Path::new(p)
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, col)
}

/// A toml parse or type error in the user's words, at its position: the key
/// a duplicate or a wrong value belongs to is named (toml's own texts say
/// "duplicate key" or "expected usize" without it).
pub fn toml_diagnostic(file: &str, text: &str, e: &toml::de::Error) -> Diagnostic {
    let raw = e.message().trim();
    let Some(mut span) = e.span().filter(|s| s.start <= text.len()) else {
        return Diagnostic::new(file, plain_types(raw));
    };
    // toml points past the end of an unclosed string: point at its opening
    // quote instead, and underline the rest of the line.
    if raw.starts_with("invalid basic string") || raw.starts_with("invalid literal string") {
        let start = line_start(text, span.start);
        if let Some(quote) = text[start..span.start].rfind(['"', '\'']) {
            span = start + quote..span.start;
        }
    }
    let (line, col) = line_col(text, span.start);
    let line_text = text.split('\n').nth(line - 1).unwrap_or("");
    let spanned = text.get(span.clone()).unwrap_or("");
    // The key a value belongs to: left of `=` on the value's line.
    let key = text
        .get(line_start(text, span.start)..span.start)
        .and_then(|before| before.rsplit_once('='))
        .map(|(k, _)| k.trim().trim_matches('"').to_string())
        .filter(|k| !k.is_empty());
    let message = if raw == "duplicate key" {
        let trimmed = line_text.trim();
        if trimmed.starts_with('[') {
            let header = trimmed.split(']').next().unwrap_or(trimmed);
            format!(
                "table [{}] is defined twice",
                header.trim_start_matches('[').trim()
            )
        } else {
            format!("duplicate key '{}'", spanned.trim().trim_matches('"'))
        }
    } else if let Some(rest) = raw
        .strip_prefix("invalid type: ")
        .or_else(|| raw.strip_prefix("invalid value: "))
    {
        // `string "ten", expected usize`.
        let (found, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
        // serde says a number beyond i64 is "integer `N` as i128".
        let found = match found.strip_suffix(" as i128") {
            Some(n) => format!("{n}, which is too large"),
            None => found.to_string(),
        };
        match key {
            Some(key) => format!("'{key}' must be {}, found {found}", plain_type(expected)),
            None => format!("expected {}, found {found}", plain_type(expected)),
        }
    } else if raw.starts_with("string values must be quoted") {
        let word = spanned.trim();
        match key {
            Some(key) => format!(
                "'{key} = {word}' is not a TOML value: write true or false, a number, or \"{word}\" in quotes"
            ),
            None => format!(
                "'{word}' is not a TOML value: write true or false, a number, or \"{word}\" in quotes"
            ),
        }
    } else if raw.starts_with("invalid basic string") || raw.starts_with("invalid literal string") {
        "unclosed string: the closing quote is missing".to_string()
    } else if let (Some(rest), Some(key)) = (raw.strip_prefix("unknown variant "), &key) {
        // `unknown variant `foo`, expected `a` or `b``.
        let (found, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
        format!("'{key}' must be {expected}, found {found}")
    } else {
        plain_types(raw)
    };
    let d = Diagnostic::new(file, message)
        .at(line, col)
        .with_source(text);
    match text.get(span) {
        Some(s) if !s.contains('\n') && !s.is_empty() => d.spanning(s.chars().count()),
        _ => d,
    }
}

fn line_start(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .rfind('\n')
        .map_or(0, |p| p + 1)
}

/// serde's name of a type as people say it.
fn plain_type(expected: &str) -> String {
    match expected.trim() {
        "usize" | "u64" | "u32" | "u16" | "u8" => "a whole number (0 or more)".into(),
        "isize" | "i64" | "i32" | "i16" | "i8" => "a whole number".into(),
        "f64" | "f32" => "a number".into(),
        "a boolean" => "true or false".into(),
        // serde's words for a table.
        "a map" => "a table".into(),
        other if other.starts_with("struct ") => "a table".into(),
        "" => "another type".into(),
        other => other.into(),
    }
}

/// `expected usize` and the like inside a message, in words.
fn plain_types(message: &str) -> String {
    match message.rsplit_once("expected ") {
        Some((head, ty)) if ty.chars().all(|c| c.is_ascii_alphanumeric()) => {
            format!("{head}expected {}", plain_type(ty))
        }
        _ => message.to_string(),
    }
}
