//! `git fleet history kind/name [--target T]`: one resource's timeline.

use crate::ui::{Outcome, Ui};
use clap::Args;
use git_fleet::timeline::history::{history, parse_resource};
use git_fleet::timeline::{desired_path, optional_target};
use git_fleet::workspace::Workspace;
use git_fleet::Result;
use serde_json::Value;

/// One resource's timeline: desired edits, live changes, proposals,
/// decisions, applies and rollbacks, with their receipts, oldest first.
///
/// Desired edits are the commits of the current branch that changed the
/// resource itself (each compared with its first parent; a commit that only
/// touched other resources of the file is not listed), with field-level
/// before/after. With a target (default: the only known one): the live
/// snapshots that changed the resource, every transition of its proposals
/// (opened, approved/rejected/ignored, applied/failed, superseded, rollback),
/// and the receipts naming it. A resource no record mentions is refused
/// (exit 2) with the closest names.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet history modules/nginx-public\n  git fleet history assignments/app-02:nginx-public --target prod --json"
)]
pub struct HistoryArgs {
    /// The resource: kind/name (templates, modules, assignments, provider_configs).
    #[arg(value_name = "KIND/NAME")]
    pub resource: String,
    /// The target whose records to include (default: the only known one).
    #[arg(long, value_name = "T")]
    pub target: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(ui: &Ui, ws: &Workspace, args: HistoryArgs) -> Result<Outcome> {
    let config = ws.config()?;
    let (kind, name) = parse_resource(&args.resource)?;
    let target = optional_target(ws.store(), config, args.target.as_deref())?;
    let path = desired_path(config, target.as_deref());
    let h = history(ws.store(), target.as_deref(), &path, kind, &name)?;
    if args.json {
        let v = serde_json::to_value(&h).unwrap_or_default();
        ui.json(v);
        return Ok(Outcome::Done);
    }
    ui.status(format!(
        "{} in {}{}, oldest first",
        h.resource,
        h.desired,
        h.target
            .as_deref()
            .map(|t| format!(" and target {t}"))
            .unwrap_or_default()
    ));
    let show = |v: &Option<Value>| match v {
        None => "(absent)".to_string(),
        Some(Value::String(s)) => format!("{s:?}"),
        Some(other) => other.to_string(),
    };
    for e in &h.events {
        let mut refs = Vec::new();
        if let Some(c) = &e.commit {
            refs.push(format!("commit {}", &c[..12.min(c.len())]));
        }
        if let Some(r) = &e.receipt {
            refs.push(format!("receipt {}", &r[..12.min(r.len())]));
        }
        if let Some(a) = &e.actor {
            refs.push(format!("by {a}"));
        }
        ui.out(format!(
            "{}  {:<8} {}  {}",
            e.time,
            e.kind,
            e.what,
            ui.dim().apply_to(refs.join(", "))
        ));
        if let Some(r) = &e.reason {
            ui.out(format!("      reason: {r}"));
        }
        for f in &e.fields {
            ui.out(format!(
                "      {}: {} -> {}",
                f.path,
                ui.red().apply_to(show(&f.before)),
                ui.green().apply_to(show(&f.after))
            ));
        }
    }
    Ok(Outcome::Done)
}
