//! `git fleet gc`: drop run records past retention.

use crate::ui::{Outcome, Ui};
use clap::Args;
use git_fleet::workspace::Workspace;
use git_fleet::{runs, Result};
use serde_json::json;

/// Drop run records past retention: 90 days (success), 365 days (failed/partial).
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  git fleet gc --dry-run\n  git fleet gc")]
pub struct GcArgs {
    /// Say what would be dropped; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(ui: &Ui, ws: &Workspace, args: GcArgs) -> Result<Outcome> {
    ws.config()?; // a malformed fleet.toml stops every command that reads it
    let now = runs::now();
    let mut dropped = Vec::new();
    for t in runs::targets(ws.store())? {
        dropped.extend(runs::gc(ws.store(), &t, now, args.dry_run)?);
    }
    if args.json {
        ui.json(json!({ "dry_run": args.dry_run, "dropped": dropped }));
        return Ok(Outcome::Done);
    }
    let verb = if args.dry_run {
        "would drop"
    } else {
        "dropped"
    };
    for r in &dropped {
        ui.out(format!(
            "{verb} run {} of {} ({}, {})",
            r.id,
            r.target,
            format!("{:?}", r.status).to_lowercase(),
            crate::ui::format_time(r.started)
        ));
    }
    ui.status(format!(
        "{verb} {} run record(s); kept routine runs {} days, failed/partial {} days",
        dropped.len(),
        runs::KEEP_SUCCESS_DAYS,
        runs::KEEP_FAILED_DAYS
    ));
    Ok(Outcome::Done)
}
