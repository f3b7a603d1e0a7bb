//! Check 7: every `fanout` receipt's record is still in the fanout notes,
//! byte for byte (the receipt holds the sha256 of the block it attests).

use super::report::{short, ProblemKind, Problems};
use crate::error::Result;
use crate::peers::fanout::NOTES_REF as FANOUT_NOTES;
use crate::peers::record::{digest, RECORD_DIGEST};
use crate::receipts::Receipt;
use crate::store::{notes, Store};
use gix::ObjectId;

/// Report each fanout receipt whose block is missing from the note on its
/// commit, or is there with other bytes (an edited record).
pub(super) fn check_records(store: &Store, log: &[Receipt], problems: &mut Problems) -> Result<()> {
    let attests = |r: &&Receipt| r.action() == "fanout" && r.field(RECORD_DIGEST).is_some();
    if !log.iter().any(|r| attests(&r)) {
        return Ok(());
    }
    let tip = store.resolve(FANOUT_NOTES)?;
    for r in log.iter().filter(attests) {
        let want = r.field(RECORD_DIGEST).unwrap_or_default();
        let note = match (tip, ObjectId::from_hex(r.source_commit.as_bytes())) {
            (Some(tip), Ok(commit)) => store.note_read_at(tip, commit)?,
            _ => None,
        };
        let blocks: Vec<&str> = note.as_deref().map(notes::blocks).unwrap_or_default();
        if blocks.iter().any(|b| digest(b) == want) {
            continue;
        }
        let run = r.field("Fleet-Run").unwrap_or_default();
        let same_run = !run.is_empty()
            && blocks.iter().any(|b| {
                b.lines().any(|l| l == format!("Fleet-Run: {run}"))
                    && !b.lines().any(|l| l == "Fleet-State: pending")
            });
        let what = if same_run {
            "is there with other bytes: the record was edited after its receipt"
        } else {
            "is not there: the record was removed, or the fanout notes were not synced"
        };
        problems.add(
            ProblemKind::RecordMismatch,
            Some(r),
            format!(
                "the fanout record of run {run} on {} that this receipt attests (sha256 {}) {what}",
                short(&r.source_commit),
                short(want)
            ),
        );
    }
    Ok(())
}
