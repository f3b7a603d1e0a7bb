//! `git fleet agent`: pull mode, run in a peer's checkout (timer or cron).

use crate::ui::{Outcome, Ui};
use clap::Args;
use git_fleet::peers::agent::{self, AgentRequest};
use git_fleet::peers::config::DEFAULT_REMOTE;
use git_fleet::peers::fanout::{self, StepStatus};
use git_fleet::workspace::Workspace;
use git_fleet::{Error, Result};
use serde_json::json;

/// Pull mode: deliver to this peer checkout itself, then report.
///
/// Run in a peer's checkout from a systemd timer or cron. Fetches the
/// branch from the remote, applies fanout's safety contract to this checkout
/// (the same checks and outcomes: current, fast-forwarded, dirty, diverged,
/// ahead, wrong-branch, not-on-remote, ...; the same reload, health and
/// readback steps, owed steps run again until they pass), records the run
/// like fanout does, and pushes a report commit to the peer's own ref
/// refs/fleet/reports/<name>/log on the remote (fast-forward only, never
/// forced). `git fleet proof` and `git fleet fanout --status` read these
/// reports. Nothing is ever stashed, reset, rebased, cleaned, checked out or
/// forced. Exit 1 if the peer is blocked or the report could not be pushed.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet agent\n  git fleet agent --name web-1 --reload 'systemctl reload app'\n  git -C /srv/app fleet agent --json\n  git fleet agent --install-timer --interval 5min"
)]
pub struct AgentArgs {
    /// The peer's name, its report ref (default: git config fleet.peerName,
    /// else the host name).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// The remote to fetch from and report to (default: the peer's
    /// declared remote, else origin).
    #[arg(long, value_name = "REMOTE")]
    pub remote: Option<String>,
    /// The branch this peer follows (default: the declared branch, else the
    /// current branch).
    #[arg(long, value_name = "B")]
    pub branch: Option<String>,
    /// Command run after a move (and again while owed); default: the
    /// peer's declared reload, if any.
    #[arg(long, value_name = "CMD")]
    pub reload: Option<String>,
    /// Health check command (default: the peer's declared health).
    #[arg(long, value_name = "CMD")]
    pub health: Option<String>,
    /// Command that must print the commit (default: the declared readback).
    #[arg(long, value_name = "CMD")]
    pub readback: Option<String>,
    /// Check and say what would happen; change, record and push nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Record the report here only; do not push it.
    #[arg(long)]
    pub no_push: bool,
    /// Write a systemd user service and timer running the agent in this
    /// checkout, print where, and exit (enable with systemctl --user).
    #[arg(long)]
    pub install_timer: bool,
    /// The timer's interval (systemd time span).
    #[arg(
        long,
        value_name = "SPAN",
        default_value = "5min",
        requires = "install_timer"
    )]
    pub interval: String,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(ui: &Ui, ws: &Workspace, args: AgentArgs) -> Result<Outcome> {
    ws.config()?; // a malformed fleet.toml stops every command that reads it
    let name = match &args.name {
        Some(n) => n.clone(),
        None => ws
            .store()
            .repo()
            .config_snapshot()
            .string("fleet.peerName")
            .map(|v| v.to_string())
            .filter(|v| !v.is_empty())
            .or_else(agent::hostname)
            .ok_or_else(|| {
                Error::usage_hint(
                    "no peer name: --name not given, fleet.peerName not set, and the host name cannot be read",
                    "git config fleet.peerName <name>",
                )
            })?,
    };
    agent::check_name(&name)?;
    if args.install_timer {
        return install_timer(ui, ws, &name, &args);
    }
    // A peer declared under this name (fleet.toml or .git/fleet.local.toml)
    // gives the defaults; flags override them. Its location is ignored: the
    // agent delivers to the checkout it runs in.
    let declared = ws.peers()?.iter().find(|p| p.name == name);
    let req = AgentRequest {
        name: name.clone(),
        remote: args
            .remote
            .clone()
            .or_else(|| declared.as_ref().map(|p| p.remote.clone()))
            .unwrap_or_else(|| DEFAULT_REMOTE.to_string()),
        branch: args
            .branch
            .clone()
            .or_else(|| declared.as_ref().and_then(|p| p.branch.clone())),
        reload: args
            .reload
            .clone()
            .or_else(|| declared.as_ref().and_then(|p| p.reload.clone())),
        health: args
            .health
            .clone()
            .or_else(|| declared.as_ref().and_then(|p| p.health.clone())),
        readback: args
            .readback
            .clone()
            .or_else(|| declared.as_ref().and_then(|p| p.readback.clone())),
        timeout: declared.as_ref().map(|p| p.timeout),
        dry_run: args.dry_run,
        push: !args.no_push,
    };
    let result = agent::run(ws.store(), &req)?;
    let p = result.peer();
    let pushed = result.published.as_ref().is_some_and(|p| p.pushed);
    if args.json {
        ui.json(json!({
            "peer": p.name,
            "mode": "pull",
            "agent": agent::agent_version(),
            "commit": result.report.commit.to_string(),
            "branch": p.branch,
            "dry_run": result.report.dry_run,
            "outcome": p.outcome.as_str(),
            "blocked": p.outcome.is_blocked(),
            "reason": p.reason,
            "before": p.before.map(|id| id.to_string()),
            "after": p.after.map(|id| id.to_string()),
            "runtime": p.runtime,
            "owed": p.owed.names(),
            "recorded_in": result.report.run.as_ref().map(|_| fanout::NOTES_REF),
            "report": result.published,
        }));
    } else {
        let style = if p.outcome.is_blocked() {
            ui.red()
        } else {
            ui.green()
        };
        let steps: Vec<String> = [
            ("reload", &p.runtime.reload),
            ("health", &p.runtime.health),
            ("readback", &p.runtime.readback),
        ]
        .iter()
        .filter(|(_, s)| s.status != StepStatus::OutOfScope)
        .map(|(k, s)| format!("{k}={}", s.status.as_str()))
        .collect();
        ui.out(format!(
            "{} {} {}{}",
            p.name,
            style.apply_to(p.outcome.as_str()),
            p.reason,
            if steps.is_empty() {
                String::new()
            } else {
                format!(" [{}]", steps.join(" "))
            }
        ));
        if !p.owed.is_empty() {
            ui.out(format!(
                "still owed: {} (the next run tries again)",
                p.owed.names().join(", ")
            ));
        }
        match &result.published {
            None => ui.status("dry run: nothing changed, recorded or pushed"),
            Some(pub_) if pub_.commit.is_empty() => ui.status(&pub_.detail),
            Some(pub_) => ui.status(format!("report {}: {}", &pub_.commit[..12], pub_.detail)),
        }
    }
    Ok(
        if p.outcome.is_blocked() || (result.published.is_some() && !pushed && !args.no_push) {
            Outcome::Found
        } else {
            Outcome::Done
        },
    )
}

