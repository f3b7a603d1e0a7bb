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
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(ui: &Ui, ws: &Workspace, args: ProposalsArgs) -> Result<Outcome> {
    let config = ws.config()?;
    // Interrupted applies are completed first, so states are true; said so.
    let recovered = recover(ws.store(), config, None)?;
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
        let book = Book::open(ws.store(), t)?;
        all.extend(
            book.all(ws.store())?
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
