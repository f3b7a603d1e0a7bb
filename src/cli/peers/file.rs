//! The files that declare peers (fleet.toml, .git/fleet.local.toml), edited
//! with toml_edit so comments and layout survive, checked before they are written.

use git_fleet::config::{Config, CONFIG_FILE};
use git_fleet::peers::config::{self as peers_config};
use git_fleet::workspace::Workspace;
use git_fleet::{Error, Result};
use std::path::PathBuf;
use toml_edit::{DocumentMut, Item, Table};

/// A file that declares peers: its path, its name in messages, and whether
/// it is the machine-local one.
pub struct PeersFile {
    pub path: PathBuf,
    pub label: String,
    pub local: bool,
}

pub fn shared_file(ws: &Workspace) -> Result<PeersFile> {
    let root = ws.store().work_dir().ok_or_else(|| {
        Error::usage_hint(
            "this repository is bare: it has no fleet.toml",
            "declare the peer in this machine's file with --local",
        )
    })?;
    Ok(PeersFile {
        path: root.join(CONFIG_FILE),
        label: CONFIG_FILE.to_string(),
        local: false,
    })
}

pub fn local_file(ws: &Workspace) -> PeersFile {
    let git_dir = ws.store().repo().common_dir();
    PeersFile {
        path: peers_config::local_path(git_dir),
        label: peers_config::local_label(ws.store().work_dir(), git_dir),
        local: true,
    }
}

pub fn read_doc(file: &PeersFile) -> Result<(String, DocumentMut)> {
    let text = match std::fs::read_to_string(&file.path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(Error::Read {
                path: file.path.clone(),
                source,
            })
        }
    };
    let doc = text.parse::<DocumentMut>().map_err(|e| {
        Error::invalid(git_fleet::Diagnostic::new(
            file.label.clone(),
            e.message().to_string(),
        ))
    })?;
    Ok((text, doc))
}

/// Check the edited text with the same strict parsers every command uses,
/// then replace the file atomically.
pub fn write_doc(file: &PeersFile, text: &str) -> Result<()> {
    let home = git_fleet::workspace::home();
    if file.local {
        peers_config::parse_local(&file.label, text, home.as_deref())?;
    } else {
        Config::parse(&file.label, text.as_bytes())?;
        peers_config::parse_shared(&file.label, text, home.as_deref())?;
    }
    let tmp = file
        .path
        .with_extension(format!("toml.tmp{}", std::process::id()));
    std::fs::write(&tmp, text)
        .and_then(|_| std::fs::rename(&tmp, &file.path))
        .map_err(|source| {
            let _ = std::fs::remove_file(&tmp);
            Error::Write {
                path: file.path.clone(),
                source,
            }
        })
}

/// The highest table position in the document (0 if none).
pub fn last_position(item: &Item) -> isize {
    let Some(table) = item.as_table_like() else {
        return 0;
    };
    let own = item.as_table().and_then(Table::position).unwrap_or(0);
    table
        .iter()
        .map(|(_, child)| match child {
            Item::ArrayOfTables(a) => a
                .iter()
                .map(|t| t.position().unwrap_or(0))
                .max()
                .unwrap_or(0),
            other => last_position(other),
        })
        .fold(own, isize::max)
}

pub fn has_peer(doc: &DocumentMut, name: &str) -> bool {
    doc.get("peers")
        .and_then(Item::as_table_like)
        .is_some_and(|t| t.contains_key(name))
}
