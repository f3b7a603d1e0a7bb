//! `git fleet hook <name> [args]`: what the installed hook shims run.
//!
//! pre-commit blocks a commit with an invalid desired file. The post-push pair
//! must never block or fail a push: pre-push only notes what is pushed, and
//! reference-transaction starts fanout detached, logging to .git/fleet/fanout.log.

use super::{context, Ctx};
use crate::ui::{Outcome, Ui};
use clap::Parser;
use git_fleet::cli::{Cli, Command, HookArgs, HookName};
use git_fleet::hooks::{self, Pending};
use git_fleet::peers::shell::REPO_ENV_VARS;
use git_fleet::{Error, Result};
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command as Process, Stdio};

pub fn run(ui: &Ui, args: HookArgs) -> Result<Outcome> {
    match args.name {
        HookName::PreCommit => {
            // Exactly `git fleet diff --staged --check`, parsed by clap so it
            // stays in step with the diff command's options.
            let cli = Cli::try_parse_from(["git-fleet", "diff", "--staged", "--check"])
                .map_err(|e| Error::Other(format!("internal: {e}")))?;
            match cli.command {
                Command::Diff(diff) => super::diff::run(ui, diff),
                _ => Err(Error::Other("internal: not a diff command".into())),
            }
        }
        HookName::PrePush => {
            let stdin = read_stdin()?;
            let ctx = context()?;
            if super::peers::load(&ctx)?.is_empty() {
                return Ok(Outcome::Done);
            }
            let remote = args.args.first().map(String::as_str).unwrap_or("");
            let entries = hooks::pending_from_pre_push(remote, &stdin, hooks::now_secs());
            if !entries.is_empty() {
                hooks::add_pending(&ctx.store.local_dir(), &entries)?;
            }
            Ok(Outcome::Done)
        }
        HookName::ReferenceTransaction => {
            if args.args.first().map(String::as_str) != Some("committed") {
                return Ok(Outcome::Done);
            }
            let stdin = read_stdin()?;
            let ctx = context()?;
            let taken = hooks::take_confirmed(&ctx.store.local_dir(), &stdin)?;
            for pending in taken {
                start_fanout(&ctx, &pending)?;
            }
            Ok(Outcome::Done)
        }
        HookName::PreReceive => {
            let stdin = read_stdin()?;
            let ctx = super::store_context()?;
            super::policy::pre_receive(ui, &ctx, &stdin)
        }
        HookName::PostReceive => {
            let stdin = read_stdin()?;
            let ctx = super::store_context()?;
            super::policy::post_receive(&ctx, &stdin)
        }
    }
}

fn read_stdin() -> Result<String> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| Error::Other(format!("cannot read stdin: {e}")))?;
    Ok(s)
}

/// Start `git fleet fanout` for a confirmed push, detached (own process
/// group, SIGHUP ignored through nohup when present), stdin closed, output
/// appended to .git/fleet/fanout.log. Only peers that expect the pushed
/// branch are delivered to.
fn start_fanout(ctx: &Ctx, pending: &Pending) -> Result<()> {
    let peers: Vec<String> = super::peers::load(ctx)?
        .into_iter()
        .filter(|p| p.branch.as_deref().unwrap_or(&pending.branch) == pending.branch)
        .map(|p| p.name)
        .collect();
    let dir = ctx.store.local_dir();
    std::fs::create_dir_all(&dir).map_err(|source| Error::Write {
        path: dir.clone(),
        source,
    })?;
    let log_path = dir.join("fanout.log");
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|source| Error::Write {
            path: log_path.clone(),
            source,
        })?;
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
        .map_err(|e| Error::Other(format!("cannot find the git-fleet binary: {e}")))?;
    let mut cmd = detached(&exe);
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
        .map_err(|e| Error::Other(format!("cannot open the fanout log: {e}")))?;
    let err = log
        .try_clone()
        .map_err(|e| Error::Other(format!("cannot open the fanout log: {e}")))?;
    cmd.current_dir(ctx.store.work_dir().unwrap_or_else(|| ctx.store.git_dir()))
        .stdout(out)
        .stderr(err);
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
            Err(Error::Other(format!("cannot start fanout: {e}")))
        }
    }
}

/// `exe` as a process that outlives the hook: its own process group, SIGHUP
/// ignored through nohup when present, stdin closed, and none of the
/// repository variables git sets for hooks (it finds the repository from its
/// working directory).
pub(super) fn detached(exe: &std::path::Path) -> Process {
    let mut cmd = match find_on_path("nohup") {
        Some(nohup) => {
            let mut c = Process::new(nohup);
            c.arg(exe);
            c
        }
        None => Process::new(exe),
    };
    for var in REPO_ENV_VARS {
        cmd.env_remove(var);
    }
    cmd.stdin(Stdio::null()).process_group(0);
    cmd
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}
