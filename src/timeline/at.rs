//! `--at WHEN`: desired, live and the evidence as they were at a time.
//!
//! The rule, for every ref: the state "at WHEN" is the **newest commit
//! reachable from the ref's tip whose committer date is at or before WHEN**.
//! Every parent is walked (not only the first), so a record that came in by
//! a merge counts from its own date; of two commits with the same date, the
//! one nearer the tip wins. WHEN is read as a date first: RFC 3339
//! (`2026-01-05T10:00:00Z`, `2026-01-05 10:00:00+02:00`), a local date and
//! time (`2026-01-05 10:00`), a bare date (`2026-01-05`, meaning the end of
//! that day), `@<unix seconds>`, `N seconds|minutes|hours|days|weeks ago`,
//! `yesterday` or `now`. Anything else must be a git revision: it stands for
//! its commit's committer date, and for the desired file, that commit itself.
//! Nothing else is guessed (git's `--until` would read "garbage" as now).

use crate::desired::Desired;
use crate::error::{Error, GitContext, Result, StoreError};
use crate::fleet::Fleet;
use crate::live;
use crate::store::Store;
use gix::ObjectId;
use std::collections::{HashMap, HashSet, VecDeque};

/// A resolved `--at WHEN`.
#[derive(Debug, Clone)]
pub struct At {
    /// What the user wrote.
    pub spec: String,
    /// Seconds since the epoch.
    pub time: i64,
    /// When WHEN was a revision: its commit.
    pub rev: Option<ObjectId>,
}

impl At {
    /// `{"spec": ..., "time": RFC 3339, "rev": commit|null}` for `--json`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "spec": self.spec,
            "time": format_time(self.time),
            "rev": self.rev.map(|r| r.to_string()),
        })
    }

    /// "2026-01-05T10:00:00Z" or "main~2 (2026-01-05T10:00:00Z)".
    pub fn describe(&self) -> String {
        match self.rev {
            Some(_) => format!("{} ({})", self.spec, format_time(self.time)),
            None => format_time(self.time),
        }
    }
}

/// RFC 3339 in UTC.
pub fn format_time(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| seconds.to_string())
}

/// Resolve WHEN (see the module docs for the grammar).
pub fn parse(store: &Store, spec: &str) -> Result<At> {
    let now = jiff::Timestamp::now();
    if let Some(time) = parse_date(spec.trim(), now) {
        return Ok(At {
            spec: spec.to_string(),
            time,
            rev: None,
        });
    }
    match store.rev_commit(spec) {
        Ok(commit) => Ok(At {
            spec: spec.to_string(),
            time: commit_time(store, commit)?,
            rev: Some(commit),
        }),
        Err(_) => Err(Error::usage_hint(
            format!("--at '{spec}' is neither a date nor a revision"),
            "dates: 2026-01-05, 2026-01-05T10:00:00Z, '2026-01-05 10:00', @1767607200, '3 days ago', yesterday; or any git revision (main~2, a commit)",
        )),
    }
}

/// A date in one of the accepted forms, as seconds since the epoch.
pub fn parse_date(spec: &str, now: jiff::Timestamp) -> Option<i64> {
    use std::str::FromStr;
    let tz = jiff::tz::TimeZone::system();
    match spec {
        "now" => return Some(now.as_second()),
        "yesterday" => return Some(now.as_second() - 86_400),
        _ => {}
    }
    if let Some(secs) = spec.strip_prefix('@') {
        return secs.parse().ok();
    }
    let words: Vec<&str> = spec.split_whitespace().collect();
    if let [n, unit, "ago"] = words.as_slice() {
        let n: i64 = n.parse().ok()?;
        let unit = unit.trim_end_matches('s');
        let secs = match unit {
            "second" => 1,
            "minute" => 60,
            "hour" => 3_600,
            "day" => 86_400,
            "week" => 7 * 86_400,
            _ => return None,
        };
        return Some(now.as_second() - n.checked_mul(secs)?);
    }
    if let Ok(t) = jiff::Timestamp::from_str(spec) {
        return Some(t.as_second());
    }
    // A bare date is the whole day: its end, so "--at 2026-01-05" sees that day.
    if spec.len() == 10 {
        if let Ok(d) = jiff::civil::Date::from_str(spec) {
            let end = d.at(23, 59, 59, 0).to_zoned(tz).ok()?;
            return Some(end.timestamp().as_second());
        }
    }
    if let Ok(dt) = jiff::civil::DateTime::from_str(spec) {
        return Some(dt.to_zoned(tz).ok()?.timestamp().as_second());
    }
    None
}

/// The committer date of `commit`, in seconds.
pub fn commit_time(store: &Store, commit: ObjectId) -> Result<i64> {
    Ok(parents_and_time(store, commit)?.1)
}

