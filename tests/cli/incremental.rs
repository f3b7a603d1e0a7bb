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

// `git fleet diff` of the work tree, end to end: with a warm parse cache
// (filled by `snapshot`) it may answer from the cache alone; the output must
// be byte for byte the full parser's (`GIT_FLEET_NO_CACHE=1`), and a damaged
// or unusable cache must never show in it.

use crate::common::{bin, TestEnv};
use std::path::{Path, PathBuf};

/// 6 modules, `nodes` nodes with 3 assignments each (some overridden,
/// reprioritised, disabled), 2 templates, 1 provider config; without module
/// `skip` and its assignments when given.
fn gen_fleet(nodes: usize, skip: Option<usize>) -> String {
    let mut s = String::from("templates:\n");
    for t in ["web", "db"] {
        s += &format!("  {t}:\n    name: {t}\n    description: {t} nodes\n");
    }
    s += "\nmodules:\n";
    for i in (0..6).filter(|i| Some(*i) != skip) {
        s += &format!(
            "  m{i}:\n    name: m{i}\n    priority: {}\n    variety: config\n    config:\n      k_{i}_a: {i}\n      shared: m{i}\n      port: {}\n",
            40 + i * 5,
            8000 + i
        );
    }
    s += "\nassignments:\n";
    for n in 0..nodes {
        for j in 0..3 {
            let m = (n + j) % 6;
            if Some(m) == skip {
                continue;
            }
            let key = format!("node-{n:02}:m{m}");
            if n % 11 == 3 && j == 1 {
                s += &format!("  {key}: {{enabled: false}}\n");
            } else if n % 5 == 0 && j == 0 {
                s += &format!("  {key}:\n    enabled: true\n    config:\n      shared: own-{n}\n");
            } else if n % 7 == 0 {
                s += &format!("  {key}: {{enabled: true, priority: {}}}\n", 90 - j);
            } else {
                s += &format!("  {key}: {{enabled: true}}\n");
            }
        }
    }
    s += "\nprovider_configs:\n  hetzner: {region: fsn1}\n";
    s
}

/// A repository whose work tree's fleet.yaml is `base`, recorded as the
/// live snapshot of `staging` (which fills the parse cache).
fn recorded(env: &TestEnv, base: &str) -> PathBuf {
    let repo = env.repo("work");
    std::fs::write(repo.join("fleet.yaml"), base).unwrap();
    env.git(&repo, &["add", "fleet.yaml"]);
    env.git(&repo, &["commit", "-q", "-m", "fleet"]);
    let run = env.fleet(&repo, &["snapshot", "staging", "--from", "fleet.yaml"]);
    assert_eq!(run.code, 0, "snapshot: {}", run.stderr);
    assert!(cache_file(&repo).exists(), "snapshot fills the parse cache");
    repo
}

fn cache_file(repo: &Path) -> PathBuf {
    repo.join(".git/fleet/cache/parse-v1.json")
}

