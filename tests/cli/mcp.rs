//! `git fleet mcp` driven by a real MCP client: the official Python SDK
//! (PyPI `mcp`, pinned in tests/mcp-requirements.txt) runs tests/mcp_client.py,
//! which starts the real binary over stdio in a real repository.
//!
//! The client lives in a venv at `target/mcp-venv` (`.ci/run` creates it; a
//! test creates it when it is missing, so a plain `cargo test` works too).

use crate::common;
use common::{bin, TestEnv};
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;

const TOOLS: [&str; 10] = [
    "diff",
    "get",
    "proof",
    "proposals",
    "propose",
    "receipts",
    "render",
    "set",
    "show",
    "why",
];

const FLEET: &str = "modules:
  nginx-public:
    config: {workers: 4}
  postgres:
    config: {max_connections: 100}
assignments:
  app-01:nginx-public: {enabled: true}
  db-01:postgres: {enabled: true}
";

/// committer@example.com (the TestEnv identity, so the server's) may change
/// nginx-* modules only.
const POLICY: &str = "[targets.staging]

[[policy]]
name = \"web-team\"
actor = \"*@example.com\"
allow = [\"modules/nginx-*\", \"assignments/app-*:*\"]
destroy = false
";

/// The venv's python, with the pinned `mcp` installed (once per test binary).
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        // target/debug/git-fleet -> target/mcp-venv
        let venv = bin().parent().unwrap().parent().unwrap().join("mcp-venv");
        let python = venv.join("bin/python");
        let has_mcp = |p: &Path| {
            std::process::Command::new(p)
                .args(["-c", "import mcp"])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if !has_mcp(&python) {
            let venv_ok = std::process::Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .expect("python3 is needed for the MCP client tests");
            assert!(
                venv_ok.success(),
                "python3 -m venv failed (Debian: apt-get install python3-venv)"
            );
            let pip = std::process::Command::new(venv.join("bin/pip"))
                .args(["install", "-q", "-r"])
                .arg(manifest.join("tests/mcp-requirements.txt"))
                .status()
                .unwrap();
            assert!(pip.success(), "pip install of the MCP client failed");
        }
        assert!(has_mcp(&python), "{} cannot import mcp", python.display());
        python
    })
}

/// One MCP session: the Python SDK's client starts `git fleet mcp` in `repo`
/// and runs `steps`; returns its report (`server`, `steps`).
fn session(env: &TestEnv, repo: &Path, steps: Value) -> Value {
    let server = [bin().display().to_string(), "mcp".to_string()];
    session_with(env, repo, &server, &[], steps)
}

/// A session with the server started as `server` (program and arguments).
fn session_with(
    env: &TestEnv,
    repo: &Path,
    server: &[String],
    vars: &[(&str, &str)],
    steps: Value,
) -> Value {
    let client = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp_client.py");
    let mut child = env
        .command(python(), repo)
        .arg(client)
        .args(server)
        .envs(vars.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(steps.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "client failed: {stderr}\n{stdout}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\n{stderr}"))
}

fn call(name: &str, arguments: Value) -> Value {
    json!({"call": name, "arguments": arguments})
}

/// A successful tool result's command output (`structuredContent.output`).
fn output(step: &Value) -> &Value {
    let result = &step["ok"];
    assert_eq!(result["isError"], false, "tool failed: {step}");
    assert_eq!(
        result["structuredContent"]["exit_code"]
            .as_i64()
            .map(|c| c < 2),
        Some(true),
        "{step}"
    );
    &result["structuredContent"]["output"]
}

/// A refused call: a tool error whose first text is the command's message.
fn refusal(step: &Value) -> String {
    let result = &step["ok"];
    assert_eq!(result["isError"], true, "expected a tool error: {step}");
    result["content"][0]["text"].as_str().unwrap().to_string()
}

fn cli_json(env: &TestEnv, repo: &Path, args: &[&str]) -> Value {
    let run = env.fleet(repo, args);
    assert!(run.code < 2, "{args:?}: {}", run.stderr);
    serde_json::from_str(&run.stdout).unwrap()
}

/// A repository with the policy, the fleet committed, staging's live state
/// recorded from it, and one edit to nginx-public committed on top.
fn setup(env: &TestEnv) -> PathBuf {
    let repo = env.repo("work");
    std::fs::write(repo.join("fleet.yaml"), FLEET).unwrap();
    std::fs::write(repo.join("fleet.toml"), POLICY).unwrap();
    env.git(&repo, &["add", "."]);
    env.git(&repo, &["commit", "-q", "-m", "fleet"]);
    assert_eq!(env.fleet(&repo, &["snapshot", "staging"]).code, 0);
    let text = FLEET.replace("workers: 4", "workers: 6");
    std::fs::write(repo.join("fleet.yaml"), text).unwrap();
    env.git(&repo, &["commit", "-q", "-am", "nginx: 6 workers"]);
    repo
}

