//! `git fleet receipts [log | show <commit> | verify | append]`.

pub mod append;
mod format;
pub mod log;
pub mod show;
pub mod verify;

use crate::ui::{Outcome, Ui};
use clap::{Args, Subcommand};
use git_fleet::workspace::Workspace;
use git_fleet::Result;

/// The receipt log: list, show, verify (and append, for scripts).
///
/// Every apply, auto-apply, halt and resume leaves a receipt: a block of
/// Fleet-* trailer lines in the note on its commit (refs/notes/fleet/receipts)
/// and one commit on that notes ref whose message is the receipt, so the ref's
/// history is the log. Receipts form a sha256 hash chain (Fleet-Prev) and are
/// signed with ssh-keygen (namespace git-fleet) when git is configured for SSH
/// signing (gpg.format=ssh, user.signingKey). Without a subcommand: `log`.
#[derive(Debug, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Examples:\n  git fleet receipts\n  git fleet receipts show HEAD\n  git fleet receipts verify --json\n\nExit codes: 0 done (verify: every check passed), 1 verify found a problem or show found no receipt, 2 error."
)]
pub struct ReceiptsArgs {
    #[command(subcommand)]
    pub command: Option<ReceiptsCommand>,
    #[command(flatten)]
    pub log: log::ReceiptsLogArgs,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum ReceiptsCommand {
    Log(log::ReceiptsLogArgs),
    Show(show::ReceiptsShowArgs),
    Verify(verify::ReceiptsVerifyArgs),
    Append(append::ReceiptsAppendArgs),
}

pub fn run(ui: &Ui, ws: &Workspace, args: ReceiptsArgs) -> Result<Outcome> {
    ws.config()?; // a malformed fleet.toml stops every command that reads it
    match args.command {
        None => log::run(ui, ws.store(), args.log),
        Some(ReceiptsCommand::Log(a)) => log::run(ui, ws.store(), a),
        Some(ReceiptsCommand::Show(a)) => show::run(ui, ws.store(), a),
        Some(ReceiptsCommand::Verify(a)) => verify::run(ui, ws.store(), a),
        Some(ReceiptsCommand::Append(a)) => append::run(ui, ws.store(), a),
    }
}
