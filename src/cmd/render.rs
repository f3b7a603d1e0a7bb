//! `git fleet render [NODE...]`: effective config per node.

use super::{context, JSON_VERSION};
use crate::ui::{Outcome, Ui};
use git_fleet::cli::RenderArgs;
use git_fleet::desired::{self, Source};
use git_fleet::fleet::render::{render_node, Index};
use git_fleet::fleet::Fleet;
use git_fleet::timeline::at;
use git_fleet::{live, Error, Result};
use serde_json::{json, Map, Value};

pub fn run(ui: &Ui, args: RenderArgs) -> Result<Outcome> {
    let ctx = context()?;
    let at = args
        .at
        .as_deref()
        .map(|s| at::parse(&ctx.store, s))
        .transpose()?;
    let (fleet, label): (Fleet, String) = match &args.live {
        // --at: the snapshot as it was then (a time before the first is refused).
        Some(target) if at.is_some() => {
            let at = at.as_ref().expect("checked");
            let then = at::live_at(&ctx.store, target, at)?
                .ok_or_else(|| live::no_snapshot(&ctx.store, target))?;
            let label = format!("{} at {}", then.ref_name, at.describe());
            (then.fleet, label)
        }
        Some(target) => {
            // Recorded here, else fetched (named in the label), as diff reads it.
            let (snapshot, name) = live::latest_recorded(&ctx.store, target)?
                .ok_or_else(|| live::no_snapshot(&ctx.store, target))?;
            (snapshot.fleet, name)
        }
        None => {
            let source = match (&args.rev, &args.file) {
                (Some(rev), _) => Source::Rev(rev.clone()),
                (None, Some(file)) => Source::File(file.clone()),
                (None, None) => Source::WorkTree,
            };
            let rel = match ctx.config.targets.values().next() {
                Some(t) if ctx.config.targets.len() == 1 => t.desired_path(),
                _ => git_fleet::config::DEFAULT_DESIRED.to_string(),
            };
            let input = match &at {
                Some(at) => at::desired_at(&ctx.store, at, &rel)?.0,
                None => desired::read(&ctx.store, &source, &rel)?,
            };
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
                desired::parse_cached(&ctx.store, &input)?.fleet,
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
        ui.json(&json!({ "version": JSON_VERSION, "source": label, "nodes": out }));
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