fn install_timer(ui: &Ui, ws: &Workspace, name: &str, args: &AgentArgs) -> Result<Outcome> {
    let checkout = ws.store().work_dir().ok_or_else(|| {
        Error::usage("git fleet agent runs in a peer's checkout; this repository is bare")
    })?;
    let checkout = checkout
        .canonicalize()
        .unwrap_or_else(|_| checkout.to_path_buf());
    let exe = std::env::current_exe()
        .map_err(|e| Error::Command(format!("cannot find the git-fleet binary: {e}")))?;
    let dir = agent::user_unit_dir().ok_or_else(|| {
        Error::usage("neither XDG_CONFIG_HOME nor HOME is set: nowhere to write the user units")
    })?;
    if args.interval.is_empty() || args.interval.chars().any(|c| c.is_control()) {
        return Err(Error::usage(format!(
            "--interval {} is not a systemd time span (e.g. 5min)",
            fanout::quoted(&args.interval)
        )));
    }
    let (service, timer) = agent::timer_units(&exe, &checkout, name, &args.interval);
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::Command(format!("cannot create {}: {e}", dir.display())))?;
    let unit = format!("git-fleet-agent-{name}");
    let service_path = dir.join(format!("{unit}.service"));
    let timer_path = dir.join(format!("{unit}.timer"));
    for (path, text) in [(&service_path, &service), (&timer_path, &timer)] {
        std::fs::write(path, text)
            .map_err(|e| Error::Command(format!("cannot write {}: {e}", path.display())))?;
    }
    if args.json {
        ui.json(json!({
            "service": service_path.display().to_string(),
            "timer": timer_path.display().to_string(),
            "enable": format!("systemctl --user daemon-reload && systemctl --user enable --now {unit}.timer"),
        }));
    } else {
        ui.out(format!("wrote {}", service_path.display()));
        ui.out(format!("wrote {}", timer_path.display()));
        ui.status(format!(
            "enable it: systemctl --user daemon-reload && systemctl --user enable --now {unit}.timer"
        ));
    }
    Ok(Outcome::Done)
}
