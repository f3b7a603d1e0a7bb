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
    for pointer in [
        "/version",
        "/error/code",
        "/error/location",
        "/error/hint",
        "/error/problems/0/source_line",
    ] {
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

/// The README's human error example (the line and its caret) is what a
/// failing command prints on stderr, up to the message's "...".
#[test]
fn human_error_example_matches_the_tool() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let example = block_after(&readme, "that line with a caret", "```text");
    let env = TestEnv::new();
    let repo = env.repo("work");
    std::fs::write(repo.join("fleet.toml"), "[targets.x]\nbogus = 1\n").unwrap();
    let out = env.fleet(&repo, &["diff"]);
    assert_eq!(out.code, 2);
    let shown: Vec<&str> = example.lines().collect();
    let real: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(shown.len(), real.len(), "{}", out.stderr);
    for (shown, real) in shown.iter().zip(&real) {
        let prefix = shown.trim_end_matches("...");
        assert!(real.starts_with(prefix), "{real:?} is not {shown:?}");
    }
}

/// One fenced block of README.md: its info string, first line number and body.
struct Block {
    lang: String,
    line: usize,
    body: String,
}

fn readme_blocks(readme: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in readme.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(lang)) => {
                open = Some(Block {
                    lang: lang.trim().to_string(),
                    line: i + 1,
                    body: String::new(),
                })
            }
            (Some(_), Some(_)) => blocks.push(open.take().unwrap()),
            (Some(block), None) => {
                block.body.push_str(line);
                block.body.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "README.md has an unclosed fence");
    blocks
}

