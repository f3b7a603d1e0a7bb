//! In-process reads of a peer checkout on this machine (gix and lstat), so a
//! clean local peer costs one process (`git merge --ff-only`) instead of four.
//!
//! Everything here only *proves* the easy case: a peer that is certainly a
//! repository, on a branch, with nothing in progress and certainly clean. When
//! anything is unusual or uncertain, the caller falls back to asking git
//! through the peer's shell, which also words the reason. Nothing here writes
//! to the peer.

use gix::ObjectId;
use std::path::Path;

/// Git's in-progress markers in a work tree's git dir, and what they mean.
pub const IN_PROGRESS: [(&str, &str); 7] = [
    ("index.lock", "index.lock exists: another git command is running in the peer (or crashed; remove the lock only if none is)"),
    ("MERGE_HEAD", "a merge is in progress"),
    ("rebase-merge", "a rebase is in progress"),
    ("rebase-apply", "a rebase or `git am` is in progress"),
    ("CHERRY_PICK_HEAD", "a cherry-pick is in progress"),
    ("REVERT_HEAD", "a revert is in progress"),
    ("BISECT_LOG", "a bisect is in progress"),
];

/// Open the repository whose work tree is exactly `dir` (no search upwards),
/// reading only its own config. `None` when that is not certainly the case.
pub fn open(dir: &Path) -> Option<gix::Repository> {
    let repo = gix::open_opts(dir, gix::open::Options::isolated()).ok()?;
    let workdir = repo.workdir()?;
    let same = match (workdir.canonicalize(), dir.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    same.then_some(repo)
}

/// The first in-progress marker present, if any.
pub fn in_progress(repo: &gix::Repository) -> Option<&'static str> {
    let git_dir = repo.git_dir();
    IN_PROGRESS
        .iter()
        .find(|(name, _)| git_dir.join(name).symlink_metadata().is_ok())
        .map(|(_, why)| *why)
}

/// HEAD as (branch full name or None when detached, commit). `None` when
/// HEAD cannot be read or the branch is unborn.
pub fn head(repo: &gix::Repository) -> Option<(Option<String>, ObjectId)> {
    let head = repo.head().ok()?;
    if head.is_unborn() {
        return None;
    }
    let id = head.id()?.detach();
    let name = head.referent_name().map(|n| n.as_bstr().to_string());
    Some((name, id))
}

/// True only when the index certainly equals HEAD's tree (nothing staged,
/// nothing conflicted, no intent-to-add) and every tracked file certainly
/// equals its index entry (nothing unstaged). Untracked files are not looked
/// at. False means "ask git".
pub fn certainly_clean(repo: &gix::Repository, head: ObjectId) -> bool {
    certainly_clean_inner(repo, head).unwrap_or(false)
}

fn certainly_clean_inner(repo: &gix::Repository, head: ObjectId) -> Option<bool> {
    use gix::index::entry::{Flags, Mode, Stage};
    let workdir = repo.workdir()?;
    let index = repo.open_index().ok()?;
    if index.is_sparse() {
        return Some(false);
    }
    let head_tree = repo.find_commit(head).ok()?.tree_id().ok()?.detach();
    let entries = index.entries();
    let mut has_attributes = false;
    for e in entries {
        if e.stage() != Stage::Unconflicted || e.flags.contains(Flags::INTENT_TO_ADD) {
            return Some(false);
        }
        if e.mode == Mode::COMMIT {
            return Some(false); // submodules: let git judge
        }
        let path = e.path(&index);
        if path == ".gitattributes" || path.ends_with(b"/.gitattributes") {
            has_attributes = true;
        }
    }
    // Staged: the cache tree (kept valid by clone, checkout and merge) says
    // the index is exactly HEAD's tree; otherwise compare entry by entry.
    let cache_ok = index
        .tree()
        .is_some_and(|t| t.num_entries.is_some() && t.id == head_tree);
    if !cache_ok {
        let from_tree = repo.index_from_tree(&head_tree).ok()?;
        let theirs = from_tree.entries();
        if theirs.len() != entries.len() {
            return Some(false);
        }
        for (a, b) in entries.iter().zip(theirs) {
            if a.id != b.id || a.mode != b.mode || a.path(&index) != b.path(&from_tree) {
                return Some(false);
            }
        }
    }
    // Unstaged: stat data as git compares it; a racily clean entry (written
    // in the same second as the index) is confirmed by hashing the file,
    // unless attributes could make the checked-out bytes differ from the blob.
    let config = repo.config_snapshot();
    let options = gix::index::entry::stat::Options {
        trust_ctime: config.boolean("core.trustctime").unwrap_or(true),
        check_stat: config
            .string("core.checkStat")
            .is_none_or(|v| v.as_slice() != b"minimal"),
        use_nsec: false,
        use_stdev: false,
    };
    let file_mode = config.boolean("core.fileMode").unwrap_or(true);
    let stamp = index.timestamp();
    let hash = repo.object_hash();
    for e in entries {
        if e.flags
            .intersects(Flags::SKIP_WORKTREE | Flags::ASSUME_VALID)
        {
            continue; // git status does not look at these either
        }
        let rel = gix::path::from_bstr(e.path(&index)).ok()?;
        let full = workdir.join(rel);
        let Ok(meta) = gix::index::fs::Metadata::from_path_no_follow(&full) else {
            return Some(false); // deleted
        };
        let kind_ok = match e.mode {
            Mode::SYMLINK => meta.is_symlink(),
            Mode::FILE | Mode::FILE_EXECUTABLE => {
                meta.is_file()
                    && (!file_mode || meta.is_executable() == (e.mode == Mode::FILE_EXECUTABLE))
            }
            _ => false,
        };
        if !kind_ok {
            return Some(false);
        }
        let fs_stat = gix::index::entry::Stat::from_fs(&meta).ok()?;
        if !e.stat.matches(&fs_stat, options) {
            return Some(false);
        }
        if e.stat.is_racy(stamp, options) {
            if has_attributes {
                return Some(false);
            }
            let bytes = if e.mode == Mode::SYMLINK {
                let target = std::fs::read_link(&full).ok()?;
                gix::path::into_bstr(target).ok()?.to_vec()
            } else {
                // The size is known (stat matched): open, one read, close.
                use std::io::Read;
                let mut buf = Vec::with_capacity(e.stat.size as usize + 1);
                std::fs::File::open(&full)
                    .ok()?
                    .take(u64::from(e.stat.size) + 1)
                    .read_to_end(&mut buf)
                    .ok()?;
                buf
            };
            let id = gix::objs::compute_hash(hash, gix::objs::Kind::Blob, &bytes).ok()?;
            if id != e.id {
                return Some(false);
            }
        }
    }
    Some(true)
}

/// Index entries marked skip-worktree or assume-unchanged (their work tree
/// files are not compared by `git status`), with their blob ids. `None` when
/// the index cannot be read here (the caller asks git).
pub fn hidden_entries(repo: &gix::Repository) -> Option<Vec<(String, ObjectId)>> {
    use gix::index::entry::Flags;
    let index = repo.open_index().ok()?;
    if index.is_sparse() {
        return None;
    }
    Some(
        index
            .entries()
            .iter()
            .filter(|e| {
                e.flags
                    .intersects(Flags::SKIP_WORKTREE | Flags::ASSUME_VALID)
            })
            .map(|e| (e.path(&index).to_string(), e.id))
            .collect(),
    )
}
