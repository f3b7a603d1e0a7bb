//! Fanout records: one block of trailer lines per run, appended to the note on
//! the delivered commit in `refs/notes/fleet/fanout`.
//!
//! ```text
//! Fleet-Fanout: 3f2c...e1 (the delivered commit)
//! Fleet-Run: 8c1d2e3f4a5b
//! Fleet-Time: 2026-01-02T03:04:05+00:00
//! Fleet-Actor: Ada <ada@example.com>
//! Fleet-Branch: main
//! Fleet-Summary: 3 peers: 1 fast-forwarded, 1 current, 1 blocked
//! Fleet-Peer: web-1 fast-forwarded 1a2b3c4d5e6f..3f2c1d0e9f8a on main, HEAD read back
//! Fleet-Runtime: web-1 reload=ok health=ok readback=ok
//! Fleet-Owed: web-1 none
//! Fleet-Peer: laptop dirty 1 change to tracked files (1 unstaged): README
//! Fleet-Runtime: laptop reload=out-of-scope health=out-of-scope readback=out-of-scope
//! Fleet-Owed: laptop none
//! ```
//!
//! `Fleet-Peer: <name> <outcome> <reason or proof>`; the outcome is `current`,
//! `fast-forwarded`, or the blocker (`dirty`, `diverged`, ...).
//! `Fleet-Owed: <name> <steps>|none`: the runtime steps the peer still owes
//! for this commit (a move owes them all; each is cleared when it passes).
//!
//! Write-ahead: before any peer is touched, a run appends a pending block
//! (`Fleet-State: pending`, every peer `pending`) with its `Fleet-Run` id;
//! the block with the results, same id, completes it. A run that cannot
//! write its pending block moves nothing; a pending block never completed
//! (the run was killed) tells `proof` the peers' state is unknown.

use super::fanout::report::{Blocker, Outcome, Owed, Report, Request, StepStatus, NOTES_REF};
use super::fanout::text::one_line;
use crate::error::Result;
use crate::receipts::{Receipt, ReceiptInput};
use crate::store::{notes, Actor, Store};
use gix::ObjectId;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// One peer's line (and runtime line) in a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeerRecord {
    pub name: String,
    /// `current`, `fast-forwarded`, or a blocker name, as recorded.
    pub outcome: String,
    pub reason: String,
    pub reload: Option<StepStatus>,
    pub health: Option<StepStatus>,
    pub readback: Option<StepStatus>,
    /// `Fleet-Owed`, when the block has it (older blocks do not).
    pub owed: Option<Owed>,
}

/// The outcome a pending block gives its peers.
pub const PENDING: &str = "pending";

impl PeerRecord {
    pub fn outcome(&self) -> Option<Outcome> {
        Outcome::parse(&self.outcome)
    }

    /// The steps still owed: as recorded, or for a block written before
    /// `Fleet-Owed` existed, the failed steps and those skipped because an
    /// earlier step failed. A pending block owes everything.
    pub fn owed(&self) -> Owed {
        owed_of(
            &self.outcome,
            self.owed,
            [self.reload, self.health, self.readback],
        )
    }
}

/// [`PeerRecord::owed`] from borrowed fields (a report read in place).
pub fn owed_of(outcome: &str, recorded: Option<Owed>, steps: [Option<StepStatus>; 3]) -> Owed {
    if outcome == PENDING {
        return Owed::all();
    }
    if let Some(owed) = recorded {
        return owed;
    }
    let runtime_failed = matches!(
        Outcome::parse(outcome),
        Some(Outcome::Blocked(
            Blocker::ReloadFailed | Blocker::HealthFailed | Blocker::ReadbackMismatch
        ))
    );
    let open = |s: Option<StepStatus>| match s {
        Some(StepStatus::Failed) => true,
        Some(StepStatus::Skipped) => runtime_failed,
        _ => false,
    };
    Owed {
        reload: open(steps[0]),
        health: open(steps[1]),
        readback: open(steps[2]),
    }
}

