//! Receipts: signed hash chain in refs/notes/fleet/receipts, through the real
//! binary, real repositories and real ssh-keygen keys. Every tampering case
//! rewrites the notes ref with plain git commands, as an attacker would.

use crate::common;

use common::{bin, TestEnv};
use serde_json::Value;
use std::path::{Path, PathBuf};

const ACTOR_EMAIL: &str = "committer@example.com";

struct Fx {
    env: TestEnv,
    repo: PathBuf,
}

impl Fx {
    /// A repository with two commits and no signing configured.
    fn new() -> Fx {
        let env = TestEnv::new();
        let repo = env.repo("work");
        std::fs::write(repo.join("fleet.yaml"), "modules: {}\n").unwrap();
        env.git(&repo, &["add", "fleet.yaml"]);
        env.git(&repo, &["commit", "-q", "-m", "second"]);
        Fx { env, repo }
    }

    /// ... signing with a fresh ed25519 key that allowed_signers lists for the committer.
    fn signed() -> Fx {
        let fx = Fx::new();
        let key = fx.keygen("alice");
        fx.allow(&[(ACTOR_EMAIL, &key)]);
        fx.sign_with(&key);
        fx
    }

    fn keys(&self) -> PathBuf {
        let dir = self.env.root().join("keys");
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A new ed25519 key pair; returns the private key path.
    fn keygen(&self, name: &str) -> PathBuf {
        let path = self.keys().join(name);
        let out = self
            .env
            .command("ssh-keygen", self.env.root())
            .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        path
    }

    fn public(&self, key: &Path) -> String {
        std::fs::read_to_string(key.with_extension("pub"))
            .unwrap()
            .trim()
            .to_string()
    }

    /// Write allowed_signers (principal, key) and point git at it.
    fn allow(&self, entries: &[(&str, &Path)]) {
        let file = self.keys().join("allowed_signers");
        let text: String = entries
            .iter()
            .map(|(who, key)| format!("{who} namespaces=\"git-fleet\" {}\n", self.public(key)))
            .collect();
        std::fs::write(&file, text).unwrap();
        self.git(&[
            "config",
            "gpg.ssh.allowedSignersFile",
            file.to_str().unwrap(),
        ]);
    }

    fn sign_with(&self, key: &Path) {
        self.git(&["config", "gpg.format", "ssh"]);
        self.git(&["config", "user.signingKey", key.to_str().unwrap()]);
    }

    fn git(&self, args: &[&str]) -> String {
        self.env.git(&self.repo, args)
    }

    fn fleet(&self, args: &[&str]) -> common::Run {
        self.env.fleet(&self.repo, args)
    }

    /// Append a receipt through the plumbing command; returns its id.
    fn append(&self, action: &str, commit: &str, more: &[&str]) -> String {
        let mut args = vec!["receipts", "append", "--action", action, "--commit", commit];
        args.extend_from_slice(more);
        let r = self.fleet(&args);
        assert_eq!(r.code, 0, "append failed: {}", r.stderr);
        let id = r.stdout.trim().to_string();
        assert_eq!(id.len(), 64, "{}", r.stdout);
        id
    }

    /// Five receipts on two commits, like a day of applies and a halt.
    fn history(&self) -> Vec<String> {
        vec![
            self.append(
                "apply",
                "HEAD~1",
                &[
                    "--target",
                    "staging",
                    "--proposal",
                    "p1",
                    "--change",
                    "create module/m1",
                    "--before",
                    "none",
                    "--after",
                    "abc",
                ],
            ),
            self.append("halt", "HEAD", &["--trailer", "Reason=incident 4711"]),
            self.append(
                "apply",
                "HEAD",
                &[
                    "--target",
                    "prod",
                    "--change",
                    "update module/m1",
                    "--trailer",
                    "Fleet-Despite-Halt=yes",
                ],
            ),
            self.append("resume", "HEAD", &[]),
            self.append(
                "auto-apply",
                "HEAD~1",
                &["--target", "staging", "--policy", "ops may change module/*"],
            ),
        ]
    }

    fn verify(&self) -> (i32, Value, String) {
        let r = self.fleet(&["receipts", "verify", "--json"]);
        let v: Value = serde_json::from_str(&r.stdout)
            .unwrap_or_else(|e| panic!("verify --json: {e}: {}\n{}", r.stdout, r.stderr));
        let human = self.fleet(&["receipts", "verify"]);
        assert_eq!(human.code, r.code, "{}", human.stderr);
        (r.code, v, human.stdout)
    }

    /// Assert verify fails with a problem of `kind` naming receipt `id`
    /// (in the JSON and, by id and commit, in the human output).
    fn assert_fails(&self, kind: &str, id: &str) -> Value {
        let (code, v, human) = self.verify();
        assert_eq!(code, 1, "verify passed:\n{human}");
        assert_eq!(v["ok"], false);
        let problems = v["problems"].as_array().unwrap();
        let hit = problems
            .iter()
            .find(|p| p["kind"] == kind && p["receipt"] == id)
            .unwrap_or_else(|| panic!("no {kind} problem naming {id}: {v:#}"));
        assert!(
            human.contains(&id[..12]),
            "human output does not name {id}:\n{human}"
        );
        if let Some(commit) = hit["commit"].as_str() {
            assert!(
                human.contains(&format!("receipt {} (commit {})", &id[..12], &commit[..12])),
                "human output does not name the receipt and its commit:\n{human}"
            );
        }
        v
    }

    /// The log's commits, oldest first.
    fn log_commits(&self) -> Vec<String> {
        self.git(&[
            "rev-list",
            "--reverse",
            "--first-parent",
            "refs/notes/fleet/receipts",
        ])
        .lines()
        .map(str::to_string)
        .collect()
    }

    /// Rebuild the receipt log from `commits` (oldest first) with plain git:
    /// same trees and messages, new parents. Returns the new tip.
    fn rewrite_log(&self, commits: &[String], tree_of_tip: Option<&str>) -> String {
        let mut parent: Option<String> = None;
        for (i, c) in commits.iter().enumerate() {
            let msg_file = self.env.root().join("msg");
            std::fs::write(&msg_file, self.git(&["log", "-1", "--format=%B", c])).unwrap();
            let tree = match tree_of_tip {
                Some(t) if i + 1 == commits.len() => t.to_string(),
                _ => self
                    .git(&["rev-parse", &format!("{c}^{{tree}}")])
                    .trim()
                    .to_string(),
            };
            let mut args = vec!["commit-tree".to_string(), tree];
            if let Some(p) = &parent {
                args.push("-p".into());
                args.push(p.clone());
            }
            args.push("-F".into());
            args.push(msg_file.to_str().unwrap().into());
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            parent = Some(self.git(&args).trim().to_string());
        }
        let tip = parent.unwrap();
        self.git(&["update-ref", "refs/notes/fleet/receipts", &tip]);
        tip
    }

    fn note(&self, commit: &str) -> String {
        self.git(&["notes", "--ref=fleet/receipts", "show", commit])
    }

    /// Replace the note on `commit` with `text`, as `git notes add -f` does.
    fn rewrite_note(&self, commit: &str, text: &str) {
        let file = self.env.root().join("note");
        std::fs::write(&file, text).unwrap();
        self.git(&[
            "notes",
            "--ref=fleet/receipts",
            "add",
            "-f",
            "-F",
            file.to_str().unwrap(),
            commit,
        ]);
    }
}

fn json_of(r: &common::Run) -> Value {
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", r.stdout, r.stderr))
}

#[test]
fn honest_signed_history_verifies() {
    let fx = Fx::signed();
    let ids = fx.history();

    let (code, v, human) = fx.verify();
    assert_eq!(code, 0, "{human}\n{v:#}");
    assert_eq!(v["ok"], true);
    assert_eq!(v["version"], 1);
    let checks = v["receipts"].as_array().unwrap();
    assert_eq!(checks.len(), 5);
    for c in checks {
        assert_eq!(c["signature"]["status"], "good", "{c:#}");
        assert_eq!(c["signature"]["principal"], ACTOR_EMAIL);
        assert_eq!(c["ok"], true);
    }
    assert!(
        human.contains("ok: 5 receipts verified (5 signed; allowed signers"),
        "{human}"
    );

    // The log: newest first, one commit per receipt, chained, signed.
    let log = json_of(&fx.fleet(&["receipts", "log", "--json"]));
    let listed: Vec<&str> = log["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(listed, newest_first);
    let first = &log["receipts"][4];
    assert_eq!(first["prev"], "none");
    assert_eq!(first["target"], "staging");
    assert_eq!(first["change"], "create module/m1");
    assert_eq!(first["signed"], true);
    assert_eq!(log["receipts"][0]["prev"], ids[3].as_str());
    assert_eq!(log["receipts"][0]["policy"], "ops may change module/*");
    assert_eq!(fx.log_commits().len(), 5);

    // Human-readable first: the note is the trailer blocks, the log commit's
    // message is the same receipt, and git's own tools read both.
    let head = fx.git(&["rev-parse", "HEAD"]).trim().to_string();
    let note = fx.note("HEAD");
    assert_eq!(note.matches("Fleet-Receipt: ").count(), 3, "{note}");
    assert!(note.contains("Fleet-Despite-Halt: yes"), "{note}");
    assert!(note.contains("Fleet-Reason: incident 4711"), "{note}");
    assert!(note.contains(&format!("Fleet-Commit: {head}")), "{note}");
    assert!(note.contains(&format!("Fleet-Actor: Test Committer <{ACTOR_EMAIL}>")));
    assert!(note.contains("Fleet-Signature: -----BEGIN SSH SIGNATURE-----\n U1NIU0lH"));
    let tip_message = fx.git(&["log", "-1", "--format=%B", "refs/notes/fleet/receipts"]);
    assert!(tip_message.starts_with("fleet receipt: auto-apply staging\n\nFleet-Receipt: "));
    assert!(tip_message.contains(&format!("Fleet-Receipt: {}", ids[4])));
    assert!(fx
        .note("HEAD~1")
        .contains(tip_message.split_once("\n\n").unwrap().1.trim()));

    // show: the receipts on one commit, each with its log commit.
    let show = json_of(&fx.fleet(&["receipts", "show", "HEAD~1", "--json"]));
    let on_parent: Vec<&str> = show["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(on_parent, vec![ids[0].as_str(), ids[4].as_str()]);
    assert!(show["receipts"][0]["commit"].is_string());
    let shown = fx.fleet(&["receipts", "show", "HEAD"]);
    assert_eq!(shown.code, 0);
    assert!(
        shown.stdout.contains(&format!("receipt {}", ids[1])),
        "{}",
        shown.stdout
    );
    let human_log = fx.fleet(&["receipts"]);
    assert_eq!(human_log.code, 0);
    assert_eq!(human_log.stdout.lines().count(), 5, "{}", human_log.stdout);
    assert!(human_log
        .stdout
        .lines()
        .next()
        .unwrap()
        .starts_with(&ids[4][..12]));
    assert!(human_log.stdout.contains("signed"));
}

#[test]
fn a_byte_edited_in_a_note_fails_naming_the_receipt() {
    let fx = Fx::signed();
    let ids = fx.history();
    assert_eq!(fx.verify().0, 0);
    let note = fx.note("HEAD");
    let edited = note.replacen("Fleet-Target: prod", "Fleet-Target: prud", 1);
    assert_ne!(note, edited);
    fx.rewrite_note("HEAD", &edited);
    let v = fx.assert_fails("note_mismatch", &ids[2]);
    // The commit `git notes` wrote is named too.
    assert!(
        v["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["kind"] == "not_a_receipt"),
        "{v:#}"
    );
    // Only that receipt is flagged among the receipts.
    let bad: Vec<&str> = v["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["ok"] == false)
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(bad, vec![ids[2].as_str()]);
}

#[test]
fn an_edit_to_a_receipt_id_in_a_note_and_an_edit_in_the_log_are_caught() {
    let fx = Fx::signed();
    let ids = fx.history();
    // Change one hex digit of the id in the note on HEAD~1.
    let note = fx.note("HEAD~1");
    let forged_id = format!(
        "{}{}",
        &ids[0][..63],
        if ids[0].ends_with('0') { '1' } else { '0' }
    );
    fx.rewrite_note("HEAD~1", &note.replacen(&ids[0], &forged_id, 1));
    fx.assert_fails("note_missing", &ids[0]);
    fx.assert_fails("note_unknown", &forged_id);

    // Edit the log itself: the newest receipt's message, one byte.
    let fx = Fx::signed();
    let ids = fx.history();
    let commits = fx.log_commits();
    let msg = fx.git(&["log", "-1", "--format=%B", commits.last().unwrap()]);
    let file = fx.env.root().join("edited");
    std::fs::write(
        &file,
        msg.replacen("Fleet-Target: staging", "Fleet-Target: stagin9", 1),
    )
    .unwrap();
    let tree = fx.git(&["rev-parse", "refs/notes/fleet/receipts^{tree}"]);
    let parent = &commits[commits.len() - 2];
    let forged = fx.git(&[
        "commit-tree",
        tree.trim(),
        "-p",
        parent,
        "-F",
        file.to_str().unwrap(),
    ]);
    fx.git(&["update-ref", "refs/notes/fleet/receipts", forged.trim()]);
    fx.assert_fails("id_mismatch", &ids[4]);
    fx.assert_fails("bad_signature", &ids[4]);
    fx.assert_fails("note_mismatch", &ids[4]);
}

#[test]
fn a_receipt_removed_from_the_log_fails_naming_it() {
    let fx = Fx::signed();
    let ids = fx.history();
    let commits = fx.log_commits();
    // Drop the third receipt (index 2) from the history, keep everything else.
    let kept: Vec<String> = commits
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 2)
        .map(|(_, c)| c.clone())
        .collect();
    fx.rewrite_log(&kept, None);
    assert_eq!(fx.log_commits().len(), 4);
    // The next receipt's link names the dropped one...
    let v = fx.assert_fails("chain_broken", &ids[3]);
    let broken = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["kind"] == "chain_broken")
        .unwrap();
    assert!(
        broken["message"].as_str().unwrap().contains(&ids[2][..12]),
        "{broken:#}"
    );
    // ...and its block is still in the notes, unaccounted for.
    fx.assert_fails("note_unknown", &ids[2]);

    // Dropping it from the notes as well still breaks the chain.
    let note = fx.note("HEAD");
    let without: Vec<&str> = note
        .split("\n\n")
        .filter(|b| !b.contains(&format!("Fleet-Receipt: {}", ids[2])))
        .collect();
    fx.rewrite_note("HEAD", &without.join("\n\n"));
    fx.assert_fails("chain_broken", &ids[3]);

    // Dropping the first receipt is named as removed from the start.
    let fx = Fx::signed();
    let ids = fx.history();
    let commits = fx.log_commits();
    fx.rewrite_log(&commits[1..], None);
    let v = fx.assert_fails("chain_broken", &ids[1]);
    assert!(v.to_string().contains("removed from the start"), "{v:#}");
}

#[test]
fn reordered_receipts_fail_naming_them() {
    let fx = Fx::signed();
    let ids = fx.history();
    let mut commits = fx.log_commits();
    commits.swap(1, 2);
    // Keep the notes tree of the real tip so only the order differs.
    let tip_tree = fx.git(&["rev-parse", "refs/notes/fleet/receipts^{tree}"]);
    fx.rewrite_log(&commits, Some(tip_tree.trim()));
    let v = fx.assert_fails("chain_broken", &ids[2]);
    assert!(v.to_string().contains("reordered"), "{v:#}");
    fx.assert_fails("chain_broken", &ids[1]);
    fx.assert_fails("chain_broken", &ids[3]);
    // The notes themselves are intact: no note problem.
    assert!(
        !v["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["kind"].as_str().unwrap().starts_with("note_")),
        "{v:#}"
    );
}

#[test]
fn a_signature_from_a_key_not_in_allowed_signers_fails_naming_the_receipt() {
    let fx = Fx::signed();
    let ids = fx.history();
    let mallory = fx.keygen("mallory");
    fx.sign_with(&mallory);
    let forged = fx.append(
        "apply",
        "HEAD",
        &["--target", "prod", "--change", "destroy module/m1"],
    );
    let v = fx.assert_fails("untrusted_key", &forged);
    // The honest receipts still check out.
    for r in v["receipts"].as_array().unwrap() {
        if r["id"] != forged.as_str() {
            assert_eq!(r["ok"], true, "{r:#}");
            assert_eq!(r["signature"]["status"], "good");
        }
    }
    assert!(ids
        .iter()
        .all(|id| v["receipts"].to_string().contains(id.as_str())));

    // A key allowed_signers lists, but for someone else than Fleet-Actor.
    let fx = Fx::signed();
    let bob = fx.keygen("bob");
    let alice = fx.keys().join("alice");
    fx.allow(&[(ACTOR_EMAIL, &alice), ("bob@example.com", &bob)]);
    fx.append("apply", "HEAD", &[]);
    fx.sign_with(&bob);
    let as_bob = fx.append("apply", "HEAD", &[]);
    fx.assert_fails("wrong_signer", &as_bob);
}

#[test]
fn key_validity_in_allowed_signers_is_honoured_at_the_receipt_time() {
    // Receipts are dated 2026-01-02 (GIT_COMMITTER_DATE); a key retired at the
    // end of 2025 no longer vouches for them, one valid from 2025 does.
    let fx = Fx::signed();
    let alice = fx.keys().join("alice");
    let id = fx.append("apply", "HEAD", &[]);
    assert_eq!(fx.verify().0, 0);
    let file = fx.keys().join("allowed_signers");
    std::fs::write(
        &file,
        format!(
            "{ACTOR_EMAIL} namespaces=\"git-fleet\",valid-before=\"20251231\" {}\n",
            fx.public(&alice)
        ),
    )
    .unwrap();
    fx.assert_fails("untrusted_key", &id);
    std::fs::write(
        &file,
        format!(
            "{ACTOR_EMAIL} valid-after=\"20250101\" {}\n",
            fx.public(&alice)
        ),
    )
    .unwrap();
    assert_eq!(fx.verify().0, 0);
    // A key allowed only for another namespace (git commits) does not count.
    std::fs::write(
        &file,
        format!("{ACTOR_EMAIL} namespaces=\"git\" {}\n", fx.public(&alice)),
    )
    .unwrap();
    fx.assert_fails("untrusted_key", &id);
}

#[test]
fn unsigned_receipts_pass_without_signers_and_fail_with_them() {
    let fx = Fx::new();
    let ids = [
        fx.append("apply", "HEAD", &[]),
        fx.append("halt", "HEAD", &[]),
    ];
    let (code, v, human) = fx.verify();
    assert_eq!(code, 0, "{human}");
    assert_eq!(v["allowed_signers"], Value::Null);
    assert_eq!(v["receipts"][0]["signature"]["status"], "unsigned");
    assert!(
        human.contains("0 signed; no allowed signers file"),
        "{human}"
    );
    assert!(!fx.note("HEAD").contains("Fleet-Signature"));

    // Configure trust without a signing key: the unsigned receipts now fail.
    let key = fx.keygen("alice");
    fx.allow(&[(ACTOR_EMAIL, &key)]);
    fx.assert_fails("unsigned", &ids[0]);
    fx.assert_fails("unsigned", &ids[1]);

    // A signed receipt with no allowed signers file: valid, but unchecked.
    let fx = Fx::new();
    let key = fx.keygen("alice");
    fx.sign_with(&key);
    fx.append("apply", "HEAD", &[]);
    let (code, v, _) = fx.verify();
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["receipts"][0]["signature"]["status"], "unchecked");
}

#[test]
fn halt_and_resume_write_receipts_that_verify() {
    let fx = Fx::signed();
    assert_eq!(fx.fleet(&["halt", "--reason", "maintenance"]).code, 0);
    assert_eq!(fx.fleet(&["resume"]).code, 0);
    let log = json_of(&fx.fleet(&["receipts", "log", "--json"]));
    let actions: Vec<&str> = log["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["resume", "halt"]);
    let (code, v, _) = fx.verify();
    assert_eq!(code, 0, "{v:#}");
}

#[test]
fn bad_input_is_refused() {
    let fx = Fx::new();
    for (args, needle) in [
        (
            vec!["--action", "x", "--commit", "nope"],
            "unknown revision",
        ),
        (
            vec!["--action", "x", "--commit", "HEAD", "--trailer", "novalue"],
            "KEY=VALUE",
        ),
        (
            vec!["--action", "x", "--commit", "HEAD", "--trailer", "Prev=abc"],
            "written by git-fleet",
        ),
        (
            vec![
                "--action",
                "x",
                "--commit",
                "HEAD",
                "--trailer",
                "Bad Key=1",
            ],
            "invalid receipt trailer",
        ),
        (vec!["--action", " ", "--commit", "HEAD"], "needs an action"),
    ] {
        let mut full = vec!["receipts", "append"];
        full.extend(args);
        let r = fx.fleet(&full);
        assert_eq!(r.code, 2, "{full:?}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{full:?}: {}", r.stderr);
    }
    assert!(fx
        .env
        .refs(&fx.repo)
        .lines()
        .all(|l| !l.contains("receipts")));

    // A configured key that does not exist: the append fails, nothing is written unsigned.
    fx.sign_with(&fx.keys().join("missing"));
    let r = fx.fleet(&["receipts", "append", "--action", "x", "--commit", "HEAD"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("cannot sign the receipt"), "{}", r.stderr);
    assert!(fx
        .env
        .refs(&fx.repo)
        .lines()
        .all(|l| !l.contains("receipts")));

    // show on a commit without receipts: exit 1; verify on no receipts: ok.
    assert_eq!(fx.fleet(&["receipts", "show", "HEAD"]).code, 1);
    assert_eq!(fx.fleet(&["receipts", "verify"]).code, 0);
}

#[test]
fn a_writer_that_loses_the_race_relinks_its_receipt_to_the_winner() {
    // gpg.ssh.program is a wrapper: the first time it is asked to sign, it makes
    // another process append a receipt before signing. The first writer's
    // compare-and-swap then fails, and its retry must link Fleet-Prev to the
    // receipt that won (and sign again), not to the tip it first read.
    let fx = Fx::signed();
    let mark = fx.env.root().join("raced");
    let wrapper = fx.keys().join("racing-ssh-keygen");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nif [ \"$2\" = sign ] && mkdir '{}' 2>/dev/null; then\n  git-fleet receipts append --action racer --commit HEAD </dev/null >/dev/null || exit 1\nfi\nexec ssh-keygen \"$@\"\n",
            mark.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    fx.git(&["config", "gpg.ssh.program", wrapper.to_str().unwrap()]);

    let first = fx.append("apply", "HEAD", &["--target", "prod"]);
    assert!(mark.exists(), "the wrapper did not run");
    let log = json_of(&fx.fleet(&["receipts", "log", "--json"]));
    let receipts = log["receipts"].as_array().unwrap();
    assert_eq!(receipts.len(), 2, "{log:#}");
    assert_eq!(receipts[1]["action"], "racer");
    assert_eq!(receipts[1]["prev"], "none");
    assert_eq!(receipts[0]["id"], first.as_str());
    assert_eq!(receipts[0]["prev"], receipts[1]["id"]);
    let (code, v, human) = fx.verify();
    assert_eq!(code, 0, "{human}\n{v:#}");
}

#[test]
fn concurrent_appenders_lose_nothing_and_the_chain_verifies() {
    const PROCESSES: usize = 8;
    const EACH: usize = 6;
    let fx = Fx::signed();
    let commits: Vec<String> = ["HEAD", "HEAD~1"]
        .iter()
        .map(|r| fx.git(&["rev-parse", r]).trim().to_string())
        .collect();
    // 8 processes at a time, each appending its own receipts.
    let ids: Vec<String> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..PROCESSES)
            .map(|w| {
                let fx = &fx;
                let commit = commits[w % 2].clone();
                s.spawn(move || {
                    let mut children = Vec::new();
                    for round in 0..EACH {
                        let child = fx
                            .env
                            .command(bin(), &fx.repo)
                            .args(["receipts", "append", "--action", "apply", "--commit"])
                            .arg(&commit)
                            .args(["--proposal", &format!("w{w}-r{round}")])
                            .output()
                            .unwrap();
                        assert!(
                            child.status.success(),
                            "{}",
                            String::from_utf8_lossy(&child.stderr)
                        );
                        children.push(String::from_utf8_lossy(&child.stdout).trim().to_string());
                    }
                    children
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    assert_eq!(ids.len(), PROCESSES * EACH);
    let log = json_of(&fx.fleet(&["receipts", "log", "--json"]));
    let mut listed: Vec<String> = log["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed.len(), PROCESSES * EACH, "receipts were lost");
    listed.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(listed, expected);
    let mut proposals: Vec<String> = log["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["proposal"].as_str().unwrap().to_string())
        .collect();
    proposals.sort();
    proposals.dedup();
    assert_eq!(proposals.len(), PROCESSES * EACH);
    let blocks: usize = ["HEAD", "HEAD~1"]
        .iter()
        .map(|c| fx.note(c).matches("Fleet-Receipt: ").count())
        .sum();
    assert_eq!(blocks, PROCESSES * EACH, "note blocks were lost");
    let (code, v, human) = fx.verify();
    assert_eq!(code, 0, "{human}");
    assert_eq!(v["receipts"].as_array().unwrap().len(), PROCESSES * EACH);
    let fsck = fx.git(&["fsck", "--no-dangling", "--no-progress"]);
    assert!(fsck.trim().is_empty(), "{fsck}");
}

/// Moving the receipt log back drops receipts that other records name: every
/// live snapshot commit, proposal transition and halt state an action wrote
/// says `Fleet-Receipt: <id>`, and verify checks each is in the log.
#[test]
fn a_rewound_receipt_log_fails_naming_the_missing_receipts() {
    let fx = Fx::new();
    std::fs::write(fx.repo.join("fleet.toml"), "[targets.staging]\n").unwrap();
    let r = fx.env.fleet_stdin(
        &fx.repo,
        &["snapshot", "staging", "--from", "-"],
        b"modules:\n  m0:\n    config: {workers: 1}\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut desired = String::from("modules:\n");
    for i in 0..3 {
        desired.push_str(&format!("  m{i}:\n    config: {{workers: 2}}\n"));
    }
    std::fs::write(fx.repo.join("fleet.yaml"), &desired).unwrap();
    fx.git(&["add", "fleet.yaml", "fleet.toml"]);
    fx.git(&["commit", "-q", "-m", "three modules"]);
    assert_eq!(fx.fleet(&["reconcile", "staging"]).code, 1);
    let list = json_of(&fx.fleet(&["proposals", "--json"]));
    let ids: Vec<String> = list["proposals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 3);
    // Apply the first, remember the log, apply the other two and halt.
    assert_eq!(fx.fleet(&["approve", &ids[0]]).code, 0);
    assert_eq!(fx.fleet(&["apply", &ids[0]]).code, 0);
    let older = fx.git(&["rev-parse", "refs/notes/fleet/receipts"]);
    let mut approve = vec!["approve"];
    approve.extend(ids[1..].iter().map(String::as_str));
    assert_eq!(fx.fleet(&approve).code, 0);
    assert_eq!(fx.fleet(&["apply", "--approved"]).code, 0);
    assert_eq!(fx.fleet(&["halt", "--reason", "x"]).code, 0);
    assert_eq!(fx.verify().0, 0);
    let dropped: Vec<String> = json_of(&fx.fleet(&["receipts", "log", "--json"]))["receipts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();

    fx.git(&["update-ref", "refs/notes/fleet/receipts", older.trim()]);
    let (code, v, human) = fx.verify();
    assert_eq!(code, 1, "a rewound log verified:\n{human}");
    let missing: Vec<&str> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["kind"] == "receipt_missing")
        .map(|p| p["receipt"].as_str().unwrap())
        .collect();
    assert!(!missing.is_empty(), "{v:#}");
    for id in &missing {
        assert!(dropped.contains(&id.to_string()), "{id} was never written");
        assert!(human.contains(&id[..12]), "{human}");
    }
    // The halt's receipt and the last apply's are among those named.
    assert!(missing.contains(&dropped[0].as_str()), "{v:#}");
}

/// What `ssh-keygen -Y` says of one receipt's signature, by the steps git-fleet
/// took before it verified in-process: verify as the actor, else as each
/// principal find-principals lists, else check-novalidate.
/// Returns (status, principal it is good or wrong for).
fn keygen_verdict(
    fx: &Fx,
    allowed: &Path,
    message: &str,
) -> (&'static str, Option<String>, Option<String>) {
    let text = &message[message.find("Fleet-Receipt: ").unwrap()..];
    let (mut canonical, mut signature) = (String::new(), String::new());
    let mut in_sig = false;
    for line in text.lines() {
        if let Some(first) = line.strip_prefix("Fleet-Signature: ") {
            signature = format!("{first}\n");
            in_sig = true;
        } else if in_sig && line.starts_with(' ') {
            signature.push_str(&line[1..]);
            signature.push('\n');
        } else if line.starts_with("Fleet-") && !line.starts_with("Fleet-Receipt: ") {
            in_sig = false;
            canonical.push_str(line);
            canonical.push('\n');
        }
    }
    let field = |key: &str| {
        canonical
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}: ")))
            .unwrap()
            .to_string()
    };
    let actor = field("Fleet-Actor");
    let email = &actor[actor.rfind('<').unwrap() + 1..actor.len() - 1];
    let time = field("Fleet-Time");
    assert!(time.ends_with("+00:00"), "{time}");
    let time: String = time[..19].chars().filter(char::is_ascii_digit).collect();
    let at = format!("-Overify-time={time}Z");
    let sig = fx.env.root().join("cross.sig");
    std::fs::write(&sig, &signature).unwrap();
    let keygen = |args: &[&str]| {
        use std::io::Write;
        let mut child = std::process::Command::new("ssh-keygen")
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let _ = child.stdin.take().unwrap().write_all(canonical.as_bytes());
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let key = stdout
            .split_whitespace()
            .find(|w| w.starts_with("SHA256:"))
            .map(str::to_string);
        (out.status.success(), stdout, key)
    };
    let (allowed, sig) = (allowed.to_str().unwrap(), sig.to_str().unwrap());
    let verify_as = |who: &str| {
        keygen(&[
            "-Y",
            "verify",
            "-n",
            "git-fleet",
            "-f",
            allowed,
            "-I",
            who,
            "-s",
            sig,
            &at,
        ])
    };
    if let (true, _, key) = verify_as(email) {
        return ("good", Some(email.to_string()), key);
    }
    let (found, listed, _) = keygen(&["-Y", "find-principals", "-f", allowed, "-s", sig, &at]);
    if found {
        for who in listed.lines().filter(|l| !l.trim().is_empty()) {
            if let (true, _, key) = verify_as(who.trim()) {
                return ("wrong_signer", Some(who.trim().to_string()), key);
            }
        }
    }
    match keygen(&["-Y", "check-novalidate", "-n", "git-fleet", "-s", sig]) {
        (true, _, key) => ("untrusted_key", None, key),
        (false, _, _) => ("bad", None, None),
    }
}

#[test]
fn in_process_verdicts_agree_with_ssh_keygen_on_every_receipt() {
    // One log with every kind of signature, signed in-process (plain key
    // files) and, for the certificate, by ssh-keygen; then two receipts are
    // tampered with. `receipts verify` (in-process) must give each receipt the
    // verdict the real ssh-keygen gives it.
    let fx = Fx::new();
    let k: std::collections::HashMap<&str, PathBuf> = [
        "alice", "bob", "carol", "dave", "erin", "mallory", "ca", "frank",
    ]
    .into_iter()
    .map(|n| (n, fx.keygen(n)))
    .collect();
    // frank signs with a certificate from `ca` for the actor.
    let cert = std::process::Command::new("ssh-keygen")
        .args(["-q", "-s"])
        .arg(&k["ca"])
        .args(["-I", "frank", "-n", ACTOR_EMAIL, "-V", "20250101:20270101"])
        .arg(k["frank"].with_extension("pub"))
        .output()
        .unwrap();
    assert!(cert.status.success(), "{cert:?}");
    let frank_cert = fx.keys().join("frank-cert.pub");
    let allowed = fx.keys().join("allowed_signers");
    let p = |n: &str| fx.public(&k[n]);
    std::fs::write(
        &allowed,
        format!(
            "# every rule the cross-check exercises\n\
             {ACTOR_EMAIL} namespaces=\"git-fleet\" {}\n\
             bob@example.com namespaces=\"git-fleet\" {}\n\
             {ACTOR_EMAIL} namespaces=\"git-fleet\",valid-before=\"20251231Z\" {}\n\
             {ACTOR_EMAIL} namespaces=\"git\" {}\n\
             *@example.com,!{ACTOR_EMAIL} namespaces=\"git-fleet\" {}\n\
             \"ops@example.com\" valid-after=\"20250101\" {}\n\
             *@example.com cert-authority,namespaces=\"git-fleet\" {}\n",
            p("alice"),
            p("bob"),
            p("carol"),
            p("dave"),
            p("erin"),
            p("alice"),
            p("ca"),
        ),
    )
    .unwrap();
    fx.git(&[
        "config",
        "gpg.ssh.allowedSignersFile",
        allowed.to_str().unwrap(),
    ]);

    let mut expect: Vec<(String, &str)> = Vec::new();
    for (signer, status) in [
        ("alice", "good"),
        ("bob", "wrong_signer"),      // listed, for someone else
        ("carol", "untrusted_key"),   // valid-before passed at the receipt time
        ("dave", "untrusted_key"),    // listed for namespace git only
        ("erin", "wrong_signer"),     // the actor is negated on its line
        ("mallory", "untrusted_key"), // not listed
        ("alice", "good"),            // to be tampered: a byte of the message
        ("alice", "good"),            // to be tampered: namespace git
    ] {
        fx.sign_with(&k[signer]);
        expect.push((fx.append("apply", "HEAD", &["--target", signer]), status));
    }
    fx.sign_with(&frank_cert);
    expect.push((fx.append("apply", "HEAD", &["--target", "frank"]), "good"));
    // A receipt whose actor is not the key's principal (alice is listed as
    // ops@example.com too, and as the committer: the actor is someone else).
    fx.sign_with(&k["alice"]);
    let out = fx
        .env
        .command(bin(), &fx.repo)
        .env("GIT_COMMITTER_EMAIL", "someone@example.org")
        .args([
            "receipts", "append", "--action", "apply", "--commit", "HEAD",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    expect.push((id, "wrong_signer"));

    // Tamper with receipts 7 and 8 in the log with plain git.
    let commits = fx.log_commits();
    let mut parent: Option<String> = None;
    for (i, c) in commits.iter().enumerate() {
        let mut msg = fx.git(&["log", "-1", "--format=%B", c]);
        if i == 6 {
            msg = msg.replacen("Fleet-Target: alice", "Fleet-Target: alicf", 1);
        }
        if i == 7 {
            let text = &msg[msg.find("Fleet-Receipt: ").unwrap()..];
            let canonical: String = text
                .lines()
                .filter(|l| l.starts_with("Fleet-") && !l.starts_with("Fleet-Receipt: "))
                .filter(|l| !l.starts_with("Fleet-Signature: "))
                .map(|l| format!("{l}\n"))
                .collect();
            let data = fx.env.root().join("data");
            std::fs::write(&data, canonical).unwrap();
            let out = std::process::Command::new("ssh-keygen")
                .args(["-q", "-Y", "sign", "-n", "git", "-f"])
                .arg(&k["alice"])
                .arg(&data)
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            let sig = std::fs::read_to_string(data.with_extension("sig")).unwrap();
            let start = msg.find("Fleet-Signature: ").unwrap();
            let armored: Vec<&str> = sig.trim().lines().collect();
            msg = format!(
                "{}Fleet-Signature: {}\n",
                &msg[..start],
                armored.join("\n ")
            );
        }
        let file = fx.env.root().join("msg");
        std::fs::write(&file, &msg).unwrap();
        let tree = fx.git(&["rev-parse", &format!("{c}^{{tree}}")]);
        let mut args = vec!["commit-tree".to_string(), tree.trim().to_string()];
        if let Some(p) = &parent {
            args.extend(["-p".to_string(), p.clone()]);
        }
        args.extend(["-F".to_string(), file.to_str().unwrap().to_string()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        parent = Some(fx.git(&args).trim().to_string());
    }
    fx.git(&[
        "update-ref",
        "refs/notes/fleet/receipts",
        parent.as_deref().unwrap(),
    ]);
    expect[6].1 = "bad";
    expect[7].1 = "bad";

    let (code, v, human) = fx.verify();
    assert_eq!(code, 1, "{human}");
    let checks = v["receipts"].as_array().unwrap();
    assert_eq!(checks.len(), expect.len(), "{v:#}");
    let mut seen = Vec::new();
    for (check, (id, want)) in checks.iter().rev().zip(&expect) {
        assert_eq!(check["id"], id.as_str());
        let message = fx.git(&[
            "log",
            "-1",
            "--format=%B",
            check["commit"].as_str().unwrap(),
        ]);
        let (status, principal, key) = keygen_verdict(&fx, &allowed, &message);
        let sig = &check["signature"];
        assert_eq!(
            sig["status"], status,
            "ssh-keygen disagrees on {id}: {check:#}"
        );
        assert_eq!(status, *want, "{check:#}");
        match status {
            "good" => assert_eq!(sig["principal"].as_str(), principal.as_deref()),
            "wrong_signer" => assert_eq!(sig["principals"][0].as_str(), principal.as_deref()),
            _ => {}
        }
        if status != "bad" {
            assert_eq!(sig["key"].as_str(), key.as_deref(), "{check:#}");
        }
        seen.push(status);
    }
    for kind in ["good", "bad", "wrong_signer", "untrusted_key"] {
        assert!(seen.contains(&kind), "no {kind} receipt: {seen:?}");
    }
}

#[test]
fn a_malformed_allowed_signers_line_is_an_error_naming_file_and_line() {
    let fx = Fx::signed();
    fx.append("apply", "HEAD", &[]);
    let file = fx.keys().join("allowed_signers");
    let good = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        format!(
            "{good}# fine\nops@example.com namespaces=\"git-fleet {}\n",
            fx.public(&fx.keys().join("alice"))
        ),
    )
    .unwrap();
    let before = fx.env.refs(&fx.repo);
    for args in [
        &["receipts", "verify"][..],
        &["receipts", "verify", "--json"],
    ] {
        let r = fx.fleet(args);
        assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains(&format!("{}:3:", file.display())),
            "{}",
            r.stderr
        );
    }
    assert_eq!(fx.env.refs(&fx.repo), before);
}

#[test]
fn a_plain_key_file_signs_in_process_and_an_agent_key_still_uses_ssh_keygen() {
    // PATH holds git and git-fleet but no ssh-keygen: a plain key file signs
    // and verifies anyway (in-process), and ssh-keygen accepts the signature.
    let fx = Fx::signed();
    let only_git = fx.env.root().join("only-git");
    std::fs::create_dir_all(&only_git).unwrap();
    let git = std::process::Command::new("sh")
        .args(["-c", "command -v git"])
        .output()
        .unwrap();
    let git = String::from_utf8_lossy(&git.stdout).trim().to_string();
    std::os::unix::fs::symlink(&git, only_git.join("git")).unwrap();
    let path = format!(
        "{}:{}",
        bin().parent().unwrap().display(),
        only_git.display()
    );
    let run = |args: &[&str]| {
        fx.env
            .command(bin(), &fx.repo)
            .env("PATH", &path)
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&[
        "receipts", "append", "--action", "apply", "--commit", "HEAD",
    ]);
    assert!(out.status.success(), "{out:?}");
    let out = run(&["receipts", "verify", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["receipts"][0]["signature"]["status"], "good", "{v:#}");
    let allowed = fx.keys().join("allowed_signers");
    let message = fx.git(&["log", "-1", "--format=%B", "refs/notes/fleet/receipts"]);
    assert_eq!(keygen_verdict(&fx, &allowed, &message).0, "good");

    // A literal key (private half in the agent) is ssh-keygen's: without it
    // on PATH, the append fails naming the program, and writes nothing.
    let alice = fx.public(&fx.keys().join("alice"));
    fx.git(&["config", "user.signingKey", &format!("key::{alice}")]);
    let before = fx.env.refs(&fx.repo);
    let out = run(&[
        "receipts", "append", "--action", "apply", "--commit", "HEAD",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ssh-keygen"),
        "{out:?}"
    );
    assert_eq!(fx.env.refs(&fx.repo), before);
}

/// Recording a snapshot changes live for the embedded driver, so it is
/// receipted like any change: the receipt comes first and the snapshot commit
/// names it, and a log moved back past it fails verify.
#[test]
fn a_recorded_snapshot_is_receipted_and_named_by_its_commit() {
    let fx = Fx::new();
    let r = fx.env.fleet_stdin(
        &fx.repo,
        &["snapshot", "staging", "--from", "-"],
        b"modules:\n  m0:\n    config: {workers: 1}\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let message = fx.git(&["log", "-1", "--format=%B", "refs/fleet/live/staging"]);
    let id = message
        .lines()
        .find_map(|l| l.strip_prefix("Fleet-Receipt: "))
        .unwrap_or_else(|| panic!("snapshot commit names no receipt:\n{message}"))
        .to_string();
    let log = fx.git(&["log", "--format=%B", "refs/notes/fleet/receipts"]);
    assert!(log.contains(&format!("Fleet-Receipt: {id}")), "{log}");
    assert!(log.contains("Fleet-Action: snapshot"), "{log}");
    let (code, _, human) = fx.verify();
    assert_eq!(code, 0, "{human}");
    fx.git(&["update-ref", "-d", "refs/notes/fleet/receipts"]);
    let (code, _, human) = fx.verify();
    assert_eq!(code, 1, "{human}");
    assert!(human.contains(&id[..12]), "{human}");
}
