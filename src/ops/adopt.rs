//! `adopt`: reverse reconcile. Live values that differ from desired are
//! written back into the desired file (losslessly), as a commit that names a
//! receipt, so the next reconcile proposes nothing for them.

use super::edit::{self, Prepared};
use super::select::Selector;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::fleet::diff::Change;
use crate::store::Store;
use serde::Serialize;

/// What adopt found (and, unless a dry run, wrote).
#[derive(Debug)]
pub struct Adoption {
    pub target: String,
    /// The live snapshot adopted from (None: exec driver without a record).
    pub live_snapshot: Option<String>,
    /// Desired -> live, per resource: what the commit changes in desired.
    pub changes: Vec<Change>,
    pub prepared: Option<Prepared>,
    /// Held until the adoption is written (or dropped).
    pub lock: edit::DesiredLock,
}

#[derive(Debug, Clone, Serialize)]
pub struct Written {
    pub commit: String,
    /// One receipt per adopted resource, in the order of the changes.
    pub receipts: Vec<String>,
}

/// Compute the adoption of `target`'s live drift (the selected resources).
pub fn plan(
    store: &Store,
    config: &Config,
    target: &str,
    selectors: &[Selector],
) -> Result<Adoption> {
    let place = edit::place(store, config, Some(target))?;
    let target = place.target.clone().unwrap_or_else(|| target.to_string());
    let cfg = crate::reconcile::target_config(config, &target);
    let lock = place.lock(store)?;
    let live = crate::reconcile::read_live(store, &target, &cfg)?;
    if live.snapshot.is_none() && cfg.driver.as_deref() != Some("exec") {
        return Err(crate::live::no_snapshot(store, &target));
    }
    place.require_clean()?;
    let (text, desired) = place.read()?;
    for s in selectors {
        let hits = super::select::select(&desired.fleet, std::slice::from_ref(s)).len()
            + super::select::select(&live.fleet, std::slice::from_ref(s)).len();
        if hits == 0 {
            return Err(Error::usage(format!(
                "selector '{}' matches nothing in {} nor in live {target}",
                s.text, place.path
            )));
        }
    }
    // Fields [[ignore]] rules leave to something else are not adopted either:
    // live is made to agree with desired on them first.
    let (goal, _) = super::ignore::neutralize(config, &target, &desired.fleet, live.fleet);
    let (changes, edits) = edit::edits_toward(&desired.fleet, &goal, selectors);
    let prepared = if edits.is_empty() {
        None
    } else {
        Some(edit::prepare(
            store,
            config,
            &place,
            (text, desired),
            &edits,
        )?)
    };
    Ok(Adoption {
        target,
        live_snapshot: live.snapshot.map(|c| c.to_string()),
        changes,
        prepared,
        lock,
    })
}

/// Receipts first (naming the desired content written), then the commit
/// naming them, as a manual snapshot does.
pub fn write(
    store: &Store,
    adoption: &Adoption,
    selectors: &[Selector],
) -> Result<Option<Written>> {
    let Some(prepared) = &adoption.prepared else {
        return Ok(None);
    };
    let refusals = prepared.refusals();
    if !refusals.is_empty() {
        return Err(Error::usage(refusals.join("; ")));
    }
    let mut message = format!(
        "adopt live {} into {}\n\n",
        adoption.target, prepared.place.path
    );
    for c in &adoption.changes {
        message.push_str(&format!("- {} {}/{}\n", c.change.as_str(), c.kind, c.name));
    }
    message.push_str(&format!("\nFleet-Target: {}\n", adoption.target));
    for s in selectors {
        message.push_str(&format!("Fleet-Selector: {}\n", s.text));
    }
    if let Some(live) = &adoption.live_snapshot {
        message.push_str(&format!("Fleet-Live: {live}\n"));
    }
    let live = adoption
        .live_snapshot
        .clone()
        .unwrap_or_else(|| "exec".into());
    let (commit, receipts) = edit::commit_with_receipts(
        store,
        prepared,
        "adopt",
        &adoption.changes,
        &[("Fleet-Live".into(), live)],
        &message,
    )?;
    Ok(Some(Written { commit, receipts }))
}
