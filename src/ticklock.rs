//! One reconcile tick per target at a time, across processes.
//!
//! The lock is a file, `<git dir>/fleet/locks/tick-<target>.lock`, holding its
//! owner's pid, the owner process's start time (from /proc, to tell a reused
//! pid) and the lock's creation time. It is stale, and taken over, when that
//! process is gone, when the pid now belongs to another process, or when it is
//! older than [`STALE_AFTER`] (a hung tick). Every read, write and removal of a
//! lock file happens while holding an flock on `locks/.guard`, so two takers
//! never both see a stale lock and both take it, and nobody reads a half
//! written one. The guard is held for microseconds; the kernel drops it if its
//! holder dies, so the guard itself can never go stale.

use crate::error::{Error, Result};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A lock older than this is stale even if its process still runs.
pub const STALE_AFTER: Duration = Duration::from_secs(3600);

/// A held tick lock; dropping it releases the lock.
#[derive(Debug)]
pub struct TickLock {
    path: PathBuf,
    guard: PathBuf,
    content: String,
    /// Set when a stale lock was taken over: whose, and why it was stale.
    pub took_over: Option<String>,
}

/// Who holds a lock, as its file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub pid: u32,
    /// The holder process's start time in clock ticks since boot (0: unknown).
    pub process_start: u64,
    /// When the lock was taken (unix seconds, wall clock).
    pub since: u64,
}

impl Holder {
    fn parse(text: &str) -> Option<Holder> {
        let mut f = text.split_whitespace();
        let pid = f.next()?.parse().ok()?;
        let since = f.next()?.parse().ok()?;
        let process_start = f.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        Some(Holder {
            pid,
            process_start,
            since,
        })
    }

    /// Why this lock is stale, or None while its owner may still be ticking.
    pub fn stale_because(&self, now: u64) -> Option<String> {
        if !process_alive(self.pid) {
            return Some(format!("pid {} is gone", self.pid));
        }
        if self.process_start != 0 {
            if let Some(start) = process_start(self.pid) {
                if start != self.process_start {
                    return Some(format!("pid {} now belongs to another process", self.pid));
                }
            }
        }
        let age = now.saturating_sub(self.since);
        if age > STALE_AFTER.as_secs() {
            return Some(format!(
                "pid {} has held it for {age}s, more than {}s",
                self.pid,
                STALE_AFTER.as_secs()
            ));
        }
        None
    }
}

