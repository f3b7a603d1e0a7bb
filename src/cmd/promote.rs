//! `git fleet promote FROM TO`: upstream desired values into TO's desired file.

use super::{context, JSON_VERSION};
use crate::ui::{Outcome, Ui};
use git_fleet::cli::PromoteArgs;
use git_fleet::ops::{select::Selector, variants};
use git_fleet::Result;
use serde_json::json;

pub fn run(ui: &Ui, args: PromoteArgs) -> Result<Outcome> {
    let ctx = context()?;
    let selectors = args
        .select
        .iter()
        .map(|s| Selector::parse(s))
        .collect::<Result<Vec<_>>>()?;
    let promotion = variants::plan(&ctx.store, &ctx.config, &args.from, &args.to, &selectors)?;
    let refusals = promotion
        .prepared
        .as_ref()
        .map(|p| p.refusals())
        .unwrap_or_default();
    if !args.json {
        if let Some(p) = &promotion.prepared {
            super::set::show(ui, p);
        }
    }
    let commit = if args.dry_run || !refusals.is_empty() {
        None
    } else {
        variants::write(&promotion, &selectors)?
    };
    if args.json {
        let mut out = match &promotion.prepared {
            Some(p) => super::set::prepared_json(p),
            None => {
                json!({"version": JSON_VERSION, "target": args.to, "file": promotion.place.path, "changes": []})
            }
        };
        out["from"] = json!(args.from);
        out["to"] = json!(args.to);
        out["selectors"] = json!(args.select);
        out["dry_run"] = json!(args.dry_run);
        out["commit"] = json!(commit);
        ui.json(&out);
    } else {
        if promotion.prepared.is_none() {
            ui.out(format!(
                "nothing to promote: {} already has {}'s desired values{}",
                args.to,
                args.from,
                if selectors.is_empty() {
                    ""
                } else {
                    " for the selected resources"
                }
            ));
        }
        if let Some(c) = &commit {
            ui.status(format!("committed {} ({})", &c[..12], promotion.place.path));
        } else if args.dry_run && promotion.prepared.is_some() && refusals.is_empty() {
            ui.status("dry run: nothing written");
        }
    }
    if !refusals.is_empty() {
        return Err(super::set::refused(&refusals));
    }
    Ok(Outcome::Done)
}
