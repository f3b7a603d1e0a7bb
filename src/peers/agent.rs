//! Pull mode: a peer delivers to itself (`git fleet agent`, from a timer).
//!
//! The agent runs in the peer's own checkout: it fetches its branch from its
//! remote, then hands the fetched tip to the same per-peer delivery as
//! fanout ([`super::fanout::run`] with the checkout as its only peer), so the
//! checks, outcomes, runtime steps and owed-step retries are fanout's own.
//! Fanout's record (with its write-ahead block) goes to the checkout's
//! `refs/notes/fleet/fanout`, which is also where the next run finds the
//! steps still owed.
//!
//! The result is then published as a report: a commit on the peer's own
//! ref `refs/fleet/reports/<peer>/log` (one writer per ref, so agents never
//! contend), whose message is the fanout block plus `Fleet-Mode: pull`,
//! `Fleet-Head` and `Fleet-Agent` trailers. Each report's parent is the
//! previous one (a chain per peer) and it is pushed as a fast-forward only,
//! never forced; when the remote has reports this checkout lacks (a re-cloned
//! peer), the new report merges them instead of replacing them.
//!
//! [`read_reports`] reads every report a repository holds (its own
//! `refs/fleet/reports/` and the fetched `refs/fleet-remote/<r>/fleet/reports/`)
//! in one pass over the refs, in-process.

use super::config::{Location, Origin, Peer, DEFAULT_TIMEOUT_SECS};
use super::fanout::{self, Outcome, PeerReport, Report, Request, NOTES_REF};
use super::record::{self, Record};
use super::report_cache::{Fields, ReportCache};
use super::shell::SshOptions;
use crate::error::{Error, FanoutError, Result, StoreError};
use crate::gitcmd::git;
use crate::store::Store;
use gix::bstr::ByteSlice;
use gix::ObjectId;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where a peer's reports live, on the remote and here.
pub const REPORTS_PREFIX: &str = "refs/fleet/reports/";

/// The report chain of `peer`.
pub fn report_ref(peer: &str) -> String {
    format!("{REPORTS_PREFIX}{peer}/log")
}

/// The agent's version, as reports name it.
pub fn agent_version() -> String {
    format!("git-fleet {}", env!("CARGO_PKG_VERSION"))
}

/// What to deliver to this checkout.
#[derive(Debug, Clone)]
pub struct AgentRequest {
    /// The peer's name (its report ref).
    pub name: String,
    pub remote: String,
    /// The branch to follow; None: the checkout's current branch, else the
    /// remote's default branch.
    pub branch: Option<String>,
    pub reload: Option<String>,
    pub health: Option<String>,
    pub readback: Option<String>,
    pub timeout: Option<Duration>,
    /// Check and report what would happen; change, record and push nothing.
    pub dry_run: bool,
    /// Publish the report to the remote.
    pub push: bool,
}

/// How the report reached the remote.
#[derive(Debug, Clone, Serialize)]
pub struct Published {
    /// The report commit.
    pub commit: String,
    /// `refs/fleet/reports/<peer>/log`.
    pub reference: String,
    pub pushed: bool,
    /// One line: pushed, merged with the remote's chain, or why not.
    pub detail: String,
}

/// One agent run.
#[derive(Debug, Clone)]
pub struct AgentRun {
    /// What fanout did to this checkout (its peer report is `peers[0]`).
    pub report: Report,
    /// The report's commit message (trailers).
    pub message: String,
    /// None for a dry run.
    pub published: Option<Published>,
}

impl AgentRun {
    pub fn peer(&self) -> &PeerReport {
        &self.report.peers[0]
    }
}

/// A peer name that can be a ref component and a trailer word.
pub fn check_name(name: &str) -> Result<()> {
    if let Some(why) = crate::fleet::validate::unsafe_name(name) {
        return Err(Error::usage_hint(
            format!(
                "peer name '{}' {why}",
                crate::fleet::validate::printable(name)
            ),
            "name the peer with --name (or git config fleet.peerName)",
        ));
    }
    Ok(())
}

