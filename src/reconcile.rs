//! One reconcile tick, and applying reviewed proposals.
//!
//! Tick: parse -> validate -> diff against live -> open proposals up to the cap
//! (the audit record is written before anything is applied) -> auto-apply what
//! passes every gate -> record the run. Apply: refuse stale proposals, validate
//! the resulting live state, then write receipt -> live snapshot -> proposal
//! transition, in that order, so a crash at any point never leaves a live
//! change or an `applied` proposal without its receipt.

use crate::config::{Config, TargetConfig, DEFAULT_DESIRED, DEFAULT_MAX_PROPOSALS};
use crate::desired::{self, Source};
use crate::error::{Error, Result};
use crate::fleet::diff::{diff, ChangeType};
use crate::fleet::validate::validate;
use crate::fleet::{Fleet, Kind, SourceMap};
use crate::proposals::{self, resource_json, set_resource, Book, Proposal, State};
use crate::runs::{self, Run, RunStatus};
use crate::store::Store;
use crate::ticklock::TickLock;
use crate::{halt, live, receipts};
use gix::ObjectId;
use std::collections::BTreeMap;
use std::process::{Command, Stdio};

/// The actor recorded for auto-applied changes.
pub const AUTO_ACTOR: &str = "gitops-auto-apply";
pub const CAP_ENV: &str = "GIT_FLEET_MAX_PROPOSALS_PER_TICK";

/// Settings of a target, with defaults for an undeclared one.
pub fn target_config(config: &Config, target: &str) -> TargetConfig {
    config.target(target).cloned().unwrap_or_default()
}

/// Per-tick proposal cap: flag, then environment, then fleet.toml, then 25.
pub fn cap(flag: Option<usize>, cfg: &TargetConfig) -> Result<usize> {
    if let Some(n) = flag {
        return Ok(n);
    }
    if let Ok(v) = std::env::var(CAP_ENV) {
        return v
            .trim()
            .parse()
            .map_err(|_| Error::usage(format!("{CAP_ENV}={v:?} is not a whole number")));
    }
    Ok(cfg.max_proposals.unwrap_or(DEFAULT_MAX_PROPOSALS))
}

/// The live state of a target, from its driver.
pub struct Live {
    pub fleet: Fleet,
    /// The live snapshot commit (embedded driver; exec: the last recorded one).
    pub snapshot: Option<ObjectId>,
}

pub fn read_live(store: &Store, target: &str, cfg: &TargetConfig) -> Result<Live> {
    match cfg.driver.as_deref() {
        Some("exec") => {
            let cmd = cfg.live.as_deref().ok_or_else(|| {
                Error::usage(format!(
                    "target '{target}' uses the exec driver but has no `live` command"
                ))
            })?;
            let out = run_command(store, cmd, None)?;
            let parsed =
                crate::fleet::parse(&format!("<live command of {target}>"), out.as_bytes())?;
            Ok(Live {
                fleet: parsed.fleet,
                snapshot: store.resolve(&live::live_ref(target))?,
            })
        }
        _ => {
            let snapshot = live::latest(store, target)?;
            Ok(Live {
                snapshot: snapshot.as_ref().map(|s| s.commit),
                fleet: snapshot.map(|s| s.fleet).unwrap_or_default(),
            })
        }
    }
}

