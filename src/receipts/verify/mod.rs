//! `receipts verify`: the whole log, every link, every signature, every note.
//!
//! Checks, in this order:
//! 1. every commit on the first-parent history of `refs/notes/fleet/receipts`
//!    carries one well-formed receipt (a commit written by `git notes` or
//!    anything else is named), and none is a merge;
//! 2. each receipt's id is the sha256 of its canonical bytes (an edit is caught);
//! 3. each `Fleet-Prev` is the id of the receipt before it in the log, the
//!    first one's is `none` (a removed, inserted or reordered receipt is caught
//!    and the message says which of them it looks like);
//! 4. signatures, in-process SSHSIG checks against allowed_signers ([`crate::sign`];
//!    `ssh-keygen -Y` only for certificates and hardware keys):
//!    - with `gpg.ssh.allowedSignersFile` set, every receipt must be signed, by
//!      a key the file lists for the receipt's `Fleet-Actor` email (unsigned,
//!      unknown key, someone else's key, bad signature: each a problem);
//!    - without it, signatures are checked for validity only and unsigned
//!      receipts are allowed; the report says so (`signers: none`): the chain
//!      then proves order and integrity, not authorship;
//! 5. the notes at the tip hold each receipt's block, byte for byte, on the
//!    commit it names, and no receipt block that the log lacks;
//! 6. every receipt another record names (`Fleet-Receipt` in a live snapshot
//!    commit, a halt state commit, a fanout note, or a proposal transition's
//!    `receipt`) is in the log: a log moved back to an older receipt is
//!    caught as soon as anything written after that receipt survives;
//! 7. every `fanout` receipt's record (`Fleet-Record`: the sha256 of the
//!    block it attests) is in `refs/notes/fleet/fanout`, byte for byte.
//!
//! Not detectable from the ref alone: a log moved back together with every
//! record written since (all refs reset). Compare with a replica (`sync`).

mod log;
mod named;
mod notes;
mod records;
mod report;
mod signatures;

pub use report::{Problem, ProblemKind, ReceiptCheck, SignatureStatus, VerifyReport};

use self::report::Problems;
use super::{block, Receipt, RECEIPTS_REF};
use crate::error::Result;
use crate::sign::{SshConfig, Verdict};
use crate::store::Store;
use std::collections::HashSet;

/// Verify the receipt log and the notes; see the module docs for every check.
/// An `Err` means verify could not run (unreadable repository, ssh-keygen
/// missing); anything wrong with the receipts is a problem in the report.
pub fn verify(store: &Store) -> Result<VerifyReport> {
    let ssh = SshConfig::load(store)?;
    let mut problems = Problems(Vec::new());
    let tip = store.resolve(RECEIPTS_REF)?;
    let mut report = VerifyReport {
        ok: true,
        notes_ref: RECEIPTS_REF.to_string(),
        tip: tip.map(|t| t.to_string()),
        allowed_signers: ssh
            .allowed_signers
            .as_ref()
            .map(|p| p.display().to_string()),
        receipts: Vec::new(),
        problems: Vec::new(),
    };
    let Some(tip) = tip else {
        // No log at all: any record that names a receipt names a missing one.
        named::check_named(store, &HashSet::new(), &mut problems)?;
        report.ok = problems.0.is_empty();
        report.problems = problems.0;
        return Ok(report);
    };

    let (mut log, side_chains) = log::read_log(store, tip, &mut problems)?;
    log::check_links(&log, &mut problems);
    let side = log::check_side_chains(store, &log, side_chains, &mut problems)?;
    log.extend(side);

    // 6. (Before the signatures, which need the final list.) Every receipt
    // another record names is in the log.
    let known: HashSet<String> = log.iter().map(|r| r.id.clone()).collect();
    named::check_named(store, &known, &mut problems)?;

    // 4. Signatures (checked in parallel, bounded by the cores).
    let verdicts = signatures::check_signatures(&ssh, &log)?;
    signatures::check_verdicts(&ssh, &log, &verdicts, &mut problems);

    notes::check_notes(store, tip, &log, &mut problems)?;
    records::check_records(store, &log, &mut problems)?;

    report.receipts = receipt_checks(&log, verdicts, &problems);
    report.ok = problems.0.is_empty();
    report.problems = problems.0;
    Ok(report)
}

/// One entry per receipt, newest first; `ok` when no problem names it.
fn receipt_checks(
    log: &[Receipt],
    verdicts: Vec<Option<Verdict>>,
    problems: &Problems,
) -> Vec<ReceiptCheck> {
    log.iter()
        .zip(verdicts)
        .rev()
        .map(|(r, verdict)| ReceiptCheck {
            ok: !problems
                .0
                .iter()
                .any(|p| p.receipt.as_deref() == Some(&r.id)),
            id: r.id.clone(),
            commit: r.log_commit.map(|c| c.to_string()).unwrap_or_default(),
            source_commit: r.source_commit.clone(),
            action: r.action().to_string(),
            actor: r.field(block::ACTOR).map(str::to_string),
            signature: match verdict {
                None => SignatureStatus::Unsigned { status: "unsigned" },
                Some(v) => SignatureStatus::Checked(v),
            },
        })
        .collect()
}