/// This machine's host name (the default peer name), if it can be read.
pub fn hostname() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Fetch, deliver to this checkout as fanout would, record, report.
pub fn run(store: &Store, req: &AgentRequest) -> Result<AgentRun> {
    check_name(&req.name)?;
    let root = store
        .work_dir()
        .ok_or_else(|| {
            Error::usage("git fleet agent runs in a peer's checkout; this repository is bare")
        })?
        .to_path_buf();
    let branch = match &req.branch {
        Some(b) => b.clone(),
        None => default_branch(store, &req.remote)?,
    };
    let peer = Peer {
        name: req.name.clone(),
        location_text: root.display().to_string(),
        location: Location::Local(root.clone()),
        branch: Some(branch.clone()),
        remote: req.remote.clone(),
        reload: req.reload.clone(),
        health: req.health.clone(),
        readback: req.readback.clone(),
        timeout: req
            .timeout
            .unwrap_or(Duration::from_secs(DEFAULT_TIMEOUT_SECS)),
        origin: Origin::Local,
    };
    // What the remote has on the branch: fetched as `git pull` would (objects
    // and the remote-tracking branch only; HEAD and the work tree untouched).
    let tip = fetch_tip(&root, &req.remote, &branch);
    let (commit, fetch_problem) = match tip {
        Ok(tip) => (tip, None),
        Err(why) => match store.resolve("HEAD")? {
            Some(head) => (head, Some(why)),
            None => {
                return Err(FanoutError::NoHead {
                    why: why.to_string(),
                }
                .into())
            }
        },
    };
    // Reopened: the fetch may have added packs the first handle never saw.
    let store = Store::open(&root)?;
    let fanout_req = Request {
        commit,
        branch: branch.clone(),
        peers: vec![peer],
        jobs: 1,
        dry_run: req.dry_run,
        ssh: SshOptions::default(),
    };
    let mut report = match &fetch_problem {
        None => fanout::run(&store, &fanout_req, &|_| {})?,
        // Nothing fetched, nothing to check against: reported, not moved.
        Some(why) => fetch_failed_report(&fanout_req, why),
    };
    if let Some(run) = report.run.clone() {
        record::append(&store, &report, &run).map_err(|e| FanoutError::AgentRecord {
            notes_ref: NOTES_REF,
            source: Box::new(e),
        })?;
    }
    let time = now();
    let run_id = report.run.clone().unwrap_or_else(|| "dry-run".into());
    let message = message(&store, &report, &time, &run_id, &req.remote);
    if req.dry_run {
        return Ok(AgentRun {
            report,
            message,
            published: None,
        });
    }
    // An overlapping run (a slow timer run still going) holds this peer: it
    // reports the delivery itself, so this one publishes nothing over it.
    let p = &report.peers[0];
    if p.outcome == Outcome::Blocked(fanout::Blocker::Busy)
        && p.reason.starts_with("another fanout")
    {
        return Ok(AgentRun {
            message,
            published: Some(Published {
                commit: String::new(),
                reference: report_ref(&req.name),
                pushed: false,
                detail:
                    "not reported: another agent run is delivering to this checkout and reports it"
                        .into(),
            }),
            report,
        });
    }
    let published = publish(&store, &root, req, &message)?;
    // The fanout locks are released once the run is on record.
    report.locks = Default::default();
    Ok(AgentRun {
        report,
        message,
        published: Some(published),
    })
}

fn now() -> String {
    gix::date::Time::now_utc().format_or_unix(gix::date::time::format::ISO8601_STRICT)
}

/// The checkout's current branch, else the remote's default branch.
fn default_branch(store: &Store, remote: &str) -> Result<String> {
    if let Ok(Some(head)) = store.repo().head_name() {
        if let Some(b) = head.as_bstr().to_string().strip_prefix("refs/heads/") {
            return Ok(b.to_string());
        }
    }
    let sym = format!("refs/remotes/{remote}/HEAD");
    if let Ok(r) = store.repo().find_reference(sym.as_str()) {
        if let Some(name) = r.target().try_name() {
            let prefix = format!("refs/remotes/{remote}/");
            if let Some(b) = name.as_bstr().to_string().strip_prefix(&prefix) {
                return Ok(b.to_string());
            }
        }
    }
    Err(Error::usage_hint(
        "HEAD is detached and the remote's default branch is unknown: which branch does this peer follow?",
        "name it with --branch",
    ))
}

