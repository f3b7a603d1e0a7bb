//! `git fleet policy check`, and the server-side hooks: pre-receive (bounded
//! writes) and post-receive (reconcile the targets a push changed).

use crate::ui::{Outcome, Ui};
use clap::{Args, Subcommand};
use git_fleet::config::CONFIG_FILE;
use git_fleet::gitcmd::git;
use git_fleet::policy::{check_commits, desired_files, CommitCheck};
use git_fleet::workspace::Workspace;
use git_fleet::{live, Error, Result};
use serde_json::json;

/// Bounded writes: check changes to desired state against fleet.toml's [[policy]].
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum PolicyCommand {
    Check(PolicyCheckArgs),
}

/// Check commits against the policy, as the pre-receive hook does.
///
/// For each commit in the range that changes a desired file, the semantic diff
/// against its first parent is decided for the commit's actor on every target
/// the file serves: its verified SSH signer when the commit carries an SSH
/// signature that verifies against gpg.ssh.allowedSignersFile, else its
/// committer email (the output says which, and why a signature did not count).
/// A change to fleet.toml itself is the resource config/fleet.toml. The policy
/// is fleet.toml as the upstream branch has it (what the server will apply),
/// else the work tree's. Exit 1 when any change is outside its actor's scope.
///
/// [[policy]] keys: name (named in refusals and receipts), actor (glob on the
/// git email, or on a verified signer's principal, case-insensitive) or
/// principal (glob on an allowed-signers principal only), allow (globs on
/// kind/name: templates, modules, assignments, provider_configs, config),
/// destroy (default false), targets (default all).
/// No rule at all allows everything; once one exists, what no rule allows is
/// refused; a malformed policy refuses everything.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet policy check                 # commits not yet on the upstream\n  git fleet policy check --rev main~5..main --json\n\nExit codes: 0 every change allowed, 1 something refused, 2 error (also a malformed policy)."
)]
pub struct PolicyCheckArgs {
    /// Commits to check (default: @{upstream}..HEAD, or HEAD alone without an upstream).
    #[arg(long, value_name = "RANGE")]
    pub rev: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(ui: &Ui, ws: &Workspace, command: PolicyCommand) -> Result<Outcome> {
    let PolicyCommand::Check(args) = command;
    let config = ws.config()?;
    // git runs from the work tree root, where relative config paths (like
    // gpg.ssh.allowedSignersFile) resolve as they do for the user.
    let dir = ws.run_dir();
    let upstream = git(dir, &["rev-parse", "--symbolic-full-name", "@{upstream}"])?;
    let upstream = upstream
        .success
        .then(|| upstream.stdout.trim().to_string())
        .filter(|u| !u.is_empty());
    let range = match (args.rev, &upstream) {
        (Some(r), _) => r,
        (None, Some(_)) => "@{upstream}..HEAD".to_string(),
        (None, None) => "HEAD^!".to_string(),
    };
    let mut list = git(dir, &["rev-list", "--reverse", &range])?;
    if !list.success && range == "HEAD^!" {
        list = git(dir, &["rev-list", "--max-count=1", "HEAD"])?; // a root commit has no HEAD^
    }
    if !list.success {
        return Err(Error::usage(format!(
            "bad range '{range}': {}",
            list.stderr.trim()
        )));
    }
    // The policy the server will apply: fleet.toml as the upstream branch has
    // it (the server reads its HEAD before the push); without an upstream, the
    // work tree's (a bare repository's: HEAD's).
    let (config, policy_from) = match &upstream {
        Some(u) => (
            ws.config_at(u, &format!("{CONFIG_FILE} ({u})"))?,
            format!("{CONFIG_FILE} at {u}"),
        ),
        None if ws.store().work_dir().is_none() => {
            (config.clone(), format!("{CONFIG_FILE} at HEAD"))
        }
        None => (config.clone(), format!("{CONFIG_FILE} in the work tree")),
    };
    let commits: Vec<String> = list.stdout.lines().map(str::to_string).collect();
    let known = live::known_targets(ws.store(), &config)?;
    let checks = check_commits(
        dir,
        &config.policy,
        &desired_files(&config, &known),
        &commits,
        None,
    )?;
    let ok = !checks.iter().any(CommitCheck::refused);
    if args.json {
        ui.json(json!({
            "range": range,
            "policy_from": policy_from,
            "rules": config.policy.rules.len(),
            "ok": ok,
            "commits": checks,
        }));
    } else {
        report(ui, &checks, &range, &policy_from, config.policy.rules.len());
    }
    Ok(if ok { Outcome::Done } else { Outcome::Found })
}

fn report(ui: &Ui, checks: &[CommitCheck], range: &str, policy_from: &str, rules: usize) {
    ui.status(format!(
        "policy: {policy_from} ({rules} rule{}{})",
        if rules == 1 { "" } else { "s" },
        if rules == 0 {
            ": everything is allowed"
        } else {
            ""
        }
    ));
    if checks.is_empty() {
        ui.status(format!("no commit in {range} changes desired state"));
    }
    for c in checks {
        let at = format!("{} {}", &c.commit[..12], c.file);
        if let Some(e) = &c.error {
            ui.out(format!("{} {at}: {e}", ui.red().apply_to("refused")));
        }
        for d in &c.decisions {
            match (&d.refusal, &d.allowed_by) {
                (Some(why), _) => ui.out(format!("{} {at}: {why}", ui.red().apply_to("refused"))),
                (None, Some(rule)) => ui.out(format!(
                    "{}      {at}: {} by {}: allowed by {}",
                    ui.green().apply_to("ok"),
                    d.subject(),
                    d.actor,
                    rule.label()
                )),
                (None, None) => ui.out(format!(
                    "{}      {at}: {} by {}: no policy",
                    ui.green().apply_to("ok"),
                    d.subject(),
                    d.actor
                )),
            }
        }
    }
}
