//! Where a value came from, and what the records said then: `why`, `--at`,
//! `history` and `diff --rendered`, outside in. Real repositories whose
//! commits and fleet records carry controlled dates (GIT_COMMITTER_DATE,
//! GIT_FLEET_NOW), the real binary, a real bare origin.

use crate::common;
use common::TestEnv;
use serde_json::Value;
use std::path::{Path, PathBuf};

const FLEET: &str = include_str!("../../examples/fleet.yaml");

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "not one JSON object ({e}): {}\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// A clone of a bare origin with examples/fleet.yaml; every command runs at
/// a date of our choosing.
struct Repo {
    env: TestEnv,
    path: PathBuf,
}

/// "2026-01-0DTHH:00:00Z"
fn day(d: u32, h: u32) -> String {
    format!("2026-01-{d:02}T{h:02}:00:00Z")
}

fn epoch(date: &str) -> i64 {
    date.parse::<jiff::Timestamp>().unwrap().as_second()
}

impl Repo {
    fn new() -> Repo {
        let env = TestEnv::new();
        let origin = env.bare("origin.git");
        let path = env.clone_of(&origin, "work");
        let r = Repo { env, path };
        std::fs::write(r.path.join("fleet.yaml"), FLEET).unwrap();
        r.git(&day(1, 10), &["add", "fleet.yaml"]);
        r.git(&day(1, 10), &["commit", "-q", "-m", "fleet: first version"]);
        r.git(&day(1, 10), &["push", "-q", "origin", "main"]);
        r
    }