/// `git fetch <remote> <branch>`; the fetched tip, or why not.
fn fetch_tip(root: &Path, remote: &str, branch: &str) -> std::result::Result<ObjectId, String> {
    let out = git(
        root,
        &[
            "-c",
            "maintenance.auto=false",
            "-c",
            "gc.auto=0",
            "fetch",
            "--quiet",
            "--no-tags",
            "--",
            remote,
            &format!("refs/heads/{branch}"),
        ],
    )
    .map_err(|e| e.to_string())?;
    if !out.success {
        return Err(format!(
            "git fetch {} {branch} failed: {}",
            fanout::quoted(remote),
            fanout::one_line(out.stderr.trim())
        ));
    }
    let out = git(
        root,
        &["rev-parse", "--verify", "--quiet", "FETCH_HEAD^{commit}"],
    )
    .map_err(|e| e.to_string())?;
    ObjectId::from_hex(out.stdout.trim().as_bytes())
        .map_err(|_| format!("git fetch {remote} {branch} left no FETCH_HEAD to read"))
}

fn fetch_failed_report(req: &Request, why: &str) -> Report {
    let peer = &req.peers[0];
    let step = |d: &Option<String>| fanout::Step {
        status: if d.is_some() {
            fanout::StepStatus::Skipped
        } else {
            fanout::StepStatus::OutOfScope
        },
        detail: None,
    };
    Report {
        run: None,
        locks: Default::default(),
        commit: req.commit,
        branch: req.branch.clone(),
        dry_run: req.dry_run,
        peers: vec![PeerReport {
            name: peer.name.clone(),
            location: peer.location_text.clone(),
            branch: req.branch.clone(),
            outcome: Outcome::Blocked(fanout::Blocker::FetchFailed),
            reason: fanout::one_line(why),
            before: None,
            after: None,
            runtime: fanout::Runtime {
                reload: step(&peer.reload),
                health: step(&peer.health),
                readback: step(&peer.readback),
            },
            owed: Default::default(),
            elapsed: Duration::ZERO,
        }],
        elapsed: Duration::ZERO,
    }
}

/// The report's commit message: a subject line, then fanout's block with
/// the pull-mode trailers.
fn message(store: &Store, report: &Report, time: &str, run: &str, remote: &str) -> String {
    let p = &report.peers[0];
    let subject = format!(
        "fleet report: {} {} at {}",
        p.name,
        p.outcome.as_str(),
        fanout::short(report.commit)
    );
    let mut block = record::block(report, &store.actor(), time, run);
    block.push_str("\nFleet-Mode: pull");
    if let Some(head) = p.after.or(p.before) {
        block.push_str(&format!("\nFleet-Head: {head}"));
    }
    block.push_str(&format!("\nFleet-Remote: {}", fanout::one_line(remote)));
    block.push_str(&format!("\nFleet-Agent: {}", agent_version()));
    format!("{subject}\n\n{block}\n")
}

