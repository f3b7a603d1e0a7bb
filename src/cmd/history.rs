//! `git fleet history kind/name [--target T]`: one resource's timeline.

use super::{context, JSON_VERSION};
use crate::ui::{Outcome, Ui};
use git_fleet::cli::HistoryArgs;
use git_fleet::timeline::history::{history, parse_resource};
use git_fleet::timeline::{desired_path, optional_target};
use git_fleet::Result;
use serde_json::Value;

pub fn run(ui: &Ui, args: HistoryArgs) -> Result<Outcome> {
    let ctx = context()?;
    let (kind, name) = parse_resource(&args.resource)?;
    let target = optional_target(&ctx.store, &ctx.config, args.target.as_deref())?;
    let path = desired_path(&ctx.config, target.as_deref());
    let h = history(&ctx.store, target.as_deref(), &path, kind, &name)?;
    if args.json {
        let mut v = serde_json::to_value(&h).unwrap_or_default();
        v["version"] = JSON_VERSION.into();
        ui.json(&v);
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
