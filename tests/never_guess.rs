//! Never guess (issue 9, items 9-10; issue 12.3): a fresh clone compares
//! against the recorded snapshot, missing or empty input is refused, a
//! `./fleet.yaml` path means `fleet.yaml`, fleet.toml is size-capped, and
//! `GIT_DIR`, `git --git-dir`, `git -C` and `git fleet -C` pick the repository.
//! Each test does it from the outside: real clones of a real bare origin.

mod common;
use common::{bin, Run, TestEnv};
use std::path::{Path, PathBuf};

const FLEET: &str =
    "modules:\n  m1:\n    config: {workers: 1}\nassignments:\n  n1:m1: {enabled: true}\n";

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", run.stdout, run.stderr))
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
    let origin = env.root().join("origin.git");
    env.git(
        env.root(),
        &[
            "init",
            "-q",
            "--bare",
            "-b",
            "main",
            origin.to_str().unwrap(),
        ],
    );
    let installed = env.fleet(&origin, &["hooks", "install", "--pre-receive"]);
    assert_eq!(installed.code, 0, "{}", installed.stderr);
    let policy = "[targets.staging]\ndesired = \"./fleet.yaml\"\n\n[[policy]]\nname = \"ro\"\nactor = \"*\"\nallow = [\"assignments/*\"]\ndestroy = false\n";
    let repo = work(&env, policy);
    env.git(
        &repo,
        &["remote", "add", "origin", origin.to_str().unwrap()],
    );
    env.git(&repo, &["push", "-q", "origin", "main"]);
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
}
