//! Malformed fleet.yaml input is refused cleanly by the real binary.
//!
//! Every file in `tests/corpus/bad/` (plus a few cases generated here at run time:
//! > 1 MiB, non-UTF-8, 10,000 levels of nesting, alias bombs) is fed to
//!
//! * `git-fleet snapshot staging --from <file>`,
//! * `git-fleet diff --file <file>` and
//! * `git-fleet diff --check --file <file>`
//!
//! in a fresh repository, and each run must:
//!
//! * exit with code 2 (bad input), except `diff --check`, whose documented contract
//!   (the pre-commit hook) is exit 1 for a problem found in the file,
//! * print `error: <file>:<line>:<col>: ` on stderr when the case has a location
//!   (`<file>` is the path exactly as given on the command line),
//! * say what is wrong: stderr (with the file name removed, so a name like
//!   `07-duplicate-module.yaml` cannot satisfy "duplicate" by itself) contains the
//!   expected substring, case-insensitively,
//! * write nothing: `git for-each-ref` is identical before and after,
//! * finish in under 1 s of wall time, under a 200 MiB address-space limit.
//!
//! `tests/corpus/bad/EXPECT.tsv` has one line per corpus file, three tab-separated fields:
//!
//! ```text
//! <file name> <TAB> <line:col | - | *> <TAB> <substring>[|<alternative>...]
//! ```
//!
//! `line:col` is 1-based and must appear exactly. `-` means no location can exist.
//! `*` means a location must be printed but its exact value is a tuning choice (where an alias
//! bomb runs out of budget depends on the configured budget). The substring field may list
//! alternatives separated by `|`; one of them must appear. Lines that are empty or start
//! with `#` are ignored.
//!
//! A positive control (a small valid fleet.yaml run through the same wrapper) makes sure the
//! test cannot pass just because every run fails.

use crate::common;
use common::{Run, TestEnv};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Address-space limit for each run, in KiB (200 MiB).
///
/// Why a virtual-memory limit: `ulimit -v` (RLIMIT_AS) is enforced by the kernel on every
/// mapping, so an allocation that would take the process past it fails at once; Rust then
/// aborts (SIGABRT, no exit code), which this test reports as a failure because the exit code
/// must be 2. Resident memory can never exceed the address space, so 200 MiB virtual bounds
/// resident memory well under it, without depending on cgroups, /proc sampling or timing.
/// An alias bomb or a 10,000-deep document that a parser tried to materialise would blow
/// through it long before it touched swap. The debug binary's own baseline (code, thread
/// stacks, allocator arenas) is a few tens of MiB, and the positive control below runs under
/// the same limit to prove that the limit by itself does not make a valid run fail.
const MEM_LIMIT_KIB: u64 = 204_800;

/// Every refusal must be quick: limits are checked before work is done, not after.
const TIME_LIMIT: Duration = Duration::from_secs(1);

/// The shell wrapper: set the limit, then replace the shell with the binary ("$0" is the
/// binary, "$@" its arguments), so exit codes and signals are the binary's own.
fn wrapper_script() -> String {
    format!("ulimit -v {MEM_LIMIT_KIB}; exec \"$0\" \"$@\"")
}

#[derive(Clone, Debug)]
enum Loc {
    /// No location can exist.
    None,
    /// Some `line:col` must be printed; its value is not pinned.
    Any,
    /// Exactly this 1-based `line:col`.
    At(u64, u64),
}

#[derive(Clone, Debug)]
struct Case {
    file: String,
    loc: Loc,
    /// One of these (lowercase) must appear in stderr.
    expect: Vec<String>,
}

impl Case {
    fn new(file: &str, loc: Loc, expect: &str) -> Case {
        Case {
            file: file.to_string(),
            loc,
            expect: expect.split('|').map(|s| s.trim().to_lowercase()).collect(),
        }
    }
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/bad")
}

