//! `git fleet sync [<remote>]`.

use crate::ui::{Outcome, Ui};
use clap::Args;
use git_fleet::workspace::Workspace;
use git_fleet::{sync, Error, Result};
use serde_json::json;

/// Share fleet records with another clone: fetch, merge, push with a lease.
///
/// Fetches the remote's refs/fleet/* and refs/notes/fleet/* into
/// refs/fleet-remote/<remote>/, merges them into ours (notes by union of
/// blocks; the receipt log with a signed merge receipt; proposals by id with
/// every transition kept; runs by union; live snapshots and halt by the newer
/// state, both kept in history), and pushes back with --force-with-lease, so a
/// remote that moved meanwhile is merged again, never overwritten. A proposal
/// applied on one side and rejected on the other is reported (exit 1).
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  git fleet sync\n  git fleet sync backup --json")]
pub struct SyncArgs {
    /// The remote (default: origin, or the only remote).
    pub remote: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(ui: &Ui, ws: &Workspace, args: SyncArgs) -> Result<Outcome> {
    let json = args.json;
    let result = sync_and_show(ui, ws, args);
    if json {
        // --json prints exactly one object, an error too (the message also
        // goes to stderr as for every command).
        if let Err(e) = &result {
            ui.json(json!({
                "error": { "message": e.to_string() },
            }));
        }
    }
    result
}

fn sync_and_show(ui: &Ui, ws: &Workspace, args: SyncArgs) -> Result<Outcome> {
    ws.config()?; // a malformed fleet.toml stops every command that reads it
    let remote = match args.remote.or_else(|| ws.default_remote()) {
        Some(r) => r,
        None => {
            return Err(Error::usage(
                "no remote to sync with: name one (git fleet sync <remote>)",
            ))
        }
    };
    let report = sync::sync(ws.store(), &remote)?;
    super::notify::synced(ui, ws, &report);
    if args.json {
        ui.json(json!({ "sync": report }));
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