/// What the test does with a README block, found by the block's first line.
enum Check {
    /// Compared with the tool by the named test of this module.
    TestedBy(&'static str),
    /// A fleet.toml snippet: it must parse with the real binary.
    FleetToml,
    /// Each command line is run in the fixture (`Fixture`); its exit code
    /// must be the one listed, and the transcript matches the snapshot
    /// `cli__readme__<name>.snap`.
    Run {
        name: &'static str,
        codes: &'static [i32],
    },
    /// Not run, with the reason.
    Skipped(&'static str),
}

/// Every fenced block of the README, by its first line. A block not listed
/// here fails `every_readme_block_is_run_or_checked`, as does an entry that
/// no block matches any more.
static BLOCKS: &[(&str, Check)] = &[
    (
        "./install.sh && git fleet demo",
        Check::Skipped(
            "builds and installs a release binary (basics::install_sh_... runs \
             install.sh on request), `git fleet demo` is demo::demo_walks_through_every_job, \
             and `cargo test --locked` is this suite",
        ),
    ),
    (
        "git init demo && cd demo",
        Check::TestedBy("quickstart_runs_as_written"),
    ),
    ("modules (1)", Check::TestedBy("quickstart_runs_as_written")),
    ("require_signed = false", Check::FleetToml),
    (
        "git fleet peers add laptop ~/src/project",
        Check::Run {
            name: "deliver",
            codes: &[0, 0, 1, 0, 1, 0],
        },
    ),
    (
        "git -C /srv/app config fleet.peerName web-1",
        Check::Run {
            name: "pull-mode",
            // The sandbox has no app: the agent's health check fails, so
            // the agent, proof and fanout --status say so (exit 1).
            codes: &[0, 1, 0, 1, 1],
        },
    ),
    (
        "*/5 * * * * cd /srv/app && git fleet agent --quiet",
        Check::Run {
            name: "cron",
            codes: &[0],
        },
    ),
    (
        "git fleet snapshot prod --from export.yaml",
        Check::Run {
            name: "compare-and-reconcile",
            codes: &[0, 0, 1, 0, 0, 0, 0, 0, 0, 1],
        },
    ),
    (
        "git fleet receipts                 # the receipt log",
        Check::Run {
            name: "receipts",
            codes: &[0, 0, 0, 0],
        },
    ),
    (
        "git fleet sync                         # fetch, merge, push back",
        Check::Run {
            name: "share",
            // `--watch` runs until stopped: git-fleet says "stopped", and the
            // `git` wrapper in front of it dies of the SIGTERM (128 + 15).
            codes: &[0, 0, 0, 0, 143],
        },
    ),
    (
        "git fleet hooks install --pre-receive --post-receive",
        Check::Run {
            name: "hosted-git-servers",
            codes: &[0, 0, 0, 0],
        },
    ),
    // Changing values: get, set, adopt, promote. Not run verbatim here: the
    // ops:: tests run these commands on fixtures of their own and assert
    // parts of this output (not compared line for line).
    (
        "git fleet get 'modules/nginx-*' config.nginx_workers",
        Check::Skipped(
            "an overview with placeholders ([--select ...]); each command is run by \
             ops::set_edits_only_the_values_it_sets_and_commits_with_the_selector, \
             ops::set_dry_run_writes_nothing_and_prints_one_json_object, \
             ops::adopt_writes_live_drift_into_desired_with_a_receipt and \
             ops::variants_show_lag_and_promote_writes_the_selected_differences",
        ),
    ),
    (
        "fleet.yaml:",
        Check::Skipped("set's output, parts asserted by ops::set_edits_only_the_values_it_sets_and_commits_with_the_selector"),
    ),
    (
        "set modules/nginx-*: config.nginx_workers=6",
        Check::Skipped("set's commit message, parts asserted by ops::set_edits_only_the_values_it_sets_and_commits_with_the_selector"),
    ),
    (
        "adopt live staging into fleet.yaml",
        Check::Skipped("adopt's commit message, parts asserted by ops::adopt_writes_live_drift_into_desired_with_a_receipt"),
    ),
    (
        "live staging:",
        Check::Skipped(
            "set --live's output, parts asserted by \
             ops::set_live_changes_live_through_the_driver_with_receipts_and_marks_drift_for_adoption",
        ),
    ),
    ("[targets.staging]", Check::FleetToml),
    (
        "staging -> prod",
        Check::Skipped("variants' output, parts asserted by ops::variants_show_lag_and_promote_writes_the_selected_differences"),
    ),
    ("[[ignore]]", Check::FleetToml),
    (
        "git add fleet.yaml fleet.toml && git commit -q -m \"nginx-public: 6 workers\"",
        Check::TestedBy("readme_why_history_section_is_real_output"),
    ),
    (
        "app-02 nginx_workers = 10  (fleet.yaml)",
        Check::TestedBy("readme_why_history_section_is_real_output"),
    ),
    (
        "{",
        Check::Skipped(
            "the MCP client config: mcp::the_readme_client_config_starts_a_working_server \
             reads this block and starts the server with it",
        ),
    ),
    ("[[notify]]", Check::FleetToml),
    (
        "{\"version\":1,\"event\":\"apply\"",
        Check::Skipped(
            "ids and times vary; notify::an_apply_posts_its_event_to_a_webhook_and_an_exec_gets_it_on_stdin \
             asserts every field shown (event, target, proposal, receipt, actor, at, snapshot)",
        ),
    ),
    (
        "{\"version\": 1, \"target\": \"staging\"",
        Check::TestedBy("diff_json_example_matches_the_tool"),
    ),
    (
        "{\"version\": 1, \"error\"",
        Check::TestedBy("json_error_example_matches_the_tool"),
    ),
    (
        "error: fleet.toml:2:1: unknown field",
        Check::TestedBy("human_error_example_matches_the_tool"),
    ),
];

fn check_of(block: &Block) -> Option<&'static Check> {
    let first = block.body.lines().next().unwrap_or("");
    // The longest matching start wins (a bare `{` is the MCP config block).
    let longest = BLOCKS
        .iter()
        .filter(|(start, _)| first.starts_with(start))
        .map(|(start, _)| start.len())
        .max();
    let found: Vec<_> = BLOCKS
        .iter()
        .filter(|(start, _)| first.starts_with(start) && Some(start.len()) == longest)
        .collect();
    assert!(
        found.len() <= 1,
        "README.md:{} matches two entries",
        block.line
    );
    found.first().map(|(_, check)| check)
}

/// The setup every `Check::Run` block runs in (a fresh one per block): a bare
/// origin holding the example fleet, `git fleet init` and a staging snapshot
/// in the clone `work` (pushed, tagged v1.4.2, synced), `~/src/project` and
/// `/srv/app` (under the temp root: `[ROOT]/srv/app`) as clones of origin,
/// and `export.yaml` (the example fleet with 6 nginx workers) in `work`.
struct Fixture {
    env: TestEnv,
    origin: std::path::PathBuf,
    work: std::path::PathBuf,
}

const EXAMPLE: &str = include_str!("../../examples/fleet.yaml");

impl Fixture {
    fn new() -> Fixture {
        let env = TestEnv::new();
        let (origin, _seed) = env.seeded_origin(&[("fleet.yaml", EXAMPLE)]);
        let work = env.clone_of(&origin, "work");
        let ok = |run: common::Run| assert_eq!(run.code, 0, "{}", run.stderr);
        ok(env.fleet(&work, &["init"]));
        env.git(&work, &["add", "fleet.toml"]);
        env.git(&work, &["commit", "-q", "-m", "fleet.toml"]);
        env.git(&work, &["tag", "v1.4.2"]);
        env.git(&work, &["push", "-q", "origin", "main", "v1.4.2"]);
        ok(env.fleet(&work, &["snapshot", "staging"]));
        ok(env.fleet(&work, &["sync"]));
        std::fs::create_dir_all(env.home().join("src")).unwrap();
        env.clone_of(&origin, "home/src/project");
        std::fs::create_dir_all(env.root().join("srv")).unwrap();
        env.clone_of(&origin, "srv/app");
        std::fs::write(
            work.join("export.yaml"),
            EXAMPLE.replace("nginx_workers: 4", "nginx_workers: 6"),
        )
        .unwrap();
        Fixture { env, origin, work }
    }

