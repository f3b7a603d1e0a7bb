//! The receipt log itself: read oldest first (check 1), each id and link
//! (checks 2 and 3), and the other side of every merge receipt (3b).

use super::report::{short, Problem, ProblemKind, Problems};
use crate::error::{GitContext, Result};
use crate::receipts::{block, Receipt, RECEIPTS_REF};
use crate::store::Store;
use gix::ObjectId;
use std::collections::{HashMap, HashSet};

/// A merge receipt: (merge commit, first parent, second parent).
pub(super) type SideChain = (ObjectId, ObjectId, ObjectId);

/// Check 1: the log from `tip`, oldest first, and the merge receipts on it;
/// a commit that is not a receipt, or a merge that is not a merge receipt,
/// is a problem.
pub(super) fn read_log(
    store: &Store,
    tip: ObjectId,
    problems: &mut Problems,
) -> Result<(Vec<Receipt>, Vec<SideChain>)> {
    let mut log: Vec<Receipt> = Vec::new();
    // Merge receipts: (merge commit, first parent, second parent).
    let mut side_chains: Vec<SideChain> = Vec::new();
    let mut next = Some(tip);
    while let Some(commit) = next {
        let c = store
            .repo()
            .find_commit(commit)
            .git(|| format!("cannot read {RECEIPTS_REF} commit {commit}"))?;
        let decoded = c
            .decode()
            .git(|| format!("cannot decode commit {commit}"))?;
        let parents: Vec<ObjectId> = decoded.parents().collect();
        next = parents.first().copied();
        let message = decoded.message.to_string();
        let at = commit.to_string();
        let name = |p: &mut Problems, kind, message: String| {
            p.0.push(Problem {
                kind,
                receipt: None,
                commit: Some(at.clone()),
                source_commit: None,
                message,
            })
        };
        let is_merge_receipt = block::in_message(&message)
            .and_then(|t| block::parse(t).ok())
            .is_some_and(|p| p.get(block::ACTION) == Some("merge"));
        if parents.len() > 1 && !is_merge_receipt {
            name(
                problems,
                ProblemKind::Merge,
                "a merge on the receipt log that is not a merge receipt: receipts must form one chain".into(),
            );
        } else if parents.len() > 1 {
            // `sync` joined two logs: the other side's receipts up to the merge
            // base are part of the log, checked as a chain of their own.
            side_chains.push((commit, parents[0], parents[1]));
        }
        let Some(text) = block::in_message(&message) else {
            let subject = message.lines().next().unwrap_or("").trim();
            name(
                problems,
                ProblemKind::NotAReceipt,
                format!(
                    "not a receipt (\"{subject}\"): {RECEIPTS_REF} was written outside git-fleet"
                ),
            );
            continue;
        };
        match block::parse(text) {
            Ok(parsed) => log.push(Receipt::from_parsed(parsed, text, Some(commit))),
            Err(e) => problems.0.push(Problem {
                kind: ProblemKind::Malformed,
                receipt: block::claimed_id(text).map(str::to_string),
                commit: Some(at.clone()),
                source_commit: None,
                message: format!("the receipt {e}"),
            }),
        }
    }
    log.reverse();

    Ok((log, side_chains))
}

