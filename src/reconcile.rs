//! One reconcile tick, and applying reviewed proposals.
//!
//! Tick: parse -> validate -> diff against live -> open proposals up to the cap
//! (the audit record is written before anything is applied) -> auto-apply what
//! passes every gate -> record the run. Apply: refuse stale proposals, validate
//! the resulting live state, then write receipt -> live snapshot -> proposal
//! transition, in that order, so a crash at any point never leaves a live
//! change or an `applied` proposal without its receipt.

use crate::config::{Config, TargetConfig, DEFAULT_MAX_PROPOSALS};
use crate::desired::{self, Source};
use crate::error::{Error, Result};
use crate::error::{ReconcileError, StoreError};
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
pub use crate::paths::AUTO_ACTOR;
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
            // A live command that printed nothing failed; it does not say
            // the target is empty (that would propose creating everything).
            if out.trim().is_empty() {
                return Err(Error::usage(format!(
                    "the live command of target '{target}' (`{cmd}`) printed nothing; an empty live state must be written out (e.g. `{{}}`)"
                )));
            }
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
    run_command_marked(store, cmd, stdin, None)
}

/// [`run_command`] with `GIT_FLEET_INTENT=<intent receipt id>` in its
/// environment (and its children's): a killed git-fleet does not kill its
/// apply command, and recovery must not judge an intent while a process of
/// that command may still change live ([`intent_still_running`]).
fn run_command_marked(
    store: &Store,
    cmd: &str,
    stdin: Option<&str>,
    intent: Option<&str>,
) -> Result<String> {
    let dir = store
        .work_dir()
        .unwrap_or_else(|| store.git_dir())
        .to_path_buf();
    let mut command = Command::new("sh");
    if let Some(id) = intent {
        command.env(INTENT_ENV, id);
    }
    let mut child = command
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
        .map_err(|e| StoreError::spawn(format!("`{cmd}`"), e))?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        use std::io::Write;
        let _ = pipe.write_all(input.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| StoreError::spawn(format!("`{cmd}`"), e))?;
    if !out.status.success() {
        return Err(ReconcileError::CommandFailed {
            command: cmd.to_string(),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        }
        .into());
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
    /// Interrupted applies of this target this tick completed first.
    pub recovered: Vec<Recovered>,
}

pub struct TickOptions {
    pub max_proposals: Option<usize>,
    pub rev: String,
    /// How long to wait while another tick of the target holds its lock.
    pub lock_wait: std::time::Duration,
    /// A missing or empty desired file is an empty fleet on purpose.
    pub allow_empty: bool,
}

/// One reconcile tick of `target`. Every tick records a run, also a failed one.
pub fn tick(
    store: &Store,
    config: &Config,
    target: &str,
    opts: &TickOptions,
) -> Result<TickReport> {
    let cfg = target_config(config, target);
    preflight(store, &cfg, target, opts)?;
    let lock = TickLock::acquire(&store.local_dir().join("locks"), target, opts.lock_wait)?;
    let started = runs::now();
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
    // Complete interrupted applies first: the diff then sees what live became.
    match recover(store, config, Some(target)) {
        Ok(done) => {
            for r in &done {
                run.notes.push(r.to_string());
            }
            report.recovered = done;
        }
        Err(e) => run
            .notes
            .push(format!("cannot complete interrupted applies: {e}")),
    }
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

/// Never guess: a tick needs a recorded live state (the embedded driver's
/// snapshot; the exec driver reads live itself) and a desired file with
/// content at the revision. Checked before the lock and the run record, so a
/// refused tick writes nothing.
fn preflight(store: &Store, cfg: &TargetConfig, target: &str, opts: &TickOptions) -> Result<()> {
    if cfg.driver.as_deref() != Some("exec") && store.resolve(&live::live_ref(target))?.is_none() {
        return Err(live::no_snapshot(store, target));
    }
    let input = desired::read(store, &Source::Rev(opts.rev.clone()), &desired_path(cfg))?;
    desired::require_content(&input, desired::Role::Desired, opts.allow_empty)
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
    let parsed_fleet = desired::parse(&input)?.fleet;
    let live = read_live(store, target, cfg)?;
    // [[ignore]] rules: drift in ignored fields is never proposed.
    let (desired_fleet, _) =
        crate::ops::ignore::neutralize(config, target, &live.fleet, parsed_fleet);
    let d = diff(&live.fleet, &desired_fleet);
    run.diffs = d.changes.len();
    run.counts = d
        .counts()
        .into_iter()
        .map(|(k, v)| (k, v.into_iter().map(|(c, n)| (c.to_string(), n)).collect()))
        .collect();

    let book = Book::open(store, target)?;
    let stored_all = book.all(store)?;
    let actor = actor_string(store);
    let now = runs::now();
    let tick = Tick {
        target,
        cfg,
        cap,
        source_commit,
        live: &live,
        desired: &desired_fleet,
        actor: &actor,
        now,
        // Values rollbacks undid: auto-apply never brings one back.
        rolled: rolled_back_values(&stored_all),
    };
    let to_write = tick.proposals_to_write(&book, &stored_all, &d.changes, run, report);
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

    let eligible = tick.auto_apply_eligible(store, config, &to_write, run, report)?;
    if eligible.is_empty() {
        return Ok(());
    }
    apply_automatically(store, config, target, &eligible, run, report)
}

/// What one tick of a target compares and writes with.
struct Tick<'a> {
    target: &'a str,
    cfg: &'a TargetConfig,
    cap: usize,
    source_commit: ObjectId,
    live: &'a Live,
    desired: &'a Fleet,
    actor: &'a str,
    now: i64,
    rolled: Vec<RolledBack>,
}

impl Tick<'_> {
    /// The proposals this tick writes for the diff: new ones, and stored ones
    /// reopened or refreshed; up to the cap, the rest counted as deferred.
    fn proposals_to_write(
        &self,
        book: &Book,
        stored_all: &[Proposal],
        changes: &[crate::fleet::diff::Change],
        run: &mut Run,
        report: &mut TickReport,
    ) -> Vec<Proposal> {
        // Each stored proposal is decoded once, by the caller; looked up here by id.
        let stored_by_id: std::collections::HashMap<&str, &Proposal> =
            book.ids().zip(stored_all.iter()).collect();
        let mut to_write: Vec<Proposal> = Vec::new();
        for change in changes {
            // Past the cap a change nothing is stored for is only counted: its
            // proposal (live JSON, fields, encoding) is never built.
            if to_write.len() >= self.cap {
                let after = resource_json(self.desired, change.kind, &change.name);
                let id = proposals::proposal_id(
                    self.target,
                    change.kind,
                    &change.name,
                    change.change,
                    after.as_ref(),
                );
                if !book.contains(&id) {
                    report.deferred += 1;
                    continue;
                }
            }
            let fresh = proposals::from_change(
                self.target,
                change,
                &self.live.fleet,
                self.desired,
                Some(self.source_commit.to_string()),
                self.live.snapshot.map(|c| c.to_string()),
                self.actor,
                self.now,
                None,
            );
            let reopened = match stored_by_id.get(fresh.id.as_str()).copied() {
                None => fresh,
                Some(stored) => match self.reopen(stored, fresh, run, report) {
                    Some(p) => p,
                    None => continue,
                },
            };
            if to_write.len() >= self.cap {
                report.deferred += 1;
                continue;
            }
            to_write.push(reopened);
        }
        to_write
    }

    /// What becomes of a stored proposal the diff asks for again (`fresh`):
    /// None when it stays as it is (open, or decided on this same change).
    fn reopen(
        &self,
        stored: &Proposal,
        fresh: Proposal,
        run: &mut Run,
        report: &mut TickReport,
    ) -> Option<Proposal> {
        let refreshed = |reason: &str| {
            let mut p = stored.clone();
            p.before = fresh.before.clone();
            p.fields = fresh.fields.clone();
            p.source_commit = fresh.source_commit.clone();
            p.live_snapshot = fresh.live_snapshot.clone();
            p.push(
                State::PendingReview,
                self.actor,
                self.now,
                Some(reason.into()),
            );
            p
        };
        match stored.state() {
            // A conflict waits for a person, like an open proposal.
            State::Conflict => {
                report.already_open += 1;
                None
            }
            State::PendingReview | State::Approved
                if stored.before == fresh.before || stored.rollback =>
            {
                report.already_open += 1;
                // Still held for a rollback: say so every tick.
                if let Some(why) = self
                    .cfg
                    .auto_apply
                    .then(|| rolled_back_gate(&self.rolled, stored))
                    .flatten()
                {
                    run.notes
                        .push(format!("skipped auto-apply of {}: {why}", &stored.id[..12]));
                    report.held.push((stored.id.clone(), why));
                }
                None
            }
            // Live moved under an open proposal: refresh what it changes from
            // (else it stays stale forever); an approval was for the old
            // change, so it goes back to review.
            State::PendingReview | State::Approved => Some(refreshed(
                "live changed under it: before refreshed; review again",
            )),
            State::Rejected | State::Ignored if stored.before == fresh.before => {
                report.not_reproposed += 1;
                None
            }
            state => Some(refreshed(match state {
                State::Applied => "drift: live differs from desired again after apply",
                State::Superseded => "desired asks for this content again",
                _ => "live changed since the decision",
            })),
        }
    }

    /// The proposals auto-apply may apply now; each other one is held with
    /// the reason (auto_apply off, a destroy, halted, a sync conflict, a
    /// rolled-back value, the policy).
    fn auto_apply_eligible(
        &self,
        store: &Store,
        config: &Config,
        to_write: &[Proposal],
        run: &mut Run,
        report: &mut TickReport,
    ) -> Result<Vec<String>> {
        let (cfg, target) = (self.cfg, self.target);
        let halted = halt::state(store)?.halted;
        let live_conflicts = crate::sync::live_conflicts(store, target)?;
        let policy_actor = cfg.auto_apply.then(|| local_actor(store));
        let mut eligible = Vec::new();
        for p in to_write {
            let gate = if !cfg.auto_apply {
                Some("auto_apply is off".to_string())
            } else if p.change == ChangeType::Destroy {
                Some("a destroy always waits for a person".to_string())
            } else if halted {
                Some("automation is halted".to_string())
            } else if !live_conflicts.is_empty() {
                Some(format!(
                    "the live state is a sync conflict ({}): record a new snapshot or apply to resolve it",
                    live_conflicts.join(", ")
                ))
            } else if let Some(why) = rolled_back_gate(&self.rolled, p) {
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
        Ok(eligible)
    }
}

/// Apply the proposals auto-apply may apply, and record how each went.
fn apply_automatically(
    store: &Store,
    config: &Config,
    target: &str,
    eligible: &[String],
    run: &mut Run,
    report: &mut TickReport,
) -> Result<()> {
    let outcomes = apply(
        store,
        config,
        target,
        eligible,
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
    if stored.is_empty() {
        return Ok(());
    }
    let mut out = Vec::new();
    // Indexed once: with thousands of open proposals and diffs, a scan per
    // proposal is quadratic.
    let fresh_ids: std::collections::HashSet<&str> = fresh.iter().map(|f| f.id.as_str()).collect();
    let mut by_resource: std::collections::HashMap<(Kind, &str), &crate::fleet::diff::Change> =
        std::collections::HashMap::new();
    for c in changes {
        by_resource.entry((c.kind, c.name.as_str())).or_insert(c);
    }
    for p in stored {
        if p.rollback || fresh_ids.contains(p.id.as_str()) || !p.state().is_open() {
            continue;
        }
        let current = by_resource.get(&(p.kind, p.name.as_str())).map(|c| {
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

pub use crate::config::desired_path;

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

    // Refuse destroys of definitions still referenced after the whole batch.
    let live_now = read_live(store, target, &cfg)?;
    let mut combined = live_now.fleet.clone();
    for p in &batch {
        set_resource(&mut combined, p.kind, &p.name, p.after.as_ref())?;
    }
    let gates = ApplyGates {
        config,
        cfg: &cfg,
        target,
        auto: opts.auto,
        required: cfg.approvals.unwrap_or(1).max(1),
        policy_actor: local_actor(store),
        ssh: crate::sign::SshConfig::load(store)?,
        dir: store.work_dir().unwrap_or(store.git_dir()).to_path_buf(),
        dangling: validate(&combined, &SourceMap::new(format!("{target} after apply"))).err(),
    };

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
        let decision =
            config
                .policy
                .decide(&gates.policy_actor, Some(target), &p.resource(), p.change);
        if let Some(why) = gates.refusal(&p, &decision)? {
            // A refusal changes nothing stored; say why.
            outcomes.push(ApplyOutcome {
                id: p.id.clone(),
                result: Err(why),
            });
            continue;
        }
        let result = apply_one(
            store,
            &cfg,
            target,
            &p,
            &actor,
            opts.despite_halt && halt_state.halted,
            decision.policy_note(),
        );
        outcomes.push(record_apply(store, target, &mut p, &actor, result)?);
    }
    Ok(outcomes)
}

/// What decides whether one proposal of an apply may go ahead.
struct ApplyGates<'a> {
    config: &'a Config,
    cfg: &'a TargetConfig,
    target: &'a str,
    auto: bool,
    /// Distinct approvers a manual apply needs.
    required: usize,
    policy_actor: crate::policy::Actor,
    ssh: crate::sign::SshConfig,
    /// The repository directory, for the published-branch check.
    dir: std::path::PathBuf,
    /// What the whole batch leaves dangling (a destroyed definition still used).
    dangling: Option<Error>,
}

impl ApplyGates<'_> {
    /// Why `p` may not be applied (None: it may): the policy, not approved,
    /// not published, too few approvers, or a destroy that leaves a reference.
    fn refusal(&self, p: &Proposal, decision: &crate::policy::Decision) -> Result<Option<String>> {
        let required = self.required;
        Ok(if let Some(why) = &decision.refusal {
            Some(why.clone())
        } else if p.state() != State::Approved {
            Some(format!("not approved (state {})", p.state()))
        } else if let Some(why) = (!self.auto && !p.rollback)
            .then(|| {
                crate::policy::unpublished(
                    &self.dir,
                    self.cfg,
                    self.target,
                    p.source_commit.as_deref(),
                )
            })
            .flatten()
        {
            Some(why)
        } else if let Some(short) = (!self.auto)
            .then(|| crate::policy::count_approvals(&self.ssh, p, &self.config.policy))
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
            self.dangling.as_ref().and_then(|e| {
                let text = e.to_string();
                text.contains(&format!("'{}'", p.name))
                    .then(|| format!("{} is still referenced: {text}", p.resource()))
            })
        } else {
            None
        })
    }
}

/// Record how `apply_one` went on the proposal (applied; or failed and back
/// to review), write it, and say so.
fn record_apply(
    store: &Store,
    target: &str,
    p: &mut Proposal,
    actor: &str,
    result: Applied,
) -> Result<ApplyOutcome> {
    match result {
        Ok((snapshot, receipt)) => {
            p.push_receipted(
                State::Applied,
                actor,
                runs::now(),
                Some(format!("live snapshot {snapshot}")),
                &receipt,
            );
            proposals::write(
                store,
                target,
                std::slice::from_ref(p),
                &format!("apply {} to {target}", &p.id[..12]),
            )?;
            inflight_end(store, &p.id);
            Ok(ApplyOutcome {
                id: p.id.clone(),
                result: Ok(snapshot.to_string()),
            })
        }
        Err((why, receipt)) => {
            let now = runs::now();
            match &receipt {
                Some(id) => p.push_receipted(State::Failed, actor, now, Some(why.clone()), id),
                None => p.push(State::Failed, actor, now, Some(why.clone())),
            }
            p.push(
                State::PendingReview,
                actor,
                now,
                Some(format!("back to review: {why}")),
            );
            proposals::write(
                store,
                target,
                std::slice::from_ref(p),
                &format!("apply {} to {target} failed", &p.id[..12]),
            )?;
            inflight_end(store, &p.id);
            Ok(ApplyOutcome {
                id: p.id.clone(),
                result: Err(why),
            })
        }
    }
}

/// How one apply ended: Ok, the new snapshot and the completing receipt; Err,
/// why the proposal goes back to review, and the completing receipt when
/// live was touched.
type Applied = std::result::Result<(ObjectId, String), (String, Option<String>)>;

/// Apply one approved proposal, write-ahead: an intent receipt
/// (`Fleet-Result: pending`) before live is touched, then live, then the
/// completing receipt (`applied`, `mismatch` or `failed`, naming the intent).
fn apply_one(
    store: &Store,
    cfg: &TargetConfig,
    target: &str,
    p: &Proposal,
    actor: &str,
    despite_halt: bool,
    policy_note: String,
) -> Applied {
    let refuse = |why: String| (why, None);
    let (live, next) = next_live(store, cfg, target, p).map_err(refuse)?;
    let exec = cfg.driver.as_deref() == Some("exec");
    let cmd = if exec {
        Some(
            cfg.apply
                .as_deref()
                .ok_or_else(|| refuse("exec driver has no `apply` command".into()))?,
        )
    } else {
        None
    };
    // The snapshot `next` was computed from: the CAS below publishes only
    // over it, never over a snapshot another writer recorded meanwhile.
    let parent = live.snapshot;
    let mut extra = vec![("Fleet-Approvers".to_string(), p.approvers().join(", "))];
    if despite_halt {
        extra.push(("Fleet-Despite-Halt".into(), "yes".into()));
    }
    let base = ReceiptBase {
        action: if actor == AUTO_ACTOR {
            "auto-apply".into()
        } else {
            "apply".into()
        },
        source: source_commit(store, p, parent).map_err(|e| refuse(e.to_string()))?,
        target: target.to_string(),
        proposal: p.id.clone(),
        change: format!("{} {}", p.change.as_str(), p.resource()),
        policy: policy_note,
        before: parent,
        extra,
    };
    // 1. The intent: from here on, whatever happens to live has a receipt.
    // The marker first, so an apply killed at any later point is found.
    inflight_begin(store, target, &p.id).map_err(|e| refuse(e.to_string()))?;
    let intent = base
        .intent(store)
        .map_err(|e| refuse(format!("cannot write the intent receipt: {e}")))?;
    let applying = Applying {
        store,
        target,
        p,
        actor,
        base: &base,
        intent: &intent,
    };
    // 2. Live; 3. completion.
    match cmd {
        None => applying.embedded(&next, parent),
        Some(cmd) => applying.exec(cfg, cmd, &live),
    }
}

/// Live now and what it becomes with `p`: refused when `p` is stale (live
/// changed since it was computed) or the result would be invalid.
fn next_live(
    store: &Store,
    cfg: &TargetConfig,
    target: &str,
    p: &Proposal,
) -> std::result::Result<(Live, Fleet), String> {
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
    Ok((live, next))
}

/// One apply once its intent receipt is written.
struct Applying<'a> {
    store: &'a Store,
    target: &'a str,
    p: &'a Proposal,
    actor: &'a str,
    base: &'a ReceiptBase,
    intent: &'a str,
}

impl Applying<'_> {
    /// The receipt completing the intent; its id.
    fn complete(
        &self,
        result: &str,
        after: Option<ObjectId>,
        reason: Option<&str>,
    ) -> std::result::Result<String, String> {
        self.base
            .complete(self.store, self.intent, result, after, reason, None)
            .map(|r| r.id)
            .map_err(|e| {
                format!(
                    "cannot write the receipt completing intent {}: {e}",
                    &self.intent[..12]
                )
            })
    }

    /// The live snapshot's commit message, naming the intent.
    fn message(&self, note: &str) -> String {
        let (p, actor, intent) = (self.p, self.actor, self.intent);
        format!(
            "apply {} {}{note}\n\nFleet-Proposal: {}\nFleet-Change: {} {}\nFleet-Actor: {actor}\nFleet-Receipt: {intent}\n",
            p.change.as_str(),
            p.resource(),
            p.id,
            p.change.as_str(),
            p.resource()
        )
    }

    /// The embedded driver: record `next` as live, over `parent` only.
    fn embedded(&self, next: &Fleet, parent: Option<ObjectId>) -> Applied {
        let (store, target) = (self.store, self.target);
        let snapshot = live::prepare(store, target, next, parent, &self.message(""))
            .map_err(|e| e.to_string());
        let advanced = snapshot
            .clone()
            .and_then(|s| live::advance(store, target, parent, s).map_err(|e| e.to_string()));
        match (snapshot, advanced) {
            (Ok(snapshot), Ok(true)) => match self.complete("applied", Some(snapshot), None) {
                Ok(receipt) => Ok((snapshot, receipt)),
                Err(e) => Err((e, None)),
            },
            (_, Ok(false)) => {
                let why = format!("stale: live {target} moved while applying");
                let receipt = self.complete("failed", parent, Some(&why)).ok();
                Err((why, receipt))
            }
            (Err(e), _) | (_, Err(e)) => {
                let why = format!("cannot record the live snapshot: {e}");
                let receipt = self.complete("failed", parent, Some(&why)).ok();
                Err((why, receipt))
            }
        }
    }

    /// The exec driver: run the apply command, read live back whatever it
    /// said, record what live became, and judge it against the proposal.
    fn exec(&self, cfg: &TargetConfig, cmd: &str, live: &Live) -> Applied {
        let (store, target, p) = (self.store, self.target, self.p);
        let change = serde_json::json!({
            "target": target, "proposal": p.id, "kind": p.kind, "name": p.name,
            "change": p.change, "before": p.before, "after": p.after,
        });
        let ran = run_command_marked(store, cmd, Some(&change.to_string()), Some(self.intent));
        // Runtime proof: read live back, whatever the command said; live may
        // have changed even when it failed.
        let back = match read_live(store, target, cfg) {
            Ok(back) => back,
            Err(e) => {
                let why = match &ran {
                    Ok(_) => format!("readback failed: {e}"),
                    Err(c) => format!("apply command failed: {c}; readback failed: {e}"),
                };
                let receipt = self.complete("failed", None, Some(&why)).ok();
                return Err((why, receipt));
            }
        };
        let (result, why) = match &ran {
            Ok(_) if resource_json(&back.fleet, p.kind, &p.name) == p.after => ("applied", None),
            Ok(_) => (
                "mismatch",
                Some(format!(
                    "readback mismatch: live {} is not what was applied",
                    p.resource()
                )),
            ),
            Err(e) if back.fleet != live.fleet => (
                "mismatch",
                Some(format!(
                    "apply command failed: {e}; live changed all the same"
                )),
            ),
            Err(e) => ("failed", Some(format!("apply command failed: {e}"))),
        };
        // Whatever live became is recorded before the receipt that names it.
        let note = if result == "applied" {
            ""
        } else {
            " (readback differs)"
        };
        let after = match record_readback(store, target, &back.fleet, &self.message(note)) {
            Ok(after) => after,
            Err(e) => {
                let why = format!("cannot record the live readback: {e}");
                let receipt = self.complete("failed", None, Some(&why)).ok();
                return Err((why, receipt));
            }
        };
        match (self.complete(result, after, why.as_deref()), why, after) {
            (Ok(receipt), None, Some(snapshot)) => Ok((snapshot, receipt)),
            (Ok(receipt), why, _) => Err((
                why.unwrap_or_else(|| "live has no snapshot after apply".into()),
                Some(receipt),
            )),
            (Err(e), _, _) => Err((e, None)),
        }
    }
}

