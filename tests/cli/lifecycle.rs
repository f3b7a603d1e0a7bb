//! Proposal lifecycle: superseded proposals, refreshed `before`, and
//! rollbacks that stick per value. Real binary, real repositories.

use crate::common;
use common::Run;
use serde_json::Value;

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", run.stdout, run.stderr))
}

/// One module m with `workers` and `threads`, assigned to node n1.
fn fleet(workers: u32, threads: u32) -> String {
    format!(
        "modules:\n  m:\n    priority: 50\n    config:\n      workers: {workers}\n      threads: {threads}\nassignments:\n  n1:m: {{enabled: true}}\n"
    )
}

use crate::common::staging::StagingRepo as Repo;

impl Repo {
    fn tick(&self) -> Value {
        let out = self.fleet(&["reconcile", "--json"]);
        assert!(out.code <= 1, "{}", out.stderr);
        json(&out)["ticks"][0].clone()
    }
    fn state_of(&self, id: &str) -> String {
        json(&self.fleet(&["show", id, "--json"]))["proposal"]["state"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

fn opened(tick: &Value) -> String {
    tick["opened"][0].as_str().unwrap().to_string()
}

#[test]
fn older_open_proposals_are_superseded_when_desired_moves_on() {
    let r = Repo::new("[targets.staging]\n");
    r.snapshot(&fleet(1, 1));
    r.commit_fleet(&fleet(2, 1));
    let p2 = opened(&r.tick());
    r.commit_fleet(&fleet(3, 1));
    let p3 = opened(&r.tick());
    assert_eq!(r.state_of(&p2), "superseded");
    assert_eq!(r.state_of(&p3), "pending_review");
    let listed = json(&r.fleet(&["proposals", "--state", "superseded", "--json"]));
    assert_eq!(listed["proposals"].as_array().unwrap().len(), 1, "{listed}");
    let approve = r.fleet(&["approve", &p2]);
    assert_eq!(approve.code, 2, "a superseded proposal is not approvable");
    assert!(approve.stderr.contains("superseded"), "{}", approve.stderr);
    // Desired back to what live is: nothing asks for p3 any more.
    r.commit_fleet(&fleet(1, 1));
    r.tick();
    assert_eq!(r.state_of(&p3), "superseded");
}

#[test]
fn a_tick_refreshes_an_open_proposals_before_when_live_moved() {
    let r = Repo::new("[targets.staging]\n");
    r.snapshot(&fleet(1, 1));
    r.commit_fleet(&fleet(5, 1));
    let p = opened(&r.tick());
    assert_eq!(r.fleet(&["approve", &p]).code, 0);
    r.snapshot(&fleet(4, 1)); // live moved under it
    let stale = r.fleet(&["apply", &p, "--json"]);
    assert_eq!(stale.code, 1);
    // The next tick refreshes it: review again, then it applies.
    r.tick();
    let shown = json(&r.fleet(&["show", &p, "--json"]));
    assert_eq!(shown["proposal"]["state"], "pending_review", "{shown}");
    assert_eq!(
        shown["proposal"]["before"]["config"]["workers"], 4,
        "{shown}"
    );
    // (another reason: within one second an identical transition is the same one)
    assert_eq!(r.fleet(&["approve", &p, "--reason", "again"]).code, 0);
    let ok = r.fleet(&["apply", &p]);
    assert_eq!(ok.code, 0, "{}{}", ok.stdout, ok.stderr);
    assert!(r.live().contains("\"workers\":5"), "{}", r.live());
}

fn held(tick: &Value) -> String {
    tick["held"].to_string()
}

#[test]
fn a_rolled_back_value_is_never_auto_applied_again() {
    let r = Repo::new("[targets.staging]\nauto_apply = true\n");
    r.snapshot(&fleet(1, 1));
    let good = r
        .env
        .git(&r.path, &["rev-parse", "refs/fleet/live/staging"])
        .trim()
        .to_string();
    r.commit_fleet(&fleet(2, 1));
    assert_eq!(r.tick()["applied"].as_array().unwrap().len(), 1);
    let out = json(&r.fleet(&["rollback", "staging", "--to", &good, "--json"]));
    let rb = out["opened"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(r.fleet(&["approve", &rb]).code, 0);
    assert_eq!(r.fleet(&["apply", &rb]).code, 0);
    assert!(r.live().contains("\"workers\":1"));

    // Another field of the module changes: workers 2 must not come back with it.
    r.commit_fleet(&fleet(2, 3));
    let t = r.tick();
    assert_eq!(t["applied"].as_array().unwrap().len(), 0, "{t}");
    assert!(
        held(&t).contains("config.workers = 2") && held(&t).contains("rolled back"),
        "{t}"
    );
    assert!(r.live().contains("\"workers\":1"), "{}", r.live());

    // A new value goes live; setting the rolled-back value again is held, and said.
    r.commit_fleet(&fleet(3, 3));
    assert_eq!(r.tick()["applied"].as_array().unwrap().len(), 1);
    r.commit_fleet(&fleet(2, 3));
    let t = r.tick();
    assert_eq!(t["applied"].as_array().unwrap().len(), 0, "{t}");
    assert!(held(&t).contains("config.workers = 2"), "{t}");
    let notes = t["run"]["notes"].to_string();
    assert!(notes.contains("rolled back"), "{t}");
    assert!(r.live().contains("\"workers\":3"), "{}", r.live());
    // Ticks that follow keep saying why it waits.
    let t = r.tick();
    assert!(held(&t).contains("config.workers = 2"), "{t}");
}
