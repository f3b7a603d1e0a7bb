//! Reconcile gates, review, apply, halt, runs, rollback: real binary, real repos.

use crate::common;
use common::{Run, TestEnv};
use serde_json::Value;
use std::path::Path;

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", run.stdout, run.stderr))
}

/// A fleet with `modules` modules m00.. and one assignment per module on node n1.
fn fleet(modules: usize, workers: u32) -> String {
    let mut s = String::from("modules:\n");
    for i in 0..modules {
        s.push_str(&format!(
            "  m{i:02}:\n    priority: 50\n    config:\n      workers: {workers}\n"
        ));
    }
    s.push_str("assignments:\n");
    for i in 0..modules {
        s.push_str(&format!("  n1:m{i:02}: {{enabled: true}}\n"));
    }
    s
}

use crate::common::staging::StagingRepo as Repo;

impl Repo {
    /// Record that staging is empty, on purpose (a tick needs a snapshot).
    fn empty_live(&self) {
        let r = self.env.fleet_stdin(
            &self.path,
            &["snapshot", "staging", "--from", "-", "--allow-empty"],
            b"",
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    fn proposals(&self) -> Vec<Value> {
        json(&self.fleet(&["proposals", "--json"]))["proposals"]
            .as_array()
            .unwrap()
            .clone()
    }
    fn in_state(&self, state: &str) -> Vec<Value> {
        self.proposals()
            .into_iter()
            .filter(|p| p["state"] == state)
            .collect()
    }
    fn receipts(&self) -> String {
        let r = self
            .env
            .command("git", &self.path)
            .args(["log", "--format=%B", "refs/notes/fleet/receipts"])
            .output()
            .unwrap();
        let mut out = String::from_utf8_lossy(&r.stdout).into_owned();
        // Receipt blocks live in notes; read them all.
        let list = self
            .env
            .command("git", &self.path)
            .args(["notes", "--ref=fleet/receipts", "list"])
            .output()
            .unwrap();
        for line in String::from_utf8_lossy(&list.stdout).lines() {
            if let Some(obj) = line.split_whitespace().nth(1) {
                out.push_str(
                    &self
                        .env
                        .git(&self.path, &["notes", "--ref=fleet/receipts", "show", obj]),
                );
            }
        }
        out
    }
}

const TARGET: &str = "[targets.staging]\n";
const AUTO: &str = "[targets.staging]\nauto_apply = true\n";

#[test]
fn auto_apply_off_leaves_everything_pending() {
    let r = Repo::new(TARGET);
    r.snapshot(&fleet(2, 1));
    r.commit_fleet(&fleet(3, 2));
    let before = r.live();
    let out = r.fleet(&["reconcile", "staging", "--json"]);
    assert_eq!(out.code, 1, "something to see: {}", out.stderr);
    let tick = &json(&out)["ticks"][0];
    // 2 module updates, 1 module create, 1 assignment create.
    assert_eq!(tick["opened"].as_array().unwrap().len(), 4);
    assert_eq!(
        r.in_state("pending_review").len(),
        tick["opened"].as_array().unwrap().len()
    );
    assert_eq!(r.live(), before, "nothing applied");
}

#[test]
fn auto_apply_applies_creates_and_updates_but_never_destroys() {
    let r = Repo::new(AUTO);
    r.snapshot(&fleet(3, 1));
    // m00..m01 updated (workers 2), m02 and its assignment destroyed, nothing else.
    r.commit_fleet(&fleet(2, 2));
    let out = r.fleet(&["reconcile", "--json"]);
    let tick = &json(&out)["ticks"][0];
    assert_eq!(
        tick["applied"].as_array().unwrap().len(),
        2,
        "{}",
        out.stdout
    );
    let pending = r.in_state("pending_review");
    assert_eq!(pending.len(), 2);
    assert!(pending.iter().all(|p| p["change"] == "destroy"));
    let live = r.live();
    assert!(live.contains("\"m02\""), "destroys wait for a person");
    assert!(
        live.contains("\"m00\":{\"name\":\"m00\",\"priority\":50,\"config\":{\"workers\":2}}"),
        "updates applied: {live}"
    );
    let receipts = r.receipts();
    assert!(
        receipts.matches("Fleet-Action: auto-apply").count() >= 2,
        "{receipts}"
    );
}

#[test]
fn halted_means_nothing_is_applied_and_manual_apply_needs_despite_halt() {
    let r = Repo::new(AUTO);
    r.snapshot(&fleet(1, 1));
    r.commit_fleet(&fleet(1, 2));
    assert_eq!(r.fleet(&["halt", "--reason", "incident"]).code, 0);
    let before = r.live();
    let tick = &json(&r.fleet(&["reconcile", "--json"]))["ticks"][0];
    assert_eq!(tick["applied"].as_array().unwrap().len(), 0);
    assert_eq!(r.live(), before);
    let id = r.in_state("pending_review")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(r.fleet(&["approve", &id]).code, 0);
    let refused = r.fleet(&["apply", &id]);
    assert_eq!(refused.code, 2);
    assert!(refused.stderr.contains("halted"), "{}", refused.stderr);
    assert_eq!(r.live(), before);
    let forced = r.fleet(&["apply", &id, "--despite-halt"]);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    assert_ne!(r.live(), before);
    assert!(r.receipts().contains("Fleet-Despite-Halt: yes"));
    assert_eq!(r.fleet(&["resume"]).code, 0);
    let receipts = r.receipts();
    assert!(
        receipts.contains("Fleet-Action: halt") && receipts.contains("Fleet-Action: resume"),
        "{receipts}"
    );
}

#[test]
fn the_cap_opens_25_then_the_rest_next_tick_and_never_duplicates() {
    let r = Repo::new(TARGET);
    r.commit_fleet(&fleet(20, 1)); // 20 modules + 20 assignments = 40 creates
    r.empty_live();
    let first = json(&r.fleet(&["reconcile", "--json"]));
    assert_eq!(first["ticks"][0]["opened"].as_array().unwrap().len(), 25);
    assert_eq!(first["ticks"][0]["deferred"], 15);
    assert_eq!(first["ticks"][0]["run"]["status"], "partial");
    let second = json(&r.fleet(&["reconcile", "--json"]));
    assert_eq!(second["ticks"][0]["opened"].as_array().unwrap().len(), 15);
    assert_eq!(second["ticks"][0]["run"]["status"], "success");
    let third = json(&r.fleet(&["reconcile", "--json"]));
    assert_eq!(third["ticks"][0]["opened"].as_array().unwrap().len(), 0);
    assert_eq!(third["ticks"][0]["already_open"], 40);
    assert_eq!(r.proposals().len(), 40);
    // The cap can come from the environment too.
    let r2 = Repo::new(TARGET);
    r2.commit_fleet(&fleet(5, 1));
    r2.empty_live();
    let mut cmd = r2.env.command(common::bin(), &r2.path);
    let out = cmd
        .args(["reconcile", "--json"])
        .env("GIT_FLEET_MAX_PROPOSALS_PER_TICK", "3")
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ticks"][0]["opened"].as_array().unwrap().len(), 3);
    let runs = json(&r.fleet(&["runs", "staging", "--json"]));
    assert_eq!(runs["runs"].as_array().unwrap().len(), 3);
}

#[test]
fn a_stale_proposal_is_refused_and_returned_to_review() {
    let r = Repo::new(TARGET);
    r.snapshot(&fleet(1, 1));
    r.commit_fleet(&fleet(1, 2));
    r.fleet(&["reconcile"]);
    let id = r.in_state("pending_review")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    r.fleet(&["approve", &id]);
    r.snapshot(&fleet(1, 7)); // live moved underneath the proposal
    let out = r.fleet(&["apply", &id, "--json"]);
    assert_eq!(out.code, 1);
    assert!(json(&out)["outcomes"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("stale"));
    let shown = json(&r.fleet(&["show", &id, "--json"]));
    assert_eq!(shown["proposal"]["state"], "pending_review");
    let states: Vec<&str> = shown["proposal"]["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        ["pending_review", "approved", "failed", "pending_review"]
    );
    assert!(r.live().contains("\"workers\":7"), "live untouched");
}

#[test]
fn rejected_is_not_reproposed_until_live_changes() {
    let r = Repo::new(TARGET);
    r.snapshot(&fleet(1, 1));
    r.commit_fleet(&fleet(1, 2));
    r.fleet(&["reconcile"]);
    let id = r.in_state("pending_review")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(r.fleet(&["reject", &id, "--reason", "not now"]).code, 0);
    let again = json(&r.fleet(&["reconcile", "--json"]));
    assert_eq!(again["ticks"][0]["opened"].as_array().unwrap().len(), 0);
    assert_eq!(again["ticks"][0]["not_reproposed"], 1);
    r.snapshot(&fleet(1, 3));
    let changed = json(&r.fleet(&["reconcile", "--json"]));
    assert_eq!(changed["ticks"][0]["opened"].as_array().unwrap().len(), 1);
}

#[test]
fn approvals_need_distinct_actors() {
    let r = Repo::new("[targets.staging]\napprovals = 2\n");
    r.snapshot(&fleet(1, 1));
    r.commit_fleet(&fleet(1, 2));
    r.fleet(&["reconcile"]);
    let id = r.in_state("pending_review")[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    r.fleet(&["approve", &id]);
    r.fleet(&["approve", &id]); // the same actor twice counts once
    let out = r.fleet(&["apply", &id, "--json"]);
    assert!(json(&out)["outcomes"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("2 distinct approvers"));
    let mut other = r.env.command(common::bin(), &r.path);
    let o = other
        .args(["approve", &id])
        .env("GIT_COMMITTER_EMAIL", "second@example.com")
        .env("GIT_COMMITTER_NAME", "Second")
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(r.fleet(&["apply", &id]).code, 0);
}

#[test]
fn destroying_a_referenced_module_waits_for_its_assignments() {
    let r = Repo::new(TARGET);
    r.snapshot(&fleet(2, 1));
    r.commit_fleet(&fleet(1, 1));
    r.fleet(&["reconcile"]);
    let pending = r.in_state("pending_review");
    let module = pending.iter().find(|p| p["kind"] == "modules").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let assignment = pending.iter().find(|p| p["kind"] == "assignments").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    r.fleet(&["approve", &module, &assignment]);
    let alone = json(&r.fleet(&["apply", &module, "--json"]));
    assert!(
        alone["outcomes"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("still referenced"),
        "{alone}"
    );
    let both = r.fleet(&["apply", &module, &assignment]);
    assert_eq!(both.code, 0, "{}", both.stdout);
    assert!(!r.live().contains("\"m01\""));
}

fn exec_toml(dir: &Path, apply: &str) -> String {
    format!(
        "[targets.staging]\nauto_apply = true\ndriver = \"exec\"\nlive = \"cat {live}\"\napply = \"{apply}\"\n",
        live = dir.join("live.yaml").display()
    )
}

#[test]
fn exec_driver_failure_goes_back_to_review_and_the_tick_goes_on() {
    let env = TestEnv::new();
    let dir = env.root().to_path_buf();
    std::fs::write(dir.join("live.yaml"), fleet(2, 1)).unwrap();
    // The apply command fails for m00 and "applies" everything else by rewriting live.yaml.
    let script = dir.join("apply.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nin=$(cat)\ncase \"$in\" in *'\"name\":\"m00\"'*) echo boom >&2; exit 3;; esac\nsed -i 's/workers: 1/workers: 2/' {}\n",
            dir.join("live.yaml").display()
        ),
    )
    .unwrap();
    let path = env.repo("work");
    std::fs::write(
        path.join("fleet.toml"),
        exec_toml(&dir, &format!("sh {}", script.display())),
    )
    .unwrap();
    let r = Repo { env, path };
    r.commit_fleet(&fleet(2, 2));
    let tick = json(&r.fleet(&["reconcile", "--json"]));
    let t = &tick["ticks"][0];
    assert_eq!(t["failed"].as_array().unwrap().len(), 1, "{tick}");
    assert_eq!(t["run"]["status"], "partial");
    let failed_id = t["failed"][0][0].as_str().unwrap();
    let shown = json(&r.fleet(&["show", failed_id, "--json"]));
    assert_eq!(shown["proposal"]["state"], "pending_review");
    assert!(shown["proposal"]["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["state"] == "failed"));
}

#[test]
fn exec_readback_mismatch_is_caught() {
    let env = TestEnv::new();
    let dir = env.root().to_path_buf();
    std::fs::write(dir.join("live.yaml"), fleet(1, 1)).unwrap();
    let path = env.repo("work");
    // The apply command claims success but changes nothing.
    std::fs::write(path.join("fleet.toml"), exec_toml(&dir, "cat >/dev/null")).unwrap();
    let r = Repo { env, path };
    r.commit_fleet(&fleet(1, 2));
    let tick = json(&r.fleet(&["reconcile", "--json"]));
    let reason = tick["ticks"][0]["failed"][0][1]
        .as_str()
        .unwrap()
        .to_string();
    assert!(reason.contains("readback mismatch"), "{reason}");
}

/// The apply command changed live, but not to what was approved: live was still
/// mutated, so the readback is recorded as a snapshot with a `mismatch` receipt
/// before the proposal goes back to review.
#[test]
fn exec_readback_mismatch_records_the_readback_and_a_receipt() {
    let env = TestEnv::new();
    let dir = env.root().to_path_buf();
    std::fs::write(dir.join("live.yaml"), fleet(1, 1)).unwrap();
    let path = env.repo("work");
    let script = dir.join("apply.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncat >/dev/null\nsed -i 's/workers: 1/workers: 7/' {}\n",
            dir.join("live.yaml").display()
        ),
    )
    .unwrap();
    let apply = format!("sh {}", script.display());
    std::fs::write(path.join("fleet.toml"), exec_toml(&dir, &apply)).unwrap();
    let r = Repo { env, path };
    assert!(std::fs::read_to_string(dir.join("live.yaml"))
        .unwrap()
        .contains("workers: 1"));
    r.commit_fleet(&fleet(1, 2));
    let tick = json(&r.fleet(&["reconcile", "--json"]));
    let failed = &tick["ticks"][0]["failed"];
    assert_eq!(failed.as_array().unwrap().len(), 1, "{tick}");
    assert!(
        failed[0][1].as_str().unwrap().contains("readback mismatch"),
        "{tick}"
    );
    assert!(std::fs::read_to_string(dir.join("live.yaml"))
        .unwrap()
        .contains("workers: 7"));
    // The recorded live state is what the backend became...
    let live: Value = serde_json::from_str(&r.live()).unwrap();
    assert_eq!(live["modules"]["m00"]["config"]["workers"], 7, "{live}");
    let snapshot = r
        .env
        .git(&r.path, &["rev-parse", "refs/fleet/live/staging"]);
    let receipts = r.receipts();
    assert!(receipts.contains("Fleet-Result: mismatch"), "{receipts}");
    assert!(
        receipts.contains(&format!("Fleet-After: {}", snapshot.trim())),
        "{receipts}"
    );
    // ...and the proposal is back in review, its transition naming the receipt.
    let p = &r.in_state("pending_review")[0];
    let last_failed = p["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .rfind(|t| t["state"] == "failed")
        .unwrap();
    assert!(last_failed["receipt"].is_string(), "{p:#}");
    assert_eq!(r.fleet(&["receipts", "verify"]).code, 0);
}

#[test]
fn rollback_opens_proposals_and_sticks() {
    let r = Repo::new(AUTO);
    r.snapshot(&fleet(1, 1));
    let good = r
        .env
        .git(&r.path, &["rev-parse", "refs/fleet/live/staging"])
        .trim()
        .to_string();
    r.commit_fleet(&fleet(1, 2));
    let tick = json(&r.fleet(&["reconcile", "--json"]));
    assert_eq!(tick["ticks"][0]["applied"].as_array().unwrap().len(), 1);
    let out = json(&r.fleet(&["rollback", "staging", "--to", &good, "--json"]));
    let rb = out["opened"][0]["id"].as_str().unwrap().to_string();
    r.fleet(&["approve", &rb]);
    assert_eq!(r.fleet(&["apply", &rb]).code, 0);
    assert!(r.live().contains("\"workers\":1"));
    // The desired file still says workers: 2, but that content was rolled back.
    let again = r.fleet(&["reconcile", "--json"]);
    let t = &json(&again)["ticks"][0];
    assert_eq!(
        t["applied"].as_array().unwrap().len(),
        0,
        "{}",
        again.stdout
    );
    assert!(again.stdout.contains("rolled back"), "{}", again.stdout);
    assert!(r.live().contains("\"workers\":1"));
    // A new desired content is auto-applied again.
    r.commit_fleet(&fleet(1, 3));
    let t3 = json(&r.fleet(&["reconcile", "--json"]));
    assert_eq!(t3["ticks"][0]["applied"].as_array().unwrap().len(), 1);
}

#[test]
fn gc_drops_old_runs_by_retention() {
    let r = Repo::new(TARGET);
    r.commit_fleet(&fleet(1, 1));
    r.empty_live();
    let day = 86_400i64;
    let t0 = 1_700_000_000i64;
    for (offset, _) in [(0, "old success"), (200 * day, "recent")] {
        let mut c = r.env.command(common::bin(), &r.path);
        c.args(["reconcile"])
            .env("GIT_FLEET_NOW", (t0 + offset).to_string());
        assert!(c.output().unwrap().status.code().unwrap() <= 1);
    }
    let mut gc = r.env.command(common::bin(), &r.path);
    let out = gc
        .args(["gc", "--dry-run", "--json"])
        .env("GIT_FLEET_NOW", (t0 + 210 * day).to_string())
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["dropped"].as_array().unwrap().len(), 1);
    assert_eq!(
        json(&r.fleet(&["runs", "--json"]))["runs"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "dry run keeps all"
    );
    let mut gc = r.env.command(common::bin(), &r.path);
    gc.args(["gc"])
        .env("GIT_FLEET_NOW", (t0 + 210 * day).to_string())
        .output()
        .unwrap();
    assert_eq!(
        json(&r.fleet(&["runs", "--json"]))["runs"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    r.env.git(&r.path, &["fsck", "--no-progress"]);
}

#[test]
fn watch_ticks_until_sigterm_and_a_busy_lock_refuses_waits_or_is_taken_over() {
    let r = Repo::new(TARGET);
    r.snapshot(&fleet(1, 1));
    r.commit_fleet(&fleet(1, 2));
    let mut child = r
        .env
        .command(common::bin(), &r.path)
        .args(["reconcile", "--watch", "--interval", "1s"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let runs = json(&r.fleet(&["runs", "--json"]))["runs"]
            .as_array()
            .unwrap()
            .len();
        if runs >= 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "watch did not tick twice"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let stopped = std::time::Instant::now();
    let status = child.wait().unwrap();
    assert!(status.success(), "watch exits 0 on SIGTERM: {status:?}");
    assert!(stopped.elapsed() < std::time::Duration::from_secs(3));

    // A live tick holds the target: a second one refuses to start, or waits.
    let lock = r.path.join(".git/fleet/locks/tick-staging.lock");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    std::fs::write(&lock, format!("{} {now} 0 1\n", std::process::id())).unwrap();
    let busy = r.fleet(&["reconcile"]);
    assert_eq!(busy.code, 2);
    assert!(
        busy.stderr
            .contains("another reconcile tick of 'staging' is running"),
        "{}",
        busy.stderr
    );
    let started = std::time::Instant::now();
    let waited = r.fleet(&["reconcile", "--wait", "1s"]);
    assert_eq!(waited.code, 2);
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    // A lock whose process is gone is stale: taken over, and the run says so.
    std::fs::write(&lock, format!("4194303 {now} 0 1\n")).unwrap();
    let taken = r.fleet(&["reconcile", "--json"]);
    assert!(taken.code <= 1, "{}", taken.stderr);
    assert!(
        json(&taken)["ticks"][0]["run"]["notes"]
            .to_string()
            .contains("took over a stale tick lock: pid 4194303 is gone"),
        "{}",
        taken.stdout
    );
    assert!(!lock.exists());
}

#[test]
fn two_watchers_never_tick_one_target_at_once() {
    let env = TestEnv::new();
    let dir = env.root().to_path_buf();
    std::fs::write(dir.join("live.yaml"), fleet(1, 1)).unwrap();
    // Reading live state marks the start and end of each tick's live read,
    // which sits inside the tick (and its lock).
    let ticks = dir.join("ticks.log");
    let live = dir.join("live.sh");
    std::fs::write(
        &live,
        format!(
            "echo start >> {t}\nsleep 0.8\necho end >> {t}\ncat {l}\n",
            t = ticks.display(),
            l = dir.join("live.yaml").display()
        ),
    )
    .unwrap();
    let path = env.repo("work");
    std::fs::write(
        path.join("fleet.toml"),
        format!(
            "[targets.staging]\ndriver = \"exec\"\nlive = \"sh {}\"\napply = \"cat >/dev/null\"\n",
            live.display()
        ),
    )
    .unwrap();
    let r = Repo { env, path };
    r.commit_fleet(&fleet(1, 2));
    let spawn = || {
        r.env
            .command(common::bin(), &r.path)
            .args(["reconcile", "--watch", "--interval", "1s"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let watchers = [spawn(), spawn()];
    std::thread::sleep(std::time::Duration::from_secs(4));
    let mut stderr = String::new();
    for w in watchers {
        let kill = std::process::Command::new("kill")
            .args(["-TERM", &w.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        let out = w.wait_with_output().unwrap();
        assert!(out.status.success(), "a watcher exits 0 on SIGTERM");
        stderr.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    let log = std::fs::read_to_string(&ticks).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines.len() >= 6, "at least three ticks: {log}");
    for (i, pair) in lines.chunks(2).enumerate() {
        assert_eq!(
            pair,
            ["start", "end"],
            "tick {i} overlapped another:\n{log}"
        );
    }
    // They did contend: one found the other's tick running and skipped the round.
    assert!(
        stderr.contains("another reconcile tick of 'staging' is running"),
        "{stderr}"
    );
}