/// Checks 2 and 3: each id is the hash of its bytes, each `Fleet-Prev` names the
/// receipt before it (the message says what the break looks like).
pub(super) fn check_links(log: &[Receipt], problems: &mut Problems) {
    let position: HashMap<&str, usize> = log
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), i))
        .collect();
    let mut expected_prev = block::NO_PREV.to_string();
    let mut expected_from: Option<&Receipt> = None;
    for (i, r) in log.iter().enumerate() {
        let computed = r.computed_id();
        if computed != r.id {
            problems.add(
                ProblemKind::IdMismatch,
                Some(r),
                format!(
                    "edited: its canonical bytes hash to {}, not to its id",
                    short(&computed)
                ),
            );
        }
        let prev = r.prev();
        if prev != expected_prev {
            let why = match (position.get(prev), expected_from) {
                (_, None) => format!(
                    "Fleet-Prev is {}, but it is the first receipt in the log: receipts were removed from the start of the log",
                    short(prev)
                ),
                (Some(&j), Some(before)) if j > i => format!(
                    "Fleet-Prev names receipt {}, which comes after it in the log; the receipt before it is {}: receipts were reordered",
                    short(prev),
                    short(&before.id)
                ),
                (Some(_), Some(before)) => format!(
                    "Fleet-Prev names receipt {}, but the receipt before it is {}: a receipt was inserted or reordered",
                    short(prev),
                    short(&before.id)
                ),
                (None, Some(before)) if prev == block::NO_PREV => format!(
                    "Fleet-Prev is none, but receipt {} comes before it: the log was spliced",
                    short(&before.id)
                ),
                (None, Some(before)) => format!(
                    "Fleet-Prev names receipt {}, which is not in the log (the receipt before it is {}): a receipt was removed or edited",
                    short(prev),
                    short(&before.id)
                ),
            };
            problems.add(ProblemKind::ChainBroken, Some(r), why);
        }
        expected_prev = computed;
        expected_from = Some(r);
    }
}

/// Check 3b: the other side of each merge receipt: from the merge base up to the
/// second parent, each linked to the one before, the last named by
/// Fleet-Merged. Returns those receipts, so signatures and notes are then
/// checked for them too.
pub(super) fn check_side_chains(
    store: &Store,
    log: &[Receipt],
    side_chains: Vec<SideChain>,
    problems: &mut Problems,
) -> Result<Vec<Receipt>> {
    let mut side: Vec<Receipt> = Vec::new();
    let mut seen: HashSet<ObjectId> = log.iter().filter_map(|r| r.log_commit).collect();
    let mut work = side_chains;
    while let Some((merge, _first, second)) = work.pop() {
        let merge_receipt = log
            .iter()
            .chain(side.iter())
            .find(|r| r.log_commit == Some(merge))
            .cloned();
        // Walk the other side back to a commit already in the log (or its root).
        let mut chain: Vec<Receipt> = Vec::new();
        let mut next = Some(second);
        let mut joined_at = None;
        while let Some(c) = next {
            if seen.contains(&c) {
                joined_at = Some(c);
                break;
            }
            seen.insert(c);
            let commit = store
                .repo()
                .find_commit(c)
                .git(|| format!("cannot read commit {c}"))?;
            let decoded = commit
                .decode()
                .git(|| format!("cannot decode commit {c}"))?;
            let parents: Vec<ObjectId> = decoded.parents().collect();
            next = parents.first().copied();
            let message = decoded.message.to_string();
            if let Some(r) = block::in_message(&message).and_then(|t| Receipt::parse(t, Some(c))) {
                if parents.len() > 1 && r.action() == "merge" {
                    work.push((c, parents[0], parents[1])); // a merge on this side too
                }
                chain.push(r);
            }
        }
        chain.reverse();
        let mut expected = match joined_at {
            Some(b) => {
                crate::receipts::latest_id(store, b)?.unwrap_or_else(|| block::NO_PREV.to_string())
            }
            None => block::NO_PREV.to_string(),
        };
        for r in &chain {
            if r.computed_id() != r.id {
                problems.add(
                    ProblemKind::IdMismatch,
                    Some(r),
                    "edited: its canonical bytes do not hash to its id".to_string(),
                );
            }
            if r.prev() != expected {
                problems.add(
                    ProblemKind::ChainBroken,
                    Some(r),
                    format!(
                        "Fleet-Prev is {}, expected {} on the merged side of the log",
                        short(r.prev()),
                        short(&expected)
                    ),
                );
            }
            expected = r.computed_id();
        }
        if let Some(m) = merge_receipt {
            if m.field("Fleet-Merged") != Some(expected.as_str()) {
                problems.add(
                    ProblemKind::ChainBroken,
                    Some(&m),
                    format!(
                        "the merge names {} as the other side's latest receipt, but it is {}",
                        short(m.field("Fleet-Merged").unwrap_or("")),
                        short(&expected)
                    ),
                );
            }
        }
        side.extend(chain);
    }
    Ok(side)
}
