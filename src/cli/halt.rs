//! `git fleet halt`: the kill switch, with a receipt.

use crate::ui::{Outcome, Ui};
use clap::Args;
use git_fleet::workspace::Workspace;
use git_fleet::{halt, Result};
use serde_json::json;

/// Halt (or resume) automation: no auto-apply while halted.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  git fleet halt --reason 'incident 4711'\n  git fleet resume")]
pub struct HaltArgs {
    /// Why (recorded in refs/fleet/halt and the receipt).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(ui: &Ui, ws: &Workspace, args: HaltArgs) -> Result<Outcome> {
    // A malformed fleet.toml stops every command that reads it.
    ws.config()?;
    // The receipt is written by halt::set, before the halt state that names it.
    let commit = halt::set(ws.store(), true, args.reason.as_deref())?;
    super::notify::halted(ui, ws, true, commit, args.reason.as_deref());
    if args.json {
        ui.json(json!({ "halted": true, "commit": commit.to_string() }));
    } else {
        ui.out(format!(
            "automation halted ({}): no auto-apply until `git fleet resume`",
            &commit.to_string()[..12]
        ));
    }
    Ok(Outcome::Done)
}
