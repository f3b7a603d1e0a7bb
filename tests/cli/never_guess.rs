//! Never guess (issue 9, items 9-10; issue 12.3): a fresh clone compares
//! against the recorded snapshot, missing or empty input is refused, a
//! `./fleet.yaml` path means `fleet.yaml`, fleet.toml is size-capped, and
//! `GIT_DIR`, `git --git-dir`, `git -C` and `git fleet -C` pick the repository.
//! Each test does it from the outside: real clones of a real bare origin.

use crate::common;
use common::{bin, Run, TestEnv};
use std::path::{Path, PathBuf};

const FLEET: &str =
    "modules:\n  m1:\n    config: {workers: 1}\nassignments:\n  n1:m1: {enabled: true}\n";

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", run.stdout, run.stderr))
}

/// A bare origin holding `main` (fleet.toml + fleet.yaml) and the staging
/// snapshot, pushed by a seed clone.
fn origin_with_snapshot(env: &TestEnv, toml: &str) -> PathBuf {
    let (origin, seed) = env.seeded_origin(&[("fleet.yaml", FLEET), ("fleet.toml", toml)]);
    let s = env.fleet(&seed, &["snapshot", "staging"]);
    assert_eq!(s.code, 0, "{}", s.stderr);
    let s = env.fleet(&seed, &["sync"]);
    assert_eq!(s.code, 0, "{}", s.stderr);
    origin
}

fn clone(env: &TestEnv, origin: &Path, name: &str) -> PathBuf {
    env.clone_of(origin, name)
}

/// A repository with fleet.toml `toml` and fleet.yaml committed, no snapshot.
fn work(env: &TestEnv, toml: &str) -> PathBuf {
    let repo = env.repo("work");
    std::fs::write(repo.join("fleet.yaml"), FLEET).unwrap();
    std::fs::write(repo.join("fleet.toml"), toml).unwrap();
    env.git(&repo, &["add", "."]);
    env.git(&repo, &["commit", "-q", "-m", "fleet"]);
    repo
}

