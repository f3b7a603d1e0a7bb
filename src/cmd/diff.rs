//! `git fleet diff`: desired fleet.yaml vs a target's latest live snapshot.

use super::{context, Ctx, JSON_VERSION};
use crate::ui::{Outcome, Ui};
use git_fleet::cli::DiffArgs;
use git_fleet::desired::{self, Source};
use git_fleet::fleet::diff::{diff, BlastRadius, Change, ChangeType, Diff};
use git_fleet::{live, policy, Error, Result};
use serde_json::{json, Value};

pub fn run(ui: &Ui, args: DiffArgs) -> Result<Outcome> {
    let ctx = context()?;
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
        return check(ui, &ctx, &args, &source);
    }
    let target = match live::resolve_target(&ctx.store, &ctx.config, args.target.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            // A named file's own problems matter more than a missing target.
            if let Source::File(_) = &source {
                let input = desired::read(&ctx.store, &source, git_fleet::config::DEFAULT_DESIRED)?;
                desired::parse(&input)?;
            }
            return Err(e);
        }
    };
    // The live snapshot loads on another core while the desired file is read,
    // split and hashed; the parse cache then borrows its fleet when equal.
    let git_dir = ctx.store.git_dir().to_path_buf();
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
                _ => Err(git_fleet::Error::Other(
                    "the snapshot loader stopped".into(),
                )),
            })
        };
        let input = desired::read(&ctx.store, &source, &desired_path(&ctx, &target))?;
        desired::require_content(&input, desired::Role::Desired, args.allow_empty)?;
        let parsed = desired::parse_cached_lazy(&ctx.store, &input, &mut || {
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
        return Err(match live::no_snapshot(&ctx.store, &target) {
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
    let (result, ignored) = if ctx.config.ignore.is_empty() {
        (diff(live_fleet, &parsed.fleet), Vec::new())
    } else {
        let (goal, ignored) = git_fleet::ops::ignore::neutralize(
            &ctx.config,
            &target,
            live_fleet,
            parsed.fleet.clone(),
        );
        (diff(live_fleet, &goal), ignored)
    };

    if args.json {
        let mut out = json!({
            "version": JSON_VERSION,
            "target": target,
            "desired": input.label,
            "snapshot": snapshot.as_ref().map(|s| s.commit.to_string()),
            "snapshot_ref": snapshot_ref,
            "changes": result.changes,
            "totals": totals(&result),
        });
        if args.show_ignored {
            out["ignored"] = json!(ignored);
        }
        ui.json(&out);
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
        if args.show_ignored {
            ui.out(format!("ignored ({})", ignored.len()));
            for i in &ignored {
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
    }
    let found = args.exit_code && !result.is_empty();
    // Freeing a few hundred thousand small allocations costs more than the
    // diff itself; the process ends right after, so let the OS reclaim them.
    std::mem::forget((parsed, snapshot, result));
    Ok(if found { Outcome::Found } else { Outcome::Done })
}

fn desired_path(ctx: &Ctx, target: &str) -> String {
    ctx.config
        .target(target)
        .map(|t| t.desired_path())
        .unwrap_or_else(|| git_fleet::config::DEFAULT_DESIRED.to_string())
}

/// `--check`: validate the desired file(s) only; problems exit 1.
fn check(ui: &Ui, ctx: &Ctx, args: &DiffArgs, source: &Source) -> Result<Outcome> {
    let mut paths: Vec<String> = match (&args.target, source) {
        (Some(t), _) => vec![desired_path(ctx, t)],
        (None, Source::File(_)) => vec![git_fleet::config::DEFAULT_DESIRED.into()],
        (None, _) if ctx.config.targets.is_empty() => {
            vec![git_fleet::config::DEFAULT_DESIRED.into()]
        }
        (None, _) => ctx
            .config
            .targets
            .values()
            .map(|t| t.desired_path())
            .collect(),
    };
    paths.sort();
    paths.dedup();
    let mut problems = Vec::new();
    let mut checked = Vec::new();
    for path in &paths {
        let input = desired::read(&ctx.store, source, path)?;
        if !input.exists {
            continue;
        }
        checked.push(input.label.clone());
        match desired::parse_cached(&ctx.store, &input) {
            Ok(parsed) if !ctx.config.policy.is_empty() => {
                problems.extend(policy_problems(
                    ctx,
                    source,
                    path,
                    &input.label,
                    &parsed.fleet,
                )?);
            }
            Ok(_) => {}
            Err(Error::Invalid(diags)) => problems.extend(diags),
            Err(other) => return Err(other),
        }
    }
    if args.json {
        ui.json(&json!({
            "version": JSON_VERSION,
            "checked": checked,
            "ok": problems.is_empty(),
            "problems": problems,
        }));
    } else {
        for p in &problems {
            ui.error(p.to_string());
        }
        if problems.is_empty() && !checked.is_empty() {
            ui.status(format!("{} ok", checked.join(", ")));
        }
    }
    Ok(if problems.is_empty() {
        Outcome::Done
    } else {
        Outcome::Found
    })
}

/// Bounded writes at commit time: the changes this file makes against HEAD
/// (against REV's parent with --rev), decided for the local actor (user.email,
/// or the principal the allowed signers file gives the signing key) on every
/// target the file serves. A base that does not parse refuses: the change
/// cannot be decided.
fn policy_problems(
    ctx: &Ctx,
    source: &Source,
    path: &str,
    label: &str,
    checked: &git_fleet::fleet::Fleet,
) -> Result<Vec<git_fleet::Diagnostic>> {
    let base_rev = match source {
        Source::Rev(rev) => format!("{rev}^"),
        _ => "HEAD".to_string(),
    };
    let base = match ctx.store.rev_commit(&base_rev) {
        Ok(_) => {
            let input = desired::read(&ctx.store, &Source::Rev(base_rev.clone()), path)?;
            match desired::parse(&input) {
                Ok(p) => p.fleet,
                Err(e) => {
                    return Ok(vec![git_fleet::Diagnostic::new(
                        label,
                        format!(
                            "cannot check the policy: {path} at {base_rev} does not parse ({e})"
                        ),
                    )])
                }
            }
        }
        Err(_) => Default::default(), // no commit yet: everything is new
    };
    let dir = ctx
        .store
        .work_dir()
        .unwrap_or(ctx.store.git_dir())
        .to_path_buf();
    let actor = policy::local_actor(&dir, &ctx.store.actor().email);
    let known = live::known_targets(&ctx.store, &ctx.config)?;
    let targets: Vec<String> = policy::desired_files(&ctx.config, &known)
        .into_iter()
        .find(|(p, _)| p == path)
        .map(|(_, t)| t)
        .unwrap_or_default();
    let changes = diff(&base, checked).changes;
    let mut decisions = Vec::new();
    if targets.is_empty() {
        decisions.extend(ctx.config.policy.check(&actor, None, &changes));
    }
    for t in &targets {
        decisions.extend(ctx.config.policy.check(&actor, Some(t), &changes));
    }
    Ok(decisions
        .into_iter()
        .filter_map(|d| d.refusal)
        .map(|why| git_fleet::Diagnostic::new(label, why))
        .collect())
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
