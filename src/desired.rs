//! Where the desired fleet file comes from: the work tree, the index, a
//! revision, or a named file (or stdin).

use crate::error::{Error, GitContext, Result};
use crate::store::Store;
use std::io::Read;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub enum Source {
    WorkTree,
    Staged,
    Rev(String),
    File(PathBuf),
}

/// The bytes of a desired file and the name messages use for it.
#[derive(Debug, Clone)]
pub struct Desired {
    pub label: String,
    pub bytes: Vec<u8>,
    /// False when the file does not exist at the source (an empty fleet).
    pub exists: bool,
}

impl Desired {
    /// No YAML content at all: only blank lines, comments and document
    /// markers. Such a file says nothing, which is not the same as `{}`.
    pub fn is_blank(&self) -> bool {
        // Bytes, not text: stops at the first content line of a large file.
        self.bytes.split(|b| *b == b'\n').all(|l| {
            let l = l.trim_ascii();
            l.is_empty() || l.starts_with(b"#") || l == b"---" || l == b"..."
        })
    }
}

/// What a file is read as, for the words of a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A desired file: empty would propose destroying everything.
    Desired,
    /// A live export: empty would record that nothing exists.
    Live,
}

/// Refuse a file that does not exist or is blank, unless `allow_empty` says
/// an empty fleet is meant: a lost or truncated file must never read as
/// "nothing is wanted" (or "nothing is there").
pub fn require_content(input: &Desired, role: Role, allow_empty: bool) -> Result<()> {
    if allow_empty {
        return Ok(());
    }
    let (consequence, flag) = match role {
        Role::Desired => (
            "as an empty fleet it would destroy every resource",
            "pass --allow-empty if an empty fleet is meant",
        ),
        Role::Live => (
            "nothing to record",
            "pass --allow-empty to record an empty live state on purpose",
        ),
    };
    if !input.exists {
        return Err(Error::usage_hint(
            format!("{} does not exist: {consequence}", input.label),
            flag,
        ));
    }
    if input.is_blank() {
        return Err(Error::usage_hint(
            format!("{} is empty: {consequence}", input.label),
            flag,
        ));
    }
    Ok(())
}

/// Read no more than this from a file or stdin: enough to know it is too large.
const READ_CAP: u64 = crate::fleet::parse::MAX_BYTES as u64 + 1;

fn read_capped(mut reader: impl Read, what: &std::path::Path) -> Result<Vec<u8>> {
    read_capped_sized(&mut reader, what, 0)
}

/// [`read_capped`] into a buffer of `size` bytes (a file's length) to begin
/// with: one allocation instead of a doubling series for a 1 MiB file.
fn read_capped_sized(reader: impl Read, what: &std::path::Path, size: u64) -> Result<Vec<u8>> {
    let mut reader = reader;
    let mut bytes = Vec::with_capacity(size.min(READ_CAP) as usize + 1);
    reader
        .by_ref()
        .take(READ_CAP)
        .read_to_end(&mut bytes)
        .map_err(|source| Error::Read {
            path: what.to_path_buf(),
            source,
        })?;
    Ok(bytes)
}

/// Read the desired file `rel_path` (relative to the repository root) from `source`.
pub fn read(store: &Store, source: &Source, rel_path: &str) -> Result<Desired> {
    match source {
        Source::File(path) if path.as_os_str() == "-" => Ok(Desired {
            label: "<stdin>".into(),
            bytes: read_capped(std::io::stdin().lock(), path)?,
            exists: true,
        }),
        Source::File(path) => {
            let file = std::fs::File::open(path).map_err(|source| Error::Read {
                path: path.clone(),
                source,
            })?;
            Ok(Desired {
                label: path.display().to_string(),
                bytes: read_capped(file, path)?,
                exists: true,
            })
        }
        Source::WorkTree => {
            let root = store.work_dir().ok_or_else(|| {
                Error::usage("this repository has no work tree; use --rev, --staged or --file")
            })?;
            let path = root.join(rel_path);
            match std::fs::File::open(&path) {
                Ok(file) => Ok(Desired {
                    label: rel_path.to_string(),
                    bytes: {
                        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
                        read_capped_sized(file, &path, size)?
                    },
                    exists: true,
                }),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Desired {
                    label: rel_path.to_string(),
                    bytes: Vec::new(),
                    exists: false,
                }),
                Err(source) => Err(Error::Read { path, source }),
            }
        }
        Source::Staged => {
            let index = store
                .repo()
                .index_or_empty()
                .git(|| "cannot read the index".into())?;
            let entry = index.entry_by_path(rel_path.into());
            match entry {
                Some(entry) => {
                    let blob = store
                        .repo()
                        .find_blob(entry.id)
                        .git(|| format!("cannot read staged {rel_path}"))?;
                    Ok(Desired {
                        label: rel_path.to_string(),
                        bytes: blob.data.clone(),
                        exists: true,
                    })
                }
                None => Ok(Desired {
                    label: rel_path.to_string(),
                    bytes: Vec::new(),
                    exists: false,
                }),
            }
        }
        Source::Rev(rev) => {
            let commit = store.rev_commit(rev)?;
            match store.read_path(commit, rel_path)? {
                Some(bytes) => Ok(Desired {
                    label: format!("{rev}:{rel_path}"),
                    bytes,
                    exists: true,
                }),
                None => Ok(Desired {
                    label: format!("{rev}:{rel_path}"),
                    bytes: Vec::new(),
                    exists: false,
                }),
            }
        }
    }
}