#[test]
fn a_fresh_clone_diffs_against_the_fetched_snapshot_and_says_which_ref() {
    let env = TestEnv::new();
    let origin = origin_with_snapshot(&env, "[targets.staging]\n");
    let fresh = clone(&env, &origin, "fresh");
    let init = env.fleet(&fresh, &["init"]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    env.git(&fresh, &["fetch", "-q"]);
    let remote_ref = "refs/fleet-remote/origin/fleet/live/staging";
    assert!(
        env.refs(&fresh).contains(remote_ref),
        "{}",
        env.refs(&fresh)
    );
    assert!(!env.refs(&fresh).contains("refs/fleet/live/staging"));

    let d = env.fleet(&fresh, &["diff", "staging", "--exit-code"]);
    assert_eq!(
        d.code, 0,
        "desired equals the recorded snapshot: {}{}",
        d.stdout, d.stderr
    );
    assert!(d.stdout.contains("no differences"), "{}", d.stdout);
    assert!(
        d.stderr.contains(remote_ref),
        "names the ref used: {}",
        d.stderr
    );

    let j = env.fleet(&fresh, &["diff", "--json", "--exit-code"]);
    assert_eq!(j.code, 0, "{}", j.stderr);
    let v = json(&j);
    assert_eq!(v["snapshot_ref"], remote_ref, "{v}");
    assert_eq!(v["totals"]["changes"], 0, "{v}");

    // render --live reads the same snapshot.
    let r = env.fleet(&fresh, &["render", "--live", "staging", "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("n1"), "{}", r.stdout);

    // A change shows as an update against the recorded state, not a create.
    std::fs::write(
        fresh.join("fleet.yaml"),
        FLEET.replace("workers: 1", "workers: 2"),
    )
    .unwrap();
    let v = json(&env.fleet(&fresh, &["diff", "--json"]));
    assert_eq!(v["totals"]["update"], 1, "{v}");
    assert_eq!(v["totals"]["create"], 0, "{v}");
}

#[test]
fn no_snapshot_anywhere_is_an_error_unless_empty_live_is_allowed() {
    let env = TestEnv::new();
    let repo = work(&env, "[targets.staging]\n");
    let before = env.refs(&repo);

    let d = env.fleet(&repo, &["diff", "staging", "--exit-code"]);
    assert_eq!(d.code, 2, "{}{}", d.stdout, d.stderr);
    assert!(
        d.stderr.contains("no live snapshot for target staging"),
        "{}",
        d.stderr
    );
    let j = env.fleet(&repo, &["diff", "staging", "--json"]);
    assert_eq!(j.code, 2, "{}", j.stdout);

    let ok = env.fleet(&repo, &["diff", "staging", "--allow-empty-live", "--json"]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let v = json(&ok);
    assert_eq!(v["totals"]["create"], 2, "{v}");
    assert!(v["snapshot_ref"].is_null(), "{v}");

    // Proposals are never opened against a target without a snapshot.
    let r = env.fleet(&repo, &["reconcile", "staging"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("no live snapshot for target staging"),
        "{}",
        r.stderr
    );
    assert_eq!(before, env.refs(&repo), "nothing written");
}

#[test]
fn a_fresh_clone_does_not_reconcile_against_nothing() {
    let env = TestEnv::new();
    let origin = origin_with_snapshot(&env, "[targets.staging]\n");
    let fresh = clone(&env, &origin, "fresh");
    assert_eq!(env.fleet(&fresh, &["init"]).code, 0);
    env.git(&fresh, &["fetch", "-q"]);
    let before = env.refs(&fresh);
    let r = env.fleet(&fresh, &["reconcile", "staging"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("no live snapshot for target staging"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("git fleet sync"), "hint: {}", r.stderr);
    assert_eq!(before, env.refs(&fresh), "nothing written");
}

#[test]
fn an_empty_live_export_is_refused_unless_allowed() {
    let env = TestEnv::new();
    let repo = work(&env, "[targets.staging]\n");
    let before = env.refs(&repo);

    let s = env.fleet_stdin(&repo, &["snapshot", "staging", "--from", "-"], b"");
    assert_eq!(s.code, 2, "{}{}", s.stdout, s.stderr);
    assert!(
        s.stderr.contains("<stdin>") && s.stderr.contains("empty"),
        "{}",
        s.stderr
    );

    std::fs::write(repo.join("empty.yaml"), "").unwrap();
    let s = env.fleet(&repo, &["snapshot", "staging", "--from", "empty.yaml"]);
    assert_eq!(s.code, 2, "{}", s.stderr);
    assert!(
        s.stderr.contains("empty.yaml") && s.stderr.contains("empty"),
        "{}",
        s.stderr
    );

    std::fs::write(repo.join("blank.yaml"), "# nothing here\n\n").unwrap();
    let s = env.fleet(&repo, &["snapshot", "staging", "--from", "blank.yaml"]);
    assert_eq!(s.code, 2, "comments only is empty too: {}", s.stderr);
    assert_eq!(before, env.refs(&repo), "nothing written");

    let s = env.fleet_stdin(
        &repo,
        &["snapshot", "staging", "--from", "-", "--allow-empty"],
        b"",
    );
    assert_eq!(s.code, 0, "empty on purpose: {}", s.stderr);
    assert!(env.refs(&repo).contains("refs/fleet/live/staging"));
}

#[test]
fn a_missing_or_empty_desired_file_is_refused_unless_allowed() {
    let env = TestEnv::new();
    let repo = work(&env, "[targets.staging]\ndesired = \"missing.yaml\"\n");
    let s = env.fleet(&repo, &["snapshot", "staging", "--from", "fleet.yaml"]);
    assert_eq!(s.code, 0, "{}", s.stderr);
    let before = env.refs(&repo);

    let d = env.fleet(&repo, &["diff", "staging"]);
    assert_eq!(d.code, 2, "{}{}", d.stdout, d.stderr);
    assert!(d.stderr.contains("missing.yaml"), "{}", d.stderr);
    let d = env.fleet(&repo, &["diff", "staging", "--rev", "HEAD"]);
    assert_eq!(d.code, 2, "{}", d.stderr);
    assert!(d.stderr.contains("missing.yaml"), "{}", d.stderr);
    let d = env.fleet(&repo, &["diff", "staging", "--file", "nowhere.yaml"]);
    assert_eq!(d.code, 2, "{}", d.stderr);
    assert!(d.stderr.contains("nowhere.yaml"), "{}", d.stderr);

    let r = env.fleet(&repo, &["reconcile", "staging"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("missing.yaml"), "{}", r.stderr);
    assert_eq!(before, env.refs(&repo), "nothing written");
    let r = env.fleet(&repo, &["render"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("missing.yaml"), "{}", r.stderr);

    // An empty desired file is refused like a missing one.
    let d = env.fleet_stdin(&repo, &["diff", "staging", "--file", "-"], b"\n");
    assert_eq!(d.code, 2, "{}", d.stderr);
    assert!(d.stderr.contains("<stdin>"), "{}", d.stderr);

    // Empty on purpose: everything is a destroy, and it says so.
    let d = env.fleet(&repo, &["diff", "staging", "--allow-empty", "--json"]);
    assert_eq!(d.code, 0, "{}", d.stderr);
    assert_eq!(json(&d)["totals"]["destroy"], 2);
    let r = env.fleet(&repo, &["reconcile", "staging", "--allow-empty", "--json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(json(&r)["ticks"][0]["opened"].as_array().unwrap().len(), 2);
}

#[test]
fn an_exec_live_command_that_prints_nothing_is_refused() {
    let env = TestEnv::new();
    let repo = work(
        &env,
        "[targets.staging]\ndriver = \"exec\"\nlive = \"true\"\napply = \"cat >/dev/null\"\n",
    );
    let before = env.refs(&repo);
    let r = env.fleet(&repo, &["reconcile", "staging"]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("printed nothing"), "{}", r.stderr);
    let runs = env.refs(&repo);
    assert!(
        !before.contains("refs/fleet/proposals") && !runs.contains("refs/fleet/proposals"),
        "no proposal: {runs}"
    );
}

#[test]
fn a_dot_slash_desired_path_is_the_same_file() {
    let env = TestEnv::new();
    let repo = work(&env, "[targets.staging]\ndesired = \"./fleet.yaml\"\n");
    let s = env.fleet(&repo, &["snapshot", "staging"]);
    assert_eq!(s.code, 0, "{}", s.stderr);
    let r = env.fleet(&repo, &["reconcile", "staging", "--json"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let v = json(&r);
    assert_eq!(v["ticks"][0]["opened"], serde_json::json!([]), "{v}");
    for spelled in [
        "./fleet.yaml",
        "fleet.yaml/.",
        ".//fleet.yaml",
        "sub/../fleet.yaml",
    ] {
        std::fs::write(
            repo.join("fleet.toml"),
            format!("[targets.staging]\ndesired = \"{spelled}\"\n"),
        )
        .unwrap();
        let d = env.fleet(&repo, &["diff", "staging", "--json", "--exit-code"]);
        if spelled.contains("..") {
            assert_eq!(d.code, 2, "'..' stays an error: {}", d.stderr);
            assert!(d.stderr.contains(spelled), "{}", d.stderr);
        } else {
            assert_eq!(d.code, 0, "{spelled}: {}{}", d.stdout, d.stderr);
            assert_eq!(json(&d)["desired"], "fleet.yaml", "{spelled}");
        }
    }
}

#[test]
fn a_dot_slash_desired_path_keeps_pre_receive_checks() {
    let env = TestEnv::new();
    let origin = env.bare("origin.git");
    let installed = env.fleet(&origin, &["hooks", "install", "--pre-receive"]);
    assert_eq!(installed.code, 0, "{}", installed.stderr);
    let policy = "[targets.staging]\ndesired = \"./fleet.yaml\"\n\n[[policy]]\nname = \"ro\"\nactor = \"*\"\nallow = [\"assignments/*\"]\ndestroy = false\n";
    let repo = work(&env, policy);
    env.add_origin(&repo, &origin, false);
    std::fs::write(
        repo.join("fleet.yaml"),
        FLEET.replace("workers: 1", "workers: 9"),
    )
    .unwrap();
    env.git(&repo, &["commit", "-q", "-am", "out of scope"]);
    let before = env.refs(&origin);
    let out = env
        .command("git", &repo)
        .args(["push", "origin", "main"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the policy still applies: {stderr}");
    assert!(stderr.contains("modules/m1"), "{stderr}");
    assert_eq!(before, env.refs(&origin));
}

#[test]
fn an_oversized_fleet_toml_is_refused_naming_file_and_limit() {
    let env = TestEnv::new();
    let repo = work(&env, "[targets.staging]\n");
    let mut big = String::from("[targets.staging]\n");
    let mut i = 0;
    while big.len() <= 1024 * 1024 {
        big.push_str(&format!("[peers.p{i}]\nlocation = \"/srv/app/p{i}\"\n"));
        i += 1;
    }
    std::fs::write(repo.join("fleet.toml"), &big).unwrap();
    for args in [
        &["peers", "list"][..],
        &["diff", "--check"][..],
        &["policy", "check"][..],
    ] {
        let r = env.fleet(&repo, args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.contains("fleet.toml") && r.stderr.contains("1 MiB"),
            "{args:?}: {}",
            r.stderr
        );
    }
}

/// Whether `repo`'s halt record says halted (read with git, not git-fleet).
fn halted(env: &TestEnv, repo: &Path) -> bool {
    env.refs(repo).contains("refs/fleet/halt ")
        && env
            .git(repo, &["cat-file", "-p", "refs/fleet/halt:state"])
            .starts_with("halted")
}

#[test]
fn git_dir_and_dash_c_pick_the_repository() {
    let env = TestEnv::new();
    let a = env.repo("a");
    let b = env.repo("b");

    // GIT_DIR, relative to the current directory.
    let out = env
        .command(bin(), &a)
        .env("GIT_DIR", "../b/.git")
        .args(["halt", "--reason", "b only"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(halted(&env, &b), "GIT_DIR's repository is halted");
    assert!(!halted(&env, &a), "the current directory's is not");

    // `git --git-dir` (git exports GIT_DIR to the extension).
    let out = env
        .command("git", &a)
        .args(["--git-dir", "../b/.git", "fleet", "resume"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!halted(&env, &b));

    // `git -C`, and our own `-C`, repeatable and relative to the previous one.
    let out = env
        .command("git", env.root())
        .args(["-C", "b", "fleet", "halt"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(halted(&env, &b) && !halted(&env, &a));
    let r = env.fleet(&b, &["-C", "..", "-C", "a", "halt", "--reason", "a"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(halted(&env, &a));
    let r = env.fleet(&a, &["-C", "nowhere", "resume"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("nowhere"), "{}", r.stderr);

    // Child git processes act on the same repository: init writes b's config.
    let out = env
        .command(bin(), &a)
        .env("GIT_DIR", "../b/.git")
        .args(["init"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(b.join("fleet.toml").exists());
    assert!(!a.join("fleet.toml").exists());
    let config = std::fs::read_to_string(b.join(".git/config")).unwrap();
    assert!(config.contains("displayRef"), "{config}");
    let config = std::fs::read_to_string(a.join(".git/config")).unwrap();
    assert!(!config.contains("displayRef"), "{config}");

    // GIT_WORK_TREE with a bare GIT_DIR: the work tree is the one named.
    let bare = env.root().join("bare.git");
    env.git(
        env.root(),
        &["init", "-q", "--bare", bare.to_str().unwrap()],
    );
    std::fs::create_dir(env.root().join("tree")).unwrap();
    let out = env
        .command(bin(), &a)
        .env("GIT_DIR", &bare)
        .env("GIT_WORK_TREE", "../tree")
        .args(["init"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(env.root().join("tree/fleet.toml").exists());
    let config = std::fs::read_to_string(bare.join("config")).unwrap();
    assert!(config.contains("displayRef"), "{config}");
}