    /// A README line as run here: `/srv/` is under the temp root, a cron
    /// line loses its schedule, `--watch` is sent SIGTERM after 3 s (as a
    /// service manager would stop it), and the placeholders `3f2a9c` and
    /// `<snapshot>` become the first prod proposal and prod's first snapshot.
    /// The transcript shows the README's line as written.
    fn line(&self, line: &str) -> String {
        let mut line = line.replace("/srv/", &format!("{}/srv/", self.env.root().display()));
        if line.starts_with("*/5 ") {
            line = line.splitn(6, ' ').nth(5).unwrap().to_string();
            std::fs::create_dir_all(self.env.home().join(".cache")).unwrap();
        }
        if line.contains("--watch") {
            line = format!("timeout --preserve-status -s TERM 3 {line}");
        }
        if line.contains("3f2a9c") {
            let listed = self.env.fleet(&self.work, &["proposals", "--json"]);
            let listed: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
            let id = listed["proposals"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["target"] == "prod")
                .expect("a prod proposal")["id"]
                .as_str()
                .unwrap()
                .to_string();
            line = line.replace("3f2a9c", &id[..6]);
        }
        if line.contains("<snapshot>") {
            let first = self.env.git(
                &self.work,
                &["rev-list", "--reverse", "refs/fleet/live/prod"],
            );
            line = line.replace("<snapshot>", first.lines().next().unwrap());
        }
        line
    }

