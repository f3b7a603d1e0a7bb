//! `git fleet halt` / `resume`: the kill switch, with a receipt each.

use super::{context, JSON_VERSION};
use crate::ui::{Outcome, Ui};
use git_fleet::cli::HaltArgs;
use git_fleet::{halt, Result};
use serde_json::json;

pub fn run(ui: &Ui, args: HaltArgs, halted: bool) -> Result<Outcome> {
    let ctx = context()?;
    // The receipt is written by halt::set, before the halt state that names it.
    let commit = halt::set(&ctx.store, halted, args.reason.as_deref())?;
    super::notify::halted(ui, &ctx, halted, commit, args.reason.as_deref());
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
