//! `git fleet receipts log` (and `git fleet receipts`): the log, newest first.

use super::format::{one_line, receipt_json};
use crate::ui::{Outcome, Ui};
use clap::Args;
use git_fleet::receipts::{self, RECEIPTS_REF};
use git_fleet::store::Store;
use git_fleet::Result;
use serde_json::json;

/// List receipts, newest first.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet receipts log -n 10\n  git fleet receipts log --json"
)]
pub struct ReceiptsLogArgs {
    /// Show at most N receipts (the newest).
    #[arg(long, short = 'n', value_name = "N")]
    pub max_count: Option<usize>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(ui: &Ui, store: &Store, args: ReceiptsLogArgs) -> Result<Outcome> {
    let mut all = receipts::log(store)?;
    if let Some(n) = args.max_count {
        all.truncate(n);
    }
    if args.json {
        ui.json(json!({
            "ref": RECEIPTS_REF,
            "receipts": all.iter().map(receipt_json).collect::<Vec<_>>(),
        }));
        return Ok(Outcome::Done);
    }
    if all.is_empty() {
        ui.status("no receipts yet");
    }
    for r in &all {
        ui.out(one_line(ui, r));
    }
    Ok(Outcome::Done)
}