fn load_expectations() -> Vec<Case> {
    let path = corpus_dir().join("EXPECT.tsv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut cases = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        assert_eq!(
            fields.len(),
            3,
            "EXPECT.tsv line {}: want 3 tab-separated fields, got {line:?}",
            i + 1
        );
        let loc = match fields[1] {
            "-" => Loc::None,
            "*" => Loc::Any,
            lc => {
                let (l, c) = lc
                    .split_once(':')
                    .unwrap_or_else(|| panic!("EXPECT.tsv line {}: bad location {lc:?}", i + 1));
                Loc::At(
                    l.parse()
                        .unwrap_or_else(|_| panic!("EXPECT.tsv line {}: bad line", i + 1)),
                    c.parse()
                        .unwrap_or_else(|_| panic!("EXPECT.tsv line {}: bad col", i + 1)),
                )
            }
        };
        assert!(
            !fields[2].trim().is_empty(),
            "EXPECT.tsv line {}: empty substring",
            i + 1
        );
        cases.push(Case::new(fields[0], loc, fields[2]));
    }
    cases
}

struct Timed {
    run: Run,
    elapsed: Duration,
}

/// Run `git-fleet ARGS` in `cwd` under the memory limit, timing the whole process.
fn fleet_limited(env: &TestEnv, cwd: &Path, args: &[&str]) -> Timed {
    let start = Instant::now();
    let out = env
        .command("sh", cwd)
        .arg("-c")
        .arg(wrapper_script())
        .arg(common::bin())
        .args(args)
        .output()
        .expect("spawn sh");
    let elapsed = start.elapsed();
    Timed {
        run: Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        },
        elapsed,
    }
}

/// Does `s` contain `error: <file>:<digits>:<digits>: `?
fn has_some_location(s: &str, file: &str) -> bool {
    let prefix = format!("error: {file}:");
    let mut rest = s;
    while let Some(i) = rest.find(&prefix) {
        let after = &rest[i + prefix.len()..];
        let l = after.chars().take_while(|c| c.is_ascii_digit()).count();
        if l > 0 && after[l..].starts_with(':') {
            let after_col = &after[l + 1..];
            let c = after_col.chars().take_while(|c| c.is_ascii_digit()).count();
            if c > 0 && after_col[c..].starts_with(": ") {
                return true;
            }
        }
        rest = &rest[i + prefix.len()..];
    }
    false
}

fn clip(s: &str) -> String {
    const MAX: usize = 800;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... [{} bytes]", &s[..end], s.len())
}

/// Run both commands on `case.file` (already present in `repo`) and return every way in which
/// the binary misbehaved, one entry per command that did.
fn check_refused(env: &TestEnv, repo: &Path, case: &Case) -> Vec<String> {
    let file = case.file.as_str();
    let commands: [(&[&str], i32); 3] = [
        (&["snapshot", "staging", "--from", file], 2),
        (&["diff", "--file", file], 2),
        (&["diff", "--check", "--file", file], 1),
    ];
    let mut failures = Vec::new();
    for (args, want_code) in commands {
        let before = env.refs(repo);
        let t = fleet_limited(env, repo, args);
        let after = env.refs(repo);
        let stderr = &t.run.stderr;
        let mut problems = Vec::new();

        if t.run.code != want_code {
            problems.push(format!("exit code {} (want {want_code})", t.run.code));
        }
        match &case.loc {
            Loc::At(l, c) => {
                let want = format!("error: {file}:{l}:{c}: ");
                if !stderr.contains(&want) {
                    problems.push(format!("stderr lacks {want:?}"));
                }
            }
            Loc::Any => {
                if !has_some_location(stderr, file) {
                    problems.push(format!("stderr lacks \"error: {file}:<line>:<col>: \""));
                }
            }
            Loc::None => {
                if !stderr.contains(&format!("error: {file}")) {
                    problems.push(format!("stderr lacks \"error: {file}\""));
                }
            }
        }
        let message = stderr.replace(file, "").to_lowercase();
        if !case.expect.iter().any(|s| message.contains(s.as_str())) {
            problems.push(format!("stderr lacks any of {:?}", case.expect));
        }
        if before != after {
            problems.push(format!(
                "refs changed:\n--- before\n{before}--- after\n{after}"
            ));
        }
        if t.elapsed >= TIME_LIMIT {
            problems.push(format!("took {:?} (limit {:?})", t.elapsed, TIME_LIMIT));
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{file}: `git-fleet {}`: {}\n    stderr: {}\n    stdout: {}",
                args.join(" "),
                problems.join("; "),
                clip(stderr.trim_end()).replace('\n', "\n            "),
                clip(t.run.stdout.trim_end()).replace('\n', "\n            "),
            ));
        }
    }
    failures
}