impl TickLock {
    /// Take the tick lock of `target` under `locks_dir`, waiting up to `wait`
    /// while a live tick holds it. A busy lock past the wait is a usage error
    /// naming the holder.
    pub fn acquire(locks_dir: &Path, target: &str, wait: Duration) -> Result<TickLock> {
        std::fs::create_dir_all(locks_dir).map_err(|source| Error::Write {
            path: locks_dir.to_path_buf(),
            source,
        })?;
        let path = locks_dir.join(format!("tick-{target}.lock"));
        let guard = locks_dir.join(".guard");
        let deadline = Instant::now() + wait;
        loop {
            match Self::try_acquire(&path, &guard)? {
                Ok(lock) => return Ok(lock),
                Err(holder) if Instant::now() >= deadline => {
                    return Err(Error::usage_hint(
                        format!(
                            "another reconcile tick of '{target}' is running (pid {}, for {}s); not starting a second one",
                            holder.pid,
                            now_secs().saturating_sub(holder.since)
                        ),
                        format!(
                            "wait for it, or pass --wait; a lock whose process is gone or that is older than {}s is taken over ({})",
                            STALE_AFTER.as_secs(),
                            path.display()
                        ),
                    ))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// One attempt: the lock, or who holds it.
    fn try_acquire(path: &Path, guard: &Path) -> Result<std::result::Result<TickLock, Holder>> {
        let _guard = Guard::take(guard)?;
        let mut took_over = None;
        match std::fs::read_to_string(path) {
            Ok(text) => match Holder::parse(&text) {
                Some(holder) => match holder.stale_because(now_secs()) {
                    None => return Ok(Err(holder)),
                    Some(why) => took_over = Some(format!("took over a stale tick lock: {why}")),
                },
                // Writes are atomic under the guard, so this is no lock of ours.
                None => took_over = Some("replaced an unreadable tick lock".into()),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(Error::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
        let nonce = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let me = std::process::id();
        let content = format!(
            "{me} {} {} {nonce:09}\n",
            now_secs(),
            process_start(me).unwrap_or(0)
        );
        // Write aside, then rename over: the lock file is always whole.
        let tmp = path.with_extension(format!("lock.{me}.{nonce}"));
        let written = File::create(&tmp)
            .and_then(|mut f| f.write_all(content.as_bytes()))
            .and_then(|()| std::fs::rename(&tmp, path));
        if let Err(source) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(Error::Write {
                path: path.to_path_buf(),
                source,
            });
        }
        Ok(Ok(TickLock {
            path: path.to_path_buf(),
            guard: guard.to_path_buf(),
            content,
            took_over,
        }))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TickLock {
    /// Remove the lock only if it is still ours (it may have been taken over).
    fn drop(&mut self) {
        let Ok(_guard) = Guard::take(&self.guard) else {
            return;
        };
        if std::fs::read_to_string(&self.path).is_ok_and(|t| t == self.content) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// An exclusive flock on the guard file, released when dropped (or when the
/// process dies).
struct Guard(#[allow(dead_code)] File);

impl Guard {
    fn take(path: &Path) -> Result<Guard> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|source| Error::Write {
                path: path.to_path_buf(),
                source,
            })?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive).map_err(|e| {
            Error::Write {
                path: path.to_path_buf(),
                source: e.into(),
            }
        })?;
        Ok(Guard(file))
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Whether a process with this pid exists (signal 0; EPERM means it does).
pub(crate) fn process_alive(pid: u32) -> bool {
    let Some(raw) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    let exists = match rustix::process::test_kill_process(raw) {
        Ok(()) => true,
        Err(e) => e == rustix::io::Errno::PERM,
    };
    // A zombie (dead, not yet reaped: an orphan whose reaper is slow) is gone.
    exists && !process_state(pid).is_some_and(|s| s == 'Z' || s == 'X')
}

/// A process's state letter (field 3 of /proc/<pid>/stat), where /proc exists.
fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .next()?
        .chars()
        .next()
}

/// A process's start time (field 22 of /proc/<pid>/stat), where /proc exists.
pub(crate) fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: skip past it.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn a_live_lock_is_busy_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let lock = TickLock::acquire(dir.path(), "t", Duration::ZERO).unwrap();
        assert!(lock.took_over.is_none());
        let err = TickLock::acquire(dir.path(), "t", Duration::ZERO).unwrap_err();
        assert!(
            err.to_string().contains("another reconcile tick of 't'"),
            "{err}"
        );
        let other = TickLock::acquire(dir.path(), "u", Duration::ZERO).unwrap();
        drop(lock);
        assert!(!dir.path().join("tick-t.lock").exists());
        TickLock::acquire(dir.path(), "t", Duration::ZERO).unwrap();
        drop(other);
    }

    #[test]
    fn stale_locks_are_taken_over_and_say_why() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tick-t.lock");
        let me = std::process::id();
        let cases = [
            (
                format!("4194303 {} 0 1\n", now_secs()),
                "pid 4194303 is gone",
            ),
            (
                format!("{me} {} 1 1\n", now_secs()),
                "now belongs to another process",
            ),
            (
                format!("{me} {} 0 1\n", now_secs() - STALE_AFTER.as_secs() - 5),
                "more than 3600s",
            ),
            ("garbage".to_string(), "unreadable"),
        ];
        for (content, why) in cases {
            std::fs::write(&path, &content).unwrap();
            let lock = TickLock::acquire(dir.path(), "t", Duration::ZERO).unwrap();
            let took = lock.took_over.clone().unwrap_or_default();
            assert!(took.contains(why), "{content:?}: {took}");
        }
        // The old format (pid and time only) of a live process is respected.
        std::fs::write(&path, format!("{me} {}\n", now_secs())).unwrap();
        assert!(TickLock::acquire(dir.path(), "t", Duration::ZERO).is_err());
    }

    #[test]
    fn a_taken_over_lock_is_not_removed_by_its_old_owner() {
        let dir = tempfile::tempdir().unwrap();
        let old = TickLock::acquire(dir.path(), "t", Duration::ZERO).unwrap();
        // Someone judged it stale and took it over.
        let path = dir.path().join("tick-t.lock");
        std::fs::write(&path, "4194303 0 0 1\n").unwrap();
        let new = TickLock::acquire(dir.path(), "t", Duration::ZERO).unwrap();
        drop(old);
        assert!(path.exists(), "the new owner's lock stays");
        drop(new);
        assert!(!path.exists());
    }

    #[test]
    fn waiting_takes_the_lock_once_it_is_released() {
        let dir = tempfile::tempdir().unwrap();
        let lock = TickLock::acquire(dir.path(), "t", Duration::ZERO).unwrap();
        let d = dir.path().to_path_buf();
        let waiter =
            std::thread::spawn(move || TickLock::acquire(&d, "t", Duration::from_secs(10)).is_ok());
        std::thread::sleep(Duration::from_millis(300));
        drop(lock);
        assert!(waiter.join().unwrap());
    }

    #[test]
    fn contenders_never_hold_one_target_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let inside = Arc::new(AtomicUsize::new(0));
        let ticks = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (d, inside, ticks) = (dir.path().to_path_buf(), inside.clone(), ticks.clone());
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        if let Ok(lock) = TickLock::acquire(&d, "t", Duration::ZERO) {
                            assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two holders");
                            ticks.fetch_add(1, Ordering::SeqCst);
                            std::thread::yield_now();
                            inside.fetch_sub(1, Ordering::SeqCst);
                            drop(lock);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(ticks.load(Ordering::SeqCst) > 0);
    }
}
