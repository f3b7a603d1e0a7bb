//! `git fleet diff`: desired fleet.yaml vs a target's latest live snapshot.

use crate::ui::{Outcome, Ui};
use clap::Args;
use git_fleet::desired::{self, Source};
use git_fleet::fleet::diff::{diff, BlastRadius, Change, ChangeType, Diff};
use git_fleet::timeline::{at, rendered};
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
    /// Also list the drift that [[ignore]] rules in fleet.toml leave out.
    #[arg(long)]
    pub show_ignored: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Desired and live as they were at WHEN: a date (2026-01-05,
    /// 2026-01-05T10:00:00Z, '3 days ago') or a revision (see `git fleet why`).
    #[arg(long, value_name = "WHEN", conflicts_with_all = ["staged", "rev", "file", "check"])]
    pub at: Option<String>,
    /// Also show, per node, the rendered values that change (before -> after),
    /// and provider_configs changes (informational, never applied); only
    /// NODEs when given (put TARGET before --rendered).
    #[arg(long, value_name = "NODE", num_args = 0.., conflicts_with = "check")]
    pub rendered: Option<Vec<String>>,
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
    if let Some(spec) = &args.at {
        return at_diff(ui, ws, &args, spec);
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
    // Most diffs: the parse cache holds live's fleet and the file changed
    // little, so only what the changes reach is decoded (no snapshot decode).
    // (Not for stdin: the usual path could not read it again.)
    let stdin = matches!(&source, Source::File(p) if p.as_os_str() == "-");
    if args.rendered.is_none() && config.ignore.is_empty() && !stdin {
        if let Some(outcome) = quick(ui, ws, &args, &source, &target)? {
            return Ok(outcome);
        }
    }
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
    // [[ignore]] rules: desired agrees with live on ignored fields first.
    let (neutral, ignored) = if config.ignore.is_empty() {
        (None, Vec::new())
    } else {
        let (goal, ignored) =
            git_fleet::ops::ignore::neutralize(config, &target, live_fleet, parsed.fleet.clone());
        (Some(goal), ignored)
    };
    let desired_fleet = neutral.as_ref().unwrap_or(&parsed.fleet);
    let against = against(
        &target,
        snapshot
            .as_ref()
            .map(|s| s.commit)
            .zip(snapshot_ref.as_deref()),
    );
    let shown = Shown {
        target: &target,
        desired: &input.label,
        snapshot: snapshot.as_ref().map(|s| s.commit.to_string()),
        snapshot_ref,
        against,
        at: None,
        ignored: args.show_ignored.then_some(ignored),
    };
    let outcome = present(ui, &args, &shown, live_fleet, desired_fleet)?;
    // Freeing a few hundred thousand small allocations costs more than the
    // diff itself; the process ends right after, so let the OS reclaim them.
    std::mem::forget((parsed, snapshot));
    Ok(outcome)
}

/// The live side in words: the snapshot commit and the ref it was read from.
fn against(target: &str, snapshot: Option<(gix::ObjectId, &str)>) -> String {
    match snapshot {
        Some((commit, r)) if r == live::live_ref(target) => {
            format!("{r} ({})", &commit.to_string()[..12])
        }
        Some((commit, r)) => format!(
            "{r} ({}; fetched, not recorded here yet)",
            &commit.to_string()[..12]
        ),
        None => format!(
            "an empty fleet ({} has no snapshot; --allow-empty-live)",
            live::live_ref(target)
        ),
    }
}

/// The diff from the parse cache's view ([`desired::diff_view`]): the same
/// output, without decoding the snapshot. None (nothing printed) when that
/// view cannot be had; every refusal is then the usual path's to give.
fn quick(
    ui: &Ui,
    ws: &Workspace,
    args: &DiffArgs,
    source: &Source,
    target: &str,
) -> Result<Option<Outcome>> {
    let Ok(Some((commit, snapshot_ref))) = live::latest_recorded_commit(ws.store(), target) else {
        return Ok(None);
    };
    let Ok(blob) = live::json_blob_at(ws.store(), commit) else {
        return Ok(None);
    };
    let Ok(path) = ws.desired_path(target) else {
        return Ok(None);
    };
    let Ok(input) = desired::read(ws.store(), source, &path) else {
        return Ok(None);
    };
    if desired::require_content(&input, desired::Role::Desired, args.allow_empty).is_err() {
        return Ok(None);
    }
    let Some((live_fleet, desired_fleet)) =
        desired::diff_view(ws.store(), &input, &blob.to_string())
    else {
        return Ok(None);
    };
    let shown = Shown {
        target,
        desired: &input.label,
        snapshot: Some(commit.to_string()),
        against: against(target, Some((commit, &snapshot_ref))),
        snapshot_ref: Some(snapshot_ref),
        at: None,
        ignored: args.show_ignored.then(Vec::new),
    };
    let outcome = present(ui, args, &shown, &live_fleet, &desired_fleet)?;
    // As in `run`: the process ends right after; let the OS reclaim the fleets.
    std::mem::forget((live_fleet, desired_fleet));
    Ok(Some(outcome))
}

/// What a diff compared, for its header and JSON.
struct Shown<'a> {
    target: &'a str,
    desired: &'a str,
    snapshot: Option<String>,
    snapshot_ref: Option<String>,
    /// The live side in words, for the status line.
    against: String,
    at: Option<Value>,
    /// `--show-ignored`: the drift `[[ignore]]` rules hid.
    ignored: Option<Vec<git_fleet::ops::ignore::Ignored>>,
}

