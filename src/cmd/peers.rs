//! `git fleet peers add|remove|list`: edit fleet.toml or .git/fleet.local.toml
//! with toml_edit (comments and layout survive), list the merged view.

use super::{context, Ctx, JSON_VERSION};
use crate::ui::{Outcome, Ui};
use git_fleet::cli::{PeersAddArgs, PeersCommand, PeersListArgs, PeersRemoveArgs};
use git_fleet::config::{Config, CONFIG_FILE};
use git_fleet::fleet::validate::{printable, unsafe_name};
use git_fleet::peers::config::{self as peers_config, bad_branch, Location, Peer};
use git_fleet::{Error, Result};
use serde_json::json;
use std::path::PathBuf;
use toml_edit::{value, DocumentMut, Item, Table};

pub fn run(ui: &Ui, command: PeersCommand) -> Result<Outcome> {
    let ctx = context()?;
    match command {
        PeersCommand::Add(args) => add(ui, &ctx, args),
        PeersCommand::Remove(args) => remove(ui, &ctx, args),
        PeersCommand::List(args) => list(ui, &ctx, args),
    }
}

pub fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// The configured peers of the repository in `ctx`.
pub fn load(ctx: &Ctx) -> Result<Vec<Peer>> {
    peers_config::load(
        ctx.store.work_dir(),
        ctx.store.repo().common_dir(),
        home().as_deref(),
    )
}

/// A file that declares peers: its path, its name in messages, and whether
/// it is the machine-local one.
struct PeersFile {
    path: PathBuf,
    label: String,
    local: bool,
}

fn shared_file(ctx: &Ctx) -> Result<PeersFile> {
    let root = ctx.store.work_dir().ok_or_else(|| {
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

fn local_file(ctx: &Ctx) -> PeersFile {
    let git_dir = ctx.store.repo().common_dir();
    PeersFile {
        path: peers_config::local_path(git_dir),
        label: peers_config::local_label(ctx.store.work_dir(), git_dir),
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
    let home = home();
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

fn add(ui: &Ui, ctx: &Ctx, args: PeersAddArgs) -> Result<Outcome> {
    if let Some(why) = unsafe_name(&args.name) {
        return Err(Error::usage(format!(
            "peer name '{}' {why}",
            printable(&args.name)
        )));
    }
    let location = peers_config::parse_location(&args.location, home().as_deref())
        .map_err(|why| Error::usage(format!("location {why}")))?;
    if let Some(b) = &args.branch {
        if let Some(why) = bad_branch(b) {
            return Err(Error::usage(format!("branch '{}' {why}", printable(b))));
        }
    }
    let file = if args.local {
        local_file(ctx)
    } else {
        shared_file(ctx)?
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

fn remove(ui: &Ui, ctx: &Ctx, args: PeersRemoveArgs) -> Result<Outcome> {
    let mut files = vec![local_file(ctx)];
    if !args.local {
        if let Ok(shared) = shared_file(ctx) {
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
        let known: Vec<String> = load(ctx)?.into_iter().map(|p| p.name).collect();
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

fn list(ui: &Ui, ctx: &Ctx, args: PeersListArgs) -> Result<Outcome> {
    let peers = load(ctx)?;
    if args.json {
        let items: Vec<_> = peers.iter().map(peer_json).collect();
        ui.json(&json!({ "version": JSON_VERSION, "peers": items }));
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
