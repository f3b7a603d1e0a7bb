//! Git notes under `refs/notes/fleet/<name>`, written in git's own layout with a
//! fixed two-level fanout (`ab/cd/<rest>`), so one append touches three small
//! trees whatever the number of notes, and `git notes`/`git log --notes` read them.

use super::Store;
use crate::error::{Error, GitContext, Result};
use gix::object::tree::EntryKind;
use gix::ObjectId;

/// `fanout`, `fleet/fanout` or `refs/notes/fleet/fanout` -> `refs/notes/fleet/fanout`.
pub fn notes_ref(name: &str) -> Result<String> {
    let full = if name.starts_with("refs/") {
        name.to_string()
    } else if let Some(rest) = name.strip_prefix("notes/") {
        format!("refs/notes/{rest}")
    } else if name.starts_with("fleet/") {
        format!("refs/notes/{name}")
    } else {
        format!("refs/notes/fleet/{name}")
    };
    if !full.starts_with("refs/notes/") || gix::refs::FullName::try_from(full.as_str()).is_err() {
        return Err(Error::usage(format!("invalid notes ref '{name}'")));
    }
    Ok(full)
}

/// Where git may keep the note of `hex`: our two-level fanout first, then the others.
fn candidate_paths(hex: &str) -> [String; 3] {
    [
        format!("{}/{}/{}", &hex[..2], &hex[2..4], &hex[4..]),
        format!("{}/{}", &hex[..2], &hex[2..]),
        hex.to_string(),
    ]
}

/// Blocks are separated by blank lines; a note is the union of its blocks.
pub fn blocks(note: &str) -> Vec<&str> {
    note.split("\n\n")
        .map(|b| b.trim_matches('\n'))
        .filter(|b| !b.trim().is_empty())
        .collect()
}

impl Store {
    /// The note on `object` in `notes_ref`, if any.
    pub fn note_read(&self, notes_ref: &str, object: ObjectId) -> Result<Option<String>> {
        let Some(tip) = self.resolve(notes_ref)? else {
            return Ok(None);
        };
        Ok(self.note_at(tip, object)?.map(|(_, text)| text))
    }

    /// The note's path and text in the notes commit `tip`.
    fn note_at(&self, tip: ObjectId, object: ObjectId) -> Result<Option<(String, String)>> {
        let hex = object.to_string();
        let tree = self
            .repo
            .find_commit(tip)
            .git(|| format!("cannot read notes commit {tip}"))?
            .tree()
            .git(|| format!("cannot read the tree of notes commit {tip}"))?;
        for path in candidate_paths(&hex) {
            if let Some(entry) = tree
                .lookup_entry_by_path(&path)
                .git(|| format!("cannot look up note {path}"))?
            {
                if entry.mode().is_blob() {
                    let blob = self
                        .repo
                        .find_blob(entry.object_id())
                        .git(|| format!("cannot read note {path}"))?;
                    return Ok(Some((
                        path,
                        String::from_utf8_lossy(&blob.data).into_owned(),
                    )));
                }
            }
        }
        Ok(None)
    }

    /// Add `block` to the note on `object`, keeping every block already there
    /// (a block already present is not added twice). Safe under concurrent writers.
    /// Returns the new notes commit, or None when the block was already there.
    pub fn note_append(
        &self,
        notes_ref: &str,
        object: ObjectId,
        block: &str,
    ) -> Result<Option<ObjectId>> {
        let block = block.trim_matches('\n');
        if block.trim().is_empty() {
            return Err(Error::usage("refusing to append an empty note block"));
        }
        let hex = object.to_string();
        let target_path = candidate_paths(&hex)[0].clone();
        let log = format!("git-fleet: note on {hex}");
        self.update_ref(notes_ref, &log, |tip| {
            let (old_path, old_text) = match tip {
                Some(tip) => self.note_at(tip, object)?.unzip(),
                None => (None, None),
            };
            let text = match old_text {
                Some(old) if blocks(&old).contains(&block) => return Ok(None),
                Some(old) => format!("{}\n\n{block}\n", old.trim_end_matches('\n')),
                None => format!("{block}\n"),
            };
            let blob = self.write_blob(text.as_bytes())?;
            let base = match tip {
                Some(tip) => self
                    .repo
                    .find_commit(tip)
                    .git(|| format!("cannot read notes commit {tip}"))?
                    .tree_id()
                    .git(|| format!("cannot read tree of {tip}"))?
                    .detach(),
                None => ObjectId::empty_tree(self.repo.object_hash()),
            };
            let mut editor = self
                .repo
                .edit_tree(base)
                .git(|| format!("cannot edit notes tree {base}"))?;
            if let Some(old_path) = old_path.filter(|p| *p != target_path) {
                editor
                    .remove(old_path.as_str())
                    .git(|| format!("cannot move note {old_path}"))?;
            }
            editor
                .upsert(target_path.as_str(), EntryKind::Blob, blob)
                .git(|| format!("cannot write note {target_path}"))?;
            let tree = editor
                .write()
                .git(|| "cannot write notes tree".into())?
                .detach();
            let commit = self.new_commit("Notes added by 'git fleet'\n", tree, tip)?;
            Ok(Some((commit, commit)))
        })
    }
}
