//! One edit of a target's desired file, shared by set, adopt and promote:
//! refuse a dirty file, edit losslessly, re-parse and validate, measure the
//! blast radius with diff's own function, decide the policy for the actor as
//! pre-commit does, and commit only that file.

use super::select::Selector;
use super::yamledit::{self, Edit};
use crate::config::Config;
use crate::error::{Error, Result, StoreError};
use crate::fleet::diff::{diff, Change, ChangeType, Diff};
use crate::fleet::{Fleet, Kind};
use crate::gitcmd::git;
use crate::policy::Decision;
use crate::store::Store;
use std::path::{Path, PathBuf};

/// Where an edit goes: a target (when one is known) and its desired file.
#[derive(Debug, Clone)]
pub struct Place {
    pub target: Option<String>,
    /// Relative to the repository root.
    pub path: String,
    pub root: PathBuf,
}

/// The target named, else the only known one, else none (fleet.yaml).
pub fn place(store: &Store, config: &Config, named: Option<&str>) -> Result<Place> {
    let known = crate::live::known_targets(store, config)?;
    let target = match named {
        None if known.is_empty() => None,
        _ => Some(crate::live::resolve_target(store, config, named)?),
    };
    let path = match &target {
        Some(t) => crate::reconcile::desired_path(&crate::reconcile::target_config(config, t)),
        None => crate::config::DEFAULT_DESIRED.to_string(),
    };
    let root = store
        .work_dir()
        .ok_or_else(|| {
            Error::usage("this repository has no work tree: the desired file is edited in one")
        })?
        .to_path_buf();
    Ok(Place { target, path, root })
}

/// An exclusive flock on one desired file, held from reading it to
/// committing the edit: a second `set`/`adopt`/`promote` on the same file
/// waits, then edits on top of the first one's commit (no lost update).
/// Released when dropped, or by the kernel when its holder dies.
pub struct DesiredLock {
    _file: std::fs::File,
}

impl std::fmt::Debug for DesiredLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DesiredLock")
    }
}

impl Place {
    pub fn lock(&self, store: &Store) -> Result<DesiredLock> {
        use sha2::Digest;
        let dir = store.local_dir().join("locks");
        let write_err = |source| Error::Write {
            path: dir.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(write_err)?;
        let key = format!("{:x}", sha2::Sha256::digest(self.path.as_bytes()));
        let path = dir.join(format!("desired-{}.lock", &key[..16]));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| Error::Write {
                path: path.clone(),
                source,
            })?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive).map_err(|e| {
            Error::Write {
                path: path.clone(),
                source: e.into(),
            }
        })?;
        Ok(DesiredLock { _file: file })
    }

    /// The desired file as it is in the work tree, parsed strictly.
    pub fn read(&self) -> Result<(String, crate::fleet::Parsed)> {
        let file = self.root.join(&self.path);
        let bytes = match crate::config::read_capped(&file, &self.path) {
            Ok(Some(b)) => b,
            Ok(None) => {
                return Err(Error::usage(format!(
                    "{} does not exist: nothing to read or edit",
                    self.path
                )))
            }
            Err(e) => return Err(e),
        };
        let parsed = crate::fleet::parse(&self.path, &bytes)?;
        let text = String::from_utf8(bytes)
            .map_err(|_| Error::usage(format!("{} is not UTF-8", self.path)))?;
        Ok((text, parsed))
    }

    /// Refuse to commit over someone's staged or unstaged edits of the file.
    pub fn require_clean(&self) -> Result<()> {
        let out = git(
            &self.root,
            &[
                "status",
                "--porcelain",
                "--untracked-files=no",
                "--",
                &self.path,
            ],
        )?;
        if !out.success {
            return Err(StoreError::git_failed("git status", &out.stderr).into());
        }
        if !out.stdout.trim().is_empty() {
            return Err(Error::usage_hint(
                format!(
                    "{} has uncommitted changes: refusing to commit them along with this edit",
                    self.path
                ),
                format!("commit or stash your changes to {} first", self.path),
            ));
        }
        Ok(())
    }
}

