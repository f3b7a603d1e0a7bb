//! `git fleet get SELECTOR [KEY]`: values in a target's desired file.

use super::{context, JSON_VERSION};
use crate::ui::{Outcome, Ui};
use git_fleet::cli::GetArgs;
use git_fleet::ops::{edit, getset, select::Selector};
use git_fleet::Result;
use serde_json::json;

pub fn run(ui: &Ui, args: GetArgs) -> Result<Outcome> {
    let ctx = context()?;
    let selector = Selector::parse(&args.selector)?;
    let place = edit::place(&ctx.store, &ctx.config, args.target.as_deref())?;
    let (_, parsed) = place.read()?;
    let found = getset::get(
        &parsed.fleet,
        &place.path,
        std::slice::from_ref(&selector),
        args.key.as_deref(),
    )?;
    if args.json {
        ui.json(&json!({
            "version": JSON_VERSION,
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