#[test]
fn an_agent_lists_the_tools_and_reads_what_the_cli_reads() {
    let env = TestEnv::new();
    let repo = setup(&env);
    let report = session(
        &env,
        &repo,
        json!([
            {"list_tools": true},
            call("diff", json!({"target": "staging"})),
            call("propose", json!({"target": "staging"})),
            call("proposals", json!({"target": "staging"})),
        ]),
    );
    assert_eq!(report["server"]["serverInfo"]["name"], "git-fleet");
    let steps = report["steps"].as_array().unwrap();

    let tools = steps[0]["ok"]["tools"].as_array().unwrap();
    let mut names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, TOOLS);
    let tool = |name: &str| tools.iter().find(|t| t["name"] == name).unwrap();
    for t in tools {
        assert!(!t["description"].as_str().unwrap_or("").is_empty(), "{t}");
        assert_eq!(t["inputSchema"]["type"], "object", "{t}");
    }
    // Typed arguments, with their descriptions, as the agent sees them.
    let set = &tool("set")["inputSchema"];
    for field in ["selector", "values", "target", "message", "apply"] {
        assert!(
            set["properties"][field]["description"].is_string(),
            "set.{field}: {set}"
        );
    }
    let required: Vec<&str> = set["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(required, ["selector", "values"]);
    assert_eq!(
        tool("why")["inputSchema"]["required"],
        json!(["node", "key"])
    );
    assert_eq!(tool("show")["inputSchema"]["required"], json!(["id"]));
    assert_eq!(
        tool("propose")["inputSchema"]["required"],
        json!(["target"])
    );
    assert!(tool("get")["inputSchema"]["properties"]["selector"].is_object());

    // The same command ran: its JSON, as the CLI prints it now.
    let diff = output(&steps[1]);
    assert_eq!(diff, &cli_json(&env, &repo, &["diff", "staging", "--json"]));
    assert_eq!(diff["changes"][0]["name"], "nginx-public", "{diff}");
    // propose is one reconcile tick: the proposal is opened (exit 1: to review).
    assert_eq!(
        steps[2]["ok"]["structuredContent"]["exit_code"], 1,
        "{}",
        steps[2]
    );
    let opened = output(&steps[2])["ticks"][0]["opened"].as_array().unwrap();
    assert_eq!(opened.len(), 1, "{}", steps[2]);
    let listed = output(&steps[3]);
    assert_eq!(
        listed,
        &cli_json(&env, &repo, &["proposals", "--target", "staging", "--json"])
    );
    assert_eq!(listed["proposals"][0]["state"], "pending_review");
}

