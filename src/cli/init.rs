//! `git fleet init`: fleet.toml, refspecs, notes display. Idempotent.

use crate::ui::{Outcome, Ui};
use clap::Args;
use git_fleet::gitcmd::{git, git_ok};
use git_fleet::workspace::Workspace;
use git_fleet::{Error, Result};
use serde_json::json;

/// Set up git-fleet in this repository: a commented fleet.toml, refspecs, notes display.
///
/// Writes fleet.toml if absent (every section commented out), adds fetch
/// refspecs for refs/fleet/* and refs/notes/fleet/* to the default remote,
/// and sets notes.displayRef so receipts show in `git log` (fanout notes,
/// one line per peer, on request: `git log --notes=fleet/fanout`). Idempotent:
/// running it again changes nothing and says so.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  git fleet init\n  git fleet init --push-refspecs --json")]
pub struct InitArgs {
    /// Also add push refspecs for fleet refs (this changes what a bare `git push` sends).
    #[arg(long)]
    pub push_refspecs: bool,
    /// Print one JSON object describing what was changed.
    #[arg(long)]
    pub json: bool,
}

const RECEIPTS_NOTES: &str = "refs/notes/fleet/receipts";
const ALL_FLEET_NOTES: &str = "refs/notes/fleet/*";
const FLEET_TOML: &str = include_str!("../../examples/fleet.toml.template");

pub fn run(ui: &Ui, ws: &Workspace, args: InitArgs) -> Result<Outcome> {
    ws.config()?; // a malformed fleet.toml stops every command that reads it
    let root = ws
        .store()
        .work_dir()
        .ok_or_else(|| Error::usage("git fleet init needs a work tree (this repository is bare)"))?
        .to_path_buf();
    let mut changed: Vec<String> = Vec::new();
    let mut unchanged: Vec<String> = Vec::new();

    let toml_path = root.join(git_fleet::config::CONFIG_FILE);
    if toml_path.exists() {
        unchanged.push("fleet.toml already exists".into());
    } else {
        std::fs::write(&toml_path, FLEET_TOML).map_err(|source| Error::Write {
            path: toml_path.clone(),
            source,
        })?;
        changed.push("wrote fleet.toml (every section commented out)".into());
    }

    // `git log` shows receipts; fanout notes (one line per peer) only on request
    // (`git log --notes=fleet/fanout`). An older init showed every fleet note.
    let shown = git(&root, &["config", "--get-all", "notes.displayRef"])?;
    if shown.stdout.lines().any(|l| l.trim() == ALL_FLEET_NOTES) {
        git_ok(
            &root,
            &[
                "config",
                "--fixed-value",
                "--unset-all",
                "notes.displayRef",
                ALL_FLEET_NOTES,
            ],
        )?;
        changed.push(format!(
            "notes.displayRef -= {ALL_FLEET_NOTES} (fanout notes: git log --notes=fleet/fanout)"
        ));
    }

    let mut add_config = |key: &str, value: &str| -> Result<()> {
        let existing = git(&root, &["config", "--get-all", key])?;
        if existing.stdout.lines().any(|l| l.trim() == value) {
            unchanged.push(format!("{key} already has {value}"));
        } else {
            git_ok(&root, &["config", "--add", key, value])?;
            changed.push(format!("{key} += {value}"));
        }
        Ok(())
    };
    add_config("notes.displayRef", RECEIPTS_NOTES)?;

    let remote = ws.default_remote();
    match &remote {
        Some(remote) => {
            let key = format!("remote.{remote}.fetch");
            add_config(
                &key,
                &format!("+refs/fleet/*:refs/fleet-remote/{remote}/fleet/*"),
            )?;
            add_config(
                &key,
                &format!("+refs/notes/fleet/*:refs/fleet-remote/{remote}/notes/fleet/*"),
            )?;
            if args.push_refspecs {
                let key = format!("remote.{remote}.push");
                add_config(&key, "refs/fleet/*:refs/fleet/*")?;
                add_config(&key, "refs/notes/fleet/*:refs/notes/fleet/*")?;
            }
        }
        None => unchanged
            .push("no remote: refspecs not added (run init again after `git remote add`)".into()),
    }

    if args.json {
        ui.json(json!({
            "remote": remote,
            "changed": changed,
            "unchanged": unchanged,
        }));
    } else if !ui.quiet {
        for c in &changed {
            ui.out(format!("{} {c}", ui.green().apply_to("changed:")));
        }
        for u in &unchanged {
            ui.out(format!("{} {u}", ui.dim().apply_to("unchanged:")));
        }
        if changed.is_empty() {
            ui.status("git-fleet was already set up here; nothing changed");
        }
        if !args.push_refspecs && remote.is_some() {
            ui.status("push refspecs not added: they would change what a bare `git push` sends (use --push-refspecs to add them)");
        }
    }
    Ok(Outcome::Done)
}
