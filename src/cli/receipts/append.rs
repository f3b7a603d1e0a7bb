//! `git fleet receipts append`: plumbing for scripts and tests.

use super::format::receipt_json;
use crate::ui::{Outcome, Ui};
use clap::Args;
use git_fleet::receipts::{self, ReceiptInput};
use git_fleet::store::Store;
use git_fleet::{Error, Result};
use serde_json::json;

/// Append a receipt (plumbing for scripts and tests; apply, halt and resume
/// write their own).
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet receipts append --action deploy --commit HEAD --target prod --trailer Ticket=OPS-12"
)]
pub struct ReceiptsAppendArgs {
    /// What happened (Fleet-Action), e.g. apply, halt, deploy.
    #[arg(long, value_name = "A")]
    pub action: String,
    /// The commit (or other revision) the receipt is about; its note gets the block.
    #[arg(long, value_name = "C")]
    pub commit: String,
    /// Fleet-Target.
    #[arg(long, value_name = "T")]
    pub target: Option<String>,
    /// Fleet-Proposal.
    #[arg(long, value_name = "P")]
    pub proposal: Option<String>,
    /// Fleet-Change.
    #[arg(long, value_name = "X")]
    pub change: Option<String>,
    /// Fleet-Policy: the rule that allowed the change.
    #[arg(long, value_name = "RULE")]
    pub policy: Option<String>,
    /// Fleet-Before.
    #[arg(long, value_name = "V")]
    pub before: Option<String>,
    /// Fleet-After.
    #[arg(long, value_name = "V")]
    pub after: Option<String>,
    /// Another trailer, KEY=VALUE (KEY gets a Fleet- prefix if it lacks one). Repeatable.
    #[arg(long = "trailer", value_name = "KEY=VALUE")]
    pub trailers: Vec<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(ui: &Ui, store: &Store, args: ReceiptsAppendArgs) -> Result<Outcome> {
    let source_commit = store.rev_commit(&args.commit)?;
    let mut extra = Vec::new();
    for t in &args.trailers {
        let (k, v) = t
            .split_once('=')
            .ok_or_else(|| Error::usage(format!("--trailer '{t}' is not KEY=VALUE")))?;
        extra.push((k.trim().to_string(), v.to_string()));
    }
    let receipt = receipts::append(
        store,
        &ReceiptInput {
            action: args.action,
            source_commit,
            target: args.target,
            proposal: args.proposal,
            change: args.change,
            policy: args.policy,
            before: args.before,
            after: args.after,
            extra,
        },
    )?;
    if args.json {
        ui.json(json!({ "receipt": receipt_json(&receipt) }));
    } else {
        ui.out(&receipt.id);
        ui.status(format!(
            "receipt {} on {} ({})",
            &receipt.id[..12],
            &source_commit.to_string()[..12],
            if receipt.signature.is_some() {
                "signed"
            } else {
                "unsigned"
            }
        ));
    }
    Ok(Outcome::Done)
}
