//! Peer checkouts in every state fanout must recognise, for the local and the
//! SSH fanout tests: `use crate::common::peer_states;`.
#![allow(dead_code)]

use super::TestEnv;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// origin (bare), the delivering repo `dev` at commit `base`, pushed.
pub struct Fleet {
    pub origin: PathBuf,
    pub dev: PathBuf,
    pub base: String,
}

pub fn fleet(env: &TestEnv) -> Fleet {
    let dev = env.repo("dev");
    std::fs::create_dir_all(dev.join("src")).unwrap();
    for i in 0..5 {
        std::fs::write(dev.join(format!("src/f{i}.txt")), format!("file {i}\n")).unwrap();
    }
    std::fs::write(dev.join("src/tool.sh"), "echo tool\n").unwrap();
    env.git(&dev, &["add", "src"]);
    env.git(&dev, &["commit", "-q", "-m", "base"]);
    let origin = env.origin_of(&dev, true);
    let base = env.git(&dev, &["rev-parse", "HEAD"]).trim().to_string();
    Fleet { origin, dev, base }
}

impl Fleet {
    /// A fresh clone of origin under `peers/<name>`.
    pub fn peer(&self, env: &TestEnv, name: &str) -> PathBuf {
        std::fs::create_dir_all(env.root().join("peers")).unwrap();
        env.clone_of(&self.origin, &format!("peers/{name}"))
    }

    /// Commit a change in dev and push it; returns the new commit.
    pub fn push_change(&self, env: &TestEnv, file: &str, text: &str) -> String {
        let path = self.dev.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        env.git(&self.dev, &["add", file]);
        env.git(
            &self.dev,
            &["commit", "-q", "-m", &format!("change {file}")],
        );
        env.git(&self.dev, &["push", "-q", "origin", "main"]);
        env.git(&self.dev, &["rev-parse", "HEAD"])
            .trim()
            .to_string()
    }

    pub fn declare(&self, env: &TestEnv, name: &str, path: &Path) {
        let out = env.fleet(&self.dev, &["peers", "add", name, path.to_str().unwrap()]);
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
}

/// sha256 over everything a blocked peer must keep: every file of the work
/// tree (tracked or not, path, mode and bytes), the index file, HEAD, every
/// ref, the HEAD reflog, ORIG_HEAD and FETCH_HEAD, `git ls-files -s`, and
/// git's in-progress state files.
pub fn state_hash(env: &TestEnv, repo: &Path) -> String {
    let mut h = Sha256::new();
    fn walk(dir: &Path, root: &Path, h: &mut Sha256) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if rel == ".git" {
                continue;
            }
            let meta = std::fs::symlink_metadata(&p).unwrap();
            use std::os::unix::fs::PermissionsExt;
            h.update(format!("{rel} {:o}\n", meta.permissions().mode()));
            if meta.is_dir() {
                walk(&p, root, h);
            } else if meta.is_file() {
                h.update(std::fs::read(&p).unwrap());
            }
        }
    }
    if repo.exists() {
        walk(repo, repo, &mut h);
    }
    let git = repo.join(".git");
    for f in [
        "HEAD",
        "index",
        "packed-refs",
        "MERGE_HEAD",
        "ORIG_HEAD",
        "FETCH_HEAD",
        "logs/HEAD",
        "index.lock",
        "rebase-merge/head-name",
        "rebase-merge/done",
    ] {
        if let Ok(bytes) = std::fs::read(git.join(f)) {
            h.update(f.as_bytes());
            h.update(bytes);
        }
    }
    if git.exists() {
        h.update(env.refs(repo));
        let out = env
            .command("git", repo)
            .args(["ls-files", "-s"])
            .output()
            .unwrap();
        h.update(out.stdout);
    }
    format!("{:x}", h.finalize())
}

fn run_git(env: &TestEnv, repo: &Path, args: &[&str]) -> bool {
    env.command("git", repo)
        .args(args)
        .output()
        .unwrap()
        .status
        .success()
}

