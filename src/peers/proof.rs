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

/// One peer to judge: its name (None: the report's), whether declared, and
/// where its push record (in `latest`) and pull report (in the reports) are.
type Judged<'a> = (Option<&'a str>, bool, Option<usize>, Option<usize>);

/// Build the closeout of `commit`. `exists_locally` is false when the caller
/// was given an id this repository does not have.
pub fn prove(
    store: &Store,
    commit: ObjectId,
    exists_locally: bool,
    remote: Option<&str>,
    peers: &[Peer],
) -> Result<Proof> {
    let mut out = Vec::new();
    let mut proof = prove_each(store, commit, exists_locally, remote, peers, &mut |_, p| {
        out.push(p)
    })?;
    proof.peers = out;
    Ok(proof)
}

/// [`prove`], handing each peer's standing to `each` (with the width of the
/// longest peer name, for aligned output) in output order instead of keeping
/// them: the returned proof's `peers` is empty. Thousands of agents report,
/// and a standing not kept is memory never touched.
pub fn prove_each(
    store: &Store,
    commit: ObjectId,
    exists_locally: bool,
    remote: Option<&str>,
    peers: &[Peer],
    each: &mut dyn FnMut(usize, PeerProof),
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
    let report_count = reports.len();
    // Both lists are sorted by peer name: look-ups are binary searches and
    // the undeclared peers one merge (thousands of agents report).
    let pull_at = |name: &str| reports.binary_search_by(|r| r.peer.as_str().cmp(name)).ok();
    let push_at = |name: &str| {
        latest
            .binary_search_by(|(p, _)| p.name.as_str().cmp(name))
            .ok()
    };
    // Who is judged, in output order: declared peers, then the others by name.
    // `None` as a name: the report's own (moved out of it, not copied).
    let mut plan: Vec<Judged> = Vec::new();
    for peer in peers {
        let name = peer.name.as_str();
        plan.push((Some(name), true, push_at(name), pull_at(name)));
    }
    let declared: std::collections::HashSet<&str> = peers.iter().map(|p| p.name.as_str()).collect();
    let (mut i, mut j) = (0, 0);
    loop {
        let a = latest.get(i).map(|(p, _)| p.name.as_str());
        let b = reports.get(j).map(|r| r.peer.as_str());
        let (name, push, pull) = match (a, b) {
            (None, None) => break,
            (Some(a), Some(b)) if a == b => {
                (i, j) = (i + 1, j + 1);
                (Some(a), Some(i - 1), Some(j - 1))
            }
            (Some(a), b) if b.is_none_or(|b| a < b) => {
                i += 1;
                (Some(a), Some(i - 1), None)
            }
            _ => {
                j += 1;
                (None, None, Some(j - 1))
            }
        };
        if !declared.contains(name.unwrap_or_else(|| reports[j - 1].peer.as_str())) {
            plan.push((name, false, push, pull));
        }
    }
    let width = plan
        .iter()
        .map(|(name, _, _, pull)| match (name, pull) {
            (Some(n), _) => n.len(),
            (None, Some(k)) => reports[*k].peer.len(),
            (None, None) => 0,
        })
        .max()
        .unwrap_or(0);
    let mut pulled: Vec<Option<PullReport>> = reports.into_iter().map(Some).collect();
    // Many peers report the same commit: one ancestry walk per commit.
    let mut contains: std::collections::HashMap<ObjectId, bool> = Default::default();
    for (name, configured, push, pull) in plan {
        let pushed = push.map(|k| &latest[k]);
        let pull = pull.and_then(|k| pulled[k].take());
        let proof = match (pushed, pull) {
            // The later evidence wins; on a tie, the push record.
            (Some(push), Some(pull)) if pull.record.time > push.1.time => {
                pull_proof(store, commit, configured, pull, &mut contains)
            }
            (None, Some(pull)) => pull_proof(store, commit, configured, pull, &mut contains),
            (push, pull) => {
                let name = name
                    .or(pull.as_ref().map(|p| p.peer.as_str()))
                    .unwrap_or_default();
                peer_proof(name, configured, push)
            }
        };
        // Undeclared peers count when they report themselves (pull mode).
        if !proof.ok && (configured || proof.mode == "pull") {
            missing.push(format!("peer {}: {}", proof.name, proof.detail));
        }
        each(width, proof);
    }
    Ok(Proof {
        commit: commit.to_string(),
        exists_locally,
        remote: remote_check,
        peers: Vec::new(),
        runs: records.len(),
        reports: report_count,
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

/// A peer's standing from its own latest report (pull mode). `contains`
/// remembers, per reported commit, whether it contains `commit`.
fn pull_proof(
    store: &Store,
    commit: ObjectId,
    configured: bool,
    pull: PullReport,
    contains: &mut std::collections::HashMap<ObjectId, bool>,
) -> PeerProof {
    let PullReport {
        peer: name,
        id,
        record,
        head,
        agent,
        ..
    } = pull;
    let Some(rec) = record.peers.into_iter().next() else {
        // Never built without its peer line; judged as no evidence.
        return peer_proof(&name, configured, None);
    };
    let reported = ObjectId::from_hex(record.commit.as_bytes()).ok();
    let head = head
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
    let mut contains = |c: Option<ObjectId>| {
        c.is_some_and(|c| {
            c == commit
                || *contains
                    .entry(c)
                    .or_insert_with(|| store.is_ancestor(commit, c).unwrap_or(false))
        })
    };
    let covers = contains(reported) || (delivered && contains(head));
    let ok = delivered && runtime_ok && owed.is_empty() && covers;
    let at = short_hex(&record.commit);
    let detail = if ok {
        format!("{} at {at}; {}", rec.outcome, runtime_text(&rec))
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
        name,
        configured,
        record: Some(rec),
        recorded_at: Some(record.time),
        recorded_by: Some(record.actor),
        ok,
        detail,
        mode: "pull",
        report: Some(id),
        agent,
    }
}

fn short_hex(s: &str) -> &str {
    &s[..s.len().min(12)]
}

/// `reloaded, healthy, read back` or `reload out of scope, ...`.
pub fn runtime_text(rec: &PeerRecord) -> String {
    // One string per peer, built in place (thousands of peers).
    let mut text = String::with_capacity(48);
    let steps = [
        ("reload", "reloaded", rec.reload),
        ("health", "healthy", rec.health),
        ("readback", "read back", rec.readback),
    ];
    for (i, (step, done, s)) in steps.into_iter().enumerate() {
        if i > 0 {
            text.push_str(", ");
        }
        match s {
            Some(StepStatus::Ok) => text.push_str(done),
            Some(StepStatus::OutOfScope) | None => {
                text.push_str(step);
                text.push_str(" out of scope");
            }
            Some(StepStatus::Skipped) => {
                text.push_str(step);
                text.push_str(" not run");
            }
            Some(StepStatus::Failed) => {
                text.push_str(step);
                text.push_str(" failed");
            }
        }
    }
    text
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
