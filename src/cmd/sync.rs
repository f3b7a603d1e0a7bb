//! `git fleet sync [<remote>]`.

use super::{context, JSON_VERSION};
use crate::ui::{Outcome, Ui};
use git_fleet::cli::SyncArgs;
use git_fleet::gitcmd::git_ok;
use git_fleet::{sync, Error, Result};
use serde_json::json;

pub fn run(ui: &Ui, args: SyncArgs) -> Result<Outcome> {
    let json = args.json;
    let result = sync_and_show(ui, args);
    if json {
        // --json prints exactly one object, an error too (the message also
        // goes to stderr as for every command).
        if let Err(e) = &result {
            ui.json(&json!({
                "version": JSON_VERSION,
                "error": { "message": e.to_string() },
            }));
        }
    }
    result
}

fn sync_and_show(ui: &Ui, args: SyncArgs) -> Result<Outcome> {
    let ctx = context()?;
    let dir = ctx.store.git_dir().to_path_buf();
    let remote = match args.remote {
        Some(r) => r,
        None => {
            let remotes: Vec<String> = git_ok(&dir, &["remote"])?
                .lines()
                .map(str::to_string)
                .collect();
            if remotes.iter().any(|r| r == "origin") {
                "origin".into()
            } else if remotes.len() == 1 {
                remotes[0].clone()
            } else {
                return Err(Error::usage(
                    "no remote to sync with: name one (git fleet sync <remote>)",
                ));
            }
        }
    };
    let report = sync::sync(&ctx.store, &remote)?;
    super::notify::synced(ui, &ctx, &report);
    if args.json {
        ui.json(&json!({ "version": JSON_VERSION, "sync": report }));
    } else {
        ui.out(format!(
            "sync {}: {} fast-forwarded, {} merged, {} pushed ({} round{})",
            report.remote,
            report.fast_forwarded.len(),
            report.merged.len(),
            report.pushed.len(),
            report.rounds,
            if report.rounds == 1 { "" } else { "s" }
        ));
        for n in &report.merged {
            ui.out(format!("  merged {n}"));
        }
        for n in &report.notes {
            ui.out(format!("  note: {n}"));
        }
        for c in &report.conflicts {
            ui.out(format!("  {} {c}", ui.red().apply_to("conflict:")));
        }
        for r in &report.rewound {
            let now = match &r.remote {
                Some(v) => format!("now at {}", &v[..12]),
                None => "now deleted".to_string(),
            };
            ui.out(format!(
                "  {} {} on {} moved back: an earlier sync fetched {}, the remote is {now}; not merged, not pushed over",
                ui.red().apply_to("REWOUND:"),
                r.name,
                report.remote,
                &r.seen[..12],
            ));
        }
        if !report.rewound.is_empty() {
            ui.hint(format!(
                "someone moved {} back on {}: find out who; to restore it, push the local ref (a fast-forward): git push {} <ref>",
                if report.rewound.len() == 1 { "a fleet ref" } else { "fleet refs" },
                report.remote,
                report.remote
            ));
        }
    }
    Ok(
        if report.conflicts.is_empty() && report.rewound.is_empty() {
            Outcome::Done
        } else {
            Outcome::Found
        },
    )
}
