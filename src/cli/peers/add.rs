//! `git fleet peers add`: declare a peer checkout.

use crate::ui::{Outcome, Ui};
use clap::Args;
use git_fleet::fleet::validate::{printable, unsafe_name};
use git_fleet::peers::config::{self as peers_config, bad_branch};
use git_fleet::workspace::Workspace;
use git_fleet::{Error, Result};
use toml_edit::{value, Item, Table};

use super::file::{has_peer, last_position, local_file, read_doc, shared_file, write_doc};

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

pub fn run(ui: &Ui, ws: &Workspace, args: PeersAddArgs) -> Result<Outcome> {
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
