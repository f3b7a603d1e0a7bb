//! `git fleet notes append|show`: plumbing over the notes store.

use crate::ui::{Outcome, Ui};
use clap::{Args, Subcommand};
use git_fleet::store::notes::notes_ref;
use git_fleet::workspace::Workspace;
use git_fleet::{Error, Result};
use serde_json::json;
use std::io::Read;

/// Read and append git-fleet notes (plumbing for scripts and hooks).
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum NotesCommand {
    Append(NotesAppendArgs),
    Show(NotesShowArgs),
}

/// Append a block to the note on a commit, keeping every block already there.
///
/// Safe under concurrent writers: the notes ref is updated with compare-and-swap
/// and retried, so no block is ever lost.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet notes append --ref fanout HEAD -m 'Fleet-Peer: laptop current'\n  git notes --ref=fleet/fanout show HEAD"
)]
pub struct NotesAppendArgs {
    /// Notes ref: NAME means refs/notes/fleet/NAME.
    #[arg(long = "ref", value_name = "NAME")]
    pub notes_ref: String,
    /// The commit (or other revision) to annotate.
    pub commit: String,
    /// The block to append ('-' reads it from stdin).
    #[arg(long, short, value_name = "TEXT")]
    pub message: String,
}

/// Print the note on a commit.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  git fleet notes show --ref fanout HEAD")]
pub struct NotesShowArgs {
    /// Notes ref: NAME means refs/notes/fleet/NAME.
    #[arg(long = "ref", value_name = "NAME")]
    pub notes_ref: String,
    /// The commit to read the note of.
    #[arg(default_value = "HEAD")]
    pub commit: String,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(ui: &Ui, ws: &Workspace, command: NotesCommand) -> Result<Outcome> {
    // Notes need no fleet.toml: reading and parsing it is a fixed cost per append.

    match command {
        NotesCommand::Append(args) => {
            let name = notes_ref(&args.notes_ref)?;
            let commit = ws.store().rev_commit(&args.commit)?;
            let block = if args.message == "-" {
                let mut s = String::new();
                std::io::stdin()
                    .read_to_string(&mut s)
                    .map_err(|e| Error::Command(format!("cannot read stdin: {e}")))?;
                s
            } else {
                args.message
            };
            match ws.store().note_append(&name, commit, &block)? {
                Some(_) => ui.status(format!(
                    "appended to the note on {} in {name}",
                    &commit.to_string()[..12]
                )),
                None => ui.status("that block is already in the note; nothing written"),
            }
            Ok(Outcome::Done)
        }
        NotesCommand::Show(args) => {
            let name = notes_ref(&args.notes_ref)?;
            let commit = ws.store().rev_commit(&args.commit)?;
            let note = ws.store().note_read(&name, commit)?;
            if args.json {
                ui.json(json!({
                    "ref": name,
                    "commit": commit.to_string(),
                    "note": note,
                }));
            } else if let Some(note) = &note {
                ui.out(note.trim_end());
            }
            Ok(if note.is_some() {
                Outcome::Done
            } else {
                Outcome::Found
            })
        }
    }
}
