//! Three clones and one bare remote record things concurrently, then sync in
//! random order until quiet: every clone has every record, receipts verify in
//! each, and a conflicting apply/reject is reported.

use crate::common;
use common::{bin, TestEnv};
use std::path::{Path, PathBuf};

const FLEET: &str =
    "modules:\n  m1:\n    config: {workers: 1}\nassignments:\n  n1:m1: {enabled: true}\n";

fn fleet_with(workers: u32) -> String {
    FLEET.replace("workers: 1", &format!("workers: {workers}"))
}

struct World {
    env: TestEnv,
    clones: Vec<PathBuf>,
}

fn world() -> World {
    let env = TestEnv::new();
    let (origin, seed) =
        env.seeded_origin(&[("fleet.yaml", FLEET), ("fleet.toml", "[targets.staging]\n")]);
    assert_eq!(env.fleet(&seed, &["snapshot", "staging"]).code, 0);
    assert_eq!(env.fleet(&seed, &["sync"]).code, 0);
    let clones = (0..3)
        .map(|i| {
            let path = env.clone_of(&origin, &format!("clone{i}"));
            let s = env.fleet(&path, &["sync"]);
            assert_eq!(s.code, 0, "{}", s.stderr);
            path
        })
        .collect();
    World { env, clones }
}

fn all_refs(env: &TestEnv, repo: &Path) -> String {
    env.refs(repo)
        .lines()
        .filter(|l| l.starts_with("refs/fleet/") || l.starts_with("refs/notes/fleet/"))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn sync_until_quiet(w: &World) {
    let mut seed: u64 = 0x2545F4914F6CDD1D;
    for round in 0..12 {
        let mut order: Vec<usize> = (0..w.clones.len()).collect();
        for i in (1..order.len()).rev() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            order.swap(i, (seed % (i as u64 + 1)) as usize);
        }
        for &i in &order {
            let s = w.env.fleet(&w.clones[i], &["sync", "--json"]);
            assert!(s.code <= 1, "round {round}, clone {i}: {}", s.stderr);
        }
        let views: Vec<String> = w.clones.iter().map(|c| all_refs(&w.env, c)).collect();
        if views.windows(2).all(|v| v[0] == v[1]) {
            return;
        }
    }
    panic!("clones did not converge");
}

