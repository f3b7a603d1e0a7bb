//! Git notes under `refs/notes/fleet/<name>`, written in git's own layout with a
//! fixed two-level fanout (`ab/cd/<rest>`), so one append touches three small
//! trees whatever the number of notes, and `git notes`/`git log --notes` read them.

use super::Store;
use crate::error::StoreError;
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
        let tree = self.commit_tree(tip)?;
        ReadOnce::new(&self.repo.objects).note_in(tree, &object.to_string())
    }

    /// The note on `object` as of the notes commit `notes_commit` (not the ref's tip).
    pub fn note_read_at(&self, notes_commit: ObjectId, object: ObjectId) -> Result<Option<String>> {
        Ok(self.note_at(notes_commit, object)?.map(|(_, text)| text))
    }

    /// Every note in the notes commit `notes_commit`: (annotated object, text),
    /// whatever fanout git or we used to store it, sorted by object.
    pub fn notes_at(&self, notes_commit: ObjectId) -> Result<Vec<(ObjectId, String)>> {
        let tree = self.commit_tree(notes_commit)?;
        let mut out = Vec::new();
        self.collect_notes(tree, String::new(), &mut out)?;
        out.sort_by_key(|a| a.0);
        Ok(out)
    }

    fn collect_notes(
        &self,
        tree: ObjectId,
        prefix: String,
        out: &mut Vec<(ObjectId, String)>,
    ) -> Result<()> {
        let hex_len = self.repo.object_hash().len_in_hex();
        for item in self.list_tree(tree)? {
            let path = format!("{prefix}{}", item.name);
            if !item.name.bytes().all(|b| b.is_ascii_hexdigit()) || path.len() > hex_len {
                continue; // not a note (git keeps other files in notes trees too)
            }
            if item.is_tree {
                self.collect_notes(item.id, path, out)?;
            } else if path.len() == hex_len {
                if let Ok(object) = ObjectId::from_hex(path.as_bytes()) {
                    let text = String::from_utf8_lossy(&self.read_blob(item.id)?).into_owned();
                    out.push((object, text));
                }
            }
        }
        Ok(())
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
        let log = format!("git-fleet: note on {object}");
        self.update_ref(notes_ref, &log, |tip| {
            let Some(tree) = self.note_tree_with(tip, object, block)? else {
                return Ok(None);
            };
            let commit = self.new_commit("Notes added by 'git fleet'\n", tree, tip)?;
            Ok(Some((commit, commit)))
        })
    }

    /// Append a block to the note on `object` in one new notes commit whose
    /// message is given too, both computed by `build` from the tip being
    /// replaced (None: the notes ref does not exist yet). When another writer
    /// wins the race, `build` runs again with the new tip, so anything derived
    /// from the tip (a hash chain link) always describes the commit actually
    /// replaced. Always writes a commit, even if an identical block is already
    /// in the note (the note then keeps one copy). Returns the new notes commit
    /// and what `build` returned with the block that was written.
    pub fn note_append_with<T>(
        &self,
        notes_ref: &str,
        object: ObjectId,
        mut build: impl FnMut(Option<ObjectId>) -> Result<(String, String, T)>,
    ) -> Result<(ObjectId, T)> {
        let log = format!("git-fleet: note on {object}");
        let written = self.update_ref(notes_ref, &log, |tip| {
            let (block, message, value) = build(tip)?;
            let block = block.trim_matches('\n');
            if block.trim().is_empty() {
                return Err(Error::usage("refusing to append an empty note block"));
            }
            let tree = match (self.note_tree_with(tip, object, block)?, tip) {
                (Some(tree), _) => tree,
                // Already there (only possible under a tip): keep the tree as is.
                (None, Some(tip)) => self.commit_tree(tip)?,
                (None, None) => ObjectId::empty_tree(self.repo.object_hash()),
            };
            let commit = self.new_commit(&message, tree, tip)?;
            Ok(Some((commit, (commit, value))))
        })?;
        written.ok_or_else(|| {
            StoreError::NotWritten {
                reference: notes_ref.to_string(),
            }
            .into()
        })
    }

    /// The notes tree of `tip` with `block` added to the note on `object`
    /// (moved to our fanout), or None when the note already has that block.
    fn note_tree_with(
        &self,
        tip: Option<ObjectId>,
        object: ObjectId,
        block: &str,
    ) -> Result<Option<ObjectId>> {
        let hash = self.repo.object_hash();
        let hex = object.to_string();
        let target_path = candidate_paths(&hex)[0].clone();
        // The lookup below and the tree editor read the same commit and trees.
        let odb = ReadOnce::new(&self.repo.objects);
        let mut buf = Vec::new();
        let base = match tip {
            Some(tip) => gix::objs::FindExt::find_commit_iter(&odb, &tip, &mut buf)
                .git(|| format!("cannot read notes commit {tip}"))?
                .tree_id()
                .git(|| format!("cannot read the tree of notes commit {tip}"))?,
            None => ObjectId::empty_tree(hash),
        };
        let (old_path, old_text) = match tip {
            Some(_) => odb.note_in(base, &hex)?.unzip(),
            None => (None, None),
        };
        let text = match old_text {
            Some(old) if blocks(&old).contains(&block) => return Ok(None),
            Some(old) => format!("{}\n\n{block}\n", old.trim_end_matches('\n')),
            None => format!("{block}\n"),
        };
        let blob = self.write_blob(text.as_bytes())?;
        let root = if tip.is_some() {
            gix::objs::FindExt::find_tree(&odb, &base, &mut buf)
                .git(|| format!("cannot read notes tree {base}"))?
                .into()
        } else {
            gix::objs::Tree::empty()
        };
        // The plumbing editor: gix's own `Editor::write` looks up every entry
        // of every tree it writes (256 a fanout level, a stat for each loose
        // one), work that grows with the notes. Here every path is hex we
        // made and every id is the blob just written or an entry of the tree.
        let mut editor = gix::objs::tree::Editor::new(root, &odb, hash);
        if let Some(old_path) = old_path.filter(|p| *p != target_path) {
            editor
                .remove(old_path.split('/'))
                .git(|| format!("cannot move note {old_path}"))?;
        }
        editor
            .upsert(target_path.split('/'), EntryKind::Blob, blob)
            .git(|| format!("cannot write note {target_path}"))?;
        Ok(Some(editor.write(|tree| self.write_object(tree))?))
    }
}