/// Record the exec driver's readback when it differs from the last recorded
/// snapshot; the snapshot that now describes live.
fn record_readback(
    store: &Store,
    target: &str,
    fleet: &Fleet,
    message: &str,
) -> Result<Option<ObjectId>> {
    let recorded = live::latest(store, target)?;
    match recorded {
        Some(s) if &s.fleet == fleet => Ok(Some(s.commit)),
        _ => live::append(store, target, fleet, message).map(Some),
    }
}

/// The commit an apply's receipts annotate: the desired commit the proposal
/// came from, else the live snapshot it applies to, else the proposals record.
fn source_commit(store: &Store, p: &Proposal, parent: Option<ObjectId>) -> Result<ObjectId> {
    if let Some(c) = p
        .source_commit
        .as_deref()
        .and_then(|s| ObjectId::from_hex(s.as_bytes()).ok())
    {
        return Ok(c);
    }
    if let Some(c) = parent {
        return Ok(c);
    }
    store
        .resolve(&proposals::proposals_ref(&p.target))?
        .ok_or_else(|| {
            ReconcileError::NoRecord {
                proposal: p.id.clone(),
            }
            .into()
        })
}

/// The environment variable naming the intent an apply command runs under.
pub const INTENT_ENV: &str = "GIT_FLEET_INTENT";

