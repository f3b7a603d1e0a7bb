//! Hooks: install chains with existing hooks and uninstall restores them; the
//! pre-commit check is cheap when no desired file is staged; a real `git push`
//! starts fanout in the background without waiting for it or failing.

use crate::common;
use common::TestEnv;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not one JSON object ({e}): {stdout}"))
}

fn write_exec(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A `git` run that may fail: (exit code, stdout, stderr).
fn git_try(env: &TestEnv, dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = env.command("git", dir).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const VALID_FLEET: &str =
    "modules:\n  m1: {name: m1, priority: 10, variety: config, config: {a: 1}}\n";

#[test]
fn install_chains_an_existing_hook_and_uninstall_restores_it() {
    let env = TestEnv::new();
    let repo = env.repo("work");
    let user_hook = "#!/bin/sh\necho ran >> \"$(git rev-parse --git-dir)/user-hook-ran\"\n";
    let hook_path = repo.join(".git/hooks/pre-commit");
    write_exec(&hook_path, user_hook);
    std::fs::write(repo.join("fleet.yaml"), VALID_FLEET).unwrap();
    env.git(&repo, &["add", "fleet.yaml"]);
    env.git(&repo, &["commit", "-q", "-m", "fleet"]);
    std::fs::remove_file(repo.join(".git/user-hook-ran")).unwrap();

    let out = env.fleet(&repo, &["hooks", "install", "--pre-commit", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = json(&out.stdout);
    assert_eq!(v["changes"][0]["change"], "inserted");
    let installed = std::fs::read_to_string(&hook_path).unwrap();
    assert!(
        installed.starts_with("#!/bin/sh\n# >>> git-fleet >>>\n"),
        "{installed}"
    );
    assert!(
        installed.ends_with(&user_hook["#!/bin/sh\n".len()..]),
        "{installed}"
    );
    // Idempotent.
    let out = env.fleet(&repo, &["hooks", "install", "--pre-commit", "--json"]);
    assert_eq!(json(&out.stdout)["changes"][0]["change"], "unchanged");
    assert_eq!(std::fs::read_to_string(&hook_path).unwrap(), installed);

    // A commit with a valid fleet.yaml passes and the user's hook still runs.
    std::fs::write(repo.join("fleet.yaml"), VALID_FLEET.replace("a: 1", "a: 2")).unwrap();
    env.git(&repo, &["commit", "-q", "-am", "valid edit"]);
    assert_eq!(
        std::fs::read_to_string(repo.join(".git/user-hook-ran")).unwrap(),
        "ran\n"
    );
    // An invalid one is refused by our block (with file:line:col).
    std::fs::write(
        repo.join("fleet.yaml"),
        "modules:\n  m1: {priority: 999}\n  m1: {}\n",
    )
    .unwrap();
    env.git(&repo, &["add", "fleet.yaml"]);
    let (code, _, stderr) = git_try(&env, &repo, &["commit", "-q", "-m", "bad"]);
    assert_ne!(code, 0, "an invalid fleet.yaml was committed");
    assert!(stderr.contains("fleet.yaml"), "{stderr}");
    env.git(&repo, &["reset", "-q", "--hard"]);

    let out = env.fleet(&repo, &["hooks", "status", "--json"]);
    let v = json(&out.stdout);
    let pc = v["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["hook"] == "pre-commit")
        .unwrap();
    assert_eq!(pc["state"], "installed");
    assert_eq!(pc["other_content"], true);

    let out = env.fleet(&repo, &["hooks", "uninstall", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&hook_path).unwrap(), user_hook);
    std::fs::write(repo.join("other.txt"), "x\n").unwrap();
    env.git(&repo, &["add", "other.txt"]);
    env.git(&repo, &["commit", "-q", "-m", "after uninstall"]);
    assert_eq!(
        std::fs::read_to_string(repo.join(".git/user-hook-ran")).unwrap(),
        "ran\nran\n"
    );

    // A hook that held only our block is deleted on uninstall.
    assert_eq!(
        env.fleet(&repo, &["hooks", "install", "--post-push"]).code,
        0
    );
    assert!(repo.join(".git/hooks/reference-transaction").exists());
    assert_eq!(
        env.fleet(&repo, &["hooks", "uninstall", "--post-push"])
            .code,
        0
    );
    assert!(!repo.join(".git/hooks/reference-transaction").exists());
    assert!(!repo.join(".git/hooks/pre-push").exists());
}

#[test]
fn install_honours_core_hooks_path_and_keeps_stdin_for_the_users_hook() {
    let env = TestEnv::new();
    let repo = env.repo("work");
    env.git(&repo, &["config", "core.hooksPath", ".githooks"]);
    // A user's reference-transaction hook that logs what git tells it.
    write_exec(
        &repo.join(".githooks/reference-transaction"),
        "#!/bin/sh\ncat >> \"$(git rev-parse --git-dir)/rt.log\"\n",
    );
    let out = env.fleet(
        &repo,
        &[
            "hooks",
            "install",
            "--post-push",
            "--pre-receive",
            "--post-receive",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    for h in [
        "pre-push",
        "reference-transaction",
        "pre-receive",
        "post-receive",
    ] {
        assert!(
            repo.join(".githooks").join(h).exists(),
            "{h} not in core.hooksPath"
        );
        assert!(!repo.join(".git/hooks").join(h).exists());
    }
    // With a push pending, our block reads stdin and must hand it on.
    std::fs::create_dir_all(repo.join(".git/fleet")).unwrap();
    std::fs::write(repo.join(".git/fleet/pending-push"), "").unwrap();
    std::fs::write(repo.join("b.txt"), "b\n").unwrap();
    env.git(&repo, &["add", "b.txt"]);
    env.git(&repo, &["commit", "-q", "-m", "b"]);
    let log = std::fs::read_to_string(repo.join(".git/rt.log")).unwrap();
    assert!(
        log.contains("refs/heads/main"),
        "the user's hook lost its stdin: {log:?}"
    );
    let v = json(&env.fleet(&repo, &["hooks", "status", "--json"]).stdout);
    assert!(
        v["hooks_dir"].as_str().unwrap().ends_with(".githooks"),
        "{v}"
    );
    // A non-shell hook is refused rather than broken.
    write_exec(
        &repo.join(".githooks/pre-commit"),
        "#!/usr/bin/env python3\nprint('hi')\n",
    );
    let out = env.fleet(&repo, &["hooks", "install", "--pre-commit"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("not a shell script"), "{}", out.stderr);
    // The server-side stubs accept a push.
    let bare = env.bare("server.git");
    let out = env.fleet(
        &bare,
        &["hooks", "install", "--pre-receive", "--post-receive"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(bare.join("hooks/pre-receive").exists());
    env.git(&repo, &["push", "-q", bare.to_str().unwrap(), "main"]);
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[test]
fn pre_commit_costs_little_when_no_desired_file_is_staged() {
    let _load = common::timed();
    let env = TestEnv::new();
    let repo = env.repo("work");
    std::fs::write(repo.join("fleet.yaml"), VALID_FLEET).unwrap();
    for i in 0..200 {
        std::fs::write(repo.join(format!("f{i}.txt")), format!("{i}\n")).unwrap();
    }
    env.git(&repo, &["add", "."]);
    env.git(&repo, &["commit", "-q", "-m", "files"]);
    assert_eq!(
        env.fleet(&repo, &["hooks", "install", "--pre-commit"]).code,
        0
    );
    std::fs::write(repo.join("f1.txt"), "changed\n").unwrap();
    env.git(&repo, &["add", "f1.txt"]);
    let empty = env.root().join("empty-hook");
    write_exec(&empty, "#!/bin/sh\n");
    let ours = repo.join(".git/hooks/pre-commit");
    let time = |hook: &PathBuf| {
        let runs: Vec<Duration> = (0..25)
            .map(|_| {
                let start = Instant::now();
                let out = env.command(hook, &repo).output().unwrap();
                let took = start.elapsed();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                took
            })
            .collect();
        median(runs)
    };
    time(&ours); // warm up
    let t_empty = time(&empty);
    let t_ours = time(&ours);
    let extra = t_ours.saturating_sub(t_empty);
    println!(
        "pre-commit hook, fleet.yaml not staged: empty sh hook {:.2} ms, git-fleet hook {:.2} ms, extra {:.2} ms (goal 5 ms)",
        t_empty.as_secs_f64() * 1e3,
        t_ours.as_secs_f64() * 1e3,
        extra.as_secs_f64() * 1e3
    );
    // Generous bound for loaded CI machines; the goal is 5 ms.
    assert!(
        extra < Duration::from_millis(60),
        "pre-commit costs {extra:?} more than an empty hook"
    );
}

/// origin (bare), `dev` with post-push hooks and peers, one peer clone.
struct PushSetup {
    origin: PathBuf,
    dev: PathBuf,
    peer: PathBuf,
}

fn push_setup(env: &TestEnv, peer_extra: &str) -> PushSetup {
    let dev = env.repo("dev");
    let origin = env.origin_of(&dev, true);
    let peer = env.clone_of(&origin, "peer");
    std::fs::write(
        dev.join(".git/fleet.local.toml"),
        format!(
            "[peers.box]\nlocation = \"{}\"\n{peer_extra}",
            peer.display()
        ),
    )
    .unwrap();
    let out = env.fleet(&dev, &["hooks", "install", "--post-push"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    PushSetup { origin, dev, peer }
}

fn commit(env: &TestEnv, repo: &Path, file: &str) -> String {
    std::fs::write(repo.join(file), format!("{file}\n")).unwrap();
    env.git(repo, &["add", file]);
    env.git(repo, &["commit", "-q", "-m", file]);
    env.git(repo, &["rev-parse", "HEAD"]).trim().to_string()
}

fn wait_for_note(env: &TestEnv, repo: &Path, commit: &str) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let (code, note, _) = git_try(env, repo, &["notes", "--ref=fleet/fanout", "show", commit]);
        // Fanout writes a pending block first (write-ahead), then its
        // results: done once a block is more than pending.
        let runs = note.matches("Fleet-Fanout:").count();
        if code == 0 && runs > note.matches("Fleet-State: pending").count() {
            return Some(note);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

#[test]
fn a_push_starts_fanout_in_the_background_once() {
    let env = TestEnv::new();
    let s = push_setup(&env, "");
    let c = commit(&env, &s.dev, "one.txt");
    let start = Instant::now();
    let (code, _, stderr) = git_try(&env, &s.dev, &["push", "-q", "origin", "main"]);
    let took = start.elapsed();
    assert_eq!(code, 0, "push failed: {stderr}");
    assert!(took < Duration::from_secs(5), "push took {took:?}");
    let note = wait_for_note(&env, &s.dev, &c).expect("no fanout note on the pushed commit");
    assert!(note.contains("Fleet-Peer: box fast-forwarded"), "{note}");
    // The background job is done once the note exists; the peer moved.
    assert_eq!(env.git(&s.peer, &["rev-parse", "HEAD"]).trim(), c);
    assert!(
        !s.dev.join(".git/fleet/pending-push").exists(),
        "pending entry left behind"
    );
    let log = std::fs::read_to_string(s.dev.join(".git/fleet/fanout.log")).unwrap();
    assert_eq!(log.matches("starting fanout").count(), 1, "{log}");

    // A fetch that moves origin/main starts nothing.
    let other = env.clone_of(&s.origin, "other");
    let fetched = commit(&env, &other, "from-other.txt");
    env.git(&other, &["push", "-q", "origin", "main"]);
    env.git(&s.dev, &["fetch", "-q", "origin"]);
    assert_eq!(
        env.git(&s.dev, &["rev-parse", "origin/main"]).trim(),
        fetched
    );
    std::thread::sleep(Duration::from_millis(1500));
    let (code, _, _) = git_try(
        &env,
        &s.dev,
        &["notes", "--ref=fleet/fanout", "show", &fetched],
    );
    assert_ne!(code, 0, "a fetch started a fanout");
    let log2 = std::fs::read_to_string(s.dev.join(".git/fleet/fanout.log")).unwrap();
    assert_eq!(log2.matches("starting fanout").count(), 1, "{log2}");
    // ... and the pushed commit still has exactly one run recorded.
    let note = env.git(&s.dev, &["notes", "--ref=fleet/fanout", "show", &c]);
    assert_eq!(note.matches("Fleet-State: pending").count(), 1, "{note}");
    assert_eq!(note.matches("Fleet-Fanout:").count(), 2, "{note}");
}

#[test]
fn a_push_succeeds_promptly_even_when_fanout_fails_slowly() {
    let _load = common::timed();
    let env = TestEnv::new();
    // Health takes 3 s and fails: fanout exits 1 long after the push returned.
    let s = push_setup(&env, "health = \"sleep 3; exit 1\"\n");
    let c = commit(&env, &s.dev, "two.txt");
    let start = Instant::now();
    let (code, _, stderr) = git_try(&env, &s.dev, &["push", "-q", "origin", "main"]);
    let took = start.elapsed();
    assert_eq!(code, 0, "push failed: {stderr}");
    assert!(
        took < Duration::from_secs(2),
        "push waited for fanout: {took:?}"
    );
    let note = wait_for_note(&env, &s.dev, &c).expect("no fanout note on the pushed commit");
    assert!(note.contains("Fleet-Peer: box health-failed"), "{note}");
    let log = std::fs::read_to_string(s.dev.join(".git/fleet/fanout.log")).unwrap();
    assert!(log.contains("health-failed"), "{log}");
}

#[test]
fn pushing_a_branch_no_peer_expects_starts_nothing() {
    let env = TestEnv::new();
    let s = push_setup(&env, "branch = \"main\"\n");
    env.git(&s.dev, &["checkout", "-q", "-b", "feature"]);
    let c = commit(&env, &s.dev, "feature.txt");
    env.git(&s.dev, &["push", "-q", "origin", "feature"]);
    std::thread::sleep(Duration::from_millis(1000));
    let (code, _, _) = git_try(&env, &s.dev, &["notes", "--ref=fleet/fanout", "show", &c]);
    assert_ne!(code, 0, "fanout ran for a branch no peer expects");
    let log = std::fs::read_to_string(s.dev.join(".git/fleet/fanout.log")).unwrap();
    assert!(log.contains("no peer expects branch feature"), "{log}");
}

/// A hook that is a symlink (gitolite links every repository's hooks to its
/// own driver) is never replaced, de-linked or written through: install and
/// uninstall refuse it and say how to chain git-fleet from it instead.
#[test]
fn a_symlinked_hook_is_never_replaced_or_written_through() {
    let env = TestEnv::new();
    let bare = env.bare("server.git");
    let driver = env.root().join("driver");
    write_exec(&driver, "#!/bin/sh\nexit 0\n");
    let hook = bare.join("hooks").join("pre-receive");
    std::os::unix::fs::symlink(&driver, &hook).unwrap();
    for args in [
        &["hooks", "install", "--pre-receive"][..],
        &["hooks", "uninstall", "--pre-receive"][..],
    ] {
        let out = env.fleet(&bare, args);
        assert_eq!(out.code, 2, "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(out.stderr.contains("symlink"), "{}", out.stderr);
        let meta = std::fs::symlink_metadata(&hook).unwrap();
        assert!(meta.file_type().is_symlink(), "{args:?} de-linked the hook");
        assert_eq!(
            std::fs::read_to_string(&driver).unwrap(),
            "#!/bin/sh\nexit 0\n"
        );
    }
}

/// A server's hook PATH (gitolite, a git daemon) seldom holds the directory
/// git-fleet was installed to: the shim falls back to the absolute path of
/// the git-fleet that installed it, and fails closed naming what it searched.
#[test]
fn server_hooks_find_git_fleet_off_path_and_fail_closed_naming_it() {
    let env = TestEnv::new();
    let (origin, work) = env.seeded_origin(&[
        ("fleet.yaml", VALID_FLEET),
        (
            "fleet.toml",
            "[[policy]]\nactor = \"nobody@example.org\"\nallow = [\"modules/*\"]\n",
        ),
    ]);
    // Install with a copy of the binary, so it can be taken away afterwards.
    let copy = env.root().join("opt/git-fleet");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::copy(common::bin(), &copy).unwrap();
    let install = env
        .command(&copy, &origin)
        .args(["hooks", "install", "--pre-receive"])
        .output()
        .unwrap();
    assert!(install.status.success(), "{install:?}");
    let shim = std::fs::read_to_string(origin.join("hooks/pre-receive")).unwrap();
    assert!(shim.contains(copy.to_str().unwrap()), "{shim}");
    let status = env
        .command(&copy, &origin)
        .args(["hooks", "status", "--json"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&status.stdout).contains("\"installed\""),
        "installed by path still reads as installed: {status:?}"
    );

    // A change outside the policy, pushed with git-fleet nowhere on PATH.
    std::fs::write(work.join("fleet.yaml"), VALID_FLEET.replace("a: 1", "a: 2")).unwrap();
    env.git(&work, &["commit", "-qam", "out of scope"]);
    let push = |work: &Path| {
        env.command("git", work)
            .env("PATH", "/usr/bin:/bin")
            .args(["push", "origin", "HEAD:main"])
            .output()
            .unwrap()
    };
    let refused = push(&work);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(
        !stderr.contains("not found on PATH") && stderr.contains("m1"),
        "the installed path was not used: {stderr}"
    );

    // The binary moved away: refused, naming the PATH and the path it tried.
    std::fs::remove_file(&copy).unwrap();
    let refused = push(&work);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(
        stderr.contains("not found on PATH (")
            && stderr.contains(":/usr/bin:/bin)")
            && stderr.contains(copy.to_str().unwrap()),
        "{stderr}"
    );
}

/// gitolite's multi-hook driver, verbatim from gitolite 3.6.12's
/// `triggers/repo-specific-hooks` (its `__DATA__`).
const GITOLITE_DRIVER: &str = r#"#!/bin/sh

# Determine what input the hook needs
# post-update takes args, pre/post-receive take stdin
type=args
stdin=''
[ $0 != hooks/post-update ] && {
    type=stdin
    stdin=`cat`
}

for h in $0.*; do
    [ -x $h ] || continue
    if [ $type = args ]
    then
        $h $@ || { [ $0 = hooks/pre-receive ] && exit 1; }
    else
        echo "$stdin" | $h || { [ $0 = hooks/pre-receive ] && exit 1; }
    fi
done
"#;

/// gitolite's repo-specific hooks, laid out as its `repo-specific-hooks`
/// trigger does for `option hook.pre-receive = audit fleet`: `hooks/pre-receive`
/// links to `$LOCAL_CODE/hooks/multi-hook-driver`, `hooks/pre-receive.h00-audit`
/// and `.h01-fleet` to `$LOCAL_CODE/hooks/repo-specific/<name>`. install prints
/// the recipe, status finds our shim through it, uninstall does not pretend,
/// and a real push runs it through the driver.
#[test]
fn gitolite_repo_specific_hooks_are_recognised() {
    let env = TestEnv::new();
    let (origin, work) = env.seeded_origin(&[
        ("fleet.yaml", VALID_FLEET),
        (
            "fleet.toml",
            "[[policy]]\nactor = \"nobody@example.org\"\nallow = [\"modules/*\"]\n",
        ),
    ]);
    let local = env.root().join("gitolite/local");
    let driver = local.join("hooks/multi-hook-driver");
    write_exec(&driver, GITOLITE_DRIVER);
    let hooks = origin.join("hooks");
    let hook = hooks.join("pre-receive");
    std::os::unix::fs::symlink(&driver, &hook).unwrap();

    // install: nothing written, the recipe printed.
    let out = env.fleet(&origin, &["hooks", "install", "--pre-receive"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    for part in [
        "$LOCAL_CODE/hooks/repo-specific/fleet",
        "'repo-specific-hooks'",
        "option hook.pre-receive = fleet",
        "#!/bin/sh\n# >>> git-fleet >>>\n",
    ] {
        assert!(
            out.stderr.contains(part),
            "{part:?} missing: {}",
            out.stderr
        );
    }
    assert!(std::fs::symlink_metadata(&hook)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read_to_string(&driver).unwrap(), GITOLITE_DRIVER);
    let start = out.stderr.find("#!/bin/sh\n# >>> git-fleet >>>").unwrap();
    let end = out.stderr.find("# <<< git-fleet <<<\n").unwrap() + "# <<< git-fleet <<<\n".len();
    let script = &out.stderr[start..end];

    // The admin follows it; gitolite links the scripts in, in conf order.
    let repo_specific = local.join("hooks/repo-specific");
    write_exec(&repo_specific.join("audit"), "#!/bin/sh\ncat >/dev/null\n");
    write_exec(&repo_specific.join("fleet"), script);
    std::os::unix::fs::symlink(
        repo_specific.join("audit"),
        hooks.join("pre-receive.h00-audit"),
    )
    .unwrap();
    let ours = hooks.join("pre-receive.h01-fleet");
    std::os::unix::fs::symlink(repo_specific.join("fleet"), &ours).unwrap();

    let out = env.fleet(&origin, &["hooks", "status", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = json(&out.stdout);
    let pre = v["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["hook"] == "pre-receive")
        .unwrap();
    assert_eq!(pre["state"], "installed", "{v}");
    assert_eq!(pre["path"], ours.to_str().unwrap(), "{v}");
    assert_eq!(pre["via"], "gitolite repo-specific hook fleet", "{v}");
    let out = env.fleet(&origin, &["hooks", "status"]);
    assert!(
        out.stdout.contains("via gitolite repo-specific hook fleet")
            && out.stdout.contains("pre-receive.h01-fleet"),
        "{}",
        out.stdout
    );
    // Installing again sees it there.
    let out = env.fleet(&origin, &["hooks", "install", "--pre-receive", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(json(&out.stdout)["changes"][0]["change"], "unchanged");

    // A real push runs it through gitolite's driver: out of scope, refused.
    std::fs::write(work.join("fleet.yaml"), VALID_FLEET.replace("a: 1", "a: 2")).unwrap();
    env.git(&work, &["commit", "-qam", "out of scope"]);
    let (code, _, stderr) = git_try(&env, &work, &["push", "origin", "HEAD:main"]);
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains("m1"), "{stderr}");

    // uninstall: gitolite manages it; the conf line to change, nothing
    // touched, not even the other hooks a plain `uninstall` would clean.
    let out = env.fleet(&origin, &["hooks", "install", "--pre-commit"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let pre_commit = std::fs::read_to_string(hooks.join("pre-commit")).unwrap();
    let out = env.fleet(&origin, &["hooks", "uninstall"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("gitolite manages it")
            && out.stderr.contains("option hook.pre-receive = audit fleet")
            && out
                .stderr
                .contains("leaving `option hook.pre-receive = audit`"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read_to_string(&ours).unwrap(), script);
    assert!(std::fs::symlink_metadata(&hook)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-commit")).unwrap(),
        pre_commit
    );

    // post-receive's script gets its own name in the one repo-specific dir.
    std::os::unix::fs::symlink(&driver, hooks.join("post-receive")).unwrap();
    let out = env.fleet(&origin, &["hooks", "install", "--post-receive"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("$LOCAL_CODE/hooks/repo-specific/fleet-post-receive")
            && out
                .stderr
                .contains("option hook.post-receive = fleet-post-receive"),
        "{}",
        out.stderr
    );
}

/// The same with gitolite itself (Debian `gitolite3`; skipped when absent):
/// `gitolite setup` in this test's HOME, the rc and gitolite.conf lines the
/// recipe names, gitolite-admin pushed, and pushes through `gitolite-shell`
/// as sshd's forced command runs it (`SSH_ORIGINAL_COMMAND`, via git's ext::
/// transport instead of an ssh hop). gitolite makes the links; we find them.
#[test]
fn gitolite_itself_runs_the_shim_as_a_repo_specific_hook() {
    let found = std::process::Command::new("sh")
        .args(["-c", "command -v gitolite"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        eprintln!(
            "skipped: gitolite is not installed (Debian package gitolite3; .ci/run installs it)"
        );
        return;
    }
    let env = TestEnv::new();
    let home = env.home();
    let key = env.root().join("admin");
    let keygen = env
        .command("ssh-keygen", env.root())
        .args(["-q", "-t", "ed25519", "-N", "", "-f", key.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(keygen.status.success(), "{keygen:?}");
    let setup = env
        .command("gitolite", env.root())
        .args(["setup", "-pk", &format!("{}.pub", key.display())])
        .output()
        .unwrap();
    assert!(setup.status.success(), "{setup:?}");
    // The recipe's ~/.gitolite.rc lines: LOCAL_CODE and repo-specific-hooks.
    let rc_path = home.join(".gitolite.rc");
    let rc = std::fs::read_to_string(&rc_path).unwrap();
    let rc = rc
        .replace(
            "# LOCAL_CODE                =>  \"$ENV{HOME}/local\",",
            "LOCAL_CODE                =>  \"$ENV{HOME}/local\",",
        )
        .replace("# 'repo-specific-hooks',", "'repo-specific-hooks',");
    assert!(
        rc.contains("\n        LOCAL_CODE ") && rc.contains("\n            'repo-specific-hooks',")
    );
    std::fs::write(&rc_path, rc).unwrap();
    // The recipe's script: what install writes for a plain hook.
    let scratch = env.bare("scratch.git");
    let out = env.fleet(&scratch, &["hooks", "install", "--pre-receive"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    write_exec(
        &home.join("local/hooks/repo-specific/fleet"),
        &std::fs::read_to_string(scratch.join("hooks/pre-receive")).unwrap(),
    );

    let bindir = env
        .command("gitolite", env.root())
        .args(["query-rc", "GL_BINDIR"])
        .output()
        .unwrap();
    let bindir = String::from_utf8_lossy(&bindir.stdout).trim().to_string();
    let shell = env.root().join("as-admin");
    write_exec(
        &shell,
        &format!(
            "#!/bin/sh\nSSH_ORIGINAL_COMMAND=\"$1 '$2'\" SSH_CONNECTION='127.0.0.1 1 127.0.0.1 22' exec {bindir}/gitolite-shell admin\n"
        ),
    );
    let url = |repo: &str| format!("ext::{} %S {repo}", shell.display());
    let clone = |repo: &str| {
        env.git(
            env.root(),
            &[
                "-c",
                "protocol.ext.allow=always",
                "clone",
                "-q",
                &url(repo),
                repo,
            ],
        );
        let dir = env.root().join(repo);
        env.git(&dir, &["config", "protocol.ext.allow", "always"]);
        dir
    };
    let admin = clone("gitolite-admin");
    let conf = admin.join("conf/gitolite.conf");
    let mut text = std::fs::read_to_string(&conf).unwrap();
    text.push_str("\nrepo testing\n    option hook.pre-receive = fleet\n");
    std::fs::write(&conf, text).unwrap();
    env.git(&admin, &["commit", "-qam", "fleet as a repo-specific hook"]);
    env.git(&admin, &["push", "-q", "origin", "HEAD:master"]);

    let bare = home.join("repositories/testing.git");
    let hooks = bare.join("hooks");
    for link in ["pre-receive", "pre-receive.h00-fleet"] {
        let meta = std::fs::symlink_metadata(hooks.join(link)).unwrap();
        assert!(
            meta.file_type().is_symlink(),
            "gitolite did not link {link}"
        );
    }
    let out = env.fleet(&bare, &["hooks", "status", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v = json(&out.stdout);
    let pre = v["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["hook"] == "pre-receive")
        .unwrap();
    assert_eq!(pre["state"], "installed", "{v}");
    assert_eq!(pre["via"], "gitolite repo-specific hook fleet", "{v}");

    let work = clone("testing");
    std::fs::write(work.join("fleet.yaml"), VALID_FLEET).unwrap();
    std::fs::write(
        work.join("fleet.toml"),
        "[[policy]]\nactor = \"nobody@example.org\"\nallow = [\"modules/*\"]\n",
    )
    .unwrap();
    env.git(&work, &["add", "."]);
    env.git(&work, &["commit", "-qm", "fleet"]);
    env.git(&work, &["push", "-q", "origin", "HEAD:main"]);
    std::fs::write(work.join("fleet.yaml"), VALID_FLEET.replace("a: 1", "a: 2")).unwrap();
    env.git(&work, &["commit", "-qam", "out of scope"]);
    let (code, _, stderr) = git_try(&env, &work, &["push", "origin", "HEAD:main"]);
    assert_ne!(code, 0, "{stderr}");
    assert!(
        stderr.contains("m1") && stderr.contains("pushed by admin (GL_USER)"),
        "{stderr}"
    );

    let out = env.fleet(&bare, &["hooks", "uninstall", "--pre-receive"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("gitolite manages it")
            && out.stderr.contains("option hook.pre-receive = fleet"),
        "{}",
        out.stderr
    );
}
