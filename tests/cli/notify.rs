//! `[[notify]]`: events after apply, halt, resume, reject, rollback, fanout
//! with blocked peers, to a real local HTTP server (a TcpListener thread) and
//! a real exec script; a dead or slow sink never fails the action, and its
//! failure is recorded in <git dir>/fleet/notify.log.

use crate::common;
use common::{Run, TestEnv};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const FLEET: &str =
    "modules:\n  m1:\n    config: {workers: 4}\nassignments:\n  n1:m1: {enabled: true}\n";

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", run.stdout, run.stderr))
}

/// How the test server answers.
#[derive(Clone, Copy)]
enum Answer {
    Ok,
    /// Read the request, then say nothing for 5 s.
    Hang,
}

/// A real HTTP server on 127.0.0.1: each request's body arrives on the channel.
fn http_server(answer: Answer) -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        // Bounded: the test process ends it; at most a few requests arrive.
        for stream in listener.incoming().take(16) {
            let Ok(stream) = stream else { break };
            let tx = tx.clone();
            std::thread::spawn(move || serve(stream, answer, tx));
        }
    });
    (port, rx)
}

fn serve(mut stream: TcpStream, answer: Answer, tx: mpsc::Sender<String>) {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let (head_end, length) = loop {
        let n = stream.read(&mut chunk).unwrap_or(0);
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
            assert!(head.starts_with("post /hook "), "{head}");
            assert!(head.contains("content-type: application/json"), "{head}");
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse::<usize>().unwrap())
                .unwrap_or(0);
            break (end + 4, length);
        }
    };
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).unwrap_or(0);
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let _ = tx.send(String::from_utf8_lossy(&buf[head_end..]).into_owned());
    match answer {
        Answer::Ok => {
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
        Answer::Hang => std::thread::sleep(Duration::from_secs(5)),
    }
}

/// A port nothing listens on.
fn dead_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// An exec sink: a script appending its stdin (one event) as a line to `log`.
fn recorder(env: &TestEnv) -> (PathBuf, PathBuf) {
    let script = env.root().join("record-event");
    let log = env.root().join("events.jsonl");
    std::fs::write(&script, "#!/bin/sh\ncat >> \"$1\"\necho >> \"$1\"\n").unwrap();
    std::process::Command::new("chmod")
        .args(["+x", script.to_str().unwrap()])
        .status()
        .unwrap();
    (script, log)
}