/// Diff `live_fleet` against `desired` and print it (with --rendered, the
/// rendered values per node and provider_configs changes too).
fn present(
    ui: &Ui,
    args: &DiffArgs,
    shown: &Shown<'_>,
    live_fleet: &git_fleet::fleet::Fleet,
    desired: &git_fleet::fleet::Fleet,
) -> Result<Outcome> {
    // Computed first: an unknown node refuses before anything is printed.
    let rendered = match &args.rendered {
        Some(nodes) => Some((
            rendered::node_changes(live_fleet, desired, nodes)?,
            rendered::provider_changes(live_fleet, desired),
        )),
        None => None,
    };
    let result = diff(live_fleet, desired);
    if args.json {
        let mut v = json!({
            "target": shown.target,
            "desired": shown.desired,
            "snapshot": shown.snapshot,
            "snapshot_ref": shown.snapshot_ref,
            "changes": result.changes,
            "totals": totals(&result),
        });
        if let Some(at) = &shown.at {
            v["at"] = at.clone();
        }
        if let Some(ignored) = &shown.ignored {
            v["ignored"] = json!(ignored);
        }
        if let Some((nodes, providers)) = &rendered {
            v["rendered"] = json!(nodes);
            v["provider_configs"] = json!(providers);
        }
        ui.json(v);
    } else {
        ui.status(format!("{} vs {}", shown.desired, shown.against));
        print_human(ui, &result, args.stat);
        if let Some(ignored) = &shown.ignored {
            print_ignored(ui, ignored);
        }
        if let Some((nodes, providers)) = &rendered {
            print_rendered(ui, nodes, providers);
        }
    }
    let found = args.exit_code && !result.is_empty();
    std::mem::forget(result);
    Ok(if found { Outcome::Found } else { Outcome::Done })
}

/// `--show-ignored`: each hidden field, live and desired, and its rule.
fn print_ignored(ui: &Ui, ignored: &[git_fleet::ops::ignore::Ignored]) {
    ui.out(format!("ignored ({})", ignored.len()));
    for i in ignored {
        ui.out(format!(
            "  {}: live {} / desired {}   [[ignore]] {}{}",
            i.path,
            show_value(&i.live),
            show_value(&i.desired),
            i.rule,
            i.reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ));
    }
}

