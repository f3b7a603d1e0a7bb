//! Append-only commit chains under `refs/fleet/...`: one commit per record, the
//! commit message is the human-readable record and the tree carries its data.

use super::Store;
use crate::error::{GitContext, Result};
use gix::object::tree::EntryKind;
use gix::ObjectId;

/// One record of a chain.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ChainEntry {
    pub commit: String,
    pub message: String,
    /// Seconds since the epoch (committer time).
    pub time: i64,
    pub author: String,
}

/// What to write in the next chain commit: files to add or replace, paths to remove.
#[derive(Default)]
pub struct TreeEdits {
    pub upserts: Vec<(String, ObjectId)>,
    pub removals: Vec<String>,
    /// Start from an empty tree instead of the previous record's tree.
    pub replace_all: bool,
}

impl Store {
    /// Append one commit to the chain at `ref_name`. `edits` receives the current
    /// tip (None for a new chain) and returns the tree edits and message; it is
    /// called again if another writer appended first.
    pub fn chain_append(
        &self,
        ref_name: &str,
        mut edits: impl FnMut(Option<ObjectId>) -> Result<(TreeEdits, String)>,
    ) -> Result<ObjectId> {
        let log = format!("git-fleet: append to {ref_name}");
        let appended = self.update_ref(ref_name, &log, |tip| {
            let (edit, message) = edits(tip)?;
            let base_tree = match tip {
                Some(tip) if !edit.replace_all => self
                    .repo
                    .find_commit(tip)
                    .git(|| format!("cannot read {ref_name} at {tip}"))?
                    .tree_id()
                    .git(|| format!("cannot read tree of {tip}"))?
                    .detach(),
                _ => ObjectId::empty_tree(self.repo.object_hash()),
            };
            let mut editor = self
                .repo
                .edit_tree(base_tree)
                .git(|| format!("cannot edit tree {base_tree}"))?;
            for (path, blob) in &edit.upserts {
                editor
                    .upsert(path.as_str(), EntryKind::Blob, *blob)
                    .git(|| format!("cannot add {path} to the tree"))?;
            }
            for path in &edit.removals {
                editor
                    .remove(path.as_str())
                    .git(|| format!("cannot remove {path} from the tree"))?;
            }
            let tree = editor.write().git(|| "cannot write tree".into())?.detach();
            let commit = self.new_commit(&message, tree, tip)?;
            Ok(Some((commit, commit)))
        })?;
        Ok(appended.expect("chain append always writes"))
    }

    /// Write a commit object (no ref) with the record signature.
    pub(crate) fn new_commit(
        &self,
        message: &str,
        tree: ObjectId,
        parent: Option<ObjectId>,
    ) -> Result<ObjectId> {
        self.new_commit_with_parents(message, tree, parent.as_slice())
    }

    /// The chain's records, newest first (first-parent history of the ref).
    pub fn chain_walk(&self, ref_name: &str) -> Result<ChainWalk<'_>> {
        Ok(ChainWalk {
            store: self,
            next: self.resolve(ref_name)?,
        })
    }

    /// The records from commit `tip` down its first-parent history, newest first.
    pub fn chain_walk_from(&self, tip: ObjectId) -> ChainWalk<'_> {
        ChainWalk {
            store: self,
            next: Some(tip),
        }
    }

    pub fn chain_entry(&self, commit: ObjectId) -> Result<(ChainEntry, Option<ObjectId>)> {
        let c = self
            .repo
            .find_commit(commit)
            .git(|| format!("cannot read commit {commit}"))?;
        let decoded = c
            .decode()
            .git(|| format!("cannot decode commit {commit}"))?;
        let parent = decoded.parents().next();
        let committer = decoded
            .committer()
            .git(|| format!("cannot decode committer of {commit}"))?;
        let entry = ChainEntry {
            commit: commit.to_string(),
            message: decoded.message.to_string(),
            time: committer.time().map(|t| t.seconds).unwrap_or(0),
            author: format!("{} <{}>", committer.name, committer.email),
        };
        Ok((entry, parent))
    }
}

pub struct ChainWalk<'a> {
    store: &'a Store,
    next: Option<ObjectId>,
}

impl Iterator for ChainWalk<'_> {
    type Item = Result<(ObjectId, ChainEntry)>;

    fn next(&mut self) -> Option<Self::Item> {
        let commit = self.next.take()?;
        match self.store.chain_entry(commit) {
            Ok((entry, parent)) => {
                self.next = parent;
                Some(Ok((commit, entry)))
            }
            Err(e) => Some(Err(e)),
        }
    }
}
