//! Variants: targets that name their upstream (`promotes_from`), which
//! resources lag behind it (in desired and in live), and `promote`, which
//! writes the selected differences into the downstream's desired file.

use super::edit::{self, Place, Prepared};
use super::select::Selector;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::fleet::diff::{diff, Change};
use crate::fleet::Fleet;
use crate::store::Store;
use serde::Serialize;

/// One `promotes_from` edge and how far the downstream lags behind.
#[derive(Debug, Clone, Serialize)]
pub struct Edge {
    /// The upstream (`promotes_from`).
    pub from: String,
    pub to: String,
    /// `kind/name` whose desired content differs from the upstream's desired.
    pub desired_lag: Vec<String>,
    /// `kind/name` whose live content differs from the upstream's live
    /// (None: one side has no snapshot).
    pub live_lag: Option<Vec<String>>,
}

/// Every declared target's upstream, sorted by downstream name.
pub fn edges(config: &Config) -> Vec<(String, String)> {
    config
        .targets
        .iter()
        .filter_map(|(name, t)| t.promotes_from.clone().map(|up| (up, name.clone())))
        .collect()
}

fn desired_of(store: &Store, config: &Config, target: &str) -> Result<Fleet> {
    let place = edit::place(store, config, Some(target))?;
    Ok(place.read()?.1.fleet)
}

fn live_of(store: &Store, target: &str) -> Result<Option<Fleet>> {
    Ok(crate::live::latest_recorded(store, target)?.map(|(s, _)| s.fleet))
}

fn lag(behind: &Fleet, ahead: &Fleet) -> Vec<String> {
    diff(behind, ahead)
        .changes
        .iter()
        .filter(|c| c.kind != crate::fleet::Kind::ProviderConfigs)
        .map(|c| format!("{}/{}", c.kind, c.name))
        .collect()
}

/// The graph with the lag of each edge.
pub fn graph(store: &Store, config: &Config) -> Result<Vec<Edge>> {
    let mut out = Vec::new();
    for (from, to) in edges(config) {
        let desired_lag = lag(
            &desired_of(store, config, &to)?,
            &desired_of(store, config, &from)?,
        );
        let live_lag = match (live_of(store, &to)?, live_of(store, &from)?) {
            (Some(t), Some(f)) => Some(lag(&t, &f)),
            _ => None,
        };
        out.push(Edge {
            from,
            to,
            desired_lag,
            live_lag,
        });
    }
    Ok(out)
}

/// What `promote FROM TO` would write.
#[derive(Debug)]
pub struct Promotion {
    pub from: String,
    pub to: String,
    /// TO's desired -> FROM's desired, for the selected resources.
    pub changes: Vec<Change>,
    pub prepared: Option<Prepared>,
    pub place: Place,
    /// Held until the promotion is written (or dropped).
    pub lock: edit::DesiredLock,
}

pub fn plan(
    store: &Store,
    config: &Config,
    from: &str,
    to: &str,
    selectors: &[Selector],
) -> Result<Promotion> {
    let upstream = config.target(to).and_then(|t| t.promotes_from.as_deref());
    if upstream != Some(from) {
        return Err(Error::usage_hint(
            match upstream {
                Some(up) => format!("target '{to}' promotes from '{up}', not '{from}'"),
                None => format!("target '{to}' has no promotes_from in fleet.toml"),
            },
            format!(
                "declare promotes_from = \"{from}\" in [targets.{to}] (see `git fleet variants`)"
            ),
        ));
    }
    let source = desired_of(store, config, from)?;
    let place = edit::place(store, config, Some(to))?;
    let lock = place.lock(store)?;
    place.require_clean()?;
    let (text, dest) = place.read()?;
    for s in selectors {
        let hits = super::select::select(&source, std::slice::from_ref(s)).len()
            + super::select::select(&dest.fleet, std::slice::from_ref(s)).len();
        if hits == 0 {
            return Err(Error::usage(format!(
                "selector '{}' matches nothing in the desired files of {from} and {to}",
                s.text
            )));
        }
    }
    let (changes, edits) = edit::edits_toward(&dest.fleet, &source, selectors);
    let prepared = if edits.is_empty() {
        None
    } else {
        Some(edit::prepare(store, config, &place, (text, dest), &edits)?)
    };
    Ok(Promotion {
        from: from.to_string(),
        to: to.to_string(),
        changes,
        prepared,
        place,
        lock,
    })
}

/// Commit the promotion; the commit id (None: nothing differed).
/// The commit, after one receipt per promoted resource (see
/// [`edit::commit_with_receipts`]); its id and the receipts'.
pub fn write(
    store: &crate::store::Store,
    promotion: &Promotion,
    selectors: &[Selector],
) -> Result<Option<(String, Vec<String>)>> {
    let Some(prepared) = &promotion.prepared else {
        return Ok(None);
    };
    let refusals = prepared.refusals();
    if !refusals.is_empty() {
        return Err(Error::usage(refusals.join("; ")));
    }
    let mut message = format!(
        "promote {} -> {} into {}\n\n",
        promotion.from, promotion.to, prepared.place.path
    );
    for c in &promotion.changes {
        message.push_str(&format!("- {} {}/{}\n", c.change.as_str(), c.kind, c.name));
    }
    message.push_str(&format!(
        "\nFleet-Promote: {} -> {}\nFleet-Target: {}\n",
        promotion.from, promotion.to, promotion.to
    ));
    for s in selectors {
        message.push_str(&format!("Fleet-Selector: {}\n", s.text));
    }
    for note in prepared.policy_notes() {
        message.push_str(&format!("Fleet-Policy: {note}\n"));
    }
    let edge = format!("{} -> {}", promotion.from, promotion.to);
    edit::commit_with_receipts(
        store,
        prepared,
        "promote",
        &promotion.changes,
        &[("Fleet-Promote".into(), edge)],
        &message,
    )
    .map(Some)
}
