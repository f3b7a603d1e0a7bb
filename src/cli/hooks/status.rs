//! `git fleet hooks status`: which git-fleet hooks are installed, where, and
//! what the server side would see (pusher, policy ref).

use crate::ui::{Outcome, Ui};
use clap::Args;
use git_fleet::hooks::{self, Feature, State};
use git_fleet::policy::{policy_ref, PolicyRef, Pusher, PUSHER_VARS};
use git_fleet::workspace::Workspace;
use git_fleet::Result;
use serde_json::json;
use std::path::Path;

/// Show which git-fleet hooks are installed, and where.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  git fleet hooks status\n  git fleet hooks status --json")]
pub struct HooksStatusArgs {
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(ui: &Ui, ws: &Workspace, dir: &Path, args: HooksStatusArgs) -> Result<Outcome> {
    // The user a git server authenticated, as pre-receive would see it.
    let pusher = Pusher::from_env();
    // Where pre-receive would read the policy, and whether it can.
    let (policy_from, policy_warning) = match policy_ref(ws.store().git_dir())? {
        PolicyRef::Found { name, configured: true } => (Some(name), None),
        PolicyRef::Found { name, configured: false } => (
            Some(name.clone()),
            Some(format!("the policy follows HEAD ({name}): whoever can repoint HEAD changes which fleet.toml applies; set fleet.policyRef to pin it")),
        ),
        PolicyRef::NoBranches => (None, None),
        PolicyRef::Missing(why) => (
            None,
            Some(format!("pre-receive cannot find the policy, so it refuses every push: {why}")),
        ),
    };
    let mut rows = Vec::new();
    for f in Feature::ALL {
        for file in f.files() {
            rows.push((f, hooks::status(dir, *file)?));
        }
    }
    if args.json {
        let items: Vec<_> = rows
            .iter()
            .map(|(f, s)| {
                json!({
                    "feature": f,
                    "hook": s.hook,
                    "path": s.path,
                    "state": s.state,
                    "exists": s.exists,
                    "executable": s.executable,
                    "other_content": s.other_content,
                    "via": s.via,
                })
            })
            .collect();
        ui.json(json!({
            "hooks_dir": dir,
            "hooks": items,
            "pusher": pusher,
            "policy_ref": policy_from,
            "policy_warning": policy_warning,
        }));
    } else {
        ui.out(format!("hooks directory: {}", dir.display()));
        ui.out(match &pusher {
            Some(p) => format!("pusher: {} ({}): `pusher` rules in [[policy]] see this user", p.name, p.variable),
            None => format!(
                "pusher: none of {} is set in this environment, so `pusher` rules in [[policy]] match nothing here",
                PUSHER_VARS.join(", ")
            ),
        });
        for (f, s) in &rows {
            let state = match s.state {
                State::Installed => ui.green().apply_to("installed").to_string(),
                State::Outdated => ui
                    .yellow()
                    .apply_to("outdated (run git fleet hooks install)")
                    .to_string(),
                State::Absent => ui.dim().apply_to("not installed").to_string(),
            };
            let mut extra = Vec::new();
            let found_via;
            if let Some(via) = &s.via {
                found_via = format!("in {}, via {via}", s.path.display());
                extra.push(found_via.as_str());
            }
            if s.other_content {
                extra.push("chained with an existing hook");
            }
            if s.exists && !s.executable {
                extra.push("NOT EXECUTABLE: git ignores it");
            }
            let extra = if extra.is_empty() {
                String::new()
            } else {
                format!(" ({})", extra.join("; "))
            };
            ui.out(format!("{:<13} {:<22} {state}{extra}", f.as_str(), s.hook));
        }
        let receiving = rows
            .iter()
            .any(|(f, s)| *f == Feature::PreReceive && s.state != State::Absent);
        if let Some(w) = policy_warning.filter(|_| receiving) {
            ui.status(format!("warning: {w}"));
        }
    }
    Ok(Outcome::Done)
}