fn events(log: &Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A repository whose staging live state lags one edit, with one proposal
/// approved and ready to apply; returns the proposal id.
fn ready_to_apply(env: &TestEnv, toml: &str) -> (PathBuf, String) {
    let repo = env.repo("work");
    std::fs::write(repo.join("fleet.yaml"), FLEET).unwrap();
    std::fs::write(repo.join("fleet.toml"), toml).unwrap();
    env.git(&repo, &["add", "."]);
    env.git(&repo, &["commit", "-q", "-m", "fleet"]);
    assert_eq!(env.fleet(&repo, &["snapshot", "staging"]).code, 0);
    std::fs::write(repo.join("fleet.yaml"), FLEET.replace("4", "6")).unwrap();
    env.git(&repo, &["commit", "-q", "-am", "6 workers"]);
    let r = env.fleet(&repo, &["reconcile", "staging"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let props = json(&env.fleet(&repo, &["proposals", "--json"]));
    let id = props["proposals"][0]["id"].as_str().unwrap().to_string();
    let approved = env.fleet(&repo, &["approve", &id]);
    assert_eq!(approved.code, 0, "{}", approved.stderr);
    (repo, id)
}

fn notify_log(repo: &Path) -> Vec<Value> {
    events(&repo.join(".git/fleet/notify.log"))
}

#[test]
fn an_apply_posts_its_event_to_a_webhook_and_an_exec_gets_it_on_stdin() {
    let env = TestEnv::new();
    let (port, bodies) = http_server(Answer::Ok);
    let (script, log) = recorder(&env);
    let toml = format!(
        "[targets.staging]\n\n[[notify]]\non = [\"apply\"]\nwebhook = \"http://127.0.0.1:{port}/hook\"\n\n[[notify]]\non = [\"apply\", \"halt\", \"resume\"]\nexec = \"{} {}\"\ntimeout = 5\n",
        script.display(),
        log.display()
    );
    let (repo, id) = ready_to_apply(&env, &toml);
    let applied = env.fleet(&repo, &["apply", &id]);
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    assert!(!applied.stderr.contains("warning"), "{}", applied.stderr);

    let body = bodies.recv_timeout(Duration::from_secs(10)).unwrap();
    let event: Value = serde_json::from_str(&body).unwrap();
    let shown = json(&env.fleet(&repo, &["show", &id, "--json"]));
    let receipt = shown["proposal"]["transitions"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()["receipt"]
        .clone();
    assert!(receipt.is_string(), "{shown}");
    assert_eq!(event["version"], 1);
    assert_eq!(event["event"], "apply");
    assert_eq!(event["target"], "staging");
    assert_eq!(event["proposal"], id.as_str());
    assert_eq!(event["receipt"], receipt);
    assert_eq!(event["actor"], "Test Committer <committer@example.com>");
    assert!(event["at"].as_str().unwrap().ends_with('Z'), "{event}");
    let live = env.git(&repo, &["rev-parse", "refs/fleet/live/staging"]);
    assert_eq!(event["snapshot"], live.trim());
    // The exec sink got the same event on stdin.
    assert_eq!(events(&log), vec![event]);

    // halt and resume go to the exec sink only (the webhook wants apply).
    assert_eq!(
        env.fleet(&repo, &["halt", "--reason", "incident 7"]).code,
        0
    );
    assert_eq!(env.fleet(&repo, &["resume"]).code, 0);
    let got = events(&log);
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[1]["event"], "halt");
    assert_eq!(got[1]["reason"], "incident 7");
    assert_eq!(got[2]["event"], "resume");
    let logged = json(&env.fleet(&repo, &["receipts", "log", "--json"]));
    let halt_receipt = logged["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r.to_string().contains("\"halt\""))
        .map(|r| r.to_string())
        .unwrap();
    assert!(
        halt_receipt.contains(got[1]["receipt"].as_str().unwrap()),
        "the halt event names its receipt: {halt_receipt}"
    );
    assert!(bodies.try_recv().is_err(), "no halt to the webhook");
    assert!(notify_log(&repo).is_empty());
}

#[test]
fn a_dead_endpoint_or_failing_command_never_fails_the_apply_and_is_recorded() {
    let env = TestEnv::new();
    let port = dead_port();
    let toml = format!(
        "[targets.staging]\n\n[[notify]]\non = [\"*\"]\nwebhook = \"http://127.0.0.1:{port}/hook\"\ntimeout = \"2s\"\n\n[[notify]]\non = [\"apply\"]\nexec = \"sh -c 'echo no pager here >&2; exit 3'\"\n"
    );
    let (repo, id) = ready_to_apply(&env, &toml);
    let before = env.git(&repo, &["rev-parse", "refs/fleet/live/staging"]);
    let applied = env.fleet(&repo, &["apply", &id, "--json"]);
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    assert_eq!(json(&applied)["outcomes"][0]["applied"], true);
    assert_ne!(
        env.git(&repo, &["rev-parse", "refs/fleet/live/staging"]),
        before,
        "live moved"
    );
    assert!(
        applied.stderr.contains(&format!(
            "warning: notify webhook http://127.0.0.1:{port}/hook"
        )),
        "{}",
        applied.stderr
    );
    let recorded = notify_log(&repo);
    assert_eq!(recorded.len(), 2, "{recorded:?}");
    let webhook = recorded
        .iter()
        .find(|l| l["sink"].as_str().unwrap().starts_with("webhook"))
        .unwrap();
    assert_eq!(webhook["event"], "apply");
    assert_eq!(webhook["proposal"], id.as_str());
    assert!(
        webhook["error"].as_str().unwrap().contains("after 3 tries"),
        "{webhook}"
    );
    let exec = recorded
        .iter()
        .find(|l| l["sink"].as_str().unwrap().starts_with("exec"))
        .unwrap();
    assert_eq!(exec["error"], "exited 3: no pager here", "{exec}");
}

#[test]
fn a_sink_that_hangs_is_stopped_at_its_timeout() {
    let env = TestEnv::new();
    let (port, bodies) = http_server(Answer::Hang);
    let toml = format!(
        "[targets.staging]\n\n[[notify]]\non = [\"apply\"]\nwebhook = \"http://127.0.0.1:{port}/hook\"\ntimeout = \"1s\"\n\n[[notify]]\non = [\"apply\"]\nexec = \"sleep 30\"\ntimeout = 1\n"
    );
    let (repo, id) = ready_to_apply(&env, &toml);
    let start = Instant::now();
    let applied = env.fleet(&repo, &["apply", &id]);
    let took = start.elapsed();
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    // Both sinks run at once: 1 s for the command; 3 tries of 1 s plus 1.5 s
    // of backoff for the webhook.
    assert!(took < Duration::from_secs(12), "took {took:?}");
    assert!(bodies.recv_timeout(Duration::from_secs(1)).is_ok());
    let recorded = notify_log(&repo);
    let errors: Vec<&str> = recorded
        .iter()
        .map(|l| l["error"].as_str().unwrap())
        .collect();
    assert!(
        errors.contains(&"timed out after 1s, stopped"),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|e| e.contains("after 3 tries")),
        "{errors:?}"
    );
}

#[test]
fn reject_rollback_and_blocked_fanout_send_their_events() {
    let env = TestEnv::new();
    let (script, log) = recorder(&env);
    let toml = format!(
        "[targets.staging]\n\n[peers.gone]\nlocation = \"{}\"\n\n[[notify]]\non = [\"reject\", \"rollback\", \"fanout-blocked\"]\nexec = \"{} {}\"\n",
        env.root().join("no-such-checkout").display(),
        script.display(),
        log.display()
    );
    let (repo, id) = ready_to_apply(&env, &toml);
    let first = env.git(&repo, &["rev-parse", "refs/fleet/live/staging"]);
    assert_eq!(env.fleet(&repo, &["apply", &id]).code, 0);
    // Roll back to the first snapshot: one proposal opened, then rejected.
    let rb = json(&env.fleet(
        &repo,
        &["rollback", "staging", "--to", first.trim(), "--json"],
    ));
    let opened = rb["opened"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        env.fleet(&repo, &["reject", &opened, "--reason", "not now"])
            .code,
        0
    );
    let fanout = env.fleet(&repo, &["fanout"]);
    assert_eq!(fanout.code, 1, "blocked: {}", fanout.stderr);

    let got = events(&log);
    let kinds: Vec<&str> = got.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["rollback", "reject", "fanout-blocked"], "{got:?}");
    assert_eq!(got[0]["target"], "staging");
    assert_eq!(got[0]["to"], first.trim());
    assert_eq!(got[0]["opened"][0], opened.as_str());
    assert_eq!(got[1]["proposal"], opened.as_str());
    assert_eq!(got[1]["reason"], "not now");
    assert_eq!(got[2]["blocked"][0]["peer"], "gone");
    assert_eq!(got[2]["blocked"][0]["outcome"], "missing");
}

