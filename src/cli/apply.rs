//! `git fleet apply <id>... | --approved [--target T]`.

use crate::ui::{Outcome, Ui};
use clap::Args;
use git_fleet::proposals::{Book, State};
use git_fleet::reconcile::{apply, find, proposal_targets, recover, ApplyOptions};
use git_fleet::workspace::Workspace;
use git_fleet::{Error, Result};
use serde_json::json;
use std::collections::BTreeMap;

/// Apply approved proposals to live state, with stale-conflict checks.
///
/// A proposal computed against a live resource that has changed since is
/// refused and returned to review with the reason. Destroys apply on approval
/// for every kind, but a module or template that something still references is
/// refused unless the referencing change is in the same apply.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet apply 3f2a9c\n  git fleet apply --approved --target prod\n  git fleet apply 3f2a9c --despite-halt"
)]
pub struct ApplyArgs {
    /// Proposal ids (or unique prefixes).
    pub ids: Vec<String>,
    /// Apply every approved proposal (of --target, or of every target).
    #[arg(long, conflicts_with = "ids")]
    pub approved: bool,
    /// Limit --approved to one target.
    #[arg(long, value_name = "T")]
    pub target: Option<String>,
    /// Apply although automation is halted; the receipt records it.
    #[arg(long)]
    pub despite_halt: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(ui: &Ui, ws: &Workspace, args: ApplyArgs) -> Result<Outcome> {
    let config = ws.config()?;
    // Interrupted applies are completed first, and said so.
    let recovered = recover(ws.store(), config, None)?;
    if !args.json {
        for r in &recovered {
            ui.status(r.to_string());
        }
    }
    let all_targets = proposal_targets(ws.store())?;
    let mut by_target: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if args.approved {
        let targets = match &args.target {
            Some(t) => vec![t.clone()],
            None => all_targets.clone(),
        };
        for t in targets {
            let book = Book::open(ws.store(), &t)?;
            for p in book.all(ws.store())? {
                if p.state() == State::Approved {
                    by_target.entry(t.clone()).or_default().push(p.id);
                }
            }
        }
    } else {
        if args.ids.is_empty() {
            return Err(Error::usage("name proposals to apply, or use --approved"));
        }
        for id in &args.ids {
            let (t, full) = find(ws.store(), &all_targets, id)?;
            by_target.entry(t).or_default().push(full);
        }
    }
    let opts = ApplyOptions {
        auto: false,
        despite_halt: args.despite_halt,
    };
    let mut outcomes = Vec::new();
    for (target, ids) in &by_target {
        let cfg = git_fleet::reconcile::target_config(config, target);
        let dir = ws.run_dir();
        if let Ok(None) = git_fleet::policy::published_ref(dir, &cfg, target) {
            ui.status(format!("note: this repository has no remote, so apply cannot check that the proposals' source commits reached {target}'s branch"));
        }
        for o in apply(ws.store(), config, target, ids, &opts)? {
            outcomes.push((target.clone(), o));
        }
    }
    super::notify::applied(ui, ws, &outcomes);
    let failed = outcomes.iter().filter(|(_, o)| o.result.is_err()).count();
    if args.json {
        let items: Vec<_> = outcomes
            .iter()
            .map(|(t, o)| match &o.result {
                Ok(s) => json!({"id": o.id, "target": t, "applied": true, "snapshot": s}),
                Err(why) => json!({"id": o.id, "target": t, "applied": false, "reason": why}),
            })
            .collect();
        ui.json(json!({ "outcomes": items, "recovered": recovered }));
    } else {
        if outcomes.is_empty() {
            ui.status("nothing to apply");
        }
        for (t, o) in &outcomes {
            match &o.result {
                Ok(s) => ui.out(format!(
                    "{} {} to {t}: live snapshot {}",
                    ui.green().apply_to("applied"),
                    &o.id[..12],
                    &s[..12]
                )),
                Err(why) => ui.out(format!(
                    "{} {} ({t}): {why}",
                    ui.red().apply_to("not applied"),
                    &o.id[..12]
                )),
            }
        }
    }
    Ok(if failed > 0 {
        Outcome::Found
    } else {
        Outcome::Done
    })
}