/// Parse a desired file; a missing or blank one is an empty fleet (callers
/// refuse those first with [`require_content`] unless empty is meant).
pub fn parse(desired: &Desired) -> Result<crate::fleet::Parsed> {
    if !desired.exists || desired.is_blank() {
        return Ok(crate::fleet::Parsed {
            fleet: Default::default(),
            source: crate::fleet::SourceMap::new(desired.label.clone()),
        });
    }
    crate::fleet::parse(&desired.label, &desired.bytes)
}

/// Where the per-resource parse cache lives (local, never shared).
pub fn cache_path(store: &Store) -> PathBuf {
    store.local_dir().join("cache").join("parse-v1.json")
}

/// Like [`parse`], but re-parses only resources whose text changed since the
/// cache was written (`GIT_FLEET_NO_CACHE=1` turns this off). The cache is only
/// written after a file parsed and validated cleanly.
pub fn parse_cached(store: &Store, desired: &Desired) -> Result<crate::fleet::Parsed> {
    parse_cached_with(store, desired, None)
}

/// [`parse_cached`] with the live snapshot at hand: when the cache was filled
/// from the same fleet, it is borrowed instead of decoded again.
pub fn parse_cached_with(
    store: &Store,
    desired: &Desired,
    live: Option<&crate::live::Snapshot>,
) -> Result<crate::fleet::Parsed> {
    let mut live = live;
    parse_cached_lazy(store, desired, &mut || live.take())
}

/// [`parse_cached_with`] asking for the live snapshot only when it is needed,
/// so the caller can load it meanwhile.
pub fn parse_cached_lazy<'a>(
    store: &Store,
    desired: &Desired,
    live: &mut dyn FnMut() -> Option<&'a crate::live::Snapshot>,
) -> Result<crate::fleet::Parsed> {
    use crate::fleet::incremental::{parse_with_cache_lazy, ChunkCache, Lent};
    if !desired.exists
        || desired.is_blank()
        || std::env::var_os("GIT_FLEET_NO_CACHE").is_some_and(|v| v != "0")
    {
        return parse(desired);
    }
    let path = cache_path(store);
    let mut cache = ChunkCache::load(&path);
    let mut lend = || {
        live().map(|s| Lent {
            fleet: &s.fleet,
            json_blob: s.json_blob.to_string(),
        })
    };
    let (parsed, _stats, refreshed) =
        parse_with_cache_lazy(&desired.label, &desired.bytes, &mut cache, &mut lend)?;
    if refreshed {
        cache.save(&path);
    }
    Ok(parsed)
}

/// Live and desired cut down to what `diff` of them can see, from the parse
/// cache alone, when the cache holds live's fleet (`live_blob`, its
/// fleet.json blob id) and the desired file changed little since; None
/// otherwise (then parse and load the snapshot as usual). See
/// [`crate::fleet::incremental::diff_view`].
pub fn diff_view(
    store: &Store,
    desired: &Desired,
    live_blob: &str,
) -> Option<(crate::fleet::Fleet, crate::fleet::Fleet)> {
    if !desired.exists
        || desired.is_blank()
        || std::env::var_os("GIT_FLEET_NO_CACHE").is_some_and(|v| v != "0")
    {
        return None;
    }
    let cache = crate::fleet::incremental::ChunkCache::load(&cache_path(store));
    crate::fleet::incremental::diff_view(&desired.label, &desired.bytes, &cache, live_blob)
}
