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

use super::agent::{read_reports, ReportView, Reports};
use super::config::Peer;
use super::fanout::quoted;
use super::fanout::{Outcome, StepStatus, NOTES_REF};
use super::record::{latest_by_peer, owed_of, parse_note, PeerRecord, Record, PENDING};
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

/// Everything a proof of one commit reads, gathered once: the remote check,
/// the fanout notes on the commit (push mode) and every agent's latest
/// report (pull mode). [`Evidence::judge`] then decides peer by peer.
pub struct Evidence<'s> {
    store: &'s Store,
    commit: ObjectId,
    exists_locally: bool,
    remote: RemoteCheck,
    /// Runs recorded for this commit.
    runs: usize,
    latest: Vec<(PeerRecord, Record)>,
    reports: Reports,
}

/// One peer's standing, borrowed from its evidence: text output writes it
/// without a copy ([`Standing::to_proof`] makes the owned [`PeerProof`]).
pub struct Standing<'a> {
    pub name: &'a str,
    /// Still declared in fleet.toml or the local file.
    pub configured: bool,
    pub ok: bool,
    /// `push`, `pull` or `none`, as [`PeerProof::mode`].
    pub mode: &'static str,
    evidence: Seen<'a>,
}

enum Seen<'a> {
    Nothing,
    Push {
        rec: &'a PeerRecord,
        run: &'a Record,
        delivered: bool,
    },
    Pull {
        report: ReportView<'a>,
        commit: ObjectId,
        covers: bool,
        delivered: bool,
    },
}

/// Gather what a proof of `commit` reads. `exists_locally` is false when the
/// caller was given an id this repository does not have.
pub fn gather<'s>(
    store: &'s Store,
    commit: ObjectId,
    exists_locally: bool,
    remote: Option<&str>,
) -> Result<Evidence<'s>> {
    let remote = remote_check(store, commit, exists_locally, remote)?;
    let records: Vec<Record> = match store.note_read(NOTES_REF, commit)? {
        Some(note) => parse_note(&note),
        None => Vec::new(),
    };
    let latest = latest_by_peer(&records);
    let reports = read_reports(store)?;
    Ok(Evidence {
        store,
        commit,
        exists_locally,
        remote,
        runs: records.len(),
        latest,
        reports,
    })
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
    let evidence = gather(store, commit, exists_locally, remote)?;
    let mut out = Vec::new();
    let mut proof = evidence.judge(peers, &mut |_, s| out.push(s.to_proof()));
    proof.peers = out;
    Ok(proof)
}