/// Whether a live process of this user still carries `GIT_FLEET_INTENT=<intent>`
/// (the apply command or anything it started). Read from /proc; where there is
/// none, an apply command outliving its git-fleet cannot be seen.
fn intent_still_running(intent: &str) -> bool {
    let needle = format!("{INTENT_ENV}={intent}");
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return false;
    };
    procs.filter_map(|e| e.ok()).any(|e| {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            return false;
        };
        // A zombie's environment is gone with its memory: it reads empty.
        std::fs::read(e.path().join("environ")).is_ok_and(|env| {
            env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes())
                && crate::ticklock::process_alive(pid)
        })
    })
}

/// What an intent and its completing receipt share.
struct ReceiptBase {
    action: String,
    source: ObjectId,
    target: String,
    proposal: String,
    change: String,
    policy: String,
    before: Option<ObjectId>,
    extra: Vec<(String, String)>,
}

pub const RESULT: &str = "Fleet-Result";
pub const INTENT: &str = "Fleet-Intent";
pub const OWNER: &str = "Fleet-Owner";
pub const PENDING: &str = "pending";

impl ReceiptBase {
    fn input(&self, after: Option<String>, extra: Vec<(String, String)>) -> receipts::ReceiptInput {
        let mut all = self.extra.clone();
        all.extend(extra);
        receipts::ReceiptInput {
            action: self.action.clone(),
            source_commit: self.source,
            target: Some(self.target.clone()),
            proposal: Some(self.proposal.clone()),
            change: Some(self.change.clone()),
            policy: Some(self.policy.clone()).filter(|p| !p.is_empty()),
            before: Some(
                self.before
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "none".into()),
            ),
            after,
            extra: all,
        }
    }

    /// The intent receipt; its id.
    fn intent(&self, store: &Store) -> Result<String> {
        let owner = Owner::of(std::process::id()).to_string();
        let input = self.input(
            None,
            vec![(RESULT.into(), PENDING.into()), (OWNER.into(), owner)],
        );
        Ok(receipts::append(store, &input)?.id)
    }

    /// The receipt completing intent `intent`; its id.
    fn complete(
        &self,
        store: &Store,
        intent: &str,
        result: &str,
        after: Option<ObjectId>,
        reason: Option<&str>,
        recovered: Option<&str>,
    ) -> Result<receipts::Receipt> {
        let mut extra = vec![
            (RESULT.to_string(), result.to_string()),
            (INTENT.to_string(), intent.to_string()),
        ];
        if let Some(r) = reason {
            extra.push(("Fleet-Reason".into(), r.to_string()));
        }
        if let Some(r) = recovered {
            extra.push(("Fleet-Recovered".into(), r.to_string()));
        }
        let after = after
            .map(|c| c.to_string())
            .unwrap_or_else(|| "none".into());
        receipts::append(store, &self.input(Some(after), extra))
    }
}

