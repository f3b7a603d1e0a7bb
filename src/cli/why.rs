//! `git fleet why NODE KEY [--target T] [--at WHEN]`: where a rendered value came from.

use crate::ui::{Outcome, Ui};
use clap::Args;
use git_fleet::desired::{self, Source};
use git_fleet::timeline::at::{self, LiveThen};
use git_fleet::timeline::why::{explain, Request, Why};
use git_fleet::timeline::{desired_path, optional_target};
use git_fleet::workspace::Workspace;
use git_fleet::{live, Result};
use serde_json::Value;

/// Where a rendered value came from, layer by layer, and what put it live.
///
/// Shows NODE's rendered KEY; every module and assignment config that sets
/// it, in render order (ascending priority, ties by module name; a module's
/// config before its assignment's own; the last enabled one wins; disabled
/// assignments are listed, never rendered), each with file:line and the
/// commit that last changed that line (`git blame`; "not committed yet" for
/// a work-tree edit); and the target's live value: `live` (the same),
/// `differs`, `not-live-yet`, or `no-snapshot`, with the oldest snapshot
/// that has held it since and the receipt that snapshot names (an apply's
/// completing receipt when there is one).
///
/// --at WHEN reads everything as it was then. The rule for every ref: the
/// newest commit reachable from its tip whose committer date is at or before
/// WHEN (all parents walked; equal dates: the one nearer the tip). WHEN is a
/// date first: RFC 3339 (2026-01-05T10:00:00Z), a local '2026-01-05 10:00',
/// a bare date (the end of that day), @<unix seconds>, 'N
/// minutes|hours|days|weeks ago', yesterday, now; anything else must be a
/// git revision, standing for its commit date (and for the desired file, that
/// commit). A time before the branch's first commit is refused (exit 2).
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet why app-02 nginx_workers\n  git fleet why app-01 listen_port --target prod --json\n  git fleet why app-01 listen_port --at '2026-01-05 10:00'\n  git fleet why app-01 listen_port --at main~3\n\nExit codes: 0 shown, 2 unknown node or key (the closest names are listed), or error."
)]
pub struct WhyArgs {
    /// The node (the part before ':' of an assignment key).
    pub node: String,
    /// The config key of its rendered config.
    pub key: String,
    /// The target whose live state to compare with (default: the only known
    /// one; none known: desired only).
    #[arg(long, value_name = "T")]
    pub target: Option<String>,
    /// Everything as it was at WHEN: a date or a revision.
    #[arg(long, value_name = "WHEN")]
    pub at: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(ui: &Ui, ws: &Workspace, args: WhyArgs) -> Result<Outcome> {
    let config = ws.config()?;
    let target = optional_target(ws.store(), config, args.target.as_deref())?;
    let path = desired_path(config, target.as_deref());
    let at = args
        .at
        .as_deref()
        .map(|s| at::parse(ws.store(), s))
        .transpose()?;
    let (input, commit) = match &at {
        Some(a) => {
            let (d, c) = at::desired_at(ws.store(), a, &path)?;
            (d, Some(c))
        }
        None => (desired::read(ws.store(), &Source::WorkTree, &path)?, None),
    };
    desired::require_content(&input, desired::Role::Desired, false)?;
    let parsed = desired::parse(&input)?;
    let live_then = match (&target, &at) {
        // Before the target's first snapshot, live is honestly "none then".
        (Some(t), Some(a)) => at::live_at_or_none(ws.store(), t, a)?,
        (Some(t), None) => live::latest_recorded(ws.store(), t)?.map(|(s, r)| LiveThen {
            commit: s.commit,
            fleet: s.fleet,
            ref_name: r,
        }),
        _ => None,
    };
    let receipts = at::receipts_at(ws.store(), at.as_ref())?;
    let why = explain(
        ws.store(),
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
        v["at"] = at.as_ref().map(|a| a.to_json()).unwrap_or(Value::Null);
        ui.json(v);
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