#[test]
fn concurrent_records_in_three_clones_converge_without_loss() {
    let w = world();
    // Each clone records concurrently: a snapshot, a reconcile + approve + apply,
    // a halt/resume receipt, and fanout notes.
    std::thread::scope(|scope| {
        for (i, clone) in w.clones.iter().enumerate() {
            let env = &w.env;
            scope.spawn(move || {
                let head = env.git(clone, &["rev-parse", "HEAD"]).trim().to_string();
                for k in 0..3 {
                    let r = env.fleet(
                        clone,
                        &[
                            "notes",
                            "append",
                            "--ref",
                            "fanout",
                            &head,
                            "-m",
                            &format!("Fleet-Peer: clone{i}-{k}"),
                        ],
                    );
                    assert_eq!(r.code, 0, "{}", r.stderr);
                }
                let s = env.fleet_stdin(
                    clone,
                    &[
                        "snapshot",
                        "staging",
                        "--from",
                        "-",
                        "-m",
                        &format!("clone{i}"),
                    ],
                    fleet_with(10 + i as u32).as_bytes(),
                );
                assert_eq!(s.code, 0, "{}", s.stderr);
                assert_eq!(
                    env.fleet(clone, &["halt", "--reason", &format!("clone{i}")])
                        .code,
                    0
                );
                assert_eq!(env.fleet(clone, &["resume"]).code, 0);
                let _ = env.fleet(clone, &["reconcile", "staging"]);
                let pending =
                    env.fleet(clone, &["proposals", "--state", "pending_review", "--json"]);
                let v: serde_json::Value = serde_json::from_str(&pending.stdout).unwrap();
                if let Some(id) = v["proposals"][0]["id"].as_str() {
                    let a = env.fleet(clone, &["approve", id, "--reason", &format!("clone{i}")]);
                    assert_eq!(a.code, 0, "{}", a.stderr);
                }
            });
        }
    });
    // What each clone wrote, to find everywhere afterwards.
    let mut receipts_expected = Vec::new();
    let mut snapshots_expected = Vec::new();
    for c in &w.clones {
        let log = w
            .env
            .git(c, &["log", "--format=%H", "refs/notes/fleet/receipts"]);
        receipts_expected.extend(log.lines().map(str::to_string));
        let snaps = w
            .env
            .git(c, &["log", "--format=%H", "refs/fleet/live/staging"]);
        snapshots_expected.extend(snaps.lines().map(str::to_string));
    }
    sync_until_quiet(&w);
    // Every approval made anywhere is in every clone's proposals.
    let approvals = |c: &Path| {
        let v: serde_json::Value =
            serde_json::from_str(&w.env.fleet(c, &["proposals", "--json"]).stdout).unwrap();
        let mut reasons: Vec<String> = v["proposals"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["transitions"].as_array().unwrap().clone())
            .filter(|t| t["state"] == "approved")
            .filter_map(|t| t["reason"].as_str().map(str::to_string))
            .collect();
        reasons.sort();
        reasons
    };
    let first = approvals(&w.clones[0]);
    assert!(!first.is_empty(), "the scenario recorded approvals");
    for c in &w.clones {
        assert_eq!(approvals(c), first, "approvals differ in {}", c.display());
    }
    for c in &w.clones {
        let fanout = w
            .env
            .git(c, &["notes", "--ref=fleet/fanout", "show", "HEAD"]);
        for i in 0..3 {
            for k in 0..3 {
                assert!(
                    fanout.contains(&format!("Fleet-Peer: clone{i}-{k}")),
                    "clone lost a fanout block: {fanout}"
                );
            }
        }
        let receipts = w
            .env
            .git(c, &["log", "--format=%H", "refs/notes/fleet/receipts"]);
        for r in &receipts_expected {
            assert!(
                receipts.contains(r.as_str()),
                "receipt log commit {r} missing in {}",
                c.display()
            );
        }
        let snaps = w
            .env
            .git(c, &["log", "--format=%H", "refs/fleet/live/staging"]);
        for s in &snapshots_expected {
            assert!(
                snaps.contains(s.as_str()),
                "snapshot {s} missing in {}",
                c.display()
            );
        }
        let verify = w.env.fleet(c, &["receipts", "verify"]);
        assert_eq!(
            verify.code,
            0,
            "receipts verify in {}: {}{}",
            c.display(),
            verify.stdout,
            verify.stderr
        );
        w.env.git(c, &["fsck", "--no-progress"]);
    }
}

