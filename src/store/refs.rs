//! Compare-and-swap ref updates with bounded, jittered retry.

use super::Store;
use crate::error::StoreError;
use crate::error::{Error, Result};
use gix::refs::transaction::{Change, LogChange, PreviousValue, RefEdit, RefLog};
use gix::refs::Target;
use gix::ObjectId;
use std::time::{Duration, Instant};

/// Give up after this many lost races (each retry re-reads and rebuilds).
const MAX_ATTEMPTS: u32 = 500;
/// ...or after this long, whichever comes first.
const MAX_WAIT: Duration = Duration::from_secs(120);
/// A git ref lock older than this is left over from a killed process: every
/// operation under our locks takes milliseconds.
const STALE_LOCK: Duration = Duration::from_secs(10);
/// ...and older than this while we hold the ref's advisory lock: every
/// git-fleet writer of the ref holds it, so only a dead one (or a plain git
/// command, which holds a ref lock for microseconds) can have left it.
const STALE_LOCK_HELD: Duration = Duration::from_millis(100);
/// How long to wait for the advisory lock before going on without it.
const ADVISORY_WAIT: Duration = Duration::from_secs(10);

/// One ref moving from `old` (None = must not exist) to `new`.
#[derive(Debug, Clone)]
pub struct RefUpdate {
    pub name: String,
    pub old: Option<ObjectId>,
    pub new: ObjectId,
}

impl Store {
    /// Move `name` from its current value to what `build` computes from it.
    /// `build` is called again with the fresh value whenever another writer won
    /// the race, so it must derive everything from the value it is given.
    /// Returns `None` when `build` decided there is nothing to write.
    pub fn update_ref<T>(
        &self,
        name: &str,
        log_message: &str,
        mut build: impl FnMut(Option<ObjectId>) -> Result<Option<(ObjectId, T)>>,
    ) -> Result<Option<T>> {
        let lock = self.advisory_lock(name);
        let started = Instant::now();
        let mut rng = Jitter::new();
        for attempt in 0..MAX_ATTEMPTS {
            let old = self.ref_target(name)?;
            let Some((new, value)) = build(old)? else {
                return Ok(None);
            };
            let update = RefUpdate {
                name: name.to_string(),
                old,
                new,
            };
            match self.commit_updates(&[update], log_message) {
                Ok(()) => return Ok(Some(value)),
                Err(e) if started.elapsed() > MAX_WAIT => return Err(e),
                Err(e) => {
                    // Retry a lost race (the ref moved) or a held lock; anything
                    // else that persists is a real error, reported at once.
                    let moved = self.ref_target(name)? != old;
                    let locked = self.git_dir().join(format!("{name}.lock")).exists();
                    if !moved && !locked && attempt >= 2 {
                        return Err(e);
                    }
                    self.remove_stale_ref_lock(name, lock.is_some());
                    rng.sleep(attempt)
                }
            }
        }
        Err(Error::Contended {
            context: log_message.to_string(),
            reference: name.to_string(),
            attempts: MAX_ATTEMPTS,
        })
    }

    /// Apply several ref updates in one transaction, each checked against its
    /// expected old value. Fails (changing nothing) if any ref moved.
    pub fn commit_updates(&self, updates: &[RefUpdate], log_message: &str) -> Result<()> {
        let message: String = log_message.replace('\n', " ");
        let edits =
            updates
                .iter()
                .map(|u| -> Result<RefEdit> {
                    let expected = match u.old {
                        Some(old) => PreviousValue::MustExistAndMatch(Target::Object(old)),
                        None => PreviousValue::MustNotExist,
                    };
                    Ok(RefEdit {
                        change: Change::Update {
                            log: LogChange {
                                mode: RefLog::AndReference,
                                force_create_reflog: false,
                                message: message.clone().into(),
                            },
                            expected,
                            new: Target::Object(u.new),
                        },
                        name: u.name.as_str().try_into().map_err(|e| {
                            StoreError::repo(format!("invalid ref name {}", u.name), e)
                        })?,
                        deref: false,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
        let sig = self.signature();
        let mut buf = gix::date::parse::TimeBuf::default();
        self.repo
            .edit_references_as(edits, Some(sig.to_ref(&mut buf)))
            .map_err(|e| Error::Git {
                context: format!(
                    "cannot update {}",
                    updates
                        .iter()
                        .map(|u| u.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                source: Box::new(e),
            })?;
        Ok(())
    }

    /// git leaves `<ref>.lock` behind when a writer is killed, and then refuses
    /// every update; under refs/fleet and refs/notes/fleet a stale one is removed.
    fn remove_stale_ref_lock(&self, name: &str, holding_advisory: bool) {
        if !(name.starts_with("refs/fleet/") || name.starts_with("refs/notes/fleet/")) {
            return;
        }
        let lock = self.git_dir().join(format!("{name}.lock"));
        let limit = if holding_advisory {
            STALE_LOCK_HELD
        } else {
            STALE_LOCK
        };
        if is_older(&lock, limit) {
            let _ = std::fs::remove_file(&lock);
        }
    }

    /// Serialise our own writers of one ref so they do not waste work racing;
    /// correctness never depends on it (the CAS does), so failure to lock is
    /// ignored. It is an flock, which the kernel drops the moment its holder
    /// dies: a killed writer never makes later ones wait.
    fn advisory_lock(&self, name: &str) -> Option<AdvisoryLock> {
        let dir = self.local_dir().join("locks");
        std::fs::create_dir_all(&dir).ok()?;
        // `.flock`, not `.lock`: lock files older versions left behind are ignored.
        let path = dir.join(format!("{}.flock", name.replace('/', "%")));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .ok()?;
        let deadline = Instant::now() + ADVISORY_WAIT;
        let mut rng = Jitter::new();
        let mut attempt = 0;
        loop {
            match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => return Some(AdvisoryLock(file)),
                Err(e) if e == rustix::io::Errno::WOULDBLOCK && Instant::now() < deadline => {
                    rng.sleep(attempt.min(4));
                    attempt += 1;
                }
                Err(_) => return None,
            }
        }
    }
}

/// A held advisory lock; closing the file releases it.
struct AdvisoryLock(#[allow(dead_code)] std::fs::File);

fn is_older(lock: &std::path::Path, limit: Duration) -> bool {
    std::fs::metadata(lock)
        .and_then(|m| m.modified())
        .map(|t| t.elapsed().unwrap_or_default() > limit)
        .unwrap_or(false)
}

/// Tiny xorshift jitter so retrying writers spread out without a rand dependency.
struct Jitter(u64);

impl Jitter {
    fn new() -> Jitter {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos() as u64)
            .unwrap_or(1);
        Jitter((nanos ^ ((std::process::id() as u64) << 32)) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn sleep(&mut self, attempt: u32) {
        let cap_ms = 1u64 << attempt.min(6); // 1..64 ms
        let ms = self.next() % (cap_ms + 1);
        std::thread::sleep(Duration::from_micros(ms * 1000 + self.next() % 1000));
    }
}
