//! `git fleet rollback <target> --to <snapshot>`.

use crate::ui::{Outcome, Ui};
use clap::Args;
use git_fleet::workspace::Workspace;
use git_fleet::{live, reconcile, Error, Result};
use serde_json::json;

/// Open proposals that take live state back to a recorded snapshot.
///
/// The proposals go through the same review and gates; a rolled-back desired
/// content is never auto-applied again until the desired file changes.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet snapshot --log prod\n  git fleet rollback prod --to 1a2b3c4d"
)]
pub struct RollbackArgs {
    /// The target to roll back.
    pub target: String,
    /// The snapshot commit (from `git fleet snapshot --log`) to return to.
    #[arg(long, value_name = "SNAPSHOT")]
    pub to: String,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(ui: &Ui, ws: &Workspace, args: RollbackArgs) -> Result<Outcome> {
    let config = ws.config()?;
    let to = ws.store().rev_commit(&args.to)?;
    // Only a recorded state of this target is a valid rollback goal.
    let known = ws
        .store()
        .chain_walk(&live::live_ref(&args.target))?
        .any(|e| e.is_ok_and(|(c, _)| c == to));
    if !known {
        return Err(Error::usage(format!(
            "{} is not a recorded snapshot of '{}' (see `git fleet snapshot --log {}`)",
            args.to, args.target, args.target
        )));
    }
    let opened = reconcile::rollback(ws.store(), config, &args.target, to)?;
    super::notify::rolled_back(ui, ws, &args.target, to, &opened);
    if args.json {
        let ids: Vec<_> = opened
            .iter()
            .map(|p| json!({"id": p.id, "change": p.change, "resource": p.resource()}))
            .collect();
        ui.json(json!({ "target": args.target, "to": to.to_string(), "opened": ids }));
    } else if opened.is_empty() {
        ui.out(format!(
            "live {} already matches {}",
            args.target,
            &to.to_string()[..12]
        ));
    } else {
        for p in &opened {
            ui.out(format!(
                "opened {} {} {} (rollback; review and apply)",
                &p.id[..12],
                p.change.as_str(),
                p.resource()
            ));
        }
    }
    Ok(if opened.is_empty() {
        Outcome::Done
    } else {
        Outcome::Found
    })
}
