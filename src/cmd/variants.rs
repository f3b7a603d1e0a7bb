//! `git fleet variants`: the promotes_from graph and what lags behind.

use super::{context, JSON_VERSION};
use crate::ui::{Outcome, Ui};
use git_fleet::cli::VariantsArgs;
use git_fleet::ops::variants;
use git_fleet::Result;
use serde_json::json;

pub fn run(ui: &Ui, args: VariantsArgs) -> Result<Outcome> {
    let ctx = context()?;
    let edges = variants::graph(&ctx.store, &ctx.config)?;
    if args.json {
        ui.json(&json!({"version": JSON_VERSION, "edges": edges}));
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
