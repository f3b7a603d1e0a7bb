//! `set --live TARGET`: change live directly (the operator's ClickOps path)
//! through the same path `apply` uses: a proposal per changed resource,
//! approved by the actor (policy and signing as `approve`), then applied
//! write-ahead with its intent and completing receipts. The change is then
//! drift of live against desired, reported for `adopt`.

use super::select::{select_each, Selector};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::fleet::diff::{diff, Diff};
use crate::fleet::validate::validate;
use crate::fleet::SourceMap;
use crate::proposals::{self, resource_json, set_resource, State};
use crate::reconcile::{self, ApplyOptions, ApplyOutcome};
use crate::store::Store;
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Serialize)]
pub struct LiveSet {
    pub target: String,
    /// Live before -> live as asked, with blast radius.
    pub diff: Diff,
    /// One per change: the applied snapshot, or why it was not applied.
    pub outcomes: Vec<ApplyOutcome>,
    /// `git fleet adopt TARGET --select kind/name ...`: the command that
    /// makes the change intent (None: nothing changed).
    pub adopt: Option<String>,
}

/// Set `values` in the live resources of `target` that `selector` matches.
pub fn run(
    store: &Store,
    config: &Config,
    target: &str,
    selector: &Selector,
    values: &[(String, Vec<String>, Value)],
    dry_run: bool,
) -> Result<LiveSet> {
    let target = crate::live::resolve_target(store, config, Some(target))?;
    let cfg = reconcile::target_config(config, &target);
    let live = reconcile::read_live(store, &target, &cfg)?;
    if live.snapshot.is_none() && cfg.driver.as_deref() != Some("exec") {
        return Err(crate::live::no_snapshot(store, &target));
    }
    let label = format!("live {target}");
    let mut next = live.fleet.clone();
    for (kind, name) in select_each(&live.fleet, std::slice::from_ref(selector), &label)? {
        let mut resource = resource_json(&next, kind, &name).unwrap_or(Value::Null);
        for (key, path, value) in values {
            super::yamledit::put(&mut resource, path, value.clone())
                .map_err(|why| Error::usage(format!("cannot set {key} in {kind}/{name}: {why}")))?;
        }
        set_resource(&mut next, kind, &name, Some(&resource)).map_err(|e| {
            Error::usage(format!(
                "{kind}/{name} would not be a valid {}: {e}",
                kind.noun()
            ))
        })?;
    }
    validate(&next, &SourceMap::new(format!("{label} after set")))?;
    let measured = diff(&live.fleet, &next);
    let changes = &measured.changes;
    let dir = store.work_dir().unwrap_or(store.git_dir()).to_path_buf();
    let actor = crate::policy::local_actor(&dir, &store.actor().email);
    let refusals: Vec<String> = config
        .policy
        .check(&actor, Some(&target), changes)
        .into_iter()
        .filter_map(|d| d.refusal)
        .collect();
    if !refusals.is_empty() {
        return Err(Error::usage(format!(
            "refused by policy, nothing changed: {}",
            refusals.join("; ")
        )));
    }
    let adopt = (!changes.is_empty()).then(|| {
        let selects: Vec<String> = changes
            .iter()
            .map(|c| format!("--select {}/{}", c.kind, c.name))
            .collect();
        format!("git fleet adopt {target} {}", selects.join(" "))
    });
    if dry_run || changes.is_empty() {
        return Ok(LiveSet {
            target,
            diff: measured,
            outcomes: Vec::new(),
            adopt,
        });
    }
    // The proposals name what was published when live was changed, so the
    // apply's receipts annotate a commit the target's branch has.
    let source = match crate::policy::published_ref(&dir, &cfg, &target) {
        Ok(Some(tracking)) => store.rev_commit(&tracking).ok(),
        _ => store.rev_commit("HEAD").ok(),
    }
    .map(|c| c.to_string());
    let now = crate::runs::now();
    let who = reconcile::actor_string(store);
    let reason = format!("set --live {}: {}", selector.text, keys(values));
    let opened: Vec<proposals::Proposal> = changes
        .iter()
        .map(|c| {
            proposals::from_change(
                &target,
                c,
                &live.fleet,
                &next,
                source.clone(),
                live.snapshot.map(|s| s.to_string()),
                &who,
                now,
                Some(reason.clone()),
            )
        })
        .collect();
    proposals::write(store, &target, &opened, &format!("{reason} on {target}"))?;
    let ids: Vec<String> = opened.iter().map(|p| p.id.clone()).collect();
    reconcile::decide(store, config, &target, &ids, State::Approved, Some(&reason))?;
    let outcomes = reconcile::apply(
        store,
        config,
        &target,
        &ids,
        &ApplyOptions {
            auto: false,
            despite_halt: false,
        },
    )?;
    Ok(LiveSet {
        target,
        diff: measured,
        outcomes,
        adopt,
    })
}

fn keys(values: &[(String, Vec<String>, Value)]) -> String {
    values
        .iter()
        .map(|(k, _, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}
