//! Reading git's output about a peer's work tree: `status`, merge refusals,
//! and the paths a move adds or changes.
use super::text::first_line;
use gix::ObjectId;

/// The file names git lists (indented) after "would be overwritten".
pub(super) fn merge_paths(stderr: &str) -> String {
    let names: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with('\t') || l.starts_with("    "))
        .map(str::trim)
        .take(3)
        .collect();
    if names.is_empty() {
        first_line(stderr).to_string()
    } else {
        names.join(", ")
    }
}

/// A change to a tracked file, from `git status --porcelain=v2 -z`.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Change {
    pub(super) path: String,
    pub(super) staged: bool,
    pub(super) unstaged: bool,
    pub(super) conflicted: bool,
}

pub(super) fn parse_status(out: &str) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut records = out.split('\0');
    while let Some(rec) = records.next() {
        let (fields, conflicted) = match rec.as_bytes().first() {
            Some(b'1') => (9, false),
            Some(b'2') => (10, false),
            Some(b'u') => (11, true),
            _ => continue,
        };
        let parts: Vec<&str> = rec.splitn(fields, ' ').collect();
        let xy = parts.get(1).copied().unwrap_or("..").as_bytes();
        let path = parts.last().copied().unwrap_or("").to_string();
        if rec.starts_with('2') {
            records.next(); // the original path of a rename or copy
        }
        changes.push(Change {
            path,
            staged: !conflicted && xy.first().is_some_and(|c| *c != b'.'),
            unstaged: !conflicted && xy.get(1).is_some_and(|c| *c != b'.'),
            conflicted,
        });
    }
    changes
}

/// Above this many new paths the in-the-way pre-check is skipped (git's own
/// refusal still protects the files).
pub(super) const MAX_IN_THE_WAY_PATHS: usize = 2000;

/// Paths that exist in `to`'s tree but not in `from`'s: files (false) and the
/// new directories leading to them (true), parents first.
pub(super) fn added_paths(
    repo: &gix::Repository,
    from: ObjectId,
    to: ObjectId,
) -> std::result::Result<Vec<(String, bool)>, String> {
    let tree_of = |c: ObjectId| -> std::result::Result<ObjectId, String> {
        let commit = repo.find_commit(c).map_err(|e| e.to_string())?;
        commit
            .tree_id()
            .map(|t| t.detach())
            .map_err(|e| e.to_string())
    };
    let mut out = Vec::new();
    walk_added(repo, Some(tree_of(from)?), tree_of(to)?, "", &mut out)?;
    Ok(out)
}

pub(super) fn walk_added(
    repo: &gix::Repository,
    old: Option<ObjectId>,
    new: ObjectId,
    prefix: &str,
    out: &mut Vec<(String, bool)>,
) -> std::result::Result<(), String> {
    if old == Some(new) || out.len() > MAX_IN_THE_WAY_PATHS {
        return Ok(());
    }
    let hash = repo.object_hash();
    let read = |id: ObjectId| -> std::result::Result<Vec<(String, ObjectId, bool)>, String> {
        let obj = repo.find_object(id).map_err(|e| e.to_string())?;
        gix::objs::TreeRefIter::from_bytes(&obj.data, hash)
            .map(|e| {
                e.map(|e| (e.filename.to_string(), e.oid.to_owned(), e.mode.is_tree()))
                    .map_err(|e| e.to_string())
            })
            .collect()
    };
    let old_entries = match old {
        Some(id) => read(id)?,
        None => Vec::new(),
    };
    for (name, id, is_tree) in read(new)? {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        match old_entries.iter().find(|(n, _, _)| *n == name) {
            Some((_, old_id, true)) if is_tree => walk_added(repo, Some(*old_id), id, &path, out)?,
            Some(_) => {} // present before (a change of a tracked path)
            None if is_tree => {
                out.push((path.clone(), true));
                walk_added(repo, None, id, &path, out)?;
            }
            None => out.push((path, false)),
        }
    }
    Ok(())
}

/// Paths of files (and symlinks, submodules) that differ between `from`'s
/// and `to`'s trees: changed, added or removed.
pub(super) fn changed_paths(
    repo: &gix::Repository,
    from: ObjectId,
    to: ObjectId,
) -> std::result::Result<Vec<String>, String> {
    let tree_of = |c: ObjectId| -> std::result::Result<ObjectId, String> {
        let commit = repo.find_commit(c).map_err(|e| e.to_string())?;
        commit
            .tree_id()
            .map(|t| t.detach())
            .map_err(|e| e.to_string())
    };
    let mut out = Vec::new();
    walk_changed(repo, Some(tree_of(from)?), Some(tree_of(to)?), "", &mut out)?;
    Ok(out)
}

pub(super) type TreeEntries = Vec<(String, ObjectId, bool)>;

pub(super) fn walk_changed(
    repo: &gix::Repository,
    old: Option<ObjectId>,
    new: Option<ObjectId>,
    prefix: &str,
    out: &mut Vec<String>,
) -> std::result::Result<(), String> {
    if old == new || out.len() > MAX_IN_THE_WAY_PATHS {
        return Ok(());
    }
    let hash = repo.object_hash();
    let read = |id: Option<ObjectId>| -> std::result::Result<TreeEntries, String> {
        let Some(id) = id else {
            return Ok(Vec::new());
        };
        let obj = repo.find_object(id).map_err(|e| e.to_string())?;
        gix::objs::TreeRefIter::from_bytes(&obj.data, hash)
            .map(|e| {
                e.map(|e| (e.filename.to_string(), e.oid.to_owned(), e.mode.is_tree()))
                    .map_err(|e| e.to_string())
            })
            .collect()
    };
    let (a, b) = (read(old)?, read(new)?);
    let mut names: Vec<&String> = a.iter().chain(&b).map(|(n, _, _)| n).collect();
    names.sort();
    names.dedup();
    for name in names {
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        let find = |v: &TreeEntries| {
            v.iter()
                .find(|(n, _, _)| n == name)
                .map(|(_, id, t)| (*id, *t))
        };
        let (x, y) = (find(&a), find(&b));
        if x == y {
            continue;
        }
        let tree = |e: Option<(ObjectId, bool)>| e.filter(|(_, t)| *t).map(|(id, _)| id);
        let (xt, yt) = (tree(x), tree(y));
        if xt.is_some() || yt.is_some() {
            walk_changed(repo, xt, yt, &path, out)?;
        }
        let file = |e: Option<(ObjectId, bool)>| e.filter(|(_, t)| !*t);
        if file(x) != file(y) {
            out.push(path);
        }
    }
    Ok(())
}
