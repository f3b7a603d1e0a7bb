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
const CACHE_HEADER: &str = "git-fleet parse cache v8";

/// The last fully parsed file: its fleet, and which resource each chunk holds.
/// Stored as one file (atomic rename): the header, `blob <id> <table bytes>
/// <resources> <checksum>`, one `hash kind start len key` line per chunk in
/// the JSON's order (start and len: the resource's `"key":value` in the JSON),
/// a newline, then the fleet as JSON. The checksum ([`checksum`]) covers all
/// after its line and is checked before any use: a damaged cache is no cache.
#[derive(Debug, Default)]
pub struct ChunkCache {
    /// The cache file as read (or as it is written): keys and the fleet's
    /// JSON are read from it in place, none copied out.
    raw: Vec<u8>,
    /// The git blob id the cached fleet has as a snapshot's fleet.json, so a
    /// caller holding a snapshot with that id can lend its fleet instead.
    fleet_blob: Option<String>,
    /// Resources in the cached fleet: the table covers them all when equal.
    resources: usize,
    /// Where the fleet's JSON begins in `raw`.
    json_from: usize,
    /// The table in its order (the JSON's: by kind, then key).
    entries: Vec<Entry>,
    /// Chunk hash -> its entry.
    index: HashMap<u128, u32, BuildHasherDefault<TakeBits>>,
}

/// One cached chunk: the resource it holds and where that resource is in
/// the cached fleet's JSON (`"key":value`).
#[derive(Debug, Clone, Copy)]
struct Entry {
    kind: Kind,
    /// The key's bytes in the cache file (a table line's end).
    key: (u32, u32),
    span: (u32, u32),
}

impl Entry {
    fn span(&self) -> std::ops::Range<usize> {
        self.span.0 as usize..self.span.1 as usize
    }
}

/// The table line at `at` in `raw` (which ends where the table ends):
/// `hash kind start len key` and a newline, parsed by hand, since every diff
/// reads one line per resource. None unless it is exactly that.
fn table_line(raw: &[u8], at: usize) -> Option<(u128, Entry)> {
    fn decimal(b: &[u8]) -> Option<(u32, &[u8])> {
        let mut n: u32 = 0;
        for (i, c) in b.iter().enumerate() {
            match c {
                b'0'..=b'9' => n = n.checked_mul(10)?.checked_add(u32::from(c - b'0'))?,
                b' ' if i > 0 => return Some((n, &b[i + 1..])),
                _ => return None,
            }
        }
        None
    }
    let line = raw.get(at..)?;
    let hash = hex128(line.get(..32)?)?;
    let [b' ', k, b' ', rest @ ..] = line.get(32..)? else {
        return None;
    };
    let kind = match k {
        b't' => Kind::Templates,
        b'm' => Kind::Modules,
        b'a' => Kind::Assignments,
        b'p' => Kind::ProviderConfigs,
        _ => return None,
    };
    let (from, rest) = decimal(rest)?;
    let (len, rest) = decimal(rest)?;
    let key_at = raw.len() - rest.len();
    let key_end = key_at + rest.iter().position(|b| *b == b'\n')?;
    let entry = Entry {
        kind,
        key: (u32::try_from(key_at).ok()?, u32::try_from(key_end).ok()?),
        span: (from, from.checked_add(len)?),
    };
    Some((hash, entry))
}