/// One fanout run as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    pub commit: String,
    pub run: String,
    pub time: String,
    pub actor: String,
    pub branch: String,
    /// A write-ahead block whose run has not (yet) recorded its results.
    pub pending: bool,
    pub peers: Vec<PeerRecord>,
}

/// The note block for `report`.
pub fn block(report: &Report, actor: &Actor, time: &str, run: &str) -> String {
    let mut lines = vec![
        format!("Fleet-Fanout: {}", report.commit),
        format!("Fleet-Run: {run}"),
        format!("Fleet-Time: {}", one_line(time)),
        format!(
            "Fleet-Actor: {} <{}>",
            one_line(&actor.name),
            one_line(&actor.email)
        ),
        format!("Fleet-Branch: {}", report.branch),
        format!("Fleet-Summary: {}", summary(report)),
    ];
    for p in &report.peers {
        lines.push(format!(
            "Fleet-Peer: {} {} {}",
            p.name,
            p.outcome.as_str(),
            one_line(&p.reason)
        ));
        lines.push(format!(
            "Fleet-Runtime: {} reload={} health={} readback={}",
            p.name,
            p.runtime.reload.status.as_str(),
            p.runtime.health.status.as_str(),
            p.runtime.readback.status.as_str()
        ));
        lines.push(format!("Fleet-Owed: {} {}", p.name, p.owed.as_text()));
    }
    lines.join("\n")
}

/// The write-ahead block of a run about to deliver `req`.
pub fn pending_block(req: &Request, actor: &Actor, time: &str, run: &str) -> String {
    let n = req.peers.len();
    let mut lines = vec![
        format!("Fleet-Fanout: {}", req.commit),
        format!("Fleet-Run: {run}"),
        "Fleet-State: pending".to_string(),
        format!("Fleet-Time: {}", one_line(time)),
        format!(
            "Fleet-Actor: {} <{}>",
            one_line(&actor.name),
            one_line(&actor.email)
        ),
        format!("Fleet-Branch: {}", req.branch),
        format!(
            "Fleet-Summary: {n} peer{}: delivery started, results not recorded yet",
            if n == 1 { "" } else { "s" }
        ),
    ];
    for p in &req.peers {
        lines.push(format!(
            "Fleet-Peer: {} {PENDING} fanout run {run} started at {} and has not recorded its result",
            p.name,
            one_line(time)
        ));
    }
    lines.join("\n")
}

/// Write the pending block of a run about to deliver `req` (before anything
/// moves). Returns the run id that [`append`] completes.
pub fn begin(store: &Store, req: &Request) -> Result<String> {
    let time = now();
    let run = run_id(req.commit, &time);
    let text = pending_block(req, &store.actor(), &time, &run);
    store.note_append(NOTES_REF, req.commit, &text)?;
    Ok(run)
}

fn now() -> String {
    gix::date::Time::now_utc().format_or_unix(gix::date::time::format::ISO8601_STRICT)
}

/// Each configured peer's steps still owed for `commit`, from its latest
/// record (peers without one owe nothing known).
pub fn owed_by_peer(
    store: &Store,
    commit: ObjectId,
) -> Result<std::collections::BTreeMap<String, Owed>> {
    let records = match store.note_read(NOTES_REF, commit)? {
        Some(note) => parse_note(&note),
        None => Vec::new(),
    };
    Ok(latest_by_peer(&records)
        .into_iter()
        .map(|(p, _)| (p.name.clone(), p.owed()))
        .collect())
}

