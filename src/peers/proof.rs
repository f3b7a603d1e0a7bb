//! The delivery closeout of one commit: it exists here, the remote has it,
//! every peer is current (or listed with its blocker), and each runtime
//! surface was reloaded, checked and read back, or is explicitly out of scope.
//!
//! A peer is ok only when its latest record says it is at the commit (or at
//! its remote branch's tip, which contains it), owes no runtime step (every
//! step after its last move has passed, readback included), and that record
//! is complete (a run killed after its write-ahead block proves nothing).
//!
//! Evidence comes in two modes: push (fanout notes on the commit) and pull
//! (each agent's latest report, [`super::agent::read_reports`]). Per peer the
//! later of the two wins, and the proof says which mode it came from. Every
//! peer that reports counts, declared or not (agents are not listed in
//! fleet.toml); a report is about the tip its agent fetched, so it proves a
//! commit that tip (or the peer's HEAD) contains.

use super::agent::{read_reports, PullReport};
use super::config::Peer;
use super::fanout::quoted;
use super::fanout::{Outcome, StepStatus, NOTES_REF};
use super::record::{latest_by_peer, parse_note, PeerRecord, Record, PENDING};
use crate::error::Result;
use crate::store::Store;
use gix::ObjectId;
use serde::Serialize;

/// Whether the remote has the commit.
#[derive(Debug, Clone, Serialize)]
pub struct RemoteCheck {
    /// The remote looked at (`origin`, else the only remote), if any.
    pub remote: Option<String>,
    /// Remote-tracking branches that contain the commit (`origin/main`).
    pub containing: Vec<String>,
    pub ok: bool,
    pub detail: String,
}

