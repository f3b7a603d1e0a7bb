//! `git fleet proposals`, `show`, and the review decisions approve/reject/ignore.

use super::{context, Ctx, JSON_VERSION};
use crate::ui::{Outcome, Ui};
use git_fleet::cli::{DecideArgs, ProposalsArgs, ShowArgs};
use git_fleet::policy::{count_approvals, Approvals};
use git_fleet::proposals::{Book, Proposal, State};
use git_fleet::reconcile::{decide, find, proposal_targets, recover, Recovered};
use git_fleet::sign::SshConfig;
use git_fleet::{Error, Result};
use serde_json::json;

pub fn list(ui: &Ui, args: ProposalsArgs) -> Result<Outcome> {
    let ctx = context()?;
    // Interrupted applies are completed first, so states are true; said so.
    let recovered = recover(&ctx.store, &ctx.config, None)?;
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
        None => proposal_targets(&ctx.store)?,
    };
    let mut all: Vec<Proposal> = Vec::new();
    for t in &targets {
        let book = Book::open(&ctx.store, t)?;
        all.extend(
            book.all(&ctx.store)?
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
            version: u32,
            proposals: Vec<Item<'a>>,
            recovered: &'a [Recovered],
        }
        let ssh = SshConfig::load(&ctx.store)?;
        let mut proposals = Vec::new();
        for p in &all {
            proposals.push(Item {
                state: p.state(),
                approvals: count_approvals(&ssh, p, &ctx.config.policy)?,
                proposal: p,
            });
        }
        let out = Out {
            version: JSON_VERSION,
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

fn resolve(ctx: &Ctx, id: &str) -> Result<(String, String)> {
    find(&ctx.store, &proposal_targets(&ctx.store)?, id)
}

pub fn show(ui: &Ui, args: ShowArgs) -> Result<Outcome> {
    let ctx = context()?;
    let (target, id) = resolve(&ctx, &args.id)?;
    let p = Book::open(&ctx.store, &target)?
        .get(&ctx.store, &id)?
        .ok_or_else(|| Error::usage(format!("no proposal {id}")))?;
    let approvals = count_approvals(&SshConfig::load(&ctx.store)?, &p, &ctx.config.policy)?;
    if args.json {
        let mut v = serde_json::to_value(&p).unwrap_or_default();
        v["state"] = json!(p.state());
        v["approvals"] = json!(approvals);
        ui.json(&json!({ "version": JSON_VERSION, "proposal": v }));
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
            super::snapshot::format_time(t.time),
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

pub fn decide_cmd(ui: &Ui, args: DecideArgs, state: State) -> Result<Outcome> {
    let ctx = context()?;
    // Group by target: one write per target, all or nothing within it.
    let mut by_target: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for id in &args.ids {
        let (t, full) = resolve(&ctx, id)?;
        by_target.entry(t).or_default().push(full);
    }
    let mut done = Vec::new();
    for (target, ids) in by_target {
        done.extend(decide(
            &ctx.store,
            &ctx.config,
            &target,
            &ids,
            state,
            args.reason.as_deref(),
        )?);
    }
    super::notify::decided(ui, &ctx, &done, state, args.reason.as_deref());
    if args.json {
        let ssh = SshConfig::load(&ctx.store)?;
        let mut items = Vec::new();
        for p in &done {
            let approvals = count_approvals(&ssh, p, &ctx.config.policy)?;
            items.push(json!({"id": p.id, "target": p.target, "state": p.state(), "approvers": p.approvers(), "approvals": approvals}));
        }
        ui.json(&json!({ "version": JSON_VERSION, "decided": items }));
    } else {
        for p in &done {
            ui.out(format!("{} {} {}", state, &p.id[..12], p.resource()));
        }
    }
    Ok(Outcome::Done)
}