/// An edit ready to commit (or to show, with --dry-run).
#[derive(Debug)]
pub struct Prepared {
    pub place: Place,
    pub before_text: String,
    pub after_text: String,
    pub before: Fleet,
    pub after: Fleet,
    /// Before -> after, with blast radius (what `diff` would show).
    pub diff: Diff,
    /// One per change and target the file serves.
    pub decisions: Vec<Decision>,
    pub actor: String,
}

impl Prepared {
    pub fn refusals(&self) -> Vec<String> {
        self.decisions
            .iter()
            .filter_map(|d| d.refusal.clone())
            .collect()
    }

    /// The rule that allowed each change, for the commit message.
    pub fn policy_notes(&self) -> Vec<String> {
        let mut notes: Vec<String> = self.decisions.iter().map(Decision::policy_note).collect();
        notes.sort();
        notes.dedup();
        notes
    }
}

/// Apply `edits` to the place's desired file in memory and decide them.
/// `read` is what [`Place::read`] returned (read once, under the lock).
pub fn prepare(
    store: &Store,
    config: &Config,
    place: &Place,
    read: (String, crate::fleet::Parsed),
    edits: &[Edit],
) -> Result<Prepared> {
    place.require_clean()?;
    let (before_text, before) = read;
    let (after_text, after) = yamledit::apply(&place.path, &before_text, &before.fleet, edits)?;
    let changes = diff(&before.fleet, &after.fleet);
    let email = store.actor().email;
    let actor = crate::policy::local_actor(&place.root, &email);
    let known = crate::live::known_targets(store, config)?;
    let mut targets: Vec<String> = crate::policy::desired_files(config, &known)
        .into_iter()
        .find(|(p, _)| *p == place.path)
        .map(|(_, t)| t)
        .unwrap_or_default();
    if let Some(t) = &place.target {
        if !targets.contains(t) {
            targets.push(t.clone());
        }
    }
    let mut decisions = Vec::new();
    if targets.is_empty() {
        decisions.extend(config.policy.check(&actor, None, &changes.changes));
    }
    for t in &targets {
        decisions.extend(config.policy.check(&actor, Some(t), &changes.changes));
    }
    Ok(Prepared {
        place: place.clone(),
        before_text,
        after_text,
        before: before.fleet,
        after: after.fleet,
        diff: changes,
        decisions,
        actor: actor.to_string(),
    })
}

/// Write the edited file and commit it after its receipts: one receipt per
/// changed resource (each with the usual `Fleet-Change`, so a server decides
/// each for its signer like any other receipt), then the commit naming them
/// (`Fleet-Receipt`), as a manual snapshot does. `message` ends with its
/// trailers. The commit's id and the receipts' ids.
pub fn commit_with_receipts(
    store: &Store,
    prepared: &Prepared,
    action: &str,
    changes: &[Change],
    extra: &[(String, String)],
    message: &str,
) -> Result<(String, Vec<String>)> {
    let head = store.rev_commit("HEAD")?;
    let blob = store.write_blob(prepared.after_text.as_bytes())?;
    let mut receipts = Vec::new();
    for change in changes {
        let resource = format!("{}/{}", change.kind, change.name);
        let policy = prepared
            .decisions
            .iter()
            .find(|d| d.resource == resource)
            .map(|d| d.policy_note());
        let mut fields = vec![("Fleet-Desired".to_string(), prepared.place.path.clone())];
        fields.extend(extra.iter().cloned());
        let receipt = crate::receipts::append(
            store,
            &crate::receipts::ReceiptInput {
                action: action.into(),
                source_commit: head,
                target: prepared.place.target.clone(),
                proposal: None,
                change: Some(format!("{} {resource}", change.change.as_str())),
                policy,
                before: Some(head.to_string()),
                after: Some(format!("content {blob}")),
                extra: fields,
            },
        )?;
        receipts.push(receipt.id);
    }
    let mut message = message.trim_end().to_string();
    message.push('\n');
    for id in &receipts {
        message.push_str(&format!("Fleet-Receipt: {id}\n"));
    }
    let commit = commit(prepared, &message)?;
    Ok((commit, receipts))
}

