//! One peer's delivery, start to end: lock, checks, move, runtime proof.
use super::checks::Ancestry;
use super::hosts::PeerCtx;
use super::report::{Blocker, Outcome, Owed, PeerReport, Request, Runtime, Stage};
use super::run::{blocked, PeerRun, Stop};
use super::text::{one_line, shell_error_text, short};
use crate::peers::config::{Location, Peer};
use std::time::{Duration, Instant};

pub(super) fn deliver(
    repo: &gix::Repository,
    req: &Request,
    peer: &Peer,
    ctx: &PeerCtx<'_>,
    stage: &dyn Fn(Stage),
) -> PeerReport {
    let (hosts, connector) = (ctx.hosts, ctx.connector);
    let start = Instant::now();
    let branch = peer.branch.clone().unwrap_or_else(|| req.branch.clone());
    let mut report = PeerReport {
        name: peer.name.clone(),
        location: peer.location_text.clone(),
        branch: branch.clone(),
        outcome: Outcome::Blocked(Blocker::Unreachable),
        reason: String::new(),
        before: None,
        after: None,
        runtime: Runtime::for_peer(peer),
        owed: ctx.owed.and(Owed::declared(peer)),
        elapsed: Duration::ZERO,
    };
    if let Some(why) = &ctx.busy {
        report.outcome = Outcome::Blocked(Blocker::Busy);
        report.reason = why.clone();
        return report;
    }
    if matches!(peer.location, Location::Ssh(_)) {
        stage(Stage::Connecting);
    }
    let shell = match hosts.shell(&peer.location, &req.ssh, connector) {
        Ok(shell) => shell,
        Err(e) => {
            report.reason = one_line(&shell_error_text(&e));
            report.elapsed = start.elapsed();
            return report;
        }
    };
    let dir = match &peer.location {
        Location::Local(p) => p.display().to_string(),
        Location::Ssh(s) => s.path.clone(),
    };
    let run = PeerRun {
        repo,
        req,
        peer,
        shell,
        dir,
        branch,
        local: std::cell::OnceCell::new(),
        head_seen: std::cell::Cell::new(None),
        owed_before: ctx.owed.and(Owed::declared(peer)),
        moved: std::cell::Cell::new(false),
        runtime_ran: std::cell::Cell::new(false),
        tip: std::cell::OnceCell::new(),
    };
    let Stop(outcome, reason) = match run.deliver(&mut report, stage) {
        Ok(stop) | Err(stop) => stop,
    };
    report.owed = run.owed_after(&report.runtime);
    report.before = report.before.or(run.head_seen.get());
    report.outcome = outcome;
    report.reason = one_line(&reason);
    report.elapsed = start.elapsed();
    report
}

/// The key of a peer's fanout lock: its location, as precisely as known.
pub(super) fn lock_key(peer: &Peer) -> String {
    match &peer.location {
        Location::Local(p) => {
            let p = p.canonicalize().unwrap_or_else(|_| p.clone());
            format!("local {}", p.display())
        }
        Location::Ssh(s) => format!("ssh {} {}", s.authority(), s.path),
    }
}

impl PeerRun<'_> {
    /// The whole delivery; `Ok` and `Err` both carry the final outcome.
    pub(super) fn deliver(
        &self,
        report: &mut PeerReport,
        stage: &dyn Fn(Stage),
    ) -> std::result::Result<Stop, Stop> {
        stage(Stage::Checking);
        let probe = self.probe()?;
        report.before = Some(probe.head);
        report.after = Some(probe.head);
        let commit = self.req.commit;
        let short_c = short(commit);
        let target = match self.ancestry(probe.head)? {
            Ancestry::Equal => {
                self.runtime(report, probe.head, false, stage)?;
                let again = if self.owed_before.reload && !self.req.dry_run {
                    "; the owed reload ran again"
                } else {
                    ""
                };
                return Ok(Stop(
                    Outcome::Current,
                    format!("already at {short_c} on {}{again}", self.branch),
                ));
            }
            Ancestry::Ahead => {
                // At its remote branch's tip, which holds the commit: the
                // commit is delivered; nothing to push, nothing to move.
                if matches!(self.remote_tip(), Ok(Some(tip)) if tip == probe.head) {
                    self.runtime(report, probe.head, false, stage)?;
                    return Ok(Stop(
                        Outcome::Current,
                        format!(
                            "at {} on {}, the tip of {}/{}, which contains {short_c}",
                            short(probe.head),
                            self.branch,
                            self.peer.remote,
                            self.branch
                        ),
                    ));
                }
                return Err(blocked(
                    Blocker::Ahead,
                    format!(
                        "HEAD {} has commits after {short_c}; push them or deliver a newer commit",
                        short(probe.head)
                    ),
                ));
            }
            Ancestry::Diverged => {
                return Err(blocked(
                    Blocker::Diverged,
                    format!(
                        "HEAD {} is not an ancestor of {short_c} (the peer has its own commits)",
                        short(probe.head)
                    ),
                ))
            }
            Ancestry::Behind => self.target()?,
        };
        let short_t = short(target);
        let via = if target == commit {
            String::new()
        } else {
            format!(
                " (the tip of {}/{}, which contains {short_c})",
                self.peer.remote, self.branch
            )
        };
        self.check_nothing_in_the_way(probe.head, target)?;
        self.check_hidden_edits(probe.head, target)?;
        if self.req.dry_run {
            return Ok(Stop(
                Outcome::WouldFastForward,
                format!(
                    "would fast-forward {}..{short_t} on {}{via}",
                    short(probe.head),
                    self.branch
                ),
            ));
        }
        stage(Stage::Fetching);
        self.fetch(target)?;
        stage(Stage::Merging);
        let merged = self.merge(probe.head, target);
        // Read back whatever happened: the host proof, or proof nothing moved.
        let (head, on_branch) = self.read_head()?;
        report.after = Some(head);
        if head != probe.head {
            self.moved.set(true);
        }
        if let Err(stop) = merged {
            return Err(if head == probe.head {
                stop
            } else {
                Stop(
                    stop.0,
                    format!("{}; HEAD moved to {} meanwhile", stop.1, short(head)),
                )
            });
        }
        if head != target || !on_branch {
            let why = if on_branch {
                format!("HEAD read back as {} after the fast-forward, not {short_t} (the peer moved meanwhile)", short(head))
            } else {
                format!(
                    "the peer left {} during the fast-forward (HEAD {})",
                    self.branch,
                    short(head)
                )
            };
            let blocker = if !on_branch {
                Blocker::WrongBranch
            } else if matches!(self.ancestry(head), Ok(Ancestry::Ahead)) {
                Blocker::Ahead
            } else {
                Blocker::Diverged
            };
            return Err(blocked(blocker, why));
        }
        self.runtime(report, target, true, stage)?;
        Ok(Stop(
            Outcome::FastForwarded,
            format!(
                "{}..{short_t} on {}, HEAD read back{via}",
                short(probe.head),
                self.branch
            ),
        ))
    }
}
