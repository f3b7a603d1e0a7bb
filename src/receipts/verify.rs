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
//!    caught as soon as anything written after that receipt survives.
//!
//! Not detectable from the ref alone: a log moved back together with every
//! record written since (all refs reset). Compare with a replica (`sync`).

use super::{block, Receipt, RECEIPTS_REF};
use crate::error::{GitContext, Result};
use crate::sign::{SshConfig, Verdict};
use crate::store::Store;
use gix::ObjectId;
use std::collections::{HashMap, HashSet};
use std::fmt;

/// The outcome of [`verify`].
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

fn short(s: &str) -> &str {
    &s[..s.len().min(12)]
}

struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, kind: ProblemKind, r: Option<&Receipt>, message: impl Into<String>) {
        self.0.push(Problem {
            kind,
            receipt: r.map(|r| r.id.clone()),
            commit: r.and_then(|r| r.log_commit).map(|c| c.to_string()),
            source_commit: r.map(|r| r.source_commit.clone()),
            message: message.into(),
        });
    }
}

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
        check_named(store, &HashSet::new(), &mut problems)?;
        report.ok = problems.0.is_empty();
        report.problems = problems.0;
        return Ok(report);
    };

    // 1. The log, oldest first.
    let mut log: Vec<Receipt> = Vec::new();
    // Merge receipts: (merge commit, first parent, second parent).
    let mut side_chains: Vec<(ObjectId, ObjectId, ObjectId)> = Vec::new();
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
                &mut problems,
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
                &mut problems,
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

    // 2, 3. Ids and links.
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

    // 3b. The other side of each merge receipt: from the merge base up to the
    // second parent, each linked to the one before, the last named by
    // Fleet-Merged. Signatures and notes are then checked for them too.
    let mut side: Vec<Receipt> = Vec::new();
    let mut seen: std::collections::HashSet<ObjectId> =
        log.iter().filter_map(|r| r.log_commit).collect();
    let mut work = side_chains.clone();
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
            Some(b) => super::latest_id(store, b)?.unwrap_or_else(|| block::NO_PREV.to_string()),
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
    let log: Vec<Receipt> = log.into_iter().chain(side).collect();

    // 6. (Before the signatures, which need the final list.) Every receipt
    // another record names is in the log.
    let known: HashSet<String> = log.iter().map(|r| r.id.clone()).collect();
    check_named(store, &known, &mut problems)?;

    // 4. Signatures (checked in parallel, bounded by the cores).
    let verdicts = check_signatures(&ssh, &log)?;
    for (r, verdict) in log.iter().zip(&verdicts) {
        match verdict {
            None if ssh.allowed_signers.is_some() => problems.add(
                ProblemKind::Unsigned,
                Some(r),
                "unsigned, but gpg.ssh.allowedSignersFile is configured: every receipt must be signed",
            ),
            None | Some(Verdict::Good { .. }) | Some(Verdict::Unchecked { .. }) => {}
            Some(Verdict::Bad { detail }) => problems.add(
                ProblemKind::BadSignature,
                Some(r),
                format!("the signature does not verify ({detail}): the receipt or its signature was altered"),
            ),
            Some(Verdict::UntrustedKey { key }) => problems.add(
                ProblemKind::UntrustedKey,
                Some(r),
                format!("signed with {key}, a key the allowed signers file does not list (or not at that time)"),
            ),
            Some(Verdict::WrongSigner { principals, key }) => problems.add(
                ProblemKind::WrongSigner,
                Some(r),
                format!(
                    "signed with {key}, which the allowed signers file lists for {}, not for the Fleet-Actor {}",
                    principals.join(", "),
                    r.actor_email().unwrap_or("(none)")
                ),
            ),
        }
    }

    // 5. The notes at the tip against the log.
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
    for r in &log {
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

    report.receipts = log
        .iter()
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
        .collect();
    report.ok = problems.0.is_empty();
    report.problems = problems.0;
    Ok(report)
}

