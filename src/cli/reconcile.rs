//! `git fleet reconcile [<target> | --all]`: one tick per target.

use crate::ui::{Outcome, Ui};
use clap::Args;
use git_fleet::proposals::Book;
use git_fleet::reconcile::{tick, TickOptions, TickReport};
use git_fleet::store::Store;
use git_fleet::workspace::Workspace;
use git_fleet::{live, Result};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// One reconcile tick: diff desired against live and open proposals for review.
///
/// Parse and validate the desired file at REV (default HEAD), diff it against
/// the target's live state, open proposals up to the per-tick cap (default 25;
/// --max-proposals, env GIT_FLEET_MAX_PROPOSALS_PER_TICK, or max_proposals in
/// fleet.toml; over the cap the run is `partial` and the rest open next tick),
/// then auto-apply only when all four gates hold: the target has auto_apply =
/// true, the change is a create or update (a destroy always waits), automation
/// is not halted, and the proposal was opened within this tick's cap. The
/// audit proposal is written before anything is applied; one failed apply
/// never aborts the tick; every tick leaves a run record. Once fleet.toml has
/// a [[policy]], auto-apply is also decided for whoever runs the tick
/// (user.email or signing key principal); a change outside that scope waits
/// for review.
///
/// Nothing is guessed: a target without a live snapshot recorded here (a
/// fetched one is merged in by `git fleet sync`), or whose desired file is
/// missing or empty at REV, is refused (exit 2) before anything is written.
///
/// Two ticks of one target never run at once: a tick holds
/// .git/fleet/locks/tick-<target>.lock (pid, process start, time), and a lock
/// whose process is gone, whose pid was reused, or that is older than an hour
/// is stale and taken over (the run record notes it).
///
/// --watch is the timer for setups without the post-receive hook: one tick per
/// target every --interval (fleet.toml is read again each round), until
/// SIGINT or SIGTERM; a tick in progress finishes first. A target whose tick
/// is still running elsewhere is skipped for that round.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet reconcile staging\n  git fleet reconcile --all --json\n  GIT_FLEET_MAX_PROPOSALS_PER_TICK=5 git fleet reconcile prod\n  git fleet reconcile --all --watch --interval 5m   # until Ctrl-C or SIGTERM\n  git fleet reconcile prod --rev refs/heads/main --wait 10m   # what post-receive runs"
)]
pub struct ReconcileArgs {
    /// The target to reconcile (default: the only known one).
    pub target: Option<String>,
    /// Reconcile every known target.
    #[arg(long, conflicts_with = "target")]
    pub all: bool,
    /// Read the desired file at this revision.
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    pub rev: String,
    /// Open at most N proposals in this tick.
    #[arg(long, value_name = "N")]
    pub max_proposals: Option<usize>,
    /// Read a missing or empty desired file as an empty fleet, on purpose
    /// (default: refuse; every resource would be proposed for destruction).
    #[arg(long)]
    pub allow_empty: bool,
    /// Keep reconciling: one tick per target every --interval, until SIGINT/SIGTERM.
    #[arg(long)]
    pub watch: bool,
    /// If another tick of the target is running, wait up to DURATION for it
    /// (30s, 5m, 1h; default: refuse at once).
    #[arg(long, value_name = "DURATION", conflicts_with = "watch")]
    pub wait: Option<String>,
    /// Time between ticks with --watch: 30s, 5m, 1h (default 5m).
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "5m",
        requires = "watch"
    )]
    pub interval: String,
    /// List every proposal applied, failed or held for review (default:
    /// counts per kind and change, and the first few).
    #[arg(long, short)]
    pub verbose: bool,
    /// Print one JSON object (with --watch: one per tick, a line each).
    #[arg(long)]
    pub json: bool,
}

/// Without --verbose: how many proposals of each list are shown by id.
const FIRST: usize = 5;

