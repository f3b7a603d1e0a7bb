//! `git fleet hooks install|uninstall|status`.

use crate::ui::{Outcome, Ui};
use clap::{Args, Subcommand};
use git_fleet::hooks::{self, Change, Feature, State};
use git_fleet::policy::{policy_ref, PolicyRef, Pusher, PUSHER_VARS};
use git_fleet::workspace::Workspace;
use git_fleet::Result;
use serde_json::json;

/// Install, remove or inspect git-fleet's git hooks.
///
/// Honours core.hooksPath. An existing hook is kept: git-fleet adds a marked
/// block (# >>> git-fleet >>> ... # <<< git-fleet <<<) after its #! line and
/// removes only that block on uninstall.
#[derive(Debug, Subcommand)]
pub enum HooksCommand {
    /// Install git-fleet's hooks (default: --pre-commit --post-push).
    ///
    /// --pre-commit: check the staged desired state (`git fleet diff --staged
    /// --check`). --post-push: after a successful push, run `git fleet fanout`
    /// in the background (pre-push + reference-transaction; log in
    /// .git/fleet/fanout.log). --pre-receive, --post-receive: server side.
    /// Installing again only refreshes git-fleet's block.
    Install(HooksInstallArgs),
    /// Remove git-fleet's block from its hooks (default: from all of them).
    ///
    /// Everything else in a hook file stays; a file holding nothing but
    /// git-fleet's block is deleted.
    Uninstall(HooksInstallArgs),
    Status(HooksStatusArgs),
}

/// Which hooks.
///
/// --pre-commit: check the staged desired state (`git fleet diff --staged
/// --check`). --post-push: after a successful push, run `git fleet fanout` in
/// the background (pre-push + reference-transaction; log in
/// .git/fleet/fanout.log). --pre-receive, --post-receive: server side.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet hooks install\n  git fleet hooks install --post-push\n  git fleet hooks uninstall --pre-commit\n  git fleet hooks install --pre-receive --post-receive   # on the server"
)]
pub struct HooksInstallArgs {
    /// The pre-commit check of the staged desired state.
    #[arg(long)]
    pub pre_commit: bool,
    /// Fanout in the background after each successful push.
    #[arg(long)]
    pub post_push: bool,
    /// Server side: bounded writes on push.
    #[arg(long)]
    pub pre_receive: bool,
    /// Server side: reconcile after a push changes a desired file.
    #[arg(long)]
    pub post_receive: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Show which git-fleet hooks are installed, and where.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  git fleet hooks status\n  git fleet hooks status --json")]
pub struct HooksStatusArgs {
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(ui: &Ui, ws: &Workspace, command: HooksCommand) -> Result<Outcome> {
    // Only the repository: hooks can be (un)installed while fleet.toml is broken.
    let dir = hooks::hooks_dir(ws.run_dir())?;
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
        ui.json(json!({
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
