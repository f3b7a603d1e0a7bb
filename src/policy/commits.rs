//! Pushed commits checked against the policy: the desired files and fleet.toml
//! each commit changes, and the commit ranges a push brings in.
use super::actor::{commit_actor, Actor, Pusher};
use super::rules::{Decision, Policy, CONFIG_RESOURCE};
use crate::config::{Config, CONFIG_FILE, DEFAULT_DESIRED};
use crate::error::StoreError;
use crate::error::{Error, Result};
use crate::fleet::diff::{diff, ChangeType};
use crate::gitcmd::git;
use serde::Serialize;
use std::path::Path;

/// The policy decisions for one file one commit changes.
#[derive(Debug, Clone, Serialize)]
pub struct CommitCheck {
    pub commit: String,
    pub actor: Actor,
    /// The changed file: a desired file, or fleet.toml.
    pub file: String,
    pub decisions: Vec<Decision>,
    /// A file that cannot be read or parsed is refused outright.
    pub error: Option<String>,
}

impl CommitCheck {
    pub fn refused(&self) -> bool {
        self.error.is_some() || self.decisions.iter().any(|d| !d.allowed())
    }
}

/// A desired file and the targets it serves (empty: no known target).
pub type DesiredFiles = Vec<(String, Vec<String>)>;

/// The desired files of `config`: each known target's desired path (declared
/// targets, and snapshotted ones that use fleet.yaml), or fleet.yaml alone.
pub fn desired_files(config: &Config, known_targets: &[String]) -> DesiredFiles {
    let mut files: DesiredFiles = Vec::new();
    for name in config.targets.keys().chain(known_targets.iter()) {
        let cfg = config.target(name).cloned().unwrap_or_default();
        add_file(&mut files, crate::config::desired_path(&cfg), Some(name));
    }
    if files.is_empty() {
        add_file(&mut files, DEFAULT_DESIRED.to_string(), None);
    }
    files
}

pub(super) fn add_file(files: &mut DesiredFiles, path: String, target: Option<&str>) {
    let slot = match files.iter().position(|(p, _)| *p == path) {
        Some(i) => i,
        None => {
            files.push((path, Vec::new()));
            files.len() - 1
        }
    };
    if let Some(t) = target {
        if !files[slot].1.iter().any(|x| x == t) {
            files[slot].1.push(t.to_string());
        }
    }
}

/// Check each of `commits` against `policy`: for every desired file (of
/// `files`, plus the targets the commit's own fleet.toml declares) the commit
/// changes, the semantic diff against its first parent is decided for the
/// commit's actor on each target the file serves. A change to fleet.toml is
/// decided as `config/fleet.toml`, and a fleet.toml that does not parse is
/// refused even without a policy (a server could enforce nothing after it).
/// Without a policy, desired files are not even read.
pub fn check_commits(
    repo_dir: &Path,
    policy: &Policy,
    files: &DesiredFiles,
    commits: &[String],
    pusher: Option<&Pusher>,
) -> Result<Vec<CommitCheck>> {
    check_commits_as(repo_dir, policy, files, commits, pusher, None)
}

/// `check_commits`; with `records` (git-fleet's own record commits, which
/// are never signed), a known pusher is the actor and the committer email,
/// a claim anyone can write, does not count; a record commit a pushed signed
/// receipt names (`signed`) is its verified signer's.
pub(super) fn check_commits_as(
    repo_dir: &Path,
    policy: &Policy,
    files: &DesiredFiles,
    commits: &[String],
    pusher: Option<&Pusher>,
    records: Option<&std::collections::HashMap<String, Actor>>,
) -> Result<Vec<CommitCheck>> {
    let mut out = Vec::new();
    for commit in commits {
        let mut c = PushedCommit::resolve(repo_dir, commit, pusher, records)?;
        let mut files = files.clone();
        if c.changed.iter().any(|p| p == CONFIG_FILE) {
            out.extend(c.check_config(policy, &mut files)?);
        }
        if policy.is_empty() {
            continue;
        }
        for (path, targets) in &files {
            if c.changed.iter().any(|p| p == path) {
                out.push(c.check_file(policy, path, targets)?);
            }
        }
    }
    Ok(out)
}

/// One pushed commit under check: its id, first parent, the paths it
/// changes, and its actor once a check needs it.
struct PushedCommit<'a> {
    repo_dir: &'a Path,
    pusher: Option<&'a Pusher>,
    records: Option<&'a std::collections::HashMap<String, Actor>>,
    id: String,
    short: String,
    parent: Option<String>,
    changed: Vec<String>,
    actor: Option<Actor>,
}

