//! The README quickstart works as written: its commands run in a fresh
//! directory and `git fleet diff` prints exactly what the README shows.

mod common;
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
