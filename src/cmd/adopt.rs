//! `git fleet adopt TARGET`: live drift becomes desired (reverse reconcile).

use super::{context, JSON_VERSION};
use crate::ui::{Outcome, Ui};
use git_fleet::cli::AdoptArgs;
use git_fleet::ops::{adopt, select::Selector};
use git_fleet::Result;
use serde_json::json;

pub fn run(ui: &Ui, args: AdoptArgs) -> Result<Outcome> {
    let ctx = context()?;
    let selectors = args
        .select
        .iter()
        .map(|s| Selector::parse(s))
        .collect::<Result<Vec<_>>>()?;
    let adoption = adopt::plan(&ctx.store, &ctx.config, &args.target, &selectors)?;
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
        adopt::write(&ctx.store, &adoption, &selectors)?
    };
    if args.json {
        let mut out = match &adoption.prepared {
            Some(p) => super::set::prepared_json(p),
            None => json!({"version": JSON_VERSION, "target": adoption.target, "changes": []}),
        };
        out["live_snapshot"] = json!(adoption.live_snapshot);
        out["selectors"] = json!(args.select);
        out["dry_run"] = json!(args.dry_run);
        out["commit"] = json!(written.as_ref().map(|w| &w.commit));
        out["receipts"] = json!(written.as_ref().map(|w| &w.receipts));
        ui.json(&out);
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