/// Commit the report on the local chain and push it, fast-forward only.
fn publish(store: &Store, root: &Path, req: &AgentRequest, message: &str) -> Result<Published> {
    let name = report_ref(&req.name);
    let tree = empty_tree(store)?;
    let new = store
        .update_ref(&name, "fleet agent: report", |old| {
            let parents: Vec<ObjectId> = old.into_iter().collect();
            let c = store.new_commit_with_parents(message, tree, &parents)?;
            Ok(Some((c, c)))
        })?
        .ok_or_else(|| FanoutError::WriteRef {
            reference: name.clone(),
        })?;
    if !req.push {
        return Ok(Published {
            commit: new.to_string(),
            reference: name,
            pushed: false,
            detail: "not pushed (--no-push)".into(),
        });
    }
    let mut merged = false;
    // Bounded: one writer per ref, so a rejection means this checkout's chain
    // lacks reports the remote has (it was re-cloned), merged once.
    for _ in 0..3 {
        let out = push(root, &req.remote, &name)?;
        if out.success {
            return Ok(Published {
                commit: store.resolve(&name)?.unwrap_or(new).to_string(),
                reference: name.clone(),
                pushed: true,
                detail: if merged {
                    format!(
                        "pushed to {} {name} (merged with the reports the remote had)",
                        req.remote
                    )
                } else {
                    format!("pushed to {} {name}", req.remote)
                },
            });
        }
        let rejected = out.stdout.contains("[rejected]") || out.stderr.contains("rejected");
        if !rejected {
            return not_pushed(store, &name, new, &req.remote, &out.stderr);
        }
        let Some(theirs) = fetch_remote_report(root, &req.remote, &name) else {
            return not_pushed(store, &name, new, &req.remote, &out.stderr);
        };
        // Keep both chains: a merge whose first parent is the remote's tip.
        store.update_ref(&name, "fleet agent: merge remote reports", |old| {
            let ours = old.unwrap_or(new);
            if store.is_ancestor(theirs, ours)? {
                return Ok(None);
            }
            let c = store.new_commit_with_parents(message, tree, &[theirs, ours])?;
            Ok(Some((c, ())))
        })?;
        merged = true;
    }
    not_pushed(
        store,
        &name,
        new,
        &req.remote,
        "the remote kept rejecting it",
    )
}

fn not_pushed(
    store: &Store,
    name: &str,
    new: ObjectId,
    remote: &str,
    why: &str,
) -> Result<Published> {
    Ok(Published {
        commit: store.resolve(name)?.unwrap_or(new).to_string(),
        reference: name.to_string(),
        pushed: false,
        detail: format!(
            "not pushed to {} ({}); kept in {name} here, the next run pushes it",
            fanout::redact(remote),
            fanout::one_line(why)
        ),
    })
}

fn push(root: &Path, remote: &str, name: &str) -> Result<crate::gitcmd::GitOutput> {
    // No '+': a push that is not a fast-forward is refused, never forced.
    git(
        root,
        &[
            "push",
            "--quiet",
            "--porcelain",
            "--no-verify",
            "--",
            remote,
            &format!("{name}:{name}"),
        ],
    )
}

/// The remote's tip of `name`, fetched (objects only, no ref written).
fn fetch_remote_report(root: &Path, remote: &str, name: &str) -> Option<ObjectId> {
    let out = git(
        root,
        &[
            "-c",
            "maintenance.auto=false",
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-write-fetch-head",
            "--refmap=",
            "--",
            remote,
            name,
        ],
    )
    .ok()?;
    if !out.success {
        return None;
    }
    let out = git(root, &["ls-remote", "--", remote, name]).ok()?;
    let line = out.stdout.lines().find(|l| l.ends_with(name))?;
    ObjectId::from_hex(line.split('\t').next()?.trim().as_bytes()).ok()
}

fn empty_tree(store: &Store) -> Result<ObjectId> {
    store
        .repo()
        .write_object(gix::objs::Tree::empty())
        .map(|id| id.detach())
        .map_err(|e| StoreError::repo("cannot write the empty tree", e).into())
}

/// The user unit and timer `--install-timer` writes.
pub fn timer_units(exe: &Path, checkout: &Path, name: &str, interval: &str) -> (String, String) {
    let service = format!(
        "[Unit]\nDescription=git-fleet agent for peer {name} ({dir})\n\n[Service]\nType=oneshot\nWorkingDirectory={dir}\nExecStart={exe} agent --name {name}\n",
        dir = checkout.display(),
        exe = exe.display(),
    );
    let timer = format!(
        "[Unit]\nDescription=Run the git-fleet agent for peer {name} every {interval}\n\n[Timer]\nOnBootSec=1min\nOnUnitActiveSec={interval}\nRandomizedDelaySec=30s\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n"
    );
    (service, timer)
}

/// Where the user units go: `$XDG_CONFIG_HOME/systemd/user`, else
/// `~/.config/systemd/user`.
pub fn user_unit_dir() -> Option<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(x).join("systemd/user"));
    }
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(|h| PathBuf::from(h).join(".config/systemd/user"))
}

