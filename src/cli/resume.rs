//! `git fleet resume`: lift a halt, with a receipt.

use crate::cli::halt::HaltArgs;
use crate::ui::{Outcome, Ui};
use git_fleet::workspace::Workspace;
use git_fleet::{halt, Result};
use serde_json::json;

/// Takes `halt`'s arguments (and help): the two are one switch.
pub fn run(ui: &Ui, ws: &Workspace, args: HaltArgs) -> Result<Outcome> {
    // A malformed fleet.toml stops every command that reads it.
    ws.config()?;
    // The receipt is written by halt::set, before the state that names it.
    let commit = halt::set(ws.store(), false, args.reason.as_deref())?;
    super::notify::halted(ui, ws, false, commit, args.reason.as_deref());
    if args.json {
        ui.json(json!({ "halted": false, "commit": commit.to_string() }));
    } else {
        ui.out(format!(
            "automation resumed ({})",
            &commit.to_string()[..12]
        ));
    }
    Ok(Outcome::Done)
}
