//! `git fleet peers list`: the peers fanout would deliver to, and where each is declared.

use crate::ui::{Outcome, Ui};
use clap::Args;
use git_fleet::peers::config::{Location, Peer};
use git_fleet::workspace::Workspace;
use git_fleet::Result;
use serde_json::json;

/// List the peers fanout would deliver to, and where each is declared.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  git fleet peers list\n  git fleet peers list --json")]
pub struct PeersListArgs {
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(ui: &Ui, ws: &Workspace, args: PeersListArgs) -> Result<Outcome> {
    let peers = ws.peers()?;
    if args.json {
        let items: Vec<_> = peers.iter().map(peer_json).collect();
        ui.json(json!({ "peers": items }));
        return Ok(Outcome::Done);
    }
    if peers.is_empty() {
        ui.status("no peers declared (git fleet peers add <name> <location>)");
        return Ok(Outcome::Done);
    }
    let rows: Vec<[String; 5]> = peers
        .iter()
        .map(|p| {
            let mut runtime = Vec::new();
            for (k, v) in [
                ("reload", &p.reload),
                ("health", &p.health),
                ("readback", &p.readback),
            ] {
                if v.is_some() {
                    runtime.push(k);
                }
            }
            [
                p.name.clone(),
                p.location_text.clone(),
                p.branch
                    .clone()
                    .unwrap_or_else(|| "(delivered branch)".into()),
                p.origin.as_str().to_string(),
                if runtime.is_empty() {
                    "-".into()
                } else {
                    runtime.join(",")
                },
            ]
        })
        .collect();
    let header = ["PEER", "LOCATION", "BRANCH", "DECLARED IN", "RUNTIME"];
    let mut widths = header.map(str::len);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: [&str; 5]| {
        cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    ui.out(ui.bold().apply_to(line(header)).to_string());
    for r in &rows {
        ui.out(line([&r[0], &r[1], &r[2], &r[3], &r[4]]));
    }
    Ok(Outcome::Done)
}

fn peer_json(p: &Peer) -> serde_json::Value {
    let (kind, path, ssh) = match &p.location {
        Location::Local(path) => ("local", path.display().to_string(), None),
        Location::Ssh(s) => ("ssh", s.path.clone(), Some(s)),
    };
    json!({
        "name": p.name,
        "location": p.location_text,
        "kind": kind,
        "path": path,
        "user": ssh.and_then(|s| s.user.clone()),
        "host": ssh.map(|s| s.host.clone()),
        "port": ssh.and_then(|s| s.port),
        "transport": ssh.map(|s| s.transport.as_str()),
        "identity": ssh.and_then(|s| s.identity.as_deref().map(|i| i.display().to_string())),
        "branch": p.branch,
        "remote": p.remote,
        "reload": p.reload,
        "health": p.health,
        "readback": p.readback,
        "timeout_secs": p.timeout.as_secs(),
        "declared_in": p.origin,
    })
}