/// One peer's report, borrowed from where it was read (the report cache's
/// bytes, or a commit parsed this run): thousands are judged and printed
/// without a copy of any of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportView<'a> {
    pub peer: &'a str,
    /// The report commit.
    pub id: ObjectId,
    /// `Fleet-Fanout`: the tip the agent fetched and delivered.
    pub commit: &'a str,
    pub time: &'a str,
    pub actor: &'a str,
    /// This peer's `Fleet-Peer` outcome and reason.
    pub outcome: &'a str,
    pub reason: &'a str,
    pub reload: Option<fanout::StepStatus>,
    pub health: Option<fanout::StepStatus>,
    pub readback: Option<fanout::StepStatus>,
    pub owed: Option<fanout::Owed>,
    /// The peer's HEAD when it reported.
    pub head: Option<&'a str>,
    pub agent: Option<&'a str>,
}

impl ReportView<'_> {
    /// The report's peer line, owned (for JSON).
    pub fn peer_record(&self) -> record::PeerRecord {
        record::PeerRecord {
            name: self.peer.to_string(),
            outcome: self.outcome.to_string(),
            reason: self.reason.to_string(),
            reload: self.reload,
            health: self.health,
            readback: self.readback,
            owed: self.owed,
        }
    }
}

/// Where one report is: a cache payload or a commit read this run.
#[derive(Debug, Clone, Copy)]
enum Src {
    Cached(u32, u32),
    Fresh(u32),
}

/// Every peer's latest pull-mode report, in peer order; each is decoded
/// when asked for ([`Reports::get`]), borrowed from the cache's bytes.
pub struct Reports {
    cache: ReportCache,
    fresh: Vec<(ObjectId, Fields)>,
    latest: Vec<Src>,
}

impl Reports {
    pub fn len(&self) -> usize {
        self.latest.len()
    }

    pub fn is_empty(&self) -> bool {
        self.latest.is_empty()
    }

    /// The `k`th peer's name.
    pub fn peer(&self, k: usize) -> &str {
        std::str::from_utf8(self.peer_bytes(self.latest[k])).unwrap_or_default()
    }

    /// The `k`th peer's report (None: never, every one was decoded once).
    pub fn get(&self, k: usize) -> Option<ReportView<'_>> {
        self.view(*self.latest.get(k)?)
    }

    /// The position of `peer`'s report.
    pub fn find(&self, peer: &str) -> Option<usize> {
        self.latest
            .binary_search_by(|s| self.peer_bytes(*s).cmp(peer.as_bytes()))
            .ok()
    }

    fn view(&self, s: Src) -> Option<ReportView<'_>> {
        match s {
            Src::Cached(a, b) => self.cache.view(a as usize..b as usize),
            Src::Fresh(i) => {
                let (id, f) = self.fresh.get(i as usize)?;
                f.view(*id)
            }
        }
    }

    fn peer_bytes(&self, s: Src) -> &[u8] {
        match s {
            Src::Cached(a, b) => self.cache.peer_bytes(a as usize..b as usize),
            Src::Fresh(i) => self.fresh[i as usize]
                .1
                .record
                .peers
                .first()
                .map_or(&[][..], |p| p.name.as_bytes()),
        }
    }

    fn time(&self, s: Src) -> &str {
        self.view(s).map_or("", |v| v.time)
    }
}

/// Every peer's latest report: one pass over `refs/fleet/reports/` and
/// `refs/fleet-remote/*/fleet/reports/`, reading each tip in-process. When
/// a peer's chain is found twice (here and fetched), the later report wins.
/// Parsed reports are cached by commit id ([`super::report_cache`]), so only
/// tips not seen before are inflated; `GIT_FLEET_NO_CACHE=1` reads them all.
pub fn read_reports(store: &Store) -> Result<Reports> {
    let cache = if std::env::var_os("GIT_FLEET_NO_CACHE").is_some_and(|v| v == "1") {
        ReportCache::disabled()
    } else {
        ReportCache::load(store.repo().common_dir())
    };
    read_reports_with(store, cache)
}

