//! `git fleet snapshot <target>`: record live state; `--log` lists the history.

use super::{context, JSON_VERSION};
use crate::ui::{Outcome, Ui};
use git_fleet::cli::SnapshotArgs;
use git_fleet::desired::{self, Source};
use git_fleet::fleet::validate::unsafe_name;
use git_fleet::{live, Error, Result};
use serde_json::json;

pub fn run(ui: &Ui, args: SnapshotArgs) -> Result<Outcome> {
    if let Some(why) = unsafe_name(&args.target) {
        return Err(Error::usage(format!("target name '{}' {why}", args.target)));
    }
    let ctx = context()?;
    if args.log {
        return log(ui, &ctx, &args);
    }
    let rel = ctx
        .config
        .target(&args.target)
        .map(|t| t.desired_path())
        .unwrap_or_else(|| git_fleet::config::DEFAULT_DESIRED.to_string());
    let source = match &args.from {
        Some(path) => Source::File(path.clone()),
        None => Source::WorkTree,
    };
    let input = desired::read(&ctx.store, &source, &rel)?;
    if !input.exists {
        return Err(Error::usage_hint(
            format!("{} does not exist: nothing to record", input.label),
            format!("name the live state with --from FILE (or - for stdin): git fleet snapshot {} --from live.yaml", args.target),
        ));
    }
    // An export that produced nothing is a failed export, not an empty fleet.
    desired::require_content(&input, desired::Role::Live, args.allow_empty)?;
    let parsed = desired::parse_cached(&ctx.store, &input)?;
    let commit = live::record(
        &ctx.store,
        &args.target,
        &parsed.fleet,
        &input.label,
        args.message.as_deref(),
    )?;
    let counts = parsed.fleet.counts();
    if args.json {
        ui.json(&json!({
            "version": JSON_VERSION,
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

fn log(ui: &Ui, ctx: &super::Ctx, args: &SnapshotArgs) -> Result<Outcome> {
    let entries = live::history(&ctx.store, &args.target)?;
    if entries.is_empty() && ctx.config.target(&args.target).is_none() {
        let known = live::known_targets(&ctx.store, &ctx.config)?;
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
        ui.json(&json!({
            "version": JSON_VERSION,
            "target": args.target,
            "snapshots": entries,
        }));
    } else {
        for e in &entries {
            let subject = e.message.lines().next().unwrap_or("");
            ui.out(format!(
                "{} {} {} {}",
                ui.yellow().apply_to(&e.commit[..12]),
                format_time(e.time),
                ui.dim().apply_to(&e.author),
                subject
            ));
        }
    }
    Ok(Outcome::Done)
}

/// Seconds since the epoch as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn format_time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