impl<'a> PushedCommit<'a> {
    // Read through git itself: in a pre-receive hook the pushed objects are
    // only visible through the quarantine git sets up in the environment.
    fn resolve(
        repo_dir: &'a Path,
        commit: &str,
        pusher: Option<&'a Pusher>,
        records: Option<&'a std::collections::HashMap<String, Actor>>,
    ) -> Result<PushedCommit<'a>> {
        let id = git(
            repo_dir,
            &[
                "rev-parse",
                "--verify",
                "-q",
                &format!("{commit}^{{commit}}"),
            ],
        )?;
        if !id.success {
            return Err(Error::usage(format!("unknown commit '{commit}'")));
        }
        let id = id.stdout.trim().to_string();
        let short = id[..12].to_string();
        let parent = git(
            repo_dir,
            &["rev-parse", "--verify", "-q", &format!("{id}^1")],
        )?;
        let parent = parent.success.then(|| parent.stdout.trim().to_string());
        let changed = changed_paths(repo_dir, &id, parent.as_deref())?;
        Ok(PushedCommit {
            repo_dir,
            pusher,
            records,
            id,
            short,
            parent,
            changed,
            actor: None,
        })
    }

    /// Who made the commit: a record's verified signer, else its committer
    /// (for a record with a known pusher, the pusher: a committer email is a
    /// claim anyone can write).
    fn actor(&mut self) -> Result<Actor> {
        if let Some(signer) = self.records.and_then(|m| m.get(&self.id)) {
            self.actor = Some(signer.clone());
        }
        if self.actor.is_none() {
            let mut found = commit_actor(self.repo_dir, &self.id)?;
            found.pusher = self.pusher.cloned();
            if self.records.is_some() && self.pusher.is_some() && found.principals.is_empty() {
                found.email = None;
                found.source = format!("{}; the pusher is the actor", found.source);
            }
            self.actor = Some(found);
        }
        Ok(self.actor.clone().unwrap_or_default())
    }

    /// The commit changes fleet.toml: it must parse (else refused even
    /// without a policy), its targets' desired files are checked too, and
    /// under a policy the change of `config/fleet.toml` is decided.
    fn check_config(
        &mut self,
        policy: &Policy,
        files: &mut DesiredFiles,
    ) -> Result<Option<CommitCheck>> {
        let now = blob_at(self.repo_dir, &self.id, CONFIG_FILE)?;
        let label = format!("{CONFIG_FILE} at {}", self.short);
        let parsed = now.as_ref().map(|b| Config::parse(&label, b)).transpose();
        let error = match &parsed {
            Err(e) => Some(format!(
                "{e} (a server refuses every push while its fleet.toml does not parse, so a broken one is never accepted)"
            )),
            Ok(Some(config)) => {
                for (name, t) in &config.targets {
                    add_file(files, crate::config::desired_path(t), Some(name));
                }
                None
            }
            Ok(None) => None,
        };
        if error.is_none() && policy.is_empty() {
            return Ok(None);
        }
        let existed = match &self.parent {
            Some(p) => blob_at(self.repo_dir, p, CONFIG_FILE)?.is_some(),
            None => false,
        };
        let change = match (existed, now.is_some()) {
            (false, _) => ChangeType::Create,
            (true, true) => ChangeType::Update,
            (true, false) => ChangeType::Destroy,
        };
        let actor = self.actor()?;
        let decisions = if policy.is_empty() {
            Vec::new()
        } else {
            vec![policy.decide(&actor, None, CONFIG_RESOURCE, change)]
        };
        Ok(Some(CommitCheck {
            commit: self.id.clone(),
            actor,
            file: CONFIG_FILE.into(),
            decisions,
            error,
        }))
    }

    /// The policy's decisions on each change the commit makes to the
    /// desired file `path` of `targets` (none: no known target).
    fn check_file(
        &mut self,
        policy: &Policy,
        path: &str,
        targets: &[String],
    ) -> Result<CommitCheck> {
        let actor = self.actor()?;
        let label = format!("{path} at {}", self.short);
        let repo_dir = self.repo_dir;
        let parse = |rev: Option<&str>, what: &str| -> Result<crate::fleet::Fleet> {
            let Some(rev) = rev else {
                return Ok(Default::default());
            };
            match blob_at(repo_dir, rev, path)? {
                Some(b) => Ok(crate::fleet::parse(&format!("{path} at {what}"), &b)?.fleet),
                None => Ok(Default::default()),
            }
        };
        let before = parse(self.parent.as_deref(), "its parent");
        let after = parse(Some(&self.id), &self.short);
        let (old, new) = match (before, after) {
            (Ok(o), Ok(n)) => (o, n),
            (_, Err(e)) | (Err(e), _) => {
                return Ok(CommitCheck {
                    commit: self.id.clone(),
                    actor,
                    file: path.to_string(),
                    decisions: vec![],
                    error: Some(format!("{label}: cannot decide the policy: {e}")),
                });
            }
        };
        let changes = diff(&old, &new).changes;
        let mut decisions = Vec::new();
        if targets.is_empty() {
            decisions.extend(policy.check(&actor, None, &changes));
        }
        for t in targets {
            decisions.extend(policy.check(&actor, Some(t), &changes));
        }
        Ok(CommitCheck {
            commit: self.id.clone(),
            actor,
            file: path.to_string(),
            decisions,
            error: None,
        })
    }
}

