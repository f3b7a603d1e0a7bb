//! Where values came from and what records said then: `why`, `--at`,
//! `history`, and the rendered review of a diff. Reads only; never prints.

pub mod at;
pub mod history;
pub mod rendered;
pub mod why;

/// Names in `known` closest to `wanted` (edit distance), best first, at most 3.
pub fn closest<'a>(wanted: &str, known: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let limit = (wanted.chars().count() / 2).max(2);
    let mut scored: Vec<(usize, &str)> = known
        .into_iter()
        .map(|k| (distance(wanted, k), k))
        .filter(|(d, k)| *d <= limit || k.contains(wanted) || wanted.contains(k))
        .collect();
    scored.sort();
    scored.dedup();
    scored.into_iter().take(3).map(|(_, k)| k).collect()
}

/// Levenshtein distance on chars.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(row[j]).min(here)
            };
            prev = here;
        }
    }
    row[b.len()]
}

/// "did you mean a, b? (nodes: x, y, z, ...)" for an unknown name.
pub fn known_list<'a>(
    what: &str,
    wanted: &str,
    known: impl IntoIterator<Item = &'a str>,
) -> String {
    let all: Vec<&str> = known.into_iter().collect();
    let near = closest(wanted, all.iter().copied());
    let mut shown: Vec<&str> = all.iter().take(12).copied().collect();
    if all.len() > 12 {
        shown.push("...");
    }
    let list = if shown.is_empty() {
        "none".to_string()
    } else {
        shown.join(", ")
    };
    match near.as_slice() {
        [] => format!("{what}: {list}"),
        _ => format!("did you mean {}? ({what}: {list})", near.join(", ")),
    }
}

/// The target a `why` or `history` reads live records of: the one named
/// (which must be known), else the only known one, else none (desired only).
/// Several known and none named is refused: which one is not ours to guess.
pub fn optional_target(
    store: &crate::store::Store,
    config: &crate::config::Config,
    named: Option<&str>,
) -> crate::Result<Option<String>> {
    if named.is_some() {
        return crate::live::resolve_target(store, config, named).map(Some);
    }
    match crate::live::known_targets(store, config)?.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.clone())),
        several => Err(crate::Error::usage_hint(
            format!(
                "several targets are known ({}); name one",
                several.join(", ")
            ),
            "pass --target T",
        )),
    }
}

/// The desired file a target reads (fleet.yaml without one).
pub fn desired_path(config: &crate::config::Config, target: Option<&str>) -> String {
    target
        .and_then(|t| config.target(t))
        .map(|t| t.desired_path())
        .unwrap_or_else(|| crate::config::DEFAULT_DESIRED.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn closest_names() {
        let known = ["app-01", "app-02", "db-01"];
        assert_eq!(super::closest("app-1", known)[0], "app-01");
        assert!(super::closest("zzzzzzzz", known).is_empty());
    }
}
