//! `git fleet show`: one proposal, its change, full before/after, every transition.

use super::resolve;
use crate::ui::{Outcome, Ui};
use clap::Args;
use git_fleet::policy::count_approvals;
use git_fleet::proposals::Book;
use git_fleet::sign::SshConfig;
use git_fleet::workspace::Workspace;
use git_fleet::{Error, Result};
use serde_json::json;

/// Show one proposal: the change, full before/after, and every transition.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  git fleet show 3f2a9c\n  git fleet show 3f2a9c --json")]
pub struct ShowArgs {
    /// Proposal id (or a unique prefix).
    pub id: String,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(ui: &Ui, ws: &Workspace, args: ShowArgs) -> Result<Outcome> {
    let config = ws.config()?;
    let (target, id) = resolve(ws, &args.id)?;
    let p = Book::open(ws.store(), &target)?
        .get(ws.store(), &id)?
        .ok_or_else(|| Error::usage(format!("no proposal {id}")))?;
    let approvals = count_approvals(&SshConfig::load(ws.store())?, &p, &config.policy)?;
    if args.json {
        let mut v = serde_json::to_value(&p).unwrap_or_default();
        v["state"] = json!(p.state());
        v["approvals"] = json!(approvals);
        ui.json(json!({ "proposal": v }));
        return Ok(Outcome::Done);
    }
    ui.out(format!("{} {}", ui.bold().apply_to("proposal"), p.id));
    ui.out(format!("target:   {}", p.target));
    ui.out(format!("change:   {} {}", p.change.as_str(), p.resource()));
    ui.out(format!("state:    {}", p.state()));
    ui.out(format!(
        "approvals: {} ({})",
        approvals.count,
        approvals.describe()
    ));
    ui.out(format!(
        "source:   {}",
        p.source_commit.as_deref().unwrap_or("-")
    ));
    ui.out(format!(
        "live:     {}",
        p.live_snapshot.as_deref().unwrap_or("(no snapshot)")
    ));
    if p.rollback {
        ui.out("rollback: yes (never auto-applied)");
    }
    if let Some(by) = &p.rolled_back_by {
        ui.out(format!(
            "rolled back by {by}: not auto-applied again until the desired file changes"
        ));
    }
    for f in &p.fields {
        ui.out(format!(
            "  {}: {} -> {}",
            f.field,
            f.before
                .as_ref()
                .map_or("(absent)".into(), |v| v.to_string()),
            f.after
                .as_ref()
                .map_or("(absent)".into(), |v| v.to_string())
        ));
    }
    ui.out(format!(
        "before:   {}",
        p.before.as_ref().map_or("(none)".into(), |v| v.to_string())
    ));
    ui.out(format!(
        "after:    {}",
        p.after.as_ref().map_or("(none)".into(), |v| v.to_string())
    ));
    ui.out("history:");
    for t in &p.transitions {
        ui.out(format!(
            "  {} {:<14} {}{}",
            crate::ui::format_time(t.time),
            t.state.as_str(),
            if t.signature.is_some() {
                format!("{} (signed)", t.actor)
            } else {
                t.actor.clone()
            },
            t.reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ));
    }
    Ok(Outcome::Done)
}
