//! `git fleet hook <name> [args]`: what the installed hook shims run.
//!
//! pre-commit blocks a commit with an invalid desired file. The post-push pair
//! must never block or fail a push: pre-push only notes what is pushed, and
//! reference-transaction starts fanout detached, logging to .git/fleet/fanout.log.

use crate::ui::{Outcome, Ui};
use clap::{Args, ValueEnum};
use git_fleet::desired::Source;
use git_fleet::hooks::{self, Pending};
use git_fleet::policy::Pusher;
use git_fleet::serverhooks::{self, PreReceive};
use git_fleet::workspace::Workspace;
use git_fleet::{Error, Result};
use std::io::{Read, Write};

/// Run a git-fleet hook (what the installed hook shims call).
///
/// pre-commit: `git fleet diff --staged --check`. pre-push: note the pushed
/// branches in .git/fleet/pending-push. reference-transaction: when a pending
/// push is confirmed by its remote-tracking ref, start `git fleet fanout` in
/// the background. pre-receive, post-receive: accept (issue 6 adds checks).
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet hook pre-commit\n  echo 'refs/heads/main <sha> refs/heads/main <sha>' | git fleet hook pre-push origin url"
)]
pub struct HookArgs {
    /// Which hook.
    #[arg(value_enum)]
    pub name: HookName,
    /// The arguments git passed to the hook.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HookName {
    PreCommit,
    PrePush,
    ReferenceTransaction,
    PreReceive,
    PostReceive,
}

pub fn run(ui: &Ui, ws: &Workspace, args: HookArgs) -> Result<Outcome> {
    match args.name {
        HookName::PreCommit => {
            // What `git fleet diff --staged --check` checks, in its words.
            let report = ws.check_desired(None, &Source::Staged)?;
            ui.check_report(&report);
            Ok(if report.ok() {
                Outcome::Done
            } else {
                Outcome::Found
            })
        }
        HookName::PrePush => {
            let stdin = read_stdin()?;
            if ws.peers()?.is_empty() {
                return Ok(Outcome::Done);
            }
            let remote = args.args.first().map(String::as_str).unwrap_or("");
            let entries = hooks::pending_from_pre_push(remote, &stdin, hooks::now_secs());
            if !entries.is_empty() {
                hooks::add_pending(&ws.store().local_dir(), &entries)?;
            }
            Ok(Outcome::Done)
        }
        HookName::ReferenceTransaction => {
            if args.args.first().map(String::as_str) != Some("committed") {
                return Ok(Outcome::Done);
            }
            let stdin = read_stdin()?;
            ws.config()?; // a malformed fleet.toml is reported, as before
            let taken = hooks::take_confirmed(&ws.store().local_dir(), &stdin)?;
            for pending in taken {
                start_fanout(ws, &pending)?;
            }
            Ok(Outcome::Done)
        }
        // The server hooks read fleet.toml from the policy ref themselves and
        // report a malformed one in their own words.
        HookName::PreReceive => {
            let stdin = read_stdin()?;
            let decision = serverhooks::pre_receive(ws, &stdin)?;
            print_pre_receive(ui, &decision);
            Ok(if decision.accepted() {
                Outcome::Done
            } else {
                Outcome::Found
            })
        }
        HookName::PostReceive => {
            let stdin = read_stdin()?;
            let exe = std::env::current_exe()
                .map_err(|e| Error::Command(format!("cannot find git-fleet: {e}")))?;
            serverhooks::post_receive(ws, &exe, &stdin)?;
            Ok(Outcome::Done)
        }
    }
}

