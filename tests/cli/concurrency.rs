//! Concurrent writers never lose a record: 16 processes appending 50 note
//! blocks each to one notes ref, and 16 processes appending to one chain.

use crate::common;
use common::{bin, TestEnv};
use std::process::Stdio;

const WRITERS: usize = 16;

/// Start WRITERS processes running `script` (`$0` = the binary, `$1` = the
/// writer's number) at once, and require every one to succeed.
fn run_writers(env: &TestEnv, repo: &std::path::Path, script: &str) {
    let children: Vec<_> = (0..WRITERS)
        .map(|w| {
            env.command("sh", repo)
                .args(["-c", script, bin().to_str().unwrap(), &w.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "a writer failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn sixteen_processes_appending_notes_lose_nothing() {
    let _load = common::heavy();
    const PER_WRITER: usize = 50;
    let env = TestEnv::new();
    let repo = env.repo("work");
    // 50 commits to annotate; every writer annotates each of them, so every
    // append races with others on the same ref and often the same note.
    for i in 0..PER_WRITER {
        env.git(
            &repo,
            &["commit", "-q", "--allow-empty", "-m", &format!("c{i}")],
        );
    }
    let commits: Vec<String> = env
        .git(&repo, &["rev-list", "HEAD"])
        .lines()
        .take(PER_WRITER)
        .map(str::to_string)
        .collect();
    let script = commits
        .iter()
        .enumerate()
        .map(|(i, c)| format!("\"$0\" notes append --ref stress {c} -m \"Fleet-Writer: $1\nFleet-Seq: {i}\" || exit 1"))
        .collect::<Vec<_>>()
        .join("\n");
    run_writers(&env, &repo, &script);
    let mut found = 0;
    for (i, c) in commits.iter().enumerate() {
        let note = env.git(&repo, &["notes", "--ref=fleet/stress", "show", c]);
        for w in 0..WRITERS {
            let block = format!("Fleet-Writer: {w}\nFleet-Seq: {i}");
            assert!(note.contains(&block), "lost block {block:?} on {c}");
            found += 1;
        }
    }
    assert_eq!(found, WRITERS * PER_WRITER);
    env.git(&repo, &["fsck", "--strict", "--no-progress"]);
    let listed = env.git(&repo, &["notes", "--ref=fleet/stress", "list"]);
    assert_eq!(listed.lines().count(), PER_WRITER);
}

#[test]
fn sixteen_processes_appending_to_one_chain_lose_nothing() {
    let _load = common::heavy();
    const PER_WRITER: usize = 10;
    let env = TestEnv::new();
    let repo = env.repo("work");
    std::fs::write(
        repo.join("fleet.yaml"),
        include_str!("../../examples/fleet.yaml"),
    )
    .unwrap();
    let script = (0..PER_WRITER)
        .map(|i| format!("\"$0\" snapshot staging -m \"writer-$1-{i}\" || exit 1"))
        .collect::<Vec<_>>()
        .join("\n");
    run_writers(&env, &repo, &script);
    let log = env.git(
        &repo,
        &[
            "log",
            "--first-parent",
            "--format=%s",
            "refs/fleet/live/staging",
        ],
    );
    let mut subjects: Vec<&str> = log.lines().collect();
    assert_eq!(subjects.len(), WRITERS * PER_WRITER, "{log}");
    subjects.sort();
    subjects.dedup();
    assert_eq!(
        subjects.len(),
        WRITERS * PER_WRITER,
        "every append is a distinct record"
    );
    // A chain is linear: no record has two parents.
    let merges = env.git(&repo, &["rev-list", "--merges", "refs/fleet/live/staging"]);
    assert!(merges.is_empty());
    env.git(&repo, &["fsck", "--strict", "--no-progress"]);
}
