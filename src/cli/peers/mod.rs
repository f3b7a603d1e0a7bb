//! `git fleet peers add|remove|list`: edit fleet.toml or .git/fleet.local.toml
//! with toml_edit (comments and layout survive), list the merged view.

pub mod add;
mod file;
pub mod list;
pub mod remove;

use crate::ui::{Outcome, Ui};
use clap::Subcommand;
use git_fleet::workspace::Workspace;
use git_fleet::Result;

/// Declare, remove and list peer checkouts that `fanout` delivers to.
///
/// Peers live in fleet.toml (shared, committed) or, with --local, in
/// .git/fleet.local.toml (this machine's; a local peer replaces a shared one
/// of the same name). Edits keep the file's comments and layout.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum PeersCommand {
    Add(add::PeersAddArgs),
    Remove(remove::PeersRemoveArgs),
    List(list::PeersListArgs),
}

pub fn run(ui: &Ui, ws: &Workspace, command: PeersCommand) -> Result<Outcome> {
    ws.config()?; // a malformed fleet.toml stops every command that reads it
    match command {
        PeersCommand::Add(args) => add::run(ui, ws, args),
        PeersCommand::Remove(args) => remove::run(ui, ws, args),
        PeersCommand::List(args) => list::run(ui, ws, args),
    }
}
