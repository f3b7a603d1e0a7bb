//! How a receipt is shown: one line, or one JSON object (shared by log and show).

use crate::ui::Ui;
use git_fleet::receipts::{block, Receipt};
use serde_json::{json, Value};

pub fn receipt_json(r: &Receipt) -> Value {
    let field = |k: &str| r.field(k).map(str::to_string);
    json!({
        "id": r.id,
        "commit": r.log_commit.map(|c| c.to_string()),
        "source_commit": r.source_commit,
        "action": r.action(),
        "target": field(block::TARGET),
        "proposal": field(block::PROPOSAL),
        "change": field(block::CHANGE),
        "actor": field(block::ACTOR),
        "time": field(block::TIME),
        "policy": field(block::POLICY),
        "before": field(block::BEFORE),
        "after": field(block::AFTER),
        "prev": r.prev(),
        "signed": r.signature.is_some(),
        "signature": r.signature,
        "trailers": r.fields.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
        "text": r.text,
    })
}

/// `<id12> <time> <action>[ (result)] [target] [change] <actor> signed|unsigned`
pub fn one_line(ui: &Ui, r: &Receipt) -> String {
    // An apply writes an intent (pending) and a completion: say which.
    let action = match r.field("Fleet-Result") {
        Some(result) => format!("{} ({result})", r.action()),
        None => r.action().to_string(),
    };
    let mut parts = vec![
        format!("{}", ui.yellow().apply_to(&r.id[..12])),
        r.field(block::TIME).unwrap_or("-").to_string(),
        format!("{}", ui.bold().apply_to(action)),
    ];
    for key in [block::TARGET, block::CHANGE] {
        if let Some(v) = r.field(key) {
            parts.push(v.to_string());
        }
    }
    if r.field(block::CHANGE).is_none() {
        if let Some(p) = r.field(block::PROPOSAL) {
            parts.push(format!("proposal {}", &p[..p.len().min(12)]));
        }
    }
    parts.push(r.field(block::ACTOR).unwrap_or("-").to_string());
    parts.push(
        if r.signature.is_some() {
            "signed"
        } else {
            "unsigned"
        }
        .to_string(),
    );
    parts.join("  ")
}

pub fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
