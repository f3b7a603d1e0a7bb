//! Placeholder with the agreed receipts API; replaced by the receipts module.

use crate::error::Result;
use crate::store::Store;

pub struct ReceiptInput {
    pub action: String,
    pub source_commit: gix::ObjectId,
    pub target: Option<String>,
    pub proposal: Option<String>,
    pub change: Option<String>,
    pub policy: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub extra: Vec<(String, String)>,
}

pub struct Receipt {
    pub id: String,
    pub text: String,
}

pub fn append(store: &Store, input: &ReceiptInput) -> Result<Receipt> {
    let mut text = format!("Fleet-Action: {}\n", input.action);
    for (k, v) in [
        ("Fleet-Target", &input.target),
        ("Fleet-Proposal", &input.proposal),
        ("Fleet-Change", &input.change),
        ("Fleet-Policy", &input.policy),
        ("Fleet-Before", &input.before),
        ("Fleet-After", &input.after),
    ] {
        if let Some(v) = v {
            text.push_str(&format!("{k}: {v}\n"));
        }
    }
    for (k, v) in &input.extra {
        text.push_str(&format!("{k}: {v}\n"));
    }
    store.note_append("refs/notes/fleet/receipts", input.source_commit, &text)?;
    Ok(Receipt {
        id: String::new(),
        text,
    })
}

pub fn log(store: &Store) -> Result<Vec<Receipt>> {
    let _ = store;
    Ok(Vec::new())
}
