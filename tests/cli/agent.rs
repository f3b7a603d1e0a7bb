//! Pull mode from the outside: real peer checkouts cloned from a real bare
//! origin run `git fleet agent`, which delivers to the checkout itself under
//! fanout's contract and pushes a report to refs/fleet/reports/<peer>/log;
//! the pusher's clone sees the reports after a plain `git fetch`.

use crate::common;
use common::TestEnv;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

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

/// A bare origin on `main`, the pusher's clone `dev` (with `fleet init`).
struct Fleet {
    origin: PathBuf,
    dev: PathBuf,
}

fn fleet(env: &TestEnv) -> Fleet {
    let dev = env.repo("dev");
    let origin = env.origin_of(&dev, false);
    let init = env.fleet(&dev, &["init"]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    Fleet { origin, dev }
}

impl Fleet {
    fn clone_peer(&self, env: &TestEnv, name: &str) -> PathBuf {
        self.clone_peer_in(env, env.root(), name)
    }

    fn clone_peer_in(&self, env: &TestEnv, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        env.git(
            env.root(),
            &[
                "clone",
                "-q",
                "--shared",
                "--template=",
                self.origin.to_str().unwrap(),
                path.to_str().unwrap(),
            ],
        );
        path
    }

    /// A new commit on main in dev, pushed; its id.
    fn push_commit(&self, env: &TestEnv, file: &str, text: &str) -> String {
        std::fs::write(self.dev.join(file), text).unwrap();
        env.git(&self.dev, &["add", file]);
        env.git(
            &self.dev,
            &["commit", "-q", "-m", &format!("change {file}")],
        );
        env.git(&self.dev, &["push", "-q", "origin", "main"]);
        head(env, &self.dev)
    }

    fn report(&self, env: &TestEnv, peer: &str) -> String {
        env.git(
            &self.origin,
            &[
                "log",
                "-1",
                "--format=%B",
                &format!("refs/fleet/reports/{peer}/log"),
            ],
        )
    }

    fn proof(&self, env: &TestEnv, commit: &str) -> (i32, serde_json::Value) {
        env.git(&self.dev, &["fetch", "-q", "origin"]);
        let out = env.fleet(&self.dev, &["proof", commit, "--json"]);
        assert!(out.code == 0 || out.code == 1, "{}", out.stderr);
        (out.code, json(&out.stdout))
    }
}

fn head(env: &TestEnv, repo: &Path) -> String {
    env.git(repo, &["rev-parse", "HEAD"]).trim().to_string()
}

#[test]
fn a_clean_peer_fast_forwards_and_its_report_reaches_proof_in_the_pushers_clone() {
    let env = TestEnv::new();
    let f = fleet(&env);
    let peer = f.clone_peer(&env, "web-1");
    // The name comes from git config when --name is not given.
    env.git(&peer, &["config", "fleet.peerName", "web-1"]);
    let c = f.push_commit(&env, "app.conf", "v2\n");

    let out = env.fleet(&peer, &["agent", "--json"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let v = json(&out.stdout);
    assert_eq!(v["version"], 1);
    assert_eq!(v["peer"], "web-1");
    assert_eq!(v["outcome"], "fast-forwarded");
    assert_eq!(v["commit"], c.as_str());
    assert_eq!(v["report"]["pushed"], true, "{v}");
    assert_eq!(head(&env, &peer), c);
    assert_eq!(
        std::fs::read_to_string(peer.join("app.conf")).unwrap(),
        "v2\n"
    );

    // The report on the origin names commit, outcome, reason, runtime, time, agent.
    let msg = f.report(&env, "web-1");
    for want in [
        format!("Fleet-Fanout: {c}"),
        "Fleet-Peer: web-1 fast-forwarded ".to_string(),
        "Fleet-Runtime: web-1 reload=out-of-scope".to_string(),
        "Fleet-Owed: web-1 none".to_string(),
        "Fleet-Time: ".to_string(),
        "Fleet-Mode: pull".to_string(),
        format!("Fleet-Head: {c}"),
        "Fleet-Agent: git-fleet ".to_string(),
    ] {
        assert!(msg.contains(&want), "report lacks {want:?}:\n{msg}");
    }

    // The pusher's clone: a plain `git fetch` (init's refspecs) brings it.
    let (code, p) = f.proof(&env, &c);
    assert_eq!(code, 0, "{p}");
    assert_eq!(p["complete"], true, "{p}");
    assert_eq!(p["reports"], 1);
    let web = peer_json(&p, "web-1");
    assert_eq!(web["mode"], "pull");
    assert_eq!(web["ok"], true);
    let text = env.fleet(&f.dev, &["proof", &c]);
    assert!(text.stdout.contains("[pull]"), "{}", text.stdout);

    // A second run: current, and the report chain grows by a fast-forward.
    let first = env.git(&f.origin, &["rev-parse", "refs/fleet/reports/web-1/log"]);
    let again = env.fleet(&peer, &["agent", "--json"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(json(&again.stdout)["outcome"], "current");
    let parent = env.git(&f.origin, &["rev-parse", "refs/fleet/reports/web-1/log^"]);
    assert_eq!(
        parent, first,
        "the new report is not on top of the last one"
    );

    // fanout --status merges the modes and says which one each peer's is.
    env.git(&f.dev, &["fetch", "-q", "origin"]);
    let st = env.fleet(&f.dev, &["fanout", "--status", "--json"]);
    assert_eq!(st.code, 0, "{}", st.stderr);
    let s = json(&st.stdout);
    assert_eq!(peer_json(&s, "web-1")["mode"], "pull");
    assert_eq!(s["summary"]["pull"], 1);
}

#[test]
fn a_dirty_or_diverged_peer_is_untouched_and_reports_blocked() {
    let env = TestEnv::new();
    let f = fleet(&env);
    let dirty = f.clone_peer(&env, "dirty");
    let diverged = f.clone_peer(&env, "diverged");
    std::fs::write(dirty.join("README"), "local edit\n").unwrap();
    std::fs::write(diverged.join("own.txt"), "mine\n").unwrap();
    env.git(&diverged, &["add", "own.txt"]);
    env.git(&diverged, &["commit", "-q", "-m", "a local commit"]);
    let before: Vec<(String, String)> = [&dirty, &diverged]
        .iter()
        .map(|p| (head(&env, p), env.git(p, &["status", "--porcelain"])))
        .collect();
    let c = f.push_commit(&env, "README", "upstream\n");

    for (peer, name, outcome) in [
        (&dirty, "dirty", "dirty"),
        (&diverged, "diverged", "diverged"),
    ] {
        let out = env.fleet(peer, &["agent", "--name", name, "--json"]);
        assert_eq!(out.code, 1, "a blocked peer exits 1: {}", out.stderr);
        let v = json(&out.stdout);
        assert_eq!(v["outcome"], outcome, "{v}");
        assert!(!v["reason"].as_str().unwrap().is_empty());
        assert_eq!(v["report"]["pushed"], true, "{v}");
        assert!(
            !peer.join(".git/ORIG_HEAD").exists(),
            "{name}: ORIG_HEAD written"
        );
        assert!(f
            .report(&env, name)
            .contains(&format!("Fleet-Peer: {name} {outcome} ")));
    }
    for (p, (h, st)) in [&dirty, &diverged].iter().zip(&before) {
        assert_eq!(&head(&env, p), h, "{} moved", p.display());
        assert_eq!(&env.git(p, &["status", "--porcelain"]), st);
    }
    assert_eq!(
        std::fs::read_to_string(dirty.join("README")).unwrap(),
        "local edit\n"
    );

    let (code, p) = f.proof(&env, &c);
    assert_eq!(code, 1, "{p}");
    assert_eq!(p["complete"], false);
    for (name, outcome) in [("dirty", "dirty"), ("diverged", "diverged")] {
        let pj = peer_json(&p, name);
        assert_eq!(pj["mode"], "pull");
        assert_eq!(pj["ok"], false);
        assert!(pj["detail"].as_str().unwrap().starts_with(outcome), "{pj}");
    }
}

#[test]
fn a_failed_reload_is_owed_and_retried_on_the_next_run() {
    let env = TestEnv::new();
    let f = fleet(&env);
    let peer = f.clone_peer(&env, "web-1");
    let flag = env.root().join("reload-works");
    let log = env.root().join("reloads.log");
    // Declared in the peer's machine-local file, as an operator would.
    std::fs::write(
        peer.join(".git/fleet.local.toml"),
        format!(
            "[peers.web-1]\nlocation = \"{}\"\nreload = \"echo run >> '{}' && test -e '{}'\"\n",
            peer.display(),
            log.display(),
            flag.display()
        ),
    )
    .unwrap();
    let c = f.push_commit(&env, "app.conf", "v2\n");

    let out = env.fleet(&peer, &["agent", "--name", "web-1", "--json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let v = json(&out.stdout);
    assert_eq!(v["outcome"], "reload-failed", "{v}");
    assert_eq!(v["owed"], serde_json::json!(["reload"]));
    assert_eq!(head(&env, &peer), c, "the move itself happened");
    assert!(f.report(&env, "web-1").contains("Fleet-Owed: web-1 reload"));
    let (code, p) = f.proof(&env, &c);
    assert_eq!(code, 1);
    let detail = peer_json(&p, "web-1")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(detail.contains("still owed: reload"), "{detail}");

    // The next run (nothing new on the remote) runs the owed reload again.
    std::fs::write(&flag, "").unwrap();
    let out = env.fleet(&peer, &["agent", "--name", "web-1", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = json(&out.stdout);
    assert_eq!(v["outcome"], "current");
    assert_eq!(v["runtime"]["reload"]["status"], "ok", "{v}");
    assert_eq!(v["owed"], serde_json::json!([]));
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 2);
    let (code, p) = f.proof(&env, &c);
    assert_eq!(code, 0, "{p}");
    assert_eq!(peer_json(&p, "web-1")["ok"], true);

    // Nothing owed any more: a third run does not reload.
    let out = env.fleet(&peer, &["agent", "--name", "web-1"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 2);
}

#[test]
fn install_timer_writes_a_user_service_and_timer() {
    let env = TestEnv::new();
    let f = fleet(&env);
    let peer = f.clone_peer(&env, "web-1");
    let out = env.fleet(
        &peer,
        &[
            "agent",
            "--name",
            "web-1",
            "--install-timer",
            "--interval",
            "2min",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let dir = env.home().join(".config/systemd/user");
    let service = std::fs::read_to_string(dir.join("git-fleet-agent-web-1.service")).unwrap();
    let timer = std::fs::read_to_string(dir.join("git-fleet-agent-web-1.timer")).unwrap();
    assert!(service.contains("agent --name web-1"), "{service}");
    assert!(service.contains(&format!(
        "WorkingDirectory={}",
        peer.canonicalize().unwrap().display()
    )));
    assert!(timer.contains("OnUnitActiveSec=2min"), "{timer}");
    assert!(out.stdout.contains("git-fleet-agent-web-1.timer"));
    // Nothing delivered or reported.
    assert_eq!(env.refs(&f.origin).matches("refs/fleet/").count(), 0);
}

#[test]
fn two_hundred_agents_report_concurrently_and_proof_is_complete() {
    let _load = common::heavy();
    const PEERS: usize = 200;
    const JOBS: usize = 16;
    let started = std::time::Instant::now();
    let env = TestEnv::new();
    let f = fleet(&env);
    let names: Vec<String> = (0..PEERS).map(|i| format!("peer-{i:03}")).collect();
    let paths: Mutex<Vec<Option<PathBuf>>> = Mutex::new(vec![None; PEERS]);
    let pool = |work: &(dyn Fn(usize) + Sync)| {
        let next = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..JOBS {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= PEERS {
                        break;
                    }
                    work(i);
                });
            }
        });
    };
    // 200 checkouts are tens of thousands of small files: on tmpfs when the
    // machine has one, so creating and removing them is not the test's cost.
    let shm = std::path::Path::new("/dev/shm");
    let peers_dir = if shm.is_dir() {
        tempfile::Builder::new()
            .prefix("fleet-agents")
            .tempdir_in(shm)
    } else {
        tempfile::Builder::new()
            .prefix("fleet-agents")
            .tempdir_in(env.root())
    }
    .unwrap();
    pool(&|i| {
        let p = f.clone_peer_in(&env, peers_dir.path(), &names[i]);
        paths.lock().unwrap()[i] = Some(p);
    });
    let paths: Vec<PathBuf> = paths.into_inner().unwrap().into_iter().flatten().collect();
    let c = f.push_commit(&env, "app.conf", "v2\n");
    eprintln!("{PEERS} clones: {:?}", started.elapsed());

    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    pool(&|i| {
        let out = env.fleet(&paths[i], &["agent", "--name", &names[i], "--json"]);
        let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_default();
        if out.code != 0 || v["outcome"] != "fast-forwarded" || v["report"]["pushed"] != true {
            failures.lock().unwrap().push(format!(
                "{}: exit {} {} {}",
                names[i], out.code, out.stdout, out.stderr
            ));
        }
    });
    eprintln!("{PEERS} agents, {JOBS} at a time: {:?}", started.elapsed());
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} failed: {:#?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );

    // Every report is on the origin: no push lost.
    let refs = env.git(
        &f.origin,
        &["for-each-ref", "--format=%(refname)", "refs/fleet/reports/"],
    );
    let listed: Vec<&str> = refs.lines().collect();
    assert_eq!(listed.len(), PEERS, "{refs}");
    for n in &names {
        assert!(
            listed.contains(&format!("refs/fleet/reports/{n}/log").as_str()),
            "{n} missing"
        );
    }
    for p in &paths {
        assert_eq!(head(&env, p), c);
    }
    let (code, p) = f.proof(&env, &c);
    assert_eq!(code, 0, "{}", p["missing"]);
    assert_eq!(p["complete"], true);
    assert_eq!(p["reports"], PEERS);
    let ok = p["peers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["ok"] == true && x["mode"] == "pull")
        .count();
    assert_eq!(ok, PEERS);
    eprintln!("with proof: {:?}", started.elapsed());
    drop(peers_dir);
    drop(env);
    eprintln!("cleaned up: {:?}", started.elapsed());
}

#[test]
fn an_overlapping_run_is_busy_touches_nothing_and_does_not_report_over_the_first() {
    let env = TestEnv::new();
    let f = fleet(&env);
    let peer = f.clone_peer(&env, "web-1");
    let c = f.push_commit(&env, "app.conf", "v2\n");
    let started = env.root().join("reload-started");
    let reload = format!("touch '{}' && sleep 3", started.display());
    let first = env
        .command(common::bin(), &peer)
        .args(["agent", "--name", "web-1", "--json", "--reload", &reload])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while !started.exists() {
        assert!(t0.elapsed().as_secs() < 30, "the first run never reloaded");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let second = env.fleet(&peer, &["agent", "--name", "web-1", "--json"]);
    assert_eq!(second.code, 1, "{}", second.stderr);
    let v = json(&second.stdout);
    assert_eq!(v["outcome"], "busy", "{v}");
    assert_eq!(v["report"]["pushed"], false);
    let out = first.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Only the first run's report is on the remote.
    let log = env.git(
        &f.origin,
        &["log", "--format=%s", "refs/fleet/reports/web-1/log"],
    );
    assert_eq!(
        log.trim(),
        format!("fleet report: web-1 fast-forwarded at {}", &c[..12])
    );
    let (code, p) = f.proof(&env, &c);
    assert_eq!(code, 0, "{p}");
}

#[test]
fn proof_takes_each_peers_later_evidence_push_note_or_pull_report_and_names_the_mode() {
    let env = TestEnv::new();
    let f = fleet(&env);
    let peer = f.clone_peer(&env, "web-1");
    std::fs::write(
        f.dev.join(".git/fleet.local.toml"),
        format!("[peers.web-1]\nlocation = \"{}\"\n", peer.display()),
    )
    .unwrap();
    let c1 = f.push_commit(&env, "app.conf", "v2\n");
    let out = env.fleet(&f.dev, &["fanout"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (code, p) = f.proof(&env, &c1);
    assert_eq!(code, 0, "{p}");
    assert_eq!(peer_json(&p, "web-1")["mode"], "push");

    // Records carry whole seconds: the agent's report is strictly later.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = env.fleet(&peer, &["agent", "--name", "web-1", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(json(&out.stdout)["outcome"], "current");
    let (code, p) = f.proof(&env, &c1);
    assert_eq!(code, 0, "{p}");
    let web = peer_json(&p, "web-1");
    assert_eq!(web["mode"], "pull", "{web}");
    assert_eq!(web["configured"], true);

    // A newer commit, delivered by fanout: the push note is the later evidence
    // (the agent's last report is about c1, which does not contain c2).
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let c2 = f.push_commit(&env, "app.conf", "v3\n");
    let (code, p) = f.proof(&env, &c2);
    assert_eq!(code, 1, "{p}");
    let detail = peer_json(&p, "web-1")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(detail.contains("not delivered yet"), "{detail}");
    let out = env.fleet(&f.dev, &["fanout"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (code, p) = f.proof(&env, &c2);
    assert_eq!(code, 0, "{p}");
    assert_eq!(peer_json(&p, "web-1")["mode"], "push");
    let st = env.fleet(&f.dev, &["fanout", "--status", "--commit", &c2]);
    assert_eq!(st.code, 0, "{}", st.stderr);
    assert!(st.stdout.contains("web-1  push  ok"), "{}", st.stdout);
}

#[test]
fn a_recloned_peer_extends_its_report_chain_on_the_remote_without_forcing() {
    let env = TestEnv::new();
    let f = fleet(&env);
    let old = f.clone_peer(&env, "old");
    f.push_commit(&env, "app.conf", "v2\n");
    let out = env.fleet(&old, &["agent", "--name", "web-1"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let first = env.git(&f.origin, &["rev-parse", "refs/fleet/reports/web-1/log"]);
    // The host is rebuilt: a fresh clone has no local report chain.
    let new = f.clone_peer(&env, "new");
    let out = env.fleet(&new, &["agent", "--name", "web-1", "--json"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let v = json(&out.stdout);
    assert_eq!(v["report"]["pushed"], true, "{v}");
    assert!(
        v["report"]["detail"].as_str().unwrap().contains("merged"),
        "{v}"
    );
    // The earlier report is still in the chain: nothing was overwritten.
    let out = env
        .command("git", &f.origin)
        .args([
            "merge-base",
            "--is-ancestor",
            first.trim(),
            "refs/fleet/reports/web-1/log",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "the first report was dropped");
    assert!(f
        .report(&env, "web-1")
        .contains("Fleet-Peer: web-1 current"));
}

#[test]
fn a_bad_peer_name_is_exit_2_and_nothing_is_fetched_moved_or_pushed() {
    let env = TestEnv::new();
    let f = fleet(&env);
    let peer = f.clone_peer(&env, "web-1");
    f.push_commit(&env, "app.conf", "v2\n");
    let (peer_refs, origin_refs, head_before) =
        (env.refs(&peer), env.refs(&f.origin), head(&env, &peer));
    for bad in ["a/b", "$(touch x)", "..", "-rf"] {
        let out = env.fleet(&peer, &["agent", &format!("--name={bad}")]);
        assert_eq!(out.code, 2, "{bad}: {}", out.stderr);
        assert!(out.stderr.contains("peer name"), "{}", out.stderr);
    }
    env.git(&peer, &["config", "fleet.peerName", "no spaces allowed"]);
    let out = env.fleet(&peer, &["agent"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(env.refs(&peer), peer_refs);
    assert_eq!(env.refs(&f.origin), origin_refs);
    assert_eq!(head(&env, &peer), head_before);
    assert!(!peer.join("x").exists());
}

/// `proof C --json` in `dev` after a fetch, with the report cache and
/// without it (`GIT_FLEET_NO_CACHE=1`): both outputs, which must agree.
fn proof_both(env: &TestEnv, f: &Fleet, commit: &str) -> (String, String) {
    env.git(&f.dev, &["fetch", "-q", "origin"]);
    let cached = env.fleet(&f.dev, &["proof", commit, "--json"]);
    assert!(cached.code == 0 || cached.code == 1, "{}", cached.stderr);
    let out = env
        .command(common::bin(), &f.dev)
        .args(["proof", commit, "--json"])
        .env("GIT_FLEET_NO_CACHE", "1")
        .output()
        .unwrap();
    let plain = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        cached.stdout, plain,
        "the report cache changed what proof says"
    );
    (cached.stdout, plain)
}

/// Point web-1's report ref on origin back at `report` (the next fetch is forced).
fn rewind_web1_report(env: &TestEnv, f: &Fleet, report: &str) {
    env.git(
        &f.origin,
        &["update-ref", "refs/fleet/reports/web-1/log", report],
    );
}

/// A clone of origin per name, each having run `agent --name NAME` once.
fn agent_peers(env: &TestEnv, f: &Fleet, names: &[&str]) -> Vec<PathBuf> {
    names
        .iter()
        .map(|name| {
            let peer = f.clone_peer(env, name);
            let out = env.fleet(&peer, &["agent", "--name", name]);
            assert_eq!(out.code, 0, "{}", out.stderr);
            peer
        })
        .collect()
}

#[test]
fn the_report_cache_never_changes_what_proof_says() {
    let env = TestEnv::new();
    let f = fleet(&env);
    let c1 = f.push_commit(&env, "app.conf", "v2\n");
    let peers = agent_peers(&env, &f, &["web-1", "web-2", "web-3"]);
    let cache = f.dev.join(".git/fleet/cache/reports-v3");
    let (out, _) = proof_both(&env, &f, &c1);
    assert_eq!(json(&out)["reports"], 3, "{out}");
    // The first proof wrote the parsed reports; the next one reads them back.
    let written = std::fs::read(&cache).expect("proof wrote no report cache");
    assert!(written.len() > 100, "{}", written.len());
    proof_both(&env, &f, &c1);

    // A new report after the cache was written: its new commit is read.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let c2 = f.push_commit(&env, "app.conf", "v3\n");
    let first_report = env.git(&f.origin, &["rev-parse", "refs/fleet/reports/web-1/log"]);
    let out = env.fleet(&peers[0], &["agent", "--name", "web-1"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (out, _) = proof_both(&env, &f, &c2);
    let v = json(&out);
    assert_eq!(peer_json(&v, "web-1")["ok"], true, "{v}");
    assert_eq!(peer_json(&v, "web-2")["ok"], false, "{v}");

    // A rewritten report ref (rewound on the server; the fetch refspec is
    // forced): proof follows the ref, not what the cache saw last.
    rewind_web1_report(&env, &f, first_report.trim());
    let (out, _) = proof_both(&env, &f, &c2);
    let v = json(&out);
    assert_eq!(peer_json(&v, "web-1")["report"], first_report.trim(), "{v}");
    assert_eq!(peer_json(&v, "web-1")["ok"], false, "{v}");

    // A corrupted cache (one byte changed inside a record), then a truncated
    // one (as a killed append leaves it): ignored whole, then rebuilt.
    let mut bytes = std::fs::read(&cache).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x20;
    std::fs::write(&cache, &bytes).unwrap();
    proof_both(&env, &f, &c2);
    let bytes = std::fs::read(&cache).unwrap();
    std::fs::write(&cache, &bytes[..bytes.len() - 7]).unwrap();
    proof_both(&env, &f, &c2);
    // Garbage in place of the file, and an empty file.
    std::fs::write(&cache, b"not a cache\n").unwrap();
    proof_both(&env, &f, &c2);
    std::fs::write(&cache, b"").unwrap();
    proof_both(&env, &f, &c2);

    // A git dir proof cannot write to: the cache directory's place is taken
    // by a file (fails even for root), and .git itself is read-only.
    let dir = f.dev.join(".git/fleet/cache");
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::write(&dir, b"in the way\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    let git_dir = f.dev.join(".git");
    let mode = std::fs::metadata(&git_dir).unwrap().permissions().mode();
    env.git(&f.dev, &["fetch", "-q", "origin"]);
    std::fs::set_permissions(&git_dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let cached = env.fleet(&f.dev, &["proof", &c2, "--json"]);
    let plain = env
        .command(common::bin(), &f.dev)
        .args(["proof", &c2, "--json"])
        .env("GIT_FLEET_NO_CACHE", "1")
        .output()
        .unwrap();
    std::fs::set_permissions(&git_dir, std::fs::Permissions::from_mode(mode)).unwrap();
    assert_eq!(cached.code, 1, "{}", cached.stderr);
    assert_eq!(cached.stdout, String::from_utf8_lossy(&plain.stdout));
}

#[test]
fn proof_reads_packed_reports_and_a_loose_ref_shadows_its_packed_copy() {
    let env = TestEnv::new();
    let f = fleet(&env);
    let c1 = f.push_commit(&env, "app.conf", "v2\n");
    // `web-1-b/log` sorts before `web-1/log` as a ref, after `web-1` as a
    // peer: refs do not come in peer order.
    let peers = agent_peers(&env, &f, &["web-1", "web-1-b", "web-2"]);
    let first_report = env.git(&f.origin, &["rev-parse", "refs/fleet/reports/web-1/log"]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let c2 = f.push_commit(&env, "app.conf", "v3\n");
    for (peer, name) in peers.iter().zip(["web-1", "web-1-b", "web-2"]) {
        let out = env.fleet(peer, &["agent", "--name", name]);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    // Every report ref packed, as after gc: the reports are read from
    // packed-refs, and text lists them in peer order.
    env.git(&f.dev, &["fetch", "-q", "origin"]);
    env.git(&f.dev, &["pack-refs", "--all"]);
    let loose = f
        .dev
        .join(".git/refs/fleet-remote/origin/fleet/reports/web-1/log");
    assert!(!loose.exists(), "pack-refs left {}", loose.display());
    let (out, _) = proof_both(&env, &f, &c2);
    let v = json(&out);
    assert_eq!(v["reports"], 3, "{v}");
    assert_eq!(v["complete"], true, "{v}");
    let text = env.fleet(&f.dev, &["proof", &c2]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    let names: Vec<&str> = text
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2).filter(|_| l.contains(" peer ")))
        .collect();
    assert_eq!(names, ["web-1", "web-1-b", "web-2"], "{}", text.stdout);

    // web-1's chain rewound on the server to its first report: the fetch
    // writes a loose ref, which must shadow the packed (later) report.
    rewind_web1_report(&env, &f, first_report.trim());
    let (out, _) = proof_both(&env, &f, &c2);
    assert!(loose.exists(), "the fetch wrote no loose ref");
    let v = json(&out);
    assert_eq!(v["reports"], 3, "{v}");
    let web1 = peer_json(&v, "web-1");
    assert_eq!(web1["report"], first_report.trim(), "{v}");
    assert_eq!(web1["ok"], false, "{v}");
    assert_eq!(peer_json(&v, "web-1-b")["ok"], true, "{v}");
    // And the cache written from packed refs serves a proof of c1 too.
    let (out, _) = proof_both(&env, &f, &c1);
    assert_eq!(json(&out)["complete"], true, "{out}");
}