/// Who wrote an intent: host, pid and the process's start time.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Owner {
    host: String,
    pid: u32,
    start: u64,
}

impl Owner {
    fn of(pid: u32) -> Owner {
        Owner {
            host: host_name(),
            pid,
            start: crate::ticklock::process_start(pid).unwrap_or(0),
        }
    }

    fn parse(text: &str) -> Option<Owner> {
        let mut f = text.split_whitespace();
        let host = f.next()?.to_string();
        let pid = f.next()?.strip_prefix("pid=")?.parse().ok()?;
        let start = f.next()?.strip_prefix("start=")?.parse().ok()?;
        Some(Owner { host, pid, start })
    }

    /// Why this owner is gone, or None while it may still be working.
    fn gone_because(&self) -> Option<String> {
        if !crate::ticklock::process_alive(self.pid) {
            return Some(format!("pid {} is gone", self.pid));
        }
        match crate::ticklock::process_start(self.pid) {
            Some(start) if self.start != 0 && start != self.start => {
                Some(format!("pid {} now belongs to another process", self.pid))
            }
            _ => None,
        }
    }
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} pid={} start={}", self.host, self.pid, self.start)
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().replace(char::is_whitespace, "-"))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// An interrupted apply that a later command completed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Recovered {
    /// The intent receipt (`Fleet-Result: pending`).
    pub intent: String,
    pub target: String,
    pub proposal: String,
    /// `applied`, `mismatch` or `failed`; `pending` when it could not be
    /// completed yet (`why` says why; the next command tries again).
    pub result: String,
    /// The receipt that completes it (empty while pending).
    pub receipt: String,
    /// Why the intent's owner is gone.
    pub why: String,
}