    /// Server-side lines (hooks on the server, its git config) run in the
    /// bare origin; every other line in `work`.
    fn cwd(&self, name: &str, line: &str) -> &std::path::Path {
        let server = name == "hosted-git-servers"
            || line.contains("--pre-receive")
            || line.contains("--post-receive");
        if server {
            &self.origin
        } else {
            &self.work
        }
    }
}

/// fanout prints a progress line per peer (`<peer>: <outcome> — ...`) as
/// each peer finishes, so a run of them is sorted; nothing is dropped.
fn sort_progress(output: &str) -> String {
    let is_progress = |l: &str| {
        l.split_once(": ").is_some_and(|(peer, rest)| {
            !peer.is_empty()
                && peer.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
                && rest.contains(" — ")
        })
    };
    let mut out: Vec<&str> = Vec::new();
    let mut run: Vec<&str> = Vec::new();
    for line in output.lines() {
        if is_progress(line) {
            run.push(line);
            continue;
        }
        run.sort();
        out.append(&mut run);
        out.push(line);
    }
    run.sort();
    out.append(&mut run);
    out.iter().map(|l| format!("{l}\n")).collect()
}

/// `curl` and `systemctl` as the README's runtime commands call them, so
/// the transcript does not depend on what this machine runs: no app
/// answers on localhost (curl fails as it does without one), and systemd
/// accepts a reload.
fn runtime_stubs(dir: &std::path::Path) -> std::path::PathBuf {
    let bin = dir.join("stub-bin");
    std::fs::create_dir_all(&bin).unwrap();
    for (name, script) in [
        (
            "curl",
            "#!/bin/sh\necho \"curl: (7) Failed to connect to localhost port 80: Connection refused\" >&2\nexit 7\n",
        ),
        ("systemctl", "#!/bin/sh\nexit 0\n"),
    ] {
        use std::os::unix::fs::PermissionsExt;
        let path = bin.join(name);
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

fn run_block(name: &str, block: &Block) -> (Vec<i32>, String) {
    let fx = Fixture::new();
    let stubs = runtime_stubs(fx.env.root());
    let mut codes = Vec::new();
    let mut transcript = String::new();
    for line in block.body.lines().filter(|l| !l.trim().is_empty()) {
        let run = fx.line(line);
        let mut cmd = fx.env.command("sh", fx.cwd(name, line));
        let path = cmd
            .get_envs()
            .find(|(k, _)| *k == "PATH")
            .and_then(|(_, v)| v.map(|v| v.to_string_lossy().into_owned()))
            .unwrap();
        let out = cmd
            .env("PATH", format!("{}:{path}", stubs.display()))
            .args(["-c", &format!("exec 2>&1\n{run}")])
            .output()
            .unwrap();
        let code = out.status.code().unwrap_or(-1);
        codes.push(code);
        transcript.push_str(&format!(
            "$ {line}\n{}[exit {code}]\n",
            sort_progress(&String::from_utf8_lossy(&out.stdout))
        ));
    }
    (codes, fx.env.normalise(&transcript))
}

/// Rough edge 11: every fenced example of the README is run (each command
/// with its exit code, the transcript a reviewed snapshot), compared with
/// the tool by another test of this module, parsed (fleet.toml snippets), or
/// listed above as skipped with the reason.
#[test]
fn every_readme_block_is_run_or_checked() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let blocks = readme_blocks(&readme);
    let mut problems = Vec::new();
    let mut used = std::collections::BTreeSet::new();
    for block in &blocks {
        let Some(check) = check_of(block) else {
            problems.push(format!(
                "README.md:{}: a ```{} block no check covers (add it to BLOCKS)",
                block.line, block.lang
            ));
            continue;
        };
        used.insert(check as *const Check);
        match check {
            Check::TestedBy(test) => {
                if !include_str!("readme.rs").contains(&format!("fn {test}()")) {
                    problems.push(format!("README.md:{}: no test {test}", block.line));
                }
            }
            Check::Skipped(reason) => assert!(!reason.is_empty()),
            Check::FleetToml => problems.extend(check_fleet_toml(block)),
            Check::Run { name, codes } => {
                let (got, transcript) = run_block(name, block);
                if got != *codes {
                    problems.push(format!(
                        "README.md:{}: exit codes {got:?}, expected {codes:?}:\n{transcript}",
                        block.line
                    ));
                }
                let snap = std::panic::catch_unwind(|| {
                    insta::assert_snapshot!(*name, transcript);
                });
                if snap.is_err() {
                    problems.push(format!(
                        "README.md:{}: transcript differs from snapshot {name}",
                        block.line
                    ));
                }
            }
        }
    }
    for (start, check) in BLOCKS {
        if !used.contains(&(check as *const Check)) {
            problems.push(format!("no README block starts with {start:?} any more"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A fleet.toml snippet parses with the real binary: committed as fleet.toml
/// next to the example fleet, `peers list` (peers), `status` (targets) and
/// `diff --check` (policy) accept it; `policy check` decides (0 or 1, not 2).
fn check_fleet_toml(block: &Block) -> Vec<String> {
    let env = TestEnv::new();
    let repo = env.repo("work");
    std::fs::write(repo.join("fleet.yaml"), EXAMPLE).unwrap();
    std::fs::write(repo.join("fleet.toml"), &block.body).unwrap();
    env.git(&repo, &["add", "."]);
    env.git(&repo, &["commit", "-q", "-m", "fleet"]);
    let mut problems = Vec::new();
    for (args, codes) in [
        (&["peers", "list"][..], &[0][..]),
        (&["status"], &[0]),
        (&["diff", "--check"], &[0]),
        (&["policy", "check"], &[0, 1]),
    ] {
        let run = env.fleet(&repo, args);
        if !codes.contains(&run.code) {
            problems.push(format!(
                "README.md:{}: git fleet {} exits {}: {}",
                block.line,
                args.join(" "),
                run.code,
                run.stderr
            ));
        }
    }
    problems
}

/// A JSON shape as the README writes it: `{"a", "b": {...}, "c": [{"d"}],
/// "e" | "f"}`. Each field is a set of alternative keys and, when the README
/// spells it out, the shape of its object (or of each object in its array).
#[derive(Debug)]
struct Field {
    keys: Vec<String>,
    shape: Option<Vec<Field>>,
}

/// Splits `text` at top-level commas (outside brackets and quotes).
fn split_top(text: &str) -> Vec<&str> {
    let (mut depth, mut quoted, mut start) = (0i32, false, 0);
    let mut parts = Vec::new();
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '{' | '[' if !quoted => depth += 1,
            '}' | ']' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// The fields of `{...}` (the text from its opening brace); fields the
/// README leaves open (`...`, `NODE: ...`) are not listed.
fn shape(text: &str) -> Vec<Field> {
    let text = text.trim();
    let inner = &text[1..text.rfind('}').expect("closing brace")];
    let mut fields = Vec::new();
    for part in split_top(inner) {
        let part = part.trim();
        if !part.starts_with('"') {
            continue;
        }
        let (names, value) = match part.find("\":") {
            Some(at) => (&part[..at + 1], Some(part[at + 2..].trim())),
            None => (part, None),
        };
        let keys = names
            .split('|')
            .map(|k| k.trim().trim_matches('"').to_string())
            .collect();
        let shape = value.and_then(|v| {
            let v = v.strip_prefix('[').unwrap_or(v);
            (v.starts_with("{\"")).then(|| shape(v))
        });
        fields.push(Field { keys, shape });
    }
    fields
}

/// Where `actual` lacks a field of `fields` (`at` names the place). In an
/// array, a field counts when some element has it: the tool leaves out an
/// empty optional field (a transition without a reason), and the README
/// lists the fields there can be.
fn missing(fields: &[Field], actual: &serde_json::Value, at: &str, out: &mut Vec<String>) {
    let objects: Vec<&serde_json::Map<String, serde_json::Value>> = match actual {
        serde_json::Value::Array(items) => items.iter().filter_map(|v| v.as_object()).collect(),
        other => other.as_object().into_iter().collect(),
    };
    if objects.is_empty() {
        return;
    }
    for field in fields {
        let values: Vec<(&String, &serde_json::Value)> = objects
            .iter()
            .filter_map(|map| field.keys.iter().find_map(|k| map.get_key_value(k)))
            .collect();
        if values.is_empty() {
            out.push(format!("{at}: no {}", field.keys.join(" | ")));
        }
        if let Some(inner) = &field.shape {
            for (key, value) in values {
                missing(inner, value, &format!("{at}.{key}"), out);
            }
        }
    }
}

/// The README's JSON section names the fields of each command's `--json`
/// object; run each command in the fixture and check its object has them
/// (nested ones too, where the README spells them out). Commands the README
/// lists together ("one object each") must print one object with version 1.
#[test]
fn json_shapes_in_the_readme_are_what_the_tool_prints() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let fx = Fixture::new();
    let (env, work) = (&fx.env, &fx.work);
    // Something to reconcile, approve and apply: a pushed edit.
    let yaml = std::fs::read_to_string(work.join("fleet.yaml")).unwrap();
    std::fs::write(
        work.join("fleet.yaml"),
        yaml.replace("nginx_workers: 4", "nginx_workers: 6"),
    )
    .unwrap();
    env.git(work, &["commit", "-q", "-am", "six workers"]);
    env.git(work, &["push", "-q", "origin", "main"]);

    // In this order, so each has something to show; `snapshot` last (it
    // records desired as live).
    let runs: &[(&str, &[&str])] = &[
        ("init", &["init", "--json"]),
        ("reconcile", &["reconcile", "staging", "--json"]),
        ("proposals", &["proposals", "--json"]),
        (
            "apply",
            &["apply", "--approved", "--target", "staging", "--json"],
        ),
        ("runs", &["runs", "staging", "--json"]),
        ("status", &["status", "--json"]),
        ("render", &["render", "--json"]),
        ("diff --check", &["diff", "--check", "--json"]),
        ("fanout", &["fanout", "--json"]),
        ("proof", &["proof", "--json"]),
        ("peers list", &["peers", "list", "--json"]),
        ("hooks status", &["hooks", "status", "--json"]),
        ("receipts ...", &["receipts", "--json"]),
        ("sync", &["sync", "--json"]),
        ("policy check", &["policy", "check", "--json"]),
        ("snapshot", &["snapshot", "staging", "--json"]),
        ("demo", &["demo", "--json"]),
    ];
    let mut problems = Vec::new();
    let mut checked = Vec::new();
    let mut outputs = std::collections::HashMap::new();
    for (name, args) in runs {
        // Approved with a reason, so the proposals show every kind of field.
        if *name == "proposals" {
            let listed = env.fleet(work, &["proposals", "--json"]);
            let listed: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
            for p in listed["proposals"].as_array().unwrap() {
                let id = p["id"].as_str().unwrap();
                let approved = env.fleet(work, &["approve", id, "--reason", "window"]);
                assert_eq!(approved.code, 0, "{}", approved.stderr);
            }
        }
        let run = env.fleet(work, args);
        match serde_json::from_str::<serde_json::Value>(&run.stdout) {
            Ok(v) if v["version"] == 1 => {
                outputs.insert(*name, v);
            }
            _ => problems.push(format!(
                "git fleet {}: not one JSON object with version 1 (exit {}): {}{}",
                args.join(" "),
                run.code,
                run.stdout,
                run.stderr
            )),
        }
    }
    for (n, line) in readme.lines().enumerate() {
        let Some((names, rest)) = line.split_once(": `{") else {
            continue;
        };
        if !names.starts_with('`') || !names.ends_with(" --json`") {
            continue;
        }
        let name = names.trim_matches('`').trim_end_matches(" --json");
        let schema = format!("{{{}", &rest[..rest.rfind('`').unwrap()]);
        match outputs.get(name) {
            None => problems.push(format!(
                "README.md:{}: `{name} --json` is not run here",
                n + 1
            )),
            Some(actual) => {
                missing(
                    &shape(&schema),
                    actual,
                    &format!("README.md:{} {name}", n + 1),
                    &mut problems,
                );
                checked.push(name.to_string());
            }
        }
    }
    // The line that lists commands printing "one object each".
    let together = readme
        .lines()
        .find(|l| l.contains("one object each with `\"version\": 1`"))
        .expect("the README's one-object-each line");
    for name in together.split(": one object").next().unwrap().split(", ") {
        let name = name.trim_matches('`').trim_end_matches(" --json");
        if !outputs.contains_key(name) {
            problems.push(format!("`{name} --json` (one object each) is not run here"));
        }
        checked.push(name.to_string());
    }
    assert!(checked.len() >= 15, "only {checked:?} found in the README");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_readme_json_shape_is_read_as_written() {
    let s = shape(r#"{"version", "a": [{"b", "c" | "d"}], "e": {...} | null, "f": {NODE: {"x"}}}"#);
    let keys: Vec<_> = s.iter().map(|f| f.keys.join("|")).collect();
    assert_eq!(keys, ["version", "a", "e", "f"]);
    let inner = s[1].shape.as_ref().unwrap();
    assert_eq!(inner[1].keys, ["c", "d"]);
    assert!(s[2].shape.is_none() && s[3].shape.is_none());
    let mut out = Vec::new();
    missing(
        &s,
        &serde_json::json!({"version": 1, "a": [{"b": 1, "d": 2}, {"b": 1}], "e": null, "f": {}}),
        "x",
        &mut out,
    );
    assert!(out.is_empty(), "{out:?}");
    missing(&s, &serde_json::json!({"a": [{"b": 1}]}), "x", &mut out);
    assert_eq!(
        out,
        ["x: no version", "x.a: no c | d", "x: no e", "x: no f"]
    );
}

/// The README's "Where a value came from" walkthrough prints what it shows
/// (commit and receipt ids aside), run after its Quickstart.
#[test]
fn readme_why_history_section_is_real_output() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let block = |marker: &str, fence: &str| {
        let rest = &readme[readme.find(marker).expect("marker in README")..];
        let body = &rest[rest.find(fence).expect("fenced block") + fence.len()..];
        let body = &body[body.find('\n').unwrap() + 1..];
        body[..body.find("```").unwrap()].to_string()
    };
    let quickstart =
        block("## Quickstart", "```sh").replace("/path/to/git-fleet", env!("CARGO_MANIFEST_DIR"));
    let walk = block("## Where a value came from", "```sh");
    let expected = block("## Where a value came from", "```text");
    let env = TestEnv::new();
    let out = env
        .command("sh", env.root())
        .args([
            "-ec",
            &format!("exec 2>/dev/null\n{quickstart}\nexec >/dev/null\n"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "quickstart failed");
    let out = env
        .command("sh", &env.root().join("demo"))
        .args(["-ec", &format!("exec 2>/dev/null\n{walk}")])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "walkthrough failed: {stdout}");
    // Ids depend on the fleet.toml `init` writes; everything else must match.
    let mask = |s: &str| {
        let mut out = String::new();
        let mut hex = String::new();
        for c in s.chars().chain(std::iter::once(' ')) {
            if c.is_ascii_hexdigit() && !c.is_ascii_uppercase() {
                hex.push(c);
                continue;
            }
            if hex.len() >= 12 && hex.chars().any(|h| h.is_ascii_alphabetic()) {
                out.push_str("<id>");
            } else {
                out.push_str(&hex);
            }
            hex.clear();
            out.push(c);
        }
        out.pop();
        out
    };
    assert_eq!(
        mask(&stdout),
        mask(&expected),
        "README's why/history output is stale"
    );
}
