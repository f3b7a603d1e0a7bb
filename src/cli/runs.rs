//! `git fleet runs`: the reconcile run records, newest first.

use crate::ui::{Outcome, Ui};
use clap::Args;
use git_fleet::workspace::Workspace;
use git_fleet::{runs, Result};
use serde_json::json;

/// List reconcile run records.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  git fleet runs\n  git fleet runs prod --json")]
pub struct RunsArgs {
    /// Only this target's runs.
    pub target: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(ui: &Ui, ws: &Workspace, args: RunsArgs) -> Result<Outcome> {
    ws.config()?; // a malformed fleet.toml stops every command that reads it
    let targets = match &args.target {
        Some(t) => vec![t.clone()],
        None => runs::targets(ws.store())?,
    };
    let mut all = Vec::new();
    for t in &targets {
        all.extend(runs::list(ws.store(), t)?);
    }
    all.sort_by_key(|r| std::cmp::Reverse(r.started));
    if args.json {
        ui.json(json!({ "runs": all }));
        return Ok(Outcome::Done);
    }
    for r in &all {
        ui.out(format!(
            "{} {} {:<8} {:<8} diffs {}, opened {}, applied {}{}",
            crate::ui::format_time(r.started),
            ui.dim().apply_to(&r.id),
            r.target,
            format!("{:?}", r.status).to_lowercase(),
            r.diffs,
            r.opened.len(),
            r.applied.len(),
            r.errors
                .first()
                .map(|e| format!("; {e}"))
                .unwrap_or_default()
        ));
    }
    Ok(Outcome::Done)
}