/// Each report ref under `prefix` (loose ones first found win, as git reads
/// them), its name and id, in name order. Packed refs are read borrowed
/// from the packed-refs buffer: no name is copied.
fn each_report_ref(
    repo: &gix::Repository,
    packed: Option<&gix::refs::packed::Buffer>,
    prefix: &str,
    each: &mut dyn FnMut(&str, ObjectId),
) -> Result<()> {
    let cannot = || format!("cannot list {prefix}");
    // With its trailing '/': gix walks only that directory (without it, the
    // parent's whole tree, e.g. all of refs/ for refs/fleet-remote).
    let rel: &gix::path::RelativePath = prefix
        .try_into()
        .map_err(|e| StoreError::repo(cannot(), e))?;
    let mut loose: Vec<(String, ObjectId)> = Vec::new();
    for r in repo
        .refs
        .loose_iter_prefixed(rel)
        .map_err(|e| StoreError::repo(cannot(), e))?
    {
        let Ok(r) = r else { continue };
        // Reports are commits, never tags: the ref's own id, no peeling.
        if let (Some(id), Ok(name)) = (r.target.try_id(), std::str::from_utf8(r.name.as_bstr())) {
            if name.starts_with(prefix) {
                loose.push((name.to_string(), id.to_owned()));
            }
        }
    }
    let mut loose = loose.into_iter().peekable();
    if let Some(packed) = packed {
        // gix finds the first packed ref under the prefix (a binary search);
        // the lines from there are read in place, `<hex> <name>` (and `^<hex>`
        // peeled lines): names as git wrote them, not validated again one
        // by one (that was a seventh of a warm proof of 10,000 reports).
        let buf: &[u8] = packed.as_ref();
        let first = packed
            .iter_prefixed(prefix.into())
            .map_err(|e| StoreError::repo(cannot(), e))?
            .next();
        let start = match first {
            None => Some(buf.len()),
            // Its line starts with its id, borrowed from `buf`; an offset
            // outside it (never, as gix reads today) means: from the top.
            Some(Ok(r)) => (r.target.as_ptr() as usize)
                .checked_sub(buf.as_ptr() as usize)
                .filter(|at| *at < buf.len()),
            // A line gix cannot read: scanned from the top instead.
            Some(Err(_)) => None,
        };
        let hex_len = repo.object_hash().len_in_hex();
        let mut at = start.unwrap_or(0);
        let mut seen = false;
        while at < buf.len() {
            let end = buf[at..].find_byte(b'\n').map_or(buf.len(), |n| at + n);
            let line = &buf[at..end];
            at = end + 1;
            if line.first() == Some(&b'^') {
                continue;
            }
            let (Some(hex), Some(b' '), Some(name)) = (
                line.get(..hex_len),
                line.get(hex_len),
                line.get(hex_len + 1..),
            ) else {
                continue;
            };
            // Sorted: the refs under the prefix are one run of lines.
            if !name.starts_with(prefix.as_bytes()) {
                if seen {
                    break;
                }
                continue;
            }
            seen = true;
            let (Ok(name), Ok(id)) = (std::str::from_utf8(name), ObjectId::from_hex(hex)) else {
                continue;
            };
            // A loose ref shadows its packed copy; both lists are in name
            // order (gix walks loose refs in git's order).
            let mut shadowed = false;
            while let Some((l, id)) = loose.next_if(|(l, _)| l.as_str() <= name) {
                shadowed |= l == name;
                each(&l, id);
            }
            if !shadowed {
                each(name, id);
            }
        }
    }
    for (l, id) in loose {
        each(&l, id);
    }
    Ok(())
}

