//! What `receipts verify` reports: per receipt, and every problem found.

use crate::receipts::Receipt;
use crate::sign::Verdict;
use std::fmt;

/// The outcome of [`super::verify`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct VerifyReport {
    /// True when there is no problem.
    pub ok: bool,
    pub notes_ref: String,
    /// The notes commit verified (None: no receipts yet).
    pub tip: Option<String>,
    /// The allowed signers file used, if configured.
    pub allowed_signers: Option<String>,
    /// One entry per receipt in the log, newest first.
    pub receipts: Vec<ReceiptCheck>,
    /// Everything wrong, each naming its receipt and commit where known.
    pub problems: Vec<Problem>,
}

/// The checks of one receipt of the log.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReceiptCheck {
    pub id: String,
    /// Its commit on refs/notes/fleet/receipts.
    pub commit: String,
    pub source_commit: String,
    pub action: String,
    pub actor: Option<String>,
    /// `unsigned`, or the signature verdict (`good`, `bad`, `untrusted_key`, ...).
    pub signature: SignatureStatus,
    /// Whether no problem names this receipt.
    pub ok: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(untagged)]
pub enum SignatureStatus {
    Unsigned { status: &'static str },
    Checked(Verdict),
}

/// What kind of problem (stable names, used in `--json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// A commit on the log whose message is not a receipt.
    NotAReceipt,
    /// A commit whose receipt does not parse.
    Malformed,
    /// A merge commit on the log's first-parent history.
    Merge,
    /// The id is not the sha256 of the canonical bytes.
    IdMismatch,
    /// `Fleet-Prev` does not name the receipt before it.
    ChainBroken,
    /// Unsigned although an allowed signers file is configured.
    Unsigned,
    /// The signature does not verify.
    BadSignature,
    /// Signed by a key allowed_signers does not list.
    UntrustedKey,
    /// Signed by a key allowed_signers lists for someone other than Fleet-Actor.
    WrongSigner,
    /// The note on the receipt's commit has no block for it.
    NoteMissing,
    /// The note's block differs from the log's.
    NoteMismatch,
    /// A receipt block in the notes that the log does not have (or on another commit).
    NoteUnknown,
    /// A record (live snapshot, proposal transition, halt state, fanout note)
    /// names a receipt (`Fleet-Receipt`) the log does not have: the log was
    /// moved back or the receipt removed.
    ReceiptMissing,
    /// A `fanout` receipt's record is missing from the fanout notes or was
    /// edited after the receipt was written.
    RecordMismatch,
}

/// One problem, naming the receipt (id) and the commit it concerns.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Problem {
    pub kind: ProblemKind,
    /// The receipt id, when known.
    pub receipt: Option<String>,
    /// The log commit (refs/notes/fleet/receipts) concerned, when known.
    pub commit: Option<String>,
    /// The annotated commit whose note is concerned, when relevant.
    pub source_commit: Option<String>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.receipt, &self.commit) {
            (Some(r), Some(c)) => write!(f, "receipt {} (commit {}): ", short(r), short(c))?,
            (Some(r), None) => write!(f, "receipt {}: ", short(r))?,
            (None, Some(c)) => write!(f, "commit {}: ", short(c))?,
            (None, None) => {}
        }
        f.write_str(&self.message)
    }
}

pub(super) fn short(s: &str) -> &str {
    &s[..s.len().min(12)]
}

pub(super) struct Problems(pub(super) Vec<Problem>);

impl Problems {
    pub(super) fn add(
        &mut self,
        kind: ProblemKind,
        r: Option<&Receipt>,
        message: impl Into<String>,
    ) {
        self.0.push(Problem {
            kind,
            receipt: r.map(|r| r.id.clone()),
            commit: r.and_then(|r| r.log_commit).map(|c| c.to_string()),
            source_commit: r.map(|r| r.source_commit.clone()),
            message: message.into(),
        });
    }
}
