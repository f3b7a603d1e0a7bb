//! The README works as written: the Quickstart runs in a fresh directory,
//! `git fleet diff` prints exactly what it shows, and its JSON examples are
//! what the tool prints.

use crate::common;
use common::TestEnv;

fn block_after<'a>(text: &'a str, marker: &str, fence: &str) -> &'a str {
    let start = text.find(marker).expect("marker in README");
    let rest = &text[start..];
    let open = rest.find(fence).expect("fenced block") + fence.len();
    let body = &rest[open..];
    let body = &body[body.find('\n').unwrap() + 1..];
    &body[..body.find("```").unwrap()]
}

#[test]
fn quickstart_runs_as_written() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let script = block_after(&readme, "## Quickstart", "```sh")
        .replace("/path/to/git-fleet", env!("CARGO_MANIFEST_DIR"));
    let expected = block_after(&readme, "`git fleet diff` prints:", "```text");
    let env = TestEnv::new();
    let out = env
        .command("sh", env.root())
        .args(["-ec", &format!("exec 2>/dev/null\n{script}")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "quickstart failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(expected),
        "README's diff output is stale.\n--- README\n{expected}\n--- actual\n{stdout}"
    );
    assert!(
        stdout.contains("nginx_workers = 6"),
        "render shows the edit: {stdout}"
    );
}

/// The README's `diff --json` example is what the tool prints after the
/// Quickstart (placeholders like "<commit>|null" aside).
#[test]
fn diff_json_example_matches_the_tool() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let example: serde_json::Value = serde_json::from_str(block_after(
        &readme,
        "`diff --json` after the Quickstart",
        "```json",
    ))
    .expect("the README's diff --json example is JSON");
    let script = block_after(&readme, "## Quickstart", "```sh")
        .replace("/path/to/git-fleet", env!("CARGO_MANIFEST_DIR"));
    let env = TestEnv::new();
    let ran = env
        .command("sh", env.root())
        .args(["-ec", &format!("exec 2>/dev/null\n{script}")])
        .output()
        .unwrap();
    assert!(ran.status.success(), "quickstart failed");
    let repo = env.root().join("demo");
    let out = env.fleet(&repo, &["diff", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let actual: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    for pointer in ["/version", "/target", "/desired", "/changes", "/totals"] {
        assert_eq!(
            example.pointer(pointer),
            actual.pointer(pointer),
            "README's diff --json differs at {pointer}:\n{}",
            out.stdout
        );
    }
}

/// The README's JSON error example is what a failing `--json` command prints.
#[test]
fn json_error_example_matches_the_tool() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let example: serde_json::Value = serde_json::from_str(block_after(
        &readme,
        "`git fleet diff --json` prints:",
        "```json",
    ))
    .expect("the README's error example is JSON");
    let env = TestEnv::new();
    let repo = env.repo("work");
    std::fs::write(repo.join("fleet.toml"), "[targets.x]\nbogus = 1\n").unwrap();
    let out = env.fleet(&repo, &["diff", "--json"]);
    assert_eq!(out.code, 2);
    let actual: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    for pointer in ["/version", "/error/code", "/error/location", "/error/hint"] {
        assert_eq!(
            example.pointer(pointer),
            actual.pointer(pointer),
            "{pointer}"
        );
    }
    // Messages are shown up to the README's "...".
    for pointer in ["/error/message", "/error/problems/0/message"] {
        let shown = example.pointer(pointer).unwrap().as_str().unwrap();
        let prefix = shown.trim_end_matches("...");
        let real = actual.pointer(pointer).unwrap().as_str().unwrap();
        assert!(real.starts_with(prefix), "{pointer}: {real}");
    }
}