/// A checksum against damage (a torn or cut write, a changed byte), not
/// against forgery (whoever can write .git can write anything): CRC-32,
/// many times faster than SHA-256 on the ~2 MB every diff reads.
fn checksum(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

/// 32 lowercase hex digits (as `encode` writes them) as a number.
fn hex128(s: &[u8]) -> Option<u128> {
    if s.len() != 32 {
        return None;
    }
    s.iter().try_fold(0u128, |n, b| {
        let d = match *b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => return None,
        };
        Some(n << 4 | u128::from(d))
    })
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
    /// Load the cache at `path`; a missing, unreadable, old or damaged cache
    /// is an empty one.
    pub fn load(path: &Path) -> ChunkCache {
        std::fs::read(path)
            .ok()
            .and_then(ChunkCache::from_bytes)
            .unwrap_or_default()
    }

    /// The cache file, read whole in one read (a second read would fault in
    /// and copy the same pages again): checked, and its table indexed; the
    /// keys and the JSON stay where they are.
    fn from_bytes(raw: Vec<u8>) -> Option<ChunkCache> {
        let eol = |raw: &[u8], from: usize| raw.get(from..)?.iter().position(|b| *b == b'\n');
        let first = eol(&raw, 0)?;
        if raw.get(..first)? != CACHE_HEADER.as_bytes() {
            return None;
        }
        let second = first + 1 + eol(&raw, first + 1)?;
        let mut words = std::str::from_utf8(&raw[first + 1..second])
            .ok()?
            .strip_prefix("blob ")?
            .split(' ');
        let mut word = || words.next();
        let (blob, len, resources) = (word()?.to_string(), word()?, word()?.parse().ok()?);
        let sum = word()?;
        if sum.len() != 8 || u32::from_str_radix(sum, 16).ok()? != checksum(&raw[second + 1..]) {
            return None;
        }
        let start = second + 1;
        let end = start.checked_add(len.parse().ok()?)?;
        if raw.get(end) != Some(&b'\n') {
            return None;
        }
        std::str::from_utf8(&raw[start..end]).ok()?; // keys are read as text
        let mut entries = Vec::with_capacity((end - start) / 56);
        let mut index = HashMap::with_capacity_and_hasher(
            (end - start) / 56,
            BuildHasherDefault::<TakeBits>::default(),
        );
        let mut at = start;
        while at < end {
            let (hash, entry) = table_line(&raw[..end], at)?;
            at = entry.key.1 as usize + 1;
            if index
                .insert(hash, u32::try_from(entries.len()).ok()?)
                .is_some()
            {
                return None; // a chunk listed twice: not a table `encode` wrote
            }
            entries.push(entry);
        }
        Some(ChunkCache {
            fleet_blob: Some(blob),
            resources,
            json_from: end + 1,
            raw,
            entries,
            index,
        })
    }

    /// The cache file's bytes for `table` (its lines) and `json`.
    fn encode(fleet_blob: &str, resources: usize, table: &str, json: &[u8]) -> Vec<u8> {
        let mut body = Vec::with_capacity(table.len() + 1 + json.len());
        body.extend_from_slice(table.as_bytes());
        body.push(b'\n');
        body.extend_from_slice(json);
        let mut out = format!(
            "{CACHE_HEADER}\nblob {fleet_blob} {} {resources} {:08x}\n",
            table.len(),
            checksum(&body),
        )
        .into_bytes();
        out.extend_from_slice(&body);
        out
    }

    /// The key an entry names (the table was checked as UTF-8 and a key is
    /// a whole line's end, so this never fails).
    fn key(&self, e: &Entry) -> &str {
        std::str::from_utf8(&self.raw[e.key.0 as usize..e.key.1 as usize]).unwrap_or_default()
    }

    fn get(&self, hash: &u128) -> Option<&Entry> {
        self.index.get(hash).map(|i| &self.entries[*i as usize])
    }

    fn contains(&self, hash: &u128) -> bool {
        self.index.contains_key(hash)
    }

    /// The cached fleet's JSON (checked with the rest when read).
    fn json(&self) -> Option<&[u8]> {
        self.raw
            .get(self.json_from..)
            .filter(|_| !self.raw.is_empty())
    }

    /// Write atomically (temp file + rename); a failure only costs speed later.
    pub fn save(&self, path: &Path) {
        if self.raw.is_empty() {
            return;
        }
        let Some(dir) = path.parent() else { return };
        if std::fs::create_dir_all(dir).is_err() {
            return;
        }
        let tmp = dir.join(format!(".parse-cache.{}.tmp", std::process::id()));
        if std::fs::write(&tmp, &self.raw).is_ok() {
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
    let misses = hashes.iter().filter(|h| !cache.contains(h)).count();
    // Many misses: one full parse is cheaper than many small ones; keep its result.
    if misses * 4 > chunks.len() || cache.entries.is_empty() {
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
            .json()
            .and_then(|b| serde_json::from_slice::<Fleet>(b).ok())
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
        match cache.get(hash) {
            Some(e) => match lent {
                Some(from) => cursors.take(from, e.kind, cache.key(e), &mut all)?,
                None => take_into(base, e.kind, cache.key(e), &mut all)?,
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
        .entries
        .iter()
        .filter(|e| e.kind == Kind::Modules)
        .map(|e| cache.key(e).to_string())
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
    let (fleet_json, spans) = encode_fleet(&parsed.fleet);
    // Chunk hash -> resource (the same text twice is one chunk).
    let mut found: HashMap<u128, (Kind, &str, (usize, usize))> =
        HashMap::with_capacity(chunks.len());
    for (chunk, hash) in chunks.iter().zip(hashes) {
        // The resource whose key sits on the chunk's first line.
        if let Some(name) = by_line.get(&(chunk.kind, chunk.line)) {
            if let Some(span) = spans.get(&(chunk.kind, *name)) {
                found.insert(*hash, (chunk.kind, *name, *span));
            }
        }
    }
    // In the JSON's order, so a reader builds its maps from sorted runs.
    let mut rows: Vec<_> = found
        .into_iter()
        .filter(|(_, (_, name, _))| !name.contains(['\n', '\r'])) // one line each
        .collect();
    rows.sort_unstable_by_key(|(_, (_, _, span))| span.0);
    let mut table = String::with_capacity(rows.len() * 72);
    for (hash, (kind, name, span)) in rows {
        use std::fmt::Write;
        let _ = writeln!(
            table,
            "{hash:032x} {} {} {} {name}",
            kind_letter(kind),
            span.0,
            span.1 - span.0,
        );
    }
    let Ok(fleet_blob) =
        gix::objs::compute_hash(gix::hash::Kind::Sha1, gix::objs::Kind::Blob, &fleet_json)
    else {
        return ChunkCache::default();
    };
    let raw = ChunkCache::encode(
        &fleet_blob.to_string(),
        count(&parsed.fleet),
        &table,
        &fleet_json,
    );
    ChunkCache::from_bytes(raw).unwrap_or_default()
}

/// Where each resource's `"key":value` is in a fleet's JSON (byte range).
pub type Spans<'a> = HashMap<(Kind, &'a str), (usize, usize)>;

/// `fleet` as compact JSON, byte for byte what `serde_json::to_vec` gives (a
/// snapshot's fleet.json), and where each resource's `"key":value` is in it.
pub fn encode_fleet(fleet: &Fleet) -> (Vec<u8>, Spans<'_>) {
    fn members<'a, V: serde::Serialize>(
        kind: Kind,
        map: &'a BTreeMap<String, V>,
        out: &mut Vec<u8>,
        spans: &mut Spans<'a>,
    ) {
        if map.is_empty() {
            return; // skip_serializing_if = "BTreeMap::is_empty"
        }
        out.push(if out.is_empty() { b'{' } else { b',' });
        let _ = serde_json::to_writer(&mut *out, kind.as_str());
        out.extend_from_slice(b":{");
        for (i, (key, value)) in map.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let start = out.len();
            let _ = serde_json::to_writer(&mut *out, key);
            out.push(b':');
            let _ = serde_json::to_writer(&mut *out, value);
            spans.insert((kind, key.as_str()), (start, out.len()));
        }
        out.push(b'}');
    }
    let mut out = Vec::with_capacity(1 << 20);
    let mut spans = HashMap::with_capacity(count(fleet));
    members(Kind::Templates, &fleet.templates, &mut out, &mut spans);
    members(Kind::Modules, &fleet.modules, &mut out, &mut spans);
    members(Kind::Assignments, &fleet.assignments, &mut out, &mut spans);
    members(
        Kind::ProviderConfigs,
        &fleet.provider_configs,
        &mut out,
        &mut spans,
    );
    if out.is_empty() {
        out.push(b'{');
    }
    out.push(b'}');
    (out, spans)
}

/// What `diff` needs of live and desired when desired is the cached fleet
/// with a few chunks changed and the cached fleet is live's (the same
/// fleet.json blob): every template and module, and only the assignments of
/// the nodes a change can reach, on both sides. Unchanged resources are
/// decoded once from the cached JSON and shared, the rest of live is never
/// decoded. `diff` of these gives exactly what `diff` of the whole fleets
/// gives: unchanged resources are no change, and every node a change reaches
/// has all its assignments (and every module) on both sides to render.
/// None whenever that cannot be shown cheaply (then parse as usual).
pub fn diff_view(
    file: &str,
    bytes: &[u8],
    cache: &ChunkCache,
    live_blob: &str,
) -> Option<(Fleet, Fleet)> {
    use std::collections::HashSet;
    use std::sync::Arc;
    // The table must name every resource of live, each at its place in the JSON.
    if cache.fleet_blob.as_deref() != Some(live_blob) || cache.entries.len() != cache.resources {
        return None;
    }
    let text = check_text(file, bytes).ok()?;
    let chunks = split(text)?;
    // Which table entries the file still holds, by the entry's place.
    let mut hit = vec![false; cache.entries.len()];
    let mut missed: Vec<&Chunk<'_>> = Vec::new();
    for chunk in &chunks {
        let hash = chunk_hash(chunk.kind, chunk.text);
        match cache.index.get(&hash) {
            Some(i) => {
                if std::mem::replace(&mut hit[*i as usize], true) {
                    return None; // the same text twice: the full parser refuses it
                }
            }
            None => missed.push(chunk),
        }
    }
    if missed.len() * 4 > chunks.len() {
        return None;
    }
    let fresh = parse_chunks(file, &missed)?;
    if count(&fresh) != missed.len() {
        return None;
    }
    // Checked before anything is decoded: what is new, with every module of
    // desired (as `assemble` does); a module gone means the whole fleet.
    let mut kept_providers: Vec<&str> = Vec::new();
    for (e, kept) in cache.entries.iter().zip(&hit) {
        if e.kind == Kind::Modules && !kept && !fresh.modules.contains_key(cache.key(e)) {
            return None;
        }
        if e.kind == Kind::ProviderConfigs && *kept {
            kept_providers.push(cache.key(e));
        }
    }
    let json = cache.json()?;
    // Nodes a change can reach: those of changed assignments, and every node
    // with an assignment (in live or desired) of a changed module.
    // A set: every assignment of the table is looked up in it.
    let changed_modules: HashSet<&str, BuildHasherDefault<Fnv>> =
        fresh.modules.keys().map(String::as_str).collect();
    let mut fresh_nodes: HashSet<&str, BuildHasherDefault<Fnv>> = HashSet::default();
    for key in fresh.assignments.keys() {
        fresh_nodes.insert(split_key(key)?.0);
    }
    let mut touched = fresh_nodes.clone();
    // One pass over the table (in key order, so each map is built from a
    // sorted run): templates and modules decoded, assignments sorted out by
    // node (only the touched nodes' ones are decoded below).
    let (mut live, mut desired) = (Collected::default(), Collected::default());
    let mut live_assignments: Vec<u32> = Vec::with_capacity(cache.entries.len());
    for (i, (e, kept)) in (0u32..).zip(cache.entries.iter().zip(&hit)) {
        let (key, kept) = (cache.key(e), *kept);
        match e.kind {
            Kind::Templates => {
                let v: Arc<super::model::Template> = member(json, key, e)?;
                if kept {
                    desired.templates.push((key.to_string(), v.clone()));
                }
                live.templates.push((key.to_string(), v));
            }
            Kind::Modules => {
                let v: Arc<super::model::Module> = member(json, key, e)?;
                if kept {
                    desired.modules.push((key.to_string(), v.clone()));
                }
                live.modules.push((key.to_string(), v));
            }
            Kind::Assignments => {
                let (node, module) = split_key(key)?;
                if kept {
                    // Unchanged and declared again: the full parser refuses it.
                    if fresh_nodes.contains(node) && fresh.assignments.contains_key(key) {
                        return None;
                    }
                } else {
                    touched.insert(node); // changed or removed
                }
                if !changed_modules.is_empty() && changed_modules.contains(module) {
                    touched.insert(node);
                }
                live_assignments.push(i);
            }
            Kind::ProviderConfigs => {} // never diffed
        }
    }
    let (mut live, mut desired) = (live.into_fleet(), desired.into_fleet());
    let declared_twice = fresh
        .templates
        .keys()
        .any(|k| desired.templates.contains_key(k))
        || fresh
            .modules
            .keys()
            .any(|k| desired.modules.contains_key(k))
        || fresh
            .provider_configs
            .keys()
            .any(|k| kept_providers.contains(&k.as_str()));
    if declared_twice {
        return None;
    }
    desired
        .templates
        .extend(fresh.templates.iter().map(|(k, v)| (k.clone(), v.clone())));
    desired
        .modules
        .extend(fresh.modules.iter().map(|(k, v)| (k.clone(), v.clone())));
    let to_check = Fleet {
        modules: desired.modules.clone(),
        ..fresh.clone()
    };
    if validate::validate(&to_check, &SourceMap::new(file)).is_err() {
        return None;
    }
    std::mem::forget(to_check); // freed with the process
    let (mut live_kept, mut desired_kept) = (Vec::new(), Vec::new());
    for i in live_assignments {
        let (e, kept) = (&cache.entries[i as usize], hit[i as usize]);
        let key = cache.key(e);
        if !touched.contains(split_key(key)?.0) {
            continue;
        }
        let v: Arc<super::model::Assignment> = member(json, key, e)?;
        if kept {
            desired_kept.push((key.to_string(), v.clone()));
        }
        live_kept.push((key.to_string(), v));
    }
    live.assignments = live_kept.into_iter().collect();
    desired.assignments = desired_kept.into_iter().collect();
    desired.assignments.extend(fresh.assignments);
    Some((live, desired))
}

/// `node:module` split as [`super::model::split_assignment_key`] does, with byte searches
/// (this runs for every assignment in the table).
fn split_key(key: &str) -> Option<(&str, &str)> {
    let first = key.bytes().position(|b| b == b':')?;
    if first == 0 || first + 1 == key.len() || key.bytes().skip(first + 1).any(|b| b == b':') {
        return None;
    }
    Some((&key[..first], &key[first + 1..]))
}

/// FNV-1a: node names are short, SipHash's set-up costs more than they do.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// The resource `key` (entry `e`), decoded from its place in the cached
/// JSON; None unless that place holds exactly that key.
fn member<T: serde::de::DeserializeOwned>(
    json: &[u8],
    key: &str,
    e: &Entry,
) -> Option<std::sync::Arc<T>> {
    let text = json.get(e.span())?;
    let mut quoted = serde_json::to_vec(key).ok()?;
    quoted.push(b':');
    serde_json::from_slice(text.strip_prefix(quoted.as_slice())?).ok()
}
