//! A cache of parsed pull-mode reports, keyed by report commit id (issue 11).
//!
//! A commit never changes, so what [`super::agent::read_reports`] parsed
//! out of one (for one peer) is right forever: a hit needs no inflate. The
//! file `<git common dir>/fleet/cache/reports-v3` holds the parsed FIELDS
//! only, one self-checked record each:
//!
//! ```text
//! header  "git-fleet report cache 3\n"
//! record  u32 LE payload length | payload | u64 LE CRC-32 of the payload
//! payload u8 id length, id, str peer, u8 kind (0: not a report, 1: a report),
//!         for a report: str commit, run, time, actor, branch, u8 pending,
//!         str outcome, reason, u8 reload, health, readback (0 none, 1-4),
//!         u8 owed (0xff none, else bits reload 1, health 2, readback 4),
//!         opt head, opt agent (u8 0/1, then str); str = u16 LE length, bytes
//! ```
//!
//! Misses are appended in one write (O_APPEND); the file is rewritten whole
//! (temp file and rename) only when it is missing, unusable, or mostly
//! records no report ref points to any more. Any record that fails its
//! checksum or length makes the whole file ignored (never trusted in part)
//! and rewritten; a cache that cannot be read or written only costs time.

use super::agent::ReportView;
use super::fanout::{Owed, StepStatus};
use super::record::Record;
use gix::ObjectId;
use std::cell::{Cell, OnceCell};
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};

const MAGIC: &[u8] = b"git-fleet report cache 3\n";
const FILE: &str = "reports-v3";
/// A cache larger than this is not read (something else wrote it).
const MAX_BYTES: u64 = 1 << 30;

/// What one report commit says for one peer.
#[derive(Debug, Clone)]
pub struct Fields {
    pub record: Record,
    pub head: Option<String>,
    pub agent: Option<String>,
}

impl Fields {
    /// These fields seen as report `id` (None: no peer line, never built).
    pub fn view(&self, id: ObjectId) -> Option<ReportView<'_>> {
        let r = &self.record;
        let p = r.peers.first()?;
        Some(ReportView {
            peer: &p.name,
            id,
            commit: &r.commit,
            time: &r.time,
            actor: &r.actor,
            outcome: &p.outcome,
            reason: &p.reason,
            reload: p.reload,
            health: p.health,
            readback: p.readback,
            owed: p.owed,
            head: self.head.as_deref(),
            agent: self.agent.as_deref(),
        })
    }
}

pub struct ReportCache {
    path: Option<PathBuf>,
    /// The whole file, every record checked at load.
    bytes: Vec<u8>,
    /// Records are written in ref order, and refs are read in that order:
    /// the next look-up is most likely the record at this offset (after the
    /// last hit). No list of records is built: 10,000 of them are pages.
    next: Cell<usize>,
    /// Id to the offset of its (last) record, built on the first look-up
    /// the order does not answer.
    by_id: OnceCell<gix::hashtable::HashMap<ObjectId, usize>>,
    /// Records in the file (duplicates and stale ones included).
    records: usize,
    /// The file is missing or unusable: rewrite it whole.
    rewrite: bool,
}

impl ReportCache {
    /// No cache: every look-up misses and nothing is written.
    pub fn disabled() -> ReportCache {
        ReportCache {
            path: None,
            bytes: Vec::new(),
            next: Cell::new(MAGIC.len()),
            by_id: OnceCell::new(),
            records: 0,
            rewrite: false,
        }
    }

    /// The cache of the repository whose common dir is `common_dir`; an
    /// unreadable or damaged one loads empty (and is rewritten on save).
    pub fn load(common_dir: &Path) -> ReportCache {
        let path = common_dir.join("fleet").join("cache").join(FILE);
        let mut cache = ReportCache {
            path: Some(path.clone()),
            rewrite: true,
            ..ReportCache::disabled()
        };
        let too_big = std::fs::metadata(&path).map_or(true, |m| m.len() > MAX_BYTES);
        if too_big {
            return cache;
        }
        let Ok(bytes) = std::fs::read(&path) else {
            return cache;
        };
        if let Some(records) = check(&bytes) {
            cache.bytes = bytes;
            cache.records = records;
            cache.rewrite = false;
        }
        cache
    }