#[test]
fn an_agent_reads_a_proposal_and_the_receipts_a_person_left() {
    let env = TestEnv::new();
    let repo = setup(&env);
    assert_eq!(env.fleet(&repo, &["reconcile", "staging"]).code, 1);
    let props = cli_json(&env, &repo, &["proposals", "--json"]);
    let id = props["proposals"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(env.fleet(&repo, &["approve", &id]).code, 0);
    let applied = env.fleet(&repo, &["apply", &id]);
    assert_eq!(applied.code, 0, "{}", applied.stderr);

    let report = session(
        &env,
        &repo,
        json!([
            call("show", json!({"id": &id[..8]})),
            call("receipts", json!({})),
            call("receipts", json!({"commit": "HEAD"})),
            call("render", json!({"nodes": ["app-01"], "live": "staging"})),
        ]),
    );
    let steps = report["steps"].as_array().unwrap();
    let shown = output(&steps[0]);
    assert_eq!(shown, &cli_json(&env, &repo, &["show", &id, "--json"]));
    assert_eq!(shown["proposal"]["state"], "applied", "{shown}");
    let log = output(&steps[1]);
    assert_eq!(log, &cli_json(&env, &repo, &["receipts", "log", "--json"]));
    assert!(!log["receipts"].as_array().unwrap().is_empty(), "{log}");
    assert_eq!(
        output(&steps[2]),
        &cli_json(&env, &repo, &["receipts", "show", "HEAD", "--json"])
    );
    let rendered = output(&steps[3]);
    assert_eq!(
        rendered,
        &cli_json(
            &env,
            &repo,
            &["render", "--live", "staging", "app-01", "--json"]
        )
    );
}

#[test]
fn bad_arguments_and_refusals_are_tool_errors_and_the_server_keeps_serving() {
    let env = TestEnv::new();
    let repo = setup(&env);
    let report = session(
        &env,
        &repo,
        json!([
            call("diff", json!({"target": "staging", "bogus": 1})),
            call("show", json!({})),
            call("show", json!({"id": "--help"})),
            call("show", json!({"id": "ffffff"})),
            call("diff", json!({"target": "nosuch"})),
            call("nosuch", json!({})),
            call("diff", json!({"target": "staging"})),
        ]),
    );
    let steps = report["steps"].as_array().unwrap();
    // Arguments that do not fit the schema: an error naming the field.
    for (step, field) in [(&steps[0], "bogus"), (&steps[1], "id")] {
        let message = match step.get("protocol_error") {
            Some(e) => e["message"].as_str().unwrap().to_string(),
            None => refusal(step),
        };
        assert!(message.contains(field), "{step}");
    }
    // A value is never read as a flag.
    assert!(
        refusal(&steps[2]).contains("must not start with '-'"),
        "{}",
        steps[2]
    );
    // A refusal by the command: its message, and its error object, exit 2.
    assert!(
        refusal(&steps[3]).contains("no proposal matches 'ffffff'"),
        "{}",
        steps[3]
    );
    assert_eq!(steps[3]["ok"]["structuredContent"]["exit_code"], 2);
    assert_eq!(
        steps[3]["ok"]["structuredContent"]["error"]["code"], "usage",
        "{}",
        steps[3]
    );
    let unknown_target = refusal(&steps[4]);
    let cli = env.fleet(&repo, &["diff", "nosuch", "--json"]);
    assert_eq!(cli.code, 2);
    let cli_error: Value = serde_json::from_str(&cli.stdout).unwrap();
    assert!(
        unknown_target.starts_with(cli_error["error"]["message"].as_str().unwrap()),
        "{unknown_target}"
    );
    assert!(steps[5].get("protocol_error").is_some() || refusal(&steps[5]).contains("nosuch"));
    // Still serving.
    assert_eq!(output(&steps[6])["changes"][0]["name"], "nginx-public");
}

/// The README's client config, as written (with the repository's path):
/// `git-fleet` from PATH, `-C` naming the repository, from another directory.
#[test]
fn the_readme_client_config_starts_a_working_server() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = &readme[readme.find("## Agents: git fleet mcp").unwrap()..];
    let start = section.find("```json\n").unwrap() + "```json\n".len();
    let config: Value =
        serde_json::from_str(&section[start..][..section[start..].find("```").unwrap()]).unwrap();
    let entry = &config["mcpServers"]["git-fleet"];
    let env = TestEnv::new();
    let repo = setup(&env);
    let mut server = vec![entry["command"].as_str().unwrap().to_string()];
    for a in entry["args"].as_array().unwrap() {
        let a = a.as_str().unwrap();
        server.push(a.replace("/path/to/fleet-repo", repo.to_str().unwrap()));
    }
    let report = session_with(
        &env,
        env.root(),
        &server,
        &[],
        json!([{"list_tools": true}, call("diff", json!({}))]),
    );
    assert_eq!(
        report["steps"][0]["ok"]["tools"].as_array().unwrap().len(),
        10
    );
    assert_eq!(
        output(&report["steps"][1])["changes"][0]["name"],
        "nginx-public"
    );
}

