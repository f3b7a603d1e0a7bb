//! `git fleet peers remove`: remove a peer declaration.

use crate::ui::{Outcome, Ui};
use clap::Args;
use git_fleet::fleet::validate::printable;
use git_fleet::workspace::Workspace;
use git_fleet::{Error, Result};
use toml_edit::{Item, Table};

use super::file::{has_peer, local_file, read_doc, shared_file, write_doc};

/// Remove a peer declaration.
///
/// Removes it from every file that declares it, or only from
/// .git/fleet.local.toml with --local.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet peers remove laptop\n  git fleet peers remove scratch --local"
)]
pub struct PeersRemoveArgs {
    /// The peer's name.
    pub name: String,
    /// Only remove it from .git/fleet.local.toml.
    #[arg(long)]
    pub local: bool,
}

pub fn run(ui: &Ui, ws: &Workspace, args: PeersRemoveArgs) -> Result<Outcome> {
    let mut files = vec![local_file(ws)];
    if !args.local {
        if let Ok(shared) = shared_file(ws) {
            files.insert(0, shared);
        }
    }
    let mut removed = Vec::new();
    for file in &files {
        if !file.path.exists() {
            continue;
        }
        let (_, mut doc) = read_doc(file)?;
        if !has_peer(&doc, &args.name) {
            continue;
        }
        if let Some(peers) = doc.get_mut("peers").and_then(Item::as_table_like_mut) {
            peers.remove(&args.name);
            if peers.is_empty() {
                // Drop an implicit `[peers]` that only held this peer.
                let implicit = doc
                    .get("peers")
                    .and_then(Item::as_table)
                    .is_some_and(Table::is_implicit);
                if implicit {
                    doc.remove("peers");
                }
            }
        }
        write_doc(file, &doc.to_string())?;
        removed.push(file.label.clone());
    }
    if removed.is_empty() {
        let known: Vec<String> = ws.peers()?.iter().map(|p| p.name.clone()).collect();
        return Err(Error::usage(format!(
            "no peer named '{}'{} (known: {})",
            printable(&args.name),
            if args.local { " in the local file" } else { "" },
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        )));
    }
    ui.out(format!(
        "removed peer {} from {}",
        ui.bold().apply_to(&args.name),
        removed.join(" and ")
    ));
    Ok(Outcome::Done)
}
