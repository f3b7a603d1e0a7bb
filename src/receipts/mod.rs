//! Receipts: the evidence of every snapshot, apply, halt, resume and fanout run.
//!
//! A receipt is a block of `Fleet-*` trailer lines ([`block`] has the exact
//! format and the definition of its canonical bytes). Each one is written twice
//! by one compare-and-swap of `refs/notes/fleet/receipts`:
//! - appended as a block to the git note on the commit it is about
//!   (`git notes --ref=fleet/receipts show <commit>`, several blocks per commit);
//! - as the message of the one new commit on that notes ref, so the ref's
//!   first-parent history *is* the receipt log, oldest at the root.
//!
//! Receipts form a hash chain: `Fleet-Prev` is the id (sha256 of the canonical
//! bytes) of the receipt in the commit being replaced, computed inside the CAS
//! so a writer that loses a race links to the receipt that won. When git is set
//! up for SSH signing (`gpg.format=ssh` + `user.signingKey`), each receipt is
//! signed over its canonical bytes in git's SSH signature format, namespace
//! `git-fleet` ([`crate::sign`]). [`verify`] walks the log and checks all of it.

pub mod block;
mod verify;

pub use verify::{verify, Problem, ProblemKind, ReceiptCheck, SignatureStatus, VerifyReport};

use crate::error::{Error, ReceiptsError, Result, StoreError};
use crate::sign::SshConfig;
use crate::store::Store;
use block::{Parsed, NO_PREV};
use gix::ObjectId;

/// The notes ref whose notes hold receipt blocks and whose history is the log.
pub const RECEIPTS_REF: &str = "refs/notes/fleet/receipts";

/// What happened, for [`append`]. `None` fields are left out of the receipt;
/// values are single lines (newlines become spaces, ends are trimmed, and an
/// empty value leaves the field out).
#[derive(Debug, Clone)]
pub struct ReceiptInput {
    /// "apply", "auto-apply", "halt", "resume", "rollback", ...
    pub action: String,
    /// The commit the receipt's note is attached to (`Fleet-Commit`).
    pub source_commit: gix::ObjectId,
    pub target: Option<String>,
    pub proposal: Option<String>,
    pub change: Option<String>,
    pub policy: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    /// More trailers, e.g. ("Fleet-Despite-Halt", "yes"). A key without the
    /// `Fleet-` prefix gets it; keys git-fleet fills itself are refused.
    pub extra: Vec<(String, String)>,
}

/// One receipt as written (or read back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// sha256 (hex) of the canonical bytes, as claimed by its `Fleet-Receipt` line.
    pub id: String,
    /// The whole block, exactly as in the note and in the log commit's message.
    pub text: String,
    /// The commit on `refs/notes/fleet/receipts` that carries it, when known.
    pub log_commit: Option<ObjectId>,
    /// The commit its note is attached to (`Fleet-Commit`).
    pub source_commit: String,
    /// Every trailer except `Fleet-Receipt` and `Fleet-Signature`, in order.
    pub fields: Vec<(String, String)>,
    /// The armored SSH signature, if signed.
    pub signature: Option<String>,
}

impl Receipt {
    fn from_parsed(parsed: Parsed, text: &str, log_commit: Option<ObjectId>) -> Receipt {
        Receipt {
            source_commit: parsed.get(block::COMMIT).unwrap_or_default().to_string(),
            id: parsed.id,
            text: text.to_string(),
            log_commit,
            fields: parsed.fields,
            signature: parsed.signature,
        }
    }

    /// Parse one block; None when it is not a well-formed receipt.
    pub fn parse(text: &str, log_commit: Option<ObjectId>) -> Option<Receipt> {
        block::parse(text)
            .ok()
            .map(|p| Receipt::from_parsed(p, text, log_commit))
    }

    /// The value of trailer `key` (`"Fleet-Target"`...), if present.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn action(&self) -> &str {
        self.field(block::ACTION).unwrap_or_default()
    }

    pub fn prev(&self) -> &str {
        self.field(block::PREV).unwrap_or_default()
    }

    /// The bytes that are hashed and signed.
    pub fn canonical(&self) -> String {
        block::canonical(&self.fields)
    }

    /// sha256 of the canonical bytes, recomputed (equals `id` unless edited).
    pub fn computed_id(&self) -> String {
        block::digest(&self.canonical())
    }

    /// The email in `Fleet-Actor: Name <email>`.
    pub fn actor_email(&self) -> Option<&str> {
        let actor = self.field(block::ACTOR)?;
        let start = actor.rfind('<')? + 1;
        let end = actor[start..].find('>')? + start;
        Some(&actor[start..end])
    }

    /// `Fleet-Time` in seconds since the epoch.
    pub fn time(&self) -> Option<i64> {
        let t = self.field(block::TIME)?;
        gix::date::parse(t, None).ok().map(|t| t.seconds)
    }
}

