//! Bounded writes: the same policy enforced by `diff --check`, `approve`/`apply`
//! and a real pre-receive hook; post-receive reconcile; `policy check`.

mod common;
use common::{bin, Run, TestEnv};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const FLEET: &str = "modules:
  nginx-public:
    config: {workers: 4}
  postgres:
    config: {max_connections: 100}
  nginx-old:
    config: {workers: 1}
assignments:
  app-01:nginx-public: {enabled: true}
  db-01:postgres: {enabled: true}
";

/// committer@example.com (the TestEnv identity) may change nginx-* modules, not destroy them.
const POLICY: &str = "[targets.staging]

[[policy]]
name = \"web-team\"
actor = \"*@example.com\"
allow = [\"modules/nginx-*\", \"assignments/app-*:*\"]
destroy = false
";

fn edit(repo: &Path, from: &str, to: &str) {
    let path = repo.join("fleet.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "fixture lacks {from:?}");
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

fn setup(env: &TestEnv, policy: &str) -> PathBuf {
    let repo = env.repo("work");
    std::fs::write(repo.join("fleet.yaml"), FLEET).unwrap();
    std::fs::write(repo.join("fleet.toml"), policy).unwrap();
    env.git(&repo, &["add", "."]);
    env.git(&repo, &["commit", "-q", "-m", "fleet"]);
    repo
}

#[test]
fn diff_check_allows_in_scope_and_refuses_out_of_scope_changes_naming_the_rule() {
    let env = TestEnv::new();
    let repo = setup(&env, POLICY);
    edit(&repo, "workers: 4", "workers: 6");
    let ok = env.fleet(&repo, &["diff", "--check"]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);

    edit(&repo, "max_connections: 100", "max_connections: 200");
    let refused = env.fleet(&repo, &["diff", "--check"]);
    assert_eq!(refused.code, 1);
    assert!(
        refused
            .stderr
            .contains("update modules/postgres by committer@example.com (user.email) refused"),
        "{}",
        refused.stderr
    );
    assert!(
        refused
            .stderr
            .contains("policy 'web-team' does not allow it"),
        "{}",
        refused.stderr
    );

    // Out-of-scope destroy: nginx-old is in scope for updates, not for destroys.
    edit(&repo, "max_connections: 200", "max_connections: 100");
    edit(&repo, "  nginx-old:\n    config: {workers: 1}\n", "");
    let destroy = env.fleet(&repo, &["diff", "--check", "--json"]);
    assert_eq!(destroy.code, 1);
    let v: serde_json::Value = serde_json::from_str(&destroy.stdout).unwrap();
    let msg = v["problems"][0]["message"].as_str().unwrap();
    assert!(
        msg.contains("destroy modules/nginx-old") && msg.contains("does not allow destroying it"),
        "{msg}"
    );
}

#[test]
fn approve_and_apply_enforce_the_policy_and_the_receipt_names_the_rule() {
    let env = TestEnv::new();
    let repo = setup(&env, POLICY);
    assert_eq!(env.fleet(&repo, &["snapshot", "staging"]).code, 0);
    edit(&repo, "workers: 4", "workers: 6");
    edit(&repo, "max_connections: 100", "max_connections: 200");
    env.git(&repo, &["commit", "-q", "-am", "two changes"]);
    // The policy itself does not stop proposals: it bounds who may apply them.
    let r = env.fleet(&repo, &["reconcile", "--json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let props: serde_json::Value =
        serde_json::from_str(&env.fleet(&repo, &["proposals", "--json"]).stdout).unwrap();
    let id_of = |name: &str| {
        props["proposals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (nginx, postgres) = (id_of("nginx-public"), id_of("postgres"));
    let refused = env.fleet(&repo, &["approve", &postgres]);
    assert_eq!(refused.code, 2);
    assert!(
        refused.stderr.contains("modules/postgres") && refused.stderr.contains("web-team"),
        "{}",
        refused.stderr
    );
    assert_eq!(env.fleet(&repo, &["approve", &nginx]).code, 0);
    let applied = env.fleet(&repo, &["apply", &nginx]);
    assert_eq!(applied.code, 0, "{}", applied.stdout);
    let receipts = env.fleet(&repo, &["receipts", "show", "HEAD"]);
    assert!(
        receipts.stdout.contains("Fleet-Policy: policy 'web-team'"),
        "{}",
        receipts.stdout
    );
}

#[test]
fn a_malformed_policy_refuses_everything() {
    let env = TestEnv::new();
    let repo = setup(
        &env,
        "[[policy]]\nactor = \"*@example.com\"\nallow = [\"modules/*\"]\nbogus = true\n",
    );
    let check = env.fleet(&repo, &["diff", "--check"]);
    assert_eq!(check.code, 2);
    assert!(check.stderr.contains("fleet.toml:4:1"), "{}", check.stderr);
    let apply = env.fleet(&repo, &["apply", "--approved"]);
    assert_eq!(apply.code, 2);
    let env2 = TestEnv::new();
    let bad_glob = setup(
        &env2,
        "[[policy]]\nactor = \"*@example.com\"\nallow = [\"nginx\"]\n",
    );
    let out = env2.fleet(&bad_glob, &["diff", "--check"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("must be a glob on kind/name"),
        "{}",
        out.stderr
    );
}

struct Server {
    env: TestEnv,
    origin: PathBuf,
    work: PathBuf,
}

fn server(policy: &str, hooks: &[&str]) -> Server {
    let env = TestEnv::new();
    let origin = env.root().join("origin.git");
    env.git(
        env.root(),
        &[
            "init",
            "-q",
            "--bare",
            "-b",
            "main",
            origin.to_str().unwrap(),
        ],
    );
    let mut args = vec!["hooks", "install"];
    args.extend_from_slice(hooks);
    let installed = env.fleet(&origin, &args);
    assert_eq!(installed.code, 0, "{}", installed.stderr);
    let work = setup(&env, policy);
    env.git(
        &work,
        &["remote", "add", "origin", origin.to_str().unwrap()],
    );
    env.git(&work, &["push", "-q", "origin", "main"]);
    Server { env, origin, work }
}

fn push(s: &Server) -> Run {
    let out = s
        .env
        .command("git", &s.work)
        .args(["push", "origin", "main"])
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn pre_receive_accepts_in_scope_pushes_and_refuses_others_leaving_the_remote_unchanged() {
    let s = server(POLICY, &["--pre-receive"]);
    edit(&s.work, "workers: 4", "workers: 6");
    s.env.git(&s.work, &["commit", "-q", "-am", "in scope"]);
    let ok = push(&s);
    assert_eq!(ok.code, 0, "{}", ok.stderr);

    let before = s.env.refs(&s.origin);
    edit(&s.work, "  nginx-old:\n    config: {workers: 1}\n", "");
    s.env
        .git(&s.work, &["commit", "-q", "-am", "out of scope destroy"]);
    let refused = push(&s);
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("destroy modules/nginx-old"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("committer email of"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("web-team"), "{}", refused.stderr);
    assert_eq!(
        before,
        s.env.refs(&s.origin),
        "a refused push changes no ref"
    );

    // The same check by hand.
    let by_hand = s.env.fleet(&s.work, &["policy", "check"]);
    assert_eq!(by_hand.code, 1, "{}{}", by_hand.stdout, by_hand.stderr);
    assert!(by_hand.stdout.contains("refused"));
}

#[test]
fn a_push_cannot_widen_its_own_policy() {
    let s = server(POLICY, &["--pre-receive"]);
    let widened = POLICY.replace(
        "[\"modules/nginx-*\", \"assignments/app-*:*\"]",
        "[\"modules/*\"]",
    );
    std::fs::write(s.work.join("fleet.toml"), widened).unwrap();
    edit(&s.work, "max_connections: 100", "max_connections: 999");
    s.env
        .git(&s.work, &["commit", "-q", "-am", "widen and use it"]);
    let refused = push(&s);
    assert_ne!(refused.code, 0, "the policy on the server's HEAD decides");
    assert!(
        refused.stderr.contains("modules/postgres"),
        "{}",
        refused.stderr
    );
}

#[test]
fn a_verified_ssh_signer_is_the_actor() {
    let policy = "[[policy]]\nname = \"alice\"\nprincipal = \"alice\"\nallow = [\"modules/*\"]\n";
    let s = server(policy, &["--pre-receive"]);
    let key = s.env.root().join("alice");
    let gen = s
        .env
        .command("ssh-keygen", s.env.root())
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(gen.status.success());
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let signers = s.env.root().join("allowed_signers");
    std::fs::write(&signers, format!("alice {}", public.trim())).unwrap();
    s.env.git(
        &s.origin,
        &[
            "config",
            "gpg.ssh.allowedSignersFile",
            signers.to_str().unwrap(),
        ],
    );
    for (k, v) in [
        ("gpg.format", "ssh"),
        ("user.signingKey", key.to_str().unwrap()),
    ] {
        s.env.git(&s.work, &["config", k, v]);
    }
    edit(&s.work, "max_connections: 100", "max_connections: 300");
    s.env
        .git(&s.work, &["commit", "-q", "-S", "-am", "signed by alice"]);
    let ok = push(&s);
    assert_eq!(ok.code, 0, "alice's signature allows it: {}", ok.stderr);
    // Unsigned, the committer email matches no rule.
    edit(&s.work, "max_connections: 300", "max_connections: 400");
    s.env.git(
        &s.work,
        &["commit", "-q", "--no-gpg-sign", "-am", "unsigned"],
    );
    let refused = push(&s);
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("committer email of")
            && refused.stderr.contains("no policy rule matches this actor"),
        "{}",
        refused.stderr
    );
}

#[test]
fn post_receive_reconciles_changed_targets_without_failing_the_push() {
    let s = server("[targets.staging]\n", &["--post-receive"]);
    // A snapshot on the server, so staging has live state to diff against.
    let snap = s.env.fleet_stdin(
        &s.origin,
        &["snapshot", "staging", "--from", "-"],
        FLEET.as_bytes(),
    );
    assert_eq!(snap.code, 0, "{}", snap.stderr);
    edit(&s.work, "workers: 4", "workers: 8");
    s.env.git(&s.work, &["commit", "-q", "-am", "change"]);
    let started = Instant::now();
    let out = push(&s);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the push waited for reconcile"
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let props = s
            .env
            .command(bin(), &s.origin)
            .args(["proposals", "--json"])
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&props.stdout).unwrap_or_default();
        if v["proposals"].as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no reconcile ran: {}",
            std::fs::read_to_string(s.origin.join("fleet/reconcile.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // A push whose desired file is broken still succeeds; the failed tick is recorded.
    std::fs::write(s.work.join("fleet.yaml"), "modules: [\n").unwrap();
    s.env.git(&s.work, &["commit", "-q", "-am", "broken"]);
    assert_eq!(push(&s).code, 0);
}
