//! The kill switch: `refs/fleet/halt`, a commit chain (actor, time, reason in
//! the message; a `state` file saying halted or running). Replicates like any ref.

use crate::error::Result;
use crate::receipts;
use crate::store::{Store, TreeEdits};
use gix::ObjectId;

pub const HALT_REF: &str = "refs/fleet/halt";

#[derive(Debug, Clone, serde::Serialize)]
pub struct HaltState {
    pub halted: bool,
    pub commit: Option<String>,
    pub actor: Option<String>,
    pub reason: Option<String>,
    pub time: Option<i64>,
}

/// Whether automation is halted, and by whom.
pub fn state(store: &Store) -> Result<HaltState> {
    let Some(tip) = store.resolve(HALT_REF)? else {
        return Ok(HaltState {
            halted: false,
            commit: None,
            actor: None,
            reason: None,
            time: None,
        });
    };
    let halted = store
        .read_path(tip, "state")?
        .is_some_and(|s| s.starts_with(b"halted"));
    let (entry, _) = store.chain_entry(tip)?;
    let reason = entry
        .message
        .lines()
        .find_map(|l| l.strip_prefix("Fleet-Reason: "))
        .map(str::to_string);
    Ok(HaltState {
        halted,
        commit: Some(tip.to_string()),
        actor: Some(entry.author),
        reason,
        time: Some(entry.time),
    })
}

/// Record a halt (true) or resume (false) with its receipt; returns the new
/// halt commit. The receipt comes first and the halt commit names it
/// (`Fleet-Receipt`), so a receipt log moved back is caught by `receipts
/// verify`. (A commit cannot name its own receipt's hash and be named by it,
/// so the receipt annotates the halt state it replaces, or HEAD at the first.)
pub fn set(store: &Store, halted: bool, reason: Option<&str>) -> Result<ObjectId> {
    let word = if halted { "halted" } else { "running" };
    let blob = store.write_blob(format!("{word}\n").as_bytes())?;
    let before = state(store)?;
    let reason = reason.filter(|r| !r.trim().is_empty());
    let source = match store.resolve(HALT_REF)? {
        Some(tip) => tip,
        None => match store.rev_commit("HEAD") {
            Ok(head) => head,
            Err(_) => blob,
        },
    };
    let receipt = receipts::append(
        store,
        &receipts::ReceiptInput {
            action: if halted { "halt" } else { "resume" }.into(),
            source_commit: source,
            target: None,
            proposal: None,
            change: None,
            policy: None,
            before: Some(if before.halted { "halted" } else { "running" }.into()),
            after: Some(word.into()),
            extra: reason
                .map(|r| vec![("Fleet-Reason".to_string(), r.replace('\n', " "))])
                .unwrap_or_default(),
        },
    )?;
    let actor = store.actor();
    let mut message = format!(
        "{}\n\nFleet-Action: {}\nFleet-Actor: {} <{}>\n",
        if halted {
            "halt automation"
        } else {
            "resume automation"
        },
        if halted { "halt" } else { "resume" },
        actor.name,
        actor.email
    );
    if let Some(r) = reason {
        message.push_str(&format!("Fleet-Reason: {}\n", r.replace('\n', " ")));
    }
    message.push_str(&format!("Fleet-Receipt: {}\n", receipt.id));
    store.chain_append(HALT_REF, |_| {
        Ok((
            TreeEdits {
                upserts: vec![("state".into(), blob)],
                removals: vec![],
                replace_all: true,
            },
            message.clone(),
        ))
    })
}