/// The commits a push of `new` brings into a ref whose policy is read per
/// branch: those not reachable from `base` (the ref's old tip, or for a new
/// ref the default policy branch; None: every commit). Commits already on
/// other branches are checked again: another branch's policy may differ.
pub fn commits_entering(repo_dir: &Path, new: &str, base: Option<&str>) -> Result<Vec<String>> {
    let mut args = vec!["rev-list", "--reverse", new];
    if let Some(b) = base {
        args.extend(["--not", b]);
    }
    let out = git(repo_dir, &args)?;
    if !out.success {
        return Err(StoreError::git_failed("cannot list pushed commits", &out.stderr).into());
    }
    Ok(out.stdout.lines().map(str::to_string).collect())
}

/// A ref moved from `old` to `new` by other than a fast-forward, landing on
/// another fleet.toml: decided as a change of `config/fleet.toml` under the
/// old policy, for the pusher alone (no commit of the push carries it).
pub fn rewound_policy(
    repo_dir: &Path,
    policy: &Policy,
    old: &str,
    new: &str,
    pusher: Option<&Pusher>,
) -> Result<Option<String>> {
    if git(repo_dir, &["merge-base", "--is-ancestor", old, new])?.success {
        return Ok(None);
    }
    let before = blob_at(repo_dir, old, CONFIG_FILE)?;
    let after = blob_at(repo_dir, new, CONFIG_FILE)?;
    if before == after {
        return Ok(None);
    }
    let change = match (&before, &after) {
        (None, _) => ChangeType::Create,
        (Some(_), Some(_)) => ChangeType::Update,
        (Some(_), None) => ChangeType::Destroy,
    };
    // Moving a branch is the pusher's act, whoever made the commit it lands
    // on: without a pusher the server names, nobody may.
    let actor = Actor {
        email: None,
        principals: Vec::new(),
        source: "the pusher moves the branch back".into(),
        pusher: pusher.cloned(),
    };
    Ok(policy
        .decide(&actor, None, CONFIG_RESOURCE, change)
        .refusal
        .map(|why| format!("not a fast-forward, and fleet.toml differs: {why}")))
}

/// Paths `commit` changes against `parent` (every path of a root commit).
pub(super) fn changed_paths(
    repo_dir: &Path,
    commit: &str,
    parent: Option<&str>,
) -> Result<Vec<String>> {
    let mut args = vec!["diff-tree", "-r", "-z", "--no-commit-id", "--name-only"];
    match parent {
        Some(p) => args.extend([p, commit]),
        None => args.extend(["--root", commit]),
    }
    let out = git(repo_dir, &args)?;
    if !out.success {
        return Err(StoreError::git_failed(
            format!("cannot list the paths {commit} changes"),
            &out.stderr,
        )
        .into());
    }
    Ok(out
        .stdout
        .split('\0')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect())
}

/// The raw bytes of `path` at `rev`, if it exists there.
pub(super) fn blob_at(dir: &Path, rev: &str, path: &str) -> Result<Option<Vec<u8>>> {
    let out = std::process::Command::new("git")
        .args(["cat-file", "blob", &format!("{rev}:{path}")])
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .map_err(|e| StoreError::spawn("git", e))?;
    Ok(out.status.success().then_some(out.stdout))
}

/// Refs whose commits hold desired state: everything but git-fleet's own
/// records (`refs/fleet/*`, whose live snapshots also hold a fleet.yaml) and notes.
pub fn is_checked_ref(name: &str) -> bool {
    !(name.starts_with("refs/fleet/") || name.starts_with("refs/notes/"))
}

/// The commits a pre-receive hook must check: for each updated ref that holds
/// desired state (stdin lines `<old> <new> <ref>`), the new commits not yet
/// reachable from any such ref. A commit parked under refs/fleet/ first is
/// still checked when a branch later points at it.
pub fn pushed_commits(repo_dir: &Path, stdin: &str) -> Result<Vec<String>> {
    let mut commits: Vec<String> = Vec::new();
    for line in stdin.lines() {
        let mut f = line.split_whitespace();
        let (Some(_old), Some(new), Some(name)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if new.bytes().all(|b| b == b'0') || !is_checked_ref(name) {
            continue; // a deletion changes no desired state
        }
        let out = git(
            repo_dir,
            &[
                "rev-list",
                "--reverse",
                new,
                "--not",
                "--exclude=refs/fleet/*",
                "--exclude=refs/notes/*",
                "--all",
            ],
        )?;
        if !out.success {
            return Err(StoreError::git_failed("cannot list pushed commits", &out.stderr).into());
        }
        for c in out.stdout.lines() {
            if !commits.iter().any(|x| x == c) {
                commits.push(c.to_string());
            }
        }
    }
    Ok(commits)
}