/// Put `bytes` at `<fresh repo>/<case.file>` and check both commands refuse it.
fn check_bytes_refused(env: &TestEnv, case: &Case, bytes: &[u8]) -> Vec<String> {
    let repo_name = format!("repo-{}", case.file.trim_end_matches(".yaml"));
    let repo = env.repo(&repo_name);
    std::fs::write(repo.join(&case.file), bytes).unwrap();
    check_refused(env, &repo, case)
}

fn report(failures: &[String], total: usize) {
    if !failures.is_empty() {
        panic!(
            "{} failure(s) over {} case(s):\n\n{}\n",
            failures.len(),
            total,
            failures.join("\n\n")
        );
    }
}

#[test]
fn expectations_cover_the_corpus() {
    let cases = load_expectations();
    let mut listed: Vec<String> = cases.iter().map(|c| c.file.clone()).collect();
    let mut on_disk: Vec<String> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    listed.sort();
    on_disk.sort();
    let mut dedup = listed.clone();
    dedup.dedup();
    assert_eq!(dedup, listed, "EXPECT.tsv lists a file twice");
    assert_eq!(
        listed, on_disk,
        "EXPECT.tsv and tests/corpus/bad/*.yaml disagree"
    );
    assert!(cases.len() >= 30, "corpus too small: {}", cases.len());
}

#[test]
fn corpus_files_are_refused() {
    let _load = common::timed();
    let env = TestEnv::new();
    let cases = load_expectations();
    let mut failures = Vec::new();
    for case in &cases {
        let bytes = std::fs::read(corpus_dir().join(&case.file)).unwrap();
        failures.extend(check_bytes_refused(&env, case, &bytes));
    }
    report(&failures, cases.len());
}

/// The size limit is 1 MiB = 1,048,576 bytes, checked before parsing.
const MIB: usize = 1 << 20;

/// A valid fleet.yaml of exactly `len` bytes (len must be > ~1 KiB): modules with long
/// config strings (few YAML nodes per byte, so only the size limit can matter), then a
/// comment that pads to the exact length.
fn valid_fleet_of_len(len: usize) -> Vec<u8> {
    let mut s = String::from("modules:\n");
    let filler = "x".repeat(200);
    let mut i = 0;
    loop {
        let entry =
            format!("  m{i:05}: {{priority: 50, variety: config, config: {{note: {filler}}}}}\n");
        // Leave room for the padding comment ("#" + at least one byte + "\n").
        if s.len() + entry.len() + 3 > len {
            break;
        }
        s.push_str(&entry);
        i += 1;
    }
    let pad = len - s.len() - 2; // "#" + pad + "\n"
    s.push('#');
    s.push_str(&"p".repeat(pad));
    s.push('\n');
    assert_eq!(s.len(), len);
    s.into_bytes()
}

#[test]
fn file_over_one_mib_is_refused() {
    let _load = common::timed();
    let env = TestEnv::new();
    let case = Case::new(
        "gen-too-large.yaml",
        Loc::None,
        "large|size|mib|bytes|limit",
    );
    let failures = check_bytes_refused(&env, &case, &valid_fleet_of_len(MIB + 1));
    report(&failures, 1);
}