/// Every state, the outcome fanout must give it, and where it is.
pub struct States {
    pub commit: String,
    /// (name, path, expected outcome)
    pub peers: Vec<(String, PathBuf, &'static str)>,
    /// State hashes of the peers expected to be blocked, taken just before fanout.
    pub before: Vec<(String, String)>,
}

impl States {
    pub fn path(&self, name: &str) -> PathBuf {
        self.peers
            .iter()
            .find(|(n, _, _)| n == name)
            .unwrap_or_else(|| panic!("no peer {name}"))
            .1
            .clone()
    }

    /// Every blocked peer is byte for byte as it was.
    pub fn assert_blocked_untouched(&self, env: &TestEnv) {
        for (name, hash) in &self.before {
            assert_eq!(
                &state_hash(env, &self.path(name)),
                hash,
                "blocked peer {name} was changed"
            );
        }
    }
}

pub const FAST_FORWARD: [&str; 2] = ["clean", "untracked"];

/// Builds every peer state, declares each peer in dev's fleet.toml with
/// `declare(name, path) -> toml table`, pushes the commit to deliver, and
/// hashes the peers that must stay untouched.
pub fn make_states(env: &TestEnv, f: &Fleet, declare: &dyn Fn(&str, &Path) -> String) -> States {
    let expected: [(&str, &'static str); 18] = [
        ("clean", "fast-forwarded"),
        ("untracked", "fast-forwarded"),
        ("staged", "dirty"),
        ("unstaged", "dirty"),
        ("same-size", "dirty"),
        ("chmod", "dirty"),
        ("deleted", "dirty"),
        ("intent-to-add", "dirty"),
        ("diverged", "diverged"),
        ("ahead", "ahead"),
        ("wrong-branch", "wrong-branch"),
        ("detached", "detached"),
        ("locked", "busy"),
        ("mid-merge", "busy"),
        ("mid-rebase", "busy"),
        ("in-the-way", "dirty"),
        ("missing", "missing"),
        ("not-a-repo", "not-a-repo"),
    ];
    let mut peers: Vec<(String, PathBuf, &'static str)> = Vec::new();
    for (name, outcome) in expected {
        let path = match name {
            "missing" => env.root().join("peers/missing"),
            "not-a-repo" => {
                let p = env.root().join("peers/plain-dir");
                std::fs::create_dir_all(&p).unwrap();
                std::fs::write(p.join("file"), "x\n").unwrap();
                p
            }
            _ => f.peer(env, name),
        };
        peers.push((name.to_string(), path, outcome));
    }
    let p = |n: &str| peers.iter().find(|(x, _, _)| x == n).unwrap().1.clone();

    std::fs::write(p("untracked").join("notes.txt"), "mine\n").unwrap();
    std::fs::write(p("staged").join("README"), "staged edit\n").unwrap();
    env.git(&p("staged"), &["add", "README"]);
    std::fs::write(p("unstaged").join("src/f1.txt"), "unstaged edit\n").unwrap();
    // Same size, written right after the checkout: only content tells.
    std::fs::write(p("same-size").join("src/f2.txt"), "FILE 2\n").unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        let tool = p("chmod").join("src/tool.sh");
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::remove_file(p("deleted").join("src/f3.txt")).unwrap();
    std::fs::write(p("intent-to-add").join("new.txt"), "new\n").unwrap();
    env.git(&p("intent-to-add"), &["add", "-N", "new.txt"]);
    std::fs::write(p("diverged").join("local.txt"), "local\n").unwrap();
    env.git(&p("diverged"), &["add", "local.txt"]);
    env.git(&p("diverged"), &["commit", "-q", "-m", "peer's own commit"]);
    env.git(&p("wrong-branch"), &["checkout", "-q", "-b", "experiment"]);
    env.git(&p("detached"), &["checkout", "-q", "--detach"]);
    std::fs::write(p("locked").join(".git/index.lock"), "").unwrap();
    // mid-merge: a merge stopped before committing.
    let m = p("mid-merge");
    env.git(&m, &["checkout", "-q", "-b", "side"]);
    std::fs::write(m.join("side.txt"), "side\n").unwrap();
    env.git(&m, &["add", "side.txt"]);
    env.git(&m, &["commit", "-q", "-m", "side"]);
    env.git(&m, &["checkout", "-q", "main"]);
    env.git(&m, &["merge", "-q", "--no-ff", "--no-commit", "side"]);
    assert!(m.join(".git/MERGE_HEAD").exists());
    // mid-rebase: a rebase stopped on a conflict.
    let r = p("mid-rebase");
    env.git(&r, &["checkout", "-q", "-b", "upstream"]);
    std::fs::write(r.join("README"), "upstream\n").unwrap();
    env.git(&r, &["commit", "-q", "-am", "upstream edit"]);
    env.git(&r, &["checkout", "-q", "main"]);
    std::fs::write(r.join("README"), "local\n").unwrap();
    env.git(&r, &["commit", "-q", "-am", "local edit"]);
    assert!(!run_git(env, &r, &["rebase", "-q", "upstream"]));
    assert!(r.join(".git/rebase-merge").exists());
    // in-the-way: an untracked file where the delivered commit adds one.
    std::fs::write(p("in-the-way").join("added.txt"), "untracked, mine\n").unwrap();

    let toml: String = peers
        .iter()
        .map(|(n, path, _)| declare(n, path) + "\n")
        .collect();
    std::fs::write(f.dev.join("fleet.toml"), toml).unwrap();

    let commit = f.push_change(env, "added.txt", "from dev\n");
    // ahead: already has the commit, plus one of its own.
    env.git(&p("ahead"), &["pull", "-q", "--ff-only"]);
    std::fs::write(p("ahead").join("more.txt"), "more\n").unwrap();
    env.git(&p("ahead"), &["add", "more.txt"]);
    env.git(&p("ahead"), &["commit", "-q", "-m", "peer is ahead"]);

    let before = peers
        .iter()
        .filter(|(n, _, _)| !FAST_FORWARD.contains(&n.as_str()))
        .map(|(n, path, _)| (n.clone(), state_hash(env, path)))
        .collect();
    States {
        commit,
        peers,
        before,
    }
}

/// Everything that shows a peer moved or was written to by git: HEAD, every
/// ref, the HEAD reflog, ORIG_HEAD and FETCH_HEAD, the index's mtime.
pub fn moved_marks(env: &TestEnv, repo: &Path) -> String {
    let git = repo.join(".git");
    let read = |f: &str| std::fs::read_to_string(git.join(f)).unwrap_or_else(|_| "-".into());
    let index_mtime = std::fs::metadata(git.join("index"))
        .and_then(|m| m.modified())
        .map(|t| format!("{t:?}"))
        .unwrap_or_default();
    format!(
        "HEAD {}\nrefs\n{}\nreflog {}\nORIG_HEAD {}\nFETCH_HEAD {}\nindex {index_mtime}\nhash {}",
        read("HEAD"),
        env.refs(repo),
        read("logs/HEAD"),
        read("ORIG_HEAD"),
        read("FETCH_HEAD"),
        state_hash(env, repo)
    )
}

impl Fleet {
    /// A fresh clone of origin under `peers/<name>`, checked out on `branch`.
    pub fn peer_on(&self, env: &TestEnv, name: &str, branch: &str) -> PathBuf {
        let path = env.root().join("peers").join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        env.git(
            env.root(),
            &[
                "clone",
                "-q",
                "-b",
                branch,
                self.origin.to_str().unwrap(),
                path.to_str().unwrap(),
            ],
        );
        path
    }

    /// Commit a change in dev without pushing it; returns the new commit.
    pub fn commit_only(&self, env: &TestEnv, file: &str, text: &str) -> String {
        let path = self.dev.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        env.git(&self.dev, &["add", file]);
        env.git(&self.dev, &["commit", "-q", "-m", &format!("local {file}")]);
        env.git(&self.dev, &["rev-parse", "HEAD"])
            .trim()
            .to_string()
    }
}
