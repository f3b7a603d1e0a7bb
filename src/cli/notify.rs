//! Send `[[notify]]` events after an action, from the command layer: one
//! call per action, after it is recorded. A sink that fails is a warning
//! (and a line in `<git dir>/fleet/notify.log`), never the command's error.

use crate::ui::Ui;
use git_fleet::notify::{commit_receipt, emit, proposal_receipt, Event, NotifyRule};
use git_fleet::peers::fanout::Report as FanoutReport;
use git_fleet::proposals::{Proposal, State};
use git_fleet::reconcile::{ApplyOutcome, TickReport};
use git_fleet::sync::SyncReport;
use git_fleet::workspace::Workspace;

/// The `[[notify]]` rules. Every caller has already read fleet.toml (parsed
/// once, so this is the same answer); one it could not read notifies no one.
fn rules(ws: &Workspace) -> &[NotifyRule] {
    ws.config().map(|c| c.notify.as_slice()).unwrap_or(&[])
}

fn send(ui: &Ui, ws: &Workspace, event: Event) {
    for failure in emit(rules(ws), ws.store(), &event) {
        ui.warn(format!(
            "{failure} (the {} itself is done; recorded in {})",
            event.event,
            ws.store()
                .git_dir()
                .join(git_fleet::notify::LOG_FILE)
                .display()
        ));
    }
}

/// `apply` (and `apply-failed`) per proposal.
pub fn applied(ui: &Ui, ws: &Workspace, outcomes: &[(String, ApplyOutcome)]) {
    if rules(ws).is_empty() {
        return;
    }
    for (target, o) in outcomes {
        let event = match &o.result {
            Ok(snapshot) => Event::new(ws.store(), "apply")
                .receipt(proposal_receipt(ws.store(), target, &o.id))
                .with("snapshot", snapshot),
            Err(why) => Event::new(ws.store(), "apply-failed").with("reason", why),
        };
        send(ui, ws, event.target(target).proposal(&o.id));
    }
}

/// What a reconcile tick applied on its own (auto-apply) or failed to.
pub fn ticked(ui: &Ui, ws: &Workspace, reports: &[TickReport]) {
    if rules(ws).is_empty() {
        return;
    }
    for r in reports {
        for id in &r.applied {
            let event = Event::new(ws.store(), "apply")
                .target(&r.target)
                .proposal(id)
                .receipt(proposal_receipt(ws.store(), &r.target, id))
                .with("auto", true);
            send(ui, ws, event);
        }
        for (id, why) in &r.failed {
            let event = Event::new(ws.store(), "apply-failed")
                .target(&r.target)
                .proposal(id)
                .with("auto", true)
                .with("reason", why);
            send(ui, ws, event);
        }
    }
}

/// `halt` / `resume`.
pub fn halted(ui: &Ui, ws: &Workspace, halted: bool, commit: gix::ObjectId, reason: Option<&str>) {
    if rules(ws).is_empty() {
        return;
    }
    let event = Event::new(ws.store(), if halted { "halt" } else { "resume" })
        .receipt(commit_receipt(ws.store(), commit))
        .with("commit", commit.to_string())
        .with("reason", reason);
    send(ui, ws, event);
}

/// `conflict`: what a sync merged that both sides changed.
pub fn synced(ui: &Ui, ws: &Workspace, report: &SyncReport) {
    if report.conflicts.is_empty() || rules(ws).is_empty() {
        return;
    }
    let event = Event::new(ws.store(), "conflict")
        .with("remote", &report.remote)
        .with("conflicts", &report.conflicts);
    send(ui, ws, event);
}

/// `fanout-blocked`: peers a fanout could not deliver to.
pub fn fanned_out(ui: &Ui, ws: &Workspace, report: &FanoutReport) {
    if report.blocked() == 0 || report.dry_run || rules(ws).is_empty() {
        return;
    }
    let blocked: Vec<_> = report
        .peers
        .iter()
        .filter(|p| p.outcome.is_blocked())
        .map(|p| {
            serde_json::json!({"peer": p.name, "outcome": p.outcome.as_str(), "reason": p.reason})
        })
        .collect();
    let event = Event::new(ws.store(), "fanout-blocked")
        .with("commit", report.commit.to_string())
        .with("branch", &report.branch)
        .with("blocked", blocked);
    send(ui, ws, event);
}

/// `rollback`: proposals opened to return a target to a snapshot.
pub fn rolled_back(ui: &Ui, ws: &Workspace, target: &str, to: gix::ObjectId, opened: &[Proposal]) {
    if opened.is_empty() || rules(ws).is_empty() {
        return;
    }
    let ids: Vec<&str> = opened.iter().map(|p| p.id.as_str()).collect();
    let event = Event::new(ws.store(), "rollback")
        .target(target)
        .with("to", to.to_string())
        .with("opened", ids);
    send(ui, ws, event);
}

/// `reject`, per proposal (approve and ignore send nothing).
pub fn decided(ui: &Ui, ws: &Workspace, done: &[Proposal], state: State, reason: Option<&str>) {
    if state != State::Rejected || rules(ws).is_empty() {
        return;
    }
    for p in done {
        let event = Event::new(ws.store(), "reject")
            .target(&p.target)
            .proposal(&p.id)
            .with("resource", p.resource())
            .with("reason", reason);
        send(ui, ws, event);
    }
}
