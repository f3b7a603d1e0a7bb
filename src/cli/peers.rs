//! `git fleet peers add|remove|list`: edit fleet.toml or .git/fleet.local.toml
//! with toml_edit (comments and layout survive), list the merged view.

use crate::ui::{Outcome, Ui};
use clap::{Args, Subcommand};
use git_fleet::config::{Config, CONFIG_FILE};
use git_fleet::fleet::validate::{printable, unsafe_name};
use git_fleet::peers::config::{self as peers_config, bad_branch, Location, Peer};
use git_fleet::workspace::Workspace;
use git_fleet::{Error, Result};
use serde_json::json;
use std::path::PathBuf;
use toml_edit::{value, DocumentMut, Item, Table};

/// Declare, remove and list peer checkouts that `fanout` delivers to.
///
/// Peers live in fleet.toml (shared, committed) or, with --local, in
/// .git/fleet.local.toml (this machine's; a local peer replaces a shared one
/// of the same name). Edits keep the file's comments and layout.
#[derive(Debug, Subcommand)]
pub enum PeersCommand {
    Add(PeersAddArgs),
    Remove(PeersRemoveArgs),
    List(PeersListArgs),
}

/// Declare a peer checkout.
///
/// LOCATION is an absolute path, ~/path, or ssh://[user@]host[:port]/path.
/// Other settings (reload, health, readback, timeout, remote, transport,
/// identity) are edited in the file itself.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet peers add laptop ~/src/app\n  git fleet peers add web-1 ssh://deploy@web-1:2222/srv/app --branch main\n  git fleet peers add scratch /tmp/app-checkout --local"
)]
pub struct PeersAddArgs {
    /// The peer's name (letters, digits, '-', '_', '.').
    pub name: String,
    /// Where the checkout is: /abs/path, ~/path or ssh://[user@]host[:port]/path.
    pub location: String,
    /// The branch the peer must be on (default: the branch being delivered).
    #[arg(long, value_name = "B")]
    pub branch: Option<String>,
    /// Write to .git/fleet.local.toml (this machine only) instead of fleet.toml.
    #[arg(long)]
    pub local: bool,
}

/// Remove a peer declaration.
///
/// Removes it from every file that declares it, or only from
/// .git/fleet.local.toml with --local.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet peers remove laptop\n  git fleet peers remove scratch --local"
)]
pub struct PeersRemoveArgs {
    /// The peer's name.
    pub name: String,
    /// Only remove it from .git/fleet.local.toml.
    #[arg(long)]
    pub local: bool,
}

/// List the peers fanout would deliver to, and where each is declared.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  git fleet peers list\n  git fleet peers list --json")]
pub struct PeersListArgs {
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(ui: &Ui, ws: &Workspace, command: PeersCommand) -> Result<Outcome> {
    ws.config()?; // a malformed fleet.toml stops every command that reads it
    match command {
        PeersCommand::Add(args) => add(ui, ws, args),
        PeersCommand::Remove(args) => remove(ui, ws, args),
        PeersCommand::List(args) => list(ui, ws, args),
    }
}

/// A file that declares peers: its path, its name in messages, and whether
/// it is the machine-local one.
struct PeersFile {
    path: PathBuf,
    label: String,
    local: bool,
}

fn shared_file(ws: &Workspace) -> Result<PeersFile> {
    let root = ws.store().work_dir().ok_or_else(|| {
        Error::usage_hint(
            "this repository is bare: it has no fleet.toml",
            "declare the peer in this machine's file with --local",
        )
    })?;
    Ok(PeersFile {
        path: root.join(CONFIG_FILE),
        label: CONFIG_FILE.to_string(),
        local: false,
    })
}

fn local_file(ws: &Workspace) -> PeersFile {
    let git_dir = ws.store().repo().common_dir();
    PeersFile {
        path: peers_config::local_path(git_dir),
        label: peers_config::local_label(ws.store().work_dir(), git_dir),
        local: true,
    }
}

fn read_doc(file: &PeersFile) -> Result<(String, DocumentMut)> {
    let text = match std::fs::read_to_string(&file.path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(Error::Read {
                path: file.path.clone(),
                source,
            })
        }
    };
    let doc = text.parse::<DocumentMut>().map_err(|e| {
        Error::invalid(git_fleet::Diagnostic::new(
            file.label.clone(),
            e.message().to_string(),
        ))
    })?;
    Ok((text, doc))
}

/// Check the edited text with the same strict parsers every command uses,
/// then replace the file atomically.
fn write_doc(file: &PeersFile, text: &str) -> Result<()> {
    let home = git_fleet::workspace::home();
    if file.local {
        peers_config::parse_local(&file.label, text, home.as_deref())?;
    } else {
        Config::parse(&file.label, text.as_bytes())?;
        peers_config::parse_shared(&file.label, text, home.as_deref())?;
    }
    let tmp = file
        .path
        .with_extension(format!("toml.tmp{}", std::process::id()));
    std::fs::write(&tmp, text)
        .and_then(|_| std::fs::rename(&tmp, &file.path))
        .map_err(|source| {
            let _ = std::fs::remove_file(&tmp);
            Error::Write {
                path: file.path.clone(),
                source,
            }
        })
}

