//! Fanout against real peer checkouts: every blocked peer is left byte for
//! byte as it was; clean peers fast-forward; the run is recorded as a note;
//! `proof` reads it back.

use crate::common;
use crate::common::peer_states;
use common::TestEnv;
use peer_states::{fleet, make_states, state_hash, FAST_FORWARD};

fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not one JSON object ({e}): {stdout}"))
}

fn peer_json<'a>(v: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    v["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no peer {name} in {v}"))
}

#[test]
fn every_peer_state_gets_its_outcome_and_blocked_peers_are_untouched() {
    let env = TestEnv::new();
    let f = fleet(&env);
    let states = make_states(&env, &f, &|name, path| {
        format!("[peers.{name}]\nlocation = \"{}\"\n", path.display())
    });
    // A subdirectory of a repository is not a repository's top level.
    let nested = states.path("clean").join("src");
    f.declare(&env, "nested", &nested);
    let c = states.commit.clone();
    let p = |n: &str| states.path(n);

    let out = env.fleet(&f.dev, &["fanout", "--json"]);
    assert_eq!(out.code, 1, "blocked peers mean exit 1: {}", out.stderr);
    let v = json(&out.stdout);
    assert_eq!(v["version"], 1);
    assert_eq!(v["commit"], c.as_str());
    for (name, _, outcome) in &states.peers {
        let pj = peer_json(&v, name);
        assert_eq!(pj["outcome"], *outcome, "{name}: {pj}");
        assert!(
            !pj["reason"].as_str().unwrap().is_empty(),
            "{name} has no reason"
        );
    }
    assert_eq!(peer_json(&v, "nested")["outcome"], "not-a-repo");
    assert_eq!(v["summary"]["fast_forwarded"], 2);
    assert_eq!(v["summary"]["blocked"], states.peers.len() - 2 + 1);
    assert_eq!(peer_json(&v, "staged")["before"], f.base.as_str());
    states.assert_blocked_untouched(&env);
    for name in FAST_FORWARD {
        let head = env.git(&p(name), &["rev-parse", "HEAD"]);
        assert_eq!(head.trim(), c, "{name} not at the commit");
        assert_eq!(
            env.git(&p(name), &["status", "--porcelain", "--untracked-files=no"]),
            ""
        );
    }
    assert_eq!(
        std::fs::read_to_string(p("untracked").join("notes.txt")).unwrap(),
        "mine\n",
        "the untracked file was touched"
    );
    assert_eq!(
        std::fs::read_to_string(p("in-the-way").join("added.txt")).unwrap(),
        "untracked, mine\n"
    );
    assert!(peer_json(&v, "in-the-way")["reason"]
        .as_str()
        .unwrap()
        .contains("added.txt"));

    // The run is a note on the commit, readable by git itself.
    let note = env.git(&f.dev, &["notes", "--ref=fleet/fanout", "show", &c]);
    assert!(note.contains(&format!("Fleet-Fanout: {c}")), "{note}");
    assert!(note.contains("Fleet-Actor: Test Committer <committer@example.com>"));
    assert!(note.contains("Fleet-Peer: clean fast-forwarded "), "{note}");
    assert!(note.contains("Fleet-Peer: staged dirty "), "{note}");
    assert!(note.contains("Fleet-Peer: mid-rebase busy "), "{note}");
    assert!(
        note.contains("Fleet-Runtime: clean reload=out-of-scope"),
        "{note}"
    );

    // Again: the delivered peers are now current; still nothing else moves.
    let out = env.fleet(
        &f.dev,
        &["fanout", "--json", "--peer", "clean", "--peer", "staged"],
    );
    assert_eq!(out.code, 1);
    let v = json(&out.stdout);
    assert_eq!(peer_json(&v, "clean")["outcome"], "current");
    assert_eq!(v["peers"].as_array().unwrap().len(), 2);
    let note = env.git(&f.dev, &["notes", "--ref=fleet/fanout", "show", &c]);
    // Each run: a write-ahead block, then its results under the same run id.
    assert_eq!(note.matches("Fleet-State: pending").count(), 2, "{note}");
    assert_eq!(note.matches("Fleet-Fanout:").count(), 4, "{note}");
    states.assert_blocked_untouched(&env);

    // Delivering an older commit to a peer at its remote's tip: it holds
    // that commit already (current, nothing moves); a peer with commits its
    // remote lacks is `ahead` (the "ahead" state above).
    let out = env.fleet(
        &f.dev,
        &["fanout", "--json", "--commit", &f.base, "--peer", "clean"],
    );
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(peer_json(&json(&out.stdout), "clean")["outcome"], "current");
    assert_eq!(env.git(&p("clean"), &["rev-parse", "HEAD"]).trim(), c);
}