impl Evidence<'_> {
    pub fn commit(&self) -> ObjectId {
        self.commit
    }

    pub fn exists_locally(&self) -> bool {
        self.exists_locally
    }

    pub fn remote(&self) -> &RemoteCheck {
        &self.remote
    }

    /// Judge every peer, handing each standing to `each` (with the width of
    /// the longest peer name, for aligned output) in output order: declared
    /// peers, then the others by name. The returned proof's `peers` is
    /// empty: thousands of agents report, and a standing not kept is memory
    /// never touched.
    pub fn judge(&self, peers: &[Peer], each: &mut dyn FnMut(usize, &Standing<'_>)) -> Proof {
        let mut missing = Vec::new();
        if !self.exists_locally {
            missing.push(format!("{} does not exist in this repository", self.commit));
        }
        if !self.remote.ok {
            missing.push(self.remote.detail.clone());
        }
        let (latest, reports) = (&self.latest, &self.reports);
        // Both lists are sorted by peer name: look-ups are binary searches
        // and the undeclared peers one merge.
        let push_at = |name: &str| {
            latest
                .binary_search_by(|(p, _)| p.name.as_str().cmp(name))
                .ok()
        };
        let width = peers
            .iter()
            .map(|p| p.name.len())
            .chain(latest.iter().map(|(p, _)| p.name.len()))
            .chain((0..reports.len()).map(|k| reports.peer(k).len()))
            .max()
            .unwrap_or(0);
        // Many peers report the same commit: one ancestry walk per commit.
        let mut contains: std::collections::HashMap<ObjectId, bool> = Default::default();
        let mut one = |name: &str, configured: bool, push: Option<usize>, pull: Option<usize>| {
            let pushed = push.map(|k| &latest[k]);
            let pull = pull.and_then(|k| reports.get(k));
            let standing = match (pushed, pull) {
                // The later evidence wins; on a tie, the push record.
                (Some(push), Some(pull)) if pull.time > push.1.time.as_str() => {
                    self.pull_standing(configured, pull, &mut contains)
                }
                (None, Some(pull)) => self.pull_standing(configured, pull, &mut contains),
                (push, _) => push_standing(name, configured, push),
            };
            // Undeclared peers count when they report themselves (pull mode).
            if !standing.ok && (configured || standing.mode == "pull") {
                missing.push(format!("peer {}: {}", standing.name, standing.detail()));
            }
            each(width, &standing);
        };
        for peer in peers {
            let name = peer.name.as_str();
            one(name, true, push_at(name), reports.find(name));
        }
        let declared: std::collections::HashSet<&str> =
            peers.iter().map(|p| p.name.as_str()).collect();
        let (mut i, mut j) = (0, 0);
        loop {
            let a = latest.get(i).map(|(p, _)| p.name.as_str());
            let b = (j < reports.len()).then(|| reports.peer(j));
            let (name, push, pull) = match (a, b) {
                (None, None) => break,
                (Some(a), Some(b)) if a == b => {
                    (i, j) = (i + 1, j + 1);
                    (a, Some(i - 1), Some(j - 1))
                }
                (Some(a), b) if b.is_none_or(|b| a < b) => {
                    i += 1;
                    (a, Some(i - 1), None)
                }
                (_, b) => {
                    j += 1;
                    (b.unwrap_or_default(), None, Some(j - 1))
                }
            };
            if !declared.contains(name) {
                one(name, false, push, pull);
            }
        }
        Proof {
            commit: self.commit.to_string(),
            exists_locally: self.exists_locally,
            remote: self.remote.clone(),
            peers: Vec::new(),
            runs: self.runs,
            reports: reports.len(),
            complete: missing.is_empty(),
            missing,
        }
    }

    /// A peer's standing from its own latest report (pull mode). `contains`
    /// remembers, per reported commit, whether it contains the commit.
    fn pull_standing<'a>(
        &self,
        configured: bool,
        report: ReportView<'a>,
        contains: &mut std::collections::HashMap<ObjectId, bool>,
    ) -> Standing<'a> {
        let commit = self.commit;
        let reported = ObjectId::from_hex(report.commit.as_bytes()).ok();
        let head = report
            .head
            .and_then(|h| ObjectId::from_hex(h.as_bytes()).ok());
        let delivered = matches!(
            Outcome::parse(report.outcome),
            Some(Outcome::Current) | Some(Outcome::FastForwarded)
        );
        let steps = [report.reload, report.health, report.readback];
        let runtime_ok = steps.iter().all(|s| !matches!(s, Some(StepStatus::Failed)));
        let owed = owed_of(report.outcome, report.owed, steps);
        // The report is about the tip its agent fetched: it proves `commit`
        // when that tip (or the HEAD it reported) contains it.
        let mut contains = |c: Option<ObjectId>| {
            c.is_some_and(|c| {
                c == commit
                    || *contains
                        .entry(c)
                        .or_insert_with(|| self.store.is_ancestor(commit, c).unwrap_or(false))
            })
        };
        let covers = contains(reported) || (delivered && contains(head));
        Standing {
            name: report.peer,
            configured,
            ok: delivered && runtime_ok && owed.is_empty() && covers,
            mode: "pull",
            evidence: Seen::Pull {
                report,
                commit,
                covers,
                delivered,
            },
        }
    }
}

fn push_standing<'a>(
    name: &'a str,
    configured: bool,
    found: Option<&'a (PeerRecord, Record)>,
) -> Standing<'a> {
    let Some((rec, run)) = found else {
        return Standing {
            name,
            configured,
            ok: false,
            mode: "none",
            evidence: Seen::Nothing,
        };
    };
    let delivered = matches!(
        rec.outcome(),
        Some(Outcome::Current) | Some(Outcome::FastForwarded)
    );
    let runtime_ok = [rec.reload, rec.health, rec.readback]
        .iter()
        .all(|s| !matches!(s, Some(StepStatus::Failed)));
    Standing {
        name,
        configured,
        ok: delivered && runtime_ok && rec.owed().is_empty(),
        mode: "push",
        evidence: Seen::Push {
            rec,
            run,
            delivered,
        },
    }
}

