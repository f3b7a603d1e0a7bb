//! Never guess (issue 9, items 9-10; issue 12.3): a fresh clone compares
//! against the recorded snapshot, missing or empty input is refused, a
//! `./fleet.yaml` path means `fleet.yaml`, fleet.toml is size-capped, and
//! `GIT_DIR`, `git --git-dir`, `git -C` and `git fleet -C` pick the repository.
//! Each test does it from the outside: real clones of a real bare origin.

mod common;
use common::{bin, TestEnv};
use std::path::Path;

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