pub fn run(ui: &Ui, ws: &Workspace, args: ReconcileArgs) -> Result<Outcome> {
    if args.watch {
        return watch(ui, &args);
    }
    ws.config()?; // a malformed fleet.toml stops every command that reads it
    let targets = targets(ws, &args)?;
    let opts = TickOptions {
        max_proposals: args.max_proposals,
        rev: args.rev.clone(),
        lock_wait: match &args.wait {
            Some(w) => parse_interval("--wait", w)?,
            None => Duration::ZERO,
        },
        allow_empty: args.allow_empty,
    };
    let mut reports: Vec<TickReport> = Vec::new();
    let mut first_error = None;
    for target in &targets {
        match ws
            .config()
            .and_then(|config| tick(ws.store(), config, target, &opts))
        {
            Ok(r) => reports.push(r),
            Err(e) => {
                // A lone target's error is reported once, with its hint, below.
                if targets.len() > 1 {
                    ui.error(format!("reconcile {target}: {e}"));
                }
                first_error.get_or_insert(e);
            }
        }
    }
    super::notify::ticked(ui, ws, &reports);
    if args.json {
        ui.json(json!({ "ticks": reports }));
    } else if !ui.quiet {
        for r in &reports {
            print_report(ui, ws.store(), r, args.verbose);
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

fn print_report(ui: &Ui, store: &Store, r: &TickReport, verbose: bool) {
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
    // Read back only what is listed: kind, change and name of each proposal.
    let book = Book::open(store, &r.target).ok();
    let describe = |id: &str| -> Option<(String, String)> {
        let p = book.as_ref()?.get(store, id).ok()??;
        Some((
            format!("{} {}", p.change.as_str(), p.kind),
            format!("{} {}", p.change.as_str(), p.resource()),
        ))
    };
    let applied: Vec<(String, Option<String>)> =
        r.applied.iter().map(|id| (id.clone(), None)).collect();
    let failed: Vec<(String, Option<String>)> = r
        .failed
        .iter()
        .map(|(id, why)| (id.clone(), Some(why.clone())))
        .collect();
    let held: Vec<(String, Option<String>)> = r
        .held
        .iter()
        .map(|(id, why)| (id.clone(), Some(why.clone())))
        .collect();
    let groups = [
        ("applied", ui.green(), applied),
        ("failed", ui.red(), failed),
        ("review", ui.yellow(), held),
    ];
    for (label, style, items) in groups {
        if items.is_empty() {
            continue;
        }
        let described: Vec<_> = items
            .iter()
            .map(|(id, why)| (id, why, describe(id)))
            .collect();
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, _, d) in &described {
            let key = d.as_ref().map_or("unknown", |(k, _)| k.as_str());
            *counts.entry(key).or_default() += 1;
        }
        let by_kind: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
        ui.out(format!(
            "  {} {}: {}",
            style.apply_to(label),
            items.len(),
            by_kind.join(", ")
        ));
        let shown = if verbose { described.len() } else { FIRST };
        for (id, why, d) in described.iter().take(shown) {
            let what = d.as_ref().map_or("", |(_, w)| w.as_str());
            let why = why.as_deref().map(|w| format!(": {w}")).unwrap_or_default();
            ui.out(format!("    {} {what}{why}", &id[..12.min(id.len())]));
        }
        if described.len() > shown {
            ui.out(format!(
                "    ... and {} more (--verbose lists them; or `git fleet proposals --target {}`)",
                described.len() - shown,
                r.target
            ));
        }
    }
    if let Some(run) = &r.run {
        for note in &run.notes {
            ui.out(format!("  note: {note}"));
        }
    }
}

fn targets(ws: &Workspace, args: &ReconcileArgs) -> Result<Vec<String>> {
    let config = ws.config()?;
    if args.all {
        live::known_targets(ws.store(), config)
    } else {
        Ok(vec![live::resolve_target(
            ws.store(),
            config,
            args.target.as_deref(),
        )?])
    }
}

/// `--watch`: a round of one tick per target every interval (measured from
/// the start of the round) until SIGINT/SIGTERM. fleet.toml is read again each
/// round, so new targets and policy changes apply without a restart; a round
/// whose fleet.toml does not parse ticks nothing (fail closed). A tick in
/// progress finishes before stopping; a target whose tick is running
/// elsewhere is skipped for the round.
///
/// Signals: the `ctrlc` crate with its `termination` feature turns SIGINT,
/// SIGTERM and SIGHUP into a call on its own thread, which here only sends on a
/// channel; the loop waits on that channel between rounds, so a stop is seen at
/// once, no signal-safety rules reach our code, and no unsafe is needed
/// (signal-hook would do the same with more setup).
fn watch(ui: &Ui, args: &ReconcileArgs) -> Result<Outcome> {
    let interval = parse_interval("--interval", &args.interval)?;
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    ctrlc::set_handler(move || {
        let _ = stop_tx.send(());
    })
    .map_err(|e| git_fleet::Error::Command(format!("cannot install the signal handler: {e}")))?;
    ui.status(format!(
        "watching {} every {}; stop with Ctrl-C or SIGTERM",
        if args.all {
            "every known target".to_string()
        } else {
            args.target
                .clone()
                .unwrap_or_else(|| "the only target".into())
        },
        args.interval
    ));
    let opts = TickOptions {
        max_proposals: args.max_proposals,
        rev: args.rev.clone(),
        lock_wait: Duration::ZERO,
        allow_empty: args.allow_empty,
    };
    let stopped =
        |rx: &mpsc::Receiver<()>| !matches!(rx.try_recv(), Err(mpsc::TryRecvError::Empty));
    loop {
        let round = Instant::now();
        match Workspace::open().and_then(|ws| Ok((targets(&ws, args)?, ws))) {
            Err(e) => ui.error(format!("reconcile: nothing ticked this round: {e}")),
            Ok((targets, ws)) => {
                for target in &targets {
                    if stopped(&stop_rx) {
                        ui.status("stopped");
                        return Ok(Outcome::Done);
                    }
                    let ticked = ws
                        .config()
                        .and_then(|config| tick(ws.store(), config, target, &opts));
                    if let Ok(r) = &ticked {
                        super::notify::ticked(ui, &ws, std::slice::from_ref(r));
                    }
                    match ticked {
                        Ok(r) if args.json => ui.json_line(json!({ "ticks": [r] })),
                        Ok(_) if ui.quiet => {}
                        Ok(r) => print_report(ui, ws.store(), &r, args.verbose),
                        Err(e) => ui.error(format!("reconcile {target}: {e}")),
                    }
                }
            }
        }
        let next = round + interval;
        match stop_rx.recv_timeout(next.saturating_duration_since(Instant::now())) {
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            // A signal, or the handler is gone: stop either way.
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    ui.status("stopped");
    Ok(Outcome::Done)
}

/// `30s`, `5m`, `1h`, or plain seconds.
fn parse_interval(flag: &str, text: &str) -> Result<Duration> {
    let t = text.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = num.parse().map_err(|_| {
        git_fleet::Error::usage(format!(
            "{flag} '{text}': expected a number with s, m or h (30s, 5m, 1h)"
        ))
    })?;
    let secs = match unit {
        "" | "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        _ => {
            return Err(git_fleet::Error::usage(format!(
                "{flag} '{text}': the unit must be s, m or h"
            )))
        }
    }
    .ok_or_else(|| git_fleet::Error::usage(format!("{flag} '{text}' is too large")))?;
    if secs == 0 && flag == "--interval" {
        return Err(git_fleet::Error::usage("--interval must be at least 1s"));
    }
    Ok(Duration::from_secs(secs))
}
