//! Check 6: every receipt another record names (`Fleet-Receipt` in a live
//! snapshot, a halt state, a fanout note, a proposal transition) is in the log.

use super::report::{short, Problem, ProblemKind, Problems};
use crate::error::{GitContext, Result};
use crate::store::Store;
use std::collections::HashSet;

/// Report every receipt id a record names that is not in `known`, once per
/// id, naming the first record found.
pub(super) fn check_named(
    store: &Store,
    known: &HashSet<String>,
    problems: &mut Problems,
) -> Result<()> {
    let mut reported: HashSet<String> = HashSet::new();
    for (id, record, commit) in named_receipts(store)? {
        if known.contains(&id) || !reported.insert(id.clone()) {
            continue;
        }
        problems.0.push(Problem {
            kind: ProblemKind::ReceiptMissing,
            message: format!(
                "{record} names receipt {}, which is not in the receipt log: the log was moved back or the receipt removed",
                short(&id)
            ),
            receipt: Some(id),
            commit: Some(commit),
            source_commit: None,
        });
    }
    Ok(())
}

/// (receipt id, what names it, the commit of that record) for every
/// `Fleet-Receipt` named by a live snapshot, a halt state, a proposal
/// transition or a fanout note.
fn named_receipts(store: &Store) -> Result<Vec<(String, String, String)>> {
    let mut out = Vec::new();
    let in_text = |text: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.strip_prefix("Fleet-Receipt: "))
            .map(|id| id.trim().to_string())
            .filter(|id| !id.is_empty())
            .collect()
    };
    // Chains: every commit reachable from each ref (sync may merge them).
    let mut chains: Vec<(String, String)> = store
        .refs_under(crate::live::LIVE_PREFIX)?
        .into_iter()
        .map(|r| {
            (
                r.clone(),
                format!("live snapshot of {}", &r[crate::live::LIVE_PREFIX.len()..]),
            )
        })
        .collect();
    chains.push((crate::halt::HALT_REF.to_string(), "halt state".to_string()));
    for (name, what) in chains {
        let Some(tip) = store.resolve(&name)? else {
            continue;
        };
        let walk = store
            .repo()
            .rev_walk([tip])
            .all()
            .git(|| format!("cannot walk {name}"))?;
        for info in walk {
            let info = info.git(|| format!("cannot walk {name}"))?;
            let (entry, _) = store.chain_entry(info.id)?;
            for id in in_text(&entry.message) {
                out.push((
                    id,
                    format!("{what} {}", short(&entry.commit)),
                    entry.commit.clone(),
                ));
            }
        }
    }
    for name in store.refs_under(crate::proposals::PROPOSALS_PREFIX)? {
        let target = &name[crate::proposals::PROPOSALS_PREFIX.len()..];
        let book = crate::proposals::Book::open(store, target)?;
        let tip = book.tip.map(|t| t.to_string()).unwrap_or_default();
        for p in book.all(store)? {
            for t in &p.transitions {
                if let Some(id) = &t.receipt {
                    out.push((
                        id.clone(),
                        format!("the {} transition of proposal {}", t.state, short(&p.id)),
                        tip.clone(),
                    ));
                }
            }
        }
    }
    if let Some(tip) = store.resolve("refs/notes/fleet/fanout")? {
        for (object, note) in store.notes_at(tip)? {
            for id in in_text(&note) {
                out.push((
                    id,
                    format!("the fanout note on {}", short(&object.to_string())),
                    tip.to_string(),
                ));
            }
        }
    }
    Ok(out)
}
