//! `git fleet render [NODE...]`: effective config per node.

use crate::ui::{Outcome, Ui};
use clap::Args;
use git_fleet::desired::{self, Source};
use git_fleet::fleet::render::{render_node, Index};
use git_fleet::fleet::Fleet;
use git_fleet::workspace::Workspace;
use git_fleet::{live, Error, Result};
use serde_json::{json, Map, Value};
use std::path::PathBuf;

/// Print the effective (rendered) config of nodes.
///
/// A node's config is its enabled assignments' module configs merged in
/// ascending priority (an assignment's priority overrides its module's), each
/// assignment's own config overriding its module's.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet render\n  git fleet render app-01 app-02 --json\n  git fleet render --rev HEAD~3 app-01\n  git fleet render --live prod app-01"
)]
pub struct RenderArgs {
    /// Nodes to render (default: all).
    pub nodes: Vec<String>,
    /// Render the desired file as of revision REV.
    #[arg(long, value_name = "REV", conflicts_with_all = ["file", "live"])]
    pub rev: Option<String>,
    /// Render FILE ('-' for stdin).
    #[arg(long, value_name = "FILE", conflicts_with = "live")]
    pub file: Option<PathBuf>,
    /// Render the latest live snapshot of TARGET instead of the desired file.
    #[arg(long, value_name = "TARGET")]
    pub live: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

pub fn run(ui: &Ui, ws: &Workspace, args: RenderArgs) -> Result<Outcome> {
    let config = ws.config()?;
    let (fleet, label): (Fleet, String) = match &args.live {
        Some(target) => {
            // Recorded here, else fetched (named in the label), as diff reads it.
            let (snapshot, name) = live::latest_recorded(ws.store(), target)?
                .ok_or_else(|| live::no_snapshot(ws.store(), target))?;
            (snapshot.fleet, name)
        }
        None => {
            let source = match (&args.rev, &args.file) {
                (Some(rev), _) => Source::Rev(rev.clone()),
                (None, Some(file)) => Source::File(file.clone()),
                (None, None) => Source::WorkTree,
            };
            let rel = match config.targets.values().next() {
                Some(t) if config.targets.len() == 1 => t.desired_path(),
                _ => git_fleet::config::DEFAULT_DESIRED.to_string(),
            };
            let input = desired::read(ws.store(), &source, &rel)?;
            // Rendering a lost file would show an empty fleet, not the problem.
            if !input.exists || input.is_blank() {
                let what = if input.exists {
                    "is empty"
                } else {
                    "does not exist"
                };
                return Err(Error::usage(format!(
                    "{} {what}: nothing to render",
                    input.label
                )));
            }
            (
                desired::parse_cached(ws.store(), &input)?.fleet,
                input.label,
            )
        }
    };
    let index = Index::new(&fleet);
    let nodes: Vec<String> = if args.nodes.is_empty() {
        index.nodes().map(str::to_string).collect()
    } else {
        for n in &args.nodes {
            if !index.by_node.contains_key(n.as_str()) {
                let known: Vec<&str> = index.nodes().take(10).collect();
                return Err(Error::usage(format!(
                    "unknown node '{n}' in {label} (nodes: {}{})",
                    if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    },
                    if index.by_node.len() > 10 {
                        ", ..."
                    } else {
                        ""
                    }
                )));
            }
        }
        args.nodes.clone()
    };
    if args.json {
        let mut out = Map::new();
        for n in &nodes {
            let rendered = render_node(&fleet, &index, n);
            out.insert(
                n.clone(),
                serde_json::to_value(&rendered).unwrap_or(Value::Null),
            );
        }
        ui.json(json!({ "source": label, "nodes": out }));
        return Ok(Outcome::Done);
    }
    for n in &nodes {
        let rendered = render_node(&fleet, &index, n);
        ui.out(format!("{}", ui.bold().apply_to(n)));
        if rendered.is_empty() {
            ui.out(format!(
                "  {}",
                ui.dim().apply_to("(no enabled assignments)")
            ));
        }
        for (k, v) in &rendered {
            ui.out(format!(
                "  {k} = {}  {}",
                v.value,
                ui.dim().apply_to(format!("({})", v.from))
            ));
        }
    }
    Ok(Outcome::Done)
}
