//! `git fleet runs` and `git fleet gc`.

use super::{context, JSON_VERSION};
use crate::ui::{Outcome, Ui};
use git_fleet::cli::{GcArgs, RunsArgs};
use git_fleet::{runs, Result};
use serde_json::json;

pub fn list(ui: &Ui, args: RunsArgs) -> Result<Outcome> {
    let ctx = context()?;
    let targets = match &args.target {
        Some(t) => vec![t.clone()],
        None => runs::targets(&ctx.store)?,
    };
    let mut all = Vec::new();
    for t in &targets {
        all.extend(runs::list(&ctx.store, t)?);
    }
    all.sort_by_key(|r| std::cmp::Reverse(r.started));
    if args.json {
        ui.json(&json!({ "version": JSON_VERSION, "runs": all }));
        return Ok(Outcome::Done);
    }
    for r in &all {
        ui.out(format!(
            "{} {} {:<8} {:<8} diffs {}, opened {}, applied {}{}",
            super::snapshot::format_time(r.started),
            ui.dim().apply_to(&r.id),
            r.target,
            format!("{:?}", r.status).to_lowercase(),
            r.diffs,
            r.opened.len(),
            r.applied.len(),
            r.errors
                .first()
                .map(|e| format!("; {e}"))
                .unwrap_or_default()
        ));
    }
    Ok(Outcome::Done)
}

pub fn gc(ui: &Ui, args: GcArgs) -> Result<Outcome> {
    let ctx = context()?;
    let now = runs::now();
    let mut dropped = Vec::new();
    for t in runs::targets(&ctx.store)? {
        dropped.extend(runs::gc(&ctx.store, &t, now, args.dry_run)?);
    }
    if args.json {
        ui.json(&json!({ "version": JSON_VERSION, "dry_run": args.dry_run, "dropped": dropped }));
        return Ok(Outcome::Done);
    }
    let verb = if args.dry_run {
        "would drop"
    } else {
        "dropped"
    };
    for r in &dropped {
        ui.out(format!(
            "{verb} run {} of {} ({}, {})",
            r.id,
            r.target,
            format!("{:?}", r.status).to_lowercase(),
            super::snapshot::format_time(r.started)
        ));
    }
    ui.status(format!(
        "{verb} {} run record(s); kept routine runs {} days, failed/partial {} days",
        dropped.len(),
        runs::KEEP_SUCCESS_DAYS,
        runs::KEEP_FAILED_DAYS
    ));
    Ok(Outcome::Done)
}
