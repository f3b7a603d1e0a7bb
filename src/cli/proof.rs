//! `git fleet proof [C]`: the delivery closeout of a commit.

use crate::ui::{Outcome, Ui};
use clap::Args;
use git_fleet::peers::proof::{gather, prove, write_runtime};
use git_fleet::workspace::Workspace;
use git_fleet::Result;
use gix::ObjectId;

/// The delivery closeout of a commit.
///
/// Shows whether the commit exists here, whether origin has it (a
/// remote-tracking branch contains it), each peer's latest evidence (the
/// fanout note on the commit, push mode, or the peer's own agent report in
/// refs/fleet/reports, pull mode, whichever is later; the output names the
/// mode), and whether each runtime surface was reloaded, found healthy and
/// read back, or is out of scope (not configured). Peers that report
/// themselves count whether declared or not. Exit 1 if anything is missing.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  git fleet proof\n  git fleet proof v1.4.2 --json")]
pub struct ProofArgs {
    /// The commit (default: HEAD).
    #[arg(default_value = "HEAD")]
    pub commit: String,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(ui: &Ui, ws: &Workspace, args: ProofArgs) -> Result<Outcome> {
    ws.config()?; // a malformed fleet.toml stops every command that reads it
    let peers = ws.peers()?;
    // A full id this repository lacks is a proof that fails, not bad input.
    let (commit, exists) = match ws.store().rev_commit(&args.commit) {
        Ok(id) => (id, true),
        Err(e) => match ObjectId::from_hex(args.commit.as_bytes()) {
            Ok(id) => (id, false),
            Err(_) => return Err(e),
        },
    };
    let remote = ws.default_remote();
    if args.json {
        let proof = prove(ws.store(), commit, exists, remote.as_deref(), peers)?;
        let value = serde_json::to_value(&proof)
            .map_err(|e| git_fleet::Error::Command(format!("cannot encode JSON: {e}")))?;
        ui.json(value);
        return Ok(outcome(proof.complete));
    }
    let evidence = gather(ws.store(), commit, exists, remote.as_deref())?;
    let (ok_mark, missing_mark) = (
        ui.green().apply_to("ok  ").to_string(),
        ui.red().apply_to("MISSING").to_string(),
    );
    let mark = |ok: bool| if ok { &ok_mark } else { &missing_mark };
    let gone = ui.dim().apply_to("gone").to_string();
    ui.out(format!(
        "{} commit {} {}",
        mark(evidence.exists_locally()),
        evidence.commit(),
        if evidence.exists_locally() {
            "exists here"
        } else {
            "does not exist here"
        }
    ));
    let remote_check = evidence.remote();
    ui.out(format!("{} {}", mark(remote_check.ok), remote_check.detail));
    // Each peer's line is written as its standing is decided, from the
    // evidence in place (no copy of it, no list of standings): thousands
    // of agents. Written in chunks of whole lines.
    use std::fmt::Write as _;
    const CHUNK: usize = 64 * 1024;
    let mut lines = String::with_capacity(CHUNK + 1024);
    let flush = |lines: &mut String| {
        if lines.pop().is_some() {
            ui.out(&*lines);
        }
        lines.clear();
    };
    let mut when = String::new();
    let mut count = 0usize;
    let proof = evidence.judge(peers, &mut |width, p| {
        count += 1;
        when.clear();
        if let Some((t, a)) = p.recorded() {
            let _ = write!(when, "  ({t}, {a})");
        }
        // Agents report themselves: they count without being declared.
        let counted = p.configured || p.mode == "pull";
        let head = if counted { mark(p.ok) } else { &gone };
        let note = if counted {
            ""
        } else {
            "  [no longer declared]"
        };
        let _ = write!(lines, "{head} peer {:<width$}  ", p.name);
        match p.outcome() {
            Some(outcome) if p.ok => {
                lines.push_str(outcome);
                lines.push_str("; ");
                write_runtime(&mut lines, p.steps());
            }
            _ => lines.push_str(&p.detail()),
        }
        let _ = writeln!(
            lines,
            "{}{}{note}",
            ui.dim().apply_to(&when),
            ui.dim().apply_to(format_args!("  [{}]", p.mode))
        );
        if lines.len() >= CHUNK {
            flush(&mut lines);
        }
    });
    flush(&mut lines);
    if count == 0 {
        ui.out(format!(
            "{} no peers declared (nothing to deliver to)",
            mark(true)
        ));
    }
    if proof.complete {
        ui.status(format!(
            "delivery of {} is complete ({} fanout run{} recorded, {} agent report{} read)",
            &proof.commit[..12],
            proof.runs,
            if proof.runs == 1 { "" } else { "s" },
            proof.reports,
            if proof.reports == 1 { "" } else { "s" }
        ));
    } else {
        ui.status(format!(
            "delivery of {} is incomplete: {} thing{} missing",
            &proof.commit[..12],
            proof.missing.len(),
            if proof.missing.len() == 1 { "" } else { "s" }
        ));
    }
    Ok(outcome(proof.complete))
}

fn outcome(complete: bool) -> Outcome {
    if complete {
        Outcome::Done
    } else {
        Outcome::Found
    }
}
