//! `git fleet receipts show`: the receipts in the note on a commit.

use super::format::receipt_json;
use crate::ui::{Outcome, Ui};
use clap::Args;
use git_fleet::receipts::{self, RECEIPTS_REF};
use git_fleet::store::Store;
use git_fleet::Result;
use serde_json::json;

/// Show the receipts in the note on a commit.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet receipts show HEAD\n  git fleet receipts show 3f2a9c1 --json"
)]
pub struct ReceiptsShowArgs {
    /// The commit (or other revision) the receipts are about.
    #[arg(default_value = "HEAD")]
    pub commit: String,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(ui: &Ui, store: &Store, args: ReceiptsShowArgs) -> Result<Outcome> {
    let commit = store.rev_commit(&args.commit)?;
    let (found, other) = receipts::on_commit(store, commit)?;
    if args.json {
        ui.json(json!({
            "ref": RECEIPTS_REF,
            "commit": commit.to_string(),
            "receipts": found.iter().map(receipt_json).collect::<Vec<_>>(),
            "other_blocks": other,
        }));
    } else {
        if found.is_empty() {
            ui.status(format!("no receipts on {}", &commit.to_string()[..12]));
        }
        for (i, r) in found.iter().enumerate() {
            if i > 0 {
                ui.out("");
            }
            let place = match r.log_commit {
                Some(c) => format!("log commit {}", &c.to_string()[..12]),
                None => "not in the receipt log".to_string(),
            };
            ui.out(format!(
                "{} {} ({place})",
                ui.yellow().apply_to("receipt"),
                ui.yellow().apply_to(&r.id),
            ));
            ui.out(&r.text);
        }
        for text in &other {
            ui.out("");
            ui.out(format!(
                "{}",
                ui.dim().apply_to("(a block that is not a receipt)")
            ));
            ui.out(text);
        }
    }
    Ok(if found.is_empty() {
        Outcome::Found
    } else {
        Outcome::Done
    })
}
