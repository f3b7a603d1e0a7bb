//! `git fleet promote FROM TO`: upstream desired values into TO's desired file.

use crate::ui::{Outcome, Ui};
use clap::Args;
use git_fleet::ops::{select::Selector, variants};
use git_fleet::workspace::Workspace;
use git_fleet::Result;
use serde_json::json;

/// Write the selected differences of FROM's desired into TO's desired file.
///
/// TO must name FROM as its `promotes_from`. The edit is made in place
/// (lossless), its blast radius shown and the actor's policy decided first,
/// then committed (`Fleet-Promote`, `Fleet-Selector` trailers).
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet promote staging prod --dry-run\n  git fleet promote staging prod --select modules/nginx-*"
)]
pub struct PromoteArgs {
    /// The upstream target.
    pub from: String,
    /// The downstream target (its desired file is edited).
    pub to: String,
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

pub fn run(ui: &Ui, ws: &Workspace, args: PromoteArgs) -> Result<Outcome> {
    let config = ws.config()?;
    let selectors = args
        .select
        .iter()
        .map(|s| Selector::parse(s))
        .collect::<Result<Vec<_>>>()?;
    let promotion = variants::plan(ws.store(), config, &args.from, &args.to, &selectors)?;
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
        variants::write(ws.store(), &promotion, &selectors)?
    };
    let (commit, receipts) = match commit {
        Some((c, r)) => (Some(c), r),
        None => (None, Vec::new()),
    };
    if args.json {
        let mut out = match &promotion.prepared {
            Some(p) => super::set::prepared_json(p),
            None => {
                json!({"target": args.to, "file": promotion.place.path, "changes": []})
            }
        };
        out["from"] = json!(args.from);
        out["to"] = json!(args.to);
        out["selectors"] = json!(args.select);
        out["dry_run"] = json!(args.dry_run);
        out["commit"] = json!(commit);
        out["receipts"] = json!(receipts);
        ui.json(out);
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
            ui.status(format!(
                "committed {} ({}), {} receipt{}",
                &c[..12],
                promotion.place.path,
                receipts.len(),
                if receipts.len() == 1 { "" } else { "s" }
            ));
        } else if args.dry_run && promotion.prepared.is_some() && refusals.is_empty() {
            ui.status("dry run: nothing written");
        }
    }
    if !refusals.is_empty() {
        return Err(super::set::refused(&refusals));
    }
    Ok(Outcome::Done)
}
