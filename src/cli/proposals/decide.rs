//! `git fleet approve`, `reject`, `ignore`: record a review decision.

use super::resolve;
use crate::ui::{Outcome, Ui};
use clap::Args;
use git_fleet::policy::count_approvals;
use git_fleet::proposals::State;
use git_fleet::reconcile::decide;
use git_fleet::sign::SshConfig;
use git_fleet::workspace::Workspace;
use git_fleet::Result;
use serde_json::json;

/// Record a review decision on proposals (approve, reject or ignore).
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet approve 3f2a9c 81bb07\n  git fleet reject 3f2a9c --reason 'wrong window'\n  git fleet ignore 3f2a9c"
)]
pub struct DecideArgs {
    /// Proposal ids (or unique prefixes).
    #[arg(required = true)]
    pub ids: Vec<String>,
    /// Why (recorded with the transition).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(ui: &Ui, ws: &Workspace, args: DecideArgs, state: State) -> Result<Outcome> {
    let config = ws.config()?;
    // Group by target: one write per target, all or nothing within it.
    let mut by_target: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for id in &args.ids {
        let (t, full) = resolve(ws, id)?;
        by_target.entry(t).or_default().push(full);
    }
    let mut done = Vec::new();
    for (target, ids) in by_target {
        done.extend(decide(
            ws.store(),
            config,
            &target,
            &ids,
            state,
            args.reason.as_deref(),
        )?);
    }
    crate::cli::notify::decided(ui, ws, &done, state, args.reason.as_deref());
    if args.json {
        let ssh = SshConfig::load(ws.store())?;
        let mut items = Vec::new();
        for p in &done {
            let approvals = count_approvals(&ssh, p, &config.policy)?;
            items.push(json!({"id": p.id, "target": p.target, "state": p.state(), "approvers": p.approvers(), "approvals": approvals}));
        }
        ui.json(json!({ "decided": items }));
    } else {
        for p in &done {
            ui.out(format!("{} {} {}", state, &p.id[..12], p.resource()));
        }
    }
    Ok(Outcome::Done)
}