/// The highest table position in the document (0 if none).
fn last_position(item: &Item) -> isize {
    let Some(table) = item.as_table_like() else {
        return 0;
    };
    let own = item.as_table().and_then(Table::position).unwrap_or(0);
    table
        .iter()
        .map(|(_, child)| match child {
            Item::ArrayOfTables(a) => a
                .iter()
                .map(|t| t.position().unwrap_or(0))
                .max()
                .unwrap_or(0),
            other => last_position(other),
        })
        .fold(own, isize::max)
}

fn has_peer(doc: &DocumentMut, name: &str) -> bool {
    doc.get("peers")
        .and_then(Item::as_table_like)
        .is_some_and(|t| t.contains_key(name))
}

fn add(ui: &Ui, ws: &Workspace, args: PeersAddArgs) -> Result<Outcome> {
    if let Some(why) = unsafe_name(&args.name) {
        return Err(Error::usage(format!(
            "peer name '{}' {why}",
            printable(&args.name)
        )));
    }
    let location =
        peers_config::parse_location(&args.location, git_fleet::workspace::home().as_deref())
            .map_err(|why| Error::usage(format!("location {why}")))?;
    if let Some(b) = &args.branch {
        if let Some(why) = bad_branch(b) {
            return Err(Error::usage(format!("branch '{}' {why}", printable(b))));
        }
    }
    let file = if args.local {
        local_file(ws)
    } else {
        shared_file(ws)?
    };
    let (_, mut doc) = read_doc(&file)?;
    if has_peer(&doc, &args.name) {
        return Err(Error::usage_hint(
            format!("peer '{}' is already declared in {}", args.name, file.label),
            format!(
                "remove it first (git fleet peers remove {}{}) or edit {}",
                git_fleet::peers::fanout::quoted(&args.name),
                if args.local { " --local" } else { "" },
                file.label
            ),
        ));
    }
    let end = last_position(doc.as_item()) + 1;
    let trailing = doc.trailing().as_str().unwrap_or_default().to_string();
    doc.set_trailing("");
    let peers = doc.entry("peers").or_insert_with(|| {
        let mut t = Table::new();
        t.set_implicit(true);
        Item::Table(t)
    });
    let Some(peers) = peers.as_table_mut() else {
        return Err(Error::usage(format!(
            "{}: `peers` is not a table; edit it by hand",
            file.label
        )));
    };
    let mut table = Table::new();
    table["location"] = value(args.location.as_str());
    if let Some(b) = &args.branch {
        table["branch"] = value(b.as_str());
    }
    // At the end of the file: after every table, and after the comments that
    // follow the last one (toml_edit keeps those as the document's trailing
    // text, which would otherwise stay below the new table).
    table.set_position(end);
    let trailing = trailing.trim_end_matches([' ', '\t', '\n', '\r']);
    if !trailing.is_empty() {
        table.decor_mut().set_prefix(format!("{trailing}\n\n"));
    }
    peers.insert(&args.name, Item::Table(table));
    write_doc(&file, &doc.to_string())?;
    if let git_fleet::peers::config::Location::Local(path) = &location {
        if !path.exists() {
            ui.warn(format!(
                "{} does not exist (yet): fanout reports peer '{}' as missing until it does",
                path.display(),
                args.name
            ));
        }
    }
    ui.out(format!(
        "added peer {} ({}) to {}",
        ui.bold().apply_to(&args.name),
        args.location,
        file.label
    ));
    Ok(Outcome::Done)
}

fn remove(ui: &Ui, ws: &Workspace, args: PeersRemoveArgs) -> Result<Outcome> {
    let mut files = vec![local_file(ws)];
    if !args.local {
        if let Ok(shared) = shared_file(ws) {
            files.insert(0, shared);
        }
    }
    let mut removed = Vec::new();
    for file in &files {
        if !file.path.exists() {
            continue;
        }
        let (_, mut doc) = read_doc(file)?;
        if !has_peer(&doc, &args.name) {
            continue;
        }
        if let Some(peers) = doc.get_mut("peers").and_then(Item::as_table_like_mut) {
            peers.remove(&args.name);
            if peers.is_empty() {
                // Drop an implicit `[peers]` that only held this peer.
                let implicit = doc
                    .get("peers")
                    .and_then(Item::as_table)
                    .is_some_and(Table::is_implicit);
                if implicit {
                    doc.remove("peers");
                }
            }
        }
        write_doc(file, &doc.to_string())?;
        removed.push(file.label.clone());
    }
    if removed.is_empty() {
        let known: Vec<String> = ws.peers()?.iter().map(|p| p.name.clone()).collect();
        return Err(Error::usage(format!(
            "no peer named '{}'{} (known: {})",
            printable(&args.name),
            if args.local { " in the local file" } else { "" },
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        )));
    }
    ui.out(format!(
        "removed peer {} from {}",
        ui.bold().apply_to(&args.name),
        removed.join(" and ")
    ));
    Ok(Outcome::Done)
}

fn list(ui: &Ui, ws: &Workspace, args: PeersListArgs) -> Result<Outcome> {
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
