//! Bounded writes: the same policy enforced by `diff --check`, `approve`/`apply`
//! and a real pre-receive hook on a bare repository (real `git push`), with the
//! actor taken from user.email, a signing key principal, or a verified SSH
//! signer; post-receive reconcile; `policy check`.

use crate::common;
use common::{bin, Run, TestEnv};
use serde_json::Value;
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

/// committer@example.com (the TestEnv identity) may change nginx-* modules and
/// app assignments, not destroy them; dba@db.example may change and destroy any
/// module, and change fleet.toml.
const POLICY: &str = "[targets.staging]

[[policy]]
name = \"web-team\"
actor = \"*@example.com\"
allow = [\"modules/nginx-*\", \"assignments/app-*:*\"]
destroy = false

[[policy]]
name = \"dba\"
actor = \"dba@db.example\"
allow = [\"modules/*\", \"config/fleet.toml\"]
destroy = true
";

const WEB_RULE: &str = "policy 'web-team' (fleet.toml #1: actor = \"*@example.com\", allow = [\"modules/nginx-*\", \"assignments/app-*:*\"], destroy = false)";

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", run.stdout, run.stderr))
}

fn edit(repo: &Path, from: &str, to: &str) {
    let path = repo.join("fleet.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "fixture lacks {from:?}");
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

const DROP_OLD: &str = "  nginx-old:\n    config: {workers: 1}\n";

fn setup(env: &TestEnv, policy: &str) -> PathBuf {
    let repo = env.repo("work");
    std::fs::write(repo.join("fleet.yaml"), FLEET).unwrap();
    std::fs::write(repo.join("fleet.toml"), policy).unwrap();
    env.git(&repo, &["add", "."]);
    env.git(&repo, &["commit", "-q", "-m", "fleet"]);
    repo
}

/// `git-fleet ARGS` as another identity.
fn fleet_as(env: &TestEnv, email: &str, cwd: &Path, args: &[&str]) -> Run {
    let out = env
        .command(bin(), cwd)
        .env("GIT_COMMITTER_EMAIL", email)
        .args(args)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
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
        refused.stderr.contains(
            "fleet.yaml: update modules/postgres on staging by committer@example.com (user.email) refused: policy 'web-team' does not allow it (allow = [\"modules/nginx-*\", \"assignments/app-*:*\"])"
        ),
        "{}",
        refused.stderr
    );
    // The same change is in dba's scope.
    assert_eq!(
        fleet_as(&env, "dba@db.example", &repo, &["diff", "--check"]).code,
        0
    );
    // Someone no rule names.
    let stranger = fleet_as(&env, "eve@elsewhere.example", &repo, &["diff", "--check"]);
    assert_eq!(stranger.code, 1);
    assert!(
        stranger
            .stderr
            .contains("no policy rule matches this actor (2 rules in fleet.toml)"),
        "{}",
        stranger.stderr
    );

    // Out-of-scope destroy: nginx-old is in scope for updates, not for destroys.
    edit(&repo, "max_connections: 200", "max_connections: 100");
    edit(&repo, DROP_OLD, "");
    let destroy = env.fleet(&repo, &["diff", "--check", "--json"]);
    assert_eq!(destroy.code, 1);
    let v = json(&destroy);
    let msg = v["problems"][0]["message"].as_str().unwrap();
    assert!(
        msg.contains("destroy modules/nginx-old on staging by committer@example.com (user.email) refused: policy 'web-team' does not allow destroying it (destroy = false)"),
        "{msg}"
    );
    // The staged version (the pre-commit hook) is checked the same way.
    env.git(&repo, &["add", "fleet.yaml"]);
    assert_eq!(env.fleet(&repo, &["diff", "--staged", "--check"]).code, 1);
}

fn proposal_id(env: &TestEnv, repo: &Path, name: &str) -> String {
    let props = json(&env.fleet(repo, &["proposals", "--json"]));
    props["proposals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no proposal for {name}: {props}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn approve_and_apply_enforce_the_policy_and_the_receipt_names_the_rule() {
    let env = TestEnv::new();
    let repo = setup(&env, POLICY);
    assert_eq!(env.fleet(&repo, &["snapshot", "staging"]).code, 0);
    edit(&repo, "workers: 4", "workers: 6");
    edit(&repo, "max_connections: 100", "max_connections: 200");
    edit(&repo, DROP_OLD, "");
    env.git(&repo, &["commit", "-q", "-am", "three changes"]);
    // The policy does not stop proposals: it bounds who may approve and apply them.
    let r = env.fleet(&repo, &["reconcile", "--json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let nginx = proposal_id(&env, &repo, "nginx-public");
    let postgres = proposal_id(&env, &repo, "postgres");
    let old = proposal_id(&env, &repo, "nginx-old");

    let refused = env.fleet(&repo, &["approve", &postgres]);
    assert_eq!(refused.code, 2);
    assert!(
        refused.stderr.contains(
            "update modules/postgres on staging by committer@example.com (user.email) refused: policy 'web-team' does not allow it"
        ),
        "{}",
        refused.stderr
    );
    assert_eq!(env.fleet(&repo, &["approve", &nginx]).code, 0);
    let applied = env.fleet(&repo, &["apply", &nginx]);
    assert_eq!(applied.code, 0, "{}", applied.stdout);
    let receipts = env.fleet(&repo, &["receipts", "show", "HEAD"]);
    assert!(
        receipts
            .stdout
            .contains(&format!("Fleet-Policy: {WEB_RULE}")),
        "{}",
        receipts.stdout
    );

    // dba approves the other two; the web team still may not apply them.
    let approved = fleet_as(&env, "dba@db.example", &repo, &["approve", &postgres, &old]);
    assert_eq!(approved.code, 0, "{}", approved.stderr);
    let live_before = env.git(&repo, &["rev-parse", "refs/fleet/live/staging"]);
    let apply = env.fleet(&repo, &["apply", &postgres, &old, "--json"]);
    assert_eq!(apply.code, 1, "{}", apply.stderr);
    let reasons: Vec<String> = json(&apply)["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            assert_eq!(o["applied"], false);
            o["reason"].as_str().unwrap().to_string()
        })
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains(
            "update modules/postgres on staging by committer@example.com (user.email) refused: policy 'web-team' does not allow it"
        )),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains(
            "destroy modules/nginx-old on staging by committer@example.com (user.email) refused: policy 'web-team' does not allow destroying it"
        )),
        "{reasons:?}"
    );
    assert_eq!(
        live_before,
        env.git(&repo, &["rev-parse", "refs/fleet/live/staging"]),
        "a refused apply changes nothing live"
    );
    // dba may: the receipts name dba's rule.
    let by_dba = fleet_as(&env, "dba@db.example", &repo, &["apply", &postgres, &old]);
    assert_eq!(by_dba.code, 0, "{}{}", by_dba.stdout, by_dba.stderr);
    let receipts = env.fleet(&repo, &["receipts", "show", "HEAD"]).stdout;
    assert_eq!(
        receipts
            .matches("Fleet-Policy: policy 'dba' (fleet.toml #2: actor = \"dba@db.example\", allow = [\"modules/*\", \"config/fleet.toml\"], destroy = true)")
            .count(),
        4, // two applies, each an intent and its completion
        "{receipts}"
    );
}

#[test]
fn auto_apply_is_decided_for_whoever_runs_the_tick() {
    let env = TestEnv::new();
    let repo = setup(
        &env,
        &POLICY.replace("[targets.staging]", "[targets.staging]\nauto_apply = true"),
    );
    assert_eq!(env.fleet(&repo, &["snapshot", "staging"]).code, 0);
    edit(&repo, "workers: 4", "workers: 6");
    edit(&repo, "max_connections: 100", "max_connections: 200");
    env.git(&repo, &["commit", "-q", "-am", "two changes"]);
    let tick = env.fleet(&repo, &["reconcile", "--json"]);
    let t = &json(&tick)["ticks"][0];
    assert_eq!(t["applied"].as_array().unwrap().len(), 1, "{t}");
    let held = t["held"].to_string();
    assert!(
        held.contains("policy: auto-apply of update modules/postgres on staging by committer@example.com (user.email) refused: policy 'web-team' does not allow it"),
        "{held}"
    );
    let postgres = proposal_id(&env, &repo, "postgres");
    let props = json(&env.fleet(&repo, &["show", &postgres, "--json"]));
    assert_eq!(props["proposal"]["state"], "pending_review", "{props}");
    let receipts = env.fleet(&repo, &["receipts", "show", "HEAD"]).stdout;
    assert!(receipts.contains("Fleet-Action: auto-apply"), "{receipts}");
    assert!(
        receipts.contains(&format!("Fleet-Policy: {WEB_RULE}")),
        "{receipts}"
    );
}

#[test]
fn a_malformed_policy_refuses_everything() {
    let env = TestEnv::new();
    let repo = setup(
        &env,
        "[[policy]]\nactor = \"*@example.com\"\nallow = [\"modules/*\"]\nbogus = true\n",
    );
    edit(&repo, "workers: 4", "workers: 6");
    let check = env.fleet(&repo, &["diff", "--check"]);
    assert_eq!(check.code, 2);
    assert!(check.stderr.contains("fleet.toml:4:1"), "{}", check.stderr);
    for args in [
        &["apply", "--approved"][..],
        &["approve", "0000"],
        &["reconcile"],
        &["policy", "check"],
    ] {
        let out = env.fleet(&repo, args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains("fleet.toml:4:1"), "{}", out.stderr);
    }
    let env2 = TestEnv::new();
    let bad_glob = setup(
        &env2,
        "[[policy]]\nactor = \"*@example.com\"\nallow = [\"nginx\"]\n",
    );
    let out = env2.fleet(&bad_glob, &["diff", "--check"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("fleet.toml:3:10: policy #1: allow 'nginx' must be a glob on kind/name"),
        "{}",
        out.stderr
    );
}

struct Server {
    env: TestEnv,
    origin: PathBuf,
    work: PathBuf,
}

fn bare(env: &TestEnv) -> PathBuf {
    env.bare("origin.git")
}

fn install(env: &TestEnv, origin: &Path, hooks: &[&str]) {
    let mut args = vec!["hooks", "install"];
    args.extend_from_slice(hooks);
    let installed = env.fleet(origin, &args);
    assert_eq!(installed.code, 0, "{}", installed.stderr);
}

/// A bare origin with `hooks` installed, and a clone that pushed fleet.yaml
/// and `policy` to it (the first push into an empty repository: no policy yet).
fn server(policy: &str, hooks: &[&str]) -> Server {
    let env = TestEnv::new();
    let origin = bare(&env);
    install(&env, &origin, hooks);
    let work = setup(&env, policy);
    env.add_origin(&work, &origin, true);
    Server { env, origin, work }
}

fn push_args(s: &Server, args: &[&str]) -> Run {
    let out = s
        .env
        .command("git", &s.work)
        .arg("push")
        .args(args)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn push(s: &Server) -> Run {
    push_args(s, &["origin", "main"])
}

fn commit(s: &Server, message: &str) {
    s.env.git(&s.work, &["commit", "-q", "-am", message]);
}

fn commit_as(s: &Server, email: &str, message: &str) {
    let out = s
        .env
        .command("git", &s.work)
        .env("GIT_COMMITTER_EMAIL", email)
        .args(["commit", "-q", "-am", message])
        .output()
        .unwrap();
    assert!(out.status.success());
}

/// A push the hook refuses: not 0, the remote's refs unchanged, and the reason
/// (which contains each of `expected`) on stderr.
fn assert_refused(s: &Server, expected: &[&str]) -> Run {
    let before = s.env.refs(&s.origin);
    let refused = push(s);
    assert_ne!(refused.code, 0, "push accepted: {}", refused.stderr);
    assert!(
        refused.stderr.contains("pre-receive hook declined"),
        "{}",
        refused.stderr
    );
    for e in expected {
        assert!(
            refused.stderr.contains(e),
            "lacks {e:?}: {}",
            refused.stderr
        );
    }
    assert_eq!(
        before,
        s.env.refs(&s.origin),
        "a refused push changes no ref"
    );
    s.env
        .git(&s.work, &["reset", "-q", "--hard", "origin/main"]);
    refused
}

#[test]
fn pre_receive_accepts_in_scope_pushes_and_refuses_others_leaving_the_remote_unchanged() {
    let s = server(POLICY, &["--pre-receive"]);
    edit(&s.work, "workers: 4", "workers: 6");
    commit(&s, "in scope");
    let ok = push(&s);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_eq!(
        s.env.git(&s.origin, &["rev-parse", "main"]),
        s.env.git(&s.work, &["rev-parse", "HEAD"])
    );

    // Out of scope: an update.
    edit(&s.work, "max_connections: 100", "max_connections: 200");
    commit(&s, "out of scope update");
    // The same check by hand, before pushing.
    let by_hand = s.env.fleet(&s.work, &["policy", "check"]);
    assert_eq!(by_hand.code, 1, "{}{}", by_hand.stdout, by_hand.stderr);
    assert!(
        by_hand.stdout.contains("refused")
            && by_hand
                .stdout
                .contains("policy 'web-team' does not allow it")
            && by_hand
                .stderr
                .contains("policy: fleet.toml at refs/remotes/origin/main (2 rules)"),
        "{}{}",
        by_hand.stdout,
        by_hand.stderr
    );
    let v = json(&s.env.fleet(&s.work, &["policy", "check", "--json"]));
    assert_eq!(v["ok"], false);
    assert_eq!(
        v["commits"][0]["decisions"][0]["resource"],
        "modules/postgres"
    );
    assert!(v["commits"][0]["decisions"][0]["refusal"]
        .as_str()
        .unwrap()
        .contains("web-team"));
    assert_refused(
        &s,
        &[
            "update modules/postgres on staging by committer@example.com (committer email of",
            "; unsigned) refused: policy 'web-team' does not allow it",
        ],
    );

    // Out of scope: a destroy of something the team may otherwise change.
    edit(&s.work, DROP_OLD, "");
    commit(&s, "out of scope destroy");
    assert_refused(
        &s,
        &[
            "destroy modules/nginx-old on staging by committer@example.com (committer email of",
            "policy 'web-team' does not allow destroying it (destroy = false)",
        ],
    );

    // One bad commit in a push refuses all of it, even when a later commit undoes it.
    edit(&s.work, "max_connections: 100", "max_connections: 300");
    commit(&s, "out of scope");
    edit(&s.work, "max_connections: 300", "max_connections: 100");
    commit(&s, "undo");
    assert_refused(&s, &["update modules/postgres"]);

    // dba may do both.
    edit(&s.work, "max_connections: 100", "max_connections: 200");
    edit(&s.work, DROP_OLD, "");
    commit_as(&s, "dba@db.example", "dba's change");
    let ok = push(&s);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_eq!(
        s.env
            .fleet(&s.work, &["policy", "check", "--rev", "HEAD~1..HEAD"])
            .code,
        0
    );
}

#[test]
fn a_push_cannot_widen_its_own_policy() {
    let s = server(POLICY, &["--pre-receive"]);
    let widened = POLICY.replace(
        "[\"modules/nginx-*\", \"assignments/app-*:*\"]",
        "[\"modules/*\", \"config/fleet.toml\"]",
    );
    // In the same push, and as a push of its own: fleet.toml is config/fleet.toml.
    std::fs::write(s.work.join("fleet.toml"), &widened).unwrap();
    edit(&s.work, "max_connections: 100", "max_connections: 999");
    commit(&s, "widen and use it");
    assert_refused(
        &s,
        &[
            "update config/fleet.toml by committer@example.com",
            "update modules/postgres on staging by committer@example.com",
        ],
    );
    std::fs::write(s.work.join("fleet.toml"), &widened).unwrap();
    commit(&s, "widen only");
    assert_refused(&s, &["update config/fleet.toml by committer@example.com"]);
    // Deleting the policy is destroying config/fleet.toml.
    s.env.git(&s.work, &["rm", "-q", "fleet.toml"]);
    commit(&s, "no more policy");
    assert_refused(&s, &["destroy config/fleet.toml"]);

    // Whoever may change config/fleet.toml may, but a broken one never lands.
    std::fs::write(s.work.join("fleet.toml"), &widened).unwrap();
    commit_as(&s, "dba@db.example", "dba widens the web team");
    let ok = push(&s);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    std::fs::write(
        s.work.join("fleet.toml"),
        format!("{widened}\n[[policy]]\nbogus = 1\n"),
    )
    .unwrap();
    commit_as(&s, "dba@db.example", "broken");
    assert_refused(
        &s,
        &[
            "fleet.toml at",
            "unknown field `bogus`",
            "a server refuses every push while its fleet.toml does not parse",
        ],
    );
    // The widened policy governs the next push.
    edit(&s.work, "max_connections: 100", "max_connections: 999");
    commit(&s, "now in scope");
    let ok = push(&s);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
}

#[test]
fn a_malformed_policy_on_the_server_refuses_every_push() {
    let env = TestEnv::new();
    let origin = bare(&env);
    let work = setup(
        &env,
        "[[policy]]\nactor = \"*@example.com\"\nallow = [\"modules/*\"]\nbogus = true\n",
    );
    env.add_origin(&work, &origin, true); // before the hook
    install(&env, &origin, &["--pre-receive"]);
    let s = Server { env, origin, work };
    edit(&s.work, "workers: 4", "workers: 6");
    commit(&s, "in scope, were the policy readable");
    assert_refused(
        &s,
        &[
            "push refused: the policy cannot be read, so nothing is allowed",
            "fleet.toml (refs/heads/main):4:1",
            "hint: fix fleet.toml",
        ],
    );
    // The way out the hint gives: hooks work with a broken fleet.toml.
    let uninstall = s
        .env
        .fleet(&s.origin, &["hooks", "uninstall", "--pre-receive"]);
    assert_eq!(uninstall.code, 0, "{}", uninstall.stderr);
    std::fs::write(s.work.join("fleet.toml"), POLICY).unwrap();
    commit(&s, "fix the policy");
    assert_eq!(push(&s).code, 0);
    install(&s.env, &s.origin, &["--pre-receive"]);
    edit(&s.work, "workers: 4", "workers: 6");
    commit(&s, "in scope");
    assert_eq!(push(&s).code, 0);
}

fn keygen(env: &TestEnv, name: &str) -> (PathBuf, String) {
    let key = env.root().join(name);
    let gen = env
        .command("ssh-keygen", env.root())
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(gen.status.success());
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    (key, public.trim().to_string())
}

#[test]
fn a_verified_ssh_signer_is_the_actor() {
    let policy = "[targets.staging]\n\n[[policy]]\nname = \"alice\"\nprincipal = \"alice\"\nallow = [\"modules/*\"]\n\n[[policy]]\nname = \"web\"\nactor = \"*@web.example\"\nallow = [\"modules/nginx-*\"]\n";
    let s = server(policy, &["--pre-receive"]);
    let (alice, alice_pub) = keygen(&s.env, "alice");
    let (ann, ann_pub) = keygen(&s.env, "ann");
    let (mallory, _) = keygen(&s.env, "mallory");
    let signers = s.env.root().join("allowed_signers");
    std::fs::write(
        &signers,
        format!("alice {alice_pub}\nann@web.example {ann_pub}\n"),
    )
    .unwrap();
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
        ("user.signingKey", alice.to_str().unwrap()),
    ] {
        s.env.git(&s.work, &["config", k, v]);
    }
    edit(&s.work, "max_connections: 100", "max_connections: 300");

    // diff --check: user.email matches no rule; the signing key's principal
    // (from the allowed signers file) does.
    let unknown = s.env.fleet(&s.work, &["diff", "--check"]);
    assert_eq!(unknown.code, 1, "{}", unknown.stderr);
    assert!(
        unknown.stderr.contains(
            "committer@example.com (user.email) refused: no policy rule matches this actor"
        ),
        "{}",
        unknown.stderr
    );
    s.env.git(
        &s.work,
        &[
            "config",
            "gpg.ssh.allowedSignersFile",
            signers.to_str().unwrap(),
        ],
    );
    let check = s.env.fleet(&s.work, &["diff", "--check"]);
    assert_eq!(check.code, 0, "{}", check.stderr);

    s.env
        .git(&s.work, &["commit", "-q", "-S", "-am", "signed by alice"]);
    let by_hand = s.env.fleet(&s.work, &["policy", "check"]);
    assert!(
        by_hand.stdout.contains("by alice (verified SSH signer of"),
        "{}",
        by_hand.stdout
    );
    let ok = push(&s);
    assert_eq!(ok.code, 0, "alice's signature allows it: {}", ok.stderr);

    // Unsigned, the committer email is the actor, and it matches no rule.
    edit(&s.work, "max_connections: 300", "max_connections: 400");
    s.env.git(
        &s.work,
        &["commit", "-q", "--no-gpg-sign", "-am", "unsigned"],
    );
    assert_refused(
        &s,
        &[
            "by committer@example.com (committer email of",
            "; unsigned) refused: no policy rule matches this actor",
        ],
    );
    // Signed by a key the server does not list: nobody, and why.
    s.env.git(
        &s.work,
        &["config", "user.signingKey", mallory.to_str().unwrap()],
    );
    edit(&s.work, "max_connections: 300", "max_connections: 500");
    s.env
        .git(&s.work, &["commit", "-q", "-S", "-am", "signed by mallory"]);
    assert_refused(
        &s,
        &[
            "an unknown actor (commit",
            "signed by a key gpg.ssh.allowedSignersFile does not list, so its committer email does not count) refused",
        ],
    );
    // An `actor` email glob also matches a verified principal that is an
    // email: ann's signature carries her scope, whatever the committer email.
    s.env.git(
        &s.work,
        &["config", "user.signingKey", ann.to_str().unwrap()],
    );
    edit(&s.work, "workers: 4", "workers: 5");
    s.env
        .git(&s.work, &["commit", "-q", "-S", "-am", "signed by ann"]);
    let ok = push(&s);
    assert_eq!(ok.code, 0, "ann's signature allows it: {}", ok.stderr);
    edit(&s.work, "workers: 5", "workers: 6");
    s.env.git(
        &s.work,
        &["commit", "-q", "--no-gpg-sign", "-am", "unsigned"],
    );
    assert_refused(
        &s,
        &["update modules/nginx-public on staging by committer@example.com (committer email of"],
    );
}

#[test]
fn git_fleet_records_are_not_desired_state_but_a_branch_made_of_them_is() {
    let s = server(POLICY, &["--pre-receive"]);
    // A live snapshot commit holds a fleet.yaml too; pushing records is not a
    // change of desired state (what sync does).
    let snap = s.env.fleet_stdin(
        &s.work,
        &["snapshot", "staging", "--from", "-"],
        FLEET
            .replace("max_connections: 100", "max_connections: 7")
            .as_bytes(),
    );
    assert_eq!(snap.code, 0, "{}", snap.stderr);
    // Records are checked too: this snapshot creates postgres, which the
    // web team may not (see the_server_checks_fleet_records_too).
    let records = push_args(&s, &["origin", "refs/fleet/live/staging"]);
    assert_ne!(records.code, 0, "{}", records.stderr);
    assert!(
        records
            .stderr
            .contains("live snapshot: create modules/postgres"),
        "{}",
        records.stderr
    );
    // Pushed while no hook runs, the server has the commit.
    let off = s
        .env
        .fleet(&s.origin, &["hooks", "uninstall", "--pre-receive"]);
    assert_eq!(off.code, 0, "{}", off.stderr);
    let records = push_args(&s, &["origin", "refs/fleet/live/staging"]);
    assert_eq!(records.code, 0, "{}", records.stderr);
    install(&s.env, &s.origin, &["--pre-receive"]);
    // The same commit as a branch is checked, although the server already has it.
    let before = s.env.refs(&s.origin);
    let sneaky = push_args(&s, &["origin", "refs/fleet/live/staging:refs/heads/sneaky"]);
    assert_ne!(sneaky.code, 0, "{}", sneaky.stderr);
    assert!(
        sneaky.stderr.contains("modules/postgres"),
        "{}",
        sneaky.stderr
    );
    assert_eq!(before, s.env.refs(&s.origin));
}

fn poll<T>(what: &str, log: &Path, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{what} within 10 s; reconcile.log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn runs(env: &TestEnv, origin: &Path) -> Vec<Value> {
    let out = env
        .command(bin(), origin)
        .args(["runs", "--json"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    v["runs"].as_array().cloned().unwrap_or_default()
}

#[test]
fn post_receive_reconciles_changed_targets_without_failing_the_push() {
    let s = server("[targets.staging]\n", &["--post-receive"]);
    let log = s.origin.join("fleet/reconcile.log");
    // A snapshot on the server, so staging has live state to diff against.
    let snap = s.env.fleet_stdin(
        &s.origin,
        &["snapshot", "staging", "--from", "-"],
        FLEET.as_bytes(),
    );
    assert_eq!(snap.code, 0, "{}", snap.stderr);
    // The first push's tick ran either after the snapshot (a run record) or
    // before it (refused: no live snapshot yet, nothing written).
    let first = poll("the first push's reconcile", &log, || {
        let r = runs(&s.env, &s.origin);
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        (!r.is_empty() || text.contains("no live snapshot for target staging")).then_some(r.len())
    });
    edit(&s.work, "workers: 4", "workers: 8");
    commit(&s, "change");
    let started = Instant::now();
    let out = push(&s);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the push waited for reconcile"
    );
    let head = s
        .env
        .git(&s.work, &["rev-parse", "HEAD"])
        .trim()
        .to_string();
    let run = poll("a run record of the pushed commit", &log, || {
        runs(&s.env, &s.origin)
            .into_iter()
            .find(|r| r["synced_revision"] == head.as_str())
    });
    assert_eq!(run["target"], "staging");
    assert_eq!(run["diffs"], 1, "{run}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains(&format!(
            "push of {head} to refs/heads/main: reconcile staging (pid"
        )),
        "{text}"
    );

    // A push whose desired file is broken still succeeds; the failed tick is recorded.
    std::fs::write(s.work.join("fleet.yaml"), "modules: [\n").unwrap();
    commit(&s, "broken");
    let out = push(&s);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let broken = s
        .env
        .git(&s.work, &["rev-parse", "HEAD"])
        .trim()
        .to_string();
    let failed = poll("a failed run record", &log, || {
        runs(&s.env, &s.origin)
            .into_iter()
            .find(|r| r["synced_revision"] == broken.as_str() && r["status"] == "failed")
    });
    assert!(
        failed["errors"].to_string().contains("fleet.yaml"),
        "{failed}"
    );

    // Another branch, or a push that leaves the desired file alone, starts nothing.
    let count = runs(&s.env, &s.origin).len();
    assert!(count >= first + 2);
    s.env.git(&s.work, &["checkout", "-q", "-b", "feature"]);
    std::fs::write(s.work.join("fleet.yaml"), FLEET).unwrap();
    commit(&s, "feature work");
    assert_eq!(push_args(&s, &["origin", "feature"]).code, 0);
    s.env.git(&s.work, &["checkout", "-q", "main"]);
    std::fs::write(s.work.join("README"), "docs only\n").unwrap();
    commit(&s, "docs");
    assert_eq!(push(&s).code, 0);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        runs(&s.env, &s.origin).len(),
        count,
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );
}

/// `git-fleet ARGS` with extra environment (and some variables removed).
fn fleet_env(env: &TestEnv, cwd: &Path, vars: &[(&str, &str)], args: &[&str]) -> Run {
    let mut cmd = env.command(bin(), cwd);
    for (k, v) in vars {
        if v.is_empty() {
            cmd.env_remove(k);
        } else {
            cmd.env(k, v);
        }
    }
    let out = cmd.args(args).output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A repository whose staging target needs `approvals = 2`, with one open
/// proposal (nginx-public workers 4 -> 6); returns it and the proposal id.
fn two_approvals(env: &TestEnv) -> (PathBuf, String) {
    let repo = setup(env, "[targets.staging]\napprovals = 2\n");
    assert_eq!(env.fleet(&repo, &["snapshot", "staging"]).code, 0);
    edit(&repo, "workers: 4", "workers: 6");
    env.git(&repo, &["commit", "-q", "-am", "more workers"]);
    assert_eq!(env.fleet(&repo, &["reconcile"]).code, 1);
    let id = proposal_id(env, &repo, "nginx-public");
    (repo, id)
}

fn apply_reason(env: &TestEnv, repo: &Path, id: &str) -> String {
    let out = env.fleet(repo, &["apply", id, "--json"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    json(&out)["outcomes"][0]["reason"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn approvals_count_people_not_names() {
    let env = TestEnv::new();
    let (repo, id) = two_approvals(&env);
    assert_eq!(env.fleet(&repo, &["approve", &id]).code, 0);
    // The same email under another name is the same person.
    let again = fleet_env(
        &env,
        &repo,
        &[("GIT_COMMITTER_NAME", "Someone Else")],
        &["approve", &id],
    );
    assert_eq!(again.code, 0, "{}", again.stderr);
    let why = apply_reason(&env, &repo, &id);
    assert!(
        why.contains("needs 2 distinct approvers, has 1 (counted by email: committer@example.com)"),
        "{why}"
    );
    let shown = json(&env.fleet(&repo, &["show", &id, "--json"]));
    assert_eq!(shown["proposal"]["approvals"]["count"], 1, "{shown}");
    assert_eq!(
        shown["proposal"]["approvals"]["counted"], "emails",
        "{shown}"
    );
    let listed = json(&env.fleet(&repo, &["proposals", "--json"]));
    assert_eq!(listed["proposals"][0]["approvals"]["count"], 1, "{listed}");

    // `git -c user.email=...` names the approver as git would.
    let other = env
        .command("git", &repo)
        .env_remove("GIT_COMMITTER_NAME")
        .env_remove("GIT_COMMITTER_EMAIL")
        .args([
            "-c",
            "user.name=Carol",
            "-c",
            "user.email=carol@example.com",
            "fleet",
            "approve",
            &id,
        ])
        .output()
        .unwrap();
    assert!(
        other.status.success(),
        "{}",
        String::from_utf8_lossy(&other.stderr)
    );
    let shown = json(&env.fleet(&repo, &["show", &id, "--json"]));
    let last = shown["proposal"]["transitions"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["actor"], "Carol <carol@example.com>", "{shown}");
    let applied = env.fleet(&repo, &["apply", &id]);
    assert_eq!(applied.code, 0, "{}{}", applied.stdout, applied.stderr);
    // No remote: nothing to check the source commit against, and apply says so.
    assert!(
        applied
            .stderr
            .contains("this repository has no remote, so apply cannot check"),
        "{}",
        applied.stderr
    );
}

#[test]
fn signed_approvals_count_keys_not_emails() {
    let env = TestEnv::new();
    let (repo, id) = two_approvals(&env);
    let (alice, alice_pub) = keygen(&env, "alice");
    let (bob, bob_pub) = keygen(&env, "bob");
    let signers = env.root().join("allowed_signers");
    std::fs::write(
        &signers,
        format!("alice@example.com {alice_pub}\nbob@example.com {bob_pub}\n"),
    )
    .unwrap();
    for (k, v) in [
        ("gpg.format", "ssh"),
        ("user.signingKey", alice.to_str().unwrap()),
        ("gpg.ssh.allowedSignersFile", signers.to_str().unwrap()),
    ] {
        env.git(&repo, &["config", k, v]);
    }
    let as_alice = fleet_env(
        &env,
        &repo,
        &[("GIT_COMMITTER_EMAIL", "alice@example.com")],
        &["approve", &id],
    );
    assert_eq!(as_alice.code, 0, "{}", as_alice.stderr);
    let shown = json(&env.fleet(&repo, &["show", &id, "--json"]));
    let last = shown["proposal"]["transitions"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert!(
        last["signature"]
            .as_str()
            .unwrap_or("")
            .contains("BEGIN SSH SIGNATURE"),
        "a decision is signed when signing is configured: {shown}"
    );
    // The same key under another email is the same person.
    let again = fleet_env(
        &env,
        &repo,
        &[("GIT_COMMITTER_EMAIL", "alice.two@example.com")],
        &["approve", &id],
    );
    assert_eq!(again.code, 0, "{}", again.stderr);
    let why = apply_reason(&env, &repo, &id);
    assert!(
        why.contains(
            "needs 2 distinct approvers, has 1 (counted by verified signer: alice@example.com)"
        ),
        "{why}"
    );
    let shown = json(&env.fleet(&repo, &["show", &id, "--json"]));
    assert_eq!(shown["proposal"]["approvals"]["count"], 1, "{shown}");
    assert_eq!(
        shown["proposal"]["approvals"]["counted"], "verified signers",
        "{shown}"
    );
    // Bob's own key makes two.
    env.git(&repo, &["config", "user.signingKey", bob.to_str().unwrap()]);
    let as_bob = fleet_env(
        &env,
        &repo,
        &[("GIT_COMMITTER_EMAIL", "bob@example.com")],
        &["approve", &id],
    );
    assert_eq!(as_bob.code, 0, "{}", as_bob.stderr);
    let applied = env.fleet(&repo, &["apply", &id]);
    assert_eq!(applied.code, 0, "{}{}", applied.stdout, applied.stderr);
}

/// A bare origin with fleet.yaml on main and a live snapshot of staging, and
/// two clones that synced it: (env, origin, alice, bob).
fn two_clones(toml: &str) -> (TestEnv, PathBuf, PathBuf, PathBuf) {
    let env = TestEnv::new();
    let seed = setup(&env, toml);
    let origin = env.origin_of(&seed, false);
    assert_eq!(env.fleet(&seed, &["snapshot", "staging"]).code, 0);
    assert_eq!(env.fleet(&seed, &["sync"]).code, 0);
    let clone = |name: &str| {
        let path = env.clone_of(&origin, name);
        let s = env.fleet(&path, &["sync"]);
        assert_eq!(s.code, 0, "{}", s.stderr);
        path
    };
    let (alice, bob) = (clone("alice"), clone("bob"));
    (env, origin, alice, bob)
}

#[test]
fn only_content_on_the_remote_branch_goes_live() {
    let (env, _origin, alice, bob) = two_clones("[targets.staging]\n");
    // Bob commits a change he never pushes, proposes and approves it, and
    // syncs the fleet records.
    edit(&bob, "max_connections: 100", "max_connections: 1");
    env.git(&bob, &["commit", "-q", "-am", "never pushed"]);
    assert_eq!(env.fleet(&bob, &["reconcile"]).code, 1);
    let id = proposal_id(&env, &bob, "postgres");
    assert_eq!(env.fleet(&bob, &["approve", &id]).code, 0);
    assert_eq!(env.fleet(&bob, &["sync"]).code, 0);
    // Alice applies what is approved: not this, it never reached origin/main.
    assert_eq!(env.fleet(&alice, &["sync"]).code, 0);
    let live = env.git(&alice, &["rev-parse", "refs/fleet/live/staging"]);
    let out = env.fleet(&alice, &["apply", "--approved", "--json"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let why = json(&out)["outcomes"][0]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        why.contains("is not on refs/remotes/origin/main") && why.contains("push it"),
        "{why}"
    );
    assert_eq!(
        live,
        env.git(&alice, &["rev-parse", "refs/fleet/live/staging"])
    );
    // Bob too: his own apply waits for the push.
    let own = env.fleet(&bob, &["apply", &id, "--json"]);
    assert_eq!(own.code, 1, "{}", own.stdout);
    // Once pushed (and fetched), it goes live.
    env.git(&bob, &["push", "-q", "origin", "main"]);
    env.git(&alice, &["fetch", "-q", "origin"]);
    let ok = env.fleet(&alice, &["apply", "--approved"]);
    assert_eq!(ok.code, 0, "{}{}", ok.stdout, ok.stderr);

    // A target may name its branch: a commit on another branch is not enough.
    let (env, _origin, alice, _bob) = two_clones("[targets.staging]\nbranch = \"release\"\n");
    edit(&alice, "workers: 4", "workers: 8");
    env.git(&alice, &["commit", "-q", "-am", "on main only"]);
    env.git(&alice, &["push", "-q", "origin", "main"]);
    assert_eq!(env.fleet(&alice, &["reconcile"]).code, 1);
    let id = proposal_id(&env, &alice, "nginx-public");
    assert_eq!(env.fleet(&alice, &["approve", &id]).code, 0);
    let why = apply_reason(&env, &alice, &id);
    assert!(why.contains("refs/remotes/origin/release"), "{why}");
    env.git(&alice, &["push", "-q", "origin", "main:release"]);
    env.git(&alice, &["fetch", "-q", "origin"]);
    let ok = env.fleet(&alice, &["apply", &id]);
    assert_eq!(ok.code, 0, "{}{}", ok.stdout, ok.stderr);
}

fn push_env(s: &Server, vars: &[(&str, &str)]) -> Run {
    let mut cmd = s.env.command("git", &s.work);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.args(["push", "origin", "main"]).output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

const PUSHERS: &str = "[targets.staging]

[[policy]]
name = \"web\"
pusher = \"web\"
allow = [\"modules/nginx-*\"]

[[policy]]
name = \"dba\"
pusher = \"dba\"
allow = [\"modules/*\", \"config/fleet.toml\"]
";

#[test]
fn the_server_knows_who_pushed() {
    let s = server(PUSHERS, &["--pre-receive"]);
    // gitolite's user web may push nginx changes.
    edit(&s.work, "workers: 4", "workers: 6");
    commit(&s, "nginx");
    let ok = push_env(&s, &[("GL_USER", "web")]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    // Not postgres, whatever the commit says about its committer.
    edit(&s.work, "max_connections: 100", "max_connections: 1");
    commit_as(&s, "dba@db.example", "claims to be dba");
    let before = s.env.refs(&s.origin);
    let refused = push_env(
        &s,
        &[
            ("GL_USER", "web"),
            ("GIT_COMMITTER_EMAIL", "dba@db.example"),
        ],
    );
    assert_ne!(refused.code, 0, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("pushed by web (GL_USER)")
            && refused.stderr.contains("policy 'web' does not allow it"),
        "{}",
        refused.stderr
    );
    assert_eq!(before, s.env.refs(&s.origin));
    // Without a pusher variable, no `pusher` rule matches anything.
    let anonymous = push_env(&s, &[]);
    assert_ne!(anonymous.code, 0, "{}", anonymous.stderr);
    assert!(
        anonymous
            .stderr
            .contains("no policy rule matches this actor")
            && anonymous.stderr.contains("GL_USER"),
        "{}",
        anonymous.stderr
    );
    // Gitea/Forgejo name the pusher too; dba may.
    let ok = push_env(&s, &[("GITEA_PUSHER_NAME", "dba")]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    // As do GitLab and HTTP servers.
    for var in ["GL_USERNAME", "REMOTE_USER"] {
        edit(&s.work, "max_connections: 1", "max_connections: 2");
        commit(&s, "postgres again");
        let refused = push_env(&s, &[(var, "web")]);
        assert!(
            refused.stderr.contains(&format!("pushed by web ({var})")),
            "{}",
            refused.stderr
        );
        s.env
            .git(&s.work, &["reset", "-q", "--hard", "origin/main"]);
    }
    // hooks status says whether a pusher variable is present.
    let status = s
        .env
        .command(bin(), &s.origin)
        .env("GL_USER", "admin")
        .args(["hooks", "status"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("pusher: admin (GL_USER)"), "{text}");
    let none = s.env.fleet(&s.origin, &["hooks", "status", "--json"]);
    assert_eq!(json(&none)["pusher"], Value::Null, "{}", none.stdout);
    let text = s.env.fleet(&s.origin, &["hooks", "status"]).stdout;
    assert!(
        text.contains(
            "pusher: none of GL_USER, GITEA_PUSHER_NAME, GL_USERNAME, REMOTE_USER is set"
        ),
        "{text}"
    );
}

#[test]
fn the_policy_cannot_be_switched_off_by_moving_head() {
    // gitolite creates repositories with git's default branch (master) while
    // clients push main: HEAD names a branch that never exists.
    let env = TestEnv::new();
    let origin = env.root().join("origin.git");
    env.git(
        env.root(),
        &[
            "init",
            "-q",
            "--bare",
            "-b",
            "master",
            origin.to_str().unwrap(),
        ],
    );
    install(&env, &origin, &["--pre-receive"]);
    let work = setup(&env, POLICY);
    env.add_origin(&work, &origin, true); // no branch yet: no policy
    let s = Server { env, origin, work };
    let status = s.env.fleet(&s.origin, &["hooks", "status"]);
    assert!(
        status
            .stderr
            .contains("HEAD names refs/heads/master, which does not exist")
            && status.stderr.contains("fleet.policyRef"),
        "{}{}",
        status.stdout,
        status.stderr
    );
    // A push to main is decided by fleet.toml on main as it was.
    edit(&s.work, "max_connections: 100", "max_connections: 1");
    commit(&s, "out of scope");
    assert_refused(
        &s,
        &[
            "fleet.toml on refs/heads/main",
            "policy 'web-team' does not allow it",
        ],
    );
    // A new branch (and fleet records) would take the policy HEAD names: there
    // is none, so it is refused, saying how to fix it.
    edit(&s.work, "workers: 4", "workers: 5");
    commit(&s, "in scope, on a new branch");
    let before = s.env.refs(&s.origin);
    let new_branch = push_args(&s, &["origin", "HEAD:refs/heads/feature"]);
    assert_ne!(new_branch.code, 0, "{}", new_branch.stderr);
    for expected in [
        "the policy cannot be found",
        "HEAD names refs/heads/master, which does not exist",
        "git config fleet.policyRef refs/heads/main",
    ] {
        assert!(
            new_branch.stderr.contains(expected),
            "{}",
            new_branch.stderr
        );
    }
    assert_eq!(before, s.env.refs(&s.origin));
    s.env
        .git(&s.work, &["reset", "-q", "--hard", "origin/main"]);
    // Configured, the policy is read from that ref, wherever HEAD points.
    s.env
        .git(&s.origin, &["config", "fleet.policyRef", "refs/heads/main"]);
    let status = s.env.fleet(&s.origin, &["hooks", "status"]);
    assert!(
        !status.stderr.contains("does not exist"),
        "{}",
        status.stderr
    );
    edit(&s.work, "max_connections: 100", "max_connections: 1");
    commit(&s, "out of scope");
    assert_refused(&s, &["policy 'web-team' does not allow it"]);
    edit(&s.work, "workers: 4", "workers: 6");
    commit(&s, "in scope");
    assert_eq!(push(&s).code, 0);
    s.env
        .git(&s.origin, &["symbolic-ref", "HEAD", "refs/heads/elsewhere"]);
    edit(&s.work, "max_connections: 100", "max_connections: 1");
    commit(&s, "out of scope");
    assert_refused(&s, &["policy 'web-team' does not allow it"]);
    // The policy ref only moves forward: no rewinding it, no deleting it.
    let before = s.env.refs(&s.origin);
    let rewind = push_args(&s, &["--force", "origin", "HEAD~2:main"]);
    assert_ne!(rewind.code, 0, "{}", rewind.stderr);
    assert!(
        rewind.stderr.contains("only moves forward"),
        "{}",
        rewind.stderr
    );
    let delete = push_args(&s, &["origin", ":main"]);
    assert_ne!(delete.code, 0, "{}", delete.stderr);
    assert_eq!(before, s.env.refs(&s.origin));
    // A policyRef that does not exist fails closed too.
    s.env
        .git(&s.origin, &["config", "fleet.policyRef", "refs/heads/gone"]);
    edit(&s.work, "workers: 6", "workers: 7");
    commit(&s, "in scope, were the policy found");
    assert_refused(
        &s,
        &["fleet.policyRef names refs/heads/gone, which does not exist"],
    );
}

const SIGNED: &str = "require_signed = true

[targets.staging]

[[policy]]
name = \"web\"
actor = \"*@example.com\"
allow = [\"modules/nginx-*\"]
";

/// Two keys, alice's listed as alice@example.com in an allowed signers file
/// that `repos` use; mallory's listed nowhere.
fn signers(env: &TestEnv, repos: &[&Path]) -> (PathBuf, PathBuf) {
    let (alice, alice_pub) = keygen(env, "alice");
    let (mallory, _) = keygen(env, "mallory");
    let file = env.root().join("allowed_signers");
    std::fs::write(&file, format!("alice@example.com {alice_pub}\n")).unwrap();
    for r in repos {
        env.git(
            r,
            &[
                "config",
                "gpg.ssh.allowedSignersFile",
                file.to_str().unwrap(),
            ],
        );
    }
    (alice, mallory)
}

#[test]
fn an_unlisted_key_never_falls_back_to_the_committer_email() {
    // No require_signed: an unsigned commit is its committer email, but a
    // commit signed by a key the server does not list is nobody.
    let s = server(
        &SIGNED.replace("require_signed = true\n", ""),
        &["--pre-receive"],
    );
    let (_alice, mallory) = signers(&s.env, &[&s.origin, &s.work]);
    s.env.git(&s.work, &["config", "gpg.format", "ssh"]);
    s.env.git(
        &s.work,
        &["config", "user.signingKey", mallory.to_str().unwrap()],
    );
    edit(&s.work, "workers: 4", "workers: 5");
    s.env.git(
        &s.work,
        &[
            "commit",
            "-q",
            "-S",
            "-am",
            "mallory as committer@example.com",
        ],
    );
    assert_refused(
        &s,
        &["signed by a key gpg.ssh.allowedSignersFile does not list, so its committer email does not count"],
    );
    edit(&s.work, "workers: 4", "workers: 5");
    s.env.git(
        &s.work,
        &["commit", "-q", "--no-gpg-sign", "-am", "unsigned"],
    );
    assert_eq!(push(&s).code, 0);
}

#[test]
fn require_signed_refuses_unsigned_commits_decisions_and_pushes() {
    let s = server(SIGNED, &["--pre-receive"]);
    let (alice, mallory) = signers(&s.env, &[&s.origin, &s.work]);
    // pre-commit: no signing key here, so nothing this clone commits is signed.
    install(&s.env, &s.work, &["--pre-commit"]);
    edit(&s.work, "workers: 4", "workers: 5");
    let out = s
        .env
        .command("git", &s.work)
        .args(["commit", "-q", "-am", "unsigned"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("require_signed = true"), "{err}");
    // pre-receive: an unsigned commit is refused even where an email rule allows it.
    s.env
        .git(&s.work, &["commit", "-q", "--no-verify", "-am", "unsigned"]);
    assert_refused(&s, &["require_signed = true"]);
    // Signed by an unlisted key: refused; by alice: accepted.
    s.env.git(&s.work, &["config", "gpg.format", "ssh"]);
    s.env.git(
        &s.work,
        &["config", "user.signingKey", mallory.to_str().unwrap()],
    );
    edit(&s.work, "workers: 4", "workers: 5");
    s.env.git(
        &s.work,
        &["commit", "-q", "--no-verify", "-S", "-am", "mallory"],
    );
    assert_refused(&s, &["require_signed = true"]);
    s.env.git(
        &s.work,
        &["config", "user.signingKey", alice.to_str().unwrap()],
    );
    edit(&s.work, "workers: 4", "workers: 5");
    s.env.git(&s.work, &["commit", "-q", "-S", "-am", "alice"]);
    let ok = push(&s);
    assert_eq!(ok.code, 0, "{}", ok.stderr);

    // approve/apply: an unsigned decision is refused; a signed one counts.
    assert_eq!(s.env.fleet(&s.work, &["snapshot", "staging"]).code, 0);
    // A manual snapshot has no receipt, so nothing signs it: it reaches the
    // server while no hook runs.
    assert_eq!(
        s.env
            .fleet(&s.origin, &["hooks", "uninstall", "--pre-receive"])
            .code,
        0
    );
    assert_eq!(s.env.fleet(&s.work, &["sync"]).code, 0);
    install(&s.env, &s.origin, &["--pre-receive"]);
    edit(&s.work, "workers: 5", "workers: 6");
    s.env
        .git(&s.work, &["commit", "-q", "-S", "-am", "alice again"]);
    assert_eq!(push(&s).code, 0);
    // (the snapshot is of the old state: reconcile proposes the change)
    s.env.git(&s.work, &["config", "--unset", "gpg.format"]);
    assert_eq!(s.env.fleet(&s.work, &["reconcile"]).code, 1);
    let id = proposal_id(&s.env, &s.work, "nginx-public");
    for decision in ["approve", "reject"] {
        let unsigned = s.env.fleet(&s.work, &[decision, &id]);
        assert_eq!(unsigned.code, 2, "{}", unsigned.stderr);
        assert!(
            unsigned.stderr.contains("require_signed = true"),
            "{}",
            unsigned.stderr
        );
    }
    s.env.git(&s.work, &["config", "gpg.format", "ssh"]);
    let signed = s.env.fleet(&s.work, &["approve", &id]);
    assert_eq!(signed.code, 0, "{}", signed.stderr);
    let applied = s.env.fleet(&s.work, &["apply", &id]);
    assert_eq!(applied.code, 0, "{}{}", applied.stdout, applied.stderr);
    let receipt = s.env.fleet(&s.work, &["receipts", "show", "HEAD"]);
    // The receipt is signed: the approver's key signs it.
    assert!(
        receipt
            .stdout
            .contains("Fleet-Signature: -----BEGIN SSH SIGNATURE-----"),
        "{}",
        receipt.stdout
    );
    // The signed approval, and the apply its signed receipt vouches for
    // (live snapshot and applied transition), are accepted by the server.
    let synced = s.env.fleet(&s.work, &["sync"]);
    assert_eq!(synced.code, 0, "{}", synced.stderr);
    // An unsigned halt receipt is not.
    s.env.git(&s.work, &["config", "--unset", "gpg.format"]);
    assert_eq!(s.env.fleet(&s.work, &["halt", "--reason", "x"]).code, 0);
    let halted = s.env.fleet(&s.work, &["sync"]);
    assert_ne!(halted.code, 0, "{}", halted.stderr);
    assert!(
        halted
            .stderr
            .contains("unsigned, and require_signed = true"),
        "{}",
        halted.stderr
    );
}

/// `git fleet ARGS` in the work clone with extra environment (a pusher, an identity).
fn fleet_vars(s: &Server, vars: &[(&str, &str)], args: &[&str]) -> Run {
    fleet_env(&s.env, &s.work, vars, args)
}

const RECORDS: &str = "[targets.staging]

[[policy]]
name = \"alice\"
actor = \"alice@example.com\"
allow = [\"modules/*\", \"assignments/*\", \"config/*\"]
destroy = true

[[policy]]
name = \"web\"
pusher = \"web\"
allow = [\"modules/nginx-*\"]

[[policy]]
name = \"ops\"
pusher = \"ops\"
allow = [\"modules/*\", \"assignments/*\", \"config/*\"]
destroy = true
";

#[test]
fn the_server_checks_fleet_records_too() {
    let s = server(RECORDS, &["--pre-receive"]);
    let alice = [("GIT_COMMITTER_EMAIL", "alice@example.com")];
    // ops records the first live snapshot and a proposal for postgres.
    assert_eq!(fleet_vars(&s, &alice, &["snapshot", "staging"]).code, 0);
    edit(&s.work, "max_connections: 100", "max_connections: 1");
    commit_as(&s, "alice@example.com", "postgres");
    assert_eq!(push_env(&s, &[("GL_USER", "ops")]).code, 0);
    assert_eq!(fleet_vars(&s, &alice, &["reconcile"]).code, 1);
    let synced = fleet_vars(&s, &[("GL_USER", "ops")], &["sync"]);
    assert_eq!(synced.code, 0, "{}", synced.stderr);
    let id = proposal_id(&s.env, &s.work, "postgres");

    // web, allowed only nginx-*, hand-makes an approval "by Alice" and syncs it.
    let forged = fleet_vars(&s, &alice, &["approve", &id]);
    assert_eq!(forged.code, 0, "{}", forged.stderr);
    let before = s.env.refs(&s.origin);
    let refused = fleet_vars(&s, &[("GL_USER", "web")], &["sync"]);
    assert_ne!(refused.code, 0, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("refs/fleet/proposals/staging")
            && refused.stderr.contains("approved")
            && refused.stderr.contains("modules/postgres")
            && refused.stderr.contains("pushed by web (GL_USER)"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        before,
        s.env.refs(&s.origin),
        "a refused push changes no ref"
    );
    // The same approval signed by alice's listed key is alice's, whoever pushes it.
    let (key, public) = keygen(&s.env, "alice-key");
    let file = s.env.root().join("allowed_signers");
    std::fs::write(&file, format!("alice@example.com {public}\n")).unwrap();
    s.env.git(
        &s.origin,
        &[
            "config",
            "gpg.ssh.allowedSignersFile",
            file.to_str().unwrap(),
        ],
    );
    for (k, v) in [
        ("gpg.format", "ssh"),
        ("user.signingKey", key.to_str().unwrap()),
        ("gpg.ssh.allowedSignersFile", file.to_str().unwrap()),
    ] {
        s.env.git(&s.work, &["config", k, v]);
    }
    let signed = fleet_vars(
        &s,
        &[
            ("GIT_COMMITTER_EMAIL", "alice@example.com"),
            ("GIT_COMMITTER_NAME", "Alice"),
        ],
        &["approve", &id],
    );
    assert_eq!(signed.code, 0, "{}", signed.stderr);
    // Still refused: the unsigned forgery is in the same chain.
    let still = fleet_vars(&s, &[("GL_USER", "web")], &["sync"]);
    assert_ne!(still.code, 0, "{}", still.stderr);
    let ok = fleet_vars(&s, &[("GL_USER", "ops")], &["sync"]);
    assert_eq!(ok.code, 0, "ops may approve postgres: {}", ok.stderr);

    // web pushes a live snapshot that changes postgres, or a halt: refused.
    let snap = s.env.fleet_stdin(
        &s.work,
        &["snapshot", "staging", "--from", "-"],
        FLEET
            .replace("max_connections: 100", "max_connections: 7")
            .as_bytes(),
    );
    assert_eq!(snap.code, 0, "{}", snap.stderr);
    let live = push_env_args(
        &s,
        &[("GL_USER", "web")],
        &["origin", "refs/fleet/live/staging"],
    );
    assert_ne!(live.code, 0, "{}", live.stderr);
    assert!(
        live.stderr.contains("refs/fleet/live/staging") && live.stderr.contains("modules/postgres"),
        "{}",
        live.stderr
    );
    assert_eq!(s.env.fleet(&s.work, &["halt", "--reason", "stop"]).code, 0);
    let halt = push_env_args(&s, &[("GL_USER", "web")], &["origin", "refs/fleet/halt"]);
    assert_ne!(halt.code, 0, "{}", halt.stderr);
    assert!(halt.stderr.contains("config/halt"), "{}", halt.stderr);
    let ok = push_env_args(&s, &[("GL_USER", "ops")], &["origin", "refs/fleet/halt"]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_eq!(s.env.fleet(&s.work, &["resume"]).code, 0);
    let ok = push_env_args(&s, &[("GL_USER", "ops")], &["origin", "refs/fleet/halt"]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);

    // Receipts too: an unsigned halt receipt pushed by web is web's.
    s.env.git(&s.work, &["config", "--unset", "gpg.format"]);
    assert_eq!(s.env.fleet(&s.work, &["halt", "--reason", "again"]).code, 0);
    let receipts = ["origin", "refs/notes/fleet/receipts"];
    let refused = push_env_args(&s, &[("GL_USER", "web")], &receipts);
    assert_ne!(refused.code, 0, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("receipt: update config/halt")
            && refused.stderr.contains("pushed by web (GL_USER)"),
        "{}",
        refused.stderr
    );
    let ok = push_env_args(&s, &[("GL_USER", "ops")], &receipts);
    assert_eq!(ok.code, 0, "{}", ok.stderr);

    // Chains only grow: no rewinding, no deleting, whoever pushes.
    let rewind = push_env_args(
        &s,
        &[("GL_USER", "ops")],
        &["--force", "origin", "refs/fleet/halt~2:refs/fleet/halt"],
    );
    assert_ne!(rewind.code, 0, "{}", rewind.stderr);
    assert!(rewind.stderr.contains("only grow"), "{}", rewind.stderr);
    let delete = push_env_args(&s, &[("GL_USER", "ops")], &["origin", ":refs/fleet/halt"]);
    assert_ne!(delete.code, 0, "{}", delete.stderr);
    assert!(delete.stderr.contains("only grow"), "{}", delete.stderr);
}

fn push_env_args(s: &Server, vars: &[(&str, &str)], args: &[&str]) -> Run {
    let mut cmd = s.env.command("git", &s.work);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.arg("push").args(args).output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn auto_applied_records_sync_to_a_checking_server() {
    // Auto-apply names no person; the server judges its records as the
    // tick runner's (the record commit's committer), here in scope.
    let s = server(
        &format!(
            "{}\n[[policy]]\nname = \"admin\"\nactor = \"admin@example.org\"\nallow = [\"*/*\"]\n",
            POLICY.replace("[targets.staging]", "[targets.staging]\nauto_apply = true")
        ),
        &["--pre-receive"],
    );
    let admin = [("GIT_COMMITTER_EMAIL", "admin@example.org")];
    // admin records the first snapshot (creates of everything).
    let snap = fleet_vars(&s, &admin, &["snapshot", "staging"]);
    assert_eq!(snap.code, 0, "{}", snap.stderr);
    let first = fleet_vars(&s, &admin, &["sync"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    edit(&s.work, "workers: 4", "workers: 6");
    commit(&s, "in scope");
    assert_eq!(push(&s).code, 0);
    let tick = s.env.fleet(&s.work, &["reconcile", "--json"]);
    assert_eq!(
        json(&tick)["ticks"][0]["applied"].as_array().unwrap().len(),
        1,
        "{}",
        tick.stdout
    );
    let synced = s.env.fleet(&s.work, &["sync"]);
    assert_eq!(synced.code, 0, "{}", synced.stderr);
}

#[test]
fn each_branch_keeps_its_policy_and_nothing_is_laundered_through_one() {
    let s = server(POLICY, &["--pre-receive"]);
    let widened = POLICY.replace(
        "[\"modules/nginx-*\", \"assignments/app-*:*\"]",
        "[\"modules/*\", \"assignments/app-*:*\"]",
    );
    // dba widens the web team on a branch of its own.
    s.env.git(&s.work, &["checkout", "-q", "-b", "lax"]);
    std::fs::write(s.work.join("fleet.toml"), &widened).unwrap();
    commit_as(&s, "dba@db.example", "widen on lax");
    let widen = s.env.git(&s.work, &["rev-parse", "HEAD"]);
    assert_eq!(push_args(&s, &["origin", "lax"]).code, 0);
    // On lax, lax's policy: web may change postgres there.
    edit(&s.work, "max_connections: 100", "max_connections: 5");
    commit(&s, "postgres on lax");
    let ok = push_args(&s, &["origin", "lax"]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    // Brought to main, every commit is decided by main's policy again.
    let before = s.env.refs(&s.origin);
    let main = push_args(&s, &["origin", "lax:main"]);
    assert_ne!(main.code, 0, "{}", main.stderr);
    assert!(
        main.stderr.contains("fleet.toml on refs/heads/main")
            && main.stderr.contains("update modules/postgres"),
        "{}",
        main.stderr
    );
    assert_eq!(before, s.env.refs(&s.origin));
    // dba narrows lax again; web cannot move lax back to the wider policy.
    std::fs::write(s.work.join("fleet.toml"), POLICY).unwrap();
    commit_as(&s, "dba@db.example", "narrow lax");
    assert_eq!(push_args(&s, &["origin", "lax"]).code, 0);
    let rewind = push_args(&s, &["--force", "origin", &format!("{}:lax", widen.trim())]);
    assert_ne!(rewind.code, 0, "{}", rewind.stderr);
    assert!(
        rewind
            .stderr
            .contains("not a fast-forward, and fleet.toml differs")
            && rewind.stderr.contains("config/fleet.toml"),
        "{}",
        rewind.stderr
    );
}

#[test]
fn an_approval_counts_only_from_someone_the_policy_allows() {
    // Approved while there was no policy; then fleet.toml names who may change
    // postgres. The earlier approval by someone outside that scope is nobody's.
    let env = TestEnv::new();
    let repo = setup(&env, "[targets.staging]\n");
    assert_eq!(env.fleet(&repo, &["snapshot", "staging"]).code, 0);
    edit(&repo, "max_connections: 100", "max_connections: 200");
    env.git(&repo, &["commit", "-q", "-am", "postgres"]);
    assert_eq!(env.fleet(&repo, &["reconcile"]).code, 1);
    let id = proposal_id(&env, &repo, "postgres");
    assert_eq!(env.fleet(&repo, &["approve", &id]).code, 0);
    std::fs::write(repo.join("fleet.toml"), POLICY).unwrap();
    env.git(&repo, &["commit", "-q", "-am", "policy"]);
    let out = fleet_as(&env, "dba@db.example", &repo, &["apply", &id, "--json"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let why = json(&out)["outcomes"][0]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        why.contains("needs 1 distinct approvers, has 0")
            && why.contains("committer@example.com: update modules/postgres on staging"),
        "{why}"
    );
    // dba's own approval counts.
    assert_eq!(
        fleet_as(&env, "dba@db.example", &repo, &["approve", &id]).code,
        0
    );
    let ok = fleet_as(&env, "dba@db.example", &repo, &["apply", &id]);
    assert_eq!(ok.code, 0, "{}{}", ok.stdout, ok.stderr);
}
