//! Check 5: the notes at the tip hold each receipt's block, byte for byte, on
//! the commit it names, and no receipt block that the log lacks.

use super::report::{short, Problem, ProblemKind, Problems};
use crate::error::Result;
use crate::receipts::{block, Receipt};
use crate::store::Store;
use gix::ObjectId;
use std::collections::HashMap;

/// Check 5: the notes at `tip` against the log.
pub(super) fn check_notes(
    store: &Store,
    tip: ObjectId,
    log: &[Receipt],
    problems: &mut Problems,
) -> Result<()> {
    let mut in_notes: HashMap<String, Vec<(ObjectId, String)>> = HashMap::new();
    for (object, note) in store.notes_at(tip)? {
        for text in crate::store::notes::blocks(&note) {
            match block::claimed_id(text) {
                Some(id) => in_notes
                    .entry(id.to_string())
                    .or_default()
                    .push((object, text.to_string())),
                None => problems.0.push(Problem {
                    kind: ProblemKind::NoteUnknown,
                    receipt: None,
                    commit: None,
                    source_commit: Some(object.to_string()),
                    message: format!(
                        "the note on {} has a block that is not a receipt: \"{}\"",
                        short(&object.to_string()),
                        text.lines().next().unwrap_or("")
                    ),
                }),
            }
        }
    }
    for r in log {
        let copies = in_notes.remove(&r.id).unwrap_or_default();
        let source = ObjectId::from_hex(r.source_commit.as_bytes()).ok();
        let on_source: Vec<&String> = copies
            .iter()
            .filter(|(o, _)| Some(*o) == source)
            .map(|(_, t)| t)
            .collect();
        if on_source.is_empty() {
            problems.add(
                ProblemKind::NoteMissing,
                Some(r),
                format!(
                    "the note on {} has no block for this receipt: the note was edited or removed",
                    short(&r.source_commit)
                ),
            );
        }
        for text in on_source {
            if *text != r.text {
                problems.add(
                    ProblemKind::NoteMismatch,
                    Some(r),
                    format!(
                        "the block in the note on {} differs from the log: {}",
                        short(&r.source_commit),
                        first_difference(&r.text, text)
                    ),
                );
            }
        }
        for (object, _) in copies.iter().filter(|(o, _)| Some(*o) != source) {
            problems.add(
                ProblemKind::NoteUnknown,
                Some(r),
                format!(
                    "a copy of this receipt is in the note on {}, but it names commit {}",
                    short(&object.to_string()),
                    short(&r.source_commit)
                ),
            );
        }
    }
    let mut unknown: Vec<_> = in_notes.into_iter().collect();
    unknown.sort();
    for (id, copies) in unknown {
        for (object, _) in copies {
            problems.0.push(Problem {
                kind: ProblemKind::NoteUnknown,
                receipt: Some(id.clone()),
                commit: None,
                source_commit: Some(object.to_string()),
                message: format!(
                    "in the note on {} but not in the receipt log: removed from the log, or forged",
                    short(&object.to_string())
                ),
            });
        }
    }

    Ok(())
}

/// "line N: log has `a`, note has `b`".
fn first_difference(log: &str, note: &str) -> String {
    let (mut a, mut b) = (log.lines(), note.lines());
    for n in 1.. {
        match (a.next(), b.next()) {
            (Some(x), Some(y)) if x == y => continue,
            (x, y) => {
                return format!(
                    "line {n}: log has \"{}\", note has \"{}\"",
                    x.unwrap_or("(end)"),
                    y.unwrap_or("(end)")
                )
            }
        }
    }
    String::new()
}