#[test]
fn file_of_exactly_one_mib_is_accepted() {
    let _load = common::timed();
    // The limit is "> 1 MiB": the same content one byte shorter must pass, so the refusal
    // above is the size check and not something else in the file. No time limit here: a
    // full parse of 1 MiB in a debug build is allowed to be slower than a refusal.
    let env = TestEnv::new();
    let repo = env.repo("repo-exactly-1mib");
    std::fs::write(repo.join("fleet.yaml"), valid_fleet_of_len(MIB)).unwrap();
    let run = env.fleet(&repo, &["diff", "--check", "--file", "fleet.yaml"]);
    assert_eq!(
        run.code,
        0,
        "exactly 1 MiB must be accepted; stderr: {}",
        clip(&run.stderr)
    );
}

#[test]
fn generated_cases_are_refused() {
    let _load = common::timed();
    let env = TestEnv::new();
    let mut failures = Vec::new();
    let mut total = 0;
    let mut check = |case: Case, bytes: Vec<u8>| {
        total += 1;
        failures.extend(check_bytes_refused(&env, &case, &bytes));
    };

    // Non-UTF-8: a 0xff byte at line 3, column 17 (everything before it is ASCII, so byte
    // and character columns agree).
    check(
        Case::new("gen-non-utf8.yaml", Loc::At(3, 17), "utf-8|utf8"),
        b"modules:\n  nginx:\n    variety: caf\xff\n".to_vec(),
    );

    // Latin-1 text saved by an old editor: "é" as the single byte 0xe9 inside a config value.
    check(
        Case::new("gen-latin1.yaml", Loc::At(4, 16), "utf-8|utf8"),
        b"modules:\n  nginx:\n    config:\n      motd: caf\xe9 ouvert\n".to_vec(),
    );

    // 10,000 levels of flow sequences inside a module's config (limit: 64).
    let mut flow = String::from("modules:\n  deep:\n    config:\n      x: ");
    flow.push_str(&"[".repeat(10_000));
    flow.push_str(&"]".repeat(10_000));
    flow.push('\n');
    check(
        Case::new(
            "gen-deep-flow-10000.yaml",
            Loc::Any,
            "nest|deep|depth|recursion",
        ),
        flow.into_bytes(),
    );

    // 10,000 levels of block sequences on one line (`- - - ... leaf`): block nesting without
    // a 100 MB file of indentation.
    let mut block = String::from("modules:\n  deep:\n    config:\n      x:\n        ");
    block.push_str(&"- ".repeat(10_000));
    block.push_str("leaf\n");
    check(
        Case::new(
            "gen-deep-block-10000.yaml",
            Loc::Any,
            "nest|deep|depth|recursion",
        ),
        block.into_bytes(),
    );

    // 10,000 levels of flow mappings, `{a: {a: ... 1}}`. (Block mappings would need one
    // line per level with growing indentation: ~100 MB at 10,000 levels; the 70-level block
    // case is in the corpus as 49-nesting-70-block.yaml.)
    let mut maps = String::from("modules:\n  deep:\n    config:\n      x: ");
    maps.push_str(&"{a: ".repeat(10_000));
    maps.push('1');
    maps.push_str(&"}".repeat(10_000));
    maps.push('\n');
    check(
        Case::new(
            "gen-deep-flow-map-10000.yaml",
            Loc::Any,
            "nest|deep|depth|recursion",
        ),
        maps.into_bytes(),
    );

    // Alias bomb, 9 levels of 10x (10^9 leaves if expanded), as sequences inside a module's
    // config: the typed config path.
    let mut bomb = String::from("modules:\n  bomb:\n    config:\n");
    bomb.push_str("      l0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..9 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        bomb.push_str(&format!("      l{i}: &a{i} [{refs}]\n"));
    }
    check(
        Case::new("gen-alias-bomb-seq.yaml", Loc::Any, "alias"),
        bomb.into_bytes(),
    );

    // The same bomb built from mappings under provider_configs (informational, untyped:
    // a different code path that must be bounded too).
    let mut bomb = String::from("provider_configs:\n  bomb:\n");
    bomb.push_str(
        "    l0: &a0 {a: lol, b: lol, c: lol, d: lol, e: lol, f: lol, g: lol, h: lol, i: lol, j: lol}\n",
    );
    for i in 1..9 {
        let refs: Vec<String> = "abcdefghij"
            .chars()
            .map(|k| format!("{k}: *a{}", i - 1))
            .collect();
        bomb.push_str(&format!("    l{i}: &a{i} {{{}}}\n", refs.join(", ")));
    }
    check(
        Case::new("gen-alias-bomb-map.yaml", Loc::Any, "alias"),
        bomb.into_bytes(),
    );

    report(&failures, total);
}