/// `3 peers: 1 fast-forwarded, 1 current, 1 blocked`.
pub fn summary(report: &Report) -> String {
    let count = |f: &dyn Fn(Outcome) -> bool| report.peers.iter().filter(|p| f(p.outcome)).count();
    let ff = count(&|o| matches!(o, Outcome::FastForwarded | Outcome::WouldFastForward));
    let current = count(&|o| o == Outcome::Current);
    let blocked = count(&|o| o.is_blocked());
    let n = report.peers.len();
    format!(
        "{n} peer{}: {ff} {}, {current} current, {blocked} blocked",
        if n == 1 { "" } else { "s" },
        if report.dry_run {
            "would fast-forward"
        } else {
            "fast-forwarded"
        }
    )
}

/// Append the record of `report` to the note on its commit, completing the
/// pending block of `run` (from [`begin`]). Returns the block.
pub fn append(store: &Store, report: &Report, run: &str) -> Result<String> {
    let time = now();
    let text = block(report, &store.actor(), &time, run);
    store.note_append(NOTES_REF, report.commit, &text)?;
    Ok(text)
}

/// The receipt trailer that holds the sha256 (hex) of the fanout block a
/// `fanout` receipt attests; `receipts verify` checks the note still has it.
pub const RECORD_DIGEST: &str = "Fleet-Record";

/// The sha256 (hex) of a fanout block as stored in the note.
pub fn digest(block: &str) -> String {
    format!("{:x}", Sha256::digest(block.trim_matches('\n').as_bytes()))
}

/// The receipt of a recorded push-mode run: action `fanout` on the delivered
/// commit, the summary as its change, and the run id and digest of the block
/// [`append`] wrote, so the receipt log (hash-chained, signed when signing is
/// set up) attests the record and `receipts verify` catches an edited one.
pub fn receipt(store: &Store, report: &Report, run: &str, block: &str) -> Result<Receipt> {
    crate::receipts::append(
        store,
        &ReceiptInput {
            action: "fanout".into(),
            source_commit: report.commit,
            target: None,
            proposal: None,
            change: Some(summary(report)),
            policy: None,
            before: None,
            after: None,
            extra: vec![
                ("Fleet-Run".into(), run.into()),
                ("Fleet-Branch".into(), report.branch.clone()),
                (RECORD_DIGEST.into(), digest(block)),
            ],
        },
    )
}

/// A short id unique to this run (time, process, clock), so two runs with the
/// same results are still two blocks.
fn run_id(commit: ObjectId, time: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let digest = Sha256::digest(format!("{commit} {time} {} {nanos}", std::process::id()));
    format!("{digest:x}")[..12].to_string()
}

/// Every fanout record in a note, in the order they were appended; a
/// pending block whose run recorded its results is left out.
pub fn parse_note(note: &str) -> Vec<Record> {
    let all: Vec<Record> = notes::blocks(note)
        .into_iter()
        .filter_map(parse_block)
        .collect();
    let done: std::collections::HashSet<String> = all
        .iter()
        .filter(|r| !r.pending)
        .map(|r| r.run.clone())
        .collect();
    all.into_iter()
        .filter(|r| !(r.pending && done.contains(&r.run)))
        .collect()
}

