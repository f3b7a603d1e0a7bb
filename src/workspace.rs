//! The repository a command acts on, opened once per process, and the
//! answers every command shares about it: fleet.toml (parsed at most once,
//! lazily, so commands that never need it, like the server hooks, never read
//! it), its peers and policy, the default remote, a target's desired file,
//! fleet.toml at a revision, and the directory git runs in.

use crate::config::{Config, CONFIG_FILE, DEFAULT_DESIRED};
use crate::desired::{self, Source};
use crate::fleet::diff::diff;
use crate::fleet::Fleet;
use crate::peers::config::{self as peers_config, Peer};
use crate::policy::Policy;
use crate::store::Store;
use crate::{live, policy, Diagnostic, Error, Result};
use std::cell::OnceCell;
use std::path::{Path, PathBuf};

pub struct Workspace {
    store: Store,
    config: OnceCell<Config>,
    peers: OnceCell<Vec<Peer>>,
}

impl Workspace {
    /// The repository git would use here (`GIT_DIR`/`GIT_WORK_TREE` first).
    /// When `GIT_DIR` chose it, both are exported as absolute paths, so every
    /// git process started from another directory acts on the same repository
    /// (peer checkouts clear them, as they do for git's own hook environment).
    pub fn open() -> Result<Workspace> {
        let cwd = std::env::current_dir().map_err(|source| crate::error::StoreError::Io {
            what: "cannot read the current directory",
            source,
        })?;
        let ws = Workspace::discover(&cwd)?;
        if std::env::var_os("GIT_DIR").is_some() {
            // Written only when it changes: the first call, before any thread starts.
            let export = |key: &str, value: PathBuf| {
                if std::env::var_os(key).as_deref() != Some(value.as_os_str()) {
                    std::env::set_var(key, value);
                }
            };
            export("GIT_DIR", cwd.join(ws.store.git_dir()));
            if let Some(root) = ws.store.work_dir() {
                export("GIT_WORK_TREE", cwd.join(root));
            }
        }
        Ok(ws)
    }

    /// The repository git would use from `dir`.
    pub fn discover(dir: &Path) -> Result<Workspace> {
        Ok(Workspace::from_store(Store::discover(dir)?))
    }

    pub fn from_store(store: Store) -> Workspace {
        Workspace {
            store,
            config: OnceCell::new(),
            peers: OnceCell::new(),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// fleet.toml: the work tree's, or in a bare repository (a server) the
    /// one in its HEAD commit; missing is the empty config.
    pub fn config(&self) -> Result<&Config> {
        if let Some(c) = self.config.get() {
            return Ok(c);
        }
        let config = match self.store.work_dir() {
            Some(root) => Config::load(root)?,
            None => match self.store.rev_commit("HEAD") {
                Ok(head) => match self.store.read_path(head, CONFIG_FILE)? {
                    Some(bytes) => Config::parse("fleet.toml (HEAD)", &bytes)?,
                    None => Config::default(),
                },
                Err(_) => Config::default(),
            },
        };
        Ok(self.config.get_or_init(|| config))
    }

    /// The bounded-write rules of fleet.toml (`[[policy]]`).
    pub fn policy(&self) -> Result<&Policy> {
        Ok(&self.config()?.policy)
    }

    /// The declared peers: fleet.toml's, then this machine's
    /// `.git/fleet.local.toml` (a local peer replaces a shared one).
    pub fn peers(&self) -> Result<&[Peer]> {
        if let Some(p) = self.peers.get() {
            return Ok(p);
        }
        let git_dir = self.store.repo().common_dir();
        let peers = match self.store.work_dir() {
            // The fleet.toml already parsed for everything else.
            Some(root) => self
                .config()?
                .peers(Some(root), git_dir, home().as_deref())?,
            None => peers_config::load(None, git_dir, home().as_deref())?,
        };
        Ok(self.peers.get_or_init(|| peers))
    }

    /// `origin` if it exists, else the only remote, else none.
    pub fn default_remote(&self) -> Option<String> {
        self.store.default_remote()
    }

    /// The desired file of `target`, relative to the repository root
    /// (an undeclared target: fleet.yaml).
    pub fn desired_path(&self, target: &str) -> Result<String> {
        Ok(self
            .config()?
            .target(target)
            .map(|t| t.desired_path())
            .unwrap_or_else(|| DEFAULT_DESIRED.to_string()))
    }

    /// fleet.toml as commit `rev` has it (missing: the empty config),
    /// named `label` in errors.
    pub fn config_at(&self, rev: &str, label: &str) -> Result<Config> {
        let commit = self.store.rev_commit(rev)?;
        match self.store.read_path(commit, CONFIG_FILE)? {
            Some(bytes) => Config::parse(label, &bytes),
            None => Ok(Config::default()),
        }
    }

    /// Where git runs for this repository: the work tree root, where
    /// relative config paths resolve as they do for the user, else the git dir.
    pub fn run_dir(&self) -> &Path {
        self.store.work_dir().unwrap_or(self.store.git_dir())
    }
}

/// What `diff --check` (and the pre-commit hook) found: the desired files
/// checked (by label) and every problem, located.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    pub checked: Vec<String>,
    pub problems: Vec<Diagnostic>,
}

impl CheckReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Workspace {
    /// Validate the desired file of `target` (default: every declared
    /// target's, else fleet.yaml) as `source` has it, and once fleet.toml has a
    /// `[[policy]]`, decide its changes for the local actor. A missing file is
    /// skipped; problems are collected, not returned as errors.
    pub fn check_desired(&self, target: Option<&str>, source: &Source) -> Result<CheckReport> {
        let config = self.config()?;
        let mut paths: Vec<String> = match (target, source) {
            (Some(t), _) => vec![self.desired_path(t)?],
            (None, Source::File(_)) => vec![DEFAULT_DESIRED.into()],
            (None, _) if config.targets.is_empty() => vec![DEFAULT_DESIRED.into()],
            (None, _) => config.targets.values().map(|t| t.desired_path()).collect(),
        };
        paths.sort();
        paths.dedup();
        let mut report = CheckReport::default();
        for path in &paths {
            let input = desired::read(&self.store, source, path)?;
            if !input.exists {
                continue;
            }
            report.checked.push(input.label.clone());
            match desired::parse_cached(&self.store, &input) {
                Ok(parsed) if !config.policy.is_empty() => {
                    let found = self.policy_problems(source, path, &input.label, &parsed.fleet)?;
                    report.problems.extend(found);
                }
                Ok(_) => {}
                Err(Error::Invalid(diags)) => report.problems.extend(diags),
                Err(other) => return Err(other),
            }
        }
        Ok(report)
    }