/// One peer's standing.
#[derive(Debug, Clone, Serialize)]
pub struct PeerProof {
    pub name: String,
    /// Still declared in fleet.toml or the local file.
    pub configured: bool,
    /// The latest recorded outcome for this commit, if any.
    pub record: Option<PeerRecord>,
    /// When and by whom that record was written.
    pub recorded_at: Option<String>,
    pub recorded_by: Option<String>,
    pub ok: bool,
    /// One line for people.
    pub detail: String,
    /// Where the evidence came from: `push` (a fanout note), `pull` (the
    /// peer's own report), or `none`.
    pub mode: &'static str,
    /// Pull mode: the report commit and the agent that wrote it.
    pub report: Option<String>,
    pub agent: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Proof {
    pub commit: String,
    pub exists_locally: bool,
    pub remote: RemoteCheck,
    pub peers: Vec<PeerProof>,
    /// Runs recorded for this commit.
    pub runs: usize,
    /// Pull-mode reports read (each peer's latest).
    pub reports: usize,
    pub complete: bool,
    /// Why not complete, one line each.
    pub missing: Vec<String>,
}

/// Build the closeout of `commit`. `exists_locally` is false when the caller
/// was given an id this repository does not have.
pub fn prove(
    store: &Store,
    commit: ObjectId,
    exists_locally: bool,
    remote: Option<&str>,
    peers: &[Peer],
) -> Result<Proof> {
    let mut missing = Vec::new();
    if !exists_locally {
        missing.push(format!("{commit} does not exist in this repository"));
    }
    let remote_check = remote_check(store, commit, exists_locally, remote)?;
    if !remote_check.ok {
        missing.push(remote_check.detail.clone());
    }
    let records: Vec<Record> = match store.note_read(NOTES_REF, commit)? {
        Some(note) => parse_note(&note),
        None => Vec::new(),
    };
    let latest = latest_by_peer(&records);
    let reports = read_reports(store)?;
    let pulled: std::collections::HashMap<&str, &PullReport> =
        reports.iter().map(|r| (r.peer.as_str(), r)).collect();
    let mut out = Vec::new();
    let mut judge = |name: &str, configured: bool| {
        let pushed = latest.iter().find(|(p, _)| p.name == name);
        let proof = match (pushed, pulled.get(name)) {
            // The later evidence wins; on a tie, the push record.
            (Some(push), Some(pull)) if pull.record.time > push.1.time => {
                pull_proof(store, commit, name, configured, pull)
            }
            (None, Some(pull)) => pull_proof(store, commit, name, configured, pull),
            (push, _) => peer_proof(name, configured, push),
        };
        // Undeclared peers count when they report themselves (pull mode).
        if !proof.ok && (configured || proof.mode == "pull") {
            missing.push(format!("peer {name}: {}", proof.detail));
        }
        out.push(proof);
    };
    for peer in peers {
        judge(&peer.name, true);
    }
    let mut others: std::collections::BTreeSet<&str> =
        latest.iter().map(|(p, _)| p.name.as_str()).collect();
    others.extend(pulled.keys().copied());
    for name in others {
        if !peers.iter().any(|peer| peer.name == name) {
            judge(name, false);
        }
    }
    Ok(Proof {
        commit: commit.to_string(),
        exists_locally,
        remote: remote_check,
        peers: out,
        runs: records.len(),
        reports: reports.len(),
        complete: missing.is_empty(),
        missing,
    })
}

fn peer_proof(name: &str, configured: bool, found: Option<&(PeerRecord, Record)>) -> PeerProof {
    let Some((rec, run)) = found else {
        return PeerProof {
            name: name.to_string(),
            configured,
            record: None,
            recorded_at: None,
            recorded_by: None,
            ok: false,
            detail: "no fanout recorded for this commit (and no agent report)".into(),
            mode: "none",
            report: None,
            agent: None,
        };
    };
    let delivered = matches!(
        rec.outcome(),
        Some(Outcome::Current) | Some(Outcome::FastForwarded)
    );
    let runtime_ok = [rec.reload, rec.health, rec.readback]
        .iter()
        .all(|s| !matches!(s, Some(StepStatus::Failed)));
    let owed = rec.owed();
    let ok = delivered && runtime_ok && owed.is_empty();
    // A pasteable command: every value from the record is shell-quoted.
    let again = format!(
        "git fleet fanout --commit {} --peer {}",
        quoted(&run.commit),
        quoted(name)
    );
    let detail = if ok {
        format!("{}; {}", rec.outcome, runtime_text(rec))
    } else if rec.outcome == PENDING {
        format!(
            "fanout run {} started at {} and never completed its record (killed, or it could not write): the peer may have moved; run {again}",
            run.run, run.time
        )
    } else if delivered {
        format!(
            "{}, but {} still owed: {}; the next fanout runs {} ({again})",
            rec.outcome,
            owed.names().join(", "),
            runtime_text(rec),
            it_or_them(owed.names().len())
        )
    } else if !owed.is_empty() {
        format!(
            "{}: {}; still owed: {} (the next fanout runs {} again: {again})",
            rec.outcome,
            rec.reason,
            owed.names().join(", "),
            it_or_them(owed.names().len())
        )
    } else {
        format!("{}: {}", rec.outcome, rec.reason)
    };
    PeerProof {
        name: name.to_string(),
        configured,
        record: Some(rec.clone()),
        recorded_at: Some(run.time.clone()),
        recorded_by: Some(run.actor.clone()),
        ok,
        detail,
        mode: "push",
        report: None,
        agent: None,
    }
}

/// A peer's standing from its own latest report (pull mode).
fn pull_proof(
    store: &Store,
    commit: ObjectId,
    name: &str,
    configured: bool,
    pull: &PullReport,
) -> PeerProof {
    let rec = &pull.record.peers[0];
    let reported = ObjectId::from_hex(pull.record.commit.as_bytes()).ok();
    let head = pull
        .head
        .as_deref()
        .and_then(|h| ObjectId::from_hex(h.as_bytes()).ok());
    let delivered = matches!(
        rec.outcome(),
        Some(Outcome::Current) | Some(Outcome::FastForwarded)
    );
    let runtime_ok = [rec.reload, rec.health, rec.readback]
        .iter()
        .all(|s| !matches!(s, Some(StepStatus::Failed)));
    let owed = rec.owed();
    // The report is about the tip its agent fetched: it proves `commit`
    // when that tip (or the HEAD it reported) contains it.
    let contains = |c: Option<ObjectId>| {
        c.is_some_and(|c| c == commit || store.is_ancestor(commit, c).unwrap_or(false))
    };
    let covers = contains(reported) || (delivered && contains(head));
    let ok = delivered && runtime_ok && owed.is_empty() && covers;
    let at = short_hex(&pull.record.commit);
    let detail = if ok {
        format!("{} at {at}; {}", rec.outcome, runtime_text(rec))
    } else if !covers && delivered {
        format!(
            "its agent last reported {} at {at}, which does not contain {}: not delivered yet (the agent's next run fetches it)",
            rec.outcome,
            short_hex(&commit.to_string())
        )
    } else if !owed.is_empty() {
        format!(
            "{} at {at}: {}; still owed: {} (the agent's next run runs {} again)",
            rec.outcome,
            rec.reason,
            owed.names().join(", "),
            it_or_them(owed.names().len())
        )
    } else {
        format!("{} at {at}: {}", rec.outcome, rec.reason)
    };
    PeerProof {
        name: name.to_string(),
        configured,
        record: Some(rec.clone()),
        recorded_at: Some(pull.record.time.clone()),
        recorded_by: Some(pull.record.actor.clone()),
        ok,
        detail,
        mode: "pull",
        report: Some(pull.id.clone()),
        agent: pull.agent.clone(),
    }
}

fn short_hex(s: &str) -> &str {
    &s[..s.len().min(12)]
}

/// `reloaded, healthy, read back` or `reload out of scope, ...`.
pub fn runtime_text(rec: &PeerRecord) -> String {
    let word = |step: &str, done: &str, s: Option<StepStatus>| match s {
        Some(StepStatus::Ok) => done.to_string(),
        Some(StepStatus::OutOfScope) | None => format!("{step} out of scope"),
        Some(StepStatus::Skipped) => format!("{step} not run"),
        Some(StepStatus::Failed) => format!("{step} failed"),
    };
    [
        word("reload", "reloaded", rec.reload),
        word("health", "healthy", rec.health),
        word("readback", "read back", rec.readback),
    ]
    .join(", ")
}

fn remote_check(
    store: &Store,
    commit: ObjectId,
    exists_locally: bool,
    remote: Option<&str>,
) -> Result<RemoteCheck> {
    let Some(remote) = remote else {
        return Ok(RemoteCheck {
            remote: None,
            containing: Vec::new(),
            ok: false,
            detail: "no remote to check (add origin)".into(),
        });
    };
    let prefix = format!("refs/remotes/{remote}/");
    let mut containing = Vec::new();
    let mut tracking = 0;
    if exists_locally {
        let repo = store.repo();
        for name in store.refs_under(&prefix)? {
            if name.ends_with("/HEAD") {
                continue;
            }
            let Some(tip) = store.resolve(&name)? else {
                continue;
            };
            tracking += 1;
            let contains = tip == commit
                || matches!(repo.merge_base(commit, tip), Ok(Some(base)) if base.detach() == commit);
            if contains {
                containing.push(name["refs/remotes/".len()..].to_string());
            }
        }
    }
    let ok = !containing.is_empty();
    let detail = if ok {
        format!("{remote} has it ({})", containing.join(", "))
    } else if !exists_locally {
        format!("{remote}: cannot tell for a commit this repository does not have")
    } else if tracking == 0 {
        format!(
            "{remote} has no remote-tracking branches here (git fetch {}?)",
            quoted(remote)
        )
    } else {
        format!(
            "no {remote}/* branch contains it (push it, or git fetch {})",
            quoted(remote)
        )
    };
    Ok(RemoteCheck {
        remote: Some(remote.to_string()),
        containing,
        ok,
        detail,
    })
}

/// "it" for one owed step, "them" for several.
fn it_or_them(n: usize) -> &'static str {
    if n == 1 {
        "it"
    } else {
        "them"
    }
}
