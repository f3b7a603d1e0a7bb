//! Parse cost that follows the size of the edit. A block-style fleet.yaml is
//! split at resource boundaries and each resource's text is hashed. Resources
//! whose text is unchanged since the cached parse are taken from the cached
//! fleet; only new or changed ones are parsed. Anything unusual (anchors, tags,
//! flow style at the top, tabs, CR, document markers, duplicate keys) and any
//! error at all falls back to the full parser, which stays the single authority
//! on what is accepted and on every message and its line:column.

use super::model::{Fleet, Kind};
use super::parse::{self, check_text, options, Parsed, RawFleet};
use super::source_map::SourceMap;
use super::validate;
use crate::error::Result;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;

/// First line of the cache file; bumped whenever its form or the parsing rules change.
const CACHE_HEADER: &str = "git-fleet parse cache v5";

/// The last fully parsed file: its fleet, and which resource each chunk holds.
/// Stored as one file (atomic rename): the header, `blob <id> <table bytes>`,
/// one `hash kind key` line per chunk, a blank line, then the fleet as JSON.
#[derive(Debug, Default)]
pub struct ChunkCache {
    /// The git blob id the cached fleet has as a snapshot's fleet.json, so a
    /// caller holding a snapshot with that id can lend its fleet instead.
    fleet_blob: Option<String>,
    /// The cached fleet as JSON, decoded only when no equal fleet is lent.
    json: Json,
    chunks: HashMap<u128, (Kind, String), BuildHasherDefault<TakeBits>>,
}

/// Where the cached fleet's JSON is.
#[derive(Debug, Default)]
enum Json {
    #[default]
    None,
    /// Just built (a full parse), to be saved.
    Bytes(Vec<u8>),
    /// After the table in the cache file: read only if needed, and only if
    /// the file still starts with the table that was read (`head`).
    File {
        path: std::path::PathBuf,
        head: Vec<u8>,
    },
}

impl Json {
    fn bytes(&self) -> Option<std::borrow::Cow<'_, [u8]>> {
        match self {
            Json::None => None,
            Json::Bytes(b) => Some(std::borrow::Cow::Borrowed(b)),
            Json::File { path, head } => {
                let mut all = std::fs::read(path).ok()?;
                if !all.starts_with(head) {
                    return None; // replaced meanwhile
                }
                Some(std::borrow::Cow::Owned(all.split_off(head.len())))
            }
        }
    }
}

/// The table's keys are already SHA-256 bits: hashing them again is waste.
#[derive(Default)]
struct TakeBits(u64);

impl Hasher for TakeBits {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes.iter().take(8) {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u128(&mut self, n: u128) {
        self.0 = n as u64;
    }
}

/// A fleet equal to the cached one that the caller already holds (the live
/// snapshot, typically): its fleet and its `fleet.json` blob id.
pub struct Lent<'a> {
    pub fleet: &'a Fleet,
    pub json_blob: String,
}

/// Where reused resources come from.
enum Base<'a> {
    Owned(Fleet),
    Borrowed(&'a Fleet),
}

impl Base<'_> {
    fn fleet(&self) -> &Fleet {
        match self {
            Base::Owned(f) => f,
            Base::Borrowed(f) => f,
        }
    }
}

/// How a parse went, for benchmarks and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub chunks: usize,
    pub reused: usize,
    pub parsed: usize,
    pub full_parse: bool,
}

fn kind_letter(k: Kind) -> char {
    match k {
        Kind::Templates => 't',
        Kind::Modules => 'm',
        Kind::Assignments => 'a',
        Kind::ProviderConfigs => 'p',
    }
}

impl ChunkCache {
    /// Load the cache at `path`; a missing, unreadable or old cache is an empty one.
    pub fn load(path: &Path) -> ChunkCache {
        ChunkCache::read_table(path).unwrap_or_default()
    }