/// Report every receipt id a record names that is not in `known`, once per
/// id, naming the first record found.
fn check_named(store: &Store, known: &HashSet<String>, problems: &mut Problems) -> Result<()> {
    let mut reported: HashSet<String> = HashSet::new();
    for (id, record, commit) in named_receipts(store)? {
        if known.contains(&id) || !reported.insert(id.clone()) {
            continue;
        }
        problems.0.push(Problem {
            kind: ProblemKind::ReceiptMissing,
            message: format!(
                "{record} names receipt {}, which is not in the receipt log: the log was moved back or the receipt removed",
                short(&id)
            ),
            receipt: Some(id),
            commit: Some(commit),
            source_commit: None,
        });
    }
    Ok(())
}

/// (receipt id, what names it, the commit of that record) for every
/// `Fleet-Receipt` named by a live snapshot, a halt state, a proposal
/// transition or a fanout note.
fn named_receipts(store: &Store) -> Result<Vec<(String, String, String)>> {
    let mut out = Vec::new();
    let in_text = |text: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.strip_prefix("Fleet-Receipt: "))
            .map(|id| id.trim().to_string())
            .filter(|id| !id.is_empty())
            .collect()
    };
    // Chains: every commit reachable from each ref (sync may merge them).
    let mut chains: Vec<(String, String)> = store
        .refs_under(crate::live::LIVE_PREFIX)?
        .into_iter()
        .map(|r| {
            (
                r.clone(),
                format!("live snapshot of {}", &r[crate::live::LIVE_PREFIX.len()..]),
            )
        })
        .collect();
    chains.push((crate::halt::HALT_REF.to_string(), "halt state".to_string()));
    for (name, what) in chains {
        let Some(tip) = store.resolve(&name)? else {
            continue;
        };
        let walk = store
            .repo()
            .rev_walk([tip])
            .all()
            .git(|| format!("cannot walk {name}"))?;
        for info in walk {
            let info = info.git(|| format!("cannot walk {name}"))?;
            let (entry, _) = store.chain_entry(info.id)?;
            for id in in_text(&entry.message) {
                out.push((
                    id,
                    format!("{what} {}", short(&entry.commit)),
                    entry.commit.clone(),
                ));
            }
        }
    }
    for name in store.refs_under(crate::proposals::PROPOSALS_PREFIX)? {
        let target = &name[crate::proposals::PROPOSALS_PREFIX.len()..];
        let book = crate::proposals::Book::open(store, target)?;
        let tip = book.tip.map(|t| t.to_string()).unwrap_or_default();
        for p in book.all(store)? {
            for t in &p.transitions {
                if let Some(id) = &t.receipt {
                    out.push((
                        id.clone(),
                        format!("the {} transition of proposal {}", t.state, short(&p.id)),
                        tip.clone(),
                    ));
                }
            }
        }
    }
    if let Some(tip) = store.resolve("refs/notes/fleet/fanout")? {
        for (object, note) in store.notes_at(tip)? {
            for id in in_text(&note) {
                out.push((
                    id,
                    format!("the fanout note on {}", short(&object.to_string())),
                    tip.to_string(),
                ));
            }
        }
    }
    Ok(out)
}

/// One verdict per receipt (None: unsigned), checked on a few threads.
fn check_signatures(ssh: &SshConfig, log: &[Receipt]) -> Result<Vec<Option<Verdict>>> {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 8);
    let chunk = log.len().div_ceil(workers).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = log
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|r| match &r.signature {
                            None => Ok(None),
                            Some(sig) => ssh
                                .verify(r.canonical().as_bytes(), sig, r.actor_email(), r.time())
                                .map(Some),
                        })
                        .collect::<Result<Vec<_>>>()
                })
            })
            .collect();
        let mut out = Vec::with_capacity(log.len());
        for h in handles {
            match h.join() {
                Ok(part) => out.extend(part?),
                Err(_) => {
                    return Err(crate::Error::Other(
                        "a signature check thread failed".into(),
                    ))
                }
            }
        }
        Ok(out)
    })
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