/// Append one receipt: the block to the note on `input.source_commit` and one
/// commit on `refs/notes/fleet/receipts` whose message is the receipt, in one
/// compare-and-swap (retried; `Fleet-Prev` and the signature are recomputed
/// on every retry). Signs when git is configured for SSH signing; a signing
/// failure fails the append (nothing is written unsigned by accident).
pub fn append(store: &Store, input: &ReceiptInput) -> Result<Receipt> {
    let (mut fields, subject) = fields_of(store, input)?;
    let ssh = SshConfig::load(store)?;
    let prev_slot = fields.len();
    let (log_commit, (id, text)) =
        store.note_append_with(RECEIPTS_REF, input.source_commit, |tip| {
            let prev = match tip {
                Some(tip) => latest_id(store, tip)?.unwrap_or_else(|| NO_PREV.to_string()),
                None => NO_PREV.to_string(),
            };
            fields.truncate(prev_slot);
            fields.push((block::PREV.to_string(), prev));
            let canonical = block::canonical(&fields);
            let id = block::digest(&canonical);
            let signature = ssh.sign(canonical.as_bytes())?;
            let text = block::render(&id, &fields, signature.as_deref());
            let message = format!("{subject}\n\n{text}\n");
            Ok((text.clone(), message, (id, text)))
        })?;
    let parsed = block::parse(&text).map_err(|e| ReceiptsError::Unparsable {
        id: id.to_string(),
        detail: e.to_string(),
    })?;
    Ok(Receipt::from_parsed(parsed, &text, Some(log_commit)))
}

/// The canonical fields of a new receipt up to (not including) `Fleet-Prev`,
/// and the subject line of its log commit.
fn fields_of(store: &Store, input: &ReceiptInput) -> Result<(Vec<(String, String)>, String)> {
    let clean = |v: &str| v.replace(['\n', '\r'], " ").trim().to_string();
    let action = clean(&input.action);
    if action.is_empty() {
        return Err(Error::usage("a receipt needs an action"));
    }
    let actor = store.actor();
    let time = store
        .signature()
        .time
        .format(gix::date::time::format::ISO8601_STRICT)
        .map_err(|e| ReceiptsError::Time {
            source: Box::new(e),
        })?;
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut push = |key: &str, value: Option<&str>| {
        if let Some(v) = value.map(clean).filter(|v| !v.is_empty()) {
            fields.push((key.to_string(), v));
        }
    };
    push(block::ACTION, Some(&action));
    push(block::COMMIT, Some(&input.source_commit.to_string()));
    push(block::TARGET, input.target.as_deref());
    push(block::PROPOSAL, input.proposal.as_deref());
    push(block::CHANGE, input.change.as_deref());
    push(
        block::ACTOR,
        Some(&format!("{} <{}>", clean(&actor.name), clean(&actor.email))),
    );
    push(block::TIME, Some(&time));
    push(block::POLICY, input.policy.as_deref());
    push(block::BEFORE, input.before.as_deref());
    push(block::AFTER, input.after.as_deref());
    let mut seen = std::collections::HashSet::new();
    for (key, value) in &input.extra {
        let key = key.trim();
        let key = if key.starts_with("Fleet-") {
            key.to_string()
        } else {
            format!("Fleet-{key}")
        };
        if !block::valid_key(&key) {
            return Err(Error::usage(format!(
                "invalid receipt trailer '{key}': use letters, digits and '-'"
            )));
        }
        if block::RESERVED.contains(&key.as_str()) {
            return Err(Error::usage(format!(
                "receipt trailer {key} is written by git-fleet itself; pass it as its own field"
            )));
        }
        if !seen.insert(key.clone()) {
            return Err(Error::usage(format!("receipt trailer {key} given twice")));
        }
        push(&key, Some(value));
    }
    let mut subject = format!("fleet receipt: {action}");
    if let Some(t) = input.target.as_deref().map(clean).filter(|t| !t.is_empty()) {
        subject.push_str(&format!(" {t}"));
    }
    if let Some(c) = input.change.as_deref().map(clean).filter(|c| !c.is_empty()) {
        subject.push_str(&format!(": {c}"));
    }
    Ok((fields, subject))
}

/// The recomputed id of the newest receipt at or below `tip` on the log's
/// first-parent history (commits that carry no receipt are skipped; `verify`
/// names them).
pub(crate) fn latest_id(store: &Store, tip: ObjectId) -> Result<Option<String>> {
    for entry in store.chain_walk_from(tip) {
        let (_, entry) = entry?;
        if let Some(parsed) = block::in_message(&entry.message).and_then(|t| block::parse(t).ok()) {
            return Ok(Some(block::digest(&block::canonical(&parsed.fields))));
        }
    }
    Ok(None)
}