    /// Read the header and the chunk table only: the second line gives the
    /// table's length, so the fleet JSON after it (most of the file) is not
    /// read unless it is needed.
    fn read_table(path: &Path) -> Option<ChunkCache> {
        use std::io::Read;
        let mut file = std::fs::File::open(path).ok()?;
        let mut raw = Vec::with_capacity(512);
        (&mut file).take(512).read_to_end(&mut raw).ok()?;
        let eol = |raw: &[u8], from: usize| raw.get(from..)?.iter().position(|b| *b == b'\n');
        let first = eol(&raw, 0)?;
        if raw.get(..first)? != CACHE_HEADER.as_bytes() {
            return None;
        }
        let second = first + 1 + eol(&raw, first + 1)?;
        let (blob, len) = std::str::from_utf8(&raw[first + 1..second])
            .ok()?
            .strip_prefix("blob ")?
            .split_once(' ')?;
        let blob = blob.to_string();
        let start = second + 1;
        let end = start.checked_add(len.parse().ok()?)?;
        // A damaged length must not make us allocate past the file.
        if end >= usize::try_from(file.metadata().ok()?.len()).ok()? {
            return None;
        }
        if raw.len() > end + 1 {
            raw.truncate(end + 1);
        } else {
            let have = raw.len();
            raw.resize(end + 1, 0);
            file.read_exact(&mut raw[have..]).ok()?;
        }
        if raw[end] != b'\n' {
            return None;
        }
        let table = std::str::from_utf8(&raw[start..end]).ok()?;
        let mut chunks = HashMap::with_capacity_and_hasher(
            table.len() / 48,
            BuildHasherDefault::<TakeBits>::default(),
        );
        for line in table.lines() {
            let (hash, rest) = line.split_once(' ')?;
            let (kind, key) = rest.split_once(' ')?;
            let kind = Kind::ALL
                .into_iter()
                .find(|k| kind.starts_with(kind_letter(*k)))?;
            chunks.insert(
                u128::from_str_radix(hash, 16).ok()?,
                (kind, key.to_string()),
            );
        }
        Some(ChunkCache {
            fleet_blob: Some(blob),
            json: Json::File {
                path: path.to_path_buf(),
                head: raw,
            },
            chunks,
        })
    }

    fn encode(&self) -> Option<Vec<u8>> {
        use std::fmt::Write;
        let mut table = String::with_capacity(self.chunks.len() * 64);
        for (hash, (kind, key)) in &self.chunks {
            if key.contains(['\n', '\r']) {
                continue; // never cache what the line format cannot hold
            }
            let _ = writeln!(table, "{hash:032x} {} {key}", kind_letter(*kind));
        }
        let mut out = format!(
            "{CACHE_HEADER}\nblob {} {}\n",
            self.fleet_blob.as_deref()?,
            table.len()
        )
        .into_bytes();
        out.extend_from_slice(table.as_bytes());
        out.push(b'\n');
        out.extend_from_slice(&self.json.bytes()?);
        Some(out)
    }

    /// Write atomically (temp file + rename); a failure only costs speed later.
    pub fn save(&self, path: &Path) {
        let Some(dir) = path.parent() else { return };
        if std::fs::create_dir_all(dir).is_err() {
            return;
        }
        let tmp = dir.join(format!(".parse-cache.{}.tmp", std::process::id()));
        let written = self
            .encode()
            .is_some_and(|bytes| std::fs::write(&tmp, bytes).is_ok());
        if written {
            let _ = std::fs::rename(&tmp, path);
        } else {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

/// One resource's lines in the file.
struct Chunk<'a> {
    kind: Kind,
    /// 1-based line of the chunk's first line.
    line: usize,
    text: &'a str,
}

/// Split into resource chunks, or None when the file is not plain block style.
fn split<'a>(text: &'a str) -> Option<Vec<Chunk<'a>>> {
    // One pass over the bytes; `<<` (a merge key) is only searched for when a
    // `<` is there at all.
    let (mut odd, mut lt) = (false, false);
    for b in text.bytes() {
        odd |= matches!(b, b'\t' | b'\r' | b'&' | b'*' | b'!' | b'%');
        lt |= b == b'<';
    }
    if odd || (lt && text.contains("<<")) || text.starts_with('\u{feff}') {
        return None;
    }
    let mut chunks: Vec<Chunk<'a>> = Vec::new();
    let mut seen_kinds: Vec<Kind> = Vec::new();
    let mut kind: Option<Kind> = None;
    let mut indent: Option<usize> = None;
    // (kind, first line, first byte) of the chunk being collected.
    let mut open: Option<(Kind, usize, usize)> = None;
    let mut offset = 0;
    let close =
        |open: &mut Option<(Kind, usize, usize)>, end: usize, chunks: &mut Vec<Chunk<'a>>| {
            if let Some((kind, line, start)) = open.take() {
                chunks.push(Chunk {
                    kind,
                    line,
                    text: &text[start..end],
                });
            }
        };
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let body = line.trim_end_matches('\n');
        let trimmed = body.trim_start_matches(' ');
        let ind = body.len() - trimmed.len();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            offset += line.len();
            continue;
        }
        if ind == 0 {
            // A top-level `kind:` header with nothing after it but a comment.
            let (name, rest) = body.split_once(':')?;
            let rest = rest.trim();
            if !(rest.is_empty() || rest.starts_with('#')) {
                return None;
            }
            let k = Kind::ALL.into_iter().find(|k| k.as_str() == name)?;
            if seen_kinds.contains(&k) {
                return None; // a repeated kind: let the full parser say so
            }
            seen_kinds.push(k);
            close(&mut open, offset, &mut chunks);
            kind = Some(k);
            indent = None;
        } else {
            let k = kind?;
            let n = *indent.get_or_insert(ind);
            if ind < n {
                return None;
            }
            if ind == n {
                if trimmed.starts_with('-') || trimmed.starts_with('?') || !trimmed.contains(':') {
                    return None;
                }
                close(&mut open, offset, &mut chunks);
                open = Some((k, i + 1, offset));
            } else if open.is_none() {
                return None;
            }
        }
        offset += line.len();
    }
    close(&mut open, text.len(), &mut chunks);
    Some(chunks)
}

