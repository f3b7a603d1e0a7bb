//! Review: `proposals` (list.rs), `show` (show.rs), and the decisions
//! `approve`, `reject`, `ignore` (decide.rs).

pub mod decide;
pub mod list;
pub mod show;

use git_fleet::reconcile::{find, proposal_targets};
use git_fleet::workspace::Workspace;
use git_fleet::Result;

/// A proposal id or unique prefix: its (target, full id).
fn resolve(ws: &Workspace, id: &str) -> Result<(String, String)> {
    find(ws.store(), &proposal_targets(ws.store())?, id)
}
