//! `git fleet receipts [log | show <commit> | verify | append]`.

use crate::ui::{Outcome, Ui};
use clap::{Args, Subcommand};
use git_fleet::receipts::{self, block, Receipt, ReceiptInput, RECEIPTS_REF};
use git_fleet::store::Store;
use git_fleet::workspace::Workspace;
use git_fleet::{Error, Result};
use serde_json::{json, Value};

/// The receipt log: list, show, verify (and append, for scripts).
///
/// Every apply, auto-apply, halt and resume leaves a receipt: a block of
/// Fleet-* trailer lines in the note on its commit (refs/notes/fleet/receipts)
/// and one commit on that notes ref whose message is the receipt, so the ref's
/// history is the log. Receipts form a sha256 hash chain (Fleet-Prev) and are
/// signed with ssh-keygen (namespace git-fleet) when git is configured for SSH
/// signing (gpg.format=ssh, user.signingKey). Without a subcommand: `log`.
#[derive(Debug, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Examples:\n  git fleet receipts\n  git fleet receipts show HEAD\n  git fleet receipts verify --json\n\nExit codes: 0 done (verify: every check passed), 1 verify found a problem or show found no receipt, 2 error."
)]
pub struct ReceiptsArgs {
    #[command(subcommand)]
    pub command: Option<ReceiptsCommand>,
    #[command(flatten)]
    pub log: ReceiptsLogArgs,
}

#[derive(Debug, Subcommand)]
pub enum ReceiptsCommand {
    Log(ReceiptsLogArgs),
    Show(ReceiptsShowArgs),
    Verify(ReceiptsVerifyArgs),
    Append(ReceiptsAppendArgs),
}

/// List receipts, newest first.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet receipts log -n 10\n  git fleet receipts log --json"
)]
pub struct ReceiptsLogArgs {
    /// Show at most N receipts (the newest).
    #[arg(long, short = 'n', value_name = "N")]
    pub max_count: Option<usize>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Show the receipts in the note on a commit.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet receipts show HEAD\n  git fleet receipts show 3f2a9c1 --json"
)]
pub struct ReceiptsShowArgs {
    /// The commit (or other revision) the receipts are about.
    #[arg(default_value = "HEAD")]
    pub commit: String,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Verify the receipt log: hash chain, signatures, and notes against the log.
///
/// Walks the first-parent history of refs/notes/fleet/receipts: each receipt's
/// id must be the sha256 of its canonical bytes and its Fleet-Prev the id of
/// the receipt before it; each signature must verify with ssh-keygen against
/// gpg.ssh.allowedSignersFile for the receipt's Fleet-Actor (when that file is
/// configured, unsigned receipts fail; without it, only validity is checked and
/// unsigned receipts pass); the note on each receipt's commit must hold its
/// block byte for byte, and no note may hold a receipt the log lacks. Every
/// problem names the receipt (id) and its commit; exit 1 if there is any.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git config gpg.ssh.allowedSignersFile .git/allowed_signers\n  git fleet receipts verify\n  git fleet receipts verify --json"
)]
pub struct ReceiptsVerifyArgs {
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Append a receipt (plumbing for scripts and tests; apply, halt and resume
/// write their own).
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet receipts append --action deploy --commit HEAD --target prod --trailer Ticket=OPS-12"
)]
pub struct ReceiptsAppendArgs {
    /// What happened (Fleet-Action), e.g. apply, halt, deploy.
    #[arg(long, value_name = "A")]
    pub action: String,
    /// The commit (or other revision) the receipt is about; its note gets the block.
    #[arg(long, value_name = "C")]
    pub commit: String,
    /// Fleet-Target.
    #[arg(long, value_name = "T")]
    pub target: Option<String>,
    /// Fleet-Proposal.
    #[arg(long, value_name = "P")]
    pub proposal: Option<String>,
    /// Fleet-Change.
    #[arg(long, value_name = "X")]
    pub change: Option<String>,
    /// Fleet-Policy: the rule that allowed the change.
    #[arg(long, value_name = "RULE")]
    pub policy: Option<String>,
    /// Fleet-Before.
    #[arg(long, value_name = "V")]
    pub before: Option<String>,
    /// Fleet-After.
    #[arg(long, value_name = "V")]
    pub after: Option<String>,
    /// Another trailer, KEY=VALUE (KEY gets a Fleet- prefix if it lacks one). Repeatable.
    #[arg(long = "trailer", value_name = "KEY=VALUE")]
    pub trailers: Vec<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(ui: &Ui, ws: &Workspace, args: ReceiptsArgs) -> Result<Outcome> {
    ws.config()?; // a malformed fleet.toml stops every command that reads it
    match args.command {
        None => log(ui, ws.store(), args.log),
        Some(ReceiptsCommand::Log(a)) => log(ui, ws.store(), a),
        Some(ReceiptsCommand::Show(a)) => show(ui, ws.store(), a),
        Some(ReceiptsCommand::Verify(a)) => verify(ui, ws.store(), a),
        Some(ReceiptsCommand::Append(a)) => append(ui, ws.store(), a),
    }
}

fn log(ui: &Ui, store: &Store, args: ReceiptsLogArgs) -> Result<Outcome> {
    let mut all = receipts::log(store)?;
    if let Some(n) = args.max_count {
        all.truncate(n);
    }
    if args.json {
        ui.json(json!({
            "ref": RECEIPTS_REF,
            "receipts": all.iter().map(receipt_json).collect::<Vec<_>>(),
        }));
        return Ok(Outcome::Done);
    }
    if all.is_empty() {
        ui.status("no receipts yet");
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
        ui.json(json!({
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
        let value = serde_json::to_value(&report)
            .map_err(|e| Error::Command(format!("cannot encode the report: {e}")))?;
        ui.json(value);
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
        ui.json(json!({ "receipt": receipt_json(&receipt) }));
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