/// The objects of one note edit, each read (and inflated) once: the lookup
/// of the note reads the notes commit and up to three trees of the fanout,
/// and the tree editor reads the same trees again.
struct ReadOnce<'a> {
    odb: &'a gix::OdbHandle,
    seen: std::cell::RefCell<Vec<(ObjectId, gix::objs::Kind, Vec<u8>)>>,
}

impl<'a> ReadOnce<'a> {
    fn new(odb: &'a gix::OdbHandle) -> Self {
        ReadOnce {
            odb,
            seen: Default::default(),
        }
    }

    /// The path and text of the note on the object named `hex` in the
    /// notes tree `tree`, whatever fanout holds it.
    fn note_in(&self, tree: ObjectId, hex: &str) -> Result<Option<(String, String)>> {
        let mut buf = Vec::new();
        let mut walk = Vec::new();
        for path in candidate_paths(hex) {
            let root = gix::objs::FindExt::find_tree_iter(self, &tree, &mut buf)
                .git(|| format!("cannot read notes tree {tree}"))?;
            let entry = root
                .lookup_entry(self, &mut walk, path.split('/'))
                .git(|| format!("cannot look up note {path}"))?;
            if let Some(entry) = entry.filter(|e| e.mode.is_blob()) {
                let blob = gix::objs::FindExt::find_blob(self.odb, &entry.oid, &mut buf)
                    .git(|| format!("cannot read note {path}"))?;
                let text = String::from_utf8_lossy(blob.data).into_owned();
                return Ok(Some((path, text)));
            }
        }
        Ok(None)
    }
}

impl gix::objs::Find for ReadOnce<'_> {
    fn try_find<'b>(
        &self,
        id: &gix::oid,
        buffer: &'b mut Vec<u8>,
    ) -> gix::Result<Option<gix::objs::Data<'b>>> {
        if let Some((_, kind, data)) = self.seen.borrow().iter().find(|(i, ..)| i.as_ref() == id) {
            buffer.clear();
            buffer.extend_from_slice(data);
            return Ok(Some(gix::objs::Data::new(buffer, *kind, id.kind())));
        }
        // As gix's repository does: the empty tree exists without an object.
        if id == ObjectId::empty_tree(id.kind()) {
            buffer.clear();
            return Ok(Some(gix::objs::Data::new(
                buffer,
                gix::objs::Kind::Tree,
                id.kind(),
            )));
        }
        let Some(found) = self.odb.try_find(id, buffer)? else {
            return Ok(None);
        };
        self.seen
            .borrow_mut()
            .push((id.to_owned(), found.kind, found.data.to_vec()));
        Ok(Some(found))
    }
}
