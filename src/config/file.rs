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
