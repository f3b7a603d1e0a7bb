//! Crash safety: SIGKILL `reconcile` (auto-apply) and `apply` at random moments,
//! with the embedded and the exec driver, and check after every kill that the
//! repository is sound and no record lacks its receipt; then run a later
//! command and check it completed every interrupted apply (write-ahead
//! intents): every live change has a receipt, every proposal whose change is
//! live is `applied`, and no intent is left pending.

use crate::common;
use common::{bin, TestEnv};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

fn fleet(modules: usize, workers: u64) -> String {
    let mut s = String::from("modules:\n");
    for i in 0..modules {
        s.push_str(&format!(
            "  m{i:02}:\n    config:\n      workers: {workers}\n"
        ));
    }
    s.push_str("assignments:\n");
    for i in 0..modules {
        s.push_str(&format!("  n1:m{i:02}: {{enabled: true}}\n"));
    }
    s
}

/// The receipt log, oldest first: one map of trailers per receipt (with its id).
fn receipt_log(env: &TestEnv, repo: &Path) -> Vec<HashMap<String, String>> {
    let r = env.fleet(repo, &["receipts", "log", "--json"]);
    assert_eq!(r.code, 0, "receipts log: {}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let mut out: Vec<HashMap<String, String>> = v["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let mut m: HashMap<String, String> = r["trailers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|kv| {
                    (
                        kv[0].as_str().unwrap().to_string(),
                        kv[1].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            m.insert("id".into(), r["id"].as_str().unwrap().to_string());
            m
        })
        .collect();
    out.reverse();
    out
}

/// Ids of intents (`Fleet-Result: pending`) that no later receipt completes.
fn open_intents(log: &[HashMap<String, String>]) -> Vec<String> {
    let done: HashSet<&str> = log
        .iter()
        .filter_map(|r| r.get("Fleet-Intent").map(String::as_str))
        .collect();
    log.iter()
        .filter(|r| r.get("Fleet-Result").map(String::as_str) == Some("pending"))
        .map(|r| r["id"].clone())
        .filter(|id| !done.contains(id.as_str()))
        .collect()
}

/// The stored proposals of `target` with their state, read with plain git
/// (`git fleet proposals` would complete interrupted applies first).
fn proposals(env: &TestEnv, repo: &Path, target: &str) -> Vec<Value> {
    let tree = env
        .command("git", repo)
        .args(["ls-tree", "-r", "--format=%(objectname)"])
        .arg(format!("refs/fleet/proposals/{target}"))
        .output()
        .unwrap();
    if !tree.status.success() {
        return Vec::new();
    }
    let mut cat = env
        .command("git", repo)
        .args(["cat-file", "--batch=%(objectsize)"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut input = cat.stdin.take().unwrap();
        input.write_all(&tree.stdout).unwrap();
    }
    let out = cat.wait_with_output().unwrap().stdout;
    let mut proposals = Vec::new();
    let mut rest = &out[..];
    while let Some(nl) = rest.iter().position(|b| *b == b'\n') {
        let size: usize = std::str::from_utf8(&rest[..nl]).unwrap().parse().unwrap();
        let mut p: Value = serde_json::from_slice(&rest[nl + 1..nl + 1 + size]).unwrap();
        rest = &rest[nl + 1 + size + 1..];
        let state = p["transitions"].as_array().unwrap().last().unwrap()["state"].clone();
        p["state"] = state;
        proposals.push(p);
    }
    proposals
}

/// What must hold right after any kill: git is sound, every applied proposal
/// and every live snapshot an apply published names a receipt in the log.
fn check_sound(env: &TestEnv, repo: &Path, targets: &[&str], round: usize) {
    let fsck = env
        .command("git", repo)
        .args(["fsck", "--no-dangling", "--no-progress"])
        .output()
        .unwrap();
    assert!(
        fsck.status.success(),
        "round {round}: git fsck: {}",
        String::from_utf8_lossy(&fsck.stderr)
    );
    check_records(env, repo, targets, round);
}

/// Every applied proposal and every live snapshot an apply published names
/// a receipt in the log.
fn check_records(env: &TestEnv, repo: &Path, targets: &[&str], round: usize) {
    let log = receipt_log(env, repo);
    let ids: HashSet<&str> = log.iter().map(|r| r["id"].as_str()).collect();
    let completed: HashSet<&str> = log
        .iter()
        .filter(|r| r.get("Fleet-Result").map(String::as_str) != Some("pending"))
        .filter_map(|r| r.get("Fleet-Proposal").map(String::as_str))
        .collect();
    for target in targets {
        for p in proposals(env, repo, target) {
            if p["state"] != "applied" {
                continue;
            }
            let id = p["id"].as_str().unwrap();
            assert!(
                completed.contains(id),
                "round {round}: proposal {id} is applied without a receipt"
            );
            let last = p["transitions"].as_array().unwrap().last().unwrap().clone();
            let receipt = last["receipt"].as_str().unwrap_or_else(|| {
                panic!("round {round}: the applied transition of {id} names no receipt")
            });
            assert!(
                ids.contains(receipt),
                "round {round}: {receipt} not in the log"
            );
        }
        for (sha, message) in live_commits(env, repo, target) {
            if !message.starts_with("apply ") {
                continue;
            }
            let receipt = message
                .lines()
                .find_map(|l| l.strip_prefix("Fleet-Receipt: "))
                .unwrap_or_else(|| panic!("round {round}: live snapshot {sha} names no receipt"));
            assert!(
                ids.contains(receipt),
                "round {round}: live snapshot {sha} of {target} names {receipt}, not in the log"
            );
        }
    }
}

/// (commit, message) of every snapshot of `target`, newest first.
fn live_commits(env: &TestEnv, repo: &Path, target: &str) -> Vec<(String, String)> {
    let out = env
        .command("git", repo)
        .args([
            "log",
            "--format=%H%n%B%x00",
            &format!("refs/fleet/live/{target}"),
            "--",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split('\0')
        .filter_map(|c| {
            let c = c.trim_start_matches('\n');
            let (sha, msg) = c.split_once('\n')?;
            Some((sha.to_string(), msg.to_string()))
        })
        .collect()
}

fn recorded_live(env: &TestEnv, repo: &Path, target: &str) -> Value {
    serde_json::from_str(&env.git(
        repo,
        &["show", &format!("refs/fleet/live/{target}:fleet.json")],
    ))
    .unwrap()
}

/// What must hold once a later command ran: it completed every interrupted
/// apply, so no intent is open, every published snapshot has its completing
/// receipt, every proposal whose change is live is `applied`, and the receipt
/// log verifies.
fn check_completed(env: &TestEnv, repo: &Path, targets: &[&str], round: usize) {
    check_records(env, repo, targets, round);
    let log = receipt_log(env, repo);
    let open = open_intents(&log);
    assert!(
        open.is_empty(),
        "round {round}: intents left pending: {open:?}"
    );
    let afters: HashSet<&str> = log
        .iter()
        .filter(|r| r.get("Fleet-Result").map(String::as_str) != Some("pending"))
        .filter_map(|r| r.get("Fleet-After").map(String::as_str))
        .collect();
    for target in targets {
        for (sha, message) in live_commits(env, repo, target) {
            if message.starts_with("apply ") {
                assert!(
                    afters.contains(sha.as_str()),
                    "round {round}: live snapshot {sha} of {target} has no completing receipt"
                );
            }
        }
        let live = recorded_live(env, repo, target);
        for p in proposals(env, repo, target) {
            let kind = p["kind"].as_str().unwrap();
            let name = p["name"].as_str().unwrap();
            if p["after"] == live[kind][name] && p["after"] != p["before"] {
                if p["state"] != "applied" {
                    let mine: Vec<_> = log
                        .iter()
                        .filter(|r| {
                            r.get("Fleet-Proposal") == p["id"].as_str().map(String::from).as_ref()
                        })
                        .collect();
                    eprintln!("receipts of {}: {mine:#?}", p["id"]);
                    eprintln!(
                        "{}",
                        env.git(
                            repo,
                            &[
                                "log",
                                "--format=%h %s",
                                &format!("refs/fleet/live/{target}")
                            ]
                        )
                    );
                }
                assert_eq!(
                    p["state"], "applied",
                    "round {round}: the change of {} ({kind}/{name}) is live but the proposal is not applied: {p:#}",
                    p["id"]
                );
            }
        }
    }
    let verify = env.fleet(repo, &["receipts", "verify"]);
    assert_eq!(
        verify.code, 0,
        "round {round}: {}{}",
        verify.stdout, verify.stderr
    );
}

/// A later command: lists proposals, completing interrupted applies first,
/// and says so. Returns how many it completed. An intent whose apply command
/// still runs (it outlives a killed git-fleet) is left to a later command,
/// so this retries a few times while the machine is slow.
fn later_command(env: &TestEnv, repo: &Path, round: usize) -> usize {
    let open = open_intents(&receipt_log(env, repo)).len();
    let mut recovered = 0;
    for _ in 0..20 {
        let r = env.fleet(repo, &["proposals", "--json"]);
        assert_eq!(r.code, 0, "round {round}: {}", r.stderr);
        let v: Value = serde_json::from_str(&r.stdout).unwrap();
        let n = v["recovered"]
            .as_array()
            .map_or(0, |a| a.iter().filter(|r| r["result"] != "pending").count());
        recovered += n;
        if n == 0 && open_intents(&receipt_log(env, repo)).is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // Also those whose receipt was complete but whose transition was not.
    assert!(
        recovered >= open,
        "round {round}: {open} intent(s) were open, later commands reported {recovered} completed"
    );
    recovered
}

/// SIGKILL `args` after `delay` (if still running); whether it was killed.
fn run_and_kill(env: &TestEnv, repo: &Path, args: &[&str], delay: Duration) -> bool {
    let mut child = env
        .command(bin(), repo)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    let killed = child.try_wait().unwrap().is_none();
    if killed {
        child.kill().unwrap(); // SIGKILL
    }
    let _ = child.wait();
    killed
}

struct Rng(u64);

impl Rng {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

#[test]
fn sigkill_at_random_moments_never_leaves_unreceipted_changes() {
    let _load = common::heavy();
    const ROUNDS: usize = 24;
    let env = TestEnv::new();
    let repo = env.repo("work");
    std::fs::write(
        repo.join("fleet.toml"),
        "[targets.auto]\nauto_apply = true\n[targets.manual]\n",
    )
    .unwrap();
    for target in ["auto", "manual"] {
        let r = env.fleet_stdin(
            &repo,
            &["snapshot", target, "--from", "-"],
            fleet(12, 0).as_bytes(),
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let (mut killed, mut recovered) = (0, 0);
    for round in 0..ROUNDS {
        std::fs::write(repo.join("fleet.yaml"), fleet(12, round as u64 + 1)).unwrap();
        env.git(&repo, &["add", "fleet.yaml", "fleet.toml"]);
        env.git(&repo, &["commit", "-q", "-m", &format!("round {round}")]);
        let delay = Duration::from_millis(rng.next(250));
        let args: Vec<&str> = if round % 2 == 0 {
            vec!["reconcile", "auto"]
        } else {
            // Review happens unharmed; the apply is what gets killed.
            let r = env.fleet(&repo, &["reconcile", "manual", "--json"]);
            assert!(r.code <= 1, "{}", r.stderr);
            let ids: Vec<String> = proposals(&env, &repo, "manual")
                .iter()
                .filter(|p| p["state"] == "pending_review")
                .map(|p| p["id"].as_str().unwrap().to_string())
                .collect();
            if !ids.is_empty() {
                let mut a = vec!["approve"];
                a.extend(ids.iter().map(String::as_str));
                assert_eq!(env.fleet(&repo, &a).code, 0);
            }
            vec!["apply", "--approved", "--target", "manual"]
        };
        killed += run_and_kill(&env, &repo, &args, delay) as usize;
        check_sound(&env, &repo, &["auto", "manual"], round);
        recovered += later_command(&env, &repo, round);
        check_completed(&env, &repo, &["auto", "manual"], round);
    }
    assert!(killed >= 8, "only {killed} of {ROUNDS} runs were killed mid-way: the delays are too long to test anything");
    eprintln!("{killed} runs killed, {recovered} interrupted applies completed later");
}

/// The exec driver's backend: one file per module holding its `workers`;
/// `live.sh` prints it as a fleet, `apply.sh` takes a change on stdin, waits a
/// little (a real backend takes time), then writes the new value.
fn exec_backend(dir: &Path, modules: usize) -> String {
    let state = dir.join("backend");
    std::fs::create_dir_all(&state).unwrap();
    for i in 0..modules {
        std::fs::write(state.join(format!("m{i:02}")), "0\n").unwrap();
    }
    let live = dir.join("live.sh");
    std::fs::write(
        &live,
        format!(
            "#!/bin/sh\ncd {s}\necho modules:\nfor m in m*; do printf '  %s:\\n    config:\\n      workers: %s\\n' $m $(cat $m); done\necho assignments:\nfor m in m*; do echo \"  n1:$m: {{enabled: true}}\"; done\n",
            s = state.display()
        ),
    )
    .unwrap();
    let apply = dir.join("apply.sh");
    // Keys are sorted in the change: "after" comes before "before".
    std::fs::write(
        &apply,
        format!(
            "#!/bin/sh\nin=$(cat)\nname=$(printf '%s' \"$in\" | grep -o '\"name\":\"[^\"]*\"' | head -1 | cut -d'\"' -f4)\nw=$(printf '%s' \"$in\" | grep -o '\"workers\":[0-9]*' | head -1 | cut -d: -f2)\nsleep 0.03\nprintf '%s\\n' \"$w\" > {s}/.$name.tmp && mv {s}/.$name.tmp {s}/$name\n",
            s = state.display()
        ),
    )
    .unwrap();
    format!(
        "[targets.ex]\nauto_apply = true\ndriver = \"exec\"\nlive = \"sh {}\"\napply = \"sh {}\"\n",
        live.display(),
        apply.display()
    )
}

#[test]
fn sigkill_of_exec_driver_applies_leaves_every_backend_change_receipted() {
    let _load = common::heavy();
    const ROUNDS: usize = 14;
    const MODULES: usize = 6;
    let env = TestEnv::new();
    let repo = env.repo("work");
    let toml = exec_backend(env.root(), MODULES);
    std::fs::write(repo.join("fleet.toml"), toml).unwrap();
    let live_sh = env.root().join("live.sh");
    let backend = || {
        let out = env.command("sh", &repo).arg(&live_sh).output().unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let r = env.fleet_stdin(
        &repo,
        &["snapshot", "ex", "--from", "-"],
        backend().as_bytes(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut rng = Rng(0x2545f4914f6cdd1d);
    let (mut killed, mut recovered) = (0, 0);
    for round in 0..ROUNDS {
        std::fs::write(repo.join("fleet.yaml"), fleet(MODULES, round as u64 + 1)).unwrap();
        env.git(&repo, &["add", "fleet.yaml", "fleet.toml"]);
        env.git(&repo, &["commit", "-q", "-m", &format!("round {round}")]);
        let delay = Duration::from_millis(50 + rng.next(400));
        killed += run_and_kill(&env, &repo, &["reconcile", "ex"], delay) as usize;
        check_sound(&env, &repo, &["ex"], round);
        // An apply command outlives a killed git-fleet: let it finish first.
        std::thread::sleep(Duration::from_millis(150));
        recovered += later_command(&env, &repo, round);
        check_completed(&env, &repo, &["ex"], round);
        // Every change the backend made is recorded: the last snapshot is it.
        let now = backend();
        let live = recorded_live(&env, &repo, "ex");
        for i in 0..MODULES {
            let name = format!("m{i:02}");
            let w: u64 = now
                .lines()
                .skip_while(|l| l.trim() != format!("{name}:"))
                .nth(2)
                .and_then(|l| l.trim().strip_prefix("workers: "))
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(
                live["modules"][&name]["config"]["workers"], w,
                "round {round}: the backend has {name} workers {w}, the recorded live state differs: {live}"
            );
        }
    }
    assert!(
        killed >= 5,
        "only {killed} of {ROUNDS} runs were killed mid-way"
    );
    eprintln!("{killed} runs killed, {recovered} interrupted applies completed later");
}

#[test]
fn lock_files_left_by_a_killed_writer_do_not_block_later_writers() {
    let _load = common::timed();
    let env = TestEnv::new();
    let repo = env.repo("work");
    std::fs::write(repo.join("fleet.yaml"), fleet(1, 1)).unwrap();
    assert_eq!(env.fleet(&repo, &["snapshot", "staging"]).code, 0);
    // What SIGKILL leaves behind, just now: git's ref lock and our advisory
    // lock, both naming a process that is gone.
    let mut gone = env.command("true", &repo).spawn().unwrap();
    let dead_pid = gone.id();
    gone.wait().unwrap();
    let git_lock = repo.join(".git/refs/fleet/live/staging.lock");
    let our_lock = repo.join(".git/fleet/locks/refs%fleet%live%staging.lock");
    std::fs::write(&git_lock, "").unwrap();
    std::fs::write(&our_lock, format!("{dead_pid} 0 0\n")).unwrap();
    // And a writer killed while holding the advisory lock itself.
    let flock = repo.join(".git/fleet/locks/refs%fleet%live%staging.flock");
    let mut holder = env
        .command("flock", &repo)
        .args(["-o"])
        .arg(&flock)
        .args(["sleep", "30"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(holder.try_wait().unwrap().is_none(), "flock did not start");
    holder.kill().unwrap(); // SIGKILL
    holder.wait().unwrap();
    let started = std::time::Instant::now();
    for i in 0..3 {
        let r = env.fleet(
            &repo,
            &["snapshot", "staging", "-m", &format!("after crash {i}")],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    assert!(
        // Before: 2 s per write for our lock, 10 s for git's.
        started.elapsed() < Duration::from_secs(4),
        "three writes after a killed writer took {:?}: its locks were not seen as dead at once",
        started.elapsed()
    );
    assert!(!git_lock.exists());
    let log = env.git(&repo, &["log", "--format=%s", "refs/fleet/live/staging"]);
    assert_eq!(log.lines().count(), 4);
}

/// The exec apply command changes live and then its git-fleet is SIGKILLed
/// (the command itself does it, so the moment is exact): the next command
/// finds the intent, reads live back, records it, completes the receipt and
/// the transition, and says so.
#[test]
fn an_exec_apply_killed_after_changing_live_is_completed_by_the_next_command() {
    let env = TestEnv::new();
    let repo = env.repo("work");
    let toml = exec_backend(env.root(), 1);
    let apply = env.root().join("apply.sh");
    let mut script = std::fs::read_to_string(&apply).unwrap();
    // After the change: find the git-fleet above us and kill it.
    script.push_str(
        "p=$PPID\nwhile [ \"$(cat /proc/$p/comm)\" != git-fleet ]; do p=$(cut -d' ' -f4 /proc/$p/stat); done\nkill -9 $p\n",
    );
    std::fs::write(&apply, script).unwrap();
    std::fs::write(
        repo.join("fleet.toml"),
        toml.replace("auto_apply = true", ""),
    )
    .unwrap();
    let live_sh = env.root().join("live.sh");
    let backend = env
        .command("sh", &repo)
        .arg(&live_sh)
        .output()
        .unwrap()
        .stdout;
    let r = env.fleet_stdin(&repo, &["snapshot", "ex", "--from", "-"], &backend);
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::fs::write(repo.join("fleet.yaml"), fleet(1, 5)).unwrap();
    env.git(&repo, &["add", "fleet.yaml", "fleet.toml"]);
    env.git(&repo, &["commit", "-q", "-m", "workers 5"]);
    assert_eq!(env.fleet(&repo, &["reconcile", "ex"]).code, 1);
    let id = proposals(&env, &repo, "ex")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(env.fleet(&repo, &["approve", &id]).code, 0);

    let killed = env.fleet(&repo, &["apply", &id]);
    assert_eq!(
        killed.code, -1,
        "not killed: {}{}",
        killed.stdout, killed.stderr
    );
    let state = env.root().join("backend/m00");
    assert_eq!(std::fs::read_to_string(&state).unwrap().trim(), "5");
    assert_eq!(open_intents(&receipt_log(&env, &repo)).len(), 1);

    let later = env.fleet(&repo, &["proposals"]);
    assert_eq!(later.code, 0, "{}", later.stderr);
    assert!(
        later.stderr.contains("completed an interrupted apply of")
            && later.stderr.contains(": applied (receipt "),
        "{}",
        later.stderr
    );
    check_completed(&env, &repo, &["ex"], 0);
    assert_eq!(
        recorded_live(&env, &repo, "ex")["modules"]["m00"]["config"]["workers"],
        5
    );
    let p = &proposals(&env, &repo, "ex")[0];
    assert_eq!(p["state"], "applied", "{p:#}");
    // Nothing is left to complete: the next command says nothing.
    let again = env.fleet(&repo, &["proposals"]);
    assert!(!again.stderr.contains("interrupted"), "{}", again.stderr);
}
