//! `git fleet receipts verify`: the hash chain, signatures, and notes against the log.

use super::format::plural;
use crate::ui::{Outcome, Ui};
use clap::Args;
use git_fleet::receipts::{self};
use git_fleet::store::Store;
use git_fleet::{Error, Result};

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

pub fn run(ui: &Ui, store: &Store, args: ReceiptsVerifyArgs) -> Result<Outcome> {
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
