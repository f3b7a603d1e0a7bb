//! The server-side hooks' decisions: pre-receive (bounded writes: is this
//! push allowed?) and post-receive (which targets a push changed, and the
//! reconcile ticks started for them). They return what they decided; the
//! `hook` command words it.

use crate::config::{Config, CONFIG_FILE};
use crate::gitcmd::git;
use crate::policy::{
    check_commits, check_records, commits_entering, desired_files, is_checked_ref, policy_ref,
    policy_ref_update, pushed_commits, rewound_policy, PolicyRef, Pusher,
};
use crate::workspace::Workspace;
use crate::{live, Error, Result};
use std::io::Write;
use std::path::Path;

/// What pre-receive decided about a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreReceive {
    /// Every change is allowed.
    Accepted,
    /// The policy cannot be found or parsed: nothing is allowed (fail closed).
    PolicyUnreadable(String),
    /// Pushed fleet records (refs/fleet/*, refs/notes/fleet/*) that are not allowed.
    Records(Vec<String>),
    /// The default policy ref would move other than forward.
    PolicyRefMoved(String),
    /// Changes outside their actor's scope: the policy sources (fleet.toml
    /// on a ref) the refusals came from, and one line per refusal.
    Refused {
        sources: Vec<String>,
        refusals: Vec<String>,
    },
}

impl PreReceive {
    pub fn accepted(&self) -> bool {
        *self == PreReceive::Accepted
    }
}

/// The policy that governs a push: fleet.toml as the policy ref
/// (fleet.policyRef, else the branch HEAD names) has it before the push.
/// Reading it from the pushed commits would let a push widen its own scope;
/// a change to fleet.toml itself is decided as `config/fleet.toml` under the
/// old policy. A policy ref that cannot be found while branches exist is an
/// error (fail closed). Also returns the policy ref's name.
fn server_config(ws: &Workspace) -> Result<(Config, Option<String>)> {
    let found = policy_ref(ws.store().git_dir())?;
    let (name, configured) = match found {
        PolicyRef::NoBranches => return Ok((Config::default(), None)), // no policy yet
        PolicyRef::Missing(why) => {
            return Err(Error::usage(format!("the policy cannot be found: {why}")))
        }
        PolicyRef::Found { name, configured } => (name, configured),
    };
    let label = if configured {
        format!("{CONFIG_FILE} ({name})")
    } else {
        format!("{CONFIG_FILE} (HEAD)")
    };
    let config = ws.config_at(&name, &label)?;
    Ok((config, Some(name)))
}

/// pre-receive: refuse the whole push if any pushed commit changes desired
/// state outside its actor's scope, changes fleet.toml without a rule allowing
/// `config/fleet.toml`, or brings a file that cannot be decided, or if a
/// pushed fleet record is not allowed. The policy of a push to a branch is
/// fleet.toml at `fleet.policyRef` when configured; else at the branch's own
/// tip before the push (a new branch: at the branch HEAD names). Fails
/// closed: a policy that cannot be found or parsed refuses the push.
/// `stdin` is what git gives the hook (`old new ref` lines).
pub fn pre_receive(ws: &Workspace, stdin: &str) -> Result<PreReceive> {
    let dir = ws.store().git_dir();
    let pusher = Pusher::from_env();
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
            ws.config_at(name, &label)
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
            Err(e) => return Ok(PreReceive::PolicyUnreadable(e.clone())),
        };
        let ssh = crate::sign::SshConfig::read(ws.store())?;
        let records = check_records(dir, &ssh, &config.policy, stdin, pusher.as_ref())?;
        if !records.is_empty() {
            return Ok(PreReceive::Records(
                records.iter().map(ToString::to_string).collect(),
            ));
        }
    }
    // The default policy ref only moves forward.
    if let PolicyRef::Found { name, .. } = &default {
        for (old, new, r) in &lines {
            if let Some(why) = policy_ref_update(dir, name, old, new, r)? {
                return Ok(PreReceive::PolicyRefMoved(why.to_string()));
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
                Err(e) => return Ok(PreReceive::PolicyUnreadable(e.clone())),
            }
        } else {
            match ws.config_at(old, &format!("{CONFIG_FILE} ({name})")) {
                Ok(c) => (c, name.to_string()),
                Err(e) => return Ok(PreReceive::PolicyUnreadable(e.to_string())),
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
        let known = live::known_targets(ws.store(), &config)?;
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
        return Ok(PreReceive::Accepted);
    }
    let mut sources: Vec<String> = refusals.iter().map(|(s, _)| s.clone()).collect();
    sources.dedup();
    Ok(PreReceive::Refused {
        sources,
        refusals: refusals.into_iter().map(|(_, line)| line).collect(),
    })
}

/// post-receive: start `<exe> reconcile <target> --rev <branch>` detached
/// for every target whose desired file changed on the default branch (the
/// branch `reconcile` follows: HEAD), logging to fleet/reconcile.log in the git
/// dir. Pushes to other branches start nothing. Never fails the push: what
/// cannot be done is logged there.
pub fn post_receive(ws: &Workspace, exe: &Path, stdin: &str) -> Result<()> {
    let store = ws.store();
    let dir = store.git_dir().to_path_buf();
    let head = git(&dir, &["symbolic-ref", "-q", "HEAD"])?;
    let head = head.stdout.trim().to_string();
    let (mut log, _) = store.open_log("reconcile.log")?;
    let time = gix::date::Time::now_utc().format_or_unix(gix::date::time::format::ISO8601_STRICT);
    // The config after the push: it names the targets and their desired files.
    let config = match server_config(ws) {
        Ok((c, _)) => c,
        Err(e) => {
            let _ = writeln!(log, "[{time}] no reconcile: {e}");
            return Ok(());
        }
    };
    let known = live::known_targets(store, &config).unwrap_or_default();
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
    for (target, branch, commit) in starts {
        let (Ok(out), Ok(err)) = (log.try_clone(), log.try_clone()) else {
            continue;
        };
        // The branch, not the commit: a tick that waited for an earlier one
        // reconciles the newest push, never an older state.
        let mut cmd = crate::hooks::detached(exe);
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
    Ok(())
}
