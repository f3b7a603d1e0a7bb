//! `git fleet diff`: desired fleet.yaml vs a target's latest live snapshot.

use crate::ui::{Outcome, Ui};
use clap::Args;
use git_fleet::desired::{self, Source};
use git_fleet::fleet::diff::{diff, BlastRadius, Change, ChangeType, Diff};
use git_fleet::workspace::Workspace;
use git_fleet::{live, Error, Result};
use serde_json::{json, Value};
use std::path::PathBuf;

/// Compare desired fleet.yaml with a target's latest live snapshot.
///
/// Shows create/update/destroy per resource with field-level before/after, and
/// the blast radius of each change: fan-out (nodes reached) x density (config
/// values in the changed unit) as the estimate, and the measured number of
/// rendered (node, key) values that really change.
///
/// The live side is refs/fleet/live/<target>, or when this clone has not
/// recorded one, the snapshot fetched from a remote
/// (refs/fleet-remote/<remote>/fleet/live/<target>, after `git fleet init` and
/// `git fetch`); the ref used is named. With no snapshot anywhere, or a missing
/// or empty desired file, diff refuses (exit 2) unless --allow-empty-live or
/// --allow-empty says empty is meant.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet diff                  # the only known target, work tree file\n  git fleet diff prod --staged    # what the next commit would change\n  git fleet diff staging --rev HEAD~1 --stat\n  git fleet diff --staged --check # validation only (pre-commit hook)\n  git fleet diff prod --json --exit-code"
)]
pub struct DiffArgs {
    /// Target to compare against (default: the only known one).
    pub target: Option<String>,
    /// Use the desired file as staged in the index.
    #[arg(long, conflicts_with_all = ["rev", "file"])]
    pub staged: bool,
    /// Use the desired file as of revision REV.
    #[arg(long, value_name = "REV", conflicts_with = "file")]
    pub rev: Option<String>,
    /// Use FILE as the desired state ('-' for stdin).
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Validate only: exit 1 if the desired file has a problem.
    #[arg(long)]
    pub check: bool,
    /// One line per change and the totals, no field detail.
    #[arg(long)]
    pub stat: bool,
    /// Exit 1 when there are differences.
    #[arg(long)]
    pub exit_code: bool,
    /// Compare with an empty fleet when the target has no live snapshot,
    /// neither recorded here nor fetched (default: refuse).
    #[arg(long)]
    pub allow_empty_live: bool,
    /// Read a missing or empty desired file as an empty fleet, on purpose
    /// (default: refuse; every resource would be a destroy).
    #[arg(long)]
    pub allow_empty: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(ui: &Ui, ws: &Workspace, args: DiffArgs) -> Result<Outcome> {
    let config = ws.config()?;
    let source = if args.staged {
        Source::Staged
    } else if let Some(rev) = &args.rev {
        Source::Rev(rev.clone())
    } else if let Some(file) = &args.file {
        Source::File(file.clone())
    } else {
        Source::WorkTree
    };
    if args.check {
        return check(ui, ws, &args, &source);
    }
    let target = match live::resolve_target(ws.store(), config, args.target.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            // A named file's own problems matter more than a missing target.
            if let Source::File(_) = &source {
                let input = desired::read(ws.store(), &source, git_fleet::config::DEFAULT_DESIRED)?;
                desired::parse(&input)?;
            }
            return Err(e);
        }
    };
    // The live snapshot loads on another core while the desired file is read,
    // split and hashed; the parse cache then borrows its fleet when equal.
    let git_dir = ws.store().git_dir().to_path_buf();
    type Loaded = Result<Option<(live::Snapshot, String)>>;
    let loaded: std::cell::OnceCell<Loaded> = std::cell::OnceCell::new();
    let parsed = std::thread::scope(|scope| -> Result<_> {
        let mut loader = Some(scope.spawn(|| {
            let store = git_fleet::store::Store::open(&git_dir)?;
            live::latest_recorded(&store, &target)
        }));
        let mut join = || {
            loaded.get_or_init(|| match loader.take().map(|h| h.join()) {
                Some(Ok(result)) => result,
                _ => Err(git_fleet::Error::Command(
                    "the snapshot loader stopped".into(),
                )),
            })
        };
        let input = desired::read(ws.store(), &source, &ws.desired_path(&target)?)?;
        desired::require_content(&input, desired::Role::Desired, args.allow_empty)?;
        let parsed = desired::parse_cached_lazy(ws.store(), &input, &mut || {
            join()
                .as_ref()
                .ok()
                .and_then(Option::as_ref)
                .map(|(s, _)| s)
        });
        join();
        Ok((input, parsed))
    })?;
    let (input, parsed) = (parsed.0, parsed.1?);
    let recorded = loaded.into_inner().expect("joined above")?;
    if recorded.is_none() && !args.allow_empty_live {
        return Err(match live::no_snapshot(ws.store(), &target) {
            Error::Usage { message, hint } => Error::usage_hint(
                message,
                format!(
                    "{}; or pass --allow-empty-live to compare with an empty fleet",
                    hint.unwrap_or_default()
                ),
            ),
            other => other,
        });
    }
    let (snapshot, snapshot_ref) = match recorded {
        Some((s, r)) => (Some(s), Some(r)),
        None => (None, None),
    };
    let empty = git_fleet::fleet::Fleet::default();
    let live_fleet = snapshot.as_ref().map(|s| &s.fleet).unwrap_or(&empty);
    let result = diff(live_fleet, &parsed.fleet);