fn parse_block(block: &str) -> Option<Record> {
    let mut record = Record {
        commit: String::new(),
        run: String::new(),
        time: String::new(),
        actor: String::new(),
        branch: String::new(),
        pending: false,
        peers: Vec::new(),
    };
    for line in block.lines() {
        let Some((key, value)) = line.split_once(": ") else {
            continue;
        };
        match key {
            "Fleet-Fanout" => record.commit = value.trim().to_string(),
            "Fleet-Run" => record.run = value.trim().to_string(),
            "Fleet-Time" => record.time = value.trim().to_string(),
            "Fleet-Actor" => record.actor = value.trim().to_string(),
            "Fleet-Branch" => record.branch = value.trim().to_string(),
            "Fleet-State" => record.pending = value.trim() == "pending",
            "Fleet-Owed" => {
                let (name, steps) = value.split_once(' ').unwrap_or((value, ""));
                if let Some(peer) = record.peers.iter_mut().rev().find(|p| p.name == name) {
                    peer.owed = Some(Owed::parse(steps));
                }
            }
            "Fleet-Peer" => {
                let mut parts = value.splitn(3, ' ');
                let (Some(name), Some(outcome)) = (parts.next(), parts.next()) else {
                    continue;
                };
                record.peers.push(PeerRecord {
                    name: name.to_string(),
                    outcome: outcome.to_string(),
                    reason: parts.next().unwrap_or("").to_string(),
                    reload: None,
                    health: None,
                    readback: None,
                    owed: None,
                });
            }
            "Fleet-Runtime" => {
                let mut parts = value.split(' ');
                let Some(name) = parts.next() else { continue };
                let Some(peer) = record.peers.iter_mut().rev().find(|p| p.name == name) else {
                    continue;
                };
                for part in parts {
                    if let Some((step, status)) = part.split_once('=') {
                        let status = StepStatus::parse(status);
                        match step {
                            "reload" => peer.reload = status,
                            "health" => peer.health = status,
                            "readback" => peer.readback = status,
                            _ => {}
                        }
                    }
                }
            }
            _ => {}
        }
    }
    (!record.commit.is_empty()).then_some(record)
}

/// Each peer's latest record: the last block naming it, by time then order.
pub fn latest_by_peer(records: &[Record]) -> Vec<(PeerRecord, Record)> {
    let mut order: Vec<&Record> = records.iter().collect();
    // Stable: blocks with equal times keep their appended order.
    order.sort_by(|a, b| a.time.cmp(&b.time));
    let mut latest: std::collections::BTreeMap<String, (PeerRecord, Record)> =
        std::collections::BTreeMap::new();
    for r in order {
        for p in &r.peers {
            let mut header = r.clone();
            header.peers.clear();
            latest.insert(p.name.clone(), (p.clone(), header));
        }
    }
    latest.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peers::fanout::{PeerReport, Runtime, Step};
    use std::time::Duration;

    #[test]
    fn blocks_round_trip() {
        let commit = ObjectId::from_hex(b"0123456789abcdef0123456789abcdef01234567").unwrap();
        let step = |s| Step {
            status: s,
            detail: None,
        };
        let report = Report {
            run: None,
            locks: Default::default(),
            commit,
            branch: "main".into(),
            dry_run: false,
            elapsed: Duration::ZERO,
            peers: vec![PeerReport {
                name: "web-1".into(),
                location: "/x".into(),
                branch: "main".into(),
                outcome: Outcome::Blocked(crate::peers::fanout::Blocker::Dirty),
                reason: "2 changes\nto tracked files".into(),
                before: None,
                after: None,
                runtime: Runtime {
                    reload: step(StepStatus::OutOfScope),
                    health: step(StepStatus::Skipped),
                    readback: step(StepStatus::Ok),
                },
                owed: Owed {
                    health: true,
                    ..Owed::default()
                },
                elapsed: Duration::ZERO,
            }],
        };
        let actor = Actor {
            name: "A".into(),
            email: "a@x".into(),
        };
        let b = block(&report, &actor, "2026-01-02T03:04:05+00:00", "run1");
        assert!(b.contains("Fleet-Peer: web-1 dirty 2 changes to tracked files\n"));
        let parsed = parse_note(&format!("{b}\n\n{}\n", b.replace("run1", "run2")));
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].peers[0].outcome, "dirty");
        assert_eq!(parsed[0].peers[0].health, Some(StepStatus::Skipped));
        assert_eq!(parsed[0].peers[0].readback, Some(StepStatus::Ok));
        let latest = latest_by_peer(&parsed);
        assert_eq!(latest.len(), 1);
        assert_eq!(latest[0].1.run, "run2");
        assert_eq!(latest[0].0.owed(), parsed[0].peers[0].owed.unwrap());
        assert!(parsed[0].peers[0].owed.unwrap().health);
    }
}
