//! `git fleet variants`: the promotes_from graph and what lags behind.

use crate::ui::{Outcome, Ui};
use clap::Args;
use git_fleet::ops::variants;
use git_fleet::workspace::Workspace;
use git_fleet::Result;
use serde_json::json;

/// Show the promotion graph (promotes_from) and what lags behind its upstream.
///
/// For every target with `promotes_from = "UPSTREAM"` in fleet.toml: the
/// resources whose desired content differs from the upstream's desired, and
/// whose live content differs from the upstream's live.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  git fleet variants\n  git fleet variants --json")]
pub struct VariantsArgs {
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(ui: &Ui, ws: &Workspace, args: VariantsArgs) -> Result<Outcome> {
    let config = ws.config()?;
    let edges = variants::graph(ws.store(), config)?;
    if args.json {
        ui.json(json!({"edges": edges}));
        return Ok(Outcome::Done);
    }
    if edges.is_empty() {
        ui.out("no variants: no target declares promotes_from in fleet.toml");
        return Ok(Outcome::Done);
    }
    for e in &edges {
        ui.out(format!("{} -> {}", e.from, e.to));
        let list = |v: &[String]| {
            if v.is_empty() {
                "up to date".to_string()
            } else {
                format!("{} behind: {}", v.len(), v.join(", "))
            }
        };
        ui.out(format!("  desired: {}", list(&e.desired_lag)));
        match &e.live_lag {
            Some(l) => ui.out(format!("  live:    {}", list(l))),
            None => ui.out("  live:    unknown (a side has no snapshot)"),
        }
    }
    Ok(Outcome::Done)
}
