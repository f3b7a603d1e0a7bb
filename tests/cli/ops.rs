//! Changing values: get, set, adopt, variants and promote, from the outside:
//! real clones of a real bare origin, the real binary, byte-for-byte checks of
//! the desired file.

use crate::common;
use common::TestEnv;
use std::path::{Path, PathBuf};

/// Comments everywhere, odd spacing, quoted keys, flow and block style.
const FLEET: &str = "\
# Fleet of the web team.   Keep comments!
templates:
  web-server: {name: web-server, description: \"Standard nginx node\"}   # flow

modules:
  # the public nginx
  nginx-public:
    name: nginx-public
    priority:   50      # odd spacing
    config:
      nginx_workers: 4   # per core
      listen_port: 80
      motd: 'hello, world'
  nginx-internal:
    priority: 40
    config: {nginx_workers: 2}
  postgres:
    priority: 50
    config:
      max_connections: 200

assignments:
  \"app-01:nginx-public\": {enabled: true}
  app-02:nginx-public:
    enabled: true
    config:
      nginx_workers: 8   # big box
  app-01:nginx-internal: {enabled: true}
  db-01:postgres: {enabled: true}
";

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// The lines of `after` that differ from `before` (same line count assumed).
fn changed_lines(before: &str, after: &str) -> Vec<(String, String)> {
    assert_eq!(before.lines().count(), after.lines().count(), "{after}");
    before
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn json(out: &common::Run) -> serde_json::Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

/// A clone of an origin holding FLEET (and `extra` files).
fn setup(env: &TestEnv, extra: &[(&str, &str)]) -> PathBuf {
    let mut files = vec![("fleet.yaml", FLEET)];
    files.extend_from_slice(extra);
    let (origin, _) = env.seeded_origin(&files);
    env.clone_of(&origin, "work")
}

fn head(env: &TestEnv, repo: &Path) -> String {
    env.git(repo, &["rev-parse", "HEAD"]).trim().to_string()
}

#[test]
fn set_edits_only_the_values_it_sets_and_commits_with_the_selector() {
    let env = TestEnv::new();
    let repo = setup(&env, &[]);
    let out = env.fleet(
        &repo,
        &[
            "set",
            "modules/nginx-*",
            "config.nginx_workers=6",
            "-m",
            "more workers",
        ],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let after = read(&repo.join("fleet.yaml"));
    assert_eq!(
        changed_lines(FLEET, &after),
        vec![
            (
                "      nginx_workers: 4   # per core".to_string(),
                "      nginx_workers: 6   # per core".to_string()
            ),
            (
                "    config: {nginx_workers: 2}".to_string(),
                "    config: {nginx_workers: 6}".to_string()
            ),
        ]
    );
    // git's own diff of the commit shows exactly those two lines.
    let diff = env.git(&repo, &["diff", "-U0", "HEAD~1", "HEAD"]);
    let edited: Vec<&str> = diff
        .lines()
        .filter(|l| {
            (l.starts_with('-') || l.starts_with('+'))
                && !l.starts_with("---")
                && !l.starts_with("+++")
        })
        .collect();
    assert_eq!(edited.len(), 4, "{diff}");
    let message = env.git(&repo, &["log", "-1", "--format=%B"]);
    assert!(
        message.contains("Fleet-Selector: modules/nginx-*"),
        "{message}"
    );
    assert!(message.contains("more workers"), "{message}");
    receipted(&env, &repo, &message, "set");
    // Only the desired file was committed, and the work tree is clean.
    assert_eq!(
        env.git(&repo, &["show", "--name-only", "--format=", "HEAD"])
            .trim(),
        "fleet.yaml"
    );
    assert_eq!(env.git(&repo, &["status", "--porcelain"]), "");
    // The blast radius is the one diff measures: nginx-public reaches app-01
    // and app-02 (app-02 overrides the key: 1 measured), nginx-internal app-01.
    assert!(
        out.stdout.contains("blast radius: 2 nodes reached"),
        "{}",
        out.stdout
    );
}

#[test]
fn set_types_values_as_yaml_and_reads_dotted_keys() {
    let env = TestEnv::new();
    let repo = setup(&env, &[]);
    let out = env.fleet(
        &repo,
        &[
            "set",
            "assignments/app-*:nginx-public",
            "config.listen_port=8080",
            "enabled=false",
            "--json",
        ],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let j = json(&out);
    assert_eq!(j["version"], 1);
    assert!(j["commit"].is_string(), "{j}");
    let got = env.fleet(
        &repo,
        &[
            "get",
            "assignments/app-*:nginx-public",
            "config.listen_port",
            "--json",
        ],
    );
    assert_eq!(got.code, 0, "{}", got.stderr);
    let g = json(&got);
    assert_eq!(
        g["values"][0]["resource"],
        "assignments/app-01:nginx-public"
    );
    assert_eq!(g["values"][0]["value"], 8080);
    assert_eq!(g["values"][1]["value"], 8080);
    // A quoted value is a string.
    let out = env.fleet(
        &repo,
        &["set", "modules/postgres", "config.max_connections=\"300\""],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let g = json(&env.fleet(
        &repo,
        &[
            "get",
            "modules/postgres",
            "config.max_connections",
            "--json",
        ],
    ));
    assert_eq!(g["values"][0]["value"], "300");
    let text = read(&repo.join("fleet.yaml"));
    assert!(
        text.contains("# Fleet of the web team.   Keep comments!\n"),
        "{text}"
    );
    // A flow mapping stays a flow mapping; a new key joins a block mapping.
    assert!(
        text.contains("  \"app-01:nginx-public\": {enabled: false, config: {listen_port: 8080}}\n"),
        "{text}"
    );
    assert!(
        text.contains("      nginx_workers: 8   # big box\n      listen_port: 8080\n"),
        "{text}"
    );
}

#[test]
fn set_dry_run_writes_nothing_and_prints_one_json_object() {
    let env = TestEnv::new();
    let repo = setup(&env, &[]);
    let before = head(&env, &repo);
    let out = env.fleet(
        &repo,
        &["set", "node=app-02", "priority=70", "--dry-run", "--json"],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let j = json(&out);
    assert_eq!(j["dry_run"], true);
    assert!(j["commit"].is_null());
    assert_eq!(j["changes"][0]["name"], "app-02:nginx-public");
    assert_eq!(j["totals"]["blast_radius"]["fan_out"], 1);
    // One line added inside app-02's block, after its config.
    assert_eq!(
        j["lines"],
        serde_json::json!([{"new_line": 28, "after": "    priority: 70"}]),
        "{j}"
    );
    assert_eq!(read(&repo.join("fleet.yaml")), FLEET);
    assert_eq!(head(&env, &repo), before);
}

#[test]
fn set_refuses_invalid_values_unknown_selectors_and_dirty_files() {
    let env = TestEnv::new();
    let repo = setup(&env, &[]);
    let before = head(&env, &repo);
    let refs = env.refs(&repo);
    // A priority out of range: the edited file would not validate.
    let out = env.fleet(
        &repo,
        &["set", "modules/postgres", "priority=500", "--json"],
    );
    assert_eq!(out.code, 2, "{}", out.stdout);
    let j = json(&out);
    assert_eq!(j["version"], 1);
    assert_eq!(j["error"]["code"], "invalid");
    assert_eq!(j["error"]["location"]["file"], "fleet.yaml");
    assert!(out.stderr.contains("fleet.yaml"), "{}", out.stderr);
    // A selector that matches nothing.
    let out = env.fleet(&repo, &["set", "modules/nginx-privat*", "priority=1"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("selector 'modules/nginx-privat*' matches nothing in fleet.yaml"),
        "{}",
        out.stderr
    );
    let out = env.fleet(&repo, &["get", "widgets/x"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("unknown kind 'widgets'"),
        "{}",
        out.stderr
    );
    assert_eq!(read(&repo.join("fleet.yaml")), FLEET);
    assert_eq!(head(&env, &repo), before);
    assert_eq!(env.refs(&repo), refs);
    // Someone's unstaged edit is never committed along.
    let mine = FLEET.replace("max_connections: 200", "max_connections: 250");
    std::fs::write(repo.join("fleet.yaml"), &mine).unwrap();
    let out = env.fleet(&repo, &["set", "modules/nginx-public", "priority=60"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("fleet.yaml has uncommitted changes"),
        "{}",
        out.stderr
    );
    assert_eq!(read(&repo.join("fleet.yaml")), mine);
    assert_eq!(head(&env, &repo), before);
    // Staged too.
    env.git(&repo, &["add", "fleet.yaml"]);
    let out = env.fleet(&repo, &["set", "modules/nginx-public", "priority=60"]);
    assert_eq!(out.code, 2);
    assert_eq!(head(&env, &repo), before);
}

const POLICY: &str = "\
[[policy]]
name = \"web-team\"
actor = \"*@example.com\"
allow = [\"modules/nginx-*\", \"assignments/app-*:*\"]
";

#[test]
fn set_checks_the_policy_for_the_actor_before_writing() {
    let env = TestEnv::new();
    let repo = setup(&env, &[("fleet.toml", POLICY)]);
    let before = head(&env, &repo);
    let out = env.fleet(
        &repo,
        &[
            "set",
            "modules/postgres",
            "config.max_connections=300",
            "--json",
        ],
    );
    assert_eq!(out.code, 2, "{}", out.stdout);
    let j = json(&out);
    assert_eq!(j["allowed"], false, "{j}");
    assert!(
        j["policy"][0]["refusal"]
            .as_str()
            .unwrap()
            .contains("update modules/postgres"),
        "{j}"
    );
    assert!(out.stderr.contains("refused by policy"), "{}", out.stderr);
    assert_eq!(read(&repo.join("fleet.yaml")), FLEET);
    assert_eq!(head(&env, &repo), before);
    // Inside the scope: committed, and the commit names the rule.
    let out = env.fleet(
        &repo,
        &["set", "modules/nginx-public", "config.listen_port=81"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let message = env.git(&repo, &["log", "-1", "--format=%B"]);
    assert!(
        message.contains("Fleet-Policy: policy 'web-team'"),
        "{message}"
    );
}

/// Live drifted from FLEET: nginx-public runs 5 workers, postgres got a new
/// key, and app-02's override was removed.
fn drifted_live() -> String {
    FLEET
        .replace("nginx_workers: 4   # per core", "nginx_workers: 5")
        .replace(
            "max_connections: 200",
            "max_connections: 200\n      shared_buffers: 512MB",
        )
        .replace("    config:\n      nginx_workers: 8   # big box\n", "")
}

#[test]
fn adopt_writes_live_drift_into_desired_with_a_receipt() {
    let env = TestEnv::new();
    let repo = setup(&env, &[]);
    let snap = env.fleet_stdin(
        &repo,
        &["snapshot", "staging", "--from", "-"],
        drifted_live().as_bytes(),
    );
    assert_eq!(snap.code, 0, "{}", snap.stderr);
    let diff = json(&env.fleet(&repo, &["diff", "staging", "--json"]));
    assert_eq!(diff["totals"]["changes"], 3, "{diff}");

    // Dry run: shows, writes nothing.
    let before = head(&env, &repo);
    let dry = env.fleet(&repo, &["adopt", "staging", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert!(
        dry.stdout.contains("config.nginx_workers: 4 -> 5"),
        "{}",
        dry.stdout
    );
    assert_eq!(head(&env, &repo), before);

    // Only the selected resource.
    let out = env.fleet(
        &repo,
        &[
            "adopt",
            "staging",
            "--select",
            "modules/nginx-public",
            "--json",
        ],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let j = json(&out);
    let receipt = j["receipts"][0].as_str().unwrap().to_string();
    assert_eq!(j["receipts"].as_array().unwrap().len(), 1, "{j}");
    assert_eq!(j["changes"].as_array().unwrap().len(), 1, "{j}");
    let after = read(&repo.join("fleet.yaml"));
    assert_eq!(
        changed_lines(FLEET, &after),
        vec![(
            "      nginx_workers: 4   # per core".to_string(),
            "      nginx_workers: 5   # per core".to_string()
        )]
    );
    let message = env.git(&repo, &["log", "-1", "--format=%B"]);
    assert!(
        message.contains(&format!("Fleet-Receipt: {receipt}")),
        "{message}"
    );
    let receipts = env.fleet(&repo, &["receipts", "--json"]);
    assert!(receipts.stdout.contains(&receipt), "{}", receipts.stdout);
    assert!(receipts.stdout.contains("adopt"), "{}", receipts.stdout);

    // The rest; then desired is live and reconcile proposes nothing.
    let out = env.fleet(&repo, &["adopt", "staging"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    // One receipt per resource, each naming its change as apply's do.
    let message = env.git(&repo, &["log", "-1", "--format=%B"]);
    assert_eq!(message.matches("Fleet-Receipt: ").count(), 2, "{message}");
    let note = env.git(&repo, &["notes", "--ref=fleet/receipts", "show", "HEAD~1"]);
    assert!(
        note.contains("Fleet-Change: update modules/postgres"),
        "{note}"
    );
    assert!(
        note.contains("Fleet-Change: update assignments/app-02:nginx-public"),
        "{note}"
    );
    let text = read(&repo.join("fleet.yaml"));
    assert!(
        text.contains("      max_connections: 200\n      shared_buffers: 512MB\n"),
        "{text}"
    );
    assert!(!text.contains("# big box"), "{text}");
    assert!(
        text.starts_with("# Fleet of the web team.   Keep comments!\n"),
        "{text}"
    );
    let diff = json(&env.fleet(&repo, &["diff", "staging", "--json"]));
    assert_eq!(diff["totals"]["changes"], 0, "{diff}");
    // Exit 0: reconcile opened nothing.
    let tick = env.fleet(&repo, &["reconcile", "staging", "--json"]);
    assert_eq!(tick.code, 0, "{}{}", tick.stdout, tick.stderr);
    let again = env.fleet(&repo, &["adopt", "staging"]);
    assert_eq!(again.code, 0);
    assert!(
        again.stdout.contains("nothing to adopt"),
        "{}",
        again.stdout
    );
    let verify = env.fleet(&repo, &["receipts", "verify"]);
    assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);
}

#[test]
fn adopt_refuses_outside_the_policy_and_unknown_selectors() {
    let env = TestEnv::new();
    let repo = setup(&env, &[("fleet.toml", POLICY)]);
    env.fleet_stdin(
        &repo,
        &["snapshot", "staging", "--from", "-"],
        drifted_live().as_bytes(),
    );
    let before = head(&env, &repo);
    let receipts = env.refs(&repo);
    let out = env.fleet(&repo, &["adopt", "staging", "--select", "modules/postgres"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(out.stderr.contains("modules/postgres"), "{}", out.stderr);
    let out = env.fleet(&repo, &["adopt", "staging", "--select", "modules/nope"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("'modules/nope' matches nothing"),
        "{}",
        out.stderr
    );
    assert_eq!(read(&repo.join("fleet.yaml")), FLEET);
    assert_eq!(head(&env, &repo), before);
    assert_eq!(env.refs(&repo), receipts);
}

const VARIANTS_TOML: &str = "\
[targets.staging]
desired = \"envs/staging.yaml\"

[targets.prod]
desired = \"envs/prod.yaml\"
promotes_from = \"staging\"
";

fn variants_repo(env: &TestEnv) -> PathBuf {
    let staging = FLEET
        .replace(
            "nginx_workers: 4   # per core",
            "nginx_workers: 12   # per core",
        )
        .replace("max_connections: 200", "max_connections: 400");
    let (origin, seed) = env.seeded_origin(&[("fleet.toml", VARIANTS_TOML)]);
    std::fs::create_dir_all(seed.join("envs")).unwrap();
    std::fs::write(seed.join("envs/staging.yaml"), staging).unwrap();
    std::fs::write(seed.join("envs/prod.yaml"), FLEET).unwrap();
    env.git(&seed, &["add", "envs"]);
    env.git(&seed, &["commit", "-q", "-m", "variants"]);
    env.git(&seed, &["push", "-q", "origin", "main"]);
    env.clone_of(&origin, "work")
}

#[test]
fn variants_show_lag_and_promote_writes_the_selected_differences() {
    let env = TestEnv::new();
    let repo = variants_repo(&env);
    let out = env.fleet(&repo, &["variants", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let j = json(&out);
    assert_eq!(j["edges"][0]["from"], "staging");
    assert_eq!(j["edges"][0]["to"], "prod");
    assert_eq!(
        j["edges"][0]["desired_lag"],
        serde_json::json!(["modules/nginx-public", "modules/postgres"])
    );
    assert!(j["edges"][0]["live_lag"].is_null());
    let human = env.fleet(&repo, &["variants"]);
    assert!(human.stdout.contains("staging -> prod"), "{}", human.stdout);

    let out = env.fleet(
        &repo,
        &["promote", "staging", "prod", "--select", "modules/nginx-*"],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("blast radius"), "{}", out.stdout);
    let after = read(&repo.join("envs/prod.yaml"));
    assert_eq!(
        changed_lines(FLEET, &after),
        vec![(
            "      nginx_workers: 4   # per core".to_string(),
            "      nginx_workers: 12   # per core".to_string()
        )]
    );
    let message = env.git(&repo, &["log", "-1", "--format=%B"]);
    assert!(
        message.contains("Fleet-Promote: staging -> prod"),
        "{message}"
    );
    assert!(
        message.contains("Fleet-Selector: modules/nginx-*"),
        "{message}"
    );
    receipted(&env, &repo, &message, "promote");
    let j = json(&env.fleet(&repo, &["variants", "--json"]));
    assert_eq!(
        j["edges"][0]["desired_lag"],
        serde_json::json!(["modules/postgres"])
    );

    // Against the graph: refused.
    let out = env.fleet(&repo, &["promote", "prod", "staging"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("target 'staging' has no promotes_from"),
        "{}",
        out.stderr
    );

    // Live lag, once both sides have a snapshot.
    for (target, file) in [("staging", "envs/staging.yaml"), ("prod", "envs/prod.yaml")] {
        let snap = env.fleet(&repo, &["snapshot", target, "--from", file]);
        assert_eq!(snap.code, 0, "{}", snap.stderr);
    }
    let j = json(&env.fleet(&repo, &["variants", "--json"]));
    assert_eq!(
        j["edges"][0]["live_lag"],
        serde_json::json!(["modules/postgres"]),
        "{j}"
    );

    // Outside the actor's policy: refused, nothing written.
    std::fs::write(
        repo.join("fleet.toml"),
        format!("{VARIANTS_TOML}\n{POLICY}"),
    )
    .unwrap();
    env.git(&repo, &["commit", "-q", "-am", "policy"]);
    let before = head(&env, &repo);
    let out = env.fleet(&repo, &["promote", "staging", "prod", "--json"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    let j = json(&out);
    assert_eq!(j["allowed"], false, "{j}");
    assert!(
        out.stderr.contains("update modules/postgres on prod"),
        "{}",
        out.stderr
    );
    assert_eq!(head(&env, &repo), before);
    assert_eq!(read(&repo.join("envs/prod.yaml")), after);
}

#[test]
fn promotes_from_cycles_and_unknown_targets_are_config_errors() {
    let env = TestEnv::new();
    let cycle = "[targets.a]\npromotes_from = \"b\"\n\n[targets.b]\npromotes_from = \"a\"\n";
    let repo = setup(&env, &[("fleet.toml", cycle)]);
    let out = env.fleet(&repo, &["variants"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(out.stderr.contains("fleet.toml:2:1"), "{}", out.stderr);
    assert!(out.stderr.contains("cycle: a <- b <- a"), "{}", out.stderr);
    std::fs::write(
        repo.join("fleet.toml"),
        "[targets.prod]\n\npromotes_from = \"stagin\"\n",
    )
    .unwrap();
    let out = env.fleet(&repo, &["variants", "--json"]);
    assert_eq!(out.code, 2);
    let j = json(&out);
    assert_eq!(j["error"]["location"]["line"], 3, "{j}");
    assert!(
        out.stderr
            .contains("fleet.toml:3:1: targets.prod.promotes_from = 'stagin'"),
        "{}",
        out.stderr
    );
}

/// A real exec driver: live state is a JSON file (JSON is YAML), `apply`
/// writes the change it gets on stdin into it.
const DRIVER: &str = r#"
import json, sys
state = sys.argv[2]
if sys.argv[1] == "live":
    print(open(state).read())
else:
    change = json.load(sys.stdin)
    live = json.load(open(state))
    kind = live.setdefault(change["kind"], {})
    if change["after"] is None:
        kind.pop(change["name"], None)
    else:
        kind[change["name"]] = change["after"]
    json.dump(live, open(state, "w"))
"#;

fn python() -> &'static str {
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

#[test]
fn set_live_changes_live_through_the_driver_with_receipts_and_marks_drift_for_adoption() {
    let env = TestEnv::new();
    let driver = env.root().join("driver.py");
    let state = env.root().join("live.json");
    std::fs::write(&driver, DRIVER).unwrap();
    let toml = format!(
        "[targets.staging]\ndriver = \"exec\"\nlive = \"{py} {d} live {s}\"\napply = \"{py} {d} apply {s}\"\n",
        py = python(),
        d = driver.display(),
        s = state.display()
    );
    let repo = setup(&env, &[("fleet.toml", &toml)]);
    // Live starts equal to desired: the snapshot's JSON form is the state.
    let snap = env.fleet(&repo, &["snapshot", "staging", "--from", "fleet.yaml"]);
    assert_eq!(snap.code, 0, "{}", snap.stderr);
    std::fs::write(
        &state,
        env.git(&repo, &["show", "refs/fleet/live/staging:fleet.json"]),
    )
    .unwrap();
    let head_before = head(&env, &repo);

    let dry = env.fleet(
        &repo,
        &[
            "set",
            "modules/postgres",
            "config.max_connections=500",
            "--live",
            "staging",
            "--dry-run",
            "--json",
        ],
    );
    assert_eq!(dry.code, 0, "{}{}", dry.stdout, dry.stderr);
    assert!(
        read(&state).contains("\"max_connections\":200")
            || read(&state).contains("\"max_connections\": 200")
    );

    let out = env.fleet(
        &repo,
        &[
            "set",
            "modules/postgres",
            "config.max_connections=500",
            "--live",
            "staging",
            "--json",
        ],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let j = json(&out);
    assert_eq!(j["version"], 1);
    assert_eq!(j["live"], true);
    assert!(j["applied"][0]["result"]["Ok"].is_string(), "{j}");
    assert_eq!(
        j["adopt"],
        "git fleet adopt staging --select modules/postgres"
    );
    // Live changed through the driver; desired did not.
    let live: serde_json::Value = serde_json::from_str(&read(&state)).unwrap();
    assert_eq!(
        live["modules"]["postgres"]["config"]["max_connections"],
        500
    );
    assert_eq!(read(&repo.join("fleet.yaml")), FLEET);
    assert_eq!(head(&env, &repo), head_before);
    // Write-ahead receipts, as apply writes them: the intent, then applied.
    let receipts = env.fleet(&repo, &["receipts", "--json"]).stdout;
    assert!(receipts.contains("\"pending\""), "{receipts}");
    assert!(receipts.contains("\"applied\""), "{receipts}");
    // The drift is there to adopt; adopting it makes desired = live.
    let diff = json(&env.fleet(&repo, &["diff", "staging", "--json"]));
    assert_eq!(diff["changes"][0]["name"], "postgres", "{diff}");
    let adopt = env.fleet(&repo, &["adopt", "staging", "--select", "modules/postgres"]);
    assert_eq!(adopt.code, 0, "{}{}", adopt.stdout, adopt.stderr);
    assert_eq!(
        changed_lines(FLEET, &read(&repo.join("fleet.yaml"))),
        vec![(
            "      max_connections: 200".to_string(),
            "      max_connections: 500".to_string()
        )]
    );
    let diff = json(&env.fleet(&repo, &["diff", "staging", "--json"]));
    assert_eq!(diff["totals"]["changes"], 0, "{diff}");
}

const IGNORE_TOML: &str = "\
[[ignore]]
target = \"staging\"
path = \"modules/*/config.nginx_workers\"
reason = \"autoscaler owns workers\"
";

#[test]
fn ignored_drift_is_never_proposed_nor_counted_and_show_ignored_lists_it() {
    let env = TestEnv::new();
    let repo = setup(&env, &[("fleet.toml", IGNORE_TOML)]);
    // Live: the autoscaler moved nginx-public's workers, and postgres drifted.
    let live = FLEET
        .replace("nginx_workers: 4   # per core", "nginx_workers: 9")
        .replace("max_connections: 200", "max_connections: 300");
    let snap = env.fleet_stdin(
        &repo,
        &["snapshot", "staging", "--from", "-"],
        live.as_bytes(),
    );
    assert_eq!(snap.code, 0, "{}", snap.stderr);
    let out = env.fleet(&repo, &["diff", "staging", "--json"]);
    let j = json(&out);
    assert_eq!(j["totals"]["changes"], 1, "{j}");
    assert_eq!(j["changes"][0]["name"], "postgres", "{j}");
    assert_eq!(j["totals"]["blast_radius"]["fan_out"], 1, "{j}");
    assert!(j["ignored"].is_null(), "{j}");
    let shown = env.fleet(&repo, &["diff", "staging", "--show-ignored", "--json"]);
    let j = json(&shown);
    assert_eq!(
        j["ignored"][0]["path"], "modules/nginx-public/config.nginx_workers",
        "{j}"
    );
    assert_eq!(j["ignored"][0]["live"], 9);
    assert_eq!(j["ignored"][0]["desired"], 4);
    assert_eq!(j["ignored"][0]["reason"], "autoscaler owns workers");
    let human = env.fleet(&repo, &["diff", "staging", "--show-ignored"]);
    assert!(human.stdout.contains("ignored (1)"), "{}", human.stdout);
    // Reconcile proposes postgres only (exit 1: something opened).
    let tick = env.fleet(&repo, &["reconcile", "staging", "--json"]);
    assert_eq!(tick.code, 1, "{}", tick.stderr);
    let list = env.fleet(&repo, &["proposals", "--json"]);
    assert!(list.stdout.contains("postgres"), "{}", list.stdout);
    assert!(!list.stdout.contains("nginx-public"), "{}", list.stdout);
    // Adopt leaves the ignored field to its owner too.
    let adopt = env.fleet(&repo, &["adopt", "staging"]);
    assert_eq!(adopt.code, 0, "{}{}", adopt.stdout, adopt.stderr);
    assert_eq!(
        changed_lines(FLEET, &read(&repo.join("fleet.yaml"))),
        vec![(
            "      max_connections: 200".to_string(),
            "      max_connections: 300".to_string()
        )]
    );
    // A malformed rule is a config error with its location.
    std::fs::write(repo.join("fleet.toml"), "[[ignore]]\npath = \"replicas\"\n").unwrap();
    let bad = env.fleet(&repo, &["diff", "staging"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("fleet.toml:2:"), "{}", bad.stderr);
}

#[test]
fn concurrent_sets_on_one_file_all_land() {
    let env = TestEnv::new();
    let repo = setup(&env, &[]);
    let before = head(&env, &repo);
    let children: Vec<_> = (0..12)
        .map(|i| {
            env.command(common::bin(), &repo)
                .args(["set", "modules/postgres", &format!("config.k{i}={i}")])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Every value is in the file, each in its own commit on top of the last.
    let g = json(&env.fleet(&repo, &["get", "modules/postgres", "config", "--json"]));
    for i in 0..12 {
        assert_eq!(g["values"][0]["value"][format!("k{i}")], i, "{g}");
    }
    let count = env.git(&repo, &["rev-list", "--count", &format!("{before}..HEAD")]);
    assert_eq!(count.trim(), "12");
    assert_eq!(env.git(&repo, &["status", "--porcelain"]), "");
}

#[test]
fn adopt_adds_what_only_live_has_and_removes_what_live_lacks() {
    let env = TestEnv::new();
    let repo = setup(&env, &[]);
    let live = FLEET
        .replace("  app-01:nginx-internal: {enabled: true}\n", "")
        .replace(
            "  postgres:\n",
            "  redis:\n    priority: 30\n    config: {maxmemory: 2gb}\n  postgres:\n",
        );
    let snap = env.fleet_stdin(
        &repo,
        &["snapshot", "staging", "--from", "-"],
        live.as_bytes(),
    );
    assert_eq!(snap.code, 0, "{}", snap.stderr);
    let out = env.fleet(&repo, &["adopt", "staging", "--json"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let j = json(&out);
    let kinds: Vec<String> = j["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{} {}",
                c["change"].as_str().unwrap(),
                c["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec!["create redis", "destroy app-01:nginx-internal"],
        "{j}"
    );
    let text = read(&repo.join("fleet.yaml"));
    assert!(!text.contains("app-01:nginx-internal"), "{text}");
    assert!(text.contains("  redis:\n"), "{text}");
    assert!(
        text.starts_with("# Fleet of the web team.   Keep comments!\n"),
        "{text}"
    );
    let diff = json(&env.fleet(&repo, &["diff", "staging", "--json"]));
    assert_eq!(diff["totals"]["changes"], 0, "{diff}");
}

#[test]
fn set_live_with_the_embedded_driver_records_a_receipted_snapshot_and_respects_policy() {
    let env = TestEnv::new();
    let repo = setup(&env, &[("fleet.toml", POLICY)]);
    let snap = env.fleet(&repo, &["snapshot", "staging", "--from", "fleet.yaml"]);
    assert_eq!(snap.code, 0, "{}", snap.stderr);
    let live_before = env.git(&repo, &["rev-parse", "refs/fleet/live/staging"]);
    // Outside the policy: nothing changes, not even a proposal.
    let out = env.fleet(
        &repo,
        &[
            "set",
            "modules/postgres",
            "config.max_connections=1",
            "--live",
            "staging",
        ],
    );
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(out.stderr.contains("refused by policy"), "{}", out.stderr);
    assert_eq!(
        env.git(&repo, &["rev-parse", "refs/fleet/live/staging"]),
        live_before
    );
    assert!(!env.refs(&repo).contains("refs/fleet/proposals/staging"));
    // Inside it (with a remote: the proposal names the published commit).
    let out = env.fleet(
        &repo,
        &[
            "set",
            "modules/nginx-public",
            "config.listen_port=8080",
            "--live",
            "staging",
        ],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("git fleet adopt staging --select modules/nginx-public"),
        "{}",
        out.stderr
    );
    let live = env.git(&repo, &["show", "refs/fleet/live/staging:fleet.json"]);
    assert!(live.contains("\"listen_port\":8080"), "{live}");
    let message = env.git(
        &repo,
        &["log", "-1", "--format=%B", "refs/fleet/live/staging"],
    );
    assert!(message.contains("Fleet-Receipt: "), "{message}");
    let proposals = env.fleet(&repo, &["proposals", "--json"]);
    assert!(
        proposals.stdout.contains("\"applied\""),
        "{}",
        proposals.stdout
    );
    let verify = env.fleet(&repo, &["receipts", "verify"]);
    assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);
}

#[test]
fn an_edit_that_would_change_more_than_asked_is_refused() {
    let env = TestEnv::new();
    // Two modules share one config through an anchor: editing one in place
    // would silently edit the other.
    let shared = "modules:\n  base:\n    priority: 10\n    config: &cfg {a: 1}\n  copy:\n    priority: 20\n    config: *cfg\n";
    let (origin, _) = env.seeded_origin(&[("fleet.yaml", shared)]);
    let repo = env.clone_of(&origin, "work");
    let before = head(&env, &repo);
    let out = env.fleet(&repo, &["set", "modules/base", "config.a=5"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(
        out.stderr
            .contains("fleet.yaml: the edit would also change modules/copy"),
        "{}",
        out.stderr
    );
    assert_eq!(read(&repo.join("fleet.yaml")), shared);
    assert_eq!(head(&env, &repo), before);
}

/// A desired-file edit is receipted like every other write: its commit names
/// receipts of `action` that the log holds and that verify.
fn receipted(env: &TestEnv, repo: &std::path::Path, message: &str, action: &str) {
    let ids: Vec<&str> = message
        .lines()
        .filter_map(|l| l.strip_prefix("Fleet-Receipt: "))
        .collect();
    assert!(!ids.is_empty(), "no Fleet-Receipt in {message}");
    let log = env.fleet(repo, &["receipts", "log", "--json"]);
    assert_eq!(log.code, 0, "{}", log.stderr);
    for id in ids {
        assert!(log.stdout.contains(id), "receipt {id} not in the log");
    }
    assert!(
        log.stdout.contains(&format!("\"{action}\"")),
        "{}",
        log.stdout
    );
    let verify = env.fleet(repo, &["receipts", "verify"]);
    assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);
}