    if args.json {
        ui.json(json!({
            "target": target,
            "desired": input.label,
            "snapshot": snapshot.as_ref().map(|s| s.commit.to_string()),
            "snapshot_ref": snapshot_ref,
            "changes": result.changes,
            "totals": totals(&result),
        }));
    } else {
        let against = match (&snapshot, &snapshot_ref) {
            (Some(s), Some(r)) if *r == live::live_ref(&target) => {
                format!("{r} ({})", &s.commit.to_string()[..12])
            }
            (Some(s), Some(r)) => format!(
                "{r} ({}; fetched, not recorded here yet)",
                &s.commit.to_string()[..12]
            ),
            _ => format!(
                "an empty fleet ({} has no snapshot; --allow-empty-live)",
                live::live_ref(&target)
            ),
        };
        ui.status(format!("{} vs {against}", input.label));
        print_human(ui, &result, args.stat);
    }
    let found = args.exit_code && !result.is_empty();
    // Freeing a few hundred thousand small allocations costs more than the
    // diff itself; the process ends right after, so let the OS reclaim them.
    std::mem::forget((parsed, snapshot, result));
    Ok(if found { Outcome::Found } else { Outcome::Done })
}

/// `--check`: validate the desired file(s) only; problems exit 1.
fn check(ui: &Ui, ws: &Workspace, args: &DiffArgs, source: &Source) -> Result<Outcome> {
    let report = ws.check_desired(args.target.as_deref(), source)?;
    if args.json {
        ui.json(json!({
            "checked": report.checked,
            "ok": report.ok(),
            "problems": report.problems,
        }));
    } else {
        ui.check_report(&report);
    }
    Ok(if report.ok() {
        Outcome::Done
    } else {
        Outcome::Found
    })
}

fn totals(d: &Diff) -> Value {
    let count = |t: ChangeType| d.changes.iter().filter(|c| c.change == t).count();
    json!({
        "changes": d.changes.len(),
        "create": count(ChangeType::Create),
        "update": count(ChangeType::Update),
        "destroy": count(ChangeType::Destroy),
        "by_kind": d.counts(),
        "blast_radius": d.total,
    })
}

fn radius(b: &BlastRadius) -> String {
    format!(
        "fan-out {} x density {} = {}, measured {}",
        b.fan_out, b.density, b.estimate, b.measured
    )
}

fn show_value(v: &Option<Value>) -> String {
    match v {
        None => "(absent)".into(),
        Some(Value::String(s)) => format!("{s:?}"),
        Some(other) => other.to_string(),
    }
}

fn print_human(ui: &Ui, d: &Diff, stat: bool) {
    if d.is_empty() {
        ui.out("no differences");
        return;
    }
    let mut last_kind = None;
    for c in &d.changes {
        if last_kind != Some(c.kind) {
            last_kind = Some(c.kind);
            let n = d.changes.iter().filter(|x| x.kind == c.kind).count();
            ui.out(format!("{} ({n})", ui.bold().apply_to(c.kind.as_str())));
        }
        print_change(ui, c, stat);
    }
    let count = |t: ChangeType| d.changes.iter().filter(|c| c.change == t).count();
    ui.out(format!(
        "{} {} change{} ({} create, {} update, {} destroy); blast radius: {} node{} reached, estimate {} (fan-out x density), measured {} rendered value{}",
        ui.bold().apply_to("total:"),
        d.changes.len(),
        if d.changes.len() == 1 { "" } else { "s" },
        count(ChangeType::Create),
        count(ChangeType::Update),
        count(ChangeType::Destroy),
        d.total.fan_out,
        if d.total.fan_out == 1 { "" } else { "s" },
        d.total.estimate,
        d.total.measured,
        if d.total.measured == 1 { "" } else { "s" },
    ));
}

fn print_change(ui: &Ui, c: &Change, stat: bool) {
    let (mark, style) = match c.change {
        ChangeType::Create => ("+", ui.green()),
        ChangeType::Update => ("~", ui.yellow()),
        ChangeType::Destroy => ("-", ui.red()),
    };
    ui.out(format!(
        "  {} {} {:<40} {}",
        style.apply_to(mark),
        style.apply_to(c.change.as_str()),
        c.name,
        ui.dim().apply_to(radius(&c.blast_radius))
    ));
    if stat {
        return;
    }
    for f in &c.fields {
        ui.out(format!(
            "      {}: {} -> {}",
            f.field,
            ui.red().apply_to(show_value(&f.before)),
            ui.green().apply_to(show_value(&f.after))
        ));
    }
}