fn chunk_hash(kind: Kind, text: &str) -> u128 {
    let mut h = Sha256::new();
    h.update(kind.as_str().as_bytes());
    h.update([0]);
    h.update(text.as_bytes());
    let digest = h.finalize();
    u128::from_be_bytes(digest[..16].try_into().expect("sha256 has 32 bytes"))
}

/// Parse changed chunks as one document, grouped under their kinds; None on
/// any problem (the full parser then reports it with the right location).
fn parse_chunks(file: &str, chunks: &[&Chunk<'_>]) -> Option<Fleet> {
    if chunks.is_empty() {
        return Some(Fleet::default());
    }
    let mut doc = String::new();
    for kind in Kind::ALL {
        let mut first = true;
        for c in chunks.iter().filter(|c| c.kind == kind) {
            if first {
                doc.push_str(kind.as_str());
                doc.push_str(":\n");
                first = false;
            }
            doc.push_str(c.text);
            if !c.text.ends_with('\n') {
                doc.push('\n');
            }
        }
    }
    let raw: RawFleet = serde_saphyr::from_str_with_options(&doc, options()).ok()?;
    raw.into_fleet(file, 0).ok().map(|(f, _)| f)
}

/// Parse and validate like [`parse::parse`], reusing the cached fleet for
/// resources whose text did not change. Returns whether the cache was refreshed
/// (the caller saves it: only ever after a clean parse).
pub fn parse_with_cache(
    file: &str,
    bytes: &[u8],
    cache: &mut ChunkCache,
    lent: Option<Lent<'_>>,
) -> Result<(Parsed, Stats, bool)> {
    let mut lent = lent;
    parse_with_cache_lazy(file, bytes, cache, &mut || lent.take())
}

/// [`parse_with_cache`] asking for the lent fleet only once the file is split
/// and hashed, so the caller can load it meanwhile (on another core).
pub fn parse_with_cache_lazy<'a>(
    file: &str,
    bytes: &[u8],
    cache: &mut ChunkCache,
    lend: &mut dyn FnMut() -> Option<Lent<'a>>,
) -> Result<(Parsed, Stats, bool)> {
    let text = check_text(file, bytes)?;
    let full = |chunks: usize| -> Result<(Parsed, Stats, bool)> {
        let stats = Stats {
            chunks,
            parsed: chunks,
            full_parse: true,
            ..Stats::default()
        };
        Ok((parse::parse(file, bytes)?, stats, false))
    };
    let Some(chunks) = split(text) else {
        return full(0);
    };
    let hashes: Vec<u128> = chunks.iter().map(|c| chunk_hash(c.kind, c.text)).collect();
    let misses = hashes
        .iter()
        .filter(|h| !cache.chunks.contains_key(*h))
        .count();
    // Many misses: one full parse is cheaper than many small ones; keep its result.
    if misses * 4 > chunks.len() || cache.chunks.is_empty() {
        let parsed = parse::parse(file, bytes)?;
        *cache = fill_cache(&chunks, &hashes, &parsed);
        let stats = Stats {
            chunks: chunks.len(),
            parsed: chunks.len(),
            full_parse: true,
            ..Stats::default()
        };
        return Ok((parsed, stats, true));
    }
    // The cached fleet: lent by the caller when equal (no decoding), else decoded.
    let base = match lend() {
        Some(l) if cache.fleet_blob.as_deref() == Some(l.json_blob.as_str()) => {
            Base::Borrowed(l.fleet)
        }
        _ => match cache
            .json
            .bytes()
            .and_then(|b| serde_json::from_slice::<Fleet>(&b).ok())
        {
            Some(f) => Base::Owned(f),
            None => return full(chunks.len()),
        },
    };
    let mut base = base;
    let Some((fleet, fresh)) = assemble(file, &chunks, &hashes, cache, &mut base) else {
        return full(chunks.len());
    };
    // Reused resources were validated with the cached fleet; what is new is
    // checked here, and everything when a module went away (references).
    // Positions are only needed to report problems: the full parser has them.
    let module_removed = cached_modules(cache, &base)
        .iter()
        .any(|m| !fleet.modules.contains_key(m));
    let to_check = if module_removed {
        &fleet
    } else {
        &Fleet {
            modules: fleet.modules.clone(),
            ..fresh
        }
    };
    if validate::validate(to_check, &SourceMap::new(file)).is_err() {
        return full(chunks.len());
    }
    let stats = Stats {
        chunks: chunks.len(),
        reused: chunks.len() - misses,
        parsed: misses,
        full_parse: false,
    };
    // Messages about this fleet never need positions: it validated cleanly.
    Ok((
        Parsed {
            fleet,
            source: SourceMap::new(file),
        },
        stats,
        false,
    ))
}