    /// Bounded writes at commit time: the changes this file makes against HEAD
    /// (against REV's parent with --rev), decided for the local actor (user.email,
    /// or the principal the allowed signers file gives the signing key) on every
    /// target the file serves. A base that does not parse refuses: the change
    /// cannot be decided.
    fn policy_problems(
        &self,
        source: &Source,
        path: &str,
        label: &str,
        checked: &Fleet,
    ) -> Result<Vec<Diagnostic>> {
        let config = self.config()?;
        let base_rev = match source {
            Source::Rev(rev) => format!("{rev}^"),
            _ => "HEAD".to_string(),
        };
        let base = match self.store.rev_commit(&base_rev) {
            Ok(_) => {
                let input = desired::read(&self.store, &Source::Rev(base_rev.clone()), path)?;
                match desired::parse(&input) {
                    Ok(p) => p.fleet,
                    Err(e) => {
                        return Ok(vec![Diagnostic::new(
                            label,
                            format!(
                                "cannot check the policy: {path} at {base_rev} does not parse ({e})"
                            ),
                        )])
                    }
                }
            }
            Err(_) => Default::default(), // no commit yet: everything is new
        };
        let actor = policy::local_actor(self.run_dir(), &self.store.actor().email);
        let known = live::known_targets(&self.store, config)?;
        let targets: Vec<String> = policy::desired_files(config, &known)
            .into_iter()
            .find(|(p, _)| p == path)
            .map(|(_, t)| t)
            .unwrap_or_default();
        let changes = diff(&base, checked).changes;
        let mut decisions = Vec::new();
        if targets.is_empty() {
            decisions.extend(config.policy.check(&actor, None, &changes));
        }
        for t in &targets {
            decisions.extend(config.policy.check(&actor, Some(t), &changes));
        }
        Ok(decisions
            .into_iter()
            .filter_map(|d| d.refusal)
            .map(|why| Diagnostic::new(label, why))
            .collect())
    }
}

/// `$HOME`, when set and not empty (peers' `~/` locations).
pub fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str]) {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
    }

    fn repo() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        git(dir.path(), &["init", "-q", "-b", "main"]);
        dir
    }

    #[test]
    fn fleet_toml_is_parsed_once_and_only_when_asked() {
        let dir = repo();
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "[targets.prod]\ndesired = \"p.yaml\"\n",
        )
        .unwrap();
        let ws = Workspace::discover(dir.path()).unwrap();
        let first: *const Config = ws.config().unwrap();
        // Changed on disk after the first read: the process keeps one view.
        std::fs::write(dir.path().join(CONFIG_FILE), "not toml [").unwrap();
        let second: *const Config = ws.config().unwrap();
        assert_eq!(first, second);
        assert_eq!(ws.desired_path("prod").unwrap(), "p.yaml");
        assert_eq!(ws.desired_path("other").unwrap(), DEFAULT_DESIRED);
        // A fresh workspace that never asks for fleet.toml opens fine
        // (the server hooks' case); asking reports the file.
        let broken = Workspace::discover(dir.path()).unwrap();
        assert_eq!(broken.run_dir(), ws.run_dir());
        let err = broken.config().unwrap_err().to_string();
        assert!(err.contains(CONFIG_FILE), "{err}");
    }

    #[test]
    fn fleet_toml_at_a_revision_and_the_default_remote() {
        let dir = repo();
        let ws = Workspace::discover(dir.path()).unwrap();
        assert_eq!(ws.default_remote(), None);
        std::fs::write(dir.path().join(CONFIG_FILE), "[targets.staging]\n").unwrap();
        git(dir.path(), &["add", CONFIG_FILE]);
        git(
            dir.path(),
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@e",
                "commit",
                "-qm",
                "c",
            ],
        );
        git(dir.path(), &["remote", "add", "backup", "/nowhere"]);
        let ws = Workspace::discover(dir.path()).unwrap();
        assert_eq!(ws.default_remote().as_deref(), Some("backup"));
        let at_head = ws.config_at("HEAD", "fleet.toml (HEAD)").unwrap();
        assert!(at_head.targets.contains_key("staging"));
        assert!(ws.config_at("no-such-rev", "x").is_err());
    }
}