#[test]
fn an_apply_on_one_side_and_a_reject_on_the_other_is_reported() {
    let w = world();
    let (a, b) = (&w.clones[0], &w.clones[1]);
    std::fs::write(a.join("fleet.yaml"), fleet_with(5)).unwrap();
    w.env.git(a, &["commit", "-q", "-am", "workers 5"]);
    w.env.git(a, &["push", "-q", "origin", "main"]);
    assert_eq!(w.env.fleet(a, &["reconcile", "staging"]).code, 1);
    assert_eq!(w.env.fleet(a, &["sync"]).code, 0);
    w.env.git(b, &["pull", "-q", "origin", "main"]);
    assert_eq!(w.env.fleet(b, &["sync"]).code, 0);
    let props: serde_json::Value =
        serde_json::from_str(&w.env.fleet(a, &["proposals", "--json"]).stdout).unwrap();
    let id = props["proposals"][0]["id"].as_str().unwrap().to_string();
    // A applies, B rejects, concurrently and unaware of each other.
    assert_eq!(w.env.fleet(a, &["approve", &id]).code, 0);
    assert_eq!(w.env.fleet(a, &["apply", &id]).code, 0);
    assert_eq!(
        w.env.fleet(b, &["reject", &id, "--reason", "not now"]).code,
        0
    );
    assert_eq!(w.env.fleet(a, &["sync"]).code, 0);
    let out = w.env.fleet(b, &["sync", "--json"]);
    assert_eq!(
        out.code, 1,
        "a conflict is something to see: {}",
        out.stdout
    );
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let conflicts = v["sync"]["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 1, "{v}");
    assert!(conflicts[0].as_str().unwrap().contains(&id[..12]));
    // Both decisions are kept in the merged proposal's history.
    let shown: serde_json::Value =
        serde_json::from_str(&w.env.fleet(b, &["show", &id, "--json"]).stdout).unwrap();
    let states: Vec<&str> = shown["proposal"]["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect();
    assert!(
        states.contains(&"applied") && states.contains(&"rejected"),
        "{states:?}"
    );
    assert_eq!(w.env.fleet(b, &["receipts", "verify"]).code, 0);
    let _ = bin();
}

fn origin(w: &World) -> PathBuf {
    w.env.root().join("origin.git")
}

/// Append one receipt in `clone`; returns its id.
fn receipt(env: &TestEnv, clone: &Path, note: &str) -> String {
    let r = env.fleet(
        clone,
        &[
            "receipts",
            "append",
            "--action",
            "test",
            "--commit",
            "HEAD",
            "--trailer",
            &format!("Note={note}"),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.stdout.trim().to_string()
}

/// Receipt ids `git fleet receipts --json` lists in `clone`.
fn listed(env: &TestEnv, clone: &Path) -> Vec<String> {
    let r = env.fleet(clone, &["receipts", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    v["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

fn fleet_refs_of(env: &TestEnv, repo: &Path) -> Vec<String> {
    all_refs(env, repo)
        .lines()
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect()
}

/// Every update origin's reflog recorded for `name` is a fast-forward.
fn assert_only_fast_forwards(env: &TestEnv, repo: &Path, name: &str) {
    let log = env.git(repo, &["reflog", "show", "--format=%H", name, "--"]);
    let values: Vec<&str> = log.lines().collect(); // newest first
    for pair in values.windows(2) {
        let (newer, older) = (pair[0], pair[1]);
        let ok = env
            .command("git", repo)
            .args(["merge-base", "--is-ancestor", older, newer])
            .status()
            .unwrap()
            .success();
        assert!(
            ok,
            "{name} on origin moved from {older} to {newer}, not a fast-forward"
        );
    }
}

#[test]
fn concurrent_syncs_only_fast_forward_origin_and_lose_no_receipt() {
    let w = world();
    let origin = origin(&w);
    w.env
        .git(&origin, &["config", "core.logAllRefUpdates", "always"]);
    let ids: Vec<Vec<String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = w
            .clones
            .iter()
            .enumerate()
            .map(|(i, clone)| {
                let env = &w.env;
                scope.spawn(move || {
                    let mut ids = Vec::new();
                    for k in 0..6 {
                        ids.push(receipt(env, clone, &format!("clone{i}-{k}")));
                        let s = env.fleet(clone, &["sync"]);
                        assert_eq!(s.code, 0, "clone{i} sync {k}: {}{}", s.stdout, s.stderr);
                    }
                    ids
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for name in fleet_refs_of(&w.env, &origin) {
        assert_only_fast_forwards(&w.env, &origin, &name);
    }
    // Origin holds every receipt as soon as each sync returned.
    let log = w.env.git(
        &origin,
        &["log", "--format=%B", "refs/notes/fleet/receipts"],
    );
    for id in ids.iter().flatten() {
        assert!(
            log.contains(&format!("Fleet-Receipt: {id}")),
            "receipt {id} is missing on origin"
        );
    }
    sync_until_quiet(&w);
    for c in &w.clones {
        let have = listed(&w.env, c);
        for id in ids.iter().flatten() {
            assert!(have.contains(id), "{} does not list {id}", c.display());
        }
        assert_eq!(w.env.fleet(c, &["receipts", "verify"]).code, 0);
    }
    for name in fleet_refs_of(&w.env, &origin) {
        assert_only_fast_forwards(&w.env, &origin, &name);
    }
}

#[test]
fn a_push_the_remote_refuses_is_reported_not_retried() {
    let w = world();
    let origin = origin(&w);
    let hook = origin.join("hooks/pre-receive");
    let count = w.env.root().join("hook-calls");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\necho call >> '{}'\necho 'W refs/fleet/live/staging clone0 DENIED by fallthru' >&2\nexit 1\n",
            count.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let c = &w.clones[0];
    receipt(&w.env, c, "denied");
    let before = all_refs(&w.env, &origin);
    let s = w.env.fleet(c, &["sync"]);
    assert_eq!(s.code, 2, "{}{}", s.stdout, s.stderr);
    assert!(s.stderr.contains("DENIED by fallthru"), "{}", s.stderr);
    assert!(s.stderr.contains("refused"), "{}", s.stderr);
    assert!(!s.stderr.contains("kept moving"), "{}", s.stderr);
    assert_eq!(
        std::fs::read_to_string(&count).unwrap().lines().count(),
        1,
        "a refused push is not retried"
    );
    assert_eq!(all_refs(&w.env, &origin), before);
    let j = w.env.fleet(c, &["sync", "--json"]);
    assert_eq!(j.code, 2);
    let v: serde_json::Value = serde_json::from_str(j.stdout.trim())
        .unwrap_or_else(|e| panic!("sync --json printed no JSON ({e}): {:?}", j.stdout));
    assert_eq!(v["version"], 1, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("DENIED"),
        "{v}"
    );
}

#[test]
fn receipts_lists_every_receipt_after_a_sync_both_ways() {
    let w = world();
    let (a, b) = (&w.clones[0], &w.clones[1]);
    let mut ids = Vec::new();
    for k in 0..3 {
        ids.push(receipt(&w.env, a, &format!("a{k}")));
        ids.push(receipt(&w.env, b, &format!("b{k}")));
    }
    for c in [a, b, a] {
        let s = w.env.fleet(c, &["sync"]);
        assert_eq!(s.code, 0, "{}", s.stderr);
    }
    for c in [a, b] {
        let have = listed(&w.env, c);
        for id in &ids {
            assert!(
                have.contains(id),
                "{} lists {have:?}, not {id}",
                c.display()
            );
        }
        let shown = w.env.fleet(c, &["receipts", "show", "HEAD"]);
        assert!(
            !shown.stdout.contains("not in the receipt log"),
            "{}",
            shown.stdout
        );
    }
    assert_eq!(listed(&w.env, a), listed(&w.env, b));
}

#[test]
fn a_remote_receipt_log_moved_back_is_refused() {
    let w = world();
    let origin = origin(&w);
    let c = &w.clones[0];
    receipt(&w.env, c, "one");
    assert_eq!(w.env.fleet(c, &["sync"]).code, 0);
    let old = w
        .env
        .git(&origin, &["rev-parse", "refs/notes/fleet/receipts"])
        .trim()
        .to_string();
    receipt(&w.env, c, "two");
    let kept = receipt(&w.env, c, "three");
    assert_eq!(w.env.fleet(c, &["sync"]).code, 0);
    // Someone moves origin's log back.
    w.env
        .git(&origin, &["update-ref", "refs/notes/fleet/receipts", &old]);
    let local = w
        .env
        .git(c, &["rev-parse", "refs/notes/fleet/receipts"])
        .trim()
        .to_string();
    let s = w.env.fleet(c, &["sync"]);
    assert_eq!(s.code, 1, "{}{}", s.stdout, s.stderr);
    let said = format!("{}{}", s.stdout, s.stderr);
    assert!(said.contains("refs/notes/fleet/receipts"), "{said}");
    assert!(said.contains("moved back"), "{said}");
    // Nothing lost locally, nothing pushed over it silently.
    assert_eq!(
        w.env
            .git(c, &["rev-parse", "refs/notes/fleet/receipts"])
            .trim(),
        local
    );
    assert_eq!(
        w.env
            .git(&origin, &["rev-parse", "refs/notes/fleet/receipts"])
            .trim(),
        old
    );
    assert!(listed(&w.env, c).contains(&kept));
    // Asked again, it still refuses: the rewind is not forgotten.
    assert_eq!(w.env.fleet(c, &["sync"]).code, 1);
    let j = w.env.fleet(c, &["sync", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&j.stdout).unwrap();
    assert_eq!(v["sync"]["rewound"][0]["ref"], "refs/notes/fleet/receipts");
}

fn state_of(env: &TestEnv, clone: &Path, id: &str) -> String {
    let v: serde_json::Value =
        serde_json::from_str(&env.fleet(clone, &["proposals", "--json"]).stdout).unwrap();
    v["proposals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id)
        .map(|p| p["state"].as_str().unwrap().to_string())
        .unwrap()
}

/// One proposal opened in A and synced to B.
fn shared_proposal(w: &World, workers: u32) -> String {
    let (a, b) = (&w.clones[0], &w.clones[1]);
    std::fs::write(a.join("fleet.yaml"), fleet_with(workers)).unwrap();
    w.env
        .git(a, &["commit", "-q", "-am", &format!("workers {workers}")]);
    w.env.git(a, &["push", "-q", "origin", "main"]);
    assert_eq!(w.env.fleet(a, &["reconcile", "staging"]).code, 1);
    assert_eq!(w.env.fleet(a, &["sync"]).code, 0);
    w.env.git(b, &["pull", "-q", "origin", "main"]);
    assert_eq!(w.env.fleet(b, &["sync"]).code, 0);
    let props: serde_json::Value =
        serde_json::from_str(&w.env.fleet(a, &["proposals", "--json"]).stdout).unwrap();
    props["proposals"][0]["id"].as_str().unwrap().to_string()
}

#[test]
fn decisions_neither_side_saw_are_a_conflict_until_decided_again() {
    for other in ["reject", "ignore"] {
        let w = world();
        let (a, b) = (&w.clones[0], &w.clones[1]);
        let id = shared_proposal(&w, 5);
        // Approved in A, rejected (ignored) in B, neither seeing the other;
        // B decides later by the clock, which must not matter.
        assert_eq!(w.env.fleet(a, &["approve", &id]).code, 0);
        let d = w.env.fleet(b, &[other, &id, "--reason", "not now"]);
        assert_eq!(d.code, 0, "{}", d.stderr);
        assert_eq!(w.env.fleet(a, &["sync"]).code, 0);
        let s = w.env.fleet(b, &["sync", "--json"]);
        assert_eq!(s.code, 1, "{}{}", s.stdout, s.stderr);
        let v: serde_json::Value = serde_json::from_str(&s.stdout).unwrap();
        let conflicts = v["sync"]["conflicts"].as_array().unwrap();
        assert!(
            conflicts
                .iter()
                .any(|c| c.as_str().unwrap().contains(&id[..12])),
            "{v}"
        );
        assert_eq!(state_of(&w.env, b, &id), "conflict");
        // A receives the conflict by fast-forward: reported there too, once.
        let s = w.env.fleet(a, &["sync"]);
        assert_eq!(s.code, 1, "{}{}", s.stdout, s.stderr);
        assert!(s.stdout.contains(&id[..12]), "{}", s.stdout);
        assert_eq!(state_of(&w.env, a, &id), "conflict");
        assert_eq!(w.env.fleet(a, &["sync"]).code, 0);
        // Neither clone applies it: not by id, not with --approved.
        let live = w.env.git(a, &["rev-parse", "refs/fleet/live/staging"]);
        for c in [a, b] {
            let r = w.env.fleet(c, &["apply", &id]);
            assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
            assert!(r.stdout.contains("conflict"), "{}", r.stdout);
            let r = w.env.fleet(c, &["apply", "--approved", "--json"]);
            let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
            assert!(v["outcomes"].as_array().unwrap().is_empty(), "{v}");
        }
        assert_eq!(
            w.env.git(a, &["rev-parse", "refs/fleet/live/staging"]),
            live
        );
        // A decision made after seeing both resolves it.
        assert_eq!(w.env.fleet(a, &["approve", &id]).code, 0);
        assert_eq!(state_of(&w.env, a, &id), "approved");
        assert_eq!(w.env.fleet(a, &["sync"]).code, 0);
        assert_eq!(w.env.fleet(b, &["sync"]).code, 0);
        assert_eq!(state_of(&w.env, b, &id), "approved");
        let r = w.env.fleet(b, &["apply", &id]);
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    }
}

#[test]
fn the_same_decision_in_two_clones_is_no_conflict() {
    let w = world();
    let (a, b) = (&w.clones[0], &w.clones[1]);
    let id = shared_proposal(&w, 6);
    assert_eq!(w.env.fleet(a, &["approve", &id]).code, 0);
    assert_eq!(w.env.fleet(b, &["approve", &id]).code, 0);
    assert_eq!(w.env.fleet(b, &["apply", &id]).code, 0);
    assert_eq!(w.env.fleet(a, &["sync"]).code, 0);
    let s = w.env.fleet(b, &["sync"]);
    assert_eq!(s.code, 0, "{}{}", s.stdout, s.stderr);
    assert_eq!(state_of(&w.env, b, &id), "applied");
}

/// The live state `clone` has recorded for staging, as JSON.
fn live_json(env: &TestEnv, clone: &Path) -> serde_json::Value {
    serde_json::from_str(&env.git(clone, &["show", "refs/fleet/live/staging:fleet.json"])).unwrap()
}

/// Change desired in `clone`, reconcile, approve and apply what it proposes.
fn apply_desired(env: &TestEnv, clone: &Path, yaml: &str) {
    // Only pushed content goes live: merge what origin has (keeping this
    // clone's desired file as it is) and push before reconciling.
    env.git(
        clone,
        &["pull", "-q", "--no-rebase", "--no-edit", "origin", "main"],
    );
    std::fs::write(clone.join("fleet.yaml"), yaml).unwrap();
    env.git(clone, &["commit", "-q", "-am", "desired"]);
    env.git(clone, &["push", "-q", "origin", "HEAD:main"]);
    assert_eq!(env.fleet(clone, &["reconcile", "staging"]).code, 1);
    let v: serde_json::Value = serde_json::from_str(
        &env.fleet(clone, &["proposals", "--state", "pending_review", "--json"])
            .stdout,
    )
    .unwrap();
    for p in v["proposals"].as_array().unwrap() {
        let id = p["id"].as_str().unwrap();
        assert_eq!(env.fleet(clone, &["approve", id]).code, 0);
        let a = env.fleet(clone, &["apply", id]);
        assert_eq!(a.code, 0, "{}{}", a.stdout, a.stderr);
    }
}

#[test]
fn live_changes_to_different_resources_in_two_clones_are_both_kept() {
    let w = world();
    let (a, b) = (&w.clones[0], &w.clones[1]);
    apply_desired(&w.env, a, &fleet_with(5));
    apply_desired(&w.env, b, &format!("{FLEET}  n2:m1: {{enabled: false}}\n"));
    for c in [a, b, a] {
        let s = w.env.fleet(c, &["sync"]);
        assert_eq!(s.code, 0, "{}{}", s.stdout, s.stderr);
    }
    for c in [a, b] {
        let live = live_json(&w.env, c);
        assert_eq!(live["modules"]["m1"]["config"]["workers"], 5, "{live}");
        assert_eq!(live["assignments"]["n2:m1"]["enabled"], false, "{live}");
        assert_eq!(live["assignments"]["n1:m1"]["enabled"], true, "{live}");
    }
    // Nothing left to propose: every applied change is live everywhere.
    assert_eq!(live_json(&w.env, a), live_json(&w.env, b), "clones agree");
}

#[test]
fn one_resource_changed_both_ways_is_a_conflict_that_holds_auto_apply() {
    let w = world();
    let (a, b) = (&w.clones[0], &w.clones[1]);
    for (c, n) in [(a, 5), (b, 7)] {
        let s = w.env.fleet_stdin(
            c,
            &["snapshot", "staging", "--from", "-"],
            fleet_with(n).as_bytes(),
        );
        assert_eq!(s.code, 0, "{}", s.stderr);
    }
    let ours = w.env.git(b, &["rev-parse", "refs/fleet/live/staging"]);
    let theirs = w.env.git(a, &["rev-parse", "refs/fleet/live/staging"]);
    assert_eq!(w.env.fleet(a, &["sync"]).code, 0);
    let s = w.env.fleet(b, &["sync", "--json"]);
    assert_eq!(s.code, 1, "{}{}", s.stdout, s.stderr);
    let v: serde_json::Value = serde_json::from_str(&s.stdout).unwrap();
    let conflicts = v["sync"]["conflicts"].as_array().unwrap();
    assert!(
        conflicts.iter().any(|c| {
            let c = c.as_str().unwrap();
            c.contains("refs/fleet/live/staging") && c.contains("modules/m1")
        }),
        "{v}"
    );
    // Both states are kept in history.
    for s in [&ours, &theirs] {
        w.env.git(
            b,
            &[
                "merge-base",
                "--is-ancestor",
                s.trim(),
                "refs/fleet/live/staging",
            ],
        );
    }
    // A receives it by fast-forward and reports it too.
    let s = w.env.fleet(a, &["sync"]);
    assert_eq!(s.code, 1, "{}{}", s.stdout, s.stderr);
    assert!(s.stdout.contains("modules/m1"), "{}", s.stdout);
    // The target is held for auto-apply until resolved.
    std::fs::write(
        b.join("fleet.toml"),
        "[targets.staging]\nauto_apply = true\n",
    )
    .unwrap();
    std::fs::write(
        b.join("fleet.yaml"),
        format!("{FLEET}  n3:m1: {{enabled: true}}\n"),
    )
    .unwrap();
    w.env.git(b, &["commit", "-q", "-am", "auto"]);
    let live = w.env.git(b, &["rev-parse", "refs/fleet/live/staging"]);
    let r = w.env.fleet(b, &["reconcile", "staging", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let held = v["ticks"][0]["held"].to_string();
    assert!(held.contains("conflict"), "{v}");
    assert!(
        v["ticks"][0]["applied"].as_array().unwrap().is_empty(),
        "{v}"
    );
    assert_eq!(
        w.env.git(b, &["rev-parse", "refs/fleet/live/staging"]),
        live
    );
    // A new snapshot after the conflicted state resolves it.
    let s = w.env.fleet_stdin(
        b,
        &["snapshot", "staging", "--from", "-"],
        fleet_with(7).as_bytes(),
    );
    assert_eq!(s.code, 0, "{}", s.stderr);
    std::fs::write(
        b.join("fleet.yaml"),
        format!("{FLEET}  n4:m1: {{enabled: true}}\n").replace("workers: 1", "workers: 7"),
    )
    .unwrap();
    w.env.git(b, &["commit", "-q", "-am", "auto again"]);
    let r = w.env.fleet(b, &["reconcile", "staging", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(
        !v["ticks"][0]["applied"].as_array().unwrap().is_empty(),
        "{v}"
    );
    assert_eq!(w.env.fleet(b, &["sync"]).code, 0);
}

/// A remote added with a path relative to the work tree (as `git remote add
/// origin ../origin.git` records it) is reached as git reaches it.
#[test]
fn a_remote_with_a_relative_path_syncs() {
    let w = world();
    let clone = w.env.root().join("relative");
    w.env
        .git(w.env.root(), &["clone", "-q", "origin.git", "relative"]);
    w.env
        .git(&clone, &["remote", "set-url", "origin", "../origin.git"]);
    let s = w.env.fleet(&clone, &["sync"]);
    assert_eq!(s.code, 0, "{}{}", s.stdout, s.stderr);
    assert!(!w
        .env
        .git(&clone, &["for-each-ref", "refs/fleet/live"])
        .is_empty());
}

/// A halt in one clone and a resume in another that never saw it: the halt
/// stands and the crossing is reported, whatever the clocks say.
#[test]
fn a_resume_that_never_saw_a_halt_does_not_cancel_it() {
    let w = world();
    let (a, b) = (&w.clones[0], &w.clones[1]);
    assert_eq!(w.env.fleet(a, &["halt", "--reason", "incident"]).code, 0);
    assert_eq!(w.env.fleet(b, &["halt", "--reason", "drill"]).code, 0);
    assert_eq!(w.env.fleet(b, &["sync"]).code, 0);
    // b resumes later than a halted, without having seen a's halt.
    let mut resume = w.env.command(bin(), b);
    resume
        .args(["resume"])
        .env("GIT_COMMITTER_DATE", "2030-01-01T00:00:00Z")
        .env("GIT_AUTHOR_DATE", "2030-01-01T00:00:00Z");
    assert!(resume.output().unwrap().status.success());
    assert_eq!(w.env.fleet(b, &["sync"]).code, 0);
    let s = w.env.fleet(a, &["sync"]);
    assert_eq!(s.code, 1, "{}{}", s.stdout, s.stderr);
    assert!(s.stdout.contains("halt and a resume"), "{}", s.stdout);
    let st = w.env.git(a, &["show", "refs/fleet/halt:state"]);
    assert!(st.starts_with("halted"), "{st}");
    // A decision made after seeing both resolves it.
    assert_eq!(w.env.fleet(a, &["resume"]).code, 0);
    assert_eq!(w.env.fleet(a, &["sync"]).code, 0);
    assert_eq!(w.env.fleet(b, &["sync"]).code, 0);
    let st = w.env.git(b, &["show", "refs/fleet/halt:state"]);
    assert!(st.starts_with("running"), "{st}");
}
