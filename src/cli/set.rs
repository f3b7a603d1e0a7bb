//! `git fleet set SELECTOR KEY=VALUE...`: upsert values in the desired file
//! (lossless), or with `--live TARGET` in live through the target's driver.

use crate::ui::{Outcome, Ui};
use clap::Args;
use git_fleet::ops::edit::{self, Prepared};
use git_fleet::ops::{getset, select::Selector};
use git_fleet::workspace::Workspace;
use git_fleet::{Error, Result};
use serde_json::{json, Value};

/// Upsert values in every resource a selector matches, as one commit.
///
/// Edits the target's desired file in place (comments, order and formatting
/// of untouched lines kept byte for byte), re-parses and validates it, prints
/// the blast radius (as `diff` measures it), refuses what the actor's policy
/// does not allow (exit 2, nothing written), and commits only that file with
/// a `Fleet-Selector` trailer. VALUE is typed as YAML (`3` is an integer;
/// quote it, `'"3"'`, for a string). A desired file with uncommitted changes
/// is refused. With --live TARGET the values are changed in live instead,
/// through the target's driver, leaving drift to adopt.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet set modules/nginx-* config.nginx_workers=6 -m 'more workers'\n  git fleet set assignments/app-*:nginx-public enabled=false --dry-run\n  git fleet set modules/tls config.listen_port=8443 --live staging"
)]
pub struct SetArgs {
    /// kind/name-glob, or node=NAME.
    pub selector: String,
    /// KEY=VALUE pairs; KEY is a dotted path into the resource.
    #[arg(required = true, value_name = "KEY=VALUE")]
    pub values: Vec<String>,
    /// The target whose desired file is edited (default: the only known one).
    #[arg(long, value_name = "T", conflicts_with = "live")]
    pub target: Option<String>,
    /// Change live of TARGET through its driver instead of desired (as apply
    /// does: approved proposals, intent and completing receipts); the drift
    /// is then reported for `git fleet adopt`.
    #[arg(long, value_name = "TARGET", conflicts_with = "message")]
    pub live: Option<String>,
    /// The commit message's body.
    #[arg(short = 'm', value_name = "MSG")]
    pub message: Option<String>,
    /// Show what would change; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(ui: &Ui, ws: &Workspace, args: SetArgs) -> Result<Outcome> {
    let config = ws.config()?;
    let selector = Selector::parse(&args.selector)?;
    let values = getset::parse_assignments(&args.values)?;
    if let Some(target) = &args.live {
        return live(ui, ws, &args, target, &selector, &values);
    }
    let place = edit::place(ws.store(), config, args.target.as_deref())?;
    let _lock = place.lock(ws.store())?;
    place.require_clean()?;
    let (text, current) = place.read()?;
    let edits = getset::plan(
        &current.fleet,
        &place.path,
        std::slice::from_ref(&selector),
        &values,
    )?;
    let prepared = edit::prepare(ws.store(), config, &place, (text, current), &edits)?;
    let refusals = prepared.refusals();
    // The change and its blast radius are shown before anything is written.
    if !args.json {
        show(ui, &prepared);
    }
    let commit = if args.dry_run || !refusals.is_empty() || prepared.diff.is_empty() {
        None
    } else {
        let message =
            getset::commit_message(&selector, &args.values, args.message.as_deref(), &prepared);
        Some(edit::commit_with_receipts(
            ws.store(),
            &prepared,
            "set",
            &prepared.diff.changes,
            &[],
            &message,
        )?)
    };
    let (commit, receipts) = match commit {
        Some((c, r)) => (Some(c), r),
        None => (None, Vec::new()),
    };
    if args.json {
        let mut out = prepared_json(&prepared);
        out["selector"] = json!(selector.text);
        out["dry_run"] = json!(args.dry_run);
        out["commit"] = json!(commit);
        out["receipts"] = json!(receipts);
        ui.json(out);
    } else {
        if let Some(c) = &commit {
            ui.status(format!(
                "committed {} ({}), {} receipt{}",
                &c[..12],
                place.path,
                receipts.len(),
                if receipts.len() == 1 { "" } else { "s" }
            ));
        } else if args.dry_run && refusals.is_empty() {
            ui.status("dry run: nothing written");
        }
    }
    if !refusals.is_empty() {
        return Err(refused(&refusals));
    }
    Ok(Outcome::Done)
}

