//! `git fleet policy check`, and the server-side hooks: pre-receive (bounded
//! writes) and post-receive (reconcile the targets a push changed).

use super::{Ctx, JSON_VERSION};
use crate::ui::{Outcome, Ui};
use git_fleet::cli::PolicyCommand;
use git_fleet::config::{Config, CONFIG_FILE};
use git_fleet::gitcmd::git;
use git_fleet::policy::{
    check_commits, check_records, commits_entering, desired_files, is_checked_ref, policy_ref,
    policy_ref_update, pushed_commits, rewound_policy, CommitCheck, PolicyRef, Pusher,
};
use git_fleet::{live, Error, Result};
use serde_json::json;
use std::io::Write;

pub fn run(ui: &Ui, command: PolicyCommand) -> Result<Outcome> {
    let PolicyCommand::Check(args) = command;
    let ctx = super::context()?;
    // git runs from the work tree root, where relative config paths (like
    // gpg.ssh.allowedSignersFile) resolve as they do for the user.
    let dir = ctx
        .store
        .work_dir()
        .unwrap_or(ctx.store.git_dir())
        .to_path_buf();
    let upstream = git(&dir, &["rev-parse", "--symbolic-full-name", "@{upstream}"])?;
    let upstream = upstream
        .success
        .then(|| upstream.stdout.trim().to_string())
        .filter(|u| !u.is_empty());
    let range = match (args.rev, &upstream) {
        (Some(r), _) => r,
        (None, Some(_)) => "@{upstream}..HEAD".to_string(),
        (None, None) => "HEAD^!".to_string(),
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
    // The policy the server will apply: fleet.toml as the upstream branch has
    // it (the server reads its HEAD before the push); without an upstream, the
    // work tree's (a bare repository's: HEAD's).
    let (config, policy_from) = match &upstream {
        Some(u) => (config_at(&ctx, u)?, format!("{CONFIG_FILE} at {u}")),
        None if ctx.store.work_dir().is_none() => {
            (ctx.config.clone(), format!("{CONFIG_FILE} at HEAD"))
        }
        None => (
            ctx.config.clone(),
            format!("{CONFIG_FILE} in the work tree"),
        ),
    };
    let commits: Vec<String> = list.stdout.lines().map(str::to_string).collect();
    let known = live::known_targets(&ctx.store, &config)?;
    let checks = check_commits(
        &dir,
        &config.policy,
        &desired_files(&config, &known),
        &commits,
        None,
    )?;
    let ok = !checks.iter().any(CommitCheck::refused);
    if args.json {
        ui.json(&json!({
            "version": JSON_VERSION,
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

/// fleet.toml at `rev` (missing: the empty config).
fn config_at(ctx: &Ctx, rev: &str) -> Result<Config> {
    let commit = ctx.store.rev_commit(rev)?;
    match ctx.store.read_path(commit, CONFIG_FILE)? {
        Some(bytes) => Config::parse(&format!("{CONFIG_FILE} ({rev})"), &bytes),
        None => Ok(Config::default()),
    }
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

/// The policy that governs a push: fleet.toml as the policy ref
/// (fleet.policyRef, else the branch HEAD names) has it before the push.
/// Reading it from the pushed commits would let a push widen its own scope;
/// a change to fleet.toml itself is decided as `config/fleet.toml` under the
/// old policy. A policy ref that cannot be found while branches exist is an
/// error (fail closed). Also returns the policy ref's name.
fn server_config(ctx: &Ctx) -> Result<(Config, Option<String>)> {
    let found = policy_ref(ctx.store.git_dir())?;
    let (name, configured) = match found {
        PolicyRef::NoBranches => return Ok((Config::default(), None)), // no policy yet
        PolicyRef::Missing(why) => {
            return Err(Error::usage(format!("the policy cannot be found: {why}")))
        }
        PolicyRef::Found { name, configured } => (name, configured),
    };
    let commit = ctx.store.rev_commit(&name)?;
    let label = if configured {
        format!("{CONFIG_FILE} ({name})")
    } else {
        format!("{CONFIG_FILE} (HEAD)")
    };
    let config = match ctx.store.read_path(commit, CONFIG_FILE)? {
        Some(bytes) => Config::parse(&label, &bytes)?,
        None => Config::default(),
    };
    Ok((config, Some(name)))
}

/// pre-receive: refuse the whole push if any pushed commit changes desired
/// state outside its actor's scope, changes fleet.toml without a rule allowing
/// `config/fleet.toml`, or brings a file that cannot be decided, or if a
/// pushed fleet record is not allowed. The policy of a push to a branch is
/// fleet.toml at `fleet.policyRef` when configured; else at the branch's own
/// tip before the push (a new branch: at the branch HEAD names). Fails
/// closed: a policy that cannot be found or parsed refuses the push.
pub fn pre_receive(ui: &Ui, ctx: &Ctx, stdin: &str) -> Result<Outcome> {
    let dir = ctx.store.git_dir();
    let pusher = Pusher::from_env();
    let refuse = |e: &str| {
        ui.error(format!(
            "git-fleet: push refused: the policy cannot be read, so nothing is allowed: {e}"
        ));
        ui.hint("fix fleet.toml on the server's default branch, or fleet.policyRef (for instance: git fleet hooks uninstall --pre-receive, push the fix, install again)");
        Ok(Outcome::Found)
    };
    let default = policy_ref(dir)?;
    // fleet.policyRef set: every push takes that policy (missing: none may).
    let configured = !git(dir, &["config", "--get", "fleet.policyRef"])?
        .stdout
        .trim()
        .is_empty();
    // The default policy: for fleet records, new refs, and every push when configured.
    let default_config: std::result::Result<(Config, String), String> = match &default {
        PolicyRef::NoBranches => Ok((Config::default(), "no branch yet".into())), // no policy yet
        PolicyRef::Missing(why) => Err(format!("the policy cannot be found: {why}")),
        PolicyRef::Found { name, configured } => {
            let label = if *configured {
                format!("{CONFIG_FILE} ({name})")
            } else {
                format!("{CONFIG_FILE} (HEAD)")
            };
            config_at_rev(ctx, name, &label)
                .map(|c| (c, name.clone()))
                .map_err(|e| e.to_string())
        }
    };
    let lines: Vec<(&str, &str, &str)> = stdin
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f[..] {
                [old, new, name] => Some((old, new, name)),
                _ => None,
            }
        })
        .collect();
    let zero = |s: &str| s.bytes().all(|b| b == b'0');

    // git-fleet's own records: chains only grow, and each new decision,
    // snapshot, halt and receipt is made by someone the policy allows.
    if lines.iter().any(|(_, _, n)| !is_checked_ref(n)) {
        let config = match &default_config {
            Ok((c, _)) => c,
            Err(e) => return refuse(e),
        };
        let ssh = git_fleet::sign::SshConfig::read(&ctx.store)?;
        let records = check_records(dir, &ssh, &config.policy, stdin, pusher.as_ref())?;
        if !records.is_empty() {
            ui.error("git-fleet: push refused: fleet records (refs/fleet/*, refs/notes/fleet/*):");
            for r in &records {
                ui.error(r);
            }
            ui.hint("a record's actor is its verified signer (gpg.ssh.allowedSignersFile here), else the pusher the server names (GL_USER, GITEA_PUSHER_NAME, GL_USERNAME, REMOTE_USER), else the identity it claims");
            return Ok(Outcome::Found);
        }
    }
    // The default policy ref only moves forward.
    if let PolicyRef::Found { name, .. } = &default {
        for (old, new, r) in &lines {
            if let Some(why) = policy_ref_update(dir, name, old, new, r)? {
                ui.error(format!("git-fleet: push refused: {why}"));
                return Ok(Outcome::Found);
            }
        }
    }
    let mut refusals: Vec<(String, String)> = Vec::new(); // (policy source, line)
    for (old, new, name) in &lines {
        if !is_checked_ref(name) || zero(new) {
            continue; // records are checked above; a deletion changes no desired state
        }
        let (config, from) = if configured || zero(old) {
            match &default_config {
                Ok(c) => c.clone(),
                Err(e) => return refuse(e),
            }
        } else {
            match config_at_rev(ctx, old, &format!("{CONFIG_FILE} ({name})")) {
                Ok(c) => (c, name.to_string()),
                Err(e) => return refuse(&e.to_string()),
            }
        };
        let commits = if configured {
            pushed_commits(dir, &format!("{old} {new} {name}"))?
        } else {
            let base = match (zero(old), &default) {
                (false, _) => Some(old.to_string()),
                (true, PolicyRef::Found { name, .. }) => Some(name.clone()),
                (true, _) => None,
            };
            commits_entering(dir, new, base.as_deref())?
        };
        let from_label = format!("{CONFIG_FILE} on {from}");
        // A branch moved back (not a fast-forward) to a commit with another
        // fleet.toml: that is a change of its policy, decided under the old one.
        if !configured && !zero(old) {
            if let Some(why) = rewound_policy(dir, &config.policy, old, new, pusher.as_ref())? {
                refusals.push((from_label.clone(), format!("{name}: {why}")));
            }
        }
        if commits.is_empty() {
            continue;
        }
        let known = live::known_targets(&ctx.store, &config)?;
        let checks = check_commits(
            dir,
            &config.policy,
            &desired_files(&config, &known),
            &commits,
            pusher.as_ref(),
        )?;
        for c in checks.iter().filter(|c| c.refused()) {
            if let Some(e) = &c.error {
                refusals.push((
                    from_label.clone(),
                    format!("{} {}: {e}", &c.commit[..12], c.file),
                ));
            }
            for d in c.decisions.iter().filter_map(|d| d.refusal.as_ref()) {
                refusals.push((
                    from_label.clone(),
                    format!("{} {}: {d}", &c.commit[..12], c.file),
                ));
            }
        }
    }
    if refusals.is_empty() {
        return Ok(Outcome::Done);
    }
    let mut sources: Vec<&str> = refusals.iter().map(|(s, _)| s.as_str()).collect();
    sources.dedup();
    ui.error(format!(
        "git-fleet: push refused by the bounded-write policy ([[policy]] in {}):",
        sources.join(", ")
    ));
    for (_, line) in &refusals {
        ui.error(line);
    }
    ui.hint(match Pusher::from_env() {
        Some(p) => format!("the actor is a commit's verified SSH signer (gpg.ssh.allowedSignersFile here), else its committer email, pushed by {} (the server's {}); `git fleet policy check` runs the same check before pushing", p.name, p.variable),
        None => "the actor is a commit's verified SSH signer (gpg.ssh.allowedSignersFile here), else its committer email; this server names no pusher; `git fleet policy check` runs the same check before pushing".into(),
    });
    Ok(Outcome::Found)
}

/// fleet.toml at `rev` (missing: the empty config), labelled `label` in errors.
fn config_at_rev(ctx: &Ctx, rev: &str, label: &str) -> Result<Config> {
    let commit = ctx.store.rev_commit(rev)?;
    match ctx.store.read_path(commit, CONFIG_FILE)? {
        Some(bytes) => Config::parse(label, &bytes),
        None => Ok(Config::default()),
    }
}

/// post-receive: start `git fleet reconcile <target> --rev <branch>` detached
/// for every target whose desired file changed on the default branch (the
/// branch `reconcile` follows: HEAD), logging to fleet/reconcile.log in the git
/// dir. Pushes to other branches start nothing. Never fails the push.
pub fn post_receive(ctx: &Ctx, stdin: &str) -> Result<Outcome> {
    let dir = ctx.store.git_dir().to_path_buf();
    let head = git(&dir, &["symbolic-ref", "-q", "HEAD"])?;
    let head = head.stdout.trim().to_string();
    let log_dir = ctx.store.local_dir();
    let _ = std::fs::create_dir_all(&log_dir);
    let log_path = log_dir.join("reconcile.log");
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|source| Error::Write {
            path: log_path.clone(),
            source,
        })?;
    let time = gix::date::Time::now_utc().format_or_unix(gix::date::time::format::ISO8601_STRICT);
    // The config after the push: it names the targets and their desired files.
    let config = match server_config(ctx) {
        Ok((c, _)) => c,
        Err(e) => {
            let _ = writeln!(log, "[{time}] no reconcile: {e}");
            return Ok(Outcome::Done);
        }
    };
    let known = live::known_targets(&ctx.store, &config).unwrap_or_default();
    let files = desired_files(&config, &known);
    let mut starts: Vec<(String, String, String)> = Vec::new(); // (target, ref, commit)
    for line in stdin.lines() {
        let mut f = line.split_whitespace();
        let (Some(old), Some(new), Some(name)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if new.bytes().all(|b| b == b'0') || name != head {
            continue;
        }
        for (path, targets) in &files {
            let changed = old.bytes().all(|b| b == b'0')
                || git(&dir, &["diff", "--quiet", old, new, "--", path])?.code == Some(1);
            if !changed {
                continue;
            }
            for t in targets {
                if !starts.iter().any(|(s, _, _)| s == t) {
                    starts.push((t.clone(), name.to_string(), new.to_string()));
                }
            }
        }
    }
    if starts.is_empty() {
        return Ok(Outcome::Done);
    }
    let exe =
        std::env::current_exe().map_err(|e| Error::Other(format!("cannot find git-fleet: {e}")))?;
    for (target, branch, commit) in starts {
        let (Ok(out), Ok(err)) = (log.try_clone(), log.try_clone()) else {
            continue;
        };
        // The branch, not the commit: a tick that waited for an earlier one
        // reconciles the newest push, never an older state.
        let mut cmd = super::hook::detached(&exe);
        cmd.args([
            "--color",
            "never",
            "reconcile",
            &target,
            "--rev",
            &branch,
            "--wait",
            "10m",
        ])
        .current_dir(&dir)
        .stdout(out)
        .stderr(err);
        match cmd.spawn() {
            Ok(child) => {
                let _ = writeln!(
                    log,
                    "[{time}] push of {commit} to {branch}: reconcile {target} (pid {})",
                    child.id()
                );
            }
            Err(e) => {
                let _ = writeln!(log, "[{time}] cannot start reconcile of {target}: {e}");
            }
        }
    }
    Ok(Outcome::Done)
}
