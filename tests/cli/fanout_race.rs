//! A peer that changes between fanout's checks and its merge ends blocked,
//! with nothing overwritten: git's `merge --ff-only` refuses and fanout reads
//! HEAD back. The change is injected by a `PeerShell` wrapper that acts right
//! before the merge command runs (the peer is declared as an SSH location and
//! the test's connector hands back that wrapper around the local shell).

use crate::common;
use common::TestEnv;
use git_fleet::peers::config::{parse_shared, PeerSsh};
use git_fleet::peers::fanout::{run_with, Outcome, Request};
use git_fleet::peers::shell::{CmdOutput, LocalShell, PeerShell, ShellError, SshOptions};
use git_fleet::store::Store;
use std::path::{Path, PathBuf};
use std::time::Duration;

struct RaceShell {
    inner: LocalShell,
    before_merge: Box<dyn Fn() + Send + Sync>,
}

impl PeerShell for RaceShell {
    fn run(&self, dir: &str, argv: &[&str], timeout: Duration) -> Result<CmdOutput, ShellError> {
        if argv.contains(&"merge") && argv.contains(&"--ff-only") {
            (self.before_merge)();
        }
        self.inner.run(dir, argv, timeout)
    }
    fn run_shell(
        &self,
        dir: &str,
        script: &str,
        timeout: Duration,
    ) -> Result<CmdOutput, ShellError> {
        self.inner.run_shell(dir, script, timeout)
    }
}

/// Run git with TestEnv's isolated environment, panicking on failure.
fn git(env: &TestEnv, dir: &Path, args: &[&str]) -> String {
    env.git(dir, args)
}

struct Setup {
    dev: PathBuf,
    peer: PathBuf,
    base: String,
    commit: String,
}

fn setup(env: &TestEnv) -> Setup {
    let dev = env.repo("dev");
    let origin = env.origin_of(&dev, true);
    let base = git(env, &dev, &["rev-parse", "HEAD"]).trim().to_string();
    let peer = env.clone_of(&origin, "peer");
    std::fs::write(dev.join("README"), "delivered\n").unwrap();
    git(env, &dev, &["commit", "-q", "-am", "deliver"]);
    git(env, &dev, &["push", "-q", "origin", "main"]);
    let commit = git(env, &dev, &["rev-parse", "HEAD"]).trim().to_string();
    Setup {
        dev,
        peer,
        base,
        commit,
    }
}

fn deliver(
    s: &Setup,
    before_merge: Box<dyn Fn() + Send + Sync>,
) -> git_fleet::peers::fanout::Report {
    let toml = format!(
        "[peers.racy]\nlocation = \"ssh://localhost{}\"\n",
        s.peer.display()
    );
    let peers = parse_shared("fleet.toml", &toml, None).unwrap();
    let store = Store::open(&s.dev).unwrap();
    let commit = store.rev_commit(&s.commit).unwrap();
    let req = Request {
        commit,
        branch: "main".into(),
        peers,
        jobs: 1,
        dry_run: false,
        ssh: SshOptions::default(),
    };
    let cell = std::sync::Mutex::new(Some(before_merge));
    let connector = move |_: &PeerSsh, _: &SshOptions| -> Result<Box<dyn PeerShell>, ShellError> {
        let hook = cell
            .lock()
            .unwrap()
            .take()
            .expect("one connection per host");
        Ok(Box::new(RaceShell {
            inner: LocalShell,
            before_merge: hook,
        }))
    };
    run_with(&store, &req, &connector, &|_| {}).unwrap()
}

/// The test process runs git through the library (not through TestEnv), so
/// give it the same isolated configuration. The caller holds
/// `common::process_env_lock()`, so no other test of this binary (the SSH
/// tests point HOME elsewhere) changes it meanwhile; tests that run
/// everything through `TestEnv::command` (a cleared environment) never see it.
fn isolate(env: &TestEnv) {
    for (k, v) in [
        ("HOME", env.home().to_str().unwrap()),
        ("GIT_CONFIG_NOSYSTEM", "1"),
        ("GIT_CONFIG_GLOBAL", "/dev/null"),
        ("GIT_AUTHOR_NAME", "Racer"),
        ("GIT_AUTHOR_EMAIL", "racer@example.com"),
        ("GIT_COMMITTER_NAME", "Racer"),
        ("GIT_COMMITTER_EMAIL", "racer@example.com"),
        ("LC_ALL", "C"),
    ] {
        std::env::set_var(k, v);
    }
}