/// Every receipt in the log, **newest first**: the whole history of
/// `refs/notes/fleet/receipts`, both sides of every sync merge, in
/// topological order (a commit after all the commits built on it; the first
/// parent's side before the merged one's, like `git log --topo-order`).
/// Commits whose message is not a well-formed receipt are skipped here;
/// [`verify`] reports them.
pub fn log(store: &Store) -> Result<Vec<Receipt>> {
    let Some(tip) = store.resolve(RECEIPTS_REF)? else {
        return Ok(Vec::new());
    };
    // Every commit with its parents and how many children point at it.
    let mut parents: std::collections::HashMap<ObjectId, (Vec<ObjectId>, String)> =
        std::collections::HashMap::new();
    let mut children: std::collections::HashMap<ObjectId, usize> = std::collections::HashMap::new();
    let mut todo = vec![tip];
    while let Some(id) = todo.pop() {
        if parents.contains_key(&id) {
            continue;
        }
        let commit = store
            .repo()
            .find_commit(id)
            .map_err(|e| StoreError::repo(format!("cannot read receipt log commit {id}"), e))?;
        let decoded = commit
            .decode()
            .map_err(|e| StoreError::repo(format!("cannot decode receipt log commit {id}"), e))?;
        let ps: Vec<ObjectId> = decoded.parents().collect();
        for p in &ps {
            *children.entry(*p).or_default() += 1;
            todo.push(*p);
        }
        parents.insert(id, (ps, decoded.message.to_string()));
    }
    let mut out = Vec::new();
    let mut ready = vec![tip];
    while let Some(id) = ready.pop() {
        let (ps, message) = &parents[&id];
        if let Some(r) = block::in_message(message).and_then(|t| Receipt::parse(t, Some(id))) {
            out.push(r);
        }
        // Reversed so the first parent is popped (walked) first.
        for p in ps.iter().rev() {
            let n = children.get_mut(p).expect("counted above");
            *n -= 1;
            if *n == 0 {
                ready.push(*p);
            }
        }
    }
    Ok(out)
}

/// The receipts in the note on `commit`, in note order, each with the log
/// commit that carries the same id (None when the log has no such receipt).
/// Blocks that are not well-formed receipts are returned in the second list.
pub fn on_commit(store: &Store, commit: ObjectId) -> Result<(Vec<Receipt>, Vec<String>)> {
    let Some(note) = store.note_read(RECEIPTS_REF, commit)? else {
        return Ok((Vec::new(), Vec::new()));
    };
    let by_id: std::collections::HashMap<String, Option<ObjectId>> = log(store)?
        .into_iter()
        .map(|r| (r.id, r.log_commit))
        .collect();
    let mut receipts = Vec::new();
    let mut other = Vec::new();
    for text in crate::store::notes::blocks(&note) {
        match Receipt::parse(text, None) {
            Some(mut r) => {
                r.log_commit = by_id.get(&r.id).copied().flatten();
                receipts.push(r);
            }
            None => other.push(text.to_string()),
        }
    }
    Ok((receipts, other))
}

/// Join two receipt logs that grew apart (after `sync`): a merge receipt
/// whose Fleet-Prev is the local log's latest receipt and whose
/// Fleet-Merged names the other log's latest receipt, written as a commit
/// with both tips as parents over `tree` (the union of both notes trees).
/// Its own block goes into the note on the other log's tip commit.
/// Returns the merge commit (the caller moves the ref, with its own CAS).
pub fn merge_commit(
    store: &Store,
    local_tip: ObjectId,
    remote_tip: ObjectId,
    tree: ObjectId,
) -> Result<ObjectId> {
    let merged_id = latest_id(store, remote_tip)?.unwrap_or_else(|| NO_PREV.to_string());
    let input = ReceiptInput {
        action: "merge".into(),
        source_commit: remote_tip,
        target: None,
        proposal: None,
        change: None,
        policy: None,
        before: Some(local_tip.to_string()),
        after: Some(remote_tip.to_string()),
        extra: vec![("Fleet-Merged".into(), merged_id)],
    };
    let (mut fields, subject) = fields_of(store, &input)?;
    let prev = latest_id(store, local_tip)?.unwrap_or_else(|| NO_PREV.to_string());
    fields.push((block::PREV.to_string(), prev));
    let canonical = block::canonical(&fields);
    let id = block::digest(&canonical);
    let ssh = SshConfig::load(store)?;
    let signature = ssh.sign(canonical.as_bytes())?;
    let text = block::render(&id, &fields, signature.as_deref());
    // The merge receipt's own block, in the note on the other log's tip.
    let path = {
        let hex = remote_tip.to_string();
        format!("{}/{}/{}", &hex[..2], &hex[2..4], &hex[4..])
    };
    let mut editor = store
        .repo()
        .edit_tree(tree)
        .map_err(|e| StoreError::repo("cannot edit the merged notes tree", e))?;
    let existing = store.read_path_in_tree(tree, &path)?;
    let note = match existing {
        Some(old) => format!(
            "{}\n\n{text}\n",
            String::from_utf8_lossy(&old).trim_end_matches('\n')
        ),
        None => format!("{text}\n"),
    };
    let blob = store.write_blob(note.as_bytes())?;
    editor
        .upsert(path.as_str(), gix::object::tree::EntryKind::Blob, blob)
        .map_err(|e| StoreError::repo("cannot edit the merged notes tree", e))?;
    let tree = editor
        .write()
        .map_err(|e| StoreError::repo("cannot write the merged notes tree", e))?
        .detach();
    let message = format!("{subject}\n\n{text}\n");
    store.new_commit_with_parents(&message, tree, &[local_tip, remote_tip])
}
