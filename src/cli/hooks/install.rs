//! `git fleet hooks install`: add git-fleet's marked block to its hooks.

use crate::ui::{Outcome, Ui};
use clap::Args;
use git_fleet::hooks::{self, Change, Feature};
use git_fleet::Result;
use serde_json::json;
use std::path::Path;

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

pub fn run(ui: &Ui, dir: &Path, args: HooksInstallArgs) -> Result<Outcome> {
    let features = chosen(&args, &[Feature::PreCommit, Feature::PostPush]);
    // Every hook checked before any is written: a refusal changes nothing.
    for f in &features {
        for file in f.files() {
            hooks::check_install(dir, *file)?;
        }
    }
    let mut changes = Vec::new();
    for f in &features {
        for file in f.files() {
            changes.push(hooks::install(dir, *file)?);
        }
    }
    report(ui, &args, dir, &features, &changes, "install");
    Ok(Outcome::Done)
}

/// The hooks the flags name, else `default`.
pub fn chosen(args: &HooksInstallArgs, default: &[Feature]) -> Vec<Feature> {
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

/// What changed in each hook file (`verb`: install or uninstall).
pub fn report(
    ui: &Ui,
    args: &HooksInstallArgs,
    dir: &Path,
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