/// A small valid fleet.yaml touching every kind and field, boundary priorities (0 and 100),
/// names with dots and underscores, nested config values and a disabled assignment.
const VALID_FLEET: &str = "\
templates:
  web-server:
    name: web-server
    description: Standard nginx node
    node_platform_id: 0b7c2f4e-1a2b-4c3d-9e8f-001122334455
  db.primary_v2:
    description: Database node
modules:
  nginx-public:
    name: nginx-public
    priority: 50
    variety: config
    config:
      nginx_workers: 4
      listen: [80, 443]
      tls: {enabled: true, protocols: [TLSv1.2, TLSv1.3]}
  base:
    priority: 0
    config: {ntp: pool.ntp.org, motd: \"caf\u{e9} \u{2014} welcome\"}
  hardening:
    priority: 100
    variety: policy
    config: {}
assignments:
  app-01:nginx-public: {enabled: true, priority: 60}
  app-01:base: {}
  app-02.eu_west:hardening:
    priority: 100
    config:
      nginx_workers: 8
  app-03:nginx-public: {enabled: false}
provider_configs:
  aws: {region: eu-west-1, profile: fleet, tags: {team: ops}}
";

#[test]
fn valid_fleet_is_accepted_under_the_same_limits() {
    let _load = common::timed();
    let env = TestEnv::new();
    let repo = env.repo("repo-valid");
    std::fs::write(repo.join("fleet.yaml"), VALID_FLEET).unwrap();

    let check = fleet_limited(&env, &repo, &["diff", "--check", "--file", "fleet.yaml"]);
    assert_eq!(
        check.run.code, 0,
        "diff --check on a valid fleet.yaml must exit 0\nstderr: {}\nstdout: {}",
        check.run.stderr, check.run.stdout
    );
    assert!(
        check.elapsed < TIME_LIMIT,
        "diff --check took {:?}",
        check.elapsed
    );

    let before = env.refs(&repo);
    let snap = fleet_limited(
        &env,
        &repo,
        &["snapshot", "staging", "--from", "fleet.yaml"],
    );
    assert_eq!(
        snap.run.code, 0,
        "snapshot of a valid fleet.yaml must exit 0\nstderr: {}\nstdout: {}",
        snap.run.stderr, snap.run.stdout
    );
    let after = env.refs(&repo);
    // The refusal tests compare refs before and after; this shows that comparison is able
    // to see a write at all.
    assert_ne!(before, after, "snapshot wrote no ref");
    assert!(
        after.contains("refs/fleet/live/staging "),
        "snapshot did not write refs/fleet/live/staging:\n{after}"
    );
}

// Issue 12, rough edge 4: messages in the user's words, at the right place,
// with the offending line and a caret under it.

/// Run `args` in `repo` and check it is refused (exit 2) without writing a ref.
fn refused(env: &TestEnv, repo: &Path, args: &[&str]) -> String {
    let before = env.refs(repo);
    let run = env.fleet(repo, args);
    assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
    assert_eq!(before, env.refs(repo), "{args:?} wrote refs");
    run.stderr
}

#[test]
fn toml_wrong_type_names_the_key_not_a_rust_type() {
    let env = TestEnv::new();
    let repo = env.repo("work");
    std::fs::write(
        repo.join("fleet.toml"),
        "[targets.staging]\nmax_proposals = \"ten\"\n",
    )
    .unwrap();
    let stderr = refused(&env, &repo, &["diff"]);
    assert!(
        stderr.contains("error: fleet.toml:2:17: 'max_proposals' must be a whole number"),
        "{stderr}"
    );
    assert!(!stderr.contains("usize"), "{stderr}");

    std::fs::remove_file(repo.join("fleet.toml")).unwrap();
    std::fs::write(
        repo.join(".git/fleet.local.toml"),
        "[peers.web]\nlocation = \"/srv/web\"\ntimeout = \"ten\"\n",
    )
    .unwrap();
    let stderr = refused(&env, &repo, &["peers", "list"]);
    assert!(
        stderr.contains("error: .git/fleet.local.toml:3:11: 'timeout' must be a whole number"),
        "{stderr}"
    );
    assert!(!stderr.contains("u64"), "{stderr}");
}

#[test]
fn toml_duplicate_key_names_the_key() {
    let env = TestEnv::new();
    let repo = env.repo("work");
    std::fs::write(
        repo.join("fleet.toml"),
        "[targets.staging]\nauto_apply = true\nauto_apply = false\n",
    )
    .unwrap();
    let stderr = refused(&env, &repo, &["diff"]);
    assert!(
        stderr.contains("error: fleet.toml:3:1: duplicate key 'auto_apply'"),
        "{stderr}"
    );

    std::fs::write(
        repo.join("fleet.toml"),
        "[targets.staging]\nauto_apply = true\n\n[targets.staging]\n",
    )
    .unwrap();
    let stderr = refused(&env, &repo, &["diff"]);
    assert!(
        stderr.contains("error: fleet.toml:4:10: table [targets.staging] is defined twice"),
        "{stderr}"
    );

    std::fs::remove_file(repo.join("fleet.toml")).unwrap();
    std::fs::write(
        repo.join(".git/fleet.local.toml"),
        "[peers.web]\nlocation = \"/srv/a\"\nlocation = \"/srv/b\"\n",
    )
    .unwrap();
    let stderr = refused(&env, &repo, &["peers", "list"]);
    assert!(
        stderr.contains("error: .git/fleet.local.toml:3:1: duplicate key 'location'"),
        "{stderr}"
    );
}

#[test]
fn yaml_tab_indent_is_reported_on_the_line_it_indents() {
    let env = TestEnv::new();
    let repo = env.repo("work");
    // The scanner notices this tab while reading line 3's value.
    std::fs::write(
        repo.join("tab.yaml"),
        "modules:\n  nginx:\n    priority: 10\n\tvariety: web\n",
    )
    .unwrap();
    let stderr = refused(&env, &repo, &["diff", "--file", "tab.yaml"]);
    assert!(
        stderr.contains("error: tab.yaml:4:1: a tab indents this line"),
        "{stderr}"
    );
}

#[test]
fn yaml_wrong_type_names_the_key_and_the_value() {
    let env = TestEnv::new();
    let repo = env.repo("work");
    std::fs::write(
        repo.join("bad.yaml"),
        "modules:\n  nginx:\n    priority: high\n",
    )
    .unwrap();
    let stderr = refused(&env, &repo, &["diff", "--file", "bad.yaml"]);
    assert!(
        stderr.contains("error: bad.yaml:3:15: 'priority' must be an integer, found 'high'"),
        "{stderr}"
    );
}

#[test]
fn a_located_error_shows_its_line_with_a_caret() {
    let env = TestEnv::new();
    let repo = env.repo("work");
    std::fs::write(
        repo.join("bad.yaml"),
        "modules:\n  nginx:\n    priority: high\n",
    )
    .unwrap();
    let stderr = refused(&env, &repo, &["diff", "--file", "bad.yaml"]);
    let lines: Vec<&str> = stderr.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("error: bad.yaml:3:15: "))
        .expect(&stderr);
    assert_eq!(
        lines[at + 1..at + 4],
        ["  |", "3 |     priority: high", "  |               ^^^^"],
        "{stderr}"
    );

    // The same problem in --json keeps the documented shape and adds the line.
    let run = env.fleet(&repo, &["diff", "--file", "bad.yaml", "--json"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect(&run.stdout);
    assert_eq!(v["version"], 1);
    assert_eq!(v["error"]["code"], "invalid");
    assert_eq!(v["error"]["location"]["line"], 3);
    assert_eq!(
        v["error"]["problems"][0]["source_line"],
        "    priority: high"
    );

    // A toml problem: the span is underlined.
    std::fs::write(
        repo.join("fleet.toml"),
        "[targets.staging]\nmax_proposals = \"ten\"\n",
    )
    .unwrap();
    let stderr = refused(&env, &repo, &["diff"]);
    assert!(
        stderr.contains("2 | max_proposals = \"ten\"\n  |                 ^^^^^\n"),
        "{stderr}"
    );
}

#[test]
fn toml_messages_say_what_is_wrong_in_words() {
    let env = TestEnv::new();
    let repo = env.repo("work");
    // (fleet.toml, where, what the message says)
    let cases = [
        (
            "[targets.staging]\nauto_apply = yes\n",
            "2:14",
            "'auto_apply = yes' is not a TOML value",
        ),
        (
            "[targets.staging]\nmax_proposals = 99999999999999999999999\n",
            "2:17",
            "'max_proposals' must be a whole number (0 or more), found integer `99999999999999999999999`, which is too large",
        ),
        (
            "[peers]\nweb = 1\n",
            "2:7",
            "'web' must be a table, found integer `1`",
        ),
        (
            "[peers.web]\nlocation = \"/srv/web\"\ntransport = \"telnet\"\n",
            "3:13",
            "'transport' must be `libssh2` or `openssh`, found `telnet`",
        ),
        (
            "[targets.staging]\ndesired = \"fleet.yaml\n",
            "2:11",
            "unclosed string",
        ),
    ];
    for (toml, at, says) in cases {
        std::fs::write(repo.join("fleet.toml"), toml).unwrap();
        let stderr = refused(&env, &repo, &["diff"]);
        assert!(
            stderr.contains(&format!("error: fleet.toml:{at}: {says}")),
            "{toml:?}: {stderr}"
        );
        for raw in [
            "usize",
            "i128",
            "struct ",
            "PeerEntry",
            "literal string",
            "variant",
        ] {
            assert!(!stderr.contains(raw), "{toml:?}: {raw:?} in {stderr}");
        }
    }
}

#[test]
fn the_snippet_is_colored_only_when_color_is_on() {
    let env = TestEnv::new();
    let repo = env.repo("work");
    std::fs::write(
        repo.join("bad.yaml"),
        "modules:\n  nginx:\n    priority: high\n",
    )
    .unwrap();
    let plain = refused(&env, &repo, &["diff", "--file", "bad.yaml"]);
    assert!(!plain.contains('\x1b'), "{plain}");
    let colored = refused(
        &env,
        &repo,
        &["--color=always", "diff", "--file", "bad.yaml"],
    );
    let caret = colored
        .lines()
        .find(|l| l.contains("^^^^"))
        .expect(&colored);
    assert!(caret.contains('\x1b'), "{colored}");
}

#[test]
fn yaml_syntax_errors_say_what_to_fix() {
    let env = TestEnv::new();
    let repo = env.repo("work");
    let cases = [
        (
            "modules:\n  nginx:\n    priority: 1\n   variety: web\n",
            "4:4",
            "this line is not indented like the keys above it",
        ),
        (
            "modules:\n  nginx:\n    name: nginx\n      priority: 50\n",
            "4:15",
            "a 'key: value' is not allowed here: check this line's indentation",
        ),
        (
            "modules:\n  nginx:\n    variety: @web\n",
            "3:14",
            "'@' cannot start a plain value (it is reserved in YAML): put the value in quotes",
        ),
    ];
    for (yaml, at, says) in cases {
        std::fs::write(repo.join("bad.yaml"), yaml).unwrap();
        let stderr = refused(&env, &repo, &["diff", "--file", "bad.yaml"]);
        assert!(
            stderr.contains(&format!("error: bad.yaml:{at}: {says}")),
            "{yaml:?}: {stderr}"
        );
    }
}
