//! The human output of the main commands on one fixed small fleet, as
//! reviewed snapshots (`snapshots/cli__snapshot_output__*.snap`): exit code,
//! stdout and stderr of each step, normalised (`TestEnv::normalise`: ids,
//! times, temp paths and pids become placeholders; no line is dropped).
//! Missing and changed snapshots fail (see `snapshot_help`); write them on
//! purpose with `INSTA_UPDATE=always cargo test --test cli -- snapshot_`.

use crate::common::{Run, TestEnv};
use std::path::{Path, PathBuf};

const FLEET: &str = include_str!("../../examples/fleet.yaml");

/// A bare origin holding the example fleet, a clone `work` with `init` run,
/// a staging snapshot of that fleet, then one pushed commit changing three
/// resources (an update, a create, a destroy).
fn small_fleet(env: &TestEnv, steps: &mut Steps) -> PathBuf {
    let (origin, _seed) = env.seeded_origin(&[("fleet.yaml", FLEET)]);
    let work = env.clone_of(&origin, "work");
    steps.run(env, &work, "init", &["init"]);
    env.git(&work, &["add", "fleet.toml"]);
    env.git(&work, &["commit", "-q", "-m", "fleet.toml"]);
    steps.run(env, &work, "snapshot", &["snapshot", "staging"]);
    let text = FLEET
        .replace("nginx_workers: 4", "nginx_workers: 6")
        .replace(
            "  postgres:\n    name: postgres\n    priority: 50\n    variety: config\n    config:\n      max_connections: 200\n",
            "",
        )
        .replace("  db-01:postgres: {enabled: true}\n", "")
        .replace(
            "modules:\n",
            "modules:\n  redis:\n    config:\n      maxmemory: 64mb\n",
        );
    assert_ne!(text, FLEET);
    std::fs::write(work.join("fleet.yaml"), text).unwrap();
    env.git(
        &work,
        &["commit", "-q", "-am", "six workers, redis, no postgres"],
    );
    env.git(&work, &["push", "-q", "origin", "main"]);
    work
}

/// The steps' transcripts, each checked against its snapshot; every
/// mismatch is collected so one run shows (or writes) them all.
#[derive(Default)]
struct Steps {
    failed: Vec<String>,
}

impl Steps {
    fn check(&mut self, env: &TestEnv, name: &str, args: &[&str], run: &Run) -> String {
        let text = format!(
            "$ git fleet {}\n{}",
            args.join(" "),
            env.normalise(&run.transcript())
        );
        let result = std::panic::catch_unwind(|| insta::assert_snapshot!(name, text));
        if result.is_err() {
            self.failed.push(name.to_string());
        }
        run.stdout.clone()
    }

    fn run(&mut self, env: &TestEnv, cwd: &Path, name: &str, args: &[&str]) -> String {
        let run = env.fleet(cwd, args);
        self.check(env, name, args, &run)
    }

    fn finish(self) {
        assert!(
            self.failed.is_empty(),
            "output snapshots differ or are missing for {:?} (review; write with \
             INSTA_UPDATE=always)",
            self.failed
        );
    }
}

#[test]
fn human_output_of_the_main_commands_matches_its_snapshots() {
    let env = TestEnv::new();
    let mut steps = Steps::default();
    let work = small_fleet(&env, &mut steps);

    steps.run(&env, &work, "diff", &["diff"]);
    steps.run(&env, &work, "render", &["render", "app-01"]);
    steps.run(&env, &work, "status-before-reconcile", &["status"]);
    steps.run(&env, &work, "reconcile", &["reconcile", "staging"]);
    steps.run(&env, &work, "proposals", &["proposals"]);

    let listed = env.fleet(&work, &["proposals", "--json"]);
    let listed: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    let id_of = |name: &str| -> String {
        let p = listed["proposals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no proposal for {name}: {listed}"));
        p["id"].as_str().unwrap()[..12].to_string()
    };
    let nginx = id_of("nginx-public");
    steps.run(&env, &work, "show", &["show", &nginx]);
    steps.run(
        &env,
        &work,
        "approve",
        &["approve", &nginx, "--reason", "change window"],
    );
    steps.run(
        &env,
        &work,
        "reject",
        &["reject", &id_of("redis"), "--reason", "not yet"],
    );
    steps.run(&env, &work, "apply", &["apply", &nginx]);
    steps.run(&env, &work, "receipts", &["receipts"]);
    steps.run(&env, &work, "receipts-show", &["receipts", "show", "HEAD"]);
    steps.run(&env, &work, "receipts-verify", &["receipts", "verify"]);
    steps.run(&env, &work, "proof", &["proof"]);
    steps.run(&env, &work, "status", &["status"]);
    steps.run(&env, &work, "runs", &["runs", "staging"]);

    // A policy refusal: this committer may only touch postgres, and edits nginx.
    let toml = std::fs::read_to_string(work.join("fleet.toml")).unwrap();
    std::fs::write(
        work.join("fleet.toml"),
        format!(
            "{toml}\n[[policy]]\nname = \"db-team\"\nactor = \"*@example.com\"\nallow = [\"modules/postgres\"]\n"
        ),
    )
    .unwrap();
    let yaml = std::fs::read_to_string(work.join("fleet.yaml")).unwrap();
    std::fs::write(
        work.join("fleet.yaml"),
        yaml.replace("nginx_workers: 6", "nginx_workers: 8"),
    )
    .unwrap();
    steps.run(&env, &work, "policy-refusal", &["diff", "--check"]);
    std::fs::write(work.join("fleet.yaml"), &yaml).unwrap();
    std::fs::write(work.join("fleet.toml"), &toml).unwrap();

    // Parse errors: a YAML one and a fleet.toml one, each with its location.
    std::fs::write(
        work.join("bad.yaml"),
        "modules:\n  m1:\n    priority: 50\n    config: {workers: \"4}\n",
    )
    .unwrap();
    steps.run(
        &env,
        &work,
        "parse-error-yaml",
        &["diff", "staging", "--file", "bad.yaml"],
    );
    std::fs::write(
        work.join("bad.yaml"),
        "modules:\n  m1:\n    priority: 200\n",
    )
    .unwrap();
    steps.run(
        &env,
        &work,
        "invalid-yaml",
        &["diff", "staging", "--file", "bad.yaml"],
    );
    std::fs::write(work.join("fleet.toml"), "[targets.staging]\nbogus = 1\n").unwrap();
    steps.run(&env, &work, "parse-error-toml", &["diff"]);
    std::fs::write(work.join("fleet.toml"), &toml).unwrap();

    steps.finish();
}

#[test]
fn normalise_replaces_what_varies_and_keeps_every_line() {
    let env = TestEnv::new();
    let root = env.root().display();
    let text = format!(
        "at {root}/work\n\
         2026-12-02 01:27:43 UTC [[2026-01-02T03:04:05+00:00]] 2026-12-02 01:27:43 +0000\n\
         ba923ff39950 1796174863-3c99d04acc74 1256ca508bb02876915cad6ecbe8e4ba36a3d09c 123456789012\n\
         Fleet-Owner: vm-7 pid=24526 start=1028543\n\
         workers 1048576 deadbeef 2026 nginx-01 abc1234x\n"
    );
    assert_eq!(
        env.normalise(&text),
        "at [ROOT]/work\n\
         [TIME] [[[TIME]]] [TIME]\n\
         [ID] [N]-[ID] [ID] [ID]\n\
         Fleet-Owner: [HOST] pid=[PID] start=[N]\n\
         workers 1048576 deadbeef 2026 nginx-01 abc1234x\n"
    );
}