    /// The cached parse of report commit `id` for `peer`, borrowed from the
    /// file's bytes: `Some(None)` when it is known not to be a report,
    /// `None` on a miss. The range is the record's payload (for [`save`]).
    pub fn get(&self, id: &ObjectId, peer: &str) -> Option<(Option<ReportView<'_>>, Range<usize>)> {
        let range = match self.payload_at(self.next.get()) {
            Some(r) if id_of(&self.bytes[r.clone()]) == Some(id.as_bytes()) => r,
            _ => {
                let at = *self
                    .by_id
                    .get_or_init(|| {
                        let mut map: gix::hashtable::HashMap<ObjectId, usize> = Default::default();
                        map.reserve(self.records);
                        let mut at = MAGIC.len();
                        while let Some(r) = self.payload_at(at) {
                            if let Some(id) = id_of(&self.bytes[r.clone()]) {
                                if let Ok(id) = ObjectId::try_from(id) {
                                    map.insert(id, at);
                                }
                            }
                            at = r.end + 8;
                        }
                        map
                    })
                    .get(id)?;
                self.payload_at(at)?
            }
        };
        self.next.set(range.end + 8);
        let view = decode(&self.bytes[range.clone()])?;
        match view {
            Some(v) if v.peer != peer => None,
            None if peer_of(&self.bytes[range.clone()]) != Some(peer.as_bytes()) => None,
            _ => Some((view, range)),
        }
    }

    /// The report in payload `range` (as [`get`] returned it).
    pub fn view(&self, range: Range<usize>) -> Option<ReportView<'_>> {
        decode(self.bytes.get(range)?)?
    }

    /// The peer of the payload in `range`, as bytes (cheap: for sorting).
    pub fn peer_bytes(&self, range: Range<usize>) -> &[u8] {
        self.bytes.get(range).and_then(peer_of).unwrap_or_default()
    }

    /// The payload of the record at byte `at` (records were checked at load).
    fn payload_at(&self, at: usize) -> Option<Range<usize>> {
        let len = u32::from_le_bytes(self.bytes.get(at..at + 4)?.try_into().ok()?) as usize;
        let payload = at + 4..at + 4 + len;
        self.bytes.get(payload.end..payload.end + 8)?;
        Some(payload)
    }

    /// Record the misses of this run. `hits` are the payloads found here
    /// (kept when the file is rewritten), `live` the number of report refs.
    pub fn save(
        &self,
        hits: &[Range<usize>],
        misses: &[(ObjectId, &str, Option<&Fields>)],
        live: usize,
    ) {
        let Some(path) = &self.path else { return };
        let compact = self.records + misses.len() > 2 * live + 256;
        if !self.rewrite && !compact && misses.is_empty() {
            return;
        }
        let mut out = Vec::with_capacity(misses.len() * 256);
        for (id, peer, fields) in misses {
            encode_record(&mut out, id, peer, *fields);
        }
        // Errors are ignored: without a cache proof is only slower.
        if self.rewrite || compact {
            // The kept records, then the new ones (written as they are, not copied).
            let mut kept = Vec::with_capacity(MAGIC.len() + hits.len() * 256);
            kept.extend_from_slice(MAGIC);
            for r in hits {
                frame(&mut kept, &self.bytes[r.clone()]);
            }
            let _ = replace(path, &[&kept, &out]);
        } else {
            let _ = append(path, &out);
        }
    }
}

