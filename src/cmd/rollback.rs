//! `git fleet rollback <target> --to <snapshot>`.

use super::{context, JSON_VERSION};
use crate::ui::{Outcome, Ui};
use git_fleet::cli::RollbackArgs;
use git_fleet::{live, reconcile, Error, Result};
use serde_json::json;

pub fn run(ui: &Ui, args: RollbackArgs) -> Result<Outcome> {
    let ctx = context()?;
    let to = ctx.store.rev_commit(&args.to)?;
    // Only a recorded state of this target is a valid rollback goal.
    let known = ctx
        .store
        .chain_walk(&live::live_ref(&args.target))?
        .any(|e| e.is_ok_and(|(c, _)| c == to));
    if !known {
        return Err(Error::usage(format!(
            "{} is not a recorded snapshot of '{}' (see `git fleet snapshot --log {}`)",
            args.to, args.target, args.target
        )));
    }
    let opened = reconcile::rollback(&ctx.store, &ctx.config, &args.target, to)?;
    super::notify::rolled_back(ui, &ctx, &args.target, to, &opened);
    if args.json {
        let ids: Vec<_> = opened
            .iter()
            .map(|p| json!({"id": p.id, "change": p.change, "resource": p.resource()}))
            .collect();
        ui.json(&json!({ "version": JSON_VERSION, "target": args.target, "to": to.to_string(), "opened": ids }));
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
