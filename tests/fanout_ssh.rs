//! `git fleet fanout` to peers over SSH, against a real `sshd` on 127.0.0.1
//! (tests/sshd): every peer state gets the same outcome as a local peer, all
//! over one session, and hostile peer paths or remotes execute nothing.

mod common;
#[path = "common/peer_states.rs"]
mod peer_states;
mod sshd;

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