/// The number of records, or None when any record is damaged.
fn check(bytes: &[u8]) -> Option<usize> {
    let mut at = MAGIC.len();
    if bytes.get(..at)? != MAGIC {
        return None;
    }
    let mut records = 0;
    while at < bytes.len() {
        let len = u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?) as usize;
        let payload = at + 4..at + 4 + len;
        let sum = bytes.get(payload.end..payload.end + 8)?;
        let p = &bytes[payload.clone()];
        if checksum(p) != u64::from_le_bytes(sum.try_into().ok()?) {
            return None;
        }
        ObjectId::try_from(id_of(p)?).ok()?;
        records += 1;
        at = payload.end + 8;
    }
    Some(records)
}

/// The id bytes at the start of a payload.
fn id_of(p: &[u8]) -> Option<&[u8]> {
    let idlen = *p.first()? as usize;
    p.get(1..1 + idlen)
}

/// The peer after the id, as bytes.
fn peer_of(p: &[u8]) -> Option<&[u8]> {
    let at = 1 + *p.first()? as usize;
    let len = u16::from_le_bytes(p.get(at..at + 2)?.try_into().ok()?) as usize;
    p.get(at + 2..at + 2 + len)
}

/// CRC-32 (crc32fast): detects damage, not attacks (whoever can write the
/// git dir can write its refs too).
fn checksum(data: &[u8]) -> u64 {
    u64::from(crc32fast::hash(data))
}

fn frame(out: &mut Vec<u8>, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&checksum(payload).to_le_bytes());
}

fn encode_record(out: &mut Vec<u8>, id: &ObjectId, peer: &str, fields: Option<&Fields>) {
    let mut p = Vec::with_capacity(256);
    if encode(&mut p, id, peer, fields).is_some() {
        frame(out, &p);
    }
}

/// None when a field does not fit (over 64 KiB): that report stays uncached.
fn encode(p: &mut Vec<u8>, id: &ObjectId, peer: &str, fields: Option<&Fields>) -> Option<()> {
    let id = id.as_bytes();
    p.push(u8::try_from(id.len()).ok()?);
    p.extend_from_slice(id);
    put(p, peer)?;
    let Some(f) = fields else {
        p.push(0);
        return Some(());
    };
    p.push(1);
    let r = &f.record;
    let peer_rec = r.peers.first()?;
    for s in [&r.commit, &r.run, &r.time, &r.actor, &r.branch] {
        put(p, s)?;
    }
    p.push(u8::from(r.pending));
    put(p, &peer_rec.outcome)?;
    put(p, &peer_rec.reason)?;
    for s in [peer_rec.reload, peer_rec.health, peer_rec.readback] {
        p.push(match s {
            None => 0,
            Some(StepStatus::OutOfScope) => 1,
            Some(StepStatus::Skipped) => 2,
            Some(StepStatus::Ok) => 3,
            Some(StepStatus::Failed) => 4,
        });
    }
    p.push(match peer_rec.owed {
        None => 0xff,
        Some(o) => u8::from(o.reload) | u8::from(o.health) << 1 | u8::from(o.readback) << 2,
    });
    for s in [&f.head, &f.agent] {
        match s {
            None => p.push(0),
            Some(s) => {
                p.push(1);
                put(p, s)?;
            }
        }
    }
    Some(())
}

fn put(p: &mut Vec<u8>, s: &str) -> Option<()> {
    p.extend_from_slice(&u16::try_from(s.len()).ok()?.to_le_bytes());
    p.extend_from_slice(s.as_bytes());
    Some(())
}