impl Standing<'_> {
    /// The recorded outcome (`current`, `fast-forwarded`, a blocker), if any.
    pub fn outcome(&self) -> Option<&str> {
        match &self.evidence {
            Seen::Nothing => None,
            Seen::Push { rec, .. } => Some(&rec.outcome),
            Seen::Pull { report, .. } => Some(report.outcome),
        }
    }

    /// The reload, health and readback steps as recorded.
    pub fn steps(&self) -> [Option<StepStatus>; 3] {
        match &self.evidence {
            Seen::Nothing => [None; 3],
            Seen::Push { rec, .. } => [rec.reload, rec.health, rec.readback],
            Seen::Pull { report, .. } => [report.reload, report.health, report.readback],
        }
    }

    /// When and by whom the evidence was written.
    pub fn recorded(&self) -> Option<(&str, &str)> {
        match &self.evidence {
            Seen::Nothing => None,
            Seen::Push { run, .. } => Some((&run.time, &run.actor)),
            Seen::Pull { report, .. } => Some((report.time, report.actor)),
        }
    }

    /// One line for people.
    pub fn detail(&self) -> String {
        match &self.evidence {
            Seen::Nothing => "no fanout recorded for this commit (and no agent report)".into(),
            Seen::Push {
                rec,
                run,
                delivered,
            } => push_detail(self.name, self.ok, rec, run, *delivered),
            Seen::Pull {
                report,
                commit,
                covers,
                delivered,
            } => pull_detail(self.ok, report, *commit, *covers, *delivered),
        }
    }

    /// The owned standing, as `--json` prints it.
    pub fn to_proof(&self) -> PeerProof {
        let (record, report, agent) = match &self.evidence {
            Seen::Nothing => (None, None, None),
            Seen::Push { rec, .. } => (Some((*rec).clone()), None, None),
            Seen::Pull { report, .. } => (
                Some(report.peer_record()),
                Some(report.id.to_string()),
                report.agent.map(str::to_string),
            ),
        };
        let recorded = self.recorded();
        PeerProof {
            name: self.name.to_string(),
            configured: self.configured,
            record,
            recorded_at: recorded.map(|(t, _)| t.to_string()),
            recorded_by: recorded.map(|(_, a)| a.to_string()),
            ok: self.ok,
            detail: self.detail(),
            mode: self.mode,
            report,
            agent,
        }
    }
}

fn push_detail(name: &str, ok: bool, rec: &PeerRecord, run: &Record, delivered: bool) -> String {
    let owed = rec.owed();
    // A pasteable command: every value from the record is shell-quoted.
    let again = format!(
        "git fleet fanout --commit {} --peer {}",
        quoted(&run.commit),
        quoted(name)
    );
    if ok {
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
    }
}

fn pull_detail(
    ok: bool,
    r: &ReportView<'_>,
    commit: ObjectId,
    covers: bool,
    delivered: bool,
) -> String {
    let steps = [r.reload, r.health, r.readback];
    let owed = owed_of(r.outcome, r.owed, steps);
    let at = short_hex(r.commit);
    if ok {
        let mut text = format!("{} at {at}; ", r.outcome);
        write_runtime(&mut text, steps);
        text
    } else if !covers && delivered {
        format!(
            "its agent last reported {} at {at}, which does not contain {}: not delivered yet (the agent's next run fetches it)",
            r.outcome,
            short_hex(&commit.to_string())
        )
    } else if !owed.is_empty() {
        format!(
            "{} at {at}: {}; still owed: {} (the agent's next run runs {} again)",
            r.outcome,
            r.reason,
            owed.names().join(", "),
            it_or_them(owed.names().len())
        )
    } else {
        format!("{} at {at}: {}", r.outcome, r.reason)
    }
}

fn short_hex(s: &str) -> &str {
    &s[..s.len().min(12)]
}

/// `reloaded, healthy, read back` or `reload out of scope, ...`.
pub fn runtime_text(rec: &PeerRecord) -> String {
    let mut text = String::with_capacity(48);
    write_runtime(&mut text, [rec.reload, rec.health, rec.readback]);
    text
}

/// [`runtime_text`] of reload, health and readback, written in place
/// (thousands of peers, no string each).
pub fn write_runtime(text: &mut String, steps: [Option<StepStatus>; 3]) {
    let names = [
        ("reload", "reloaded"),
        ("health", "healthy"),
        ("readback", "read back"),
    ];
    for (i, ((step, done), s)) in names.into_iter().zip(steps).enumerate() {
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