/// `--rendered`: per node the values that change, then provider_configs.
fn print_rendered(
    ui: &Ui,
    nodes: &[rendered::NodeChanges],
    providers: &[rendered::ProviderChange],
) {
    ui.out(format!("{}", ui.bold().apply_to("rendered")));
    if nodes.is_empty() {
        ui.out("  no rendered value changes");
    }
    for n in nodes {
        ui.out(format!("  {}", n.node));
        for v in &n.values {
            let from = match (&v.before_from, &v.after_from) {
                (Some(b), Some(a)) if b != a => format!("  ({b} -> {a})"),
                (_, Some(a)) => format!("  ({a})"),
                (Some(b), None) => format!("  ({b})"),
                _ => String::new(),
            };
            ui.out(format!(
                "    {}: {} -> {}{}",
                v.key,
                ui.red().apply_to(show_value(&v.before)),
                ui.green().apply_to(show_value(&v.after)),
                ui.dim().apply_to(from)
            ));
        }
    }
    if !providers.is_empty() {
        ui.out(format!(
            "{} {}",
            ui.bold().apply_to("provider_configs"),
            ui.dim()
                .apply_to("(informational: never proposed or applied)")
        ));
        for p in providers {
            ui.out(format!("  {} {}", p.change, p.name));
            for f in &p.fields {
                ui.out(format!(
                    "      {}: {} -> {}",
                    f.path,
                    ui.red().apply_to(show_value(&f.before)),
                    ui.green().apply_to(show_value(&f.after))
                ));
            }
        }
    }
}

/// `diff --at WHEN`: the desired file on the current branch (or at the
/// revision) and the target's live snapshot, both as they were then.
fn at_diff(ui: &Ui, ws: &Workspace, args: &DiffArgs, spec: &str) -> Result<Outcome> {
    let target = live::resolve_target(ws.store(), ws.config()?, args.target.as_deref())?;
    let at = at::parse(ws.store(), spec)?;
    let (input, _) = at::desired_at(ws.store(), &at, &ws.desired_path(&target)?)?;
    desired::require_content(&input, desired::Role::Desired, args.allow_empty)?;
    let parsed = desired::parse(&input)?;
    let then = if args.allow_empty_live {
        at::live_at_or_none(ws.store(), &target, &at)?
    } else {
        Some(at::live_at(ws.store(), &target, &at)?.ok_or_else(|| {
            Error::usage_hint(
                format!("no live snapshot for target {target}"),
                "pass --allow-empty-live to compare with an empty fleet",
            )
        })?)
    };
    let empty = git_fleet::fleet::Fleet::default();
    let shown = Shown {
        target: &target,
        desired: &input.label,
        snapshot: then.as_ref().map(|t| t.commit.to_string()),
        snapshot_ref: then.as_ref().map(|t| t.ref_name.clone()),
        against: match &then {
            Some(t) => format!(
                "{} ({}) at {}",
                t.ref_name,
                &t.commit.to_string()[..12],
                at.describe()
            ),
            None => format!("an empty fleet (no snapshot of {target} then; --allow-empty-live)"),
        },
        at: Some(at.to_json()),
        ignored: None,
    };
    present(
        ui,
        args,
        &shown,
        then.as_ref().map(|t| &t.fleet).unwrap_or(&empty),
        &parsed.fleet,
    )
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

pub fn totals(d: &Diff) -> Value {
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

pub fn print_human(ui: &Ui, d: &Diff, stat: bool) {
    if d.is_empty() {
        ui.out("no differences");
        return;
    }
    // One write for the whole listing, not one per line.
    let mut out = Lines(String::with_capacity(128 * d.changes.len() + 256));
    let mut last_kind = None;
    for c in &d.changes {
        if last_kind != Some(c.kind) {
            last_kind = Some(c.kind);
            let n = d.changes.iter().filter(|x| x.kind == c.kind).count();
            out.line(format!("{} ({n})", ui.bold().apply_to(c.kind.as_str())));
        }
        print_change(ui, &mut out, c, stat);
    }
    let count = |t: ChangeType| d.changes.iter().filter(|c| c.change == t).count();
    out.line(format!(
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
    ui.out(out.0.strip_suffix('\n').unwrap_or(&out.0));
}

/// Lines of output gathered for one write.
struct Lines(String);

impl Lines {
    fn line(&mut self, line: impl std::fmt::Display) {
        use std::fmt::Write;
        let _ = writeln!(self.0, "{line}");
    }
}

fn print_change(ui: &Ui, out: &mut Lines, c: &Change, stat: bool) {
    let (mark, style) = match c.change {
        ChangeType::Create => ("+", ui.green()),
        ChangeType::Update => ("~", ui.yellow()),
        ChangeType::Destroy => ("-", ui.red()),
    };
    out.line(format_args!(
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
        out.line(format_args!(
            "      {}: {} -> {}",
            f.field,
            ui.red().apply_to(show_value(&f.before)),
            ui.green().apply_to(show_value(&f.after))
        ));
    }
}
