//! One error type per domain, each keeping its cause as `#[source]`. Their
//! texts are the messages the library has always given (tests compare them);
//! `crate::Error` wraps each transparently.

use std::path::PathBuf;

/// Any underlying error kept as a cause (gix's many error types, hex decoding).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Reading and writing git objects, refs and notes, and running git (or
/// another program) for that.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A git object, tree or ref operation failed; `what` says which.
    #[error("{what}: {source}")]
    Repo {
        what: String,
        #[source]
        source: BoxError,
    },
    /// A record could not be encoded (`what`: "cannot encode run", ...).
    #[error("{what}: {source}")]
    Encode {
        what: String,
        #[source]
        source: BoxError,
    },
    /// A stored record could not be decoded (`what`: "run record x is unreadable").
    #[error("{what}: {source}")]
    Decode {
        what: String,
        #[source]
        source: BoxError,
    },
    /// A program could not be started or waited for.
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    /// git ran and refused; `what` says what was asked, `stderr` what git said.
    #[error("{what}: {stderr}")]
    GitFailed { what: String, stderr: String },
    /// A local file operation besides reading and writing a named file.
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// A chain append that wrote nothing.
    #[error("nothing was written to {reference}")]
    NotWritten { reference: String },
    /// A snapshot commit without one of its files.
    #[error("snapshot {commit} has no {file}")]
    MissingFile { commit: String, file: String },
}

impl StoreError {
    pub fn repo(
        what: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> StoreError {
        StoreError::Repo {
            what: what.into(),
            source: Box::new(source),
        }
    }

    pub fn encode(
        what: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> StoreError {
        StoreError::Encode {
            what: what.into(),
            source: Box::new(source),
        }
    }

    pub fn decode(
        what: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> StoreError {
        StoreError::Decode {
            what: what.into(),
            source: Box::new(source),
        }
    }

    pub fn spawn(program: impl Into<String>, source: std::io::Error) -> StoreError {
        StoreError::Spawn {
            program: program.into(),
            source,
        }
    }

    pub fn git_failed(what: impl Into<String>, stderr: &str) -> StoreError {
        StoreError::GitFailed {
            what: what.into(),
            stderr: stderr.trim().to_string(),
        }
    }
}

/// Exchanging records with a remote (`sync`).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("git fetch {remote} failed: {stderr}")]
    Fetch { remote: String, stderr: String },
    /// The remote refused an update (a hook, a protected ref); the text says which.
    #[error("{0}")]
    Refused(String),
    #[error("git push {remote} failed: {output}")]
    Push { remote: String, output: String },
    #[error("sync with {remote}: the remote kept moving; gave up after {rounds} rounds (nothing lost: run it again)")]
    KeptMoving { remote: String, rounds: usize },
}

/// Delivering to peers (`fanout`, the agent).
#[derive(Debug, thiserror::Error)]
pub enum FanoutError {
    #[error("cannot take the fanout lock {} ({source}); nothing was delivered", .path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the fanout records of {commit} in {notes_ref} ({source}); nothing was delivered")]
    ReadRecords {
        commit: String,
        notes_ref: &'static str,
        #[source]
        source: Box<crate::Error>,
    },
    #[error("cannot record the fanout in {notes_ref} ({source}); nothing was delivered")]
    Record {
        notes_ref: &'static str,
        #[source]
        source: Box<crate::Error>,
    },
    #[error("cannot open {}: {source}", .git_dir.display())]
    Open {
        git_dir: PathBuf,
        #[source]
        source: BoxError,
    },
    #[error("a fanout worker panicked")]
    WorkerPanicked,
    #[error("a fanout worker stopped early")]
    WorkerStopped,
    #[error("{why}; and HEAD cannot be read, so there is nothing to report on")]
    NoHead { why: String },
    #[error("the agent ran but could not record its result in {notes_ref} ({source}); its pending record says so")]
    AgentRecord {
        notes_ref: &'static str,
        #[source]
        source: Box<crate::Error>,
    },
    #[error("cannot write {reference}")]
    WriteRef { reference: String },
    #[error("cannot read the reports in {}", .git_dir.display())]
    ReadReports { git_dir: PathBuf },
}

/// Comparing desired with live state and applying proposals.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("`{command}` failed ({status}): {stderr}")]
    CommandFailed {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("no record of proposal {proposal}")]
    NoRecord { proposal: String },
    #[error("intent {intent} names no commit: {source}")]
    IntentWithoutCommit {
        intent: String,
        #[source]
        source: BoxError,
    },
    #[error("internal: no proposals to write")]
    NoProposals,
}

/// The receipt log.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptsError {
    /// A receipt just written does not parse back: a bug, not bad input.
    #[error("internal error: receipt {id} {detail}")]
    Unparsable { id: String, detail: String },
    #[error("cannot format the time: {source}")]
    Time {
        #[source]
        source: BoxError,
    },
    #[error("a signature check thread failed")]
    SignatureThread,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn domain_errors_keep_their_texts_and_causes() {
        let io = || std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let e: crate::Error = StoreError::spawn("git", io()).into();
        assert_eq!(e.to_string(), "cannot run git: gone");
        assert_eq!(e.source().map(|s| s.to_string()).as_deref(), Some("gone"));
        let e: crate::Error = StoreError::git_failed("cannot list pushed commits", " bad\n").into();
        assert_eq!(e.to_string(), "cannot list pushed commits: bad");
        let e: crate::Error = SyncError::KeptMoving {
            remote: "origin".into(),
            rounds: 30,
        }
        .into();
        assert_eq!(
            e.to_string(),
            "sync with origin: the remote kept moving; gave up after 30 rounds (nothing lost: run it again)"
        );
        let inner = crate::Error::usage("x");
        let e: crate::Error = FanoutError::Record {
            notes_ref: "refs/notes/fleet/fanout",
            source: Box::new(inner),
        }
        .into();
        assert_eq!(
            e.to_string(),
            "cannot record the fanout in refs/notes/fleet/fanout (x); nothing was delivered"
        );
        assert!(matches!(
            e,
            crate::Error::Fanout(FanoutError::Record { .. })
        ));
    }
}
