//! `git fleet fanout`: deliver a commit to the peers, show progress, print a
//! summary table (or one JSON object), record the run as a note.

use crate::ui::{Outcome, Ui};
use clap::Args;
use git_fleet::peers::config::{bad_branch, Peer};
use git_fleet::peers::fanout::{
    self, Event, Outcome as PeerOutcome, PeerReport, Report, Request, StepStatus,
};
use git_fleet::peers::record;
use git_fleet::peers::shell::SshOptions;
use git_fleet::workspace::Workspace;
use git_fleet::{Error, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use std::time::Duration;

/// Fast-forward every peer checkout to a commit, where that is safe.
///
/// Per peer, in parallel: reachable, exists, is a repository, nothing in
/// progress and no index.lock, on the expected branch, no staged or unstaged
/// changes to tracked files, HEAD an ancestor of the commit; then fetch,
/// `git merge --ff-only`, read HEAD back, and run the peer's reload, health and
/// readback commands. A peer that fails a check is left exactly as it was and
/// reported blocked with the reason (dirty, diverged, ahead, wrong-branch,
/// detached, missing, not-a-repo, busy, unreachable, fetch-failed,
/// merge-failed, reload-failed, health-failed, readback-mismatch). Nothing is
/// ever stashed, reset, rebased, cleaned, checked out or forced, and
/// untracked files are never touched. Each run is recorded as a note on the
/// commit in refs/notes/fleet/fanout. Exit 1 if any peer is blocked.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet fanout\n  git fleet fanout --dry-run\n  git fleet fanout --commit v1.4.2 --peer web-1 --peer web-2\n  git fleet fanout --jobs 16 --json"
)]
pub struct FanoutArgs {
    /// The commit to deliver.
    #[arg(long, value_name = "C", default_value = "HEAD")]
    pub commit: String,
    /// The branch being delivered: peers without their own `branch` must be
    /// on it (default: the current branch).
    #[arg(long, value_name = "B")]
    pub branch: Option<String>,
    /// Only these peers (repeatable; default: all).
    #[arg(long = "peer", value_name = "NAME")]
    pub peers: Vec<String>,
    /// Peers handled at once (default: 8).
    #[arg(long, short, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: Option<u16>,
    /// Check every peer and say what would happen; change nothing, record nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Trust and remember SSH host keys seen for the first time (never a changed key).
    #[arg(long)]
    pub accept_new_host_keys: bool,
    /// Deliver nothing: show each peer's latest evidence for the commit,
    /// push-mode notes and pull-mode agent reports merged.
    #[arg(long, conflicts_with_all = ["dry_run", "peers", "jobs"])]
    pub status: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Peers handled at once unless --jobs says otherwise.
pub const DEFAULT_JOBS: usize = 8;

pub fn run(ui: &Ui, ws: &Workspace, args: FanoutArgs) -> Result<Outcome> {
    ws.config()?; // a malformed fleet.toml stops every command that reads it
    if args.status {
        return status(ui, ws, &args);
    }
    let all = ws.peers()?;
    let peers = select(all, &args.peers)?;
    let commit = ws.store().rev_commit(&args.commit)?;
    let branch = delivered_branch(ws, &args, &peers)?;
    let req = Request {
        commit,
        branch,
        peers,
        jobs: args.jobs.map(usize::from).unwrap_or(DEFAULT_JOBS),
        dry_run: args.dry_run,
        ssh: SshOptions {
            accept_new_host_keys: args.accept_new_host_keys,
            ..SshOptions::default()
        },
    };
    if !args.json && !ui.quiet {
        ui.status(format!(
            "{} {} to {} peer{}{}",
            if args.dry_run {
                "checking delivery of"
            } else {
                "delivering"
            },
            fanout::short(commit),
            req.peers.len(),
            if req.peers.len() == 1 { "" } else { "s" },
            if args.dry_run { " (dry run)" } else { "" }
        ));
    }
    let report = if args.json || ui.quiet {
        fanout::run(ws.store(), &req, &|_| {})?
    } else if console::Term::stderr().is_term() {
        with_bars(ws, &req)?
    } else {
        let names: Vec<&str> = req.peers.iter().map(|p| p.name.as_str()).collect();
        fanout::run(ws.store(), &req, &|e| {
            if let Event::Done { index, report } = e {
                eprintln!("{}: {}", names[index], outcome_line(&report));
            }
        })?
    };
    let recorded = match &report.run {
        None => None,
        Some(run) => Some(record::append(ws.store(), &report, run).map_err(|e| {
            Error::Command(format!(
                "the fanout ran but its results could not be recorded in {} ({e}); its pending record says so: run git fleet fanout again",
                fanout::NOTES_REF
            ))
        })?),
    };
    // The run's receipt attests the block just written; without it the
    // record stands but is not in the hash-chained log: said, exit 2.
    let receipt = match (&report.run, &recorded) {
        (Some(run), Some(block)) => Some(record::receipt(ws.store(), &report, run, block).map_err(|e| {
            Error::Command(format!(
                "the fanout ran and is recorded in {}, but its receipt could not be written to {} ({e})",
                fanout::NOTES_REF,
                git_fleet::receipts::RECEIPTS_REF
            ))
        })?),
        _ => None,
    };
    super::notify::fanned_out(ui, ws, &report);
    if args.json {
        ui.json(report_json(&report, recorded.is_some(), receipt.as_ref()));
    } else {
        print_table(ui, &report);
        match &recorded {
            Some(_) => ui.status(format!(
                "{}; recorded in {} on {}{}",
                record::summary(&report),
                fanout::NOTES_REF,
                fanout::short(report.commit),
                receipt
                    .as_ref()
                    .map(|r| format!(", receipt {}", &r.id[..12]))
                    .unwrap_or_default()
            )),
            None => ui.status(format!(
                "{} (dry run: nothing changed or recorded)",
                record::summary(&report)
            )),
        }
    }
    Ok(if report.blocked() > 0 {
        Outcome::Found
    } else {
        Outcome::Done
    })
}

/// The peers named with --peer (all when none), in declaration order.
fn select(all: &[Peer], names: &[String]) -> Result<Vec<Peer>> {
    if all.is_empty() {
        return Err(Error::usage_hint(
            "no peers declared: nothing to deliver to",
            "declare one: git fleet peers add <name> <location>",
        ));
    }
    if names.is_empty() {
        return Ok(all.to_vec());
    }
    let known = || {
        all.iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for n in names {
        if !all.iter().any(|p| &p.name == n) {
            return Err(Error::usage(format!(
                "no peer named '{}' (known: {})",
                git_fleet::fleet::validate::printable(n),
                known()
            )));
        }
    }
    Ok(all
        .iter()
        .filter(|p| names.contains(&p.name))
        .cloned()
        .collect())
}

/// --branch, else the current branch. Only needed for peers that do not
/// name their own branch.
fn delivered_branch(ws: &Workspace, args: &FanoutArgs, peers: &[Peer]) -> Result<String> {
    if let Some(b) = &args.branch {
        if let Some(why) = bad_branch(b) {
            return Err(Error::usage(format!("--branch '{b}' {why}")));
        }
        return Ok(b.clone());
    }
    let head = ws
        .store()
        .repo()
        .head_name()
        .map_err(|e| Error::Command(format!("cannot read HEAD: {e}")))?;
    if let Some(name) = head {
        if let Some(b) = name.as_bstr().to_string().strip_prefix("refs/heads/") {
            return Ok(b.to_string());
        }
    }
    if peers.iter().all(|p| p.branch.is_some()) {
        return Ok("HEAD".into());
    }
    Err(Error::usage_hint(
        "HEAD is detached, so the branch being delivered is unknown",
        "name it: git fleet fanout --branch main",
    ))
}

fn with_bars(ws: &Workspace, req: &Request) -> Result<Report> {
    let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
    let width = req.peers.iter().map(|p| p.name.len()).max().unwrap_or(4);
    let style = ProgressStyle::with_template(&format!("{{spinner}} {{prefix:<{width}}}  {{msg}}"))
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let bars: Vec<ProgressBar> = req
        .peers
        .iter()
        .map(|p| {
            let bar = multi.add(ProgressBar::new_spinner());
            bar.set_style(style.clone());
            bar.set_prefix(p.name.clone());
            bar.set_message("waiting");
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        })
        .collect();
    let report = fanout::run(ws.store(), req, &|e| match e {
        Event::Stage { index, stage } => bars[index].set_message(stage.as_str()),
        Event::Done { index, report } => bars[index].finish_with_message(outcome_line(&report)),
    });
    for bar in &bars {
        if !bar.is_finished() {
            bar.finish_and_clear();
        }
    }
    let _ = multi.clear();
    report
}

fn outcome_line(r: &PeerReport) -> String {
    format!("{} — {}", r.outcome.as_str(), r.reason)
}

/// Only the declared runtime steps (`health=ok readback=failed`); `-` when
/// the peer declares none.
fn runtime_cell(r: &PeerReport) -> String {
    let rt = &r.runtime;
    let steps: Vec<String> = [
        ("reload", &rt.reload),
        ("health", &rt.health),
        ("readback", &rt.readback),
    ]
    .iter()
    .filter(|(_, s)| s.status != StepStatus::OutOfScope)
    .map(|(k, s)| format!("{k}={}", s.status.as_str()))
    .collect();
    if steps.is_empty() {
        "-".into()
    } else {
        steps.join(" ")
    }
}

fn print_table(ui: &Ui, report: &Report) {
    let header = ["PEER", "OUTCOME", "BRANCH", "RUNTIME", "DETAIL"];
    let rows: Vec<[String; 5]> = report
        .peers
        .iter()
        .map(|p| {
            [
                p.name.clone(),
                p.outcome.as_str().to_string(),
                p.branch.clone(),
                runtime_cell(p),
                p.reason.clone(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let pad = |c: &str, w: usize| format!("{c:<w$}");
    ui.out(
        ui.bold()
            .apply_to(
                header
                    .iter()
                    .zip(widths)
                    .map(|(c, w)| pad(c, w))
                    .collect::<Vec<_>>()
                    .join("  ")
                    .trim_end(),
            )
            .to_string(),
    );
    for (p, r) in report.peers.iter().zip(&rows) {
        let style = match p.outcome {
            PeerOutcome::Blocked(_) => ui.red(),
            PeerOutcome::WouldFastForward => ui.yellow(),
            _ => ui.green(),
        };
        let line = format!(
            "{}  {}  {}  {}  {}",
            pad(&r[0], widths[0]),
            style.apply_to(pad(&r[1], widths[1])),
            pad(&r[2], widths[2]),
            pad(&r[3], widths[3]),
            r[4]
        );
        ui.out(line.trim_end());
    }
}

fn report_json(
    report: &Report,
    recorded: bool,
    receipt: Option<&git_fleet::receipts::Receipt>,
) -> serde_json::Value {
    let count =
        |f: &dyn Fn(PeerOutcome) -> bool| report.peers.iter().filter(|p| f(p.outcome)).count();
    let peers: Vec<_> = report
        .peers
        .iter()
        .map(|p| {
            json!({
                "name": p.name,
                "location": p.location,
                "branch": p.branch,
                "outcome": p.outcome.as_str(),
                "blocked": p.outcome.is_blocked(),
                "reason": p.reason,
                "before": p.before.map(|id| id.to_string()),
                "after": p.after.map(|id| id.to_string()),
                "runtime": p.runtime,
                "owed": p.owed.names(),
                "elapsed_ms": p.elapsed.as_millis() as u64,
            })
        })
        .collect();
    json!({
        "commit": report.commit.to_string(),
        "branch": report.branch,
        "dry_run": report.dry_run,
        "recorded_in": if recorded { Some(fanout::NOTES_REF) } else { None },
        "receipt": receipt.map(|r| r.id.clone()),
        "summary": {
            "peers": report.peers.len(),
            "current": count(&|o| o == PeerOutcome::Current),
            "fast_forwarded": count(&|o| o == PeerOutcome::FastForwarded),
            "would_fast_forward": count(&|o| o == PeerOutcome::WouldFastForward),
            "blocked": count(&|o| o.is_blocked()),
        },
        "elapsed_ms": report.elapsed.as_millis() as u64,
        "peers": peers,
    })
}

/// `--status`: each peer's latest evidence for the commit, push-mode notes
/// and pull-mode reports merged (the later wins), without delivering.
fn status(ui: &Ui, ws: &Workspace, args: &FanoutArgs) -> Result<Outcome> {
    let peers = ws.peers()?;
    let commit = ws.store().rev_commit(&args.commit)?;
    let remote = ws.default_remote();
    let proof = git_fleet::peers::proof::prove(ws.store(), commit, true, remote.as_deref(), peers)?;
    let counted: Vec<_> = proof
        .peers
        .iter()
        .filter(|p| p.configured || p.mode == "pull")
        .collect();
    let ok = counted.iter().filter(|p| p.ok).count();
    if args.json {
        ui.json(json!({
            "commit": proof.commit,
            "peers": proof.peers,
            "summary": {
                "peers": counted.len(),
                "ok": ok,
                "push": counted.iter().filter(|p| p.mode == "push").count(),
                "pull": counted.iter().filter(|p| p.mode == "pull").count(),
                "none": counted.iter().filter(|p| p.mode == "none").count(),
            },
        }));
    } else {
        let width = proof
            .peers
            .iter()
            .map(|p| p.name.len())
            .max()
            .unwrap_or(4)
            .max(4);
        ui.out(
            ui.bold()
                .apply_to(format!("{:<width$}  MODE  OK   DETAIL", "PEER"))
                .to_string(),
        );
        for p in &proof.peers {
            let mark = if p.ok {
                ui.green().apply_to("ok ").to_string()
            } else {
                ui.red().apply_to("no ").to_string()
            };
            ui.out(format!(
                "{:<width$}  {:<4}  {mark}  {}",
                p.name, p.mode, p.detail
            ));
        }
        ui.status(format!(
            "{} of {} peer{} delivered {} (push notes and agent reports merged)",
            ok,
            counted.len(),
            if counted.len() == 1 { "" } else { "s" },
            fanout::short(commit)
        ));
    }
    Ok(if ok == counted.len() {
        Outcome::Done
    } else {
        Outcome::Found
    })
}