/// pre-receive's decision, as the pusher sees it (git relays stderr).
fn print_pre_receive(ui: &Ui, decision: &PreReceive) {
    match decision {
        PreReceive::Accepted => {}
        PreReceive::PolicyUnreadable(e) => {
            ui.error(format!(
                "git-fleet: push refused: the policy cannot be read, so nothing is allowed: {e}"
            ));
            ui.hint("fix fleet.toml on the server's default branch, or fleet.policyRef (for instance: git fleet hooks uninstall --pre-receive, push the fix, install again)");
        }
        PreReceive::Records(records) => {
            ui.error("git-fleet: push refused: fleet records (refs/fleet/*, refs/notes/fleet/*):");
            for r in records {
                ui.error(r);
            }
            ui.hint("a record's actor is its verified signer (gpg.ssh.allowedSignersFile here), else the pusher the server names (GL_USER, GITEA_PUSHER_NAME, GL_USERNAME, REMOTE_USER), else the identity it claims");
        }
        PreReceive::PolicyRefMoved(why) => ui.error(format!("git-fleet: push refused: {why}")),
        PreReceive::Refused { sources, refusals } => {
            ui.error(format!(
                "git-fleet: push refused by the bounded-write policy ([[policy]] in {}):",
                sources.join(", ")
            ));
            for line in refusals {
                ui.error(line);
            }
            ui.hint(match Pusher::from_env() {
                Some(p) => format!("the actor is a commit's verified SSH signer (gpg.ssh.allowedSignersFile here), else its committer email, pushed by {} (the server's {}); `git fleet policy check` runs the same check before pushing", p.name, p.variable),
                None => "the actor is a commit's verified SSH signer (gpg.ssh.allowedSignersFile here), else its committer email; this server names no pusher; `git fleet policy check` runs the same check before pushing".into(),
            });
        }
    }
}

fn read_stdin() -> Result<String> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| Error::Command(format!("cannot read stdin: {e}")))?;
    Ok(s)
}

/// Start `git fleet fanout` for a confirmed push, detached (own process
/// group, SIGHUP ignored through nohup when present), stdin closed, output
/// appended to .git/fleet/fanout.log. Only peers that expect the pushed
/// branch are delivered to.
fn start_fanout(ws: &Workspace, pending: &Pending) -> Result<()> {
    let peers: Vec<String> = ws
        .peers()?
        .iter()
        .filter(|p| p.branch.as_deref().unwrap_or(&pending.branch) == pending.branch)
        .map(|p| p.name.clone())
        .collect();
    let (mut log, _) = ws.store().open_log("fanout.log")?;
    let time = gix::date::Time::now_utc().format_or_unix(gix::date::time::format::ISO8601_STRICT);
    if peers.is_empty() {
        let _ = writeln!(
            log,
            "[{time}] push of {} to {} confirmed; no peer expects branch {}: no fanout",
            pending.commit, pending.tracking, pending.branch
        );
        return Ok(());
    }
    let exe = std::env::current_exe()
        .map_err(|e| Error::Command(format!("cannot find the git-fleet binary: {e}")))?;
    let mut cmd = hooks::detached(&exe);
    cmd.args([
        "--color",
        "never",
        "fanout",
        "--commit",
        &pending.commit,
        "--branch",
        &pending.branch,
    ]);
    for p in &peers {
        cmd.args(["--peer", p]);
    }
    let out = log
        .try_clone()
        .map_err(|e| Error::Command(format!("cannot open the fanout log: {e}")))?;
    let err = log
        .try_clone()
        .map_err(|e| Error::Command(format!("cannot open the fanout log: {e}")))?;
    cmd.current_dir(ws.run_dir()).stdout(out).stderr(err);
    // Logged before the child can write its own output to the same file.
    let _ = writeln!(
        log,
        "[{time}] push of {} to {} confirmed: starting fanout to {}",
        pending.commit,
        pending.tracking,
        peers.join(", ")
    );
    match cmd.spawn() {
        Ok(_child) => Ok(()), // not waited for: it outlives this hook
        Err(e) => {
            let _ = writeln!(log, "[{time}] cannot start fanout: {e}");
            Err(Error::Command(format!("cannot start fanout: {e}")))
        }
    }
}
