//! `git fleet halt` / `resume`: the kill switch, with a receipt each.

use super::{context, JSON_VERSION};
use crate::ui::{Outcome, Ui};
use git_fleet::cli::HaltArgs;
use git_fleet::{halt, receipts, Result};
use serde_json::json;

pub fn run(ui: &Ui, args: HaltArgs, halted: bool) -> Result<Outcome> {
    let ctx = context()?;
    let before = halt::state(&ctx.store)?;
    let commit = halt::set(&ctx.store, halted, args.reason.as_deref())?;
    let mut extra = Vec::new();
    if let Some(r) = &args.reason {
        extra.push(("Fleet-Reason".to_string(), r.replace('\n', " ")));
    }
    receipts::append(
        &ctx.store,
        &receipts::ReceiptInput {
            action: if halted {
                "halt".into()
            } else {
                "resume".into()
            },
            source_commit: commit,
            target: None,
            proposal: None,
            change: None,
            policy: None,
            before: Some(if before.halted { "halted" } else { "running" }.into()),
            after: Some(if halted { "halted" } else { "running" }.into()),
            extra,
        },
    )?;
    if args.json {
        ui.json(
            &json!({ "version": JSON_VERSION, "halted": halted, "commit": commit.to_string() }),
        );
    } else if halted {
        ui.out(format!(
            "automation halted ({}): no auto-apply until `git fleet resume`",
            &commit.to_string()[..12]
        ));
    } else {
        ui.out(format!(
            "automation resumed ({})",
            &commit.to_string()[..12]
        ));
    }
    Ok(Outcome::Done)
}