/// Resources in file order, per kind, before they become maps.
#[derive(Default)]
struct Collected {
    templates: Vec<(String, std::sync::Arc<super::model::Template>)>,
    modules: Vec<(String, std::sync::Arc<super::model::Module>)>,
    assignments: Vec<(String, std::sync::Arc<super::model::Assignment>)>,
    provider_configs: Vec<(String, serde_json::Value)>,
}

impl Collected {
    fn push(&mut self, part: Fleet) {
        self.templates.extend(part.templates);
        self.modules.extend(part.modules);
        self.assignments.extend(part.assignments);
        self.provider_configs.extend(part.provider_configs);
    }

    fn len(&self) -> usize {
        self.templates.len()
            + self.modules.len()
            + self.assignments.len()
            + self.provider_configs.len()
    }

    /// Maps built in one pass (sorting is linear on already sorted input).
    fn into_fleet(self) -> Fleet {
        Fleet {
            templates: self.templates.into_iter().collect(),
            modules: self.modules.into_iter().collect(),
            assignments: self.assignments.into_iter().collect(),
            provider_configs: self.provider_configs.into_iter().collect(),
        }
    }
}

/// Build the fleet from cached (moved out of an owned base, cloned from a lent
/// one) and freshly parsed chunks, and the freshly parsed resources alone;
/// None = fall back.
fn assemble(
    file: &str,
    chunks: &[Chunk<'_>],
    hashes: &[u128],
    cache: &ChunkCache,
    base: &mut Base<'_>,
) -> Option<(Fleet, Fleet)> {
    let mut all = Collected::default();
    let mut missed: Vec<&Chunk<'_>> = Vec::new();
    let lent = match base {
        Base::Borrowed(f) => Some(*f),
        Base::Owned(_) => None,
    };
    let mut cursors = Cursors::default();
    for (chunk, hash) in chunks.iter().zip(hashes) {
        let before = all.len();
        match cache.chunks.get(hash) {
            Some((kind, key)) => match lent {
                Some(from) => cursors.take(from, *kind, key, &mut all)?,
                None => take_into(base, *kind, key, &mut all)?,
            },
            None => {
                missed.push(chunk);
                continue;
            }
        }
        if all.len() != before + 1 {
            return None;
        }
    }
    // All changed resources in one parse: positions are not needed here (any
    // problem falls back to the full parser), so grouping them by kind is fine.
    let fresh = parse_chunks(file, &missed)?;
    if count(&fresh) != missed.len() {
        return None;
    }
    all.push(fresh.clone());
    let added = all.len();
    let fleet = all.into_fleet();
    // A key declared twice (or the same text twice) collapses in the maps:
    // the count differs and the full parser reports it.
    (count(&fleet) == added).then_some((fleet, fresh))
}

type Cursor<'a, V> = Option<std::iter::Peekable<std::collections::btree_map::Range<'a, String, V>>>;

/// Where the last resource of each kind was found in a lent fleet: a file
/// written in key order finds the next one there with one comparison instead
/// of a search from the root.
#[derive(Default)]
struct Cursors<'a> {
    templates: Cursor<'a, std::sync::Arc<super::model::Template>>,
    modules: Cursor<'a, std::sync::Arc<super::model::Module>>,
    assignments: Cursor<'a, std::sync::Arc<super::model::Assignment>>,
    provider_configs: Cursor<'a, serde_json::Value>,
}

