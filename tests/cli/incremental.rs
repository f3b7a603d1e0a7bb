//! The per-resource parse cache must never change what is accepted or what an
//! error says: every result is compared with the full parser's.

use git_fleet::fleet::incremental::{parse_with_cache, ChunkCache};
use git_fleet::fleet::parse;

const BASE: &str = include_str!("../../examples/fleet.yaml");

fn warm() -> ChunkCache {
    let mut cache = ChunkCache::default();
    let (_, stats, refreshed) =
        parse_with_cache("fleet.yaml", BASE.as_bytes(), &mut cache, None).unwrap();
    assert!(
        refreshed && stats.full_parse,
        "a cold cache is filled by a full parse"
    );
    cache
}

/// Same outcome as the full parser: equal fleets, or the same first error text.
fn same_as_full(text: &str) -> git_fleet::fleet::incremental::Stats {
    let mut cache = warm();
    let fast = parse_with_cache("fleet.yaml", text.as_bytes(), &mut cache, None);
    let full = parse("fleet.yaml", text.as_bytes());
    match (fast, full) {
        (Ok((fast, stats, _)), Ok(full)) => {
            assert_eq!(fast.fleet, full.fleet);
            stats
        }
        (Err(a), Err(b)) => {
            assert_eq!(a.to_string(), b.to_string());
            Default::default()
        }
        (a, b) => panic!(
            "fast path and full parser disagree: {:?} vs {:?}",
            a.map(|x| x.1),
            b.map(|_| ())
        ),
    }
}

#[test]
fn an_edit_reparses_only_the_changed_resource() {
    let stats = same_as_full(&BASE.replace("max_connections: 200", "max_connections: 250"));
    assert!(!stats.full_parse);
    assert_eq!(stats.parsed, 1);
    assert_eq!(stats.reused, stats.chunks - 1);
}

#[test]
fn added_and_removed_resources() {
    let added = BASE.replace(
        "  db-01:postgres: {enabled: true}\n",
        "  db-01:postgres: {enabled: true}\n  db-02:postgres: {enabled: true, priority: 10}\n",
    );
    let stats = same_as_full(&added);
    assert!(!stats.full_parse);
    let removed = BASE.replace("  app-01:tls: {enabled: true}\n", "");
    assert!(!same_as_full(&removed).full_parse);
}

#[test]
fn errors_in_an_edited_resource_match_the_full_parser() {
    for bad in [
        BASE.replace(
            "  db-01:postgres: {enabled: true}",
            "  db-01:mysql: {enabled: true}",
        ),
        BASE.replace(
            "      max_connections: 200",
            "      max_connections: 200\n      max_connections: 300",
        ),
        BASE.replace("    priority: 60", "    priority: 600"),
        BASE.replace("    priority: 60", "    priority: sixty"),
        BASE.replace(
            "  hetzner: {region: fsn1, note: informational only}",
            "  hetzner: {region: fsn1, api_token: x}",
        ),
    ] {
        let mut cache = warm();
        let fast = parse_with_cache("fleet.yaml", bad.as_bytes(), &mut cache, None)
            .map(|_| ())
            .unwrap_err();
        let full = parse("fleet.yaml", bad.as_bytes()).map(|_| ()).unwrap_err();
        assert_eq!(fast.to_string(), full.to_string());
        assert!(fast.to_string().starts_with("fleet.yaml:"), "{fast}");
    }
}

#[test]
fn a_resource_declared_twice_is_refused_even_when_both_copies_are_cached() {
    let twice = BASE.replace(
        "  db-01:postgres: {enabled: true}\n",
        "  db-01:postgres: {enabled: true}\n  db-01:postgres: {enabled: true}\n",
    );
    let mut cache = warm();
    let err = parse_with_cache("fleet.yaml", twice.as_bytes(), &mut cache, None)
        .map(|_| ())
        .unwrap_err();
    assert!(err.to_string().contains("duplicate key"), "{err}");
    assert!(err.to_string().starts_with("fleet.yaml:42:"), "{err}");
}

#[test]
fn removing_a_referenced_module_is_caught() {
    let text = BASE.replace(
        "  postgres:\n    name: postgres\n    priority: 50\n    variety: config\n    config:\n      max_connections: 200\n",
        "",
    );
    assert_ne!(text, BASE);
    let mut cache = warm();
    let err = parse_with_cache("fleet.yaml", text.as_bytes(), &mut cache, None)
        .map(|_| ())
        .unwrap_err();
    assert!(
        err.to_string().contains("undefined module 'postgres'"),
        "{err}"
    );
}

#[test]
fn unusual_yaml_takes_the_full_parser() {
    let anchored = BASE.replace("  tls:\n", "  tls: &t\n");
    let mut cache = warm();
    let result = parse_with_cache("fleet.yaml", anchored.as_bytes(), &mut cache, None);
    assert_eq!(
        result.is_ok(),
        parse("fleet.yaml", anchored.as_bytes()).is_ok()
    );
    if let Ok((_, stats, _)) = result {
        assert!(stats.full_parse);
    }
    let flow_top = "modules: {m: {priority: 1}}\n";
    let (_, stats, _) =
        parse_with_cache("fleet.yaml", flow_top.as_bytes(), &mut warm(), None).unwrap();
    assert!(stats.full_parse);
}

#[test]
fn a_lent_equal_fleet_gives_the_same_result() {
    use git_fleet::fleet::incremental::Lent;
    let base = parse("fleet.yaml", BASE.as_bytes()).unwrap().fleet;
    let blob = git_fleet::live::json_blob_id(&base).unwrap().to_string();
    let edited = BASE.replace("max_connections: 200", "max_connections: 250");
    let mut cache = warm();
    let lent = Lent {
        fleet: &base,
        json_blob: blob,
    };
    let (fast, stats, _) =
        parse_with_cache("fleet.yaml", edited.as_bytes(), &mut cache, Some(lent)).unwrap();
    assert!(!stats.full_parse);
    assert_eq!(
        fast.fleet,
        parse("fleet.yaml", edited.as_bytes()).unwrap().fleet
    );
    // A lent fleet that is not the cached one is not used.
    let other = parse("fleet.yaml", edited.as_bytes()).unwrap().fleet;
    let wrong = Lent {
        fleet: &other,
        json_blob: "0".repeat(40),
    };
    let (again, _, _) =
        parse_with_cache("fleet.yaml", BASE.as_bytes(), &mut warm(), Some(wrong)).unwrap();
    assert_eq!(again.fleet, base);
}
