//! `git fleet hooks install|uninstall|status`.

use super::{store_context, JSON_VERSION};
use crate::ui::{Outcome, Ui};
use git_fleet::cli::{HooksCommand, HooksInstallArgs};
use git_fleet::hooks::{self, Change, Feature, State};
use git_fleet::policy::{policy_ref, PolicyRef, Pusher, PUSHER_VARS};
use git_fleet::Result;
use serde_json::json;
use std::path::PathBuf;

pub fn run(ui: &Ui, command: HooksCommand) -> Result<Outcome> {
    // Only the repository: hooks can be (un)installed while fleet.toml is broken.
    let ctx = store_context()?;
    let base: PathBuf = ctx
        .store
        .work_dir()
        .unwrap_or_else(|| ctx.store.git_dir())
        .to_path_buf();
    let dir = hooks::hooks_dir(&base)?;
    match command {
        HooksCommand::Install(args) => {
            let features = chosen(&args, &[Feature::PreCommit, Feature::PostPush]);
            let mut changes = Vec::new();
            for f in &features {
                for file in f.files() {
                    changes.push(hooks::install(&dir, *file)?);
                }
            }
            report(ui, &args, &dir, &features, &changes, "install");
            Ok(Outcome::Done)
        }
        HooksCommand::Uninstall(args) => {
            let features = chosen(&args, &Feature::ALL);
            let mut changes = Vec::new();
            for f in &features {
                for file in f.files() {
                    changes.push(hooks::uninstall(&dir, *file)?);
                }
            }
            report(ui, &args, &dir, &features, &changes, "uninstall");
            Ok(Outcome::Done)
        }
        HooksCommand::Status(args) => {
            // The user a git server authenticated, as pre-receive would see it.
            let pusher = Pusher::from_env();
            // Where pre-receive would read the policy, and whether it can.
            let (policy_from, policy_warning) = match policy_ref(ctx.store.git_dir())? {
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
                    rows.push((f, hooks::status(&dir, *file)?));
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
                        })
                    })
                    .collect();
                ui.json(&json!({
                    "version": JSON_VERSION,
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
    }
}

fn chosen(args: &HooksInstallArgs, default: &[Feature]) -> Vec<Feature> {
    let picked: Vec<Feature> = [
        (args.pre_commit, Feature::PreCommit),
        (args.post_push, Feature::PostPush),
        (args.pre_receive, Feature::PreReceive),
        (args.post_receive, Feature::PostReceive),
    ]
    .into_iter()
    .filter_map(|(on, f)| on.then_some(f))
    .collect();
    if picked.is_empty() {
        default.to_vec()
    } else {
        picked
    }
}

fn report(
    ui: &Ui,
    args: &HooksInstallArgs,
    dir: &std::path::Path,
    features: &[Feature],
    changes: &[hooks::FileChange],
    verb: &str,
) {
    if args.json {
        ui.json(&json!({
            "version": JSON_VERSION,
            "action": verb,
            "hooks_dir": dir,
            "features": features,
            "changes": changes,
        }));
        return;
    }
    for c in changes {
        let what = match c.change {
            Change::Created => "created",
            Change::Inserted => "added git-fleet's block to the existing hook",
            Change::Updated => "updated git-fleet's block",
            Change::Unchanged => "unchanged",
            Change::Removed => "removed git-fleet's block (the rest of the hook stays)",
            Change::Deleted => "deleted (it held only git-fleet's block)",
            Change::NotInstalled => "not installed",
        };
        ui.out(format!("{}: {what}", c.path.display()));
    }
    if verb == "install" && features.contains(&Feature::PostPush) {
        ui.status("after each successful push, fanout runs in the background (log: .git/fleet/fanout.log)");
    }
    if verb == "install" && features.contains(&Feature::PreReceive) {
        ui.status("pushes are checked against [[policy]] in fleet.toml (fleet.policyRef if set, else the pushed branch as it was, else HEAD's branch); a commit's actor is its verified SSH signer (set gpg.ssh.allowedSignersFile here) or else its committer email, and `pusher` rules match the user the server authenticated (GL_USER, GITEA_PUSHER_NAME, GL_USERNAME, REMOTE_USER)");
    }
    if verb == "install" && features.contains(&Feature::PostReceive) {
        ui.status("after each push to the default branch, reconcile runs in the background for every target whose desired file changed (log: fleet/reconcile.log in the git dir)");
    }
}