fn parents_and_time(store: &Store, commit: ObjectId) -> Result<(Vec<ObjectId>, i64)> {
    let c = store
        .repo()
        .find_commit(commit)
        .git(|| format!("cannot read commit {commit}"))?;
    let decoded = c
        .decode()
        .git(|| format!("cannot decode commit {commit}"))?;
    let time = decoded
        .committer()
        .ok()
        .and_then(|s| s.time().ok())
        .map(|t| t.seconds)
        .unwrap_or(0);
    Ok((decoded.parents().collect(), time))
}

/// The commit of the history from `tip` that was current at `time` (the
/// rule above), and the date of the oldest commit there (for messages).
pub fn at_time(store: &Store, tip: ObjectId, time: i64) -> Result<(Option<ObjectId>, i64)> {
    let mut seen = HashSet::from([tip]);
    let mut todo = VecDeque::from([tip]);
    let mut best: Option<(i64, ObjectId)> = None;
    let mut oldest = i64::MAX;
    // Breadth first from the tip: among equal dates the first found is nearer.
    while let Some(id) = todo.pop_front() {
        let (parents, t) = parents_and_time(store, id)?;
        oldest = oldest.min(t);
        if t <= time && best.is_none_or(|(bt, _)| t > bt) {
            best = Some((t, id));
        }
        for p in parents {
            if seen.insert(p) {
                todo.push_back(p);
            }
        }
    }
    Ok((best.map(|(_, id)| id), oldest))
}

/// `ref_name` at `at`: Ok(None) when the ref does not exist; Err naming the
/// first record when it exists but had nothing yet then.
pub fn ref_at(store: &Store, ref_name: &str, at: &At) -> Result<Option<ObjectId>> {
    let Some(tip) = store.resolve(ref_name)? else {
        return Ok(None);
    };
    match at_time(store, tip, at.time)? {
        (Some(c), _) => Ok(Some(c)),
        (None, oldest) => Err(nothing_then(ref_name, at, oldest)),
    }
}

/// The refusal for a time before a ref's first record.
pub fn nothing_then(what: &str, at: &At, oldest: i64) -> Error {
    Error::usage_hint(
        format!(
            "nothing recorded in {what} at or before {}: its first record is from {}",
            at.describe(),
            format_time(oldest)
        ),
        "pick a later --at",
    )
}

/// The desired file `rel_path` as it was at `at`: at the revision itself, or
/// on the current branch (HEAD). A time before the branch's first commit is
/// refused, never read as an empty fleet.
pub fn desired_at(store: &Store, at: &At, rel_path: &str) -> Result<(Desired, ObjectId)> {
    let commit = match at.rev {
        Some(c) => c,
        None => {
            let head = store.rev_commit("HEAD")?;
            match at_time(store, head, at.time)? {
                (Some(c), _) => c,
                (None, oldest) => return Err(nothing_then("the current branch", at, oldest)),
            }
        }
    };
    let short = &commit.to_string()[..12];
    let bytes = store.read_path(commit, rel_path)?;
    Ok((
        Desired {
            label: format!("{short}:{rel_path}"),
            exists: bytes.is_some(),
            bytes: bytes.unwrap_or_default(),
        },
        commit,
    ))
}

/// A live snapshot as it was then.
#[derive(Debug, Clone)]
pub struct LiveThen {
    pub commit: ObjectId,
    pub fleet: Fleet,
    /// The ref it was read from (local, else fetched).
    pub ref_name: String,
}

/// The live snapshot of `target` at `at`: Ok(None) when the target has no
/// snapshot at all; Err when its first snapshot is later than `at`.
pub fn live_at(store: &Store, target: &str, at: &At) -> Result<Option<LiveThen>> {
    match live_then(store, target, at)? {
        Then::Snapshot(t) => Ok(Some(t)),
        Then::Never => Ok(None),
        Then::NotYet { ref_name, oldest } => Err(nothing_then(&ref_name, at, oldest)),
    }
}

/// [`live_at`] where "none then" is an answer, not an error (`why` says
/// "no snapshot then"; `diff --allow-empty-live` compares with nothing).
/// Other errors (an unreadable snapshot, fetched copies that differ) stay errors.
pub fn live_at_or_none(store: &Store, target: &str, at: &At) -> Result<Option<LiveThen>> {
    match live_then(store, target, at)? {
        Then::Snapshot(t) => Ok(Some(t)),
        Then::Never | Then::NotYet { .. } => Ok(None),
    }
}

enum Then {
    Snapshot(LiveThen),
    /// The target has no snapshot at all.
    Never,
    /// Its first snapshot (at `oldest`) is later than WHEN.
    NotYet {
        ref_name: String,
        oldest: i64,
    },
}

fn live_then(store: &Store, target: &str, at: &At) -> Result<Then> {
    let ref_name = match store.resolve(&live::live_ref(target))? {
        Some(_) => live::live_ref(target),
        None => match live::latest_recorded(store, target)? {
            Some((_, name)) => name,
            None => return Ok(Then::Never),
        },
    };
    let Some(tip) = store.resolve(&ref_name)? else {
        return Ok(Then::Never);
    };
    match at_time(store, tip, at.time)? {
        (Some(commit), _) => Ok(Then::Snapshot(LiveThen {
            commit,
            fleet: live::read_at(store, commit)?,
            ref_name,
        })),
        (None, oldest) => Ok(Then::NotYet { ref_name, oldest }),
    }
}

