//! Crash safety: SIGKILL `reconcile` (auto-apply) and `apply` at random moments,
//! 50 times, and check after every kill that the repository is sound, no
//! proposal is `applied` without its receipt, and no live snapshot was
//! published without a receipt.

mod common;
use common::{bin, TestEnv};
use std::collections::HashSet;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

fn fleet(modules: usize, workers: u64) -> String {
    let mut s = String::from("modules:\n");
    for i in 0..modules {
        s.push_str(&format!(
            "  m{i:02}:\n    config:\n      workers: {workers}\n"
        ));
    }
    s.push_str("assignments:\n");
    for i in 0..modules {
        s.push_str(&format!("  n1:m{i:02}: {{enabled: true}}\n"));
    }
    s
}

/// Every receipt block's text, from every note in refs/notes/fleet/receipts.
fn receipt_text(env: &TestEnv, repo: &Path) -> String {
    let out = env
        .command("git", repo)
        .args(["notes", "--ref=fleet/receipts", "list"])
        .output()
        .unwrap();
    let mut text = String::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let object = line.split_whitespace().nth(1).unwrap();
        text.push_str(&env.git(repo, &["notes", "--ref=fleet/receipts", "show", object]));
    }
    text
}

fn check_invariants(env: &TestEnv, repo: &Path, round: usize) {
    let fsck = env
        .command("git", repo)
        .args(["fsck", "--no-dangling", "--no-progress"])
        .output()
        .unwrap();
    assert!(
        fsck.status.success(),
        "round {round}: git fsck: {}",
        String::from_utf8_lossy(&fsck.stderr)
    );
    let receipts = receipt_text(env, repo);
    let named: HashSet<&str> = receipts
        .lines()
        .filter_map(|l| l.strip_prefix("Fleet-Proposal: "))
        .collect();
    let afters: HashSet<&str> = receipts
        .lines()
        .filter_map(|l| l.strip_prefix("Fleet-After: "))
        .collect();
    for target in ["auto", "manual"] {
        let props = env
            .command(bin(), repo)
            .args([
                "proposals",
                "--target",
                target,
                "--state",
                "applied",
                "--json",
            ])
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&props.stdout).unwrap_or_else(|_| {
            panic!(
                "round {round}: proposals --json: {}",
                String::from_utf8_lossy(&props.stderr)
            )
        });
        for p in v["proposals"].as_array().unwrap() {
            let id = p["id"].as_str().unwrap();
            assert!(
                named.contains(id),
                "round {round}: proposal {id} is applied without a receipt"
            );
        }
        let log = env.git(
            repo,
            &[
                "log",
                "--first-parent",
                "--format=%H %s",
                &format!("refs/fleet/live/{target}"),
            ],
        );
        for line in log.lines() {
            let (sha, subject) = line.split_once(' ').unwrap();
            if subject.starts_with("apply ") {
                assert!(afters.contains(sha), "round {round}: live snapshot {sha} of {target} was published without a receipt");
            }
        }
    }
}

#[test]
fn sigkill_at_random_moments_never_leaves_unreceipted_changes() {
    const ROUNDS: usize = 50;
    let env = TestEnv::new();
    let repo = env.repo("work");
    std::fs::write(
        repo.join("fleet.toml"),
        "[targets.auto]\nauto_apply = true\n[targets.manual]\n",
    )
    .unwrap();
    for target in ["auto", "manual"] {
        let r = env.fleet_stdin(
            &repo,
            &["snapshot", target, "--from", "-"],
            fleet(12, 0).as_bytes(),
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    let mut killed = 0;
    for round in 0..ROUNDS {
        std::fs::write(repo.join("fleet.yaml"), fleet(12, round as u64 + 1)).unwrap();
        env.git(&repo, &["add", "fleet.yaml", "fleet.toml"]);
        env.git(&repo, &["commit", "-q", "-m", &format!("round {round}")]);
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_millis(seed % 250);
        let args: Vec<&str> = if round % 2 == 0 {
            vec!["reconcile", "auto"]
        } else {
            // Review happens unharmed; the apply is what gets killed.
            let r = env.fleet(&repo, &["reconcile", "manual", "--json"]);
            assert!(r.code <= 1, "{}", r.stderr);
            let pending = env.fleet(
                &repo,
                &[
                    "proposals",
                    "--target",
                    "manual",
                    "--state",
                    "pending_review",
                    "--json",
                ],
            );
            let v: serde_json::Value = serde_json::from_str(&pending.stdout).unwrap();
            let ids: Vec<String> = v["proposals"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["id"].as_str().unwrap().to_string())
                .collect();
            if !ids.is_empty() {
                let mut a = vec!["approve"];
                a.extend(ids.iter().map(String::as_str));
                assert_eq!(env.fleet(&repo, &a).code, 0);
            }
            vec!["apply", "--approved", "--target", "manual"]
        };
        let mut child = env
            .command(bin(), &repo)
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            killed += 1;
        }
        let _ = child.wait();
        check_invariants(&env, &repo, round);
    }
    assert!(killed >= 10, "only {killed} of {ROUNDS} runs were killed mid-way: the delays are too long to test anything");
}

#[test]
fn lock_files_left_by_a_killed_writer_do_not_block_later_writers() {
    let env = TestEnv::new();
    let repo = env.repo("work");
    std::fs::write(repo.join("fleet.yaml"), fleet(1, 1)).unwrap();
    assert_eq!(env.fleet(&repo, &["snapshot", "staging"]).code, 0);
    // What SIGKILL leaves behind: git's ref lock and our advisory lock.
    let git_lock = repo.join(".git/refs/fleet/live/staging.lock");
    let our_lock = repo.join(".git/fleet/locks/refs%fleet%live%staging.lock");
    for lock in [&git_lock, &our_lock] {
        std::fs::write(lock, "").unwrap();
        let out = env
            .command("touch", &repo)
            .args(["-d", "2 minutes ago"])
            .arg(lock)
            .output()
            .unwrap();
        assert!(out.status.success());
    }
    let started = std::time::Instant::now();
    let r = env.fleet(&repo, &["snapshot", "staging", "-m", "after crash"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
    assert!(!git_lock.exists());
    // A fresh lock (a live writer) is respected: the CAS still decides, nothing is lost.
    let log = env.git(&repo, &["log", "--format=%s", "refs/fleet/live/staging"]);
    assert_eq!(log.lines().count(), 2);
}