/// Run a driver command in the repository root with `sh -c`; stdout on success.
fn run_command(store: &Store, cmd: &str, stdin: Option<&str>) -> Result<String> {
    let dir = store
        .work_dir()
        .unwrap_or_else(|| store.git_dir())
        .to_path_buf();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .current_dir(&dir)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Other(format!("cannot run `{cmd}`: {e}")))?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        use std::io::Write;
        let _ = pipe.write_all(input.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Error::Other(format!("cannot run `{cmd}`: {e}")))?;
    if !out.status.success() {
        return Err(Error::Other(format!(
            "`{cmd}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[derive(Debug, Default, serde::Serialize)]
pub struct TickReport {
    pub target: String,
    pub run: Option<Run>,
    pub opened: Vec<String>,
    pub already_open: usize,
    pub not_reproposed: usize,
    pub deferred: usize,
    pub applied: Vec<String>,
    pub failed: Vec<(String, String)>,
    /// Proposals the gates kept for review, with the gate that did.
    pub held: Vec<(String, String)>,
}

pub struct TickOptions {
    pub max_proposals: Option<usize>,
    pub rev: String,
    /// How long to wait while another tick of the target holds its lock.
    pub lock_wait: std::time::Duration,
}

/// One reconcile tick of `target`. Every tick records a run, also a failed one.
pub fn tick(
    store: &Store,
    config: &Config,
    target: &str,
    opts: &TickOptions,
) -> Result<TickReport> {
    let lock = TickLock::acquire(&store.local_dir().join("locks"), target, opts.lock_wait)?;
    let started = runs::now();
    let cfg = target_config(config, target);
    let mut report = TickReport {
        target: target.to_string(),
        ..TickReport::default()
    };
    let mut run = Run {
        id: run_id(target, started),
        target: target.to_string(),
        started,
        ended: started,
        status: RunStatus::Success,
        synced_revision: None,
        counts: BTreeMap::new(),
        diffs: 0,
        opened: vec![],
        applied: vec![],
        errors: vec![],
        notes: lock.took_over.iter().cloned().collect(),
    };
    match tick_inner(store, config, &cfg, target, opts, &mut run, &mut report) {
        Ok(()) => {}
        Err(e) => {
            run.status = RunStatus::Failed;
            run.errors.push(e.to_string());
            run.ended = runs::now();
            runs::record(store, &run)?;
            report.run = Some(run);
            return Err(e);
        }
    }
    run.ended = runs::now();
    runs::record(store, &run)?;
    report.run = Some(run);
    Ok(report)
}

fn run_id(target: &str, started: i64) -> String {
    use sha2::{Digest, Sha256};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let h = Sha256::digest(format!(
        "{target}\0{started}\0{nanos}\0{}",
        std::process::id()
    ));
    format!("{started}-{}", &format!("{h:x}")[..12])
}

fn tick_inner(
    store: &Store,
    config: &Config,
    cfg: &TargetConfig,
    target: &str,
    opts: &TickOptions,
    run: &mut Run,
    report: &mut TickReport,
) -> Result<()> {
    let cap = cap(opts.max_proposals, cfg)?;
    let source_commit = store.rev_commit(&opts.rev)?;
    run.synced_revision = Some(source_commit.to_string());
    let path = desired_path(cfg);
    let input = desired::read(store, &Source::Rev(opts.rev.clone()), &path)?;
    let desired_fleet = desired::parse(&input)?.fleet;
    let live = read_live(store, target, cfg)?;
    let d = diff(&live.fleet, &desired_fleet);
    run.diffs = d.changes.len();
    run.counts = d
        .counts()
        .into_iter()
        .map(|(k, v)| (k, v.into_iter().map(|(c, n)| (c.to_string(), n)).collect()))
        .collect();

    let book = Book::open(store, target)?;
    let stored_all = book.all(store)?;
    // Values rollbacks undid: auto-apply never brings one back.
    let rolled = rolled_back_values(&stored_all);
    let actor = actor_string(store);
    let now = runs::now();
    let mut to_write: Vec<Proposal> = Vec::new();
    for change in &d.changes {
        let fresh = proposals::from_change(
            target,
            change,
            &live.fleet,
            &desired_fleet,
            Some(source_commit.to_string()),
            live.snapshot.map(|c| c.to_string()),
            &actor,
            now,
            None,
        );
        let reopened = match book.get(store, &fresh.id)? {
            None => fresh,
            Some(stored) => match stored.state() {
                State::PendingReview | State::Approved
                    if stored.before == fresh.before || stored.rollback =>
                {
                    report.already_open += 1;
                    // Still held for a rollback: say so every tick.
                    if let Some(why) = cfg
                        .auto_apply
                        .then(|| rolled_back_gate(&rolled, &stored))
                        .flatten()
                    {
                        run.notes
                            .push(format!("skipped auto-apply of {}: {why}", &stored.id[..12]));
                        report.held.push((stored.id.clone(), why));
                    }
                    continue;
                }
                State::PendingReview | State::Approved => {
                    // Live moved under an open proposal: refresh what it
                    // changes from (else it stays stale forever); an approval
                    // was for the old change, so it goes back to review.
                    let mut p = stored.clone();
                    p.before = fresh.before.clone();
                    p.fields = fresh.fields.clone();
                    p.source_commit = fresh.source_commit.clone();
                    p.live_snapshot = fresh.live_snapshot.clone();
                    p.push(
                        State::PendingReview,
                        &actor,
                        now,
                        Some("live changed under it: before refreshed; review again".into()),
                    );
                    p
                }
                State::Rejected | State::Ignored if stored.before == fresh.before => {
                    report.not_reproposed += 1;
                    continue;
                }
                state => {
                    let mut p = stored.clone();
                    p.before = fresh.before.clone();
                    p.fields = fresh.fields.clone();
                    p.source_commit = fresh.source_commit.clone();
                    p.live_snapshot = fresh.live_snapshot.clone();
                    let why = match state {
                        State::Applied => "drift: live differs from desired again after apply",
                        State::Superseded => "desired asks for this content again",
                        _ => "live changed since the decision",
                    };
                    p.push(State::PendingReview, &actor, now, Some(why.into()));
                    p
                }
            },
        };
        if to_write.len() >= cap {
            report.deferred += 1;
            continue;
        }
        to_write.push(reopened);
    }
    superseded(
        store,
        &stored_all,
        &d.changes,
        &to_write,
        target,
        &desired_fleet,
        &actor,
        now,
        run,
    )?;
    if report.deferred > 0 {
        run.status = RunStatus::Partial;
        run.errors.push(format!(
            "{} more diff(s) over the per-tick cap of {cap}: opened next tick",
            report.deferred
        ));
    }
    if to_write.is_empty() {
        return Ok(());
    }
    // The audit record comes first: nothing is applied that was not proposed.
    proposals::write(
        store,
        target,
        &to_write,
        &format!("reconcile {target}: open {} proposal(s)", to_write.len()),
    )?;
    report.opened = to_write.iter().map(|p| p.id.clone()).collect();
    run.opened = report.opened.clone();

    let halted = halt::state(store)?.halted;
    let policy_actor = cfg.auto_apply.then(|| local_actor(store));
    let mut eligible = Vec::new();
    for p in &to_write {
        let gate = if !cfg.auto_apply {
            Some("auto_apply is off".to_string())
        } else if p.change == ChangeType::Destroy {
            Some("a destroy always waits for a person".to_string())
        } else if halted {
            Some("automation is halted".to_string())
        } else if let Some(why) = rolled_back_gate(&rolled, p) {
            Some(why)
        } else {
            // Bounded writes: auto-apply is decided for whoever runs the tick.
            policy_actor.as_ref().and_then(|a| {
                config
                    .policy
                    .decide(a, Some(target), &p.resource(), p.change)
                    .refusal
                    .map(|why| format!("policy: auto-apply of {why}"))
            })
        };
        match gate {
            Some(why) => report.held.push((p.id.clone(), why)),
            None => eligible.push(p.id.clone()),
        }
    }
    for (id, why) in &report.held {
        let noted = run.notes.iter().any(|n| n.contains(&id[..12]));
        if !noted && (why.contains("rolled back") || why.starts_with("policy: ")) {
            run.notes
                .push(format!("skipped auto-apply of {}: {why}", &id[..12]));
        }
    }
    if eligible.is_empty() {
        return Ok(());
    }
    let outcomes = apply(
        store,
        config,
        target,
        &eligible,
        &ApplyOptions {
            auto: true,
            despite_halt: false,
        },
    )?;
    for o in outcomes {
        match o.result {
            Ok(_) => report.applied.push(o.id),
            Err(why) => report.failed.push((o.id, why)),
        }
    }
    run.applied = report.applied.clone();
    if !report.failed.is_empty() {
        run.status = RunStatus::Partial;
        for (id, why) in &report.failed {
            run.errors
                .push(format!("apply of {} failed: {why}", &id[..12]));
        }
    }
    Ok(())
}

/// Open proposals desired has moved on from become `superseded`: their
/// resource now has a proposal with other content, or desired no longer
/// differs from live there. Rollback proposals are left alone (they undo
/// desired on purpose). Written in one commit; noted in the run.
#[allow(clippy::too_many_arguments)]
fn superseded(
    store: &Store,
    stored: &[Proposal],
    changes: &[crate::fleet::diff::Change],
    fresh: &[Proposal],
    target: &str,
    desired: &Fleet,
    actor: &str,
    now: i64,
    run: &mut Run,
) -> Result<()> {
    let mut out = Vec::new();
    for p in stored {
        if !p.state().is_open() || p.rollback || fresh.iter().any(|f| f.id == p.id) {
            continue;
        }
        let current = changes
            .iter()
            .find(|c| c.kind == p.kind && c.name == p.name)
            .map(|c| {
                proposals::proposal_id(
                    target,
                    c.kind,
                    &c.name,
                    c.change,
                    resource_json(desired, c.kind, &c.name).as_ref(),
                )
            });
        let why = match current {
            Some(id) if id == p.id => continue,
            Some(id) => format!("superseded by {}: desired moved on", &id[..12]),
            None => "desired no longer asks for this change".to_string(),
        };
        run.notes
            .push(format!("{} {}: {why}", &p.id[..12], p.resource()));
        let mut p = p.clone();
        p.push(State::Superseded, actor, now, Some(why));
        out.push(p);
    }
    if !out.is_empty() {
        proposals::write(
            store,
            target,
            &out,
            &format!("reconcile {target}: {} proposal(s) superseded", out.len()),
        )?;
    }
    Ok(())
}

/// One value a rollback undid: `field` of `kind/name` set to `value` by an
/// applied proposal that rollback `by` rolled back.
struct RolledBack {
    kind: Kind,
    name: String,
    field: String,
    value: serde_json::Value,
    by: String,
}

fn rolled_back_values(stored: &[Proposal]) -> Vec<RolledBack> {
    let mut out = Vec::new();
    for p in stored {
        let Some(by) = &p.rolled_back_by else {
            continue;
        };
        for f in &p.fields {
            if let Some(value) = &f.after {
                out.push(RolledBack {
                    kind: p.kind,
                    name: p.name.clone(),
                    field: f.field.clone(),
                    value: value.clone(),
                    by: by.clone(),
                });
            }
        }
    }
    out
}

/// Why auto-apply must leave `p` for review: its content was rolled back,
/// or it sets a field to a value a rollback undid (whatever else it changes).
fn rolled_back_gate(rolled: &[RolledBack], p: &Proposal) -> Option<String> {
    if p.rolled_back_by.is_some() {
        return Some("this desired content was rolled back; it is not auto-applied until the desired file changes".to_string());
    }
    for r in rolled
        .iter()
        .filter(|r| r.kind == p.kind && r.name == p.name)
    {
        if let Some(f) = p
            .fields
            .iter()
            .find(|f| f.field == r.field && f.after.as_ref() == Some(&r.value))
        {
            return Some(format!(
                "it sets {} = {} again, a value rollback {} rolled back; auto-apply never re-applies it, so it waits for review",
                f.field,
                r.value,
                &r.by[..r.by.len().min(12)]
            ));
        }
    }
    None
}

pub fn desired_path(cfg: &TargetConfig) -> String {
    if cfg.desired.is_none() && cfg.path_prefix.is_none() {
        DEFAULT_DESIRED.to_string()
    } else {
        cfg.desired_path()
    }
}

pub fn actor_string(store: &Store) -> String {
    let a = store.actor();
    format!("{} <{}>", a.name, a.email)
}

pub struct ApplyOptions {
    /// Applied by reconcile's auto-apply gate (approves as AUTO_ACTOR).
    pub auto: bool,
    /// Apply although automation is halted (the receipt says so).
    pub despite_halt: bool,
}

#[derive(Debug, serde::Serialize)]
pub struct ApplyOutcome {
    pub id: String,
    /// The new live snapshot, or why the proposal went back to review / was refused.
    pub result: std::result::Result<String, String>,
}

/// Order a batch so every intermediate live state stays valid: definitions
/// before the assignments that use them, assignment removals before the
/// definitions they used.
fn apply_order(p: &Proposal) -> u8 {
    match (p.kind, p.change) {
        (Kind::Templates | Kind::Modules, ChangeType::Create | ChangeType::Update) => 0,
        (Kind::Assignments, _) => 1,
        (Kind::ProviderConfigs, _) => 2,
        (Kind::Modules, ChangeType::Destroy) => 3,
        (Kind::Templates, ChangeType::Destroy) => 4,
    }
}

/// Apply proposals of `target` (approved ones; `opts.auto` approves them first).
/// One failing proposal never stops the others.
pub fn apply(
    store: &Store,
    config: &Config,
    target: &str,
    ids: &[String],
    opts: &ApplyOptions,
) -> Result<Vec<ApplyOutcome>> {
    let cfg = target_config(config, target);
    let halt_state = halt::state(store)?;
    if halt_state.halted && !opts.auto && !opts.despite_halt {
        return Err(Error::usage_hint(
            format!(
                "automation is halted{}: nothing applied",
                halt_state.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()
            ),
            "resume with `git fleet resume`, or apply anyway with --despite-halt (the receipt records it)",
        ));
    }
    let book = Book::open(store, target)?;
    let mut batch: Vec<Proposal> = Vec::new();
    for id in ids {
        let p = book
            .get(store, id)?
            .ok_or_else(|| Error::usage(format!("no proposal {id} for target '{target}'")))?;
        batch.push(p);
    }
    batch.sort_by_key(apply_order);
    let actor = if opts.auto {
        AUTO_ACTOR.to_string()
    } else {
        actor_string(store)
    };
    let required = cfg.approvals.unwrap_or(1).max(1);
    let policy_actor = local_actor(store);
    let ssh = crate::sign::SshConfig::load(store)?;
    let dir = store.work_dir().unwrap_or(store.git_dir()).to_path_buf();

    // Refuse destroys of definitions still referenced after the whole batch.
    let live_now = read_live(store, target, &cfg)?;
    let mut combined = live_now.fleet.clone();
    for p in &batch {
        set_resource(&mut combined, p.kind, &p.name, p.after.as_ref())?;
    }
    let dangling = validate(&combined, &SourceMap::new(format!("{target} after apply"))).err();

    let mut outcomes = Vec::new();
    for mut p in batch {
        let now = runs::now();
        if opts.auto {
            p.push(
                State::Approved,
                AUTO_ACTOR,
                now,
                Some("auto_apply: create/update within the tick cap".into()),
            );
        }
        // Bounded writes: decided for whoever runs the apply (also auto-apply).
        let decision = config
            .policy
            .decide(&policy_actor, Some(target), &p.resource(), p.change);
        let refusal = if let Some(why) = &decision.refusal {
            Some(why.clone())
        } else if p.state() != State::Approved {
            Some(format!("not approved (state {})", p.state()))
        } else if let Some(why) = (!opts.auto && !p.rollback)
            .then(|| crate::policy::unpublished(&dir, &cfg, target, p.source_commit.as_deref()))
            .flatten()
        {
            Some(why)
        } else if let Some(short) = (!opts.auto)
            .then(|| crate::policy::count_approvals(&ssh, &p, &config.policy))
            .transpose()?
            .filter(|a| a.count < required)
        {
            Some(format!(
                "needs {required} distinct approvers, has {} ({})",
                short.count,
                short.describe()
            ))
        } else if p.change == ChangeType::Destroy
            && matches!(p.kind, Kind::Modules | Kind::Templates)
        {
            dangling.as_ref().and_then(|e| {
                let text = e.to_string();
                text.contains(&format!("'{}'", p.name))
                    .then(|| format!("{} is still referenced: {text}", p.resource()))
            })
        } else {
            None
        };
        if let Some(why) = refusal {
            // A refusal changes nothing stored; say why.
            outcomes.push(ApplyOutcome {
                id: p.id.clone(),
                result: Err(why),
            });
            continue;
        }
        match apply_one(
            store,
            &cfg,
            target,
            &p,
            &actor,
            opts.despite_halt && halt_state.halted,
            decision.policy_note(),
        ) {
            Ok(snapshot) => {
                p.push(
                    State::Applied,
                    &actor,
                    runs::now(),
                    Some(format!("live snapshot {snapshot}")),
                );
                proposals::write(
                    store,
                    target,
                    std::slice::from_ref(&p),
                    &format!("apply {} to {target}", &p.id[..12]),
                )?;
                outcomes.push(ApplyOutcome {
                    id: p.id.clone(),
                    result: Ok(snapshot.to_string()),
                });
            }
            Err(why) => {
                let now = runs::now();
                p.push(State::Failed, &actor, now, Some(why.clone()));
                p.push(
                    State::PendingReview,
                    &actor,
                    now,
                    Some(format!("back to review: {why}")),
                );
                proposals::write(
                    store,
                    target,
                    std::slice::from_ref(&p),
                    &format!("apply {} to {target} failed", &p.id[..12]),
                )?;
                outcomes.push(ApplyOutcome {
                    id: p.id.clone(),
                    result: Err(why),
                });
            }
        }
    }
    Ok(outcomes)
}

/// Apply one approved proposal; Err(reason) sends it back to review.
fn apply_one(
    store: &Store,
    cfg: &TargetConfig,
    target: &str,
    p: &Proposal,
    actor: &str,
    despite_halt: bool,
    policy_note: String,
) -> std::result::Result<ObjectId, String> {
    let live = read_live(store, target, cfg).map_err(|e| format!("cannot read live state: {e}"))?;
    let current = resource_json(&live.fleet, p.kind, &p.name);
    if current != p.before {
        return Err(format!(
            "stale: live {} changed since the proposal was computed",
            p.resource()
        ));
    }
    let mut next = live.fleet.clone();
    set_resource(&mut next, p.kind, &p.name, p.after.as_ref()).map_err(|e| e.to_string())?;
    if let Err(e) = validate(&next, &SourceMap::new(format!("{target} after apply"))) {
        return Err(format!("the result would be invalid: {e}"));
    }
    let mut final_fleet = next;
    if cfg.driver.as_deref() == Some("exec") {
        let cmd = cfg
            .apply
            .as_deref()
            .ok_or("exec driver has no `apply` command")?;
        let change = serde_json::json!({
            "target": target, "proposal": p.id, "kind": p.kind, "name": p.name,
            "change": p.change, "before": p.before, "after": p.after,
        });
        run_command(store, cmd, Some(&change.to_string()))
            .map_err(|e| format!("apply command failed: {e}"))?;
        // Runtime proof: read live back; the resource must now be what was approved.
        let back = read_live(store, target, cfg).map_err(|e| format!("readback failed: {e}"))?;
        if resource_json(&back.fleet, p.kind, &p.name) != p.after {
            return Err(format!(
                "readback mismatch: live {} is not what was applied",
                p.resource()
            ));
        }
        final_fleet = back.fleet;
    }
    let parent = store
        .resolve(&live::live_ref(target))
        .map_err(|e| e.to_string())?;
    let message = format!(
        "apply {} {}\n\nFleet-Proposal: {}\nFleet-Change: {} {}\nFleet-Actor: {actor}",
        p.change.as_str(),
        p.resource(),
        p.id,
        p.change.as_str(),
        p.resource()
    );
    let snapshot =
        live::prepare(store, target, &final_fleet, parent, &message).map_err(|e| e.to_string())?;
    // Receipt first: a crash after it leaves an unpublished snapshot that the
    // receipt names, never a published change without a receipt.
    let source = p
        .source_commit
        .as_deref()
        .and_then(|s| ObjectId::from_hex(s.as_bytes()).ok())
        .unwrap_or(snapshot);
    let mut extra = vec![("Fleet-Approvers".to_string(), p.approvers().join(", "))];
    if despite_halt {
        extra.push(("Fleet-Despite-Halt".into(), "yes".into()));
    }
    receipts::append(
        store,
        &receipts::ReceiptInput {
            action: if actor == AUTO_ACTOR {
                "auto-apply".into()
            } else {
                "apply".into()
            },
            source_commit: source,
            target: Some(target.to_string()),
            proposal: Some(p.id.clone()),
            change: Some(format!("{} {}", p.change.as_str(), p.resource())),
            policy: Some(policy_note),
            before: Some(
                parent
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "none".into()),
            ),
            after: Some(snapshot.to_string()),
            extra,
        },
    )
    .map_err(|e| format!("cannot write the receipt: {e}"))?;
    live::advance(store, target, parent, snapshot)
        .map_err(|_| format!("stale: live {target} moved while applying"))?;
    Ok(snapshot)
}

/// The policy actor of whoever runs this process.
fn local_actor(store: &Store) -> crate::policy::Actor {
    let dir = store
        .work_dir()
        .unwrap_or_else(|| store.git_dir())
        .to_path_buf();
    crate::policy::local_actor(&dir, &store.actor().email)
}

/// Resolve a proposal id or unique prefix across targets (or within one).
pub fn find(store: &Store, targets: &[String], id: &str) -> Result<(String, String)> {
    let mut hits = Vec::new();
    for t in targets {
        let book = Book::open(store, t)?;
        for full in book.matching(id) {
            hits.push((t.clone(), full.to_string()));
        }
    }
    match hits.len() {
        1 => Ok(hits.remove(0)),
        0 => Err(Error::usage(format!("no proposal matches '{id}'"))),
        n => Err(Error::usage(format!(
            "'{id}' matches {n} proposals; give more characters"
        ))),
    }
}

/// Targets that have proposals.
pub fn proposal_targets(store: &Store) -> Result<Vec<String>> {
    Ok(store
        .refs_under(proposals::PROPOSALS_PREFIX)?
        .into_iter()
        .map(|r| r[proposals::PROPOSALS_PREFIX.len()..].to_string())
        .collect())
}

/// Record a review decision (approve / reject / ignore) on proposals.
pub fn decide(
    store: &Store,
    config: &Config,
    target: &str,
    ids: &[String],
    state: State,
    reason: Option<&str>,
) -> Result<Vec<Proposal>> {
    let book = Book::open(store, target)?;
    let actor = actor_string(store);
    let policy_actor = local_actor(store);
    let ssh = crate::sign::SshConfig::load(store)?;
    if config.policy.require_signed && ssh.signing_key.is_none() {
        return Err(Error::usage_hint(
            format!("require_signed = true in fleet.toml: a {state} decision must be signed, and SSH signing is not configured here"),
            "git config gpg.format ssh; git config user.signingKey <key> (a key gpg.ssh.allowedSignersFile lists)",
        ));
    }
    let now = runs::now();
    let mut changed = Vec::new();
    for id in ids {
        let mut p = book
            .get(store, id)?
            .ok_or_else(|| Error::usage(format!("no proposal {id} for target '{target}'")))?;
        if !p.state().is_open() {
            return Err(Error::usage(format!(
                "proposal {} is {}; only pending_review or approved proposals can be decided",
                &id[..12],
                p.state()
            )));
        }
        if state == State::Approved {
            let decision =
                config
                    .policy
                    .decide(&policy_actor, Some(target), &p.resource(), p.change);
            if let Some(why) = decision.refusal {
                return Err(Error::usage(format!(
                    "cannot approve {}: {why}",
                    &p.id[..12]
                )));
            }
        }
        p.push(state, &actor, now, reason.map(str::to_string));
        // A signed decision names its key: approvals then count keys, not names.
        if let Some(last) = p.transitions.last() {
            let signature = ssh.sign(&crate::policy::decision_payload(&p.id, last))?;
            if let Some(last) = p.transitions.last_mut() {
                last.signature = signature;
            }
        }
        changed.push(p);
    }
    if !changed.is_empty() {
        proposals::write(
            store,
            target,
            &changed,
            &format!("{} {} proposal(s) of {target}", state, changed.len()),
        )?;
    }
    Ok(changed)
}

/// Open proposals that take live back to the recorded snapshot `to`.
pub fn rollback(
    store: &Store,
    config: &Config,
    target: &str,
    to: ObjectId,
) -> Result<Vec<Proposal>> {
    let cfg = target_config(config, target);
    let goal = live::read_at(store, to)?;
    let live = read_live(store, target, &cfg)?;
    let d = diff(&live.fleet, &goal);
    let book = Book::open(store, target)?;
    let actor = actor_string(store);
    let now = runs::now();
    let mut out = Vec::new();
    let mut undone = Vec::new();
    for change in &d.changes {
        let mut p = proposals::from_change(
            target,
            change,
            &live.fleet,
            &goal,
            Some(to.to_string()),
            live.snapshot.map(|c| c.to_string()),
            &actor,
            now,
            Some(format!("rollback to {to}")),
        );
        p.rollback = true;
        // The applied proposal whose content this undoes must not come back by itself.
        for id in book.ids() {
            if let Some(mut applied) = book.get(store, id)? {
                if applied.state() == State::Applied
                    && applied.kind == p.kind
                    && applied.name == p.name
                    && applied.after == p.before
                    && applied.rolled_back_by.is_none()
                {
                    applied.rolled_back_by = Some(p.id.clone());
                    undone.push(applied);
                }
            }
        }
        out.push(p);
    }
    let mut all = out.clone();
    all.extend(undone);
    if !all.is_empty() {
        proposals::write(
            store,
            target,
            &all,
            &format!("rollback {target} to {}", &to.to_string()[..12]),
        )?;
    }
    Ok(out)
}