/// Every commit reachable from `tip` (for "which receipts existed then").
pub fn reachable(store: &Store, tip: ObjectId) -> Result<HashSet<ObjectId>> {
    let mut seen = HashSet::from([tip]);
    let mut todo = vec![tip];
    while let Some(id) = todo.pop() {
        for p in parents_and_time(store, id)?.0 {
            if seen.insert(p) {
                todo.push(p);
            }
        }
    }
    Ok(seen)
}

/// The receipt log (newest first) as it was at `at`; all of it for `None`.
/// A time before the first receipt is an empty log: an honest answer.
pub fn receipts_at(store: &Store, at: Option<&At>) -> Result<Vec<crate::receipts::Receipt>> {
    let all = crate::receipts::log(store)?;
    let Some(at) = at else {
        return Ok(all);
    };
    let Some(tip) = store.resolve(crate::receipts::RECEIPTS_REF)? else {
        return Ok(Vec::new());
    };
    let Some(then) = at_time(store, tip, at.time)?.0 else {
        return Ok(Vec::new());
    };
    let keep = reachable(store, then)?;
    Ok(all
        .into_iter()
        .filter(|r| r.log_commit.is_some_and(|c| keep.contains(&c)))
        .collect())
}

/// The proposals of `target` stored at commit `tip` of its proposals ref.
pub fn proposals_in(store: &Store, tip: ObjectId) -> Result<Vec<crate::proposals::Proposal>> {
    let mut out = Vec::new();
    for dir in store.list_tree(store.commit_tree(tip)?)? {
        if !dir.is_tree {
            continue;
        }
        for file in store.list_tree(dir.id)? {
            if file.is_tree {
                continue;
            }
            let bytes = store.read_blob(file.id)?;
            out.push(serde_json::from_slice(&bytes).map_err(|e| {
                StoreError::decode(format!("proposal {} is unreadable", file.name), e)
            })?);
        }
    }
    Ok(out)
}

/// The proposals of `target` as they were at `at` (none before the first).
pub fn proposals_at(
    store: &Store,
    target: &str,
    at: &At,
) -> Result<Vec<crate::proposals::Proposal>> {
    let Some(tip) = store.resolve(&crate::proposals::proposals_ref(target))? else {
        return Ok(Vec::new());
    };
    match at_time(store, tip, at.time)?.0 {
        Some(then) => proposals_in(store, then),
        None => Ok(Vec::new()),
    }
}

/// `Fleet-Receipt: <id>` in a record's commit message.
pub fn named_receipt(message: &str) -> Option<String> {
    message
        .lines()
        .find_map(|l| l.strip_prefix("Fleet-Receipt:"))
        .map(|v| v.trim().to_string())
}

/// Receipts by id, and completions by the intent they complete.
pub struct ReceiptIndex {
    pub by_id: HashMap<String, crate::receipts::Receipt>,
    pub completion: HashMap<String, String>,
}

impl ReceiptIndex {
    pub fn new(log: &[crate::receipts::Receipt]) -> ReceiptIndex {
        let mut by_id = HashMap::new();
        let mut completion = HashMap::new();
        for r in log {
            if let Some(intent) = r.field(crate::reconcile::INTENT) {
                completion.insert(intent.to_string(), r.id.clone());
            }
            by_id.insert(r.id.clone(), r.clone());
        }
        ReceiptIndex { by_id, completion }
    }

    /// The receipt `id`, or the one completing it when it is an intent.
    pub fn settled(&self, id: &str) -> Option<&crate::receipts::Receipt> {
        let own = self.by_id.get(id)?;
        match self.completion.get(id).and_then(|c| self.by_id.get(c)) {
            Some(done) => Some(done),
            None => Some(own),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_date;

    #[test]
    fn dates() {
        let now = jiff::Timestamp::from_second(1_767_607_200).unwrap();
        assert_eq!(parse_date("now", now), Some(1_767_607_200));
        assert_eq!(parse_date("2 days ago", now), Some(1_767_607_200 - 172_800));
        assert_eq!(parse_date("@5", now), Some(5));
        assert_eq!(parse_date("2026-01-05T10:00:00Z", now), Some(1_767_607_200));
        // Local forms are read in the system zone (the tests run with TZ=UTC).
        if std::env::var("TZ").as_deref() == Ok("UTC") {
            assert_eq!(parse_date("2026-01-05 10:00", now), Some(1_767_607_200));
            assert_eq!(parse_date("2026-01-05", now), Some(1_767_657_599));
        }
        assert!(parse_date("garbage", now).is_none());
        assert!(parse_date("3 fortnights ago", now).is_none());
        assert!(parse_date("main~2", now).is_none());
    }
}
