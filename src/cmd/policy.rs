//! `git fleet policy check`, and the server-side hooks: pre-receive (bounded
//! writes) and post-receive (reconcile the targets a push changed).

use super::{Ctx, JSON_VERSION};
use crate::ui::{Outcome, Ui};
use git_fleet::cli::PolicyCommand;
use git_fleet::config::{Config, CONFIG_FILE};
use git_fleet::gitcmd::git;
use git_fleet::policy::{check_commits, pushed_commits, CommitCheck};
use git_fleet::{Error, Result};
use serde_json::json;

pub fn run(ui: &Ui, command: PolicyCommand) -> Result<Outcome> {
    let PolicyCommand::Check(args) = command;
    let ctx = super::context()?;
    let dir = ctx.store.git_dir().to_path_buf();
    let range = match args.rev {
        Some(r) => r,
        None => {
            let upstream = git(&dir, &["rev-parse", "--verify", "-q", "@{upstream}"])?;
            if upstream.success {
                "@{upstream}..HEAD".to_string()
            } else {
                "HEAD^!".to_string()
            }
        }
    };
    let mut list = git(&dir, &["rev-list", "--reverse", &range])?;
    if !list.success && range == "HEAD^!" {
        list = git(&dir, &["rev-list", "--max-count=1", "HEAD"])?; // a root commit has no HEAD^
    }
    if !list.success {
        return Err(Error::usage(format!(
            "bad range '{range}': {}",
            list.stderr.trim()
        )));
    }
    let commits: Vec<String> = list.stdout.lines().map(str::to_string).collect();
    let checks = check_commits(&ctx.store, &ctx.config, &commits)?;
    report(ui, &checks, args.json, &range);
    Ok(if checks.iter().any(CommitCheck::refused) {
        Outcome::Found
    } else {
        Outcome::Done
    })
}

fn report(ui: &Ui, checks: &[CommitCheck], json_out: bool, range: &str) {
    if json_out {
        ui.json(&json!({
            "version": JSON_VERSION,
            "range": range,
            "ok": !checks.iter().any(CommitCheck::refused),
            "commits": checks,
        }));
        return;
    }
    if checks.is_empty() {
        ui.status(format!("no commit in {range} changes desired state"));
    }
    for c in checks {
        let head = format!("{} {} (actor: {})", &c.commit[..12], c.file, c.actor);
        if let Some(e) = &c.error {
            ui.error(format!("{head}: refused: {e}"));
            continue;
        }
        for d in &c.decisions {
            match &d.allowed_by {
                Some(rule) => ui.out(format!(
                    "ok      {} {} by {}: {rule}",
                    d.change.as_str(),
                    d.resource,
                    c.actor
                )),
                None => ui.out(format!(
                    "{} {head}: {}",
                    ui.red().apply_to("refused"),
                    d.message
                )),
            }
        }
    }
}

/// The policy that governs a push: fleet.toml as on the default branch before
/// the push, so a push can never widen its own scope.
fn server_config(ctx: &Ctx) -> Result<Config> {
    let Ok(head) = ctx.store.rev_commit("HEAD") else {
        return Ok(Config::default()); // an empty repository has no policy yet
    };
    match ctx.store.read_path(head, CONFIG_FILE)? {
        Some(bytes) => Config::parse(&format!("{CONFIG_FILE} (HEAD)"), &bytes),
        None => Ok(Config::default()),
    }
}

/// pre-receive: refuse the whole push if any pushed commit changes desired
/// state outside its actor's scope (or a desired file that does not parse).
pub fn pre_receive(ui: &Ui, ctx: &Ctx, stdin: &str) -> Result<Outcome> {
    let config = match server_config(ctx) {
        Ok(c) => c,
        Err(e) => {
            // A malformed policy refuses everything rather than allowing everything.
            ui.error(format!(
                "git-fleet: push refused: the policy on HEAD is malformed: {e}"
            ));
            return Ok(Outcome::Found);
        }
    };
    let commits = pushed_commits(ctx.store.git_dir(), stdin)?;
    let checks = check_commits(&ctx.store, &config, &commits)?;
    let refused: Vec<&CommitCheck> = checks.iter().filter(|c| c.refused()).collect();
    if refused.is_empty() {
        return Ok(Outcome::Done);
    }
    ui.error("git-fleet: push refused by bounded-write policy (fleet.toml [[policy]] on HEAD):");
    for c in refused {
        if let Some(e) = &c.error {
            ui.error(format!("  {} {}: {e}", &c.commit[..12], c.file));
        }
        for d in c.decisions.iter().filter(|d| d.allowed_by.is_none()) {
            ui.error(format!("  {} {}: {}", &c.commit[..12], c.file, d.message));
        }
    }
    Ok(Outcome::Found)
}

/// post-receive: start `git fleet reconcile` in the background for every
/// target whose desired file changed in the push; never fails the push.
pub fn post_receive(ctx: &Ctx, stdin: &str) -> Result<Outcome> {
    let config = server_config(ctx).unwrap_or_default();
    let dir = ctx.store.git_dir().to_path_buf();
    let mut targets: Vec<(String, String)> = Vec::new(); // (target, rev)
    for line in stdin.lines() {
        let mut f = line.split_whitespace();
        let (Some(old), Some(new), Some(name)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if new.bytes().all(|b| b == b'0') || !name.starts_with("refs/heads/") {
            continue;
        }
        let declared: Vec<(String, String)> = if config.targets.is_empty() {
            let known = git_fleet::live::known_targets(&ctx.store, &config).unwrap_or_default();
            known
                .into_iter()
                .map(|t| (t, git_fleet::config::DEFAULT_DESIRED.to_string()))
                .collect()
        } else {
            config
                .targets
                .iter()
                .map(|(n, t)| (n.clone(), git_fleet::reconcile::desired_path(t)))
                .collect()
        };
        for (target, path) in declared {
            let changed = if old.bytes().all(|b| b == b'0') {
                true
            } else {
                let out = git(&dir, &["diff", "--quiet", old, new, "--", &path])?;
                out.code == Some(1)
            };
            if changed && !targets.iter().any(|(t, _)| *t == target) {
                targets.push((target, new.to_string()));
            }
        }
    }
    if targets.is_empty() {
        return Ok(Outcome::Done);
    }
    let log_dir = ctx.store.local_dir();
    let _ = std::fs::create_dir_all(&log_dir);
    let log = log_dir.join("reconcile.log");
    let exe =
        std::env::current_exe().map_err(|e| Error::Other(format!("cannot find git-fleet: {e}")))?;
    for (target, rev) in targets {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log);
        let (out, err) = match file {
            Ok(f) => match f.try_clone() {
                Ok(f2) => (std::process::Stdio::from(f), std::process::Stdio::from(f2)),
                Err(_) => (std::process::Stdio::null(), std::process::Stdio::null()),
            },
            Err(_) => (std::process::Stdio::null(), std::process::Stdio::null()),
        };
        // Detached: the push returns at once; the tick logs to reconcile.log.
        use std::os::unix::process::CommandExt;
        let spawned = std::process::Command::new(&exe)
            .args(["reconcile", &target, "--rev", &rev])
            .current_dir(&dir)
            .stdin(std::process::Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn();
        if let Err(e) = spawned {
            eprintln!("git-fleet: could not start reconcile of {target}: {e}");
        }
    }
    Ok(Outcome::Done)
}