#[test]
fn malformed_notify_tables_are_refused_naming_the_line() {
    let env = TestEnv::new();
    let repo = env.repo("work");
    std::fs::write(repo.join("fleet.yaml"), FLEET).unwrap();
    for (toml, line, says) in [
        (
            "[targets.staging]\n\n[[notify]]\non = [\"aply\"]\nexec = \"true\"\n",
            3,
            "unknown event 'aply'",
        ),
        (
            "[[notify]]\non = [\"apply\"]\nexec = \"true\"\nwebhook = \"https://example.com/h\"\n",
            1,
            "exactly one of exec",
        ),
        (
            "[[notify]]\non = [\"apply\"]\nwebhook = \"ftp://example.com/h\"\n",
            1,
            "http:// or https://",
        ),
        (
            "[[notify]]\non = [\"apply\"]\nexec = \"true\"\ntimeout = \"soon\"\n",
            1,
            "timeout = 'soon'",
        ),
    ] {
        std::fs::write(repo.join("fleet.toml"), toml).unwrap();
        let before = env.refs(&repo);
        let r = env.fleet(&repo, &["snapshot", "staging", "--json"]);
        assert_eq!(r.code, 2, "{toml}: {}", r.stderr);
        let e = &json(&r)["error"];
        assert!(e["message"].as_str().unwrap().contains(says), "{e}");
        assert_eq!(e["location"]["file"], "fleet.toml", "{e}");
        assert_eq!(e["location"]["line"], line, "{e}");
        assert_eq!(env.refs(&repo), before, "nothing written");
    }
}

#[test]
fn a_sync_that_merges_a_conflict_notifies_it() {
    let env = TestEnv::new();
    let (port, bodies) = http_server(Answer::Ok);
    let toml = format!(
        "[targets.staging]\n\n[[notify]]\non = [\"conflict\"]\nwebhook = \"http://127.0.0.1:{port}/hook\"\n"
    );
    let (origin, seed) = env.seeded_origin(&[("fleet.yaml", FLEET), ("fleet.toml", &toml)]);
    assert_eq!(env.fleet(&seed, &["snapshot", "staging"]).code, 0);
    assert_eq!(env.fleet(&seed, &["sync"]).code, 0);
    let a = env.clone_of(&origin, "a");
    let b = env.clone_of(&origin, "b");
    std::fs::write(a.join("fleet.yaml"), FLEET.replace("4", "5")).unwrap();
    env.git(&a, &["commit", "-q", "-am", "workers 5"]);
    env.git(&a, &["push", "-q", "origin", "main"]);
    assert_eq!(env.fleet(&a, &["sync"]).code, 0);
    assert_eq!(env.fleet(&a, &["reconcile", "staging"]).code, 1);
    assert_eq!(env.fleet(&a, &["sync"]).code, 0);
    env.git(&b, &["pull", "-q", "origin", "main"]);
    assert_eq!(env.fleet(&b, &["sync"]).code, 0);
    let props = json(&env.fleet(&a, &["proposals", "--json"]));
    let id = props["proposals"][0]["id"].as_str().unwrap().to_string();
    // A applies, B rejects, unaware of each other; B's sync merges both.
    assert_eq!(env.fleet(&a, &["approve", &id]).code, 0);
    assert_eq!(env.fleet(&a, &["apply", &id]).code, 0);
    assert_eq!(env.fleet(&b, &["reject", &id]).code, 0);
    assert_eq!(env.fleet(&a, &["sync"]).code, 0);
    assert!(bodies.try_recv().is_err(), "no conflict yet");
    let out = env.fleet(&b, &["sync", "--json"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let event: Value =
        serde_json::from_str(&bodies.recv_timeout(Duration::from_secs(10)).unwrap()).unwrap();
    assert_eq!(event["event"], "conflict");
    assert_eq!(event["remote"], "origin");
    assert_eq!(event["conflicts"], json(&out)["sync"]["conflicts"]);
    assert!(
        event["conflicts"][0].as_str().unwrap().contains(&id[..12]),
        "{event}"
    );
}