fn next_or_find<'a, V: Clone>(
    map: &'a BTreeMap<String, V>,
    cursor: &mut Cursor<'a, V>,
    key: &str,
) -> Option<(String, V)> {
    if let Some(it) = cursor {
        if let Some((k, v)) = it.next_if(|(k, _)| k.as_str() == key) {
            return Some((k.clone(), v.clone()));
        }
    }
    let (k, v) = map.get_key_value(key)?;
    use std::ops::Bound;
    *cursor = Some(
        map.range::<str, _>((Bound::Excluded(key), Bound::Unbounded))
            .peekable(),
    );
    Some((k.clone(), v.clone()))
}

impl<'a> Cursors<'a> {
    /// Clone `kind/key` from the lent fleet into `out`.
    fn take(&mut self, from: &'a Fleet, kind: Kind, key: &str, out: &mut Collected) -> Option<()> {
        match kind {
            Kind::Templates => {
                out.templates
                    .push(next_or_find(&from.templates, &mut self.templates, key)?)
            }
            Kind::Modules => out
                .modules
                .push(next_or_find(&from.modules, &mut self.modules, key)?),
            Kind::Assignments => {
                out.assignments
                    .push(next_or_find(&from.assignments, &mut self.assignments, key)?)
            }
            Kind::ProviderConfigs => out.provider_configs.push(next_or_find(
                &from.provider_configs,
                &mut self.provider_configs,
                key,
            )?),
        }
        Some(())
    }
}

/// Move (owned base) or clone (lent base) `kind/key` into `out`.
fn take_into(base: &mut Base<'_>, kind: Kind, key: &str, out: &mut Collected) -> Option<()> {
    match base {
        Base::Owned(from) => match kind {
            Kind::Templates => out.templates.push(from.templates.remove_entry(key)?),
            Kind::Modules => out.modules.push(from.modules.remove_entry(key)?),
            Kind::Assignments => out.assignments.push(from.assignments.remove_entry(key)?),
            Kind::ProviderConfigs => out
                .provider_configs
                .push(from.provider_configs.remove_entry(key)?),
        },
        Base::Borrowed(from) => match kind {
            Kind::Templates => {
                let (k, v) = from.templates.get_key_value(key)?;
                out.templates.push((k.clone(), v.clone()));
            }
            Kind::Modules => {
                let (k, v) = from.modules.get_key_value(key)?;
                out.modules.push((k.clone(), v.clone()));
            }
            Kind::Assignments => {
                let (k, v) = from.assignments.get_key_value(key)?;
                out.assignments.push((k.clone(), v.clone()));
            }
            Kind::ProviderConfigs => {
                let (k, v) = from.provider_configs.get_key_value(key)?;
                out.provider_configs.push((k.clone(), v.clone()));
            }
        },
    }
    Some(())
}

fn count(f: &Fleet) -> usize {
    f.templates.len() + f.modules.len() + f.assignments.len() + f.provider_configs.len()
}

/// Module names the cached chunks refer to.
fn cached_modules(cache: &ChunkCache, base: &Base<'_>) -> Vec<String> {
    let mut names: Vec<String> = cache
        .chunks
        .values()
        .filter(|(k, _)| *k == Kind::Modules)
        .map(|(_, n)| n.clone())
        .collect();
    names.extend(base.fleet().modules.keys().cloned());
    names
}

/// The cache for a fully parsed file: which resource each chunk holds.
fn fill_cache(chunks: &[Chunk<'_>], hashes: &[u128], parsed: &Parsed) -> ChunkCache {
    let by_line: BTreeMap<(Kind, usize), &str> = parsed
        .source
        .resources()
        .map(|(kind, name, (line, _))| ((kind, line), name))
        .collect();
    let mut map = HashMap::with_capacity_and_hasher(chunks.len(), Default::default());
    for (chunk, hash) in chunks.iter().zip(hashes) {
        // The resource whose key sits on the chunk's first line.
        if let Some(name) = by_line.get(&(chunk.kind, chunk.line)) {
            map.insert(*hash, (chunk.kind, name.to_string()));
        }
    }
    let fleet_json = serde_json::to_string(&parsed.fleet).unwrap_or_default();
    let fleet_blob = gix::objs::compute_hash(
        gix::hash::Kind::Sha1,
        gix::objs::Kind::Blob,
        fleet_json.as_bytes(),
    )
    .ok()
    .map(|id| id.to_string());
    ChunkCache {
        fleet_blob,
        json: Json::Bytes(fleet_json.into_bytes()),
        chunks: map,
    }
}
