//! The CLI end to end: the real binary on real repositories.

use crate::common;
use common::TestEnv;
use std::path::Path;

const FLEET: &str = include_str!("../../examples/fleet.yaml");

fn setup(env: &TestEnv) -> std::path::PathBuf {
    let repo = env.repo("work");
    std::fs::write(repo.join("fleet.yaml"), FLEET).unwrap();
    repo
}

fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not one JSON object ({e}): {stdout}"))
}

fn edit(repo: &Path, from: &str, to: &str) {
    let path = repo.join("fleet.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "fixture lacks {from:?}");
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn init_is_idempotent_and_adds_refspecs_to_origin() {
    let env = TestEnv::new();
    let origin = env.root().join("origin.git");
    env.git(
        env.root(),
        &["init", "-q", "--bare", origin.to_str().unwrap()],
    );
    let repo = setup(&env);
    env.git(
        &repo,
        &["remote", "add", "origin", origin.to_str().unwrap()],
    );

    let first = env.fleet(&repo, &["init", "--json"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let first = json(&first.stdout);
    assert_eq!(first["version"], 1);
    assert_eq!(first["remote"], "origin");
    assert!(first["changed"].as_array().unwrap().len() >= 3, "{first}");
    assert!(repo.join("fleet.toml").exists());
    let fetch = env.git(&repo, &["config", "--get-all", "remote.origin.fetch"]);
    assert!(
        fetch.contains("+refs/fleet/*:refs/fleet-remote/origin/fleet/*"),
        "{fetch}"
    );
    assert!(
        fetch.contains("+refs/notes/fleet/*:refs/fleet-remote/origin/notes/fleet/*"),
        "{fetch}"
    );
    assert_eq!(
        env.git(&repo, &["config", "--get-all", "notes.displayRef"]),
        "refs/notes/fleet/receipts\n"
    );

    // fleet.toml as written parses (everything commented out).
    let toml = std::fs::read_to_string(repo.join("fleet.toml")).unwrap();
    assert!(toml
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')));

    let second = env.fleet(&repo, &["init", "--json"]);
    assert_eq!(second.code, 0);
    let second = json(&second.stdout);
    assert_eq!(second["changed"].as_array().unwrap().len(), 0, "{second}");
    let fetch_again = env.git(&repo, &["config", "--get-all", "remote.origin.fetch"]);
    assert_eq!(fetch, fetch_again, "init must not add refspecs twice");
}

#[test]
fn snapshot_then_diff_shows_field_changes_and_blast_radius() {
    let env = TestEnv::new();
    let repo = setup(&env);
    let snap = env.fleet(&repo, &["snapshot", "staging", "-m", "baseline"]);
    assert_eq!(snap.code, 0, "{}", snap.stderr);
    assert!(snap.stdout.contains("refs/fleet/live/staging"));

    let same = env.fleet(&repo, &["diff", "--exit-code"]);
    assert_eq!(same.code, 0, "{}", same.stderr);
    assert!(same.stdout.contains("no differences"));

    edit(&repo, "nginx_workers: 4", "nginx_workers: 6");
    edit(
        &repo,
        "app-03:nginx-public: {enabled: false}",
        "app-03:nginx-public: {enabled: true}",
    );
    edit(&repo, "  db-01:postgres: {enabled: true}\n", "");

    let human = env.fleet(&repo, &["diff", "staging"]);
    assert_eq!(
        human.code, 0,
        "diff without --exit-code exits 0: {}",
        human.stderr
    );
    insta_like(
        &human.stdout,
        "modules (1)
  ~ update nginx-public                             fan-out 3 x density 2 = 6, measured 1
      config.nginx_workers: 4 -> 6
assignments (2)
  ~ update app-03:nginx-public                      fan-out 1 x density 2 = 2, measured 2
      enabled: false -> true
  - destroy db-01:postgres                           fan-out 1 x density 1 = 1, measured 1
      enabled: true -> (absent)
total: 3 changes (0 create, 2 update, 1 destroy); blast radius: 4 nodes reached, estimate 9 (fan-out x density), measured 4 rendered values
",
    );

    let out = env.fleet(&repo, &["diff", "--json", "--exit-code"]);
    assert_eq!(out.code, 1, "--exit-code with differences exits 1");
    let v = json(&out.stdout);
    assert_eq!(v["version"], 1);
    assert_eq!(v["target"], "staging");
    let changes = v["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 3);
    let module = &changes[0];
    assert_eq!(module["kind"], "modules");
    assert_eq!(module["name"], "nginx-public");
    assert_eq!(module["change"], "update");
    assert_eq!(module["fields"][0]["field"], "config.nginx_workers");
    assert_eq!(module["fields"][0]["before"], 4);
    assert_eq!(module["fields"][0]["after"], 6);
    // app-01 sees the new worker count; app-02 overrides it; app-03 is still disabled live.
    assert_eq!(module["blast_radius"]["fan_out"], 3);
    assert_eq!(module["blast_radius"]["density"], 2);
    assert_eq!(module["blast_radius"]["estimate"], 6);
    assert_eq!(module["blast_radius"]["measured"], 1);
    assert_eq!(v["totals"]["destroy"], 1);
    assert_eq!(v["totals"]["blast_radius"]["measured"], 4);

    let stat = env.fleet(&repo, &["diff", "--stat"]);
    assert!(
        !stat.stdout.contains("config.nginx_workers"),
        "--stat hides fields"
    );
    assert!(stat.stdout.contains("total: 3 changes"));
}

/// Exact comparison with a readable failure (output is the product).
fn insta_like(actual: &str, expected: &str) {
    assert!(
        actual == expected,
        "output differs\n--- expected\n{expected}\n--- actual\n{actual}"
    );
}

#[test]
fn diff_reads_staged_and_revisions() {
    let env = TestEnv::new();
    let repo = setup(&env);
    env.git(&repo, &["add", "fleet.yaml"]);
    env.git(&repo, &["commit", "-q", "-m", "fleet"]);
    assert_eq!(env.fleet(&repo, &["snapshot", "prod"]).code, 0);

    edit(&repo, "max_connections: 200", "max_connections: 300");
    env.git(&repo, &["add", "fleet.yaml"]);
    edit(&repo, "max_connections: 300", "max_connections: 400");

    let staged = json(
        &env.fleet(&repo, &["diff", "prod", "--staged", "--json"])
            .stdout,
    );
    assert_eq!(staged["changes"][0]["fields"][0]["after"], 300);
    let worktree = json(&env.fleet(&repo, &["diff", "prod", "--json"]).stdout);
    assert_eq!(worktree["changes"][0]["fields"][0]["after"], 400);
    let head = json(
        &env.fleet(&repo, &["diff", "prod", "--rev", "HEAD", "--json"])
            .stdout,
    );
    assert_eq!(head["changes"].as_array().unwrap().len(), 0);
}

#[test]
fn unknown_target_is_an_error_that_lists_known_targets() {
    let env = TestEnv::new();
    let repo = setup(&env);
    assert_eq!(env.fleet(&repo, &["snapshot", "staging"]).code, 0);
    assert_eq!(env.fleet(&repo, &["snapshot", "prod"]).code, 0);
    let before = env.refs(&repo);

    let typo = env.fleet(&repo, &["diff", "stagin"]);
    assert_eq!(typo.code, 2);
    assert!(
        typo.stderr.contains("unknown target 'stagin'"),
        "{}",
        typo.stderr
    );
    assert!(typo.stderr.contains("prod, staging"), "{}", typo.stderr);

    let ambiguous = env.fleet(&repo, &["diff"]);
    assert_eq!(ambiguous.code, 2);
    assert!(
        ambiguous.stderr.contains("several targets"),
        "{}",
        ambiguous.stderr
    );
    assert_eq!(before, env.refs(&repo), "errors write nothing");
}

#[test]
fn declared_target_without_snapshot_diffs_against_empty_live_state_only_when_asked() {
    let env = TestEnv::new();
    let repo = setup(&env);
    std::fs::create_dir_all(repo.join("envs/edge")).unwrap();
    std::fs::write(repo.join("envs/edge/fleet.yaml"), FLEET).unwrap();
    std::fs::write(
        repo.join("fleet.toml"),
        "[targets.edge]\npath_prefix = \"envs/edge\"\n",
    )
    .unwrap();
    let refused = env.fleet(&repo, &["diff", "--json"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("no live snapshot for target edge"));
    let v = json(
        &env.fleet(&repo, &["diff", "--json", "--allow-empty-live"])
            .stdout,
    );
    assert_eq!(v["target"], "edge");
    assert_eq!(v["desired"], "envs/edge/fleet.yaml");
    assert_eq!(v["snapshot"], serde_json::Value::Null);
    assert_eq!(v["totals"]["create"], 10);
}

#[test]
fn bad_fleet_toml_names_its_location() {
    let env = TestEnv::new();
    let repo = setup(&env);
    std::fs::write(
        repo.join("fleet.toml"),
        "[targets.x]\npath_prefix = \"../outside\"\n",
    )
    .unwrap();
    let out = env.fleet(&repo, &["diff"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("fleet.toml:2:"), "{}", out.stderr);
    std::fs::write(repo.join("fleet.toml"), "[targets.x]\nbogus = 1\n").unwrap();
    let out = env.fleet(&repo, &["diff"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("fleet.toml:2:1"), "{}", out.stderr);
    std::fs::write(
        repo.join("fleet.toml"),
        "[targets.x]\ndriver = \"exec\"\nlive = \"fetch https://bob:hunter2@example.com/x\"\n",
    )
    .unwrap();
    let out = env.fleet(&repo, &["diff"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("inline credentials"), "{}", out.stderr);
}

#[test]
fn check_validates_only_and_exits_1_on_a_problem() {
    let env = TestEnv::new();
    let repo = setup(&env);
    let ok = env.fleet(&repo, &["diff", "--check"]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    edit(
        &repo,
        "  db-01:postgres: {enabled: true}",
        "  db-01:mysql: {enabled: true}",
    );
    let bad = env.fleet(&repo, &["diff", "--check", "--json"]);
    assert_eq!(bad.code, 1);
    let v = json(&bad.stdout);
    assert_eq!(v["ok"], false);
    assert_eq!(v["problems"][0]["line"], 41);
    assert!(v["problems"][0]["message"]
        .as_str()
        .unwrap()
        .contains("undefined module 'mysql'"));
}

#[test]
fn snapshot_of_bad_input_writes_nothing() {
    let env = TestEnv::new();
    let repo = setup(&env);
    let before = env.refs(&repo);
    let bad = env.fleet_stdin(
        &repo,
        &["snapshot", "staging", "--from", "-"],
        b"modules:\n  a: {priority: 500}\n",
    );
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr
            .contains("<stdin>:2:17: module 'a' has priority 500"),
        "{}",
        bad.stderr
    );
    assert_eq!(before, env.refs(&repo));
    let bad_name = env.fleet(&repo, &["snapshot", "../x"]);
    assert_eq!(bad_name.code, 2);
    assert_eq!(before, env.refs(&repo));
}

#[test]
fn snapshot_log_lists_history_newest_first() {
    let env = TestEnv::new();
    let repo = setup(&env);
    for m in ["first", "second", "third"] {
        assert_eq!(env.fleet(&repo, &["snapshot", "staging", "-m", m]).code, 0);
    }
    let log = env.fleet(&repo, &["snapshot", "--log", "staging"]);
    let subjects: Vec<&str> = log
        .stdout
        .lines()
        .map(|l| l.rsplit(' ').next().unwrap())
        .collect();
    assert_eq!(subjects, ["third", "second", "first"]);
    let v = json(
        &env.fleet(&repo, &["snapshot", "--log", "staging", "--json"])
            .stdout,
    );
    assert_eq!(v["snapshots"].as_array().unwrap().len(), 3);
    // People read the canonical YAML straight from git.
    let yaml = env.git(&repo, &["show", "refs/fleet/live/staging:fleet.yaml"]);
    assert!(yaml.contains("nginx-public"));
}

#[test]
fn render_merges_by_priority_with_assignment_overrides() {
    let env = TestEnv::new();
    let repo = setup(&env);
    let out = env.fleet(&repo, &["render", "app-01", "app-02", "app-03"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    insta_like(
        &out.stdout,
        "app-01
  listen_port = 443  (app-01:tls)
  nginx_workers = 4  (app-01:nginx-public)
  tls_protocols = \"TLSv1.3\"  (app-01:tls)
app-02
  listen_port = 80  (app-02:nginx-public)
  nginx_workers = 8  (app-02:nginx-public)
app-03
  (no enabled assignments)
",
    );
    let v = json(&env.fleet(&repo, &["render", "--json"]).stdout);
    assert_eq!(v["nodes"]["db-01"]["max_connections"]["value"], 200);
    let unknown = env.fleet(&repo, &["render", "nope"]);
    assert_eq!(unknown.code, 2);
    assert!(unknown.stderr.contains("unknown node 'nope'"));
}

#[test]
fn notes_are_readable_by_git() {
    let env = TestEnv::new();
    let repo = setup(&env);
    for block in [
        "Fleet-Peer: laptop\nFleet-Outcome: current",
        "Fleet-Peer: server\nFleet-Outcome: dirty",
    ] {
        let out = env.fleet(
            &repo,
            &["notes", "append", "--ref", "fanout", "HEAD", "-m", block],
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    // The same block twice is kept once (union of blocks).
    env.fleet(
        &repo,
        &[
            "notes",
            "append",
            "--ref",
            "fanout",
            "HEAD",
            "-m",
            "Fleet-Peer: laptop\nFleet-Outcome: current",
        ],
    );
    let shown = env.git(&repo, &["notes", "--ref=fleet/fanout", "show", "HEAD"]);
    assert_eq!(
        shown,
        "Fleet-Peer: laptop\nFleet-Outcome: current\n\nFleet-Peer: server\nFleet-Outcome: dirty\n"
    );
    let log = env.git(&repo, &["log", "-1", "--notes=fleet/fanout"]);
    assert!(log.contains("Fleet-Outcome: dirty"), "{log}");
    let ours = env.fleet(&repo, &["notes", "show", "--ref", "fanout"]);
    assert_eq!(ours.stdout, shown);
}

/// A note git wrote (flat, at the root of a small notes tree) gets the block
/// appended and moves to the two-level fanout: one note on the commit, git's
/// text first, and the other notes untouched.
#[test]
fn notes_append_extends_a_note_git_wrote_and_keeps_the_others() {
    let env = TestEnv::new();
    let repo = setup(&env);
    env.git(&repo, &["commit", "-q", "--allow-empty", "-m", "second"]);
    env.git(
        &repo,
        &["notes", "--ref=fleet/g", "add", "-m", "From git", "HEAD"],
    );
    env.git(
        &repo,
        &["notes", "--ref=fleet/g", "add", "-m", "Other", "HEAD~1"],
    );
    let head = env.git(&repo, &["rev-parse", "HEAD"]).trim().to_string();
    let flat = env.git(&repo, &["ls-tree", "--name-only", "refs/notes/fleet/g"]);
    assert!(
        flat.lines().any(|l| l == head),
        "git keeps a small notes tree flat: {flat}"
    );
    for _ in 0..2 {
        let out = env.fleet(
            &repo,
            &["notes", "append", "--ref", "g", "HEAD", "-m", "Fleet: 1"],
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    let shown = env.git(&repo, &["notes", "--ref=fleet/g", "show", "HEAD"]);
    assert_eq!(shown, "From git\n\nFleet: 1\n");
    let other = env.git(&repo, &["notes", "--ref=fleet/g", "show", "HEAD~1"]);
    assert_eq!(other, "Other\n");
    let paths = env.git(
        &repo,
        &["ls-tree", "-r", "--name-only", "refs/notes/fleet/g"],
    );
    let ours = format!("{}/{}/{}", &head[..2], &head[2..4], &head[4..]);
    assert!(
        paths.lines().any(|l| l == ours),
        "moved to the fanout: {paths}"
    );
    assert!(
        !paths.lines().any(|l| l == head),
        "the flat copy is gone: {paths}"
    );
    assert_eq!(
        env.git(&repo, &["notes", "--ref=fleet/g", "list"])
            .lines()
            .count(),
        2
    );
}

/// A notes ref whose tip holds the empty tree (git removed the last note, or
/// wrote the commit without writing the empty tree object) takes an append.
#[test]
fn notes_append_on_a_notes_commit_with_the_empty_tree() {
    let env = TestEnv::new();
    let repo = setup(&env);
    let empty = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
    let tip = env.git(&repo, &["commit-tree", empty, "-m", "no notes"]);
    env.git(&repo, &["update-ref", "refs/notes/fleet/e", tip.trim()]);
    let out = env.fleet(
        &repo,
        &["notes", "append", "--ref", "e", "HEAD", "-m", "E: 1"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let shown = env.git(&repo, &["notes", "--ref=fleet/e", "show", "HEAD"]);
    assert_eq!(shown, "E: 1\n");
    let parent = env.git(&repo, &["rev-parse", "refs/notes/fleet/e^"]);
    assert_eq!(
        parent.trim(),
        tip.trim(),
        "appended on top of the empty tip"
    );
}

/// A record ref is compared and swapped against the object it points at, as
/// git's ref updates are, not against that object peeled: a notes ref someone
/// pointed at an annotated tag is refused at once, with what it points at,
/// and nothing is written (peeled, the append built a commit on the tagged one
/// that would have dropped the tag, and failed only after retries with "the
/// reference changed").
#[test]
fn notes_append_on_a_ref_that_points_at_a_tag_is_refused_at_once() {
    let env = TestEnv::new();
    let repo = setup(&env);
    env.git(
        &repo,
        &["notes", "--ref=fleet/t", "add", "-m", "T: 0", "HEAD"],
    );
    env.git(
        &repo,
        &[
            "tag",
            "-a",
            "-m",
            "tagged notes",
            "t1",
            "refs/notes/fleet/t",
        ],
    );
    env.git(&repo, &["update-ref", "refs/notes/fleet/t", "refs/tags/t1"]);
    let tag = env.git(&repo, &["rev-parse", "refs/tags/t1"]);
    let objects = || env.git(&repo, &["count-objects"]);
    let before = objects();
    let started = std::time::Instant::now();
    let out = env.fleet(
        &repo,
        &["notes", "append", "--ref", "t", "HEAD", "-m", "T: 1"],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("got tag"),
        "names what the ref points at: {}",
        out.stderr
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(env.git(&repo, &["rev-parse", "refs/notes/fleet/t"]), tag);
    assert_eq!(objects(), before, "a refused append wrote objects");
}

/// A full object id is taken as an id (no prefix search), and still checked:
/// a missing object or one that is not a commit is refused, nothing written;
/// an annotated tag's id is peeled to its commit, whose note is appended to.
#[test]
fn notes_append_checks_a_full_object_id() {
    let env = TestEnv::new();
    let repo = setup(&env);
    let head = env.git(&repo, &["rev-parse", "HEAD"]);
    let head = head.trim();
    let ok = env.fleet(
        &repo,
        &["notes", "append", "--ref", "x", head, "-m", "A: 1"],
    );
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let tree = env.git(&repo, &["rev-parse", "HEAD^{tree}"]);
    let missing = "0123456789abcdef0123456789abcdef01234567";
    for (rev, says) in [
        (missing, "unknown revision"),
        (tree.trim(), "is not a commit"),
    ] {
        let out = env.fleet(&repo, &["notes", "append", "--ref", "y", rev, "-m", "A: 1"]);
        assert_eq!(out.code, 2, "{rev}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{rev}: {}", out.stderr);
    }
    let refs = env.git(&repo, &["for-each-ref", "refs/notes/fleet/y"]);
    assert_eq!(refs, "", "a refused append wrote a ref");

    env.git(&repo, &["tag", "-a", "-m", "release", "v1", head]);
    let tag = env.git(&repo, &["rev-parse", "refs/tags/v1"]);
    let out = env.fleet(
        &repo,
        &["notes", "append", "--ref", "x", tag.trim(), "-m", "A: 2"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let shown = env.git(&repo, &["notes", "--ref=fleet/x", "show", head]);
    assert_eq!(shown, "A: 1\n\nA: 2\n", "the tag's commit has the note");
}

/// The objects an append writes are git's loose objects: `git fsck` finds
/// nothing wrong, no temporary file is left, and the zlib level is the one
/// git would use (`core.looseCompression`, else `core.compression`).
#[test]
fn notes_append_writes_loose_objects_git_accepts_at_its_compression_level() {
    let env = TestEnv::new();
    let repo = setup(&env);
    let block = format!("Fleet-Size: {}", "a".repeat(4000));
    let mut sizes = Vec::new();
    for (i, (key, level)) in [("core.looseCompression", "0"), ("core.compression", "9")]
        .into_iter()
        .enumerate()
    {
        env.git(&repo, &["config", key, level]);
        let line = format!("{block}{i}");
        let out = env.fleet(
            &repo,
            &["notes", "append", "--ref", "z", "HEAD", "-m", &line],
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        env.git(&repo, &["config", "--unset", key]);
        let blob = env.git(&repo, &["rev-parse", "refs/notes/fleet/z:"]);
        let tree = env.git(&repo, &["ls-tree", "-r", blob.trim()]);
        let id = tree
            .split_whitespace()
            .nth(2)
            .expect("one note")
            .to_string();
        let path = repo.join(".git/objects").join(&id[..2]).join(&id[2..]);
        sizes.push(std::fs::metadata(&path).expect("a loose blob").len());
        let shown = env.git(&repo, &["notes", "--ref=fleet/z", "show", "HEAD"]);
        assert!(shown.contains(&line), "git reads the note back");
    }
    // Stored (level 0) keeps the 4,000-odd bytes of the first note; level 9
    // packs the second (both blocks, 8,000 bytes of one letter) into a few dozen.
    assert!(
        sizes[0] > 4000 && sizes[1] < 200,
        "loose blob sizes {sizes:?}"
    );
    env.git(&repo, &["fsck", "--strict", "--no-dangling"]);
    let leftovers = std::fs::read_dir(repo.join(".git/objects"))
        .unwrap()
        .flatten()
        .filter(|d| d.path().is_dir())
        .flat_map(|d| std::fs::read_dir(d.path()).unwrap().flatten())
        .filter(|f| f.file_name().to_string_lossy().starts_with("tmp"))
        .count();
    assert_eq!(leftovers, 0, "temporary object files left behind");
}

#[test]
fn help_has_examples() {
    let env = TestEnv::new();
    for cmd in ["init", "snapshot", "diff", "render"] {
        let out = env.fleet(env.root(), &[cmd, "--help"]);
        assert_eq!(out.code, 0);
        assert!(
            out.stdout.contains("Examples:"),
            "{cmd} --help lacks examples"
        );
    }
}

/// Complete `line` (cursor at its end) the way bash does after `git <TAB>`:
/// git's own completion loaded, then ours; prints COMPREPLY one per line.
fn complete(env: &TestEnv, cwd: &Path, line: &str) -> Vec<String> {
    let git_completion = Path::new("/usr/share/bash-completion/completions/git");
    assert!(
        git_completion.exists(),
        "git's bash completion is needed: {}",
        git_completion.display()
    );
    let ours = Path::new(env!("CARGO_MANIFEST_DIR")).join("completions/git-fleet.bash");
    let script = format!(
        r#"source {git}
source {ours}
COMP_LINE={line:?}
COMP_POINT=${{#COMP_LINE}}
read -r -a COMP_WORDS <<< "$COMP_LINE"
[[ "$COMP_LINE" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
__git_wrap__git_main
printf '%s\n' "${{COMPREPLY[@]}}"
"#,
        git = git_completion.display(),
        ours = ours.display(),
    );
    let out = env
        .command("bash", cwd)
        .args(["--norc", "--noprofile", "-c", &script])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.is_empty(),
        "completing {line:?} printed errors: {stderr}"
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.trim_end().to_string())
        .collect()
}

#[test]
fn bash_completes_subcommands_and_their_flags_under_git() {
    let env = TestEnv::new();
    let repo = env.repo("work");
    let subcommands = complete(&env, &repo, "git fleet di");
    assert_eq!(subcommands, ["diff"], "{subcommands:?}");
    let flags = complete(&env, &repo, "git fleet diff --ex");
    assert_eq!(flags, ["--exit-code"], "{flags:?}");
    let nested = complete(&env, &repo, "git fleet peers a");
    assert_eq!(nested, ["add"], "{nested:?}");
    // git's own options before the subcommand do not confuse it.
    let after_c = complete(&env, &repo, "git -C . fleet rec");
    assert!(after_c.contains(&"reconcile".to_string()), "{after_c:?}");
}

#[test]
fn json_errors_are_one_json_object_on_stdout() {
    let env = TestEnv::new();
    let repo = setup(&env);
    // A located problem: the bad file, line and column.
    std::fs::write(repo.join("fleet.toml"), "[targets.x]\nbogus = 1\n").unwrap();
    let out = env.fleet(&repo, &["diff", "--json"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let v = json(&out.stdout);
    assert_eq!(v["version"], 1);
    assert_eq!(v["error"]["code"], "invalid", "{v}");
    assert_eq!(v["error"]["location"]["file"], "fleet.toml", "{v}");
    assert_eq!(v["error"]["location"]["line"], 2, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("bogus"),
        "{v}"
    );
    // The person reading stderr still sees the error.
    assert!(out.stderr.contains("error:"), "{}", out.stderr);
    std::fs::remove_file(repo.join("fleet.toml")).unwrap();

    // An unknown target, in a subcommand of a subcommand too.
    let out = env.fleet(&repo, &["diff", "nosuch", "--json"]);
    assert_eq!(out.code, 2);
    let v = json(&out.stdout);
    assert_eq!(v["version"], 1);
    assert!(
        v["error"]["message"].as_str().unwrap().contains("nosuch"),
        "{v}"
    );
    assert_eq!(v["error"]["location"], serde_json::Value::Null, "{v}");
    let out = env.fleet(&repo, &["receipts", "show", "nosuch", "--json"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(json(&out.stdout)["version"], 1);

    // A command line clap refuses, and -C to nowhere.
    let out = env.fleet(&repo, &["diff", "--json", "--no-such-flag"]);
    assert_eq!(out.code, 2);
    assert_eq!(json(&out.stdout)["error"]["code"], "usage");
    let out = env.fleet(&repo, &["-C", "nowhere", "proposals", "--json"]);
    assert_eq!(out.code, 2);
    assert_eq!(json(&out.stdout)["error"]["code"], "usage");
    // Without --json, stdout stays empty.
    let out = env.fleet(&repo, &["diff", "nosuch"]);
    assert_eq!(out.code, 2);
    assert_eq!(out.stdout, "");
}

#[test]
fn demo_json_prints_only_json_on_stdout() {
    let env = TestEnv::new();
    let out = env.fleet(env.root(), &["demo", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = json(&out.stdout);
    assert_eq!(v["version"], 1);
    assert!(
        out.stderr.contains("fan-out"),
        "the walk-through goes to stderr"
    );
}

#[test]
fn git_log_shows_receipts_by_default_and_fanout_notes_on_request() {
    let env = TestEnv::new();
    let repo = setup(&env);
    // A repository set up by an older init shows every fleet note; init moves it.
    env.git(
        &repo,
        &["config", "--add", "notes.displayRef", "refs/notes/fleet/*"],
    );
    let out = env.fleet(&repo, &["init"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        env.git(&repo, &["config", "--get-all", "notes.displayRef"]),
        "refs/notes/fleet/receipts\n"
    );
    env.git(
        &repo,
        &[
            "notes",
            "--ref=fleet/receipts",
            "add",
            "-m",
            "Fleet-Action: apply",
        ],
    );
    let fanout: String = (0..20)
        .map(|i| format!("peer-{i}: fast-forwarded\n"))
        .collect();
    env.git(
        &repo,
        &["notes", "--ref=fleet/fanout", "add", "-m", &fanout],
    );
    let log = env.git(&repo, &["log", "-1"]);
    assert!(log.contains("Fleet-Action: apply"), "{log}");
    assert!(
        !log.contains("peer-7"),
        "fanout notes shown by default:\n{log}"
    );
    let log = env.git(&repo, &["log", "-1", "--notes=fleet/fanout"]);
    assert!(log.contains("peer-7"), "{log}");
    // Idempotent: a second run changes nothing.
    let again = env.fleet(&repo, &["init", "--json"]);
    assert_eq!(json(&again.stdout)["changed"], serde_json::json!([]));
}

/// A committed fleet of `n` modules, each assigned to node n1, against an
/// empty live snapshot of staging: 2n proposals on the first tick.
fn many_changes(env: &TestEnv, n: usize) -> std::path::PathBuf {
    let repo = env.repo("many");
    let mut s = String::from("modules:\n");
    for i in 0..n {
        s.push_str(&format!(
            "  m{i:03}:\n    priority: 50\n    config: {{workers: 1}}\n"
        ));
    }
    s.push_str("assignments:\n");
    for i in 0..n {
        s.push_str(&format!("  n1:m{i:03}: {{enabled: true}}\n"));
    }
    std::fs::write(repo.join("fleet.yaml"), s).unwrap();
    std::fs::write(repo.join("fleet.toml"), "[targets.staging]\n").unwrap();
    env.git(&repo, &["add", "fleet.yaml", "fleet.toml"]);
    env.git(&repo, &["commit", "-q", "-m", "fleet"]);
    let r = env.fleet_stdin(
        &repo,
        &["snapshot", "staging", "--from", "-", "--allow-empty"],
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    repo
}

#[test]
fn reconcile_summarises_many_proposals_and_lists_them_with_verbose() {
    let env = TestEnv::new();
    let repo = many_changes(&env, 150);
    let out = env.fleet(&repo, &["reconcile", "staging", "--max-proposals", "1000"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let lines = out.stdout.lines().count();
    assert!(
        lines <= 12,
        "{lines} lines for 300 proposals:\n{}",
        out.stdout
    );
    assert!(out.stdout.contains("300 opened"), "{}", out.stdout);
    assert!(out.stdout.contains("150 create modules"), "{}", out.stdout);
    assert!(
        out.stdout.contains("150 create assignments"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("--verbose"), "{}", out.stdout);

    // --verbose lists every one (the open ones are "already open" now: a
    // fresh fleet again).
    let env = TestEnv::new();
    let repo = many_changes(&env, 150);
    let out = env.fleet(
        &repo,
        &[
            "reconcile",
            "staging",
            "--max-proposals",
            "1000",
            "--verbose",
        ],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let listed = out
        .stdout
        .lines()
        .filter(|l| l.contains("modules/m"))
        .count();
    assert_eq!(listed, 150, "{}", out.stdout);
}

#[test]
fn quiet_is_quiet_like_git() {
    let env = TestEnv::new();
    let repo = many_changes(&env, 3);
    let out = env.fleet(&repo, &["-q", "reconcile", "staging"]);
    assert_eq!(out.code, 1, "the exit code still tells: {}", out.stderr);
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr, "");
    // Errors still show.
    let out = env.fleet(&repo, &["reconcile", "nosuch", "--quiet"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("nosuch"), "{}", out.stderr);
}

/// Run git-fleet on a terminal (util-linux `script` gives it a pty) with
/// `--color=auto`; whether ANSI color reached the terminal.
fn colored_on_a_tty(env: &TestEnv, repo: &Path, vars: &[(&str, &str)]) -> bool {
    let bin = common::bin();
    let line = format!("{} diff nosuch", bin.display());
    let mut cmd = env.command("script", repo);
    cmd.env_remove("NO_COLOR").env("TERM", "xterm");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.args(["-qec", &line, "/dev/null"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("nosuch"), "{text}");
    text.contains('\u{1b}')
}

#[test]
fn color_honours_git_config_term_dumb_and_clicolor() {
    let env = TestEnv::new();
    let repo = setup(&env);
    assert!(colored_on_a_tty(&env, &repo, &[]), "auto on a tty colors");
    assert!(!colored_on_a_tty(&env, &repo, &[("TERM", "dumb")]));
    assert!(!colored_on_a_tty(&env, &repo, &[("CLICOLOR", "0")]));
    assert!(!colored_on_a_tty(&env, &repo, &[("NO_COLOR", "1")]));
    env.git(&repo, &["config", "color.ui", "never"]);
    assert!(!colored_on_a_tty(&env, &repo, &[]), "color.ui=never");
    env.git(&repo, &["config", "color.ui", "auto"]);
    assert!(colored_on_a_tty(&env, &repo, &[]));
    // `git -c color.ui=false fleet ...` passes it in the environment.
    assert!(!colored_on_a_tty(
        &env,
        &repo,
        &[("GIT_CONFIG_PARAMETERS", "'color.ui'='false'")]
    ));
}

#[test]
fn demo_prints_commands_quoted_for_pasting() {
    let env = TestEnv::new();
    let out = env.fleet(env.root(), &["demo"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("git commit -m 'nginx: 6 workers; retire legacy-cron'"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("git-fleet snapshot staging -m 'live export'"),
        "{}",
        out.stdout
    );
}

#[test]
fn peers_add_appends_at_the_end_and_warns_on_a_missing_path() {
    let env = TestEnv::new();
    let repo = env.repo("work");
    assert_eq!(env.fleet(&repo, &["init"]).code, 0);
    let header = std::fs::read_to_string(repo.join("fleet.toml")).unwrap();
    let laptop = env.repo("laptop");
    let out = env.fleet(&repo, &["peers", "add", "laptop", laptop.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
    let text = std::fs::read_to_string(repo.join("fleet.toml")).unwrap();
    assert!(
        text.starts_with(&header),
        "the commented header comes first, then the new table:\n{text}"
    );
    assert!(text[header.len()..].contains("[peers.laptop]"), "{text}");

    // A second peer after the first, also after a table declared later by hand.
    let mut edited = text.clone();
    edited.push_str("\n[targets.staging]\nauto_apply = false\n# the end\n");
    std::fs::write(repo.join("fleet.toml"), &edited).unwrap();
    let out = env.fleet(&repo, &["peers", "add", "box", "/no/such/dir"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("warning") && out.stderr.contains("/no/such/dir"),
        "{}",
        out.stderr
    );
    let text = std::fs::read_to_string(repo.join("fleet.toml")).unwrap();
    assert!(text.starts_with(&edited), "appended at the end:\n{text}");
    assert!(text[edited.len()..].contains("[peers.box]"), "{text}");
    let list = env.fleet(&repo, &["peers", "list", "--json"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
}

#[test]
fn status_shows_halt_pending_runs_and_what_fanout_still_owes() {
    let env = TestEnv::new();
    let repo = many_changes(&env, 2);
    // Nothing happened yet: a clean screen, exit 0.
    let out = env.fleet(&repo, &["status", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = json(&out.stdout);
    assert_eq!(v["version"], 1);
    assert_eq!(v["halt"]["halted"], false);
    assert_eq!(v["targets"][0]["target"], "staging");
    assert_eq!(v["targets"][0]["pending_review"], 0);
    assert_eq!(v["targets"][0]["last_run"], serde_json::Value::Null);
    assert_eq!(v["fanout"], serde_json::Value::Null);

    assert_eq!(env.fleet(&repo, &["reconcile", "staging"]).code, 1);
    let peer = env.root().join("peer");
    env.git(
        env.root(),
        &[
            "clone",
            "-q",
            repo.to_str().unwrap(),
            peer.to_str().unwrap(),
        ],
    );
    env.git(&repo, &["commit", "-q", "--allow-empty", "-m", "next"]);
    for (name, path) in [("good", peer.to_str().unwrap()), ("gone", "/no/such/peer")] {
        let out = env.fleet(&repo, &["peers", "add", name, path, "--local"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    let out = env.fleet(&repo, &["fanout"]);
    assert!(out.code <= 1, "{}", out.stderr);
    assert_eq!(
        env.fleet(&repo, &["halt", "--reason", "incident 4711"])
            .code,
        0
    );

    let out = env.fleet(&repo, &["status", "--json"]);
    assert_eq!(out.code, 1, "something to see: {}", out.stderr);
    let v = json(&out.stdout);
    assert_eq!(v["halt"]["halted"], true, "{v}");
    assert_eq!(v["halt"]["reason"], "incident 4711", "{v}");
    let staging = &v["targets"][0];
    assert_eq!(staging["pending_review"], 4, "{v}");
    assert_eq!(staging["conflicts"], serde_json::json!([]), "{v}");
    assert_eq!(staging["last_run"]["status"], "success", "{v}");
    let head = env.git(&repo, &["rev-parse", "HEAD"]);
    assert_eq!(v["fanout"]["commit"], head.trim(), "{v}");
    assert_eq!(v["fanout"]["complete"], false, "{v}");
    let owed = v["fanout"]["owed"].to_string();
    assert!(owed.contains("gone"), "{v}");
    assert!(!owed.contains("good"), "{v}");

    // The same on one screen for people.
    let out = env.fleet(&repo, &["status"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let text = &out.stdout;
    assert!(text.lines().count() <= 15, "{text}");
    for expected in [
        "halted",
        "incident 4711",
        "staging",
        "4 pending review",
        "success",
        "gone",
        "resume",
    ] {
        assert!(
            text.contains(expected),
            "status lacks {expected:?}:\n{text}"
        );
    }
}

/// `./install.sh` honours `CARGO_TARGET_DIR` (it used to look in ./target and
/// fail after the build), installs into `--prefix`, and the installed
/// `git fleet` runs. Builds a release binary (cheapened through cargo's own
/// profile variables, kept in target/install-test so reruns are quick), so
/// it is run on request: `cargo test --test cli -- --ignored install_sh`.
#[test]
#[ignore = "builds a release binary; run with --ignored"]
fn install_sh_honours_cargo_target_dir_and_installs_a_working_git_fleet() {
    let env = TestEnv::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = root.join("target/install-test");
    let prefix = env.root().join("prefix");
    // The SSH tests of this binary point HOME at a temp home while they run.
    let _env_lock = common::process_env_lock();
    let out = env
        .command("sh", env.root())
        .arg(root.join("install.sh"))
        .args(["--prefix", prefix.to_str().unwrap()])
        .env("CARGO_TARGET_DIR", &target)
        .env("CARGO_PROFILE_RELEASE_LTO", "false")
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "64")
        .env(
            "CARGO_HOME",
            std::env::var_os("CARGO_HOME").unwrap_or_else(|| {
                std::path::PathBuf::from(std::env::var_os("HOME").unwrap())
                    .join(".cargo")
                    .into()
            }),
        )
        .env(
            "RUSTUP_HOME",
            std::env::var_os("RUSTUP_HOME").unwrap_or_else(|| {
                std::path::PathBuf::from(std::env::var_os("HOME").unwrap())
                    .join(".rustup")
                    .into()
            }),
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "install.sh failed:\n{stdout}\n{stderr}"
    );
    assert!(target.join("release/git-fleet").exists());
    let installed = prefix.join("bin/git-fleet");
    assert!(installed.exists(), "{stdout}");
    assert!(prefix.join("share/man/man1/git-fleet-status.1").exists());
    let version = env
        .command(&installed, env.root())
        .arg("--version")
        .output()
        .unwrap();
    assert!(version.status.success());
    assert!(String::from_utf8_lossy(&version.stdout).contains("git-fleet"));
}

#[test]
fn status_names_a_conflicting_review_decision() {
    let env = TestEnv::new();
    let fleet =
        "modules:\n  m1:\n    config: {workers: 1}\nassignments:\n  n1:m1: {enabled: true}\n";
    let (origin, seed) =
        env.seeded_origin(&[("fleet.yaml", fleet), ("fleet.toml", "[targets.staging]\n")]);
    assert_eq!(env.fleet(&seed, &["snapshot", "staging"]).code, 0);
    assert_eq!(env.fleet(&seed, &["sync"]).code, 0);
    let clone = |name: &str| {
        let path = env.clone_of(&origin, name);
        assert_eq!(env.fleet(&path, &["sync"]).code, 0);
        path
    };
    let (a, b) = (clone("a"), clone("b"));
    std::fs::write(
        a.join("fleet.yaml"),
        fleet.replace("workers: 1", "workers: 5"),
    )
    .unwrap();
    env.git(&a, &["commit", "-q", "-am", "workers 5"]);
    env.git(&a, &["push", "-q", "origin", "main"]);
    assert_eq!(env.fleet(&a, &["reconcile", "staging"]).code, 1);
    assert_eq!(env.fleet(&a, &["sync"]).code, 0);
    env.git(&b, &["pull", "-q", "origin", "main"]);
    assert_eq!(env.fleet(&b, &["sync"]).code, 0);
    let props = json(&env.fleet(&a, &["proposals", "--json"]).stdout);
    let id = props["proposals"][0]["id"].as_str().unwrap().to_string();
    // Approved in A, rejected in B, neither seeing the other.
    assert_eq!(env.fleet(&a, &["approve", &id]).code, 0);
    assert_eq!(env.fleet(&b, &["reject", &id, "--reason", "no"]).code, 0);
    assert_eq!(env.fleet(&a, &["sync"]).code, 0);
    assert_eq!(env.fleet(&b, &["sync"]).code, 1);

    let out = env.fleet(&b, &["status", "--json"]);
    assert_eq!(
        out.code, 1,
        "a conflict is something to see: {}",
        out.stderr
    );
    let v = json(&out.stdout);
    assert_eq!(v["targets"][0]["conflicts"], serde_json::json!([id]), "{v}");
    let out = env.fleet(&b, &["status"]);
    assert!(out.stdout.contains("conflict"), "{}", out.stdout);
    assert!(out.stdout.contains(&id[..12]), "{}", out.stdout);
}
