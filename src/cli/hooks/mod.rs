//! `git fleet hooks install|uninstall|status`: one file each.

pub mod install;
pub mod status;
pub mod uninstall;

use crate::ui::{Outcome, Ui};
use clap::Subcommand;
use git_fleet::hooks;
use git_fleet::workspace::Workspace;
use git_fleet::Result;

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
    Install(install::HooksInstallArgs),
    /// Remove git-fleet's block from its hooks (default: from all of them).
    ///
    /// Everything else in a hook file stays; a file holding nothing but
    /// git-fleet's block is deleted.
    Uninstall(install::HooksInstallArgs),
    Status(status::HooksStatusArgs),
}

pub fn run(ui: &Ui, ws: &Workspace, command: HooksCommand) -> Result<Outcome> {
    // Only the repository: hooks can be (un)installed while fleet.toml is broken.
    let dir = hooks::hooks_dir(ws.run_dir())?;
    match command {
        HooksCommand::Install(args) => install::run(ui, &dir, args),
        HooksCommand::Uninstall(args) => uninstall::run(ui, &dir, args),
        HooksCommand::Status(args) => status::run(ui, ws, &dir, args),
    }
}
