//! `git fleet fanout` to peers over SSH, against a real `sshd` on 127.0.0.1
//! (sshd.rs): every peer state gets the same outcome as a local peer, all
//! over one session, and hostile peer paths or remotes execute nothing.

use crate::common;
use crate::common::peer_states;
use crate::sshd;

use common::TestEnv;
use peer_states::{fleet, make_states, FAST_FORWARD};
use sshd::Sshd;

fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not one JSON object ({e}): {stdout}"))
}

/// A user key in TestEnv's HOME, an sshd accepting it, `Host fleet-peer` in
/// ~/.ssh/config and the sshd's host key in ~/.ssh/known_hosts.
fn ssh_world(env: &TestEnv) -> Sshd {
    let ssh = env.home().join(".ssh");
    std::fs::create_dir_all(&ssh).unwrap();
    let key = ssh.join("fleet_test_key");
    sshd::keygen(&key, "ed25519");
    let server = Sshd::start(&env.root().join("sshd"), &[&key.with_extension("pub")]);
    std::fs::write(
        ssh.join("config"),
        format!(
            "Host fleet-peer\n    HostName 127.0.0.1\n    Port {}\n    User {}\n    IdentityFile ~/.ssh/fleet_test_key\n",
            server.port,
            sshd::current_user()
        ),
    )
    .unwrap();
    std::fs::write(ssh.join("known_hosts"), server.known_hosts_line(0)).unwrap();
    server
}