/// The agent is whoever the server runs as (here GIT_COMMITTER_EMAIL in its
/// environment): `propose` auto-applies only what the policy allows that
/// identity, holds the rest for review, and the receipt names the agent.
#[test]
fn propose_is_bounded_by_the_policy_for_the_servers_identity() {
    let env = TestEnv::new();
    let repo = env.repo("work");
    std::fs::write(repo.join("fleet.yaml"), FLEET).unwrap();
    let policy = "[targets.staging]\nauto_apply = true\n\n[[policy]]\nname = \"agent\"\nactor = \"agent@bots.example\"\nallow = [\"modules/nginx-*\"]\n";
    std::fs::write(repo.join("fleet.toml"), policy).unwrap();
    env.git(&repo, &["add", "."]);
    env.git(&repo, &["commit", "-q", "-m", "fleet"]);
    assert_eq!(env.fleet(&repo, &["snapshot", "staging"]).code, 0);
    let edited = FLEET
        .replace("workers: 4", "workers: 6")
        .replace("max_connections: 100", "max_connections: 200");
    std::fs::write(repo.join("fleet.yaml"), edited).unwrap();
    env.git(&repo, &["commit", "-q", "-am", "two changes"]);
    let server = [bin().display().to_string(), "mcp".to_string()];
    let report = session_with(
        &env,
        &repo,
        &server,
        &[("GIT_COMMITTER_EMAIL", "agent@bots.example")],
        json!([
            call("propose", json!({"target": "staging"})),
            call("receipts", json!({"commit": "HEAD"})),
        ]),
    );
    let steps = report["steps"].as_array().unwrap();
    let tick = &output(&steps[0])["ticks"][0];
    assert_eq!(tick["applied"].as_array().unwrap().len(), 1, "{tick}");
    let held = tick["held"].to_string();
    assert!(
        held.contains(
            "update modules/postgres on staging by agent@bots.example (user.email) refused"
        ),
        "{held}"
    );
    let receipts = output(&steps[1])["receipts"].to_string();
    assert!(receipts.contains("agent@bots.example"), "{receipts}");
    assert!(receipts.contains("modules/nginx-public"), "{receipts}");
    assert!(!receipts.contains("modules/postgres"), "{receipts}");
}

#[test]
fn outside_a_repository_the_server_refuses_to_start() {
    let env = TestEnv::new();
    let run = env.fleet(env.root(), &["mcp"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stdout.is_empty(),
        "stdout is the protocol: {}",
        run.stdout
    );
}

/// A `set` the server's identity may not make: refused with the rule, and
/// nothing written (no commit, no receipt, the file unchanged).
#[test]
fn set_outside_the_policy_is_refused_and_writes_nothing() {
    let env = TestEnv::new();
    let repo = setup(&env);
    let head = env.git(&repo, &["rev-parse", "HEAD"]);
    let refs = env.refs(&repo);
    let report = session(
        &env,
        &repo,
        json!([call(
            "set",
            json!({"selector": "modules/postgres", "values": ["config.max_connections=200"], "apply": true})
        )]),
    );
    let message = refusal(&report["steps"][0]);
    assert!(message.contains("web-team"), "{message}");
    assert!(message.contains("modules/postgres"), "{message}");
    assert_eq!(env.git(&repo, &["rev-parse", "HEAD"]), head);
    assert_eq!(env.refs(&repo), refs);
    assert!(std::fs::read_to_string(repo.join("fleet.yaml"))
        .unwrap()
        .contains("max_connections: 100"));
}

/// Inside the policy: a dry run by default (nothing written), then with
/// apply=true a commit by the server's identity, with its receipt.
#[test]
fn set_inside_the_policy_dry_runs_then_commits_with_a_receipt() {
    let env = TestEnv::new();
    let repo = setup(&env);
    let head = env.git(&repo, &["rev-parse", "HEAD"]);
    let args = json!({"selector": "modules/nginx-public", "values": ["config.workers=8"], "message": "agent: 8 workers"});
    let mut apply = args.clone();
    apply["apply"] = json!(true);
    let report = session(
        &env,
        &repo,
        json!([
            call("set", args),
            call("set", apply),
            call("receipts", json!({"max_count": 5}))
        ]),
    );
    let steps = report["steps"].as_array().unwrap();
    output(&steps[0]);
    output(&steps[1]);
    let new_head = env.git(&repo, &["rev-parse", "HEAD"]);
    assert_ne!(new_head, head, "committed");
    assert_eq!(env.git(&repo, &["rev-parse", "HEAD~1"]), head, "one commit");
    assert!(std::fs::read_to_string(repo.join("fleet.yaml"))
        .unwrap()
        .contains("workers: 8"));
    assert_eq!(
        env.git(&repo, &["log", "-1", "--format=%ce"]).trim(),
        "committer@example.com"
    );
    let receipts = output(&steps[2])["receipts"].as_array().unwrap().clone();
    assert!(!receipts.is_empty(), "{}", steps[2]);
    assert!(
        receipts
            .iter()
            .any(|r| r.to_string().contains("committer@example.com")),
        "the receipt names the agent's identity: {receipts:?}"
    );
    assert!(
        receipts.iter().any(|r| r.to_string().contains("\"set\"")),
        "a set receipt: {receipts:?}"
    );
    let body = env.git(&repo, &["log", "-1", "--format=%B"]);
    assert!(
        body.contains("Fleet-Receipt: "),
        "the commit names its receipt: {body}"
    );
}