    fn git(&self, date: &str, args: &[&str]) -> String {
        let out = self
            .env
            .command("git", &self.path)
            .env("GIT_COMMITTER_DATE", date)
            .env("GIT_AUTHOR_DATE", date)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn fleet(&self, date: &str, args: &[&str]) -> Out {
        let out = self
            .env
            .command(common::bin(), &self.path)
            .env("GIT_COMMITTER_DATE", date)
            .env("GIT_FLEET_NOW", epoch(date).to_string())
            .args(args)
            .output()
            .unwrap();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn ok(&self, date: &str, args: &[&str]) -> Out {
        let out = self.fleet(date, args);
        assert_eq!(out.code, 0, "{args:?}: {}{}", out.stdout, out.stderr);
        out
    }

    /// Edit fleet.yaml (replace `from` by `to`), commit and push at `date`.
    fn edit(&self, date: &str, from: &str, to: &str, message: &str) -> String {
        let file = self.path.join("fleet.yaml");
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains(from), "{from} not in fleet.yaml");
        std::fs::write(&file, text.replacen(from, to, 1)).unwrap();
        self.git(date, &["commit", "-q", "-am", message]);
        self.git(date, &["push", "-q", "origin", "main"]);
        self.git(date, &["rev-parse", "HEAD"])
    }

    /// The 1-based line of fleet.yaml (work tree) that contains `text`.
    fn line_of(&self, text: &str) -> u64 {
        let file = std::fs::read_to_string(self.path.join("fleet.yaml")).unwrap();
        file.lines().position(|l| l.contains(text)).unwrap() as u64 + 1
    }

    /// reconcile, approve and apply the one proposal, each at its own hour of `d`.
    fn review_and_apply(&self, d: u32) -> String {
        // Exit 1: proposals to review.
        assert_eq!(self.fleet(&day(d, 9), &["reconcile", "staging"]).code, 1);
        let list = self.ok(
            &day(d, 9),
            &["proposals", "--state", "pending_review", "--json"],
        );
        let id = list.json()["proposals"][0]["id"]
            .as_str()
            .unwrap()
            .to_string();
        self.ok(&day(d, 10), &["approve", &id, "--reason", "change window"]);
        self.ok(&day(d, 11), &["apply", &id]);
        id
    }

    fn refs(&self) -> String {
        self.env.refs(&self.path)
    }
}

fn dir(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The user story of item 2: app-02's nginx_workers is 8 in its assignment,
/// overriding the module's 4; someone raises it to 12, it is reviewed and
/// applied. `why` names both layers with their lines, the commit that last
/// changed each line, and the apply receipt that put 12 live.
#[test]
fn why_names_every_layer_its_line_commit_and_the_receipt_that_put_it_live() {
    let r = Repo::new();
    let first = r.git(&day(1, 10), &["rev-parse", "HEAD"]);
    r.ok(&day(1, 12), &["snapshot", "staging"]);
    let raise = r.edit(
        &day(2, 10),
        "      nginx_workers: 8",
        "      nginx_workers: 12",
        "app-02: more workers",
    );
    let proposal = r.review_and_apply(3);

    let out = r.ok(&day(4, 0), &["why", "app-02", "nginx_workers", "--json"]);
    let v = out.json();
    assert_eq!(v["version"], 1);
    assert_eq!(v["value"], 12);
    assert_eq!(v["from"], "app-02:nginx-public");
    assert_eq!(v["target"], "staging");
    let layers = v["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2, "{}", out.stdout);
    // Render order: the module's config first, overridden by the assignment's.
    assert_eq!(layers[0]["kind"], "modules");
    assert_eq!(layers[0]["name"], "nginx-public");
    assert_eq!(layers[0]["value"], 4);
    assert_eq!(layers[0]["wins"], false);
    assert_eq!(layers[0]["line"], r.line_of("nginx_workers: 4"));
    assert_eq!(layers[0]["commit"]["commit"], first.as_str());
    assert_eq!(layers[1]["kind"], "assignments");
    assert_eq!(layers[1]["name"], "app-02:nginx-public");
    assert_eq!(layers[1]["value"], 12);
    assert_eq!(layers[1]["wins"], true);
    assert_eq!(layers[1]["line"], r.line_of("nginx_workers: 12"));
    assert_eq!(layers[1]["commit"]["commit"], raise.as_str());
    assert_eq!(layers[1]["commit"]["summary"], "app-02: more workers");
    assert_eq!(layers[1]["commit"]["time"], day(2, 10));
    // Live holds 12 since the apply, and names its completing receipt.
    assert_eq!(v["live"]["state"], "live");
    assert_eq!(v["live"]["value"], 12);
    let receipt = &v["live"]["since"]["receipt"];
    assert_eq!(receipt["action"], "apply");
    assert_eq!(receipt["result"], "applied");
    assert_eq!(receipt["proposal"], proposal.as_str());
    let log = r.ok(&day(4, 0), &["receipts", "--json"]).json();
    assert!(
        log["receipts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == receipt["id"]),
        "the receipt named is in the log"
    );

    // The same in words.
    let human = r.ok(&day(4, 0), &["why", "app-02", "nginx_workers"]).stdout;
    let line = r.line_of("nginx_workers: 12");
    assert!(human.contains(&format!("fleet.yaml:{line}")), "{human}");
    assert!(human.contains(&raise[..12]), "{human}");
    assert!(human.contains("(overridden)"), "{human}");
    assert!(human.contains("live on staging: the same value"), "{human}");
    assert!(human.contains("apply applied"), "{human}");
}

/// A value changed in desired but not applied is "live differs" (with the
/// live value); a key live does not have is "not live yet"; an uncommitted
/// line is "not committed yet". Nothing is written.
#[test]
fn why_says_honestly_when_live_differs_or_does_not_have_it_yet() {
    let r = Repo::new();
    r.ok(&day(1, 12), &["snapshot", "staging"]);
    r.edit(
        &day(2, 10),
        "nginx_workers: 4",
        "nginx_workers: 6",
        "more workers",
    );
    let before = r.refs();
    let v = r
        .ok(&day(3, 0), &["why", "app-01", "nginx_workers", "--json"])
        .json();
    assert_eq!(v["value"], 6);
    assert_eq!(v["live"]["state"], "differs");
    assert_eq!(v["live"]["value"], 4);
    let human = r.ok(&day(3, 0), &["why", "app-01", "nginx_workers"]).stdout;
    assert!(human.contains("live differs on staging: 4"), "{human}");

    // A new key, only in the work tree.
    let file = r.path.join("fleet.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replacen(
            "      max_connections: 200",
            "      max_connections: 200\n      shared_buffers: 1GB",
            1,
        ),
    )
    .unwrap();
    let v = r
        .ok(&day(3, 0), &["why", "db-01", "shared_buffers", "--json"])
        .json();
    assert_eq!(v["value"], "1GB");
    assert_eq!(v["live"]["state"], "not-live-yet");
    assert_eq!(v["layers"][0]["line"], r.line_of("shared_buffers"));
    assert!(v["layers"][0]["commit"]["commit"]
        .as_str()
        .unwrap()
        .bytes()
        .all(|b| b == b'0'));
    let human = r.ok(&day(3, 0), &["why", "db-01", "shared_buffers"]).stdout;
    assert!(human.contains("not live yet on staging"), "{human}");
    assert!(human.contains("not committed yet"), "{human}");
    assert_eq!(r.refs(), before, "why only reads");
}

/// An unknown node or key is an error (exit 2) naming what exists and the
/// closest names; with --json, one error object.
#[test]
fn why_refuses_unknown_node_or_key_naming_the_closest() {
    let r = Repo::new();
    let out = r.fleet(&day(2, 0), &["why", "app-1", "nginx_workers"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("unknown node 'app-1'"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("did you mean app-01"), "{}", out.stderr);
    assert!(
        out.stderr.contains("db-01"),
        "lists the nodes: {}",
        out.stderr
    );

    let out = r.fleet(&day(2, 0), &["why", "app-01", "nginx_worker", "--json"]);
    assert_eq!(out.code, 2);
    let v = out.json();
    assert_eq!(v["version"], 1);
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("no key 'nginx_worker'"), "{message}");
    assert!(message.contains("did you mean nginx_workers"), "{message}");
    assert!(message.contains("tls_protocols"), "{message}");

    // Two targets: which live to read is not guessed.
    r.ok(&day(2, 0), &["snapshot", "staging"]);
    r.ok(&day(2, 0), &["snapshot", "prod"]);
    let out = r.fleet(&day(2, 0), &["why", "app-01", "listen_port"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("several targets are known (prod, staging)"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--target"), "{}", out.stderr);
    r.ok(
        &day(2, 0),
        &["why", "app-01", "listen_port", "--target", "prod"],
    );
}

/// Item 6: --at reads desired, live, proposals and receipts as they were.
#[test]
fn at_reads_desired_live_proposals_and_receipts_as_they_were() {
    let r = Repo::new();
    let first = r.git(&day(1, 10), &["rev-parse", "HEAD"]);
    r.ok(&day(1, 12), &["snapshot", "staging"]);
    r.edit(
        &day(2, 10),
        "      nginx_workers: 8",
        "      nginx_workers: 12",
        "app-02: more workers",
    );
    let proposal = r.review_and_apply(3);
    let before = r.refs();

    // why on Jan 1 (a bare date is the whole day): desired 8 at the first
    // commit, live 8 since the snapshot, recorded by a snapshot receipt.
    let v = r
        .ok(
            &day(5, 0),
            &[
                "why",
                "app-02",
                "nginx_workers",
                "--at",
                "2026-01-01",
                "--json",
            ],
        )
        .json();
    assert_eq!(v["value"], 8);
    assert_eq!(v["desired"], format!("{}:fleet.yaml", &first[..12]));
    assert_eq!(v["at"]["time"], "2026-01-01T23:59:59Z");
    assert_eq!(v["live"]["state"], "live");
    assert_eq!(v["live"]["since"]["receipt"]["action"], "snapshot");
    // On Jan 2 desired said 12 and live still 8.
    let v = r
        .ok(
            &day(5, 0),
            &[
                "why",
                "app-02",
                "nginx_workers",
                "--at",
                &day(2, 12),
                "--json",
            ],
        )
        .json();
    assert_eq!(v["value"], 12);
    assert_eq!(v["live"]["state"], "differs");
    // A revision stands for its commit (and its date).
    let v = r
        .ok(
            &day(5, 0),
            &["why", "app-02", "nginx_workers", "--at", "HEAD~1", "--json"],
        )
        .json();
    assert_eq!(v["value"], 8);
    assert_eq!(v["at"]["rev"], first.as_str());

    // diff then: one update (8 -> 12); today: nothing (applied).
    let d = r
        .ok(
            &day(5, 0),
            &["diff", "staging", "--at", &day(2, 12), "--json"],
        )
        .json();
    assert_eq!(d["totals"]["changes"], 1, "{d}");
    assert_eq!(d["changes"][0]["name"], "app-02:nginx-public");
    assert_eq!(d["at"]["time"], day(2, 12));
    let now = r.ok(&day(5, 0), &["diff", "staging", "--json"]).json();
    assert_eq!(now["totals"]["changes"], 0);

    // render at a revision and, with --live, the snapshot then.
    let out = r
        .ok(
            &day(5, 0),
            &["render", "app-02", "--at", "HEAD~1", "--json"],
        )
        .json();
    assert_eq!(out["nodes"]["app-02"]["nginx_workers"]["value"], 8);
    let out = r
        .ok(
            &day(5, 0),
            &[
                "render",
                "--live",
                "staging",
                "app-02",
                "--at",
                &day(2, 12),
                "--json",
            ],
        )
        .json();
    assert_eq!(out["nodes"]["app-02"]["nginx_workers"]["value"], 8);

    // proposals: none before the tick, pending after it, applied after apply.
    let at = |when: &str| {
        let v = r
            .ok(&day(5, 0), &["proposals", "--at", when, "--json"])
            .json();
        v["proposals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["id"].as_str().unwrap().to_string(),
                    p["state"].as_str().unwrap().to_string(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(at(&day(2, 12)), vec![]);
    assert_eq!(
        at(&day(3, 9)),
        vec![(proposal.clone(), "pending_review".to_string())]
    );
    assert_eq!(
        at(&day(3, 10)),
        vec![(proposal.clone(), "approved".to_string())]
    );
    assert_eq!(
        at(&day(4, 0)),
        vec![(proposal.clone(), "applied".to_string())]
    );

    // receipts: the log then, newest first; before the first one, empty (exit 0).
    let ids = |when: &str| {
        let v = r
            .ok(&day(5, 0), &["receipts", "--at", when, "--json"])
            .json();
        v["receipts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["action"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&day(1, 11)), Vec::<String>::new());
    assert_eq!(ids(&day(2, 0)), vec!["snapshot"]);
    assert_eq!(ids(&day(4, 0)), vec!["apply", "apply", "snapshot"]);
    assert_eq!(r.refs(), before, "--at only reads");
}

/// A time before any record is refused with a clear message (exit 2), never
/// read as an empty fleet; a WHEN that is neither a date nor a revision too.
#[test]
fn at_before_any_record_or_unreadable_is_refused() {
    let r = Repo::new();
    r.ok(&day(1, 12), &["snapshot", "staging"]);
    let before = r.refs();
    for args in [
        vec!["diff", "staging", "--at", "2025-12-31"],
        vec!["render", "--at", "2025-12-31"],
        vec!["why", "app-01", "listen_port", "--at", "2025-12-31"],
    ] {
        let out = r.fleet(&day(2, 0), &args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stdout);
        assert!(
            out.stderr.contains(
                "nothing recorded in the current branch at or before 2025-12-31T23:59:59Z"
            ) && out.stderr.contains("2026-01-01T10:00:00Z"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
    }
    // Desired existed, live did not yet: diff refuses, naming the live ref.
    let out = r.fleet(&day(2, 0), &["diff", "staging", "--at", &day(1, 11)]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("refs/fleet/live/staging"),
        "{}",
        out.stderr
    );
    let out = r.fleet(
        &day(2, 0),
        &["render", "--live", "staging", "--at", &day(1, 11)],
    );
    assert_eq!(out.code, 2, "{}", out.stdout);
    // Empty on purpose: every resource is a create.
    let v = r
        .ok(
            &day(2, 0),
            &[
                "diff",
                "staging",
                "--at",
                &day(1, 11),
                "--allow-empty-live",
                "--json",
            ],
        )
        .json();
    assert_eq!(v["totals"]["create"], 10, "{v}");
    assert!(v["snapshot"].is_null());
    // why answers for desired and says live had no snapshot then.
    let v = r
        .ok(
            &day(2, 0),
            &[
                "why",
                "app-01",
                "listen_port",
                "--at",
                &day(1, 11),
                "--json",
            ],
        )
        .json();
    assert_eq!(v["value"], 443);
    assert_eq!(v["live"]["state"], "no-snapshot");
    let out = r.fleet(
        &day(2, 0),
        &["diff", "staging", "--at", "garbage", "--json"],
    );
    assert_eq!(out.code, 2);
    let v = out.json();
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("neither a date nor a revision"));
    assert_eq!(r.refs(), before, "a refusal writes nothing");
}

/// The rule: the newest commit *reachable* whose commit date is at or before
/// WHEN, not only first parents: a feature branch's commit merged later
/// counts from its own date.
#[test]
fn at_counts_a_merged_branch_commit_from_its_own_date() {
    let r = Repo::new();
    r.git(&day(2, 0), &["checkout", "-q", "-b", "feature"]);
    let file = r.path.join("fleet.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replacen("      nginx_workers: 8", "      nginx_workers: 10", 1),
    )
    .unwrap();
    r.git(&day(2, 0), &["commit", "-q", "-am", "feature: 10 workers"]);
    r.git(&day(3, 0), &["checkout", "-q", "main"]);
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replacen("max_connections: 200", "max_connections: 300", 1),
    )
    .unwrap();
    r.git(
        &day(3, 0),
        &["commit", "-q", "-am", "main: more connections"],
    );
    r.git(&day(4, 0), &["merge", "-q", "--no-edit", "feature"]);
    let value = |when: &str| {
        r.ok(
            &day(5, 0),
            &["why", "app-02", "nginx_workers", "--at", when, "--json"],
        )
        .json()["value"]
            .clone()
    };
    assert_eq!(value(&day(1, 12)), 8);
    // Jan 2, 12:00: the newest reachable commit then is the feature commit.
    assert_eq!(value(&day(2, 12)), 10);
    assert_eq!(value(&day(4, 12)), 10);
    let _ = dir(&r.path);
}

/// `history kind/name`: desired edits that touched the resource (not every
/// edit of the file), the live snapshots that changed it, the proposal, the
/// decision, the apply, a rollback, each with its receipt, oldest first.
#[test]
fn history_shows_one_resources_timeline_with_receipts() {
    let r = Repo::new();
    r.ok(&day(1, 12), &["snapshot", "staging"]);
    let good = r.git(&day(1, 12), &["rev-parse", "refs/fleet/live/staging"]);
    // Another resource changes: not in this resource's history.
    let other = r.edit(
        &day(2, 8),
        "max_connections: 200",
        "max_connections: 300",
        "db: more connections",
    );
    let raise = r.edit(
        &day(2, 10),
        "      nginx_workers: 8",
        "      nginx_workers: 12",
        "app-02: more workers",
    );
    // Apply only the app-02 change, then roll it back.
    assert_eq!(r.fleet(&day(3, 9), &["reconcile", "staging"]).code, 1);
    let list = r.ok(&day(3, 9), &["proposals", "--json"]).json();
    let id = list["proposals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "app-02:nginx-public")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    r.ok(&day(3, 10), &["approve", &id, "--reason", "change window"]);
    r.ok(&day(3, 11), &["apply", &id]);
    let rb = r.fleet(
        &day(4, 9),
        &["rollback", "staging", "--to", &good, "--json"],
    );
    assert_eq!(rb.code, 1, "proposals to review: {}", rb.stderr);
    let rb = rb.json();
    let rb_id = rb["opened"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["resource"] == "assignments/app-02:nginx-public")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    r.ok(&day(4, 10), &["approve", &rb_id, "--reason", "incident"]);
    r.ok(&day(4, 11), &["apply", &rb_id]);

    let out = r.ok(
        &day(5, 0),
        &["history", "assignments/app-02:nginx-public", "--json"],
    );
    let v = out.json();
    assert_eq!(v["version"], 1);
    assert_eq!(v["resource"], "assignments/app-02:nginx-public");
    let events = v["events"].as_array().unwrap();
    let times: Vec<&str> = events.iter().map(|e| e["time"].as_str().unwrap()).collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "oldest first");
    let desired: Vec<&Value> = events.iter().filter(|e| e["kind"] == "desired").collect();
    assert_eq!(
        desired.len(),
        2,
        "create and the raise, not the db edit: {}",
        out.stdout
    );
    assert!(events.iter().all(|e| e["commit"] != other.as_str()));
    assert_eq!(desired[1]["commit"], raise.as_str());
    assert_eq!(desired[1]["fields"][0]["path"], "config.nginx_workers");
    assert_eq!(desired[1]["fields"][0]["before"], 8);
    assert_eq!(desired[1]["fields"][0]["after"], 12);
    let kinds = |k: &str| events.iter().filter(|e| e["kind"] == k).count();
    assert_eq!(kinds("proposal"), 1, "{}", out.stdout);
    assert_eq!(kinds("decision"), 2, "{}", out.stdout);
    assert_eq!(kinds("apply"), 1, "{}", out.stdout);
    assert_eq!(kinds("rollback"), 2, "proposed and applied: {}", out.stdout);
    // Live: recorded, raised by the apply, back by the rollback.
    assert_eq!(kinds("live"), 3, "{}", out.stdout);
    // Every apply has its receipts (intent and completion), in the log.
    let log = r.ok(&day(5, 0), &["receipts", "--json"]).json();
    let logged: Vec<&str> = log["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    let receipts: Vec<&Value> = events.iter().filter(|e| e["kind"] == "receipt").collect();
    assert_eq!(receipts.len(), 4, "two applies x (intent, completion)");
    for e in events.iter().filter(|e| !e["receipt"].is_null()) {
        assert!(logged.contains(&e["receipt"].as_str().unwrap()), "{e}");
    }
    let applied = events.iter().find(|e| e["kind"] == "apply").unwrap();
    assert!(!applied["receipt"].is_null(), "the apply names its receipt");
    assert_eq!(applied["proposal"], id.as_str());
    assert_eq!(applied["time"], day(3, 11));

    let human = r
        .ok(&day(5, 0), &["history", "assignments/app-02:nginx-public"])
        .stdout;
    assert!(human.contains("config.nginx_workers: 8 -> 12"), "{human}");
    assert!(human.contains("rollback applied"), "{human}");
    assert!(human.contains("reason: incident"), "{human}");
}

/// An unknown or misspelt resource is refused with the closest names.
#[test]
fn history_refuses_what_no_record_mentions() {
    let r = Repo::new();
    let out = r.fleet(&day(2, 0), &["history", "modules/ngnx-public"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("no record mentions modules/ngnx-public"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("did you mean nginx-public"),
        "{}",
        out.stderr
    );
    let out = r.fleet(&day(2, 0), &["history", "nginx-public", "--json"]);
    assert_eq!(out.code, 2);
    assert!(out.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not kind/name"));
}

/// Item 8: `diff --rendered` shows per node the rendered values that change
/// (app-02 overrides nginx_workers, so only app-01 changes), and a
/// provider_configs edit, which diff never proposes, as informational.
#[test]
fn diff_rendered_shows_values_per_node_and_provider_configs() {
    let r = Repo::new();
    r.ok(&day(1, 12), &["snapshot", "staging"]);
    let file = r.path.join("fleet.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    let text = text
        .replacen("nginx_workers: 4", "nginx_workers: 6", 1)
        .replacen("region: fsn1", "region: nbg1", 1);
    std::fs::write(&file, text).unwrap();

    let out = r.ok(&day(2, 0), &["diff", "staging", "--rendered"]);
    assert!(
        out.stdout.contains("  app-01\n    nginx_workers: 4 -> 6"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("  app-02\n"),
        "app-02 overrides it: {}",
        out.stdout
    );
    assert!(
        out.stdout.contains("provider_configs (informational"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("region: \"fsn1\" -> \"nbg1\""),
        "{}",
        out.stdout
    );

    let v = r
        .ok(&day(2, 0), &["diff", "staging", "--json", "--rendered"])
        .json();
    assert_eq!(v["rendered"][0]["node"], "app-01");
    assert_eq!(v["rendered"][0]["values"][0]["key"], "nginx_workers");
    assert_eq!(v["rendered"][0]["values"][0]["before"], 4);
    assert_eq!(v["rendered"][0]["values"][0]["after"], 6);
    assert_eq!(v["rendered"].as_array().unwrap().len(), 1);
    assert_eq!(v["provider_configs"][0]["name"], "hetzner");
    assert_eq!(v["provider_configs"][0]["change"], "update");
    assert_eq!(v["provider_configs"][0]["fields"][0]["path"], "region");
    // Only the nodes asked for.
    let v = r
        .ok(
            &day(2, 0),
            &["diff", "staging", "--json", "--rendered", "app-02"],
        )
        .json();
    assert_eq!(v["rendered"], serde_json::json!([]));
    // An unknown node is refused, naming the nodes.
    let out = r.fleet(&day(2, 0), &["diff", "staging", "--rendered", "app-9"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("unknown node 'app-9'"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("app-01"), "{}", out.stderr);
    assert!(out.stdout.is_empty());
}

/// The demo shows `why` after its apply: the module's line, its commit, and
/// the apply receipt that put the value live.
#[test]
fn demo_shows_where_a_value_came_from() {
    let env = TestEnv::new();
    let dir = env.root().join("sandbox");
    let out = env.fleet(env.root(), &["demo", "--dir", dir.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    for expected in [
        "app-01 nginx_workers = 6",
        "modules/nginx-public via app-01:nginx-public",
        "live on staging: the same value",
        "apply applied",
    ] {
        assert!(
            out.stdout.contains(expected),
            "demo lacks {expected:?}:\n{}",
            out.stdout
        );
    }
}