#[test]
fn ssh_peers_get_the_same_outcomes_over_one_session() {
    let env = TestEnv::new();
    let server = ssh_world(&env);
    let f = fleet(&env);
    let states = make_states(&env, &f, &|name, path| {
        format!(
            "[peers.{name}]\nlocation = \"ssh://fleet-peer{}\"\n",
            path.display()
        )
    });
    let out = env.fleet(&f.dev, &["fanout", "--json", "--jobs", "4"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let v = json(&out.stdout);
    for (name, _, outcome) in &states.peers {
        let pj = v["peers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name.as_str())
            .unwrap();
        assert_eq!(pj["outcome"], *outcome, "{name}: {pj}");
    }
    states.assert_blocked_untouched(&env);
    for name in FAST_FORWARD {
        let head = env.git(&states.path(name), &["rev-parse", "HEAD"]);
        assert_eq!(head.trim(), states.commit, "{name} not at the commit");
    }
    assert_eq!(
        server.accepted_logins(),
        1,
        "one SSH session for the host:\n{}",
        server.log()
    );
}

#[test]
fn hostile_ssh_paths_and_remotes_execute_nothing() {
    let env = TestEnv::new();
    let _server = ssh_world(&env);
    let f = fleet(&env);
    let clean = f.peer(&env, "clean");
    let m1 = env.root().join("pwned-path");
    let m2 = env.root().join("pwned-remote");
    let m3 = env.root().join("pwned-backtick");
    let toml = format!(
        r#"[peers.path]
location = "ssh://fleet-peer{root}/x$(touch {m1});touch {m1}"

[peers.remote]
location = "ssh://fleet-peer{clean}"
remote = "origin;touch {m2}"

[peers.tick]
location = "ssh://fleet-peer{root}/`touch {m3}`"
"#,
        root = env.root().display(),
        clean = clean.display(),
        m1 = m1.display(),
        m2 = m2.display(),
        m3 = m3.display(),
    );
    std::fs::write(f.dev.join("fleet.toml"), toml).unwrap();
    f.push_change(&env, "src/f1.txt", "v2\n");
    let out = env.fleet(&f.dev, &["fanout", "--json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let v = json(&out.stdout);
    let outcome = |n: &str| {
        v["peers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == n)
            .unwrap()["outcome"]
            .clone()
    };
    assert_eq!(outcome("path"), "missing", "{v}");
    assert_eq!(outcome("tick"), "missing", "{v}");
    assert_eq!(outcome("remote"), "fetch-failed", "{v}");
    for m in [&m1, &m2, &m3] {
        assert!(
            !m.exists(),
            "{} was created: something executed",
            m.display()
        );
    }
    assert_eq!(
        env.git(&clean, &["rev-parse", "HEAD"]).trim(),
        f.base,
        "the peer with a bad remote moved"
    );
}

/// Issue 11 over SSH: the same contract as local peers. An unpushed commit
/// is `not-on-remote`, a commit only on main is `wrong-branch` for a peer on
/// release, a hidden (skip-worktree) edit the commit changes is `dirty`
/// before any write, and a failed reload is run again on the next fanout.
#[test]
fn ssh_peers_never_pretend_either() {
    let env = TestEnv::new();
    let _server = ssh_world(&env);
    let f = fleet(&env);
    env.git(&f.dev, &["push", "-q", "origin", "main:release"]);
    let web = f.peer(&env, "web");
    let rel = f.peer_on(&env, "rel", "release");
    let hidden = f.peer(&env, "hidden");
    env.git(&hidden, &["update-index", "--skip-worktree", "src/f1.txt"]);
    std::fs::write(hidden.join("src/f1.txt"), "hidden local edit\n").unwrap();
    let fault = env.root().join("reload-broken");
    let count = env.root().join("reload-count");
    std::fs::write(&fault, "").unwrap();
    std::fs::write(
        f.dev.join("fleet.toml"),
        format!(
            "[peers.web]\nlocation = \"ssh://fleet-peer{}\"\nreload = \"echo run >> {}; test ! -e {}\"\n\n[peers.rel]\nlocation = \"ssh://fleet-peer{}\"\nbranch = \"release\"\n\n[peers.hidden]\nlocation = \"ssh://fleet-peer{}\"\n",
            web.display(),
            count.display(),
            fault.display(),
            rel.display(),
            hidden.display()
        ),
    )
    .unwrap();
    let outcome = |v: &serde_json::Value, n: &str| {
        v["peers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == n)
            .unwrap()
            .clone()
    };
    let marks: Vec<String> = [&web, &rel, &hidden]
        .iter()
        .map(|p| peer_states::moved_marks(&env, p))
        .collect();
    f.commit_only(&env, "src/f1.txt", "v2\n");
    let out = env.fleet(&f.dev, &["fanout", "--json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let v = json(&out.stdout);
    for n in ["web", "hidden"] {
        assert_eq!(outcome(&v, n)["outcome"], "not-on-remote", "{v}");
    }
    assert_eq!(outcome(&v, "rel")["outcome"], "wrong-branch", "{v}");
    env.git(&f.dev, &["push", "-q", "origin", "main"]);
    let out = env.fleet(&f.dev, &["fanout", "--json"]);
    let v = json(&out.stdout);
    assert_eq!(outcome(&v, "web")["outcome"], "reload-failed", "{v}");
    assert_eq!(outcome(&v, "rel")["outcome"], "wrong-branch", "{v}");
    let h = outcome(&v, "hidden");
    assert_eq!(h["outcome"], "dirty", "{v}");
    assert!(h["reason"].as_str().unwrap().contains("src/f1.txt"), "{v}");
    assert!(!hidden.join(".git/ORIG_HEAD").exists());
    assert_eq!(peer_states::moved_marks(&env, &rel), marks[1]);
    assert_eq!(peer_states::moved_marks(&env, &hidden), marks[2]);
    std::fs::remove_file(&fault).unwrap();
    let out = env.fleet(&f.dev, &["fanout", "--json", "--peer", "web"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    let v = json(&out.stdout);
    assert_eq!(
        outcome(&v, "web")["runtime"]["reload"]["status"],
        "ok",
        "{v}"
    );
    assert_eq!(std::fs::read_to_string(&count).unwrap().lines().count(), 2);
}

/// `~/.ssh/config` as OpenSSH reads it: several aliases of one sshd are separate
/// hosts. One whose key the server refuses does not make the others unreachable (the
/// failure is remembered per alias), `HostKeyAlias` names the known_hosts entry, and
/// an alias whose recorded key is another is refused even though the address's entry
/// holds the right one.
#[test]
fn ssh_config_aliases_are_hosts_of_their_own() {
    let env = TestEnv::new();
    let server = ssh_world(&env);
    let ssh = env.home().join(".ssh");
    let stranger = ssh.join("stranger_key");
    sshd::keygen(&stranger, "ed25519");
    let forged_host_key = env.root().join("forged_host_key");
    sshd::keygen(&forged_host_key, "ed25519");
    let mut config = std::fs::read_to_string(ssh.join("config")).unwrap();
    let host = |alias: &str, extra: &str| {
        format!(
            "\nHost {alias}\n    HostName 127.0.0.1\n    Port {}\n    User {}\n{extra}",
            server.port,
            sshd::current_user()
        )
    };
    config.push_str(&host(
        "fleet-refused",
        "    IdentityFile ~/.ssh/stranger_key\n",
    ));
    config.push_str(&host(
        "fleet-named",
        "    IdentityFile ~/.ssh/fleet_test_key\n    HostKeyAlias web-1.fleet.test\n",
    ));
    config.push_str(&host(
        "fleet-forged",
        "    IdentityFile ~/.ssh/fleet_test_key\n    HostKeyAlias db-1.fleet.test\n",
    ));
    std::fs::write(ssh.join("config"), config).unwrap();
    let real = server.known_hosts_line(0);
    let real_key = real.split_once(' ').unwrap().1;
    let forged = std::fs::read_to_string(forged_host_key.with_extension("pub")).unwrap();
    let forged_key: Vec<&str> = forged.split_whitespace().take(2).collect();
    std::fs::write(
        ssh.join("known_hosts"),
        format!(
            "{real}web-1.fleet.test {real_key}db-1.fleet.test {}\n",
            forged_key.join(" ")
        ),
    )
    .unwrap();

    let f = fleet(&env);
    let mut toml = String::new();
    let mut paths = Vec::new();
    for (name, alias) in [
        ("a-refused", "fleet-refused"),
        ("b-plain", "fleet-peer"),
        ("c-named", "fleet-named"),
        ("d-forged", "fleet-forged"),
    ] {
        let path = f.peer(&env, name);
        toml.push_str(&format!(
            "[peers.{name}]\nlocation = \"ssh://{alias}{}\"\n\n",
            path.display()
        ));
        paths.push((name, path));
    }
    std::fs::write(f.dev.join("fleet.toml"), toml).unwrap();
    let commit = f.push_change(&env, "src/f1.txt", "v2\n");
    let out = env.fleet(&f.dev, &["fanout", "--json", "--jobs", "1"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let v = json(&out.stdout);
    let peer = |n: &str| {
        v["peers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == n)
            .unwrap()
            .clone()
    };
    let a = peer("a-refused");
    assert_eq!(a["outcome"], "unreachable", "{v}");
    assert!(
        a["reason"]
            .as_str()
            .unwrap()
            .contains("authentication failed"),
        "{v}"
    );
    for n in ["b-plain", "c-named"] {
        assert_eq!(peer(n)["outcome"], "fast-forwarded", "{n}: {v}");
    }
    let d = peer("d-forged");
    assert_eq!(d["outcome"], "unreachable", "{v}");
    assert!(d["reason"].as_str().unwrap().contains("CHANGED"), "{v}");
    for (name, path) in &paths {
        let head = env.git(path, &["rev-parse", "HEAD"]);
        let moved = head.trim() == commit;
        assert_eq!(moved, ["b-plain", "c-named"].contains(name), "{name}");
    }
}
