//! `git fleet snapshot <target>`: record live state; `--log` lists the history.

use crate::ui::{Outcome, Ui};
use clap::Args;
use git_fleet::desired::{self, Source};
use git_fleet::fleet::validate::unsafe_name;
use git_fleet::workspace::Workspace;
use git_fleet::{live, Error, Result};
use serde_json::json;
use std::path::PathBuf;

/// Record live state as the next snapshot of a target (refs/fleet/live/<target>).
///
/// The state is validated like fleet.yaml first; bad input writes nothing.
/// Without --from, the target's desired file in the work tree is recorded.
/// An empty export (no bytes, or only comments) is refused unless
/// --allow-empty says the target is empty on purpose.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet snapshot staging --from live.yaml -m 'after maintenance'\n  prod-export | git fleet snapshot prod --from -\n  git fleet snapshot --log staging"
)]
pub struct SnapshotArgs {
    /// The target whose live state this is (e.g. staging, prod).
    pub target: String,
    /// Read the live state from FILE ('-' for stdin).
    #[arg(long, value_name = "FILE", conflicts_with = "log")]
    pub from: Option<PathBuf>,
    /// A one-line message for the snapshot record.
    #[arg(long, short, value_name = "M", conflicts_with = "log")]
    pub message: Option<String>,
    /// List the target's snapshot history instead of recording one.
    #[arg(long)]
    pub log: bool,
    /// Record an empty live state on purpose (default: an empty export is refused).
    #[arg(long, conflicts_with = "log")]
    pub allow_empty: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(ui: &Ui, ws: &Workspace, args: SnapshotArgs) -> Result<Outcome> {
    if let Some(why) = unsafe_name(&args.target) {
        return Err(Error::usage(format!("target name '{}' {why}", args.target)));
    }
    ws.config()?; // a malformed fleet.toml stops every command that reads it
    if args.log {
        return log(ui, ws, &args);
    }
    let rel = ws.desired_path(&args.target)?;
    let source = match &args.from {
        Some(path) => Source::File(path.clone()),
        None => Source::WorkTree,
    };
    let input = desired::read(ws.store(), &source, &rel)?;
    if !input.exists {
        return Err(Error::usage_hint(
            format!("{} does not exist: nothing to record", input.label),
            format!("name the live state with --from FILE (or - for stdin): git fleet snapshot {} --from live.yaml", args.target),
        ));
    }
    // An export that produced nothing is a failed export, not an empty fleet.
    desired::require_content(&input, desired::Role::Live, args.allow_empty)?;
    let parsed = desired::parse_cached(ws.store(), &input)?;
    let commit = live::record(
        ws.store(),
        &args.target,
        &parsed.fleet,
        &input.label,
        args.message.as_deref(),
    )?;
    let counts = parsed.fleet.counts();
    if args.json {
        ui.json(json!({
            "target": args.target,
            "ref": live::live_ref(&args.target),
            "snapshot": commit.to_string(),
            "source": input.label,
            "counts": counts,
        }));
    } else {
        ui.out(format!(
            "recorded {} as {} ({})",
            ui.bold().apply_to(live::live_ref(&args.target)),
            &commit.to_string()[..12],
            counts
                .iter()
                .map(|(k, v)| format!("{v} {k}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(Outcome::Done)
}

fn log(ui: &Ui, ws: &Workspace, args: &SnapshotArgs) -> Result<Outcome> {
    let config = ws.config()?;
    let entries = live::history(ws.store(), &args.target)?;
    if entries.is_empty() && config.target(&args.target).is_none() {
        let known = live::known_targets(ws.store(), config)?;
        return Err(Error::usage(format!(
            "no snapshots of '{}' (known targets: {})",
            args.target,
            if known.is_empty() {
                "none yet".into()
            } else {
                known.join(", ")
            }
        )));
    }
    if args.json {
        ui.json(json!({
            "target": args.target,
            "snapshots": entries,
        }));
    } else {
        for e in &entries {
            let subject = e.message.lines().next().unwrap_or("");
            ui.out(format!(
                "{} {} {} {}",
                ui.yellow().apply_to(&e.commit[..12]),
                crate::ui::format_time(e.time),
                ui.dim().apply_to(&e.author),
                subject
            ));
        }
    }
    Ok(Outcome::Done)
}
