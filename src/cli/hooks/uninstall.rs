//! `git fleet hooks uninstall`: remove git-fleet's block from its hooks.

use super::install::{chosen, report, HooksInstallArgs};
use crate::ui::{Outcome, Ui};
use git_fleet::hooks::{self, Feature};
use git_fleet::Result;
use std::path::Path;

/// Takes `install`'s arguments: the same hooks, the other way.
pub fn run(ui: &Ui, dir: &Path, args: HooksInstallArgs) -> Result<Outcome> {
    let features = chosen(&args, &Feature::ALL);
    // Every hook checked before any is written: a refusal changes nothing.
    for f in &features {
        for file in f.files() {
            hooks::check_uninstall(dir, *file)?;
        }
    }
    let mut changes = Vec::new();
    for f in &features {
        for file in f.files() {
            changes.push(hooks::uninstall(dir, *file)?);
        }
    }
    report(ui, &args, dir, &features, &changes, "uninstall");
    Ok(Outcome::Done)
}