/// The report in one payload, borrowed from it (`Some(None)`: known not to
/// be a report). Only what proof reads is decoded; run, branch and state
/// are skipped.
fn decode(p: &[u8]) -> Option<Option<ReportView<'_>>> {
    let mut r = Reader { p, at: 0 };
    let idlen = r.byte()? as usize;
    let id = ObjectId::try_from(r.take(idlen)?).ok()?;
    let peer = r.str()?;
    if r.byte()? == 0 {
        return Some(None);
    }
    let commit = r.str()?;
    r.skip_str()?; // run
    let time = r.str()?;
    let actor = r.str()?;
    r.skip_str()?; // branch
    r.byte()?; // pending
    let outcome = r.str()?;
    let reason = r.str()?;
    let mut step = || -> Option<Option<StepStatus>> {
        Some(match r.byte()? {
            0 => None,
            1 => Some(StepStatus::OutOfScope),
            2 => Some(StepStatus::Skipped),
            3 => Some(StepStatus::Ok),
            4 => Some(StepStatus::Failed),
            _ => return None,
        })
    };
    let (reload, health, readback) = (step()?, step()?, step()?);
    let owed = match r.byte()? {
        0xff => None,
        b => Some(Owed {
            reload: b & 1 != 0,
            health: b & 2 != 0,
            readback: b & 4 != 0,
        }),
    };
    let head = r.opt()?;
    let agent = r.opt()?;
    if r.at != p.len() {
        return None;
    }
    Some(Some(ReportView {
        peer,
        id,
        commit,
        time,
        actor,
        outcome,
        reason,
        reload,
        health,
        readback,
        owed,
        head,
        agent,
    }))
}

struct Reader<'a> {
    p: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.p.get(self.at..self.at + n)?;
        self.at += n;
        Some(s)
    }
    fn byte(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn str(&mut self) -> Option<&'a str> {
        let len = self.take(2)?;
        let len = u16::from_le_bytes([len[0], len[1]]) as usize;
        std::str::from_utf8(self.take(len)?).ok()
    }
    fn skip_str(&mut self) -> Option<()> {
        let len = self.take(2)?;
        self.take(u16::from_le_bytes([len[0], len[1]]) as usize)?;
        Some(())
    }
    fn opt(&mut self) -> Option<Option<&'a str>> {
        match self.byte()? {
            0 => Some(None),
            1 => Some(Some(self.str()?)),
            _ => None,
        }
    }
}

fn append(path: &Path, records: &[u8]) -> std::io::Result<()> {
    // One write: a concurrent proof's records never interleave with these,
    // and a torn write fails its checksum (the file is then rebuilt).
    let mut f = std::fs::OpenOptions::new().append(true).open(path)?;
    f.write_all(records)
}

fn replace(path: &Path, parts: &[&[u8]]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    for part in parts {
        tmp.write_all(part)?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peers::record::PeerRecord;

    fn fields() -> Fields {
        Fields {
            record: Record {
                commit: "c".repeat(40),
                run: "r1".into(),
                time: "2026-01-02T03:04:05+00:00".into(),
                actor: "A <a@x>".into(),
                branch: "main".into(),
                pending: false,
                peers: vec![PeerRecord {
                    name: "web-1".into(),
                    outcome: "current".into(),
                    reason: "already at c".into(),
                    reload: Some(StepStatus::Ok),
                    health: None,
                    readback: Some(StepStatus::Failed),
                    owed: Some(Owed {
                        reload: false,
                        health: false,
                        readback: true,
                    }),
                }],
            },
            head: Some("h".into()),
            agent: None,
        }
    }

    #[test]
    fn a_record_round_trips_and_is_only_for_its_peer() {
        let id = ObjectId::from_hex(b"0123456789012345678901234567890123456789").unwrap();
        let mut out = MAGIC.to_vec();
        encode_record(&mut out, &id, "web-1", Some(&fields()));
        assert_eq!(check(&out), Some(1));
        let cache = ReportCache {
            bytes: out.clone(),
            records: 1,
            ..ReportCache::disabled()
        };
        let (back, payload) = cache.get(&id, "web-1").unwrap();
        let f = fields();
        assert_eq!(back, f.view(id));
        assert_eq!(back.unwrap().head, Some("h"));
        assert_eq!(cache.view(payload.clone()), f.view(id));
        assert_eq!(cache.peer_bytes(payload), b"web-1");
        assert!(cache.get(&id, "web-2").is_none());
        // One flipped bit anywhere makes the whole file unusable.
        for i in MAGIC.len()..out.len() {
            let mut bad = out.clone();
            bad[i] ^= 4;
            assert!(check(&bad).is_none(), "byte {i}");
        }
        assert!(check(&out[..out.len() - 1]).is_none());
    }
}
