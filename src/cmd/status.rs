//! `git fleet status`: presents [`git_fleet::status::status`] on one screen.

use super::{context, JSON_VERSION};
use crate::ui::{Outcome, Ui};
use git_fleet::cli::StatusArgs;
use git_fleet::status::{status, Status};
use git_fleet::Result;

pub fn run(ui: &Ui, args: StatusArgs) -> Result<Outcome> {
    let ctx = context()?;
    let peers = super::peers::load(&ctx)?;
    let remote = ctx.store.default_remote();
    let st = status(&ctx.store, &ctx.config, &peers, remote.as_deref())?;
    if args.json {
        let mut value = serde_json::to_value(&st)
            .map_err(|e| git_fleet::Error::Other(format!("cannot encode JSON: {e}")))?;
        if let Some(obj) = value.as_object_mut() {
            obj.insert("version".into(), serde_json::json!(JSON_VERSION));
        }
        ui.json(&value);
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