fn read_reports_with(store: &Store, cache: ReportCache) -> Result<Reports> {
    let repo = store.repo();
    let packed = repo
        .refs
        .cached_packed_buffer()
        .map_err(|e| StoreError::repo("cannot read packed-refs", e))?;
    // One pass over the refs: each tip from the cache (borrowed), or noted
    // as a miss whose commit is read below, by a few threads when many.
    let mut srcs: Vec<Option<Src>> = Vec::new();
    let mut hits = Vec::new();
    let mut missed: Vec<(usize, String, ObjectId)> = Vec::new();
    for prefix in [REPORTS_PREFIX, crate::live::FETCHED_PREFIX] {
        each_report_ref(
            repo,
            packed.as_deref().map(|b| &**b),
            prefix,
            &mut |name, id| {
                let Some(peer) = peer_of_ref(name) else {
                    return;
                };
                srcs.push(match cache.get(&id, peer) {
                    Some((view, payload)) => {
                        let src = Src::Cached(payload.start as u32, payload.end as u32);
                        hits.push(payload);
                        view.map(|_| src)
                    }
                    None => {
                        missed.push((srcs.len(), name.to_string(), id));
                        None
                    }
                });
            },
        )?;
    }
    let live = srcs.len();
    let threads = if missed.is_empty() {
        1
    } else {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, 4)
            .min(missed.len() / 512 + 1)
    };
    let chunk = missed.len().div_ceil(threads.max(1)).max(1);
    // Per miss: None when its commit could not be read (not cached: it may
    // be fetched later), else what it says.
    let read_part = |repo: &gix::Repository, part: &[(usize, String, ObjectId)]| {
        part.iter()
            .map(|(_, name, id)| {
                let peer = peer_of_ref(name).unwrap_or_default();
                report_message(repo, *id).map(|m| parse_fields(peer, &m))
            })
            .collect::<Vec<_>>()
    };
    let fresh: Vec<Option<Option<Fields>>> = if threads <= 1 {
        read_part(repo, &missed)
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = missed
                .chunks(chunk)
                .map(|part| {
                    let git_dir = store.git_dir();
                    // gix handles are not Send here: each thread opens its own.
                    scope.spawn(move || {
                        let repo = gix::open(git_dir).ok()?;
                        Some(read_part(&repo, part))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().ok().flatten())
                .collect::<Option<Vec<_>>>()
        })
        .ok_or_else(|| FanoutError::ReadReports {
            git_dir: store.git_dir().to_path_buf(),
        })?
        .into_iter()
        .flatten()
        .collect()
    };
    let misses: Vec<(ObjectId, &str, Option<&Fields>)> = missed
        .iter()
        .zip(&fresh)
        .filter_map(|((_, name, id), f)| {
            let f = f.as_ref()?;
            Some((*id, peer_of_ref(name).unwrap_or_default(), f.as_ref()))
        })
        .collect();
    cache.save(&hits, &misses, live);
    drop(misses);
    drop(hits);
    let mut kept = Vec::new();
    for ((i, _, id), f) in missed.into_iter().zip(fresh) {
        if let Some(Some(f)) = f {
            srcs[i] = Some(Src::Fresh(kept.len() as u32));
            kept.push((id, f));
        }
    }
    let mut reports = Reports {
        cache,
        fresh: kept,
        latest: Vec::new(),
    };
    // The latest per peer, in peer order (stable: on equal times the one
    // read last wins). Refs mostly come in peer order already: then
    // nothing is sorted.
    let mut order: Vec<Src> = srcs.into_iter().flatten().collect();
    if !order.is_sorted_by(|a, b| reports.peer_bytes(*a) <= reports.peer_bytes(*b)) {
        order.sort_by(|a, b| reports.peer_bytes(*a).cmp(reports.peer_bytes(*b)));
    }
    let mut latest: Vec<Src> = Vec::with_capacity(order.len());
    for s in order {
        match latest.last_mut() {
            Some(last) if reports.peer_bytes(*last) == reports.peer_bytes(s) => {
                if reports.time(s) >= reports.time(*last) {
                    *last = s;
                }
            }
            _ => latest.push(s),
        }
    }
    reports.latest = latest;
    Ok(reports)
}

/// `refs/fleet/reports/<peer>/log` or `refs/fleet-remote/<r>/fleet/reports/<peer>/log`.
fn peer_of_ref(name: &str) -> Option<&str> {
    let rest = match name.strip_prefix(REPORTS_PREFIX) {
        Some(rest) => rest,
        None => {
            let after = name.strip_prefix(crate::live::FETCHED_PREFIX)?;
            let (_, tail) = after.split_once('/')?;
            tail.strip_prefix("fleet/reports/")?
        }
    };
    rest.strip_suffix("/log").filter(|p| !p.contains('/'))
}

