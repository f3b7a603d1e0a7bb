//! One peer's delivery state and the git steps it is built from: read the
//! remote tip, fetch, merge `--ff-only`, read HEAD back.
use super::report::{Blocker, Outcome, Owed, Request, Runtime, Step, StepStatus};
use super::status::merge_paths;
use super::text::{first_line, quoted, shell_error_text, short};
use crate::peers::config::Peer;
use crate::peers::local;
use crate::peers::shell::{CmdOutput, PeerShell};
use gix::ObjectId;
use std::sync::Arc;
use std::time::Duration;

/// Everything one peer's delivery needs.
pub(super) struct PeerRun<'a> {
    pub(super) repo: &'a gix::Repository,
    pub(super) req: &'a Request,
    pub(super) peer: &'a Peer,
    pub(super) shell: Arc<dyn PeerShell>,
    pub(super) dir: String,
    pub(super) branch: String,
    pub(super) local: std::cell::OnceCell<Option<gix::Repository>>,
    /// The peer's HEAD as soon as a check has read it.
    pub(super) head_seen: std::cell::Cell<Option<ObjectId>>,
    /// Steps owed from earlier runs (a move this run owes all of them).
    pub(super) owed_before: Owed,
    /// The peer's HEAD was moved by this run.
    pub(super) moved: std::cell::Cell<bool>,
    /// The runtime steps ran (so their statuses say what is still owed).
    pub(super) runtime_ran: std::cell::Cell<bool>,
    /// The tip of the peer's branch on its remote, once asked.
    pub(super) tip: std::cell::OnceCell<Option<ObjectId>>,
}

/// Early exit from the per-peer checks: the outcome and its reason.
pub(super) struct Stop(pub(super) Outcome, pub(super) String);

pub(super) fn blocked(b: Blocker, reason: impl Into<String>) -> Stop {
    Stop(Outcome::Blocked(b), reason.into())
}

