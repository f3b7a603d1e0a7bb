//! `git fleet adopt TARGET`: live drift becomes desired (reverse reconcile).

use crate::ui::{Outcome, Ui};
use clap::Args;
use git_fleet::ops::{adopt, select::Selector};
use git_fleet::workspace::Workspace;
use git_fleet::Result;
use serde_json::json;

/// Write live values that differ from desired back into the desired file.
///
/// Reverse reconcile: for the selected resources (default: all), the target's
/// live state (its driver's) replaces what desired says, field by field,
/// edited in place. The blast radius is shown and the actor's policy decided
/// first; then a receipt is written and a commit naming it (`Fleet-Receipt`),
/// so the next reconcile proposes nothing for those resources.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet adopt prod --dry-run\n  git fleet adopt prod --select modules/nginx-public --json"
)]
pub struct AdoptArgs {
    /// The target whose live drift is adopted.
    pub target: String,
    /// Only these resources (kind/name-glob or node=NAME; repeatable).
    #[arg(long = "select", value_name = "kind/name")]
    pub select: Vec<String>,
    /// Show what would change; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(ui: &Ui, ws: &Workspace, args: AdoptArgs) -> Result<Outcome> {
    let config = ws.config()?;
    let selectors = args
        .select
        .iter()
        .map(|s| Selector::parse(s))
        .collect::<Result<Vec<_>>>()?;
    let adoption = adopt::plan(ws.store(), config, &args.target, &selectors)?;
    let refusals = adoption
        .prepared
        .as_ref()
        .map(|p| p.refusals())
        .unwrap_or_default();
    if !args.json {
        if let Some(p) = &adoption.prepared {
            super::set::show(ui, p);
        }
    }
    let written = if args.dry_run || !refusals.is_empty() {
        None
    } else {
        adopt::write(ws.store(), &adoption, &selectors)?
    };
    if args.json {
        let mut out = match &adoption.prepared {
            Some(p) => super::set::prepared_json(p),
            None => json!({"target": adoption.target, "changes": []}),
        };
        out["live_snapshot"] = json!(adoption.live_snapshot);
        out["selectors"] = json!(args.select);
        out["dry_run"] = json!(args.dry_run);
        out["commit"] = json!(written.as_ref().map(|w| &w.commit));
        out["receipts"] = json!(written.as_ref().map(|w| &w.receipts));
        ui.json(out);
    } else {
        if adoption.prepared.is_none() {
            ui.out(format!(
                "nothing to adopt: live {} matches desired{}",
                adoption.target,
                if selectors.is_empty() {
                    ""
                } else {
                    " for the selected resources"
                }
            ));
        }
        if let Some(w) = &written {
            let short: Vec<&str> = w.receipts.iter().map(|r| &r[..12]).collect();
            ui.status(format!(
                "committed {} (receipt{} {})",
                &w.commit[..12],
                if short.len() == 1 { "" } else { "s" },
                short.join(", ")
            ));
        } else if args.dry_run && adoption.prepared.is_some() && refusals.is_empty() {
            ui.status("dry run: nothing written");
        }
    }
    if !refusals.is_empty() {
        return Err(super::set::refused(&refusals));
    }
    Ok(Outcome::Done)
}