impl std::fmt::Display for Recovered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let short = |s: &str| s[..s.len().min(12)].to_string();
        if self.result == PENDING {
            return write!(
                f,
                "an interrupted apply of {} to {} is still pending ({})",
                short(&self.proposal),
                self.target,
                self.why
            );
        }
        write!(
            f,
            "completed an interrupted apply of {} to {} ({}): {} (receipt {})",
            short(&self.proposal),
            self.target,
            self.why,
            self.result,
            short(&self.receipt)
        )
    }
}

/// An apply in flight, as its local marker file says: written before the
/// intent receipt, removed after the proposal's transition, so a marker left
/// behind by a dead process is exactly an interrupted apply of this repository.
struct Inflight {
    path: std::path::PathBuf,
    owner: Owner,
    target: String,
    proposal: String,
}

fn inflight_dir(store: &Store) -> std::path::PathBuf {
    store.local_dir().join("inflight")
}

/// The marker of this process's apply of `proposal`.
fn inflight_path(store: &Store, proposal: &str) -> std::path::PathBuf {
    inflight_dir(store).join(format!("{}-{proposal}", std::process::id()))
}

fn inflight_begin(store: &Store, target: &str, proposal: &str) -> Result<()> {
    let path = inflight_path(store, proposal);
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(inflight_dir(store))?;
        let owner = Owner::of(std::process::id());
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, format!("{owner}\n{target}\n{proposal}\n"))?;
        std::fs::rename(&tmp, &path)
    };
    write().map_err(|source| Error::Write {
        path: path.clone(),
        source,
    })
}