/// (exit code, stdout, stderr) of `git fleet ARGS`, with or without the cache.
fn run(env: &TestEnv, repo: &Path, args: &[&str], cache: bool) -> (i32, String, String) {
    let mut cmd = env.command(bin(), repo);
    if !cache {
        cmd.env("GIT_FLEET_NO_CACHE", "1");
    }
    let out = cmd.args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every diff form, warm cache vs full parse: the same bytes and exit code.
fn same_diff(env: &TestEnv, repo: &Path, what: &str) {
    for args in [
        &["diff", "staging"][..],
        &["diff", "staging", "--json"],
        &["diff", "staging", "--stat", "--exit-code"],
        &["diff", "staging", "--show-ignored", "--json"],
        &["diff", "staging", "--file", "fleet.yaml"],
        &["diff", "staging", "--rev", "HEAD", "--json"],
    ] {
        let full = run(env, repo, args, false);
        let warm = run(env, repo, args, true);
        assert_eq!(warm, full, "{what}: `git fleet {}` differs", args.join(" "));
    }
}

#[test]
fn diff_with_a_warm_cache_prints_what_a_full_parse_prints() {
    let env = TestEnv::new();
    let base = gen_fleet(30, None);
    let repo = recorded(&env, &base);
    let edits: Vec<(&str, String)> = vec![
        ("no change", base.clone()),
        ("a module value (fans out)", base.replace("shared: m2\n", "shared: m2-new\n")),
        ("a module priority", base.replace("priority: 50\n", "priority: 95\n")),
        (
            "assignments changed, added, removed",
            base.replace("  node-04:m4: {enabled: true}\n", "  node-04:m4: {enabled: false}\n")
                .replace("  node-08:m9", "")
                .replace("  node-12:m1: {enabled: true}\n", "")
                .replace(
                    "\nprovider_configs:",
                    "  node-40:m0: {enabled: true, priority: 3}\n\nprovider_configs:",
                ),
        ),
        ("a template", base.replace("description: db nodes", "description: database")),
        (
            "a module added and assigned",
            base.replace(
                "\nassignments:\n",
                "  m6:\n    name: m6\n    priority: 99\n    config:\n      shared: m6\n\nassignments:\n  node-01:m6: {enabled: true}\n",
            ),
        ),
        ("a module removed with its assignments", gen_fleet(30, Some(5))),
        (
            "the same assignment twice",
            base.replace(
                "\nprovider_configs:",
                "  node-02:m2: {enabled: true}\n\nprovider_configs:",
            ),
        ),
        (
            "an assignment declared again, changed",
            base.replace(
                "\nprovider_configs:",
                "  node-02:m2: {enabled: false}\n\nprovider_configs:",
            ),
        ),
        (
            "a provider config declared again",
            base.replace("  hetzner: {region: fsn1}\n", "  hetzner: {region: fsn1}\n  hetzner: {region: nbg1}\n"),
        ),
        ("an undefined module", base.replace("node-03:m3: {enabled: true}", "node-03:m7: {enabled: true}")),
        ("a value that is a secret", base.replace("hetzner: {region: fsn1}", "hetzner: {token: abc}")),
    ];
    for (what, text) in &edits {
        if *what != "no change" {
            assert_ne!(text, &base, "{what}: the edit must change the file");
        }
        std::fs::write(repo.join("fleet.yaml"), text).unwrap();
        same_diff(&env, &repo, what);
    }
}

#[test]
fn a_damaged_or_unusable_parse_cache_never_shows_in_a_diff() {
    let env = TestEnv::new();
    let base = gen_fleet(30, None);
    let repo = recorded(&env, &base);
    std::fs::write(
        repo.join("fleet.yaml"),
        base.replace("shared: m2\n", "shared: m2-new\n"),
    )
    .unwrap();
    let expected = run(&env, &repo, &["diff", "staging"], false);
    assert!(
        expected.1.contains("\"m2\" -> \"m2-new\""),
        "{}",
        expected.1
    );
    let cache = cache_file(&repo);
    let good = std::fs::read(&cache).unwrap();
    let text = String::from_utf8(good.clone()).unwrap();
    // Same length, so every recorded place in the JSON still fits: only a
    // checksum tells this cache from a good one.
    let flipped = text.replacen("\"shared\":\"m2\"", "\"shared\":\"q2\"", 1);
    assert_ne!(flipped, text, "the cache holds the module's JSON");
    let damaged: Vec<(&str, Vec<u8>)> = vec![
        ("a value changed in the JSON", flipped.clone().into_bytes()),
        (
            "a place changed in the table",
            text.replacen(" m ", " m 1", 1).into_bytes(),
        ),
        ("cut short", good[..good.len() * 2 / 3].to_vec()),
        ("garbage", b"git-fleet parse cache v8\nblob x\n\n{".to_vec()),
        ("empty", Vec::new()),
    ];
    for (what, bytes) in damaged {
        std::fs::write(&cache, &bytes).unwrap();
        assert_eq!(
            run(&env, &repo, &["diff", "staging"], true),
            expected,
            "cache {what}"
        );
    }
    // Unusable: the cache's place is taken by a directory (unreadable,
    // unwritable): diff still answers, right.
    std::fs::remove_file(&cache).unwrap();
    std::fs::create_dir(&cache).unwrap();
    assert_eq!(run(&env, &repo, &["diff", "staging"], true), expected);
    std::fs::remove_dir(&cache).unwrap();
    // A good cache again: the same answer.
    std::fs::write(&cache, &good).unwrap();
    assert_eq!(run(&env, &repo, &["diff", "staging"], true), expected);
}

#[test]
fn the_cached_json_is_byte_for_byte_a_snapshots_fleet_json() {
    // The cache is found by the snapshot's fleet.json blob id: the same bytes.
    let generated = gen_fleet(12, None);
    for text in [BASE, generated.as_str(), "templates: {}\n"] {
        let fleet = parse("fleet.yaml", text.as_bytes()).unwrap().fleet;
        let (json, spans) = git_fleet::fleet::incremental::encode_fleet(&fleet);
        assert_eq!(
            String::from_utf8(json.clone()).unwrap(),
            serde_json::to_string(&fleet).unwrap()
        );
        assert_eq!(
            spans.len(),
            fleet.assignments.len()
                + fleet.modules.len()
                + fleet.templates.len()
                + fleet.provider_configs.len()
        );
        for ((_, key), (from, to)) in &spans {
            let member = std::str::from_utf8(&json[*from..*to]).unwrap();
            assert!(
                member.starts_with(&format!("{}:", serde_json::to_string(key).unwrap())),
                "{member}"
            );
        }
    }
}