impl PeerRun<'_> {
    pub(super) fn timeout(&self) -> Duration {
        self.peer.timeout
    }

    pub(super) fn git(&self, args: &[&str]) -> std::result::Result<CmdOutput, Stop> {
        let mut argv = Vec::with_capacity(args.len() + 1);
        argv.push("git");
        argv.extend_from_slice(args);
        self.shell
            .run(&self.dir, &argv, self.timeout())
            .map_err(|e| blocked(Blocker::Unreachable, shell_error_text(&e)))
    }

    /// The tip of the peer's branch as the peer's own remote has it (`git
    /// ls-remote`, which writes nothing), asked once. None: no such branch.
    pub(super) fn remote_tip(&self) -> std::result::Result<Option<ObjectId>, Stop> {
        if let Some(tip) = self.tip.get() {
            return Ok(*tip);
        }
        let want = format!("refs/heads/{}", self.branch);
        let out = self.git(&["ls-remote", "--", &self.peer.remote, &want])?;
        if !out.success() {
            return Err(blocked(
                Blocker::FetchFailed,
                format!(
                    "git ls-remote {} {want} failed: {}",
                    quoted(&self.peer.remote),
                    first_line(out.stderr.trim())
                ),
            ));
        }
        let tip = out
            .stdout
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .find(|(_, name)| name.trim() == want)
            .and_then(|(id, _)| ObjectId::from_hex(id.trim().as_bytes()).ok());
        let _ = self.tip.set(tip);
        Ok(tip)
    }

    /// Where a peer behind the commit moves: its remote branch's tip, when
    /// that is the commit or a descendant of it. Writes nothing to the peer
    /// unless this repository lacks the tip (then objects only, no ref).
    pub(super) fn target(&self) -> std::result::Result<ObjectId, Stop> {
        let commit = self.req.commit;
        let tip = self.remote_tip()?.ok_or_else(|| {
            blocked(
                Blocker::NotOnRemote,
                format!(
                    "{} has no branch {}, so {} is not there to deliver (push it first)",
                    self.peer.remote,
                    self.branch,
                    short(commit)
                ),
            )
        })?;
        if tip == commit {
            return Ok(tip);
        }
        if self.repo.has_object(tip) {
            return match self.repo.merge_base(commit, tip) {
                Ok(Some(base)) if base.detach() == commit => Ok(tip),
                _ => Err(self.not_on_branch(tip)),
            };
        }
        if self.req.dry_run {
            return Ok(tip); // a real run checks it in the peer
        }
        // Only the peer can tell: objects only (no FETCH_HEAD, no ref).
        let out = self.git(&[
            "-c",
            "maintenance.auto=false",
            "-c",
            "gc.auto=0",
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-write-fetch-head",
            "--refmap=",
            "--",
            &self.peer.remote,
            &format!("refs/heads/{}", self.branch),
        ])?;
        if !out.success() {
            return Err(self.fetch_failed(&out));
        }
        let out = self.git(&[
            "merge-base",
            "--is-ancestor",
            &commit.to_string(),
            &tip.to_string(),
        ])?;
        if out.success() {
            Ok(tip)
        } else {
            Err(self.not_on_branch(tip))
        }
    }

    /// The remote branch does not hold the commit: another branch's commit
    /// (`wrong-branch`), or one never pushed (`not-on-remote`).
    pub(super) fn not_on_branch(&self, tip: ObjectId) -> Stop {
        let c = short(self.req.commit);
        // A detached delivery ("HEAD") names no branch to compare with.
        if self.branch != self.req.branch && self.req.branch != "HEAD" {
            blocked(
                Blocker::WrongBranch,
                format!(
                    "{c} is not on {}/{} (at {}): the peer follows {}, and {c} was delivered from {}",
                    self.peer.remote,
                    self.branch,
                    short(tip),
                    self.branch,
                    self.req.branch
                ),
            )
        } else {
            blocked(
                Blocker::NotOnRemote,
                format!(
                    "{}/{} is at {}, which does not contain {c} (push it first)",
                    self.peer.remote,
                    self.branch,
                    short(tip)
                ),
            )
        }
    }

    pub(super) fn fetch_failed(&self, out: &CmdOutput) -> Stop {
        blocked(
            Blocker::FetchFailed,
            format!(
                "git fetch {} {} failed: {}",
                quoted(&self.peer.remote),
                self.branch,
                first_line(out.stderr.trim())
            ),
        )
    }

    /// What is owed after this run: what the steps left unpassed when they
    /// ran; everything declared after a move; else what was owed before.
    pub(super) fn owed_after(&self, rt: &Runtime) -> Owed {
        let declared = Owed::declared(self.peer);
        let before = if self.moved.get() {
            declared
        } else {
            self.owed_before
        };
        if !self.runtime_ran.get() {
            return before;
        }
        let open = |s: &Step| s.status != StepStatus::Ok;
        Owed {
            reload: before.reload && open(&rt.reload),
            health: declared.health && open(&rt.health),
            readback: declared.readback && open(&rt.readback),
        }
    }

    /// `git fetch <remote> <branch>` in the peer, from its own remote (as
    /// `git pull` would, updating its remote-tracking branch), then make sure
    /// the target arrived.
    pub(super) fn fetch(&self, target: ObjectId) -> std::result::Result<(), Stop> {
        let out = self.git(&[
            "-c",
            "maintenance.auto=false",
            "-c",
            "gc.auto=0",
            "fetch",
            "--quiet",
            "--no-tags",
            "--",
            &self.peer.remote,
            &self.branch,
        ])?;
        if !out.success() {
            return Err(self.fetch_failed(&out));
        }
        let spec = format!("{target}^{{commit}}");
        let out = self.git(&["cat-file", "-e", &spec])?;
        if !out.success() {
            return Err(blocked(
                Blocker::FetchFailed,
                format!(
                    "{}/{} no longer has {} (it was rewound during fanout)",
                    self.peer.remote,
                    self.branch,
                    short(target)
                ),
            ));
        }
        Ok(())
    }

    /// `git merge --ff-only T`, with autostash forced off (a peer's
    /// `merge.autoStash` must never stash anything) and no auto-gc.
    pub(super) fn merge(
        &self,
        before: ObjectId,
        target: ObjectId,
    ) -> std::result::Result<(), Stop> {
        let hex = target.to_string();
        let out = self.git(&[
            "-c",
            "merge.autoStash=false",
            "-c",
            "maintenance.auto=false",
            "-c",
            "gc.auto=0",
            "merge",
            "--ff-only",
            "--quiet",
            &hex,
        ])?;
        if out.success() {
            return Ok(());
        }
        let err = out.stderr.trim();
        let text = format!("{} {}", out.stdout.trim(), err);
        let line = first_line(err);
        Err(
            if text.contains("index.lock") || text.contains("File exists") {
                blocked(
                    Blocker::Busy,
                    format!("git merge found the index locked: {line}"),
                )
            } else if text.contains("untracked working tree files would be overwritten") {
                blocked(
                Blocker::Dirty,
                format!("untracked files are in the way of the fast-forward; nothing was touched: {}", merge_paths(err)),
            )
            } else if text.contains("would be overwritten") || text.contains("local changes") {
                blocked(
                    Blocker::Dirty,
                    format!(
                        "changed during fanout; git refused to overwrite: {}",
                        merge_paths(err)
                    ),
                )
            } else if text.contains("fast-forward") || text.contains("diverg") {
                blocked(
                    Blocker::Diverged,
                    format!(
                        "HEAD moved away from {} during fanout: {line}",
                        short(before)
                    ),
                )
            } else {
                blocked(
                    Blocker::MergeFailed,
                    format!("git merge --ff-only failed: {line}"),
                )
            },
        )
    }

    /// HEAD and whether it is still on the expected branch.
    pub(super) fn read_head(&self) -> std::result::Result<(ObjectId, bool), Stop> {
        if let Some((name, head)) = self.local_repo().and_then(local::head) {
            return Ok((head, name == Some(format!("refs/heads/{}", self.branch))));
        }
        let out = self.git(&["rev-parse", "HEAD", "--symbolic-full-name", "HEAD"])?;
        let mut lines = out.stdout.lines();
        let head = lines
            .next()
            .and_then(|l| ObjectId::from_hex(l.trim().as_bytes()).ok())
            .filter(|_| out.success())
            .ok_or_else(|| {
                blocked(
                    Blocker::Unreachable,
                    format!("cannot read HEAD back: {}", first_line(out.stderr.trim())),
                )
            })?;
        let symbolic = lines.next().unwrap_or("");
        Ok((head, symbolic == format!("refs/heads/{}", self.branch)))
    }
}
