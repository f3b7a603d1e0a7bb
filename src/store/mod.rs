//! All state lives in git objects under `refs/fleet/*` and `refs/notes/fleet/*`.
//! Every ref update is a compare-and-swap against the value read, retried on conflict,
//! so concurrent writers never lose a record.

mod chain;
mod loose;
pub mod notes;
mod refs;

pub use chain::{ChainEntry, ChainWalk, TreeEdits};
pub use refs::RefUpdate;

use crate::error::{Error, GitContext, Result, StoreError};
use gix::ObjectId;
use std::path::{Path, PathBuf};

/// A repository opened for reading and writing fleet records.
pub struct Store {
    repo: gix::Repository,
    /// Made on the first object written (see `loose`). Keep it small: the
    /// store moves by value, and gix's writer, with its 32 KiB buffer inline,
    /// once gave three functions 64-107 KiB stack frames.
    loose: std::cell::RefCell<Option<loose::LooseWriter>>,
}

/// Who wrote a record, taken from git's committer identity (env and config).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Actor {
    pub name: String,
    pub email: String,
}

impl Store {
    /// Open the repository git would use from `dir`: `GIT_DIR` (with
    /// `GIT_WORK_TREE`) when set, else the one containing `dir`, searching
    /// upwards (honouring `GIT_CEILING_DIRECTORIES`).
    pub fn discover(dir: &Path) -> Result<Store> {
        let repo = gix::discover_with_environment_overrides(dir).map_err(|e| {
            if let Some(git_dir) = std::env::var_os("GIT_DIR") {
                return Error::usage(format!(
                    "GIT_DIR={} is not a git repository ({e})",
                    Path::new(&git_dir).display()
                ));
            }
            Error::usage_hint(
                format!("not a git repository: {} ({e})", dir.display()),
                "run git-fleet inside a git repository (or `git init` one first)",
            )
        })?;
        Ok(Store::with_caches(repo))
    }

    pub fn open(dir: &Path) -> Result<Store> {
        let repo = gix::open(dir).git(|| format!("cannot open repository {}", dir.display()))?;
        Ok(Store::with_caches(repo))
    }

    /// A delta-base cache, as git keeps one: without it every object at the
    /// end of a delta chain in a pack re-inflates the whole chain (notes blobs
    /// of similar receipts, in a packed repository).
    fn with_caches(mut repo: gix::Repository) -> Store {
        repo.objects
            .set_pack_cache(|| Box::<gix::odb::pack::cache::lru::StaticLinkedList<64>>::default());
        Store {
            repo,
            loose: Default::default(),
        }
    }

    pub fn repo(&self) -> &gix::Repository {
        &self.repo
    }

    pub fn git_dir(&self) -> &Path {
        self.repo.git_dir()
    }

    /// The work tree root, if the repository has one.
    /// `origin` if it exists, else the only remote, else none.
    pub fn default_remote(&self) -> Option<String> {
        let names: Vec<String> = self
            .repo
            .remote_names()
            .into_iter()
            .map(|n| n.to_string())
            .collect();
        if names.iter().any(|n| n == "origin") {
            Some("origin".into())
        } else if names.len() == 1 {
            names.into_iter().next()
        } else {
            None
        }
    }

    pub fn work_dir(&self) -> Option<&Path> {
        self.repo.workdir()
    }

    /// A private directory for git-fleet's local state (`.git/fleet`).
    pub fn local_dir(&self) -> PathBuf {
        self.repo.common_dir().join("fleet")
    }

