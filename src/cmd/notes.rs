//! `git fleet notes append|show`: plumbing over the notes store.

use super::{store_context, JSON_VERSION};
use crate::ui::{Outcome, Ui};
use git_fleet::cli::NotesCommand;
use git_fleet::store::notes::notes_ref;
use git_fleet::{Error, Result};
use serde_json::json;
use std::io::Read;

pub fn run(ui: &Ui, command: NotesCommand) -> Result<Outcome> {
    // Notes need no fleet.toml: reading and parsing it is a fixed cost per append.
    let ctx = store_context()?;
    match command {
        NotesCommand::Append(args) => {
            let name = notes_ref(&args.notes_ref)?;
            let commit = ctx.store.rev_commit(&args.commit)?;
            let block = if args.message == "-" {
                let mut s = String::new();
                std::io::stdin()
                    .read_to_string(&mut s)
                    .map_err(|e| Error::Other(format!("cannot read stdin: {e}")))?;
                s
            } else {
                args.message
            };
            match ctx.store.note_append(&name, commit, &block)? {
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
            let commit = ctx.store.rev_commit(&args.commit)?;
            let note = ctx.store.note_read(&name, commit)?;
            if args.json {
                ui.json(&json!({
                    "version": JSON_VERSION,
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