#[test]
fn changes_between_check_and_merge_end_blocked_with_nothing_overwritten() {
    let _env_lock = common::process_env_lock();
    let env = TestEnv::new();
    isolate(&env);

    // 1. A tracked file the commit changes is edited just before the merge.
    let s = setup(&env);
    let peer = s.peer.clone();
    let report = deliver(
        &s,
        Box::new(move || std::fs::write(peer.join("README"), "edited meanwhile\n").unwrap()),
    );
    let p = &report.peers[0];
    assert_eq!(p.outcome.as_str(), "dirty", "{p:?}");
    assert!(p.reason.contains("README"), "{}", p.reason);
    assert_eq!(git(&env, &s.peer, &["rev-parse", "HEAD"]).trim(), s.base);
    assert_eq!(
        std::fs::read_to_string(s.peer.join("README")).unwrap(),
        "edited meanwhile\n",
        "the racing edit was overwritten"
    );

    // 2. The peer commits just before the merge: no longer a fast-forward.
    let env = TestEnv::new();
    isolate(&env);
    let s = setup(&env);
    let peer = s.peer.clone();
    let report = deliver(
        &s,
        Box::new(move || {
            std::fs::write(peer.join("local.txt"), "local\n").unwrap();
            let ok = std::process::Command::new("git")
                .current_dir(&peer)
                .args(["add", "local.txt"])
                .status()
                .unwrap()
                .success()
                && std::process::Command::new("git")
                    .current_dir(&peer)
                    .args(["commit", "-q", "-m", "meanwhile"])
                    .status()
                    .unwrap()
                    .success();
            assert!(ok);
        }),
    );
    let p = &report.peers[0];
    assert_eq!(
        p.outcome,
        Outcome::Blocked(git_fleet::peers::fanout::Blocker::Diverged),
        "{p:?}"
    );
    let head = git(&env, &s.peer, &["rev-parse", "HEAD"])
        .trim()
        .to_string();
    assert_ne!(head, s.commit);
    assert_eq!(p.after.map(|id| id.to_string()), Some(head));
    assert_eq!(
        git(&env, &s.peer, &["log", "-1", "--format=%s"]).trim(),
        "meanwhile"
    );

    // 3. Another git command takes the index lock just before the merge.
    let env = TestEnv::new();
    isolate(&env);
    let s = setup(&env);
    let peer = s.peer.clone();
    let report = deliver(
        &s,
        Box::new(move || std::fs::write(peer.join(".git/index.lock"), "").unwrap()),
    );
    let p = &report.peers[0];
    assert_eq!(p.outcome.as_str(), "busy", "{p:?}");
    assert_eq!(git(&env, &s.peer, &["rev-parse", "HEAD"]).trim(), s.base);
    assert!(
        s.peer.join(".git/index.lock").exists(),
        "someone else's lock was removed"
    );
}

use crate::common::peer_states;

/// Two `git fleet fanout` processes over the same peer at once: the second
/// finds the first delivering and says so (`busy`, "another fanout"),
/// touching nothing; the first delivers. A lock left by a dead fanout is
/// stale at once.
#[test]
fn two_fanouts_at_once_serialize_per_peer() {
    let env = TestEnv::new();
    let f = peer_states::fleet(&env);
    let peer = f.peer(&env, "web");
    let started = env.root().join("reload-started");
    let go = env.root().join("reload-go");
    std::fs::write(
        f.dev.join("fleet.toml"),
        format!(
            "[peers.web]\nlocation = \"{}\"\nreload = \"touch {}; while test ! -e {}; do sleep 0.05; done\"\n",
            peer.display(),
            started.display(),
            go.display()
        ),
    )
    .unwrap();
    let c = f.push_change(&env, "src/f1.txt", "v2\n");
    let first = env
        .command(common::bin(), &f.dev)
        .args(["fanout", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while !started.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the first fanout never reloaded"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let marks = peer_states::moved_marks(&env, &peer);
    let second = env.fleet(&f.dev, &["fanout", "--json"]);
    std::fs::write(&go, "").unwrap();
    let first = first.wait_with_output().unwrap();
    assert_eq!(second.code, 1, "{}{}", second.stdout, second.stderr);
    let v: serde_json::Value = serde_json::from_str(&second.stdout).unwrap();
    let p = &v["peers"][0];
    assert_eq!(p["outcome"], "busy", "{v}");
    assert!(
        p["reason"].as_str().unwrap().contains("another fanout"),
        "{v}"
    );
    assert_eq!(peer_states::moved_marks(&env, &peer), marks);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stdout)
    );
    assert_eq!(env.git(&peer, &["rev-parse", "HEAD"]).trim(), c);

    // A fanout killed while delivering leaves no lock that blocks the next.
    std::fs::remove_file(&started).unwrap();
    std::fs::remove_file(&go).unwrap();
    let c2 = f.push_change(&env, "src/f2.txt", "v3\n");
    let mut killed = env
        .command(common::bin(), &f.dev)
        .args(["fanout", "--json"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while !started.exists() {
        assert!(t0.elapsed() < Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(20));
    }
    killed.kill().unwrap();
    killed.wait().unwrap();
    std::fs::write(&go, "").unwrap();
    let out = env.fleet(&f.dev, &["fanout", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["peers"][0]["outcome"], "current", "{v}");
    assert_eq!(env.git(&peer, &["rev-parse", "HEAD"]).trim(), c2);
}