/// The message of report commit `id`, or None when it cannot be read.
fn report_message(repo: &gix::Repository, id: ObjectId) -> Option<Vec<u8>> {
    let object = repo.find_object(id).ok()?;
    let commit = gix::objs::CommitRefIter::from_bytes(&object.data, repo.object_hash());
    // Not a commit (or damaged): read, and not a report.
    Some(commit.message().map(|m| m.to_vec()).unwrap_or_default())
}

/// One report message, parsed in one pass: the fanout block's trailers (as
/// [`record::parse_note`] reads them) and the pull-mode ones. None: not a
/// report of `peer`. It depends on the message and the peer only, which is
/// what makes it cacheable by commit id.
fn parse_fields(peer: &str, message: &[u8]) -> Option<Fields> {
    let message = std::str::from_utf8(message).ok()?;
    let mut record = Record {
        commit: String::new(),
        run: String::new(),
        time: String::new(),
        actor: String::new(),
        branch: String::new(),
        pending: false,
        peers: Vec::new(),
    };
    let mut peer_rec: Option<record::PeerRecord> = None;
    let (mut head, mut agent) = (None, None);
    // Lines about another peer are not this peer's (one writer per ref).
    let mine = |v: &str| v.split(' ').next() == Some(peer);
    for line in message.lines() {
        // Only `Fleet-*: ` lines matter; a byte search, not a substring one.
        if !line.starts_with("Fleet-") {
            continue;
        }
        let Some((key, value)) = line.split_once(": ") else {
            continue;
        };
        let value = value.trim();
        match key {
            "Fleet-Fanout" => record.commit = value.to_string(),
            "Fleet-Run" => record.run = value.to_string(),
            "Fleet-Time" => record.time = value.to_string(),
            "Fleet-Actor" => record.actor = value.to_string(),
            "Fleet-Branch" => record.branch = value.to_string(),
            "Fleet-State" => record.pending = value == "pending",
            "Fleet-Head" => head = Some(value.to_string()),
            "Fleet-Agent" => agent = Some(value.to_string()),
            "Fleet-Peer" if mine(value) => {
                let mut parts = value.splitn(3, ' ');
                let _ = parts.next();
                peer_rec = Some(record::PeerRecord {
                    name: peer.to_string(),
                    outcome: parts.next()?.to_string(),
                    reason: parts.next().unwrap_or("").to_string(),
                    reload: None,
                    health: None,
                    readback: None,
                    owed: None,
                });
            }
            "Fleet-Runtime" if mine(value) => {
                let p = peer_rec.as_mut()?;
                for part in value.split(' ').skip(1) {
                    if let Some((step, status)) = part.split_once('=') {
                        let status = fanout::StepStatus::parse(status);
                        match step {
                            "reload" => p.reload = status,
                            "health" => p.health = status,
                            "readback" => p.readback = status,
                            _ => {}
                        }
                    }
                }
            }
            "Fleet-Owed" if mine(value) => {
                let p = peer_rec.as_mut()?;
                p.owed = Some(fanout::Owed::parse(
                    value.split_once(' ').map(|(_, s)| s).unwrap_or(""),
                ));
            }
            _ => {}
        }
    }
    if record.commit.is_empty() {
        return None;
    }
    record.peers.push(peer_rec?);
    Some(Fields {
        record,
        head,
        agent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_refs_name_their_peer() {
        assert_eq!(peer_of_ref("refs/fleet/reports/web-1/log"), Some("web-1"));
        assert_eq!(
            peer_of_ref("refs/fleet-remote/origin/fleet/reports/web-1/log"),
            Some("web-1")
        );
        assert_eq!(peer_of_ref("refs/fleet-remote/origin/fleet/live/x"), None);
        assert_eq!(peer_of_ref("refs/fleet/reports/a/b/log"), None);
        assert_eq!(report_ref("w"), "refs/fleet/reports/w/log");
    }
}
