//! `git fleet get SELECTOR [KEY]`: values in a target's desired file.

use crate::ui::{Outcome, Ui};
use clap::Args;
use git_fleet::ops::{edit, getset, select::Selector};
use git_fleet::workspace::Workspace;
use git_fleet::Result;
use serde_json::json;

/// Read values of the resources a selector matches in a desired file.
///
/// SELECTOR is a glob on kind/name (`modules/nginx-*`,
/// `assignments/app-*:nginx-public`) or `node=NAME` (every assignment of that
/// node). KEY is a dotted path into the resource (`config.nginx_workers`);
/// without it the whole resource is shown. A selector that matches nothing is
/// an error (exit 2).
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet get modules/nginx-* config.nginx_workers\n  git fleet get node=app-01 --target prod --json"
)]
pub struct GetArgs {
    /// kind/name-glob, or node=NAME.
    pub selector: String,
    /// Dotted path into each resource (default: the whole resource).
    pub key: Option<String>,
    /// The target whose desired file is read (default: the only known one).
    #[arg(long, value_name = "T")]
    pub target: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(ui: &Ui, ws: &Workspace, args: GetArgs) -> Result<Outcome> {
    let config = ws.config()?;
    let selector = Selector::parse(&args.selector)?;
    let place = edit::place(ws.store(), config, args.target.as_deref())?;
    let (_, parsed) = place.read()?;
    let found = getset::get(
        &parsed.fleet,
        &place.path,
        std::slice::from_ref(&selector),
        args.key.as_deref(),
    )?;
    if args.json {
        ui.json(json!({
            "target": place.target,
            "file": place.path,
            "selector": selector.text,
            "key": args.key,
            "values": found,
        }));
        return Ok(Outcome::Done);
    }
    for f in &found {
        let shown = match &f.value {
            None => "(absent)".to_string(),
            Some(v) => v.to_string(),
        };
        match &f.key {
            Some(k) => ui.out(format!("{} {k} = {shown}", f.resource)),
            None => ui.out(format!("{} {shown}", f.resource)),
        }
    }
    Ok(Outcome::Done)
}
