//! `git fleet proposals`: list proposals (interrupted applies completed first).

use crate::ui::{Outcome, Ui};
use clap::Args;
use git_fleet::policy::{count_approvals, Approvals};
use git_fleet::proposals::{Book, Proposal, State};
use git_fleet::reconcile::{proposal_targets, recover, Recovered};
use git_fleet::sign::SshConfig;
use git_fleet::workspace::Workspace;
use git_fleet::{Error, Result};

/// List proposals.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet proposals\n  git fleet proposals --target prod --state pending_review --json"
)]
pub struct ProposalsArgs {
    /// Only this target's proposals.
    #[arg(long, value_name = "T")]
    pub target: Option<String>,
    /// Only proposals in this state (pending_review, approved, applied, rejected, ignored, failed).
    #[arg(long, value_name = "S")]
    pub state: Option<String>,
    /// The proposals and their states as recorded at WHEN: a date or a
    /// revision (see `git fleet why`); reads only.
    #[arg(long, value_name = "WHEN")]
    pub at: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(ui: &Ui, ws: &Workspace, args: ProposalsArgs) -> Result<Outcome> {
    let config = ws.config()?;
    let at = args
        .at
        .as_deref()
        .map(|s| git_fleet::timeline::at::parse(ws.store(), s))
        .transpose()?;
    // Interrupted applies are completed first, so states are true; said so.
    // Not when reading the past: --at only reads.
    let recovered = match at {
        Some(_) => Vec::new(),
        None => recover(ws.store(), config, None)?,
    };
    if !args.json {
        for r in &recovered {
            ui.status(r.to_string());
        }
    }
    let state = match &args.state {
        Some(s) => Some(State::parse(s).ok_or_else(|| {
            Error::usage(format!(
                "unknown state '{s}' (pending_review, approved, applied, rejected, ignored, failed, conflict, superseded)"
            ))
        })?),
        None => None,
    };
    let targets = match &args.target {
        Some(t) => vec![t.clone()],
        None => proposal_targets(ws.store())?,
    };
    let mut all: Vec<Proposal> = Vec::new();
    for t in &targets {
        let stored = match &at {
            Some(at) => git_fleet::timeline::at::proposals_at(ws.store(), t, at)?,
            None => Book::open(ws.store(), t)?.all(ws.store())?,
        };
        all.extend(
            stored
                .into_iter()
                .filter(|p| state.is_none_or(|s| p.state() == s)),
        );
    }
    if args.json {
        #[derive(serde::Serialize)]
        struct Item<'a> {
            state: State,
            /// Distinct people who approved, and what told them apart.
            approvals: Approvals,
            #[serde(flatten)]
            proposal: &'a Proposal,
        }
        #[derive(serde::Serialize)]
        struct Out<'a> {
            proposals: Vec<Item<'a>>,
            recovered: &'a [Recovered],
            #[serde(skip_serializing_if = "Option::is_none")]
            at: Option<serde_json::Value>,
        }
        let ssh = SshConfig::load(ws.store())?;
        let mut proposals = Vec::new();
        for p in &all {
            proposals.push(Item {
                state: p.state(),
                approvals: count_approvals(&ssh, p, &config.policy)?,
                proposal: p,
            });
        }
        let out = Out {
            recovered: &recovered,
            proposals,
            at: at.as_ref().map(|a| a.to_json()),
        };
        ui.json_of(&out);
        return Ok(Outcome::Done);
    }
    if all.is_empty() {
        ui.status("no proposals");
    }
    for p in &all {
        ui.out(format!(
            "{} {:<14} {:<8} {:<10} {}{}",
            ui.yellow().apply_to(&p.id[..12]),
            p.state().as_str(),
            p.target,
            p.change.as_str(),
            p.resource(),
            if p.rollback { "  (rollback)" } else { "" }
        ));
    }
    Ok(Outcome::Done)
}