    /// `<git dir>/fleet/<name>` opened for appending (created with its
    /// directory when missing): the logs hooks and notifications keep.
    pub fn open_log(&self, name: &str) -> Result<(std::fs::File, PathBuf)> {
        let dir = self.local_dir();
        let path = dir.join(name);
        let write_err = |source| Error::Write {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(write_err)?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(write_err)?;
        Ok((file, path))
    }

    pub fn actor(&self) -> Actor {
        let (name, email) = self.identity();
        Actor { name, email }
    }

    /// The commit signature used for records: the configured committer, or a
    /// stable fallback so recording never fails for lack of an identity.
    pub(crate) fn signature(&self) -> gix::actor::Signature {
        // A fixed GIT_COMMITTER_DATE (tests, reproducible runs) goes through gix.
        // Otherwise record UTC: finding the local zone's name costs a scan of
        // the zoneinfo tree on every write, more than the write itself.
        if std::env::var_os("GIT_COMMITTER_DATE").is_some() {
            if let Some(Ok(sig)) = self.repo.committer() {
                if let Ok(sig) = sig.to_owned() {
                    return sig;
                }
            }
        }
        let (name, email) = self.identity();
        gix::actor::Signature {
            name: name.into(),
            email: email.into(),
            time: gix::date::Time::now_utc(),
        }
    }

    /// Committer name and email as git resolves them: environment, then
    /// `committer.*`, then `user.*`; a stable fallback when none is set.
    fn identity(&self) -> (String, String) {
        if let Some(ident) = self.git_var_identity() {
            return ident;
        }
        let config = self.repo.config_snapshot();
        let pick = |env: &str, keys: [&str; 2], fallback: &str| {
            std::env::var(env)
                .ok()
                .filter(|v| !v.is_empty())
                .or_else(|| {
                    keys.iter()
                        .find_map(|k| config.string(*k).map(|v| v.to_string()))
                })
                .unwrap_or_else(|| fallback.to_string())
        };
        (
            pick(
                "GIT_COMMITTER_NAME",
                ["committer.name", "user.name"],
                "git-fleet",
            ),
            pick(
                "GIT_COMMITTER_EMAIL",
                ["committer.email", "user.email"],
                "git-fleet@localhost",
            ),
        )
    }

    /// `git -c user.name=...` (GIT_CONFIG_PARAMETERS, GIT_CONFIG_COUNT) is
    /// config gix does not see: then ask git itself (`git var
    /// GIT_COMMITTER_IDENT`), once per process.
    fn git_var_identity(&self) -> Option<(String, String)> {
        if std::env::var_os("GIT_CONFIG_PARAMETERS").is_none()
            && std::env::var_os("GIT_CONFIG_COUNT").is_none()
        {
            return None;
        }
        static IDENT: std::sync::OnceLock<Option<(String, String)>> = std::sync::OnceLock::new();
        IDENT
            .get_or_init(|| {
                let dir = self.work_dir().unwrap_or(self.git_dir());
                let out = crate::gitcmd::git(dir, &["var", "GIT_COMMITTER_IDENT"]).ok()?;
                let line = out.stdout.trim();
                let (name, rest) = line.split_once(" <")?;
                let (email, _) = rest.split_once('>')?;
                (out.success && !email.is_empty())
                    .then(|| (name.trim().to_string(), email.to_string()))
            })
            .clone()
    }

    /// The object a ref points to, peeled to the first non-tag object.
    pub fn resolve(&self, name: &str) -> Result<Option<ObjectId>> {
        self.ref_id(name, gix::Reference::peel_to_id)
    }

    /// The object `name` points at, following symbolic refs but not peeling
    /// tags: the value a compare-and-swap of the ref compares against (git's
    /// old value). Unlike [`Store::resolve`] it reads no object.
    pub fn ref_target(&self, name: &str) -> Result<Option<ObjectId>> {
        self.ref_id(name, gix::Reference::follow_to_object)
    }

    fn ref_id<'r, E: std::error::Error + Send + Sync + 'static>(
        &'r self,
        name: &str,
        to_id: impl FnOnce(&mut gix::Reference<'r>) -> std::result::Result<gix::Id<'r>, E>,
    ) -> Result<Option<ObjectId>> {
        let found = self
            .repo
            .try_find_reference(name)
            .git(|| format!("cannot read ref {name}"))?;
        match found {
            Some(mut r) => Ok(Some(
                to_id(&mut r)
                    .git(|| format!("cannot resolve ref {name}"))?
                    .detach(),
            )),
            None => Ok(None),
        }
    }

    /// Resolve a revision (`HEAD`, `main~2`, a hash) to a commit id.
    pub fn rev_commit(&self, rev: &str) -> Result<ObjectId> {
        // A full object id is an id, as in git: no prefix search over every
        // pack index and loose directory (hooks and scripts pass full ids).
        let full = (rev.len() == self.repo.object_hash().len_in_hex())
            .then(|| ObjectId::from_hex(rev.as_bytes()).ok())
            .flatten();
        let object = match full {
            Some(id) => match self
                .repo
                .try_find_header(id)
                .git(|| format!("cannot read {rev}"))?
            {
                None => {
                    return Err(Error::usage(format!(
                        "unknown revision '{rev}': no such object"
                    )))
                }
                // A commit's header is enough; a tag is read and peeled below.
                Some(header) if header.kind() == gix::objs::Kind::Commit => return Ok(id),
                Some(_) => self
                    .repo
                    .find_object(id)
                    .git(|| format!("cannot read {rev}"))?,
            },
            None => self
                .repo
                .rev_parse_single(rev)
                .map_err(|e| Error::usage(format!("unknown revision '{rev}': {e}")))?
                .object()
                .git(|| format!("cannot read {rev}"))?,
        };
        let commit = object
            .peel_to_commit()
            .map_err(|_| Error::usage(format!("revision '{rev}' is not a commit")))?;
        Ok(commit.id)
    }

    pub fn write_blob(&self, data: &[u8]) -> Result<ObjectId> {
        self.write_object_data(gix::objs::Kind::Blob, data)
    }

    /// Write a tree, commit or other object (see `write_object_data`).
    pub(crate) fn write_object(&self, object: &impl gix::objs::WriteTo) -> Result<ObjectId> {
        let mut data = Vec::with_capacity(object.size() as usize);
        object
            .write_to(&mut data)
            .git(|| "cannot encode an object".into())?;
        self.write_object_data(object.kind(), &data)
    }

    /// The bytes of the blob at `path` in the tree of `commit`, if any.
    pub fn read_path(&self, commit: ObjectId, path: &str) -> Result<Option<Vec<u8>>> {
        let tree = self
            .repo
            .find_commit(commit)
            .git(|| format!("cannot read commit {commit}"))?
            .tree()
            .git(|| format!("cannot read tree of {commit}"))?;
        let entry = tree
            .lookup_entry_by_path(path)
            .git(|| format!("cannot look up {path} in {commit}"))?;
        match entry {
            Some(entry) if entry.mode().is_blob() => {
                let blob = self
                    .repo
                    .find_blob(entry.object_id())
                    .git(|| format!("cannot read {path} in {commit}"))?;
                Ok(Some(blob.data.clone()))
            }
            _ => Ok(None),
        }
    }

    /// Names of refs under `prefix` (e.g. `refs/fleet/live/`), sorted.
    pub fn refs_under(&self, prefix: &str) -> Result<Vec<String>> {
        let platform = self.repo.references().git(|| "cannot list refs".into())?;
        let iter = platform
            .prefixed(prefix)
            .git(|| format!("cannot list refs under {prefix}"))?;
        let mut names = Vec::new();
        for r in iter {
            let r =
                r.map_err(|e| StoreError::repo(format!("cannot list refs under {prefix}"), e))?;
            names.push(r.name().as_bstr().to_string());
        }
        names.sort();
        Ok(names)
    }
}

/// One entry of a tree listing.
#[derive(Debug, Clone)]
pub struct TreeItem {
    pub name: String,
    pub id: ObjectId,
    pub is_tree: bool,
}

impl Store {
    /// The tree of commit `commit`.
    pub fn commit_tree(&self, commit: ObjectId) -> Result<ObjectId> {
        Ok(self
            .repo
            .find_commit(commit)
            .git(|| format!("cannot read commit {commit}"))?
            .tree_id()
            .git(|| format!("cannot read the tree of {commit}"))?
            .detach())
    }

    /// The entries of tree `tree` (not recursive).
    pub fn list_tree(&self, tree: ObjectId) -> Result<Vec<TreeItem>> {
        let tree = self
            .repo
            .find_tree(tree)
            .git(|| format!("cannot read tree {tree}"))?;
        let mut out = Vec::new();
        for entry in tree.iter() {
            let entry = entry.git(|| "cannot decode a tree entry".into())?;
            out.push(TreeItem {
                name: entry.inner.filename.to_string(),
                id: entry.inner.oid.to_owned(),
                is_tree: entry.inner.mode.is_tree(),
            });
        }
        Ok(out)
    }

    pub fn read_blob(&self, id: ObjectId) -> Result<Vec<u8>> {
        Ok(self
            .repo
            .find_blob(id)
            .git(|| format!("cannot read blob {id}"))?
            .data
            .clone())
    }
}

impl Store {
    /// The bytes at `path` inside tree `tree`, if it is a blob.
    pub fn read_path_in_tree(&self, tree: ObjectId, path: &str) -> Result<Option<Vec<u8>>> {
        let tree = self
            .repo
            .find_tree(tree)
            .git(|| format!("cannot read tree {tree}"))?;
        match tree
            .lookup_entry_by_path(path)
            .git(|| format!("cannot look up {path}"))?
        {
            Some(e) if e.mode().is_blob() => Ok(Some(self.read_blob(e.object_id())?)),
            _ => Ok(None),
        }
    }

    /// A commit object with any number of parents (merges), no ref moved.
    pub fn new_commit_with_parents(
        &self,
        message: &str,
        tree: ObjectId,
        parents: &[ObjectId],
    ) -> Result<ObjectId> {
        let sig = self.signature();
        let mut buf = gix::date::parse::TimeBuf::default();
        let sig_ref = sig.to_ref(&mut buf);
        // Not `new_commit_as`, which reads the new commit back from disk.
        let commit = gix::objs::Commit {
            message: message.into(),
            tree,
            author: sig_ref.into(),
            committer: sig_ref.into(),
            encoding: None,
            parents: parents.iter().copied().collect(),
            extra_headers: Vec::new(),
        };
        self.write_object(&commit)
    }

    /// Whether `ancestor` is reachable from `descendant` (or equal).
    pub fn is_ancestor(&self, ancestor: ObjectId, descendant: ObjectId) -> Result<bool> {
        if ancestor == descendant {
            return Ok(true);
        }
        match self.repo.merge_base(ancestor, descendant) {
            Ok(base) => Ok(base.is_some_and(|b| b.detach() == ancestor)),
            Err(_) => Ok(false),
        }
    }
}
