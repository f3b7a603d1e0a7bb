//! `git fleet receipts [log | show <commit> | verify | append]`.

use super::{context, JSON_VERSION};
use crate::ui::{Outcome, Ui};
use git_fleet::cli::{
    ReceiptsAppendArgs, ReceiptsArgs, ReceiptsCommand, ReceiptsLogArgs, ReceiptsShowArgs,
    ReceiptsVerifyArgs,
};
use git_fleet::receipts::{self, block, Receipt, ReceiptInput, RECEIPTS_REF};
use git_fleet::store::Store;
use git_fleet::{Error, Result};
use serde_json::{json, Value};

pub fn run(ui: &Ui, args: ReceiptsArgs) -> Result<Outcome> {
    let ctx = context()?;
    match args.command {
        None => log(ui, &ctx.store, args.log),
        Some(ReceiptsCommand::Log(a)) => log(ui, &ctx.store, a),
        Some(ReceiptsCommand::Show(a)) => show(ui, &ctx.store, a),
        Some(ReceiptsCommand::Verify(a)) => verify(ui, &ctx.store, a),
        Some(ReceiptsCommand::Append(a)) => append(ui, &ctx.store, a),
    }
}

fn log(ui: &Ui, store: &Store, args: ReceiptsLogArgs) -> Result<Outcome> {
    let at = args
        .at
        .as_deref()
        .map(|s| git_fleet::timeline::at::parse(store, s))
        .transpose()?;
    // Before the first receipt the log was empty: an honest answer.
    let mut all = git_fleet::timeline::at::receipts_at(store, at.as_ref())?;
    if let Some(n) = args.max_count {
        all.truncate(n);
    }
    if args.json {
        ui.json(&json!({
            "version": JSON_VERSION,
            "ref": RECEIPTS_REF,
            "receipts": all.iter().map(receipt_json).collect::<Vec<_>>(),
            "at": at.as_ref().map(|a| a.to_json()),
        }));
        return Ok(Outcome::Done);
    }
    if all.is_empty() {
        match &at {
            Some(at) => ui.status(format!("no receipts at or before {}", at.describe())),
            None => ui.status("no receipts yet"),
        }
    }
    for r in &all {
        ui.out(one_line(ui, r));
    }
    Ok(Outcome::Done)
}

fn show(ui: &Ui, store: &Store, args: ReceiptsShowArgs) -> Result<Outcome> {
    let commit = store.rev_commit(&args.commit)?;
    let (found, other) = receipts::on_commit(store, commit)?;
    if args.json {
        ui.json(&json!({
            "version": JSON_VERSION,
            "ref": RECEIPTS_REF,
            "commit": commit.to_string(),
            "receipts": found.iter().map(receipt_json).collect::<Vec<_>>(),
            "other_blocks": other,
        }));
    } else {
        if found.is_empty() {
            ui.status(format!("no receipts on {}", &commit.to_string()[..12]));
        }
        for (i, r) in found.iter().enumerate() {
            if i > 0 {
                ui.out("");
            }
            let place = match r.log_commit {
                Some(c) => format!("log commit {}", &c.to_string()[..12]),
                None => "not in the receipt log".to_string(),
            };
            ui.out(format!(
                "{} {} ({place})",
                ui.yellow().apply_to("receipt"),
                ui.yellow().apply_to(&r.id),
            ));
            ui.out(&r.text);
        }
        for text in &other {
            ui.out("");
            ui.out(format!(
                "{}",
                ui.dim().apply_to("(a block that is not a receipt)")
            ));
            ui.out(text);
        }
    }
    Ok(if found.is_empty() {
        Outcome::Found
    } else {
        Outcome::Done
    })
}

fn verify(ui: &Ui, store: &Store, args: ReceiptsVerifyArgs) -> Result<Outcome> {
    let report = receipts::verify(store)?;
    let outcome = if report.ok {
        Outcome::Done
    } else {
        Outcome::Found
    };
    if args.json {
        let mut value = serde_json::to_value(&report)
            .map_err(|e| Error::Other(format!("cannot encode the report: {e}")))?;
        value["version"] = json!(JSON_VERSION);
        ui.json(&value);
        return Ok(outcome);
    }
    let n = report.receipts.len();
    let signed = report
        .receipts
        .iter()
        .filter(|r| !matches!(r.signature, receipts::SignatureStatus::Unsigned { .. }))
        .count();
    for p in &report.problems {
        ui.out(format!("{} {p}", ui.red().apply_to("FAIL")));
    }
    let signers = match &report.allowed_signers {
        Some(path) => format!("allowed signers {path}"),
        None => "no allowed signers file: signatures checked for validity only".to_string(),
    };
    if report.ok {
        ui.out(format!(
            "{} {n} receipt{} verified ({signed} signed; {signers})",
            ui.green().apply_to("ok:"),
            plural(n)
        ));
    } else {
        ui.out(format!(
            "{} {} problem{} in {n} receipt{} ({signed} signed; {signers})",
            ui.red().apply_to("failed:"),
            report.problems.len(),
            plural(report.problems.len()),
            plural(n)
        ));
    }
    if report.allowed_signers.is_none() && n > 0 && !ui.quiet {
        ui.hint("set gpg.ssh.allowedSignersFile so verify also checks who signed each receipt");
    }
    Ok(outcome)
}

fn append(ui: &Ui, store: &Store, args: ReceiptsAppendArgs) -> Result<Outcome> {
    let source_commit = store.rev_commit(&args.commit)?;
    let mut extra = Vec::new();
    for t in &args.trailers {
        let (k, v) = t
            .split_once('=')
            .ok_or_else(|| Error::usage(format!("--trailer '{t}' is not KEY=VALUE")))?;
        extra.push((k.trim().to_string(), v.to_string()));
    }
    let receipt = receipts::append(
        store,
        &ReceiptInput {
            action: args.action,
            source_commit,
            target: args.target,
            proposal: args.proposal,
            change: args.change,
            policy: args.policy,
            before: args.before,
            after: args.after,
            extra,
        },
    )?;
    if args.json {
        ui.json(&json!({ "version": JSON_VERSION, "receipt": receipt_json(&receipt) }));
    } else {
        ui.out(&receipt.id);
        ui.status(format!(
            "receipt {} on {} ({})",
            &receipt.id[..12],
            &source_commit.to_string()[..12],
            if receipt.signature.is_some() {
                "signed"
            } else {
                "unsigned"
            }
        ));
    }
    Ok(Outcome::Done)
}

fn receipt_json(r: &Receipt) -> Value {
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
fn one_line(ui: &Ui, r: &Receipt) -> String {
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

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
