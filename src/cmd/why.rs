//! `git fleet why NODE KEY [--target T] [--at WHEN]`: where a rendered value came from.

use super::{context, JSON_VERSION};
use crate::ui::{Outcome, Ui};
use git_fleet::cli::WhyArgs;
use git_fleet::desired::{self, Source};
use git_fleet::timeline::at::{self, LiveThen};
use git_fleet::timeline::why::{explain, Request, Why};
use git_fleet::timeline::{desired_path, optional_target};
use git_fleet::{live, Result};
use serde_json::Value;

pub fn run(ui: &Ui, args: WhyArgs) -> Result<Outcome> {
    let ctx = context()?;
    let target = optional_target(&ctx.store, &ctx.config, args.target.as_deref())?;
    let path = desired_path(&ctx.config, target.as_deref());
    let at = args
        .at
        .as_deref()
        .map(|s| at::parse(&ctx.store, s))
        .transpose()?;
    let (input, commit) = match &at {
        Some(a) => {
            let (d, c) = at::desired_at(&ctx.store, a, &path)?;
            (d, Some(c))
        }
        None => (desired::read(&ctx.store, &Source::WorkTree, &path)?, None),
    };
    desired::require_content(&input, desired::Role::Desired, false)?;
    let parsed = desired::parse(&input)?;
    let live_then = match (&target, &at) {
        // Before the target's first snapshot, live is honestly "none then".
        (Some(t), Some(a)) => at::live_at_or_none(&ctx.store, t, a)?,
        (Some(t), None) => live::latest_recorded(&ctx.store, t)?.map(|(s, r)| LiveThen {
            commit: s.commit,
            fleet: s.fleet,
            ref_name: r,
        }),
        _ => None,
    };
    let receipts = at::receipts_at(&ctx.store, at.as_ref())?;
    let why = explain(
        &ctx.store,
        &Request {
            node: &args.node,
            key: &args.key,
            desired: &input,
            fleet: &parsed.fleet,
            path: &path,
            commit,
            target: target.as_deref(),
            live: live_then.as_ref(),
            receipts: &receipts,
        },
    )?;
    if args.json {
        let mut v = serde_json::to_value(&why).unwrap_or_default();
        v["version"] = JSON_VERSION.into();
        v["at"] = at.as_ref().map(|a| a.to_json()).unwrap_or(Value::Null);
        ui.json(&v);
        return Ok(Outcome::Done);
    }
    print(ui, &why, at.as_ref());
    Ok(Outcome::Done)
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

fn print(ui: &Ui, why: &Why, at: Option<&at::At>) {
    let value = why
        .value
        .as_ref()
        .map(show)
        .unwrap_or_else(|| "(not rendered: only disabled assignments set it)".into());
    ui.out(format!(
        "{} {} = {}  {}",
        ui.bold().apply_to(&why.node),
        ui.bold().apply_to(&why.key),
        value,
        ui.dim().apply_to(format!(
            "({}{})",
            why.desired,
            at.map(|a| format!(" at {}", a.describe()))
                .unwrap_or_default()
        ))
    ));
    ui.out("layers, in render order (the last enabled one wins):");
    for l in &why.layers {
        let mark = if l.wins {
            ">"
        } else if !l.enabled {
            "x"
        } else {
            " "
        };
        let place = match l.line {
            Some(line) => format!("{}:{line}", l.file),
            None => l.file.clone(),
        };
        let via = if l.kind == "modules" {
            format!(" via {}", l.assignment)
        } else {
            String::new()
        };
        let note = if !l.enabled {
            "  (assignment disabled)"
        } else if l.wins {
            ""
        } else {
            "  (overridden)"
        };
        ui.out(format!(
            "  {mark} {}/{}{via}  priority {}  = {}  {place}{note}",
            l.kind,
            l.name,
            l.priority,
            show(&l.value)
        ));
        if let Some(b) = &l.commit {
            let line = if b.committed() {
                format!(
                    "{} {} {} \"{}\"",
                    &b.commit[..12.min(b.commit.len())],
                    b.time,
                    b.author,
                    b.summary
                )
            } else {
                "not committed yet".to_string()
            };
            ui.out(format!("      {}", ui.dim().apply_to(line)));
        }
    }
    let lv = &why.live;
    let target = why.target.as_deref().unwrap_or("-");
    match lv.state {
        "no-snapshot" => ui.out(match &why.target {
            Some(t) => format!(
                "live: no snapshot of {t}{}",
                at.map(|a| format!(" at or before {}", a.describe()))
                    .unwrap_or_default()
            ),
            None => "live: no target known (desired only)".to_string(),
        }),
        state => {
            let snapshot = lv.snapshot.as_deref().unwrap_or_default();
            let where_ = format!(
                "{} ({})",
                lv.ref_name.as_deref().unwrap_or_default(),
                &snapshot[..12.min(snapshot.len())]
            );
            let said = match state {
                "live" => format!("live on {target}: the same value"),
                "differs" => format!(
                    "live differs on {target}: {}",
                    lv.value.as_ref().map(show).unwrap_or_default()
                ),
                _ => format!(
                    "not live yet on {target}: live has no {} for {}",
                    why.key, why.node
                ),
            };
            ui.out(format!("{said}  {}", ui.dim().apply_to(where_)));
        }
    }
    if let Some(s) = &lv.since {
        let receipt = match &s.receipt {
            Some(r) => format!(
                ", receipt {} ({}{}{}{})",
                &r.id[..12.min(r.id.len())],
                r.action,
                r.result
                    .as_deref()
                    .map(|x| format!(" {x}"))
                    .unwrap_or_default(),
                r.proposal
                    .as_deref()
                    .map(|p| format!(", proposal {}", &p[..12.min(p.len())]))
                    .unwrap_or_default(),
                r.actor
                    .as_deref()
                    .map(|a| format!(", by {a}"))
                    .unwrap_or_default()
            ),
            None => ", no receipt named".to_string(),
        };
        ui.out(format!(
            "  since snapshot {} ({}){receipt}",
            &s.snapshot[..12.min(s.snapshot.len())],
            s.time
        ));
    }
}
