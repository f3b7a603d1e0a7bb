//! `git fleet status`: presents [`git_fleet::status::status`] on one screen.

use crate::ui::{Outcome, Ui};
use clap::Args;
use git_fleet::status::{status, Status};
use git_fleet::workspace::Workspace;
use git_fleet::Result;

/// One screen: is automation halted, what waits per target, the last fanout.
///
/// Shows whether automation is halted (and by whom, why), per known target
/// the proposals pending review, approved and failed, conflicting review
/// decisions and the last reconcile run, and the last fanout run with what it
/// still owes (peers not delivered, runtime steps not done; as `git fleet
/// proof` of that commit). Reads only; changes nothing.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet status\n  git fleet status --json\n\nExit codes: 0 nothing needs attention, 1 halted, a conflict, or the last fanout is incomplete, 2 error."
)]
pub struct StatusArgs {
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(ui: &Ui, ws: &Workspace, args: StatusArgs) -> Result<Outcome> {
    let config = ws.config()?;
    let peers = ws.peers()?;
    let remote = ws.default_remote();
    let st = status(ws.store(), config, peers, remote.as_deref())?;
    if args.json {
        let value = serde_json::to_value(&st)
            .map_err(|e| git_fleet::Error::Command(format!("cannot encode JSON: {e}")))?;
        ui.json(value);
    } else {
        print(ui, &st);
    }
    Ok(if st.needs_attention() {
        Outcome::Found
    } else {
        Outcome::Done
    })
}

fn print(ui: &Ui, st: &Status) {
    let width = st
        .targets
        .iter()
        .map(|t| t.target.len())
        .chain([10])
        .max()
        .unwrap_or(10);
    let row = |label: &str, text: String| ui.out(format!("{label:<width$}  {text}"));
    if st.halt.halted {
        row(
            "automation",
            format!(
                "{} by {} at {}{} (git fleet resume)",
                ui.red().apply_to("halted"),
                st.halt.actor.as_deref().unwrap_or("?"),
                st.halt.time.map(when).unwrap_or_default(),
                st.halt
                    .reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
        );
    } else {
        row("automation", ui.green().apply_to("running").to_string());
    }
    if st.targets.is_empty() {
        row(
            "targets",
            "none yet (declare one in fleet.toml or `git fleet snapshot <target>`)".into(),
        );
    }
    for t in &st.targets {
        let run = match &t.last_run {
            Some(r) => format!(
                "last run {} {}: {} opened, {} applied{}",
                when(r.started),
                format!("{:?}", r.status).to_lowercase(),
                r.opened.len(),
                r.applied.len(),
                if r.errors.is_empty() {
                    String::new()
                } else {
                    format!(", {} error(s)", r.errors.len())
                }
            ),
            None => "no run yet".into(),
        };
        row(
            &t.target,
            format!(
                "{} pending review, {} approved, {} failed; {run}",
                t.pending_review, t.approved, t.failed
            ),
        );
        for id in &t.conflicts {
            row(
                "",
                format!(
                    "{} {} (git fleet show {})",
                    ui.red().apply_to("conflict"),
                    &id[..12.min(id.len())],
                    &id[..12.min(id.len())]
                ),
            );
        }
    }
    match &st.fanout {
        None => row("fanout", "none recorded".into()),
        Some(f) => {
            row(
                "fanout",
                format!(
                    "{} at {} by {}: {} of {} peer{} done{}",
                    &f.commit[..12.min(f.commit.len())],
                    f.time,
                    f.actor,
                    f.delivered,
                    f.peers,
                    if f.peers == 1 { "" } else { "s" },
                    if f.complete {
                        format!("; {}", ui.green().apply_to("complete"))
                    } else {
                        String::new()
                    }
                ),
            );
            const SHOWN: usize = 5;
            for line in f.owed.iter().take(SHOWN) {
                row("", format!("{} {line}", ui.yellow().apply_to("owed")));
            }
            if f.owed.len() > SHOWN {
                row(
                    "",
                    format!(
                        "... and {} more (git fleet proof {})",
                        f.owed.len() - SHOWN,
                        &f.commit[..12.min(f.commit.len())]
                    ),
                );
            }
        }
    }
}

/// A Unix time as `2026-01-02 03:04:05 +0000`.
fn when(secs: i64) -> String {
    gix::date::Time::new(secs, 0).format_or_unix(gix::date::time::format::ISO8601)
}