/// Write the edited file and commit only it; the new commit's id. On a
/// failed commit the file is put back as it was.
pub fn commit(prepared: &Prepared, message: &str) -> Result<String> {
    let file = prepared.place.root.join(&prepared.place.path);
    // Someone may have edited the file by hand since it was read: never
    // write over that.
    prepared.place.require_clean()?;
    let now = std::fs::read(&file).map_err(|source| Error::Read {
        path: file.clone(),
        source,
    })?;
    if now != prepared.before_text.as_bytes() {
        return Err(Error::usage(format!(
            "{} changed while the edit was prepared: nothing written; run the command again",
            prepared.place.path
        )));
    }
    write_atomic(&file, prepared.after_text.as_bytes())?;
    let out = git(
        &prepared.place.root,
        &["commit", "-q", "-m", message, "--", &prepared.place.path],
    );
    match out {
        Ok(o) if o.success => {}
        other => {
            let _ = write_atomic(&file, prepared.before_text.as_bytes());
            let why = match other {
                Ok(o) => format!("{}{}", o.stdout.trim(), o.stderr.trim()),
                Err(e) => e.to_string(),
            };
            let what = format!(
                "git commit of {} failed (the file is back as it was)",
                prepared.place.path
            );
            return Err(StoreError::git_failed(what, &why).into());
        }
    }
    let head = git(&prepared.place.root, &["rev-parse", "HEAD"])?;
    Ok(head.stdout.trim().to_string())
}

fn write_atomic(file: &Path, bytes: &[u8]) -> Result<()> {
    let dir = file.parent().unwrap_or(Path::new("."));
    let write_err = |source| Error::Write {
        path: file.to_path_buf(),
        source,
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(write_err)?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(write_err)?;
    // Keep the file's mode (a rename would otherwise make it 0600).
    if let Ok(meta) = std::fs::metadata(file) {
        let _ = std::fs::set_permissions(tmp.path(), meta.permissions());
    }
    tmp.persist(file).map_err(|e| write_err(e.error))?;
    Ok(())
}

/// The edits that make the selected resources of `from` equal to `to`
/// (create, update field by field, destroy), and the changes they stand for.
pub fn edits_toward(from: &Fleet, to: &Fleet, selectors: &[Selector]) -> (Vec<Change>, Vec<Edit>) {
    let changes: Vec<Change> = diff(from, to)
        .changes
        .into_iter()
        .filter(|c| c.kind != Kind::ProviderConfigs)
        .filter(|c| selectors.is_empty() || selectors.iter().any(|s| s.matches(c.kind, &c.name)))
        .collect();
    let mut edits = Vec::new();
    for c in &changes {
        let base = vec![c.kind.as_str().to_string(), c.name.clone()];
        match c.change {
            ChangeType::Create => {
                if let Some(v) = crate::proposals::resource_json(to, c.kind, &c.name) {
                    edits.push(Edit::Set {
                        path: base,
                        value: v,
                    });
                }
            }
            ChangeType::Destroy => edits.push(Edit::Remove { path: base }),
            ChangeType::Update => {
                for f in &c.fields {
                    let mut path = base.clone();
                    // Config keys are one level deep (`config.<key>`); the
                    // key itself may hold dots.
                    match f.field.strip_prefix("config.") {
                        Some(key) => path.extend(["config".to_string(), key.to_string()]),
                        None => path.push(f.field.clone()),
                    }
                    edits.push(match &f.after {
                        Some(v) => Edit::Set {
                            path,
                            value: v.clone(),
                        },
                        None => Edit::Remove { path },
                    });
                }
            }
        }
    }
    (changes, edits)
}