/// The policy's refusals as one error (exit 2; nothing was written).
pub fn refused(refusals: &[String]) -> Error {
    Error::usage_hint(
        format!(
            "refused by policy, nothing written: {}",
            refusals.join("; ")
        ),
        "ask someone whose [[policy]] rule allows it, or narrow the selector",
    )
}

/// The JSON common to set, adopt and promote.
pub fn prepared_json(p: &Prepared) -> Value {
    json!({
        "target": p.place.target,
        "file": p.place.path,
        "actor": p.actor,
        "changes": p.diff.changes,
        "totals": super::diff::totals(&p.diff),
        "lines": line_changes(&p.before_text, &p.after_text),
        "policy": p.decisions,
        "allowed": p.refusals().is_empty(),
    })
}

/// The edited lines, with line numbers (before / after), the rest untouched.
pub fn line_changes(before: &str, after: &str) -> Value {
    let a: Vec<&str> = before.lines().collect();
    let b: Vec<&str> = after.lines().collect();
    let mut out = Vec::new();
    // Lossless edits touch a few places: walk both, re-synchronising on the
    // next equal line.
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            i += 1;
            j += 1;
            continue;
        }
        // Smallest (di, dj) such that a[i+di] == b[j+dj].
        let mut best = (a.len() - i, b.len() - j);
        'search: for d in 1..=(a.len() - i + b.len() - j) {
            for di in 0..=d {
                let dj = d - di;
                if i + di < a.len() && j + dj < b.len() && a[i + di] == b[j + dj] {
                    best = (di, dj);
                    break 'search;
                }
            }
        }
        for k in 0..best.0 {
            out.push(json!({"line": i + k + 1, "before": a[i + k]}));
        }
        for k in 0..best.1 {
            out.push(json!({"new_line": j + k + 1, "after": b[j + k]}));
        }
        i += best.0;
        j += best.1;
    }
    Value::Array(out)
}

/// Human output: the edited lines, the semantic diff with blast radius, and
/// the policy's refusals.
pub fn show(ui: &Ui, p: &Prepared) {
    ui.out(format!("{}:", p.place.path));
    if let Value::Array(lines) = line_changes(&p.before_text, &p.after_text) {
        for l in &lines {
            match (l.get("before"), l.get("after")) {
                (Some(Value::String(s)), _) => {
                    ui.out(format!("  {}{:>5}: {s}", ui.red().apply_to("-"), l["line"]))
                }
                (_, Some(Value::String(s))) => ui.out(format!(
                    "  {}{:>5}: {s}",
                    ui.green().apply_to("+"),
                    l["new_line"]
                )),
                _ => {}
            }
        }
    }
    super::diff::print_human(ui, &p.diff, false);
    for r in p.refusals() {
        ui.error(r);
    }
}

/// `--live TARGET`: through the apply path; the result is drift to adopt.
fn live(
    ui: &Ui,
    ws: &Workspace,
    args: &SetArgs,
    target: &str,
    selector: &Selector,
    values: &[(String, Vec<String>, Value)],
) -> Result<Outcome> {
    let done = git_fleet::ops::live_set::run(
        ws.store(),
        ws.config()?,
        target,
        selector,
        values,
        args.dry_run,
    )?;
    let failed: Vec<String> = done
        .outcomes
        .iter()
        .filter_map(|o| {
            o.result
                .as_ref()
                .err()
                .map(|why| format!("{}: {why}", &o.id[..12]))
        })
        .collect();
    if args.json {
        ui.json(json!({
            "target": done.target,
            "live": true,
            "selector": selector.text,
            "dry_run": args.dry_run,
            "changes": done.diff.changes,
            "totals": super::diff::totals(&done.diff),
            "applied": done.outcomes,
            "adopt": done.adopt,
        }));
    } else {
        ui.out(format!("live {}:", done.target));
        super::diff::print_human(ui, &done.diff, false);
        for o in &done.outcomes {
            match &o.result {
                Ok(snapshot) => ui.status(format!(
                    "applied {} (live snapshot {})",
                    &o.id[..12],
                    &snapshot[..12.min(snapshot.len())]
                )),
                Err(why) => ui.error(format!("not applied {}: {why}", &o.id[..12])),
            }
        }
        if args.dry_run {
            ui.status("dry run: nothing changed");
        } else if let Some(adopt) = &done.adopt {
            ui.status("live now differs from desired; to keep it, adopt it:");
            ui.status(format!("  {adopt}"));
        }
    }
    if !failed.is_empty() {
        return Err(Error::Command(format!(
            "live change not applied: {}",
            failed.join("; ")
        )));
    }
    Ok(Outcome::Done)
}
