//! `git fleet reconcile [<target> | --all]`: one tick per target.

use super::{context, JSON_VERSION};
use crate::ui::{Outcome, Ui};
use git_fleet::cli::ReconcileArgs;
use git_fleet::reconcile::{tick, TickOptions, TickReport};
use git_fleet::{live, Result};
use serde_json::json;

pub fn run(ui: &Ui, args: ReconcileArgs) -> Result<Outcome> {
    let ctx = context()?;
    let targets = if args.all {
        live::known_targets(&ctx.store, &ctx.config)?
    } else {
        vec![live::resolve_target(
            &ctx.store,
            &ctx.config,
            args.target.as_deref(),
        )?]
    };
    let opts = TickOptions {
        max_proposals: args.max_proposals,
        rev: args.rev.clone(),
    };
    if args.watch {
        return watch(ui, &ctx, &targets, &opts, &args);
    }
    let mut reports: Vec<TickReport> = Vec::new();
    let mut first_error = None;
    for target in &targets {
        match tick(&ctx.store, &ctx.config, target, &opts) {
            Ok(r) => reports.push(r),
            Err(e) => {
                ui.error(format!("reconcile {target}: {e}"));
                first_error.get_or_insert(e);
            }
        }
    }
    if args.json {
        ui.json(&json!({ "version": JSON_VERSION, "ticks": reports }));
    } else {
        for r in &reports {
            print_report(ui, r);
        }
    }
    if let Some(e) = first_error {
        if reports.is_empty() {
            return Err(e);
        }
        return Ok(Outcome::Found);
    }
    let something = reports
        .iter()
        .any(|r| !r.opened.is_empty() || !r.failed.is_empty() || r.deferred > 0);
    Ok(if something {
        Outcome::Found
    } else {
        Outcome::Done
    })
}

fn print_report(ui: &Ui, r: &TickReport) {
    let status = r
        .run
        .as_ref()
        .map(|run| format!("{:?}", run.status).to_lowercase())
        .unwrap_or_default();
    ui.out(format!(
        "{} {}: {} opened, {} already open, {} not re-proposed (rejected/ignored, unchanged), {} over the cap, {} applied, {} failed ({status})",
        ui.bold().apply_to("reconcile"),
        r.target,
        r.opened.len(),
        r.already_open,
        r.not_reproposed,
        r.deferred,
        r.applied.len(),
        r.failed.len()
    ));
    for id in &r.applied {
        ui.out(format!(
            "  {} {}",
            ui.green().apply_to("applied"),
            &id[..12]
        ));
    }
    for (id, why) in &r.failed {
        ui.out(format!(
            "  {} {}: {why}",
            ui.red().apply_to("failed"),
            &id[..12]
        ));
    }
    for (id, why) in &r.held {
        ui.out(format!(
            "  {} {}: {why}",
            ui.yellow().apply_to("review"),
            &id[..12]
        ));
    }
    if let Some(run) = &r.run {
        for note in &run.notes {
            ui.out(format!("  note: {note}"));
        }
    }
}

/// `--watch`: one tick per target every interval until SIGINT/SIGTERM; a tick
/// in progress is finished before stopping.
fn watch(
    ui: &Ui,
    ctx: &super::Ctx,
    targets: &[String],
    opts: &TickOptions,
    args: &ReconcileArgs,
) -> Result<Outcome> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let interval = parse_interval(&args.interval)?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .map_err(|e| git_fleet::Error::Other(format!("cannot install the signal handler: {e}")))?;
    ui.status(format!(
        "watching {} every {}s; stop with Ctrl-C or SIGTERM",
        targets.join(", "),
        interval.as_secs()
    ));
    while !stop.load(Ordering::SeqCst) {
        for target in targets {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            match tick(&ctx.store, &ctx.config, target, opts) {
                Ok(r) if args.json => ui.json(&json!({ "version": JSON_VERSION, "ticks": [r] })),
                Ok(r) => print_report(ui, &r),
                Err(e) => ui.error(format!("reconcile {target}: {e}")),
            }
        }
        let until = std::time::Instant::now() + interval;
        while !stop.load(Ordering::SeqCst) && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
    ui.status("stopped");
    Ok(Outcome::Done)
}

/// `30s`, `5m`, `1h`, or plain seconds.
fn parse_interval(text: &str) -> Result<std::time::Duration> {
    let t = text.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = num.parse().map_err(|_| {
        git_fleet::Error::usage(format!(
            "--interval '{text}': expected a number with s, m or h"
        ))
    })?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => {
            return Err(git_fleet::Error::usage(format!(
                "--interval '{text}': unit must be s, m or h"
            )))
        }
    };
    if secs == 0 {
        return Err(git_fleet::Error::usage("--interval must be at least 1s"));
    }
    Ok(std::time::Duration::from_secs(secs))
}
