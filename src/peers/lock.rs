//! One fanout per peer at a time, across processes.
//!
//! The lock is `<git dir>/fleet/locks/fanout-<key>.lock` (the key hashes the
//! peer's location), held with an exclusive, non-blocking `flock` from before
//! a run reads the peer's earlier records until the run is recorded (so the
//! next run of that peer reads this run's result). The file says who holds it (pid and
//! peer), for the "busy" reason only. The stale rule is the kernel's: a lock
//! is released the moment its holder dies (SIGKILL included), so a dead pid
//! never blocks the next fanout, and a live one always does. The file itself
//! is left in place (removing an flock file races with the next taker).

use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// A held per-peer fanout lock; dropping it (or dying) releases it.
#[derive(Debug)]
pub struct PeerLock {
    _file: File,
}

/// Why a lock was not taken.
#[derive(Debug)]
pub enum NotTaken {
    /// Another live fanout holds it: its pid, when the file says.
    Busy(Option<u32>),
    /// The lock file cannot be created or locked.
    Io(PathBuf, std::io::Error),
}

/// The lock file of the peer at `location`.
pub fn path(locks_dir: &Path, location: &str) -> PathBuf {
    let digest = Sha256::digest(location.as_bytes());
    locks_dir.join(format!("fanout-{}.lock", &format!("{digest:x}")[..16]))
}

impl PeerLock {
    /// Take the lock of the peer at `location` without waiting.
    pub fn try_take(locks_dir: &Path, location: &str) -> Result<PeerLock, NotTaken> {
        let path = path(locks_dir, location);
        let io = |e: std::io::Error| NotTaken::Io(path.clone(), e);
        std::fs::create_dir_all(locks_dir).map_err(io)?;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io)?;
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let pid = text.split_whitespace().next().and_then(|p| p.parse().ok());
                return Err(NotTaken::Busy(pid));
            }
            Err(e) => return Err(io(e.into())),
        }
        // Ours now: say who holds it (best effort; the flock is what counts).
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = writeln!(file, "{} {location}", std::process::id());
        Ok(PeerLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_is_busy_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let lock = PeerLock::try_take(dir.path(), "/srv/a").unwrap();
        match PeerLock::try_take(dir.path(), "/srv/a") {
            Err(NotTaken::Busy(pid)) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("{other:?}"),
        }
        let other = PeerLock::try_take(dir.path(), "/srv/b").unwrap();
        drop(lock);
        // Another test thread may be between fork and exec, its child briefly
        // sharing our descriptor (flock follows the open file, CLOEXEC closes
        // it at exec): the release shows within moments, never "never".
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            match PeerLock::try_take(dir.path(), "/srv/a") {
                Ok(_) => break,
                Err(NotTaken::Busy(_)) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(10))
                }
                Err(e) => panic!("{e:?}"),
            }
        }
        drop(other);
    }
}