#[test]
fn dry_run_changes_and_records_nothing() {
    let env = TestEnv::new();
    let f = fleet(&env);
    let peer = f.peer(&env, "web");
    f.declare(&env, "web", &peer);
    let c = f.push_change(&env, "src/f1.txt", "new\n");
    let before = state_hash(&env, &peer);
    let notes_before = env.refs(&f.dev);
    let out = env.fleet(&f.dev, &["fanout", "--dry-run", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = json(&out.stdout);
    assert_eq!(v["dry_run"], true);
    assert_eq!(peer_json(&v, "web")["outcome"], "would-fast-forward");
    assert_eq!(state_hash(&env, &peer), before);
    assert_eq!(env.refs(&f.dev), notes_before, "a dry run wrote a ref");
    let out = env.fleet(&f.dev, &["fanout"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("fast-forwarded"), "{}", out.stdout);
    assert_eq!(env.git(&peer, &["rev-parse", "HEAD"]).trim(), c);
}

#[test]
fn runtime_proof_reload_health_readback() {
    let env = TestEnv::new();
    let f = fleet(&env);
    let good = f.peer(&env, "good");
    let sick = f.peer(&env, "sick");
    let stale = f.peer(&env, "stale");
    let toml = format!(
        r#"# peers of this fleet (this comment must survive edits)
[peers.good]
location = "{}"
reload = "echo reloaded > .reloaded"
health = "test -f .reloaded"
readback = "git rev-parse HEAD"

[peers.sick]
location = "{}"
health = "echo 'db down' >&2; exit 3"
readback = "git rev-parse HEAD"

[peers.stale]
location = "{}"
readback = "echo 0123456789abcdef"
"#,
        good.display(),
        sick.display(),
        stale.display()
    );
    std::fs::write(f.dev.join("fleet.toml"), toml).unwrap();
    let c = f.push_change(&env, "src/f2.txt", "v2\n");

    // Before any fanout, proof is incomplete (no records).
    let out = env.fleet(&f.dev, &["proof"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("no fanout recorded"), "{}", out.stdout);

    let out = env.fleet(&f.dev, &["fanout", "--json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let v = json(&out.stdout);
    let g = peer_json(&v, "good");
    assert_eq!(g["outcome"], "fast-forwarded");
    assert_eq!(g["runtime"]["reload"]["status"], "ok");
    assert_eq!(g["runtime"]["health"]["status"], "ok");
    assert_eq!(g["runtime"]["readback"]["status"], "ok");
    assert_eq!(g["runtime"]["readback"]["detail"], c.as_str());
    let s = peer_json(&v, "sick");
    assert_eq!(s["outcome"], "health-failed");
    assert!(s["reason"].as_str().unwrap().contains("db down"), "{s}");
    assert_eq!(s["runtime"]["readback"]["status"], "skipped");
    assert_eq!(s["after"], c.as_str(), "the host itself was delivered");
    let st = peer_json(&v, "stale");
    assert_eq!(st["outcome"], "readback-mismatch");
    assert_eq!(st["runtime"]["reload"]["status"], "out-of-scope");

    let out = env.fleet(&f.dev, &["proof", "--json"]);
    assert_eq!(out.code, 1);
    let p = json(&out.stdout);
    assert_eq!(p["version"], 1);
    assert_eq!(p["complete"], false);
    assert_eq!(p["exists_locally"], true);
    assert_eq!(p["remote"]["ok"], true);
    let good_proof = p["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "good")
        .unwrap();
    assert_eq!(good_proof["ok"], true);
    let out = env.fleet(&f.dev, &["proof"]);
    assert!(
        out.stdout.contains("reloaded, healthy, read back"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("health-failed"), "{}", out.stdout);

    // Fix the sick and stale peers: the next run makes the proof complete.
    let fixed = std::fs::read_to_string(f.dev.join("fleet.toml"))
        .unwrap()
        .replace("echo 'db down' >&2; exit 3", "true")
        .replace("echo 0123456789abcdef", "git rev-parse --short HEAD");
    std::fs::write(f.dev.join("fleet.toml"), fixed).unwrap();
    let out = env.fleet(&f.dev, &["fanout", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let v = json(&out.stdout);
    assert_eq!(peer_json(&v, "sick")["outcome"], "current");
    assert_eq!(
        peer_json(&v, "stale")["runtime"]["readback"]["status"],
        "ok"
    );
    let out = env.fleet(&f.dev, &["proof"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("reload out of scope"), "{}", out.stdout);

    // A commit origin does not have is not proven.
    let local_only = {
        std::fs::write(f.dev.join("x.txt"), "x\n").unwrap();
        env.git(&f.dev, &["add", "x.txt"]);
        env.git(&f.dev, &["commit", "-q", "-m", "local only"]);
        env.git(&f.dev, &["rev-parse", "HEAD"]).trim().to_string()
    };
    let out = env.fleet(&f.dev, &["proof", "--json", &local_only]);
    assert_eq!(out.code, 1);
    assert_eq!(json(&out.stdout)["remote"]["ok"], false);
    // An id this repository does not have: incomplete, not an error.
    let out = env.fleet(&f.dev, &["proof", &"ab".repeat(20)]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stdout.contains("does not exist here"), "{}", out.stdout);
    // A name that resolves to nothing is bad input.
    assert_eq!(env.fleet(&f.dev, &["proof", "no-such-rev"]).code, 2);
}

#[test]
fn peers_add_remove_list_keep_comments_and_report_locations() {
    let env = TestEnv::new();
    let f = fleet(&env);
    let toml =
        "# shared settings\n[targets.staging]\n# the staging target\ndesired = \"fleet.yaml\"\n";
    std::fs::write(f.dev.join("fleet.toml"), toml).unwrap();
    let out = env.fleet(
        &f.dev,
        &[
            "peers",
            "add",
            "web-1",
            "ssh://deploy@web-1.example:2222/srv/app",
            "--branch",
            "main",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = env.fleet(&f.dev, &["peers", "add", "laptop", "~/src/app", "--local"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let text = std::fs::read_to_string(f.dev.join("fleet.toml")).unwrap();
    assert!(text.starts_with(toml), "comments lost:\n{text}");
    assert!(text.contains("[peers.web-1]\nlocation = \"ssh://deploy@web-1.example:2222/srv/app\"\nbranch = \"main\"\n"), "{text}");
    assert!(std::fs::read_to_string(f.dev.join(".git/fleet.local.toml"))
        .unwrap()
        .contains("[peers.laptop]"));

    // A local peer of the same name overrides the shared one.
    assert_eq!(
        env.fleet(&f.dev, &["peers", "add", "web-1", "/srv/web-1", "--local"])
            .code,
        0
    );
    let out = env.fleet(&f.dev, &["peers", "list", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = json(&out.stdout);
    let peers = v["peers"].as_array().unwrap();
    assert_eq!(peers.len(), 2);
    let laptop = peers.iter().find(|p| p["name"] == "laptop").unwrap();
    assert_eq!(laptop["path"], env.home().join("src/app").to_str().unwrap());
    assert_eq!(laptop["declared_in"], "local");
    let web = peers.iter().find(|p| p["name"] == "web-1").unwrap();
    assert_eq!(web["kind"], "local");
    assert_eq!(web["declared_in"], "local-override");
    let out = env.fleet(&f.dev, &["peers", "list"]);
    assert!(
        out.stdout.contains("local (overrides fleet.toml)"),
        "{}",
        out.stdout
    );

    // Duplicates and bad input are refused, nothing written.
    let before = std::fs::read_to_string(f.dev.join("fleet.toml")).unwrap();
    assert_eq!(env.fleet(&f.dev, &["peers", "add", "web-1", "/x"]).code, 2);
    assert_eq!(
        env.fleet(&f.dev, &["peers", "add", "bad name", "/x"]).code,
        2
    );
    let out = env.fleet(&f.dev, &["peers", "add", "x", "relative/path"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("absolute"), "{}", out.stderr);
    assert_eq!(
        env.fleet(&f.dev, &["peers", "add", "x", "/x", "--branch", "-evil"])
            .code,
        2
    );
    assert_eq!(
        std::fs::read_to_string(f.dev.join("fleet.toml")).unwrap(),
        before
    );

    // remove --local drops only the override; remove drops the rest.
    assert_eq!(
        env.fleet(&f.dev, &["peers", "remove", "web-1", "--local"])
            .code,
        0
    );
    let v = json(&env.fleet(&f.dev, &["peers", "list", "--json"]).stdout);
    let web = v["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "web-1")
        .unwrap()
        .clone();
    assert_eq!(web["kind"], "ssh");
    assert_eq!(web["host"], "web-1.example");
    assert_eq!(web["port"], 2222);
    assert_eq!(web["user"], "deploy");
    assert_eq!(web["transport"], "libssh2");
    assert_eq!(env.fleet(&f.dev, &["peers", "remove", "web-1"]).code, 0);
    assert_eq!(
        std::fs::read_to_string(f.dev.join("fleet.toml")).unwrap(),
        toml
    );
    let out = env.fleet(&f.dev, &["peers", "remove", "web-1"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("known: laptop"), "{}", out.stderr);

    // Unknown keys are errors with file:line:col, in either file.
    std::fs::write(
        f.dev.join("fleet.toml"),
        "[peers.a]\nlocation = \"/x\"\nreloda = \"oops\"\n",
    )
    .unwrap();
    let out = env.fleet(&f.dev, &["peers", "list"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("fleet.toml:3:1"), "{}", out.stderr);
    assert!(out.stderr.contains("reloda"), "{}", out.stderr);
    std::fs::remove_file(f.dev.join("fleet.toml")).unwrap();
    std::fs::write(
        f.dev.join(".git/fleet.local.toml"),
        "[peers.a]\nlocation = \"/x\"\ntimeout = 0\n",
    )
    .unwrap();
    let out = env.fleet(&f.dev, &["fanout"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains(".git/fleet.local.toml:3:11"),
        "{}",
        out.stderr
    );
}

#[test]
fn ssh_peers_without_a_reachable_host_are_unreachable_and_others_still_deliver() {
    let env = TestEnv::new();
    let f = fleet(&env);
    let peer = f.peer(&env, "local");
    f.declare(&env, "local", &peer);
    // Port 1 on localhost: nothing listens there.
    assert_eq!(
        env.fleet(
            &f.dev,
            &["peers", "add", "far", "ssh://nobody@127.0.0.1:1/srv/app"]
        )
        .code,
        0
    );
    let c = f.push_change(&env, "src/f3.txt", "v\n");
    let out = env.fleet(&f.dev, &["fanout", "--json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let v = json(&out.stdout);
    assert_eq!(peer_json(&v, "far")["outcome"], "unreachable");
    assert_eq!(peer_json(&v, "local")["outcome"], "fast-forwarded");
    assert_eq!(env.git(&peer, &["rev-parse", "HEAD"]).trim(), c);
}

#[test]
fn fanout_usage_errors() {
    let env = TestEnv::new();
    let f = fleet(&env);
    let out = env.fleet(&f.dev, &["fanout"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("no peers declared"), "{}", out.stderr);
    let peer = f.peer(&env, "a");
    f.declare(&env, "a", &peer);
    let out = env.fleet(&f.dev, &["fanout", "--peer", "b"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("known: a"), "{}", out.stderr);
    assert_eq!(env.fleet(&f.dev, &["fanout", "--commit", "nope"]).code, 2);
    env.git(&f.dev, &["checkout", "-q", "--detach"]);
    let out = env.fleet(&f.dev, &["fanout"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("--branch"), "{}", out.stderr);
    let out = env.fleet(&f.dev, &["fanout", "--branch", "main", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(peer_json(&json(&out.stdout), "a")["outcome"], "current");
}

#[test]
fn help_has_examples() {
    let env = TestEnv::new();
    for cmd in [
        &["fanout"][..],
        &["proof"],
        &["peers", "add"],
        &["peers", "list"],
        &["peers", "remove"],
        &["hooks", "install"],
        &["hooks", "status"],
        &["hook"],
    ] {
        let mut args = cmd.to_vec();
        args.push("--help");
        let out = env.fleet(env.root(), &args);
        assert_eq!(out.code, 0);
        assert!(
            out.stdout.contains("Examples:"),
            "{cmd:?} --help lacks examples"
        );
    }
}

// ---- Issue 11: delivery that never pretends ----

use peer_states::moved_marks;

fn reason<'a>(v: &'a serde_json::Value, name: &str) -> &'a str {
    peer_json(v, name)["reason"].as_str().unwrap()
}

#[test]
fn a_commit_never_pushed_is_not_on_remote_and_the_peer_is_untouched() {
    let env = TestEnv::new();
    let f = fleet(&env);
    let peer = f.peer(&env, "web");
    f.declare(&env, "web", &peer);
    let c = f.commit_only(&env, "src/f1.txt", "never pushed\n");
    let marks = moved_marks(&env, &peer);

    let out = env.fleet(&f.dev, &["fanout", "--json"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let v = json(&out.stdout);
    assert_eq!(peer_json(&v, "web")["outcome"], "not-on-remote", "{v}");
    assert!(reason(&v, "web").contains("origin"), "{v}");
    assert_eq!(moved_marks(&env, &peer), marks, "the peer was written to");
    assert_eq!(env.git(&peer, &["rev-parse", "HEAD"]).trim(), f.base);
    // A dry run says the same.
    let out = env.fleet(&f.dev, &["fanout", "--json", "--dry-run"]);
    assert_eq!(
        peer_json(&json(&out.stdout), "web")["outcome"],
        "not-on-remote"
    );

    // Once pushed, it is delivered: from the peer's own remote.
    env.git(&f.dev, &["push", "-q", "origin", "main"]);
    let out = env.fleet(&f.dev, &["fanout", "--json"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        peer_json(&json(&out.stdout), "web")["outcome"],
        "fast-forwarded"
    );
    assert_eq!(env.git(&peer, &["rev-parse", "HEAD"]).trim(), c);
}

#[test]
fn a_peer_pinned_to_release_moves_only_to_what_origin_release_has() {
    let env = TestEnv::new();
    let f = fleet(&env);
    env.git(&f.dev, &["push", "-q", "origin", "main:release"]);
    let rel = f.peer_on(&env, "rel", "release");
    let main = f.peer(&env, "main");
    std::fs::write(
        f.dev.join("fleet.toml"),
        format!(
            "[peers.rel]\nlocation = \"{}\"\nbranch = \"release\"\nreadback = \"git rev-parse HEAD\"\n\n[peers.main]\nlocation = \"{}\"\n",
            rel.display(),
            main.display()
        ),
    )
    .unwrap();
    let c = f.push_change(&env, "src/f1.txt", "main only\n");
    let marks = moved_marks(&env, &rel);

    let out = env.fleet(&f.dev, &["fanout", "--json"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let v = json(&out.stdout);
    assert_eq!(peer_json(&v, "rel")["outcome"], "wrong-branch", "{v}");
    assert!(reason(&v, "rel").contains("release"), "{v}");
    assert_eq!(peer_json(&v, "main")["outcome"], "fast-forwarded", "{v}");
    assert_eq!(
        moved_marks(&env, &rel),
        marks,
        "the release peer was written to"
    );
    assert_eq!(env.git(&rel, &["rev-parse", "HEAD"]).trim(), f.base);

    // release gets C and a later commit D: the peer moves to origin/release's
    // tip (D, which contains C), never further than the remote has.
    let d = f.push_change(&env, "src/f2.txt", "later\n");
    env.git(
        &f.dev,
        &["push", "-q", "origin", &format!("{d}:refs/heads/release")],
    );
    let e = f.push_change(&env, "src/f3.txt", "main only again\n");
    assert_ne!(e, d);
    let out = env.fleet(
        &f.dev,
        &["fanout", "--json", "--commit", &c, "--peer", "rel"],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let v = json(&out.stdout);
    let r = peer_json(&v, "rel");
    assert_eq!(r["outcome"], "fast-forwarded", "{v}");
    assert_eq!(r["after"], d.as_str(), "{v}");
    assert_eq!(r["runtime"]["readback"]["status"], "ok", "{v}");
    assert_eq!(env.git(&rel, &["rev-parse", "HEAD"]).trim(), d);
    assert_eq!(
        env.git(&rel, &["rev-parse", "--abbrev-ref", "HEAD"]).trim(),
        "release"
    );
    // Again: the peer holds C, at its remote's tip: current.
    let out = env.fleet(
        &f.dev,
        &["fanout", "--json", "--commit", &c, "--peer", "rel"],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(peer_json(&json(&out.stdout), "rel")["outcome"], "current");
    let out = env.fleet(&f.dev, &["proof", &c]);
    assert!(out.stdout.contains("peer rel"), "{}", out.stdout);
}

#[test]
fn a_failed_reload_is_run_again_until_it_succeeds() {
    let env = TestEnv::new();
    let f = fleet(&env);
    let peer = f.peer(&env, "app");
    let fault = env.root().join("reload-broken");
    let count = env.root().join("reload-count");
    std::fs::write(&fault, "").unwrap();
    std::fs::write(
        f.dev.join("fleet.toml"),
        format!(
            "[peers.app]\nlocation = \"{}\"\nreload = \"echo run >> {}; test ! -e {}\"\nhealth = \"true\"\nreadback = \"git rev-parse HEAD\"\n",
            peer.display(),
            count.display(),
            fault.display()
        ),
    )
    .unwrap();
    let c = f.push_change(&env, "src/f1.txt", "v2\n");
    let runs = || {
        std::fs::read_to_string(&count)
            .unwrap_or_default()
            .lines()
            .count()
    };

    let out = env.fleet(&f.dev, &["fanout", "--json"]);
    assert_eq!(out.code, 1);
    let v = json(&out.stdout);
    assert_eq!(peer_json(&v, "app")["outcome"], "reload-failed", "{v}");
    assert_eq!(peer_json(&v, "app")["after"], c.as_str());
    assert_eq!(runs(), 1);
    assert_eq!(env.fleet(&f.dev, &["proof"]).code, 1);

    // Still broken: the owed reload runs again and fails again.
    let out = env.fleet(&f.dev, &["fanout", "--json"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let v = json(&out.stdout);
    assert_eq!(peer_json(&v, "app")["outcome"], "reload-failed", "{v}");
    assert_eq!(runs(), 2, "the owed reload was not run again");
    let out = env.fleet(&f.dev, &["proof"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    let note = env.git(&f.dev, &["notes", "--ref=fleet/fanout", "show", &c]);
    assert!(
        note.contains("Fleet-Owed: app reload health readback"),
        "{note}"
    );

    // Fixed: the next fanout reloads, checks, reads back; proof is complete.
    std::fs::remove_file(&fault).unwrap();
    let out = env.fleet(&f.dev, &["fanout", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let v = json(&out.stdout);
    let app = peer_json(&v, "app");
    assert_eq!(app["outcome"], "current", "{v}");
    assert_eq!(app["runtime"]["reload"]["status"], "ok", "{v}");
    assert_eq!(app["runtime"]["readback"]["status"], "ok", "{v}");
    assert_eq!(runs(), 3);
    let out = env.fleet(&f.dev, &["proof"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("reloaded, healthy, read back"),
        "{}",
        out.stdout
    );

    // Nothing owed any more: a further fanout does not reload again.
    let out = env.fleet(&f.dev, &["fanout", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(runs(), 3, "a reload that succeeded was run again");
    assert_eq!(env.fleet(&f.dev, &["proof"]).code, 0);
}

#[test]
fn owed_steps_survive_a_blocked_run() {
    let env = TestEnv::new();
    let f = fleet(&env);
    let peer = f.peer(&env, "app");
    let fault = env.root().join("reload-broken");
    std::fs::write(&fault, "").unwrap();
    std::fs::write(
        f.dev.join("fleet.toml"),
        format!(
            "[peers.app]\nlocation = \"{}\"\nreload = \"test ! -e {}\"\n",
            peer.display(),
            fault.display()
        ),
    )
    .unwrap();
    f.push_change(&env, "src/f1.txt", "v2\n");
    assert_eq!(env.fleet(&f.dev, &["fanout"]).code, 1);
    std::fs::remove_file(&fault).unwrap();
    // Blocked (dirty) this time: the reload stays owed.
    std::fs::write(peer.join("src/f2.txt"), "local edit\n").unwrap();
    let out = env.fleet(&f.dev, &["fanout", "--json"]);
    assert_eq!(peer_json(&json(&out.stdout), "app")["outcome"], "dirty");
    env.git(&peer, &["checkout", "-q", "--", "src/f2.txt"]);
    let out = env.fleet(&f.dev, &["fanout", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let v = json(&out.stdout);
    assert_eq!(
        peer_json(&v, "app")["runtime"]["reload"]["status"],
        "ok",
        "{v}"
    );
    assert_eq!(env.fleet(&f.dev, &["proof"]).code, 0);
}

#[test]
fn skip_worktree_and_assume_unchanged_edits_block_before_any_write() {
    let env = TestEnv::new();
    let f = fleet(&env);
    let skip = f.peer(&env, "skip");
    let assume = f.peer(&env, "assume");
    let elsewhere = f.peer(&env, "elsewhere");
    env.git(&skip, &["update-index", "--skip-worktree", "src/f1.txt"]);
    std::fs::write(skip.join("src/f1.txt"), "hidden local edit\n").unwrap();
    env.git(
        &assume,
        &["update-index", "--assume-unchanged", "src/f1.txt"],
    );
    std::fs::write(assume.join("src/f1.txt"), "hidden local edit\n").unwrap();
    // A hidden edit to a file the commit does not change is no obstacle.
    env.git(
        &elsewhere,
        &["update-index", "--skip-worktree", "src/f4.txt"],
    );
    std::fs::write(elsewhere.join("src/f4.txt"), "hidden local edit\n").unwrap();
    for (n, p) in [
        ("skip", &skip),
        ("assume", &assume),
        ("elsewhere", &elsewhere),
    ] {
        f.declare(&env, n, p);
    }
    let c = f.push_change(&env, "src/f1.txt", "delivered\n");
    let marks = [moved_marks(&env, &skip), moved_marks(&env, &assume)];

    let out = env.fleet(&f.dev, &["fanout", "--json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let v = json(&out.stdout);
    for n in ["skip", "assume"] {
        assert_eq!(peer_json(&v, n)["outcome"], "dirty", "{v}");
        assert!(reason(&v, n).contains("src/f1.txt"), "{v}");
        assert!(!reason(&v, n).contains("during fanout"), "{v}");
    }
    assert!(!skip.join(".git/ORIG_HEAD").exists(), "ORIG_HEAD written");
    assert!(!assume.join(".git/ORIG_HEAD").exists(), "ORIG_HEAD written");
    assert_eq!(
        [moved_marks(&env, &skip), moved_marks(&env, &assume)],
        marks
    );
    assert_eq!(
        std::fs::read_to_string(skip.join("src/f1.txt")).unwrap(),
        "hidden local edit\n"
    );
    assert_eq!(
        peer_json(&v, "elsewhere")["outcome"],
        "fast-forwarded",
        "{v}"
    );
    assert_eq!(env.git(&elsewhere, &["rev-parse", "HEAD"]).trim(), c);
    assert_eq!(
        std::fs::read_to_string(elsewhere.join("src/f4.txt")).unwrap(),
        "hidden local edit\n"
    );
}

#[test]
fn a_bare_repository_peer_is_named_with_a_reason() {
    let env = TestEnv::new();
    let f = fleet(&env);
    let bare = env.root().join("peers/bare.git");
    env.git(
        env.root(),
        &[
            "clone",
            "-q",
            "--bare",
            f.origin.to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
    );
    f.declare(&env, "bare", &bare);
    f.push_change(&env, "src/f1.txt", "v2\n");
    let refs = env.refs(&bare);
    let out = env.fleet(&f.dev, &["fanout", "--json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let v = json(&out.stdout);
    assert_eq!(peer_json(&v, "bare")["outcome"], "not-a-repo", "{v}");
    assert!(reason(&v, "bare").contains("bare"), "{v}");
    assert_eq!(env.refs(&bare), refs);
}

#[test]
fn a_fanout_that_cannot_record_moves_nothing() {
    let env = TestEnv::new();
    let f = fleet(&env);
    let peer = f.peer(&env, "web");
    f.declare(&env, "web", &peer);
    f.push_change(&env, "src/f1.txt", "v2\n");
    let marks = moved_marks(&env, &peer);
    // The notes ref cannot be created (as with a read-only .git or a full
    // disk; a file where its directory must go fails even for root).
    let notes = f.dev.join(".git/refs/notes");
    let _ = std::fs::remove_dir_all(&notes);
    std::fs::write(&notes, "in the way\n").unwrap();
    let out = env.fleet(&f.dev, &["fanout"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("nothing was delivered"),
        "{}",
        out.stderr
    );
    assert_eq!(moved_marks(&env, &peer), marks, "moved without a record");
    std::fs::remove_file(&notes).unwrap();
    let out = env.fleet(&f.dev, &["fanout"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(env.fleet(&f.dev, &["proof"]).code, 0);
}

#[test]
fn a_fanout_that_never_completes_its_record_is_not_proof() {
    let env = TestEnv::new();
    let f = fleet(&env);
    let peer = f.peer(&env, "web");
    f.declare(&env, "web", &peer);
    let c = f.push_change(&env, "src/f1.txt", "v2\n");
    // A reload that kills its fanout (SIGKILL) after the peer moved.
    let text = format!(
        "[peers.web]\nlocation = \"{}\"\nreload = \"kill -9 $PPID; sleep 5\"\n",
        peer.display()
    );
    std::fs::write(f.dev.join("fleet.toml"), text).unwrap();
    let out = env.fleet(&f.dev, &["fanout"]);
    assert_ne!(out.code, 0);
    assert_eq!(env.git(&peer, &["rev-parse", "HEAD"]).trim(), c);
    let note = env.git(&f.dev, &["notes", "--ref=fleet/fanout", "show", &c]);
    assert!(note.contains("Fleet-State: pending"), "{note}");
    let out = env.fleet(&f.dev, &["proof"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stdout.contains("never completed"), "{}", out.stdout);
}

#[test]
fn hints_quote_what_the_user_typed_and_hide_passwords() {
    let env = TestEnv::new();
    let f = fleet(&env);
    let peer = f.peer(&env, "web");
    env.git(
        &peer,
        &[
            "remote",
            "set-url",
            "origin",
            "https://deploy:s3cret@127.0.0.1:1/app.git",
        ],
    );
    f.declare(&env, "web", &peer);
    f.push_change(&env, "src/f1.txt", "v2\n");
    let out = env.fleet(&f.dev, &["fanout", "--json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(!out.stdout.contains("s3cret"), "{}", out.stdout);
    let note = env.git(&f.dev, &["log", "-p", "refs/notes/fleet/fanout"]);
    assert!(!note.contains("s3cret"), "{note}");
    // A health check that prints a URL with a password (fleet.toml itself
    // refuses one, so the script assembles it): the reason, the record and
    // proof show `user:***@`.
    let ok_peer = f.peer(&env, "api");
    std::fs::write(
        f.dev.join("fleet.toml"),
        format!(
            "{}\n[peers.api]\nlocation = \"{}\"\nhealth = \"echo 'curl: (7) https:/''/admin:hunter2@localhost:8080/health refused' >&2; exit 7\"\n",
            std::fs::read_to_string(f.dev.join("fleet.toml")).unwrap(),
            ok_peer.display()
        ),
    )
    .unwrap();
    let out = env.fleet(&f.dev, &["fanout", "--json", "--peer", "api"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let r = reason(&json(&out.stdout), "api").to_string();
    assert!(r.contains("https://admin:***@localhost:8080/health"), "{r}");
    assert!(!out.stdout.contains("hunter2"), "{}", out.stdout);
    let proof = env.fleet(&f.dev, &["proof", "--json"]);
    assert!(!proof.stdout.contains("hunter2"), "{}", proof.stdout);
    let note = env.git(&f.dev, &["log", "-p", "refs/notes/fleet/fanout"]);
    assert!(!note.contains("hunter2"), "{note}");
    // A remote named like a command substitution is shown shell-quoted, so
    // pasting the hint runs nothing.
    std::fs::write(
        f.dev.join("fleet.toml"),
        format!(
            "[peers.web]\nlocation = \"{}\"\nremote = \"$(touch pwned)\"\n",
            peer.display()
        ),
    )
    .unwrap();
    let out = env.fleet(&f.dev, &["fanout", "--json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let r = reason(&json(&out.stdout), "web").to_string();
    assert!(r.contains("'$(touch pwned)'"), "{r}");
    assert!(!f.dev.join("pwned").exists() && !peer.join("pwned").exists());
}

#[test]
fn two_names_for_one_checkout_are_delivered_once() {
    let env = TestEnv::new();
    let f = fleet(&env);
    let peer = f.peer(&env, "web");
    f.declare(&env, "web", &peer);
    f.declare(&env, "web-again", &peer);
    let c = f.push_change(&env, "src/f1.txt", "v2\n");
    let out = env.fleet(&f.dev, &["fanout", "--json", "--jobs", "2"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let v = json(&out.stdout);
    assert_eq!(peer_json(&v, "web")["outcome"], "fast-forwarded", "{v}");
    assert_eq!(peer_json(&v, "web-again")["outcome"], "busy", "{v}");
    assert!(
        reason(&v, "web-again").contains("same checkout as peer web"),
        "{v}"
    );
    assert_eq!(env.git(&peer, &["rev-parse", "HEAD"]).trim(), c);
}

/// Every push-mode run leaves a receipt in the hash-chained log that attests
/// its note block (sha256); an edited or removed block is caught by verify.
#[test]
fn a_fanout_run_leaves_a_receipt_and_verify_catches_an_edited_record() {
    let env = TestEnv::new();
    let f = fleet(&env);
    let web = f.peer(&env, "web");
    f.declare(&env, "web", &web);
    let c = f.push_change(&env, "src/f1.txt", "one\n");

    let out = env.fleet(&f.dev, &["fanout", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = json(&out.stdout);
    let id = v["receipt"]
        .as_str()
        .expect("a receipt id in --json")
        .to_string();

    let log = env.fleet(&f.dev, &["receipts", "--json"]);
    assert_eq!(log.code, 0, "{}", log.stderr);
    let log = json(&log.stdout);
    let r = log["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id.as_str())
        .unwrap_or_else(|| panic!("receipt {id} not in the log: {log}"));
    let text = r.to_string();
    assert!(text.contains("fanout"), "{text}");
    assert!(
        text.contains(&c),
        "the receipt is about the delivered commit: {text}"
    );
    assert!(text.contains("1 fast-forwarded"), "{text}");

    let ok = env.fleet(&f.dev, &["receipts", "verify"]);
    assert_eq!(ok.code, 0, "{}{}", ok.stdout, ok.stderr);

    // Someone rewrites the record to claim a different outcome: the note
    // is replaced with git's own notes command (no git-fleet involved).
    let note = env.git(&f.dev, &["notes", "--ref=fleet/fanout", "show", &c]);
    let forged = note.replace("fast-forwarded", "current");
    assert_ne!(forged, note);
    env.git(
        &f.dev,
        &[
            "notes",
            "--ref=fleet/fanout",
            "add",
            "-f",
            "-m",
            &forged,
            &c,
        ],
    );
    let bad = env.fleet(&f.dev, &["receipts", "verify", "--json"]);
    assert_eq!(bad.code, 1, "{}{}", bad.stdout, bad.stderr);
    let problems = json(&bad.stdout)["problems"].to_string();
    assert!(problems.contains("record_mismatch"), "{problems}");
    assert!(problems.contains("edited"), "{problems}");

    // Removed altogether.
    env.git(&f.dev, &["notes", "--ref=fleet/fanout", "remove", &c]);
    let gone = env.fleet(&f.dev, &["receipts", "verify"]);
    assert_eq!(gone.code, 1, "{}{}", gone.stdout, gone.stderr);
    assert!(gone.stdout.contains("is not there"), "{}", gone.stdout);

    // A dry run changes nothing and writes no receipt.
    let before = env.git(&f.dev, &["rev-parse", "refs/notes/fleet/receipts"]);
    let dry = env.fleet(&f.dev, &["fanout", "--dry-run", "--json"]);
    assert!(dry.code <= 1, "{}", dry.stderr);
    assert!(json(&dry.stdout)["receipt"].is_null());
    assert_eq!(
        before,
        env.git(&f.dev, &["rev-parse", "refs/notes/fleet/receipts"])
    );
}

/// A receipt that cannot be written after the note (signing set up with a
/// key file that is gone) is said, exit 2; the note with the results stands.
#[test]
fn a_fanout_whose_receipt_cannot_be_signed_says_so_and_keeps_its_note() {
    let env = TestEnv::new();
    let f = fleet(&env);
    let web = f.peer(&env, "web");
    f.declare(&env, "web", &web);
    let c = f.push_change(&env, "src/f2.txt", "two\n");
    env.git(&f.dev, &["config", "gpg.format", "ssh"]);
    let gone = env.root().join("no-such-key");
    env.git(
        &f.dev,
        &["config", "user.signingKey", gone.to_str().unwrap()],
    );

    let out = env.fleet(&f.dev, &["fanout"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("receipt could not be written"),
        "{}",
        out.stderr
    );
    let note = env.git(&f.dev, &["notes", "--ref=fleet/fanout", "show", &c]);
    assert!(note.contains("Fleet-Peer: web fast-forwarded"), "{note}");
}