fn inflight_end(store: &Store, proposal: &str) {
    let _ = std::fs::remove_file(inflight_path(store, proposal));
}

fn inflight_all(store: &Store, only: Option<&str>) -> Vec<Inflight> {
    let Ok(dir) = std::fs::read_dir(inflight_dir(store)) else {
        return Vec::new();
    };
    let mut out: Vec<Inflight> = dir
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_none())
        .filter_map(|e| {
            let text = std::fs::read_to_string(e.path()).ok()?;
            let mut lines = text.lines();
            Some(Inflight {
                owner: Owner::parse(lines.next()?)?,
                target: lines.next()?.to_string(),
                proposal: lines.next()?.to_string(),
                path: e.path(),
            })
        })
        .filter(|m| only.is_none_or(|t| t == m.target))
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// Complete every apply of this repository that was interrupted (its
/// process is gone, its marker is still there): find its intent receipt;
/// if nothing completes it, read live back and write the completing receipt;
/// then write the proposal's transition if it is missing. An apply whose
/// process, or whose exec apply command, still runs is left alone.
pub fn recover(store: &Store, config: &Config, only: Option<&str>) -> Result<Vec<Recovered>> {
    let dead = |m: &Inflight| m.owner.gone_because();
    if !inflight_all(store, only).iter().any(|m| dead(m).is_some()) {
        return Ok(Vec::new());
    }
    // One recoverer at a time; markers are read again under the lock.
    let _lock = TickLock::acquire(
        &store.local_dir().join("locks"),
        "%recover",
        std::time::Duration::from_secs(30),
    )?;
    let log = receipts::log(store)?;
    let mut done = Vec::new();
    for m in inflight_all(store, only) {
        let Some(why) = dead(&m) else {
            continue;
        };
        let owner = m.owner.to_string();
        let intent = log.iter().find(|r| {
            r.field(RESULT) == Some(PENDING)
                && r.field("Fleet-Proposal") == Some(m.proposal.as_str())
                && r.field(OWNER) == Some(owner.as_str())
        });
        let Some(intent) = intent else {
            // Killed before its intent: live was not touched.
            let _ = std::fs::remove_file(&m.path);
            continue;
        };
        if intent_still_running(&intent.id) {
            continue; // its apply command still runs
        }
        let completion = log
            .iter()
            .find(|r| r.field(INTENT) == Some(intent.id.as_str()))
            .cloned();
        match recover_one(store, config, intent, completion, &why) {
            Ok(r) => {
                done.push(r);
                let _ = std::fs::remove_file(&m.path);
            }
            // Kept for the next command; said so, never hidden.
            Err(e) => done.push(Recovered {
                intent: intent.id.clone(),
                target: m.target.clone(),
                proposal: m.proposal.clone(),
                result: PENDING.into(),
                receipt: String::new(),
                why: format!("{why}; cannot complete it yet: {e}"),
            }),
        }
    }
    Ok(done)
}

fn recover_one(
    store: &Store,
    config: &Config,
    intent: &receipts::Receipt,
    completion: Option<receipts::Receipt>,
    why: &str,
) -> Result<Recovered> {
    let field = |k: &str| intent.field(k).unwrap_or_default().to_string();
    let target = field("Fleet-Target");
    let cfg = target_config(config, &target);
    let before = ObjectId::from_hex(field("Fleet-Before").as_bytes()).ok();
    let book = Book::open(store, &target)?;
    let proposal = book.get(store, &field("Fleet-Proposal"))?;
    let recovered = format!("the apply was interrupted ({why})");
    let completion = match completion {
        Some(c) => c,
        None => {
            let extra: Vec<(String, String)> = intent
                .fields
                .iter()
                .filter(|(k, _)| k == "Fleet-Approvers" || k == "Fleet-Despite-Halt")
                .cloned()
                .collect();
            let base = ReceiptBase {
                action: intent.action().to_string(),
                source: ObjectId::from_hex(intent.source_commit.as_bytes()).map_err(|e| {
                    ReconcileError::IntentWithoutCommit {
                        intent: intent.id.clone(),
                        source: Box::new(e),
                    }
                })?,
                target: target.clone(),
                proposal: field("Fleet-Proposal"),
                change: field("Fleet-Change"),
                policy: field("Fleet-Policy"),
                before,
                extra,
            };
            let (result, after, reason) =
                judge(store, &cfg, &target, intent, proposal.as_ref(), before)?;
            base.complete(
                store,
                &intent.id,
                result,
                after,
                reason.as_deref(),
                Some(&recovered),
            )?
        }
    };
    let result = completion.field(RESULT).unwrap_or("failed").to_string();
    if let Some(mut p) = proposal {
        let done = p
            .transitions
            .iter()
            .any(|t| t.receipt.as_deref() == Some(completion.id.as_str()));
        // A failure found by recovery touched nothing: the proposal stays as it was.
        let untouched = result == "failed" && completion.field("Fleet-Recovered").is_some();
        if !done && !untouched {
            let actor = if intent.action() == "auto-apply" {
                AUTO_ACTOR.to_string()
            } else {
                actor_string(store)
            };
            let now = runs::now();
            let reason = completion
                .field("Fleet-Reason")
                .map(str::to_string)
                .unwrap_or_default();
            if result == "applied" {
                if p.state() != State::Approved && intent.action() == "auto-apply" {
                    p.push(
                        State::Approved,
                        AUTO_ACTOR,
                        now,
                        Some("auto_apply: create/update within the tick cap".into()),
                    );
                }
                p.push_receipted(
                    State::Applied,
                    &actor,
                    now,
                    Some(format!(
                        "live snapshot {}; {recovered}",
                        completion.field("Fleet-After").unwrap_or("none")
                    )),
                    &completion.id,
                );
            } else {
                p.push_receipted(
                    State::Failed,
                    &actor,
                    now,
                    Some(reason.clone()),
                    &completion.id,
                );
                p.push(
                    State::PendingReview,
                    &actor,
                    now,
                    Some(format!("back to review: {reason}")),
                );
            }
            proposals::write(
                store,
                &target,
                std::slice::from_ref(&p),
                &format!(
                    "complete the interrupted apply of {} to {target}",
                    &p.id[..12]
                ),
            )?;
        }
    }
    Ok(Recovered {
        intent: intent.id.clone(),
        target,
        proposal: field("Fleet-Proposal"),
        result,
        receipt: completion.id.clone(),
        why: why.to_string(),
    })
}

/// What an interrupted apply did to live: its result, the snapshot that now
/// describes live, and why it did not apply.
fn judge(
    store: &Store,
    cfg: &TargetConfig,
    target: &str,
    intent: &receipts::Receipt,
    proposal: Option<&Proposal>,
    before: Option<ObjectId>,
) -> Result<(&'static str, Option<ObjectId>, Option<String>)> {
    let Some(p) = proposal else {
        return Ok((
            "failed",
            None,
            Some("the proposal is not in this repository".into()),
        ));
    };
    if cfg.driver.as_deref() != Some("exec") {
        return Ok(
            match snapshot_of_intent(store, target, &intent.id, before)? {
                Some(s) => ("applied", Some(s), None),
                None => (
                    "failed",
                    before,
                    Some("interrupted before live changed".into()),
                ),
            },
        );
    }
    let back = read_live(store, target, cfg)?;
    let now = resource_json(&back.fleet, p.kind, &p.name);
    let message = format!(
        "apply {} {} (recovered)\n\nFleet-Proposal: {}\nFleet-Receipt: {}\n",
        p.change.as_str(),
        p.resource(),
        p.id,
        intent.id
    );
    let after = record_readback(store, target, &back.fleet, &message)?;
    Ok(if now == p.after {
        ("applied", after, None)
    } else if now == p.before {
        (
            "failed",
            after,
            Some("interrupted before live changed".into()),
        )
    } else {
        (
            "mismatch",
            after,
            Some(format!(
                "readback mismatch: live {} is not what was applied",
                p.resource()
            )),
        )
    })
}

/// The snapshot an embedded apply published under intent `intent`: among
/// the commits reachable from the live tip but not from the snapshot the
/// intent started from (a sync may have merged live since).
fn snapshot_of_intent(
    store: &Store,
    target: &str,
    intent: &str,
    before: Option<ObjectId>,
) -> Result<Option<ObjectId>> {
    let Some(tip) = store.resolve(&live::live_ref(target))? else {
        return Ok(None);
    };
    let needle = format!("Fleet-Receipt: {intent}");
    let walk = store
        .repo()
        .rev_walk([tip])
        .with_hidden(before)
        .all()
        .map_err(|e| StoreError::repo(format!("cannot walk {}", live::live_ref(target)), e))?;
    for info in walk {
        let info = info
            .map_err(|e| StoreError::repo(format!("cannot walk {}", live::live_ref(target)), e))?;
        let (entry, _) = store.chain_entry(info.id)?;
        if entry.message.lines().any(|l| l.trim() == needle) {
            return Ok(Some(info.id));
        }
    }
    Ok(None)
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
