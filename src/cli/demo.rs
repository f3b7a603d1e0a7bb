//! `git fleet demo`: a sandbox that walks through every job in one command,
//! offline, in a few seconds. Every step runs the real `git` and `git fleet`
//! commands a user would type, with a one-line explanation before it.

use crate::ui::{Outcome, Ui};
use clap::Args;
use git_fleet::{Error, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Build a sandbox and walk through every job, one explained step at a time.
///
/// A bare origin, a working clone, three peers (one with untracked files, one
/// on another branch), a fleet.yaml and a snapshot; then diff with blast
/// radius, commit through the pre-commit check, push, fanout, proof,
/// reconcile, approve, apply, a destroy that waits for review, halt/resume,
/// and the receipts in `git log --notes`. Offline, a few seconds.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet demo\n  git fleet demo --dir /tmp/fleet-demo   # keep it and explore"
)]
pub struct DemoArgs {
    /// Build the sandbox in DIR (new or empty) and keep it.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<std::path::PathBuf>,
    /// Keep the temporary sandbox and print its path.
    #[arg(long)]
    pub keep: bool,
    /// Also print one JSON object at the end (path, seconds).
    #[arg(long)]
    pub json: bool,
}

const FLEET_V1: &str = "templates:
  web-server: {name: web-server, description: Standard nginx node}
modules:
  nginx-public:
    name: nginx-public
    priority: 50
    variety: config
    config: {nginx_workers: 4, listen_port: 80}
  tls:
    name: tls
    priority: 60
    variety: config
    config: {listen_port: 443}
  legacy-cron:
    name: legacy-cron
    priority: 10
    variety: config
    config: {schedule: hourly}
assignments:
  app-01:nginx-public: {enabled: true}
  app-01:tls: {enabled: true}
  app-02:nginx-public: {enabled: true, config: {nginx_workers: 8}}
  app-03:nginx-public: {enabled: false}
  app-03:legacy-cron: {enabled: true}
";

/// The laptop's runtime proof: its "app" serves the revision its reload
/// wrote; the reload fails (like a bad config) while `laptop-reload-broken`
/// exists in the sandbox.
const LAPTOP_RUNTIME: &str = "reload = 'if test -e ../laptop-reload-broken; then echo \"app.conf: syntax error on line 1\" >&2; exit 1; fi; git rev-parse HEAD > .served'\nhealth = 'test -s .served'\nreadback = 'cat .served'\n";

struct Sandbox<'a> {
    ui: &'a Ui,
    root: PathBuf,
    exe: PathBuf,
    step: usize,
    /// `--json`: the walk-through goes to stderr, stdout holds only the JSON.
    json: bool,
}

impl Sandbox<'_> {
    fn say(&self, line: impl AsRef<str>) {
        if self.json {
            eprintln!("{}", line.as_ref());
        } else {
            self.ui.out(line);
        }
    }

    fn env(&self, cmd: &mut Command) {
        cmd.env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", self.root.join("gitconfig"))
            .env_remove("GIT_DIR")
            // The sandbox's own identity (and signing key) applies, not the caller's.
            .env_remove("GIT_AUTHOR_NAME")
            .env_remove("GIT_AUTHOR_EMAIL")
            .env_remove("GIT_COMMITTER_NAME")
            .env_remove("GIT_COMMITTER_EMAIL")
            .env_remove("GIT_WORK_TREE")
            .env("NO_COLOR", "1");
        // `git fleet` inside the sandbox must be this binary.
        let dir = self.exe.parent().map(Path::to_path_buf).unwrap_or_default();
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut paths = vec![dir];
        paths.extend(std::env::split_paths(&path));
        if let Ok(joined) = std::env::join_paths(paths) {
            cmd.env("PATH", joined);
        }
    }

    fn explain(&mut self, text: &str) {
        self.step += 1;
        self.say("");
        self.say(format!(
            "{} {}",
            self.ui.bold().apply_to(format!("{:>2}.", self.step)),
            text
        ));
    }

    /// Run a command in `dir` (relative to the sandbox), show it and its output.
    fn run(&self, dir: &str, program: &str, args: &[&str]) -> Result<(i32, String)> {
        let cwd = self.root.join(dir);
        let shown = std::iter::once(program)
            .chain(args.iter().copied())
            .map(shell_quote)
            .collect::<Vec<_>>()
            .join(" ");
        self.say(format!(
            "   {} {}",
            self.ui.dim().apply_to(format!("{dir}$")),
            self.ui.green().apply_to(&shown)
        ));
        let mut cmd = if program == "git-fleet" {
            let mut c = Command::new(&self.exe);
            c.args(args);
            c
        } else {
            let mut c = Command::new(program);
            c.args(args);
            c
        };
        cmd.current_dir(&cwd).stdin(std::process::Stdio::null());
        self.env(&mut cmd);
        let out = cmd
            .output()
            .map_err(|e| Error::Command(format!("demo: cannot run {shown}: {e}")))?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for line in text.lines() {
            self.say(format!("     {line}"));
        }
        Ok((out.status.code().unwrap_or(-1), text))
    }

    /// Like `run`, but the step must succeed (exit 0 or 1 where noted).
    fn must(&self, dir: &str, program: &str, args: &[&str], ok: &[i32]) -> Result<String> {
        let (code, text) = self.run(dir, program, args)?;
        if !ok.contains(&code) {
            return Err(Error::Command(format!(
                "demo step failed: `{program} {}` in {dir} exited {code}",
                args.join(" ")
            )));
        }
        Ok(text)
    }

    fn quiet(&self, dir: &str, program: &str, args: &[&str]) -> Result<String> {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .current_dir(self.root.join(dir))
            .stdin(std::process::Stdio::null());
        self.env(&mut cmd);
        let out = cmd
            .output()
            .map_err(|e| Error::Command(format!("demo: cannot run {program}: {e}")))?;
        if !out.status.success() {
            return Err(Error::Command(format!(
                "demo setup failed: `{program} {}`: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn write(&self, rel: &str, text: &str) -> Result<()> {
        let path = self.root.join(rel);
        std::fs::write(&path, text).map_err(|source| Error::Write { path, source })
    }
}

pub fn run(ui: &Ui, args: DemoArgs) -> Result<Outcome> {
    let started = Instant::now();
    let (root, _guard) = match &args.dir {
        Some(dir) => {
            if dir.exists()
                && std::fs::read_dir(dir)
                    .map(|mut d| d.next().is_some())
                    .unwrap_or(true)
            {
                return Err(Error::usage(format!(
                    "{} exists and is not empty; the demo needs a new directory",
                    dir.display()
                )));
            }
            std::fs::create_dir_all(dir).map_err(|source| Error::Write {
                path: dir.clone(),
                source,
            })?;
            (std::fs::canonicalize(dir).unwrap_or(dir.clone()), None)
        }
        None => {
            let dir = std::env::temp_dir().join(format!("git-fleet-demo-{}", std::process::id()));
            std::fs::create_dir_all(&dir).map_err(|source| Error::Write {
                path: dir.clone(),
                source,
            })?;
            let keep = args.keep;
            (dir.clone(), Some(RemoveOnDrop { dir, keep }))
        }
    };
    let exe = std::env::current_exe()
        .map_err(|e| Error::Command(format!("cannot find this binary: {e}")))?;
    let mut s = Sandbox {
        ui,
        root: root.clone(),
        exe,
        step: 0,
        json: args.json,
    };
    walk(&mut s)?;
    let secs = started.elapsed().as_secs_f64();
    if args.json {
        ui.json(serde_json::json!({ "dir": root, "kept": args.keep || args.dir.is_some(), "seconds": secs}));
    }
    s.say(String::new());
    s.say(format!(
        "{} in {secs:.1} s. Explore the sandbox:",
        ui.bold().apply_to("Done")
    ));
    let kept = args.keep || args.dir.is_some();
    let at = root.display();
    if kept {
        s.say(format!("   cd {at}/work"));
        s.say("   git log --notes=fleet/* --oneline -5       # receipts and fanout notes");
        s.say("   git fleet proposals; git fleet runs; git fleet proof");
        s.say("   git fleet snapshot --log staging; git fleet render app-01");
        s.say("   git -C ../peer-wrong-branch status           # the blocked peer, untouched");
    } else {
        s.say(
            "   (the sandbox was removed; run `git fleet demo --keep` or `--dir DIR` to keep it)",
        );
    }
    Ok(Outcome::Done)
}

/// A word as a POSIX shell reads it back: as is when only safe characters,
/// else in single quotes (a `'` inside written as `'\''`), so a shown command
/// can be pasted.
fn shell_quote(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

struct RemoveOnDrop {
    dir: PathBuf,
    keep: bool,
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn walk(s: &mut Sandbox<'_>) -> Result<()> {
    s.write("gitconfig", "[user]\n\tname = Demo Operator\n\temail = operator@example.com\n[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n")?;
    // Receipts are signed with an SSH key, in git's own SSH-signature format,
    // when ssh-keygen is available (it is what git itself uses).
    let key = s.root.join("operator_ed25519");
    let keygen = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "operator@example.com",
            "-f",
        ])
        .arg(&key)
        .stdin(std::process::Stdio::null())
        .output();
    if keygen.is_ok_and(|o| o.status.success()) {
        let public = std::fs::read_to_string(key.with_extension("pub")).unwrap_or_default();
        s.write(
            "allowed_signers",
            &format!(
                "operator@example.com namespaces=\"git-fleet\" {}",
                public.trim()
            ),
        )?;
        let extra = format!(
            "[gpg]\n\tformat = ssh\n[gpg \"ssh\"]\n\tallowedSignersFile = {}\n[user]\n\tsigningKey = {}\n",
            s.root.join("allowed_signers").display(),
            key.display()
        );
        let base = std::fs::read_to_string(s.root.join("gitconfig")).unwrap_or_default();
        s.write("gitconfig", &format!("{base}{extra}"))?;
    }
    s.explain(
        "A bare origin, a working clone, and a fleet.yaml with templates, modules and assignments.",
    );
    s.quiet(".", "git", &["init", "-q", "--bare", "origin.git"])?;
    s.quiet(".", "git", &["clone", "-q", "origin.git", "work"])?;
    s.write("work/fleet.yaml", FLEET_V1)?;
    s.write("work/app.conf", "workers = 4\n")?;
    s.write(
        "work/fleet.toml",
        &format!("[targets.staging]\nauto_apply = false\n\n[peers.laptop]\nlocation = \"../peer-laptop\"\n{LAPTOP_RUNTIME}\n[peers.workstation]\nlocation = \"../peer-workstation\"\n\n[peers.lane-b]\nlocation = \"../peer-wrong-branch\"\n"),
    )?;
    s.quiet("work", "git", &["add", "."])?;
    s.quiet(
        "work",
        "git",
        &["commit", "-q", "-m", "fleet: initial state"],
    )?;
    s.quiet("work", "git", &["push", "-q", "origin", "main"])?;
    s.must("work", "git-fleet", &["init"], &[0])?;
    // Peer locations in fleet.toml are relative to the repository; make them absolute.
    let toml = std::fs::read_to_string(s.root.join("work/fleet.toml")).unwrap_or_default();
    let abs = toml.replace("\"../", &format!("\"{}/", s.root.display()));
    s.write("work/fleet.toml", &abs)?;
    s.quiet("work", "git", &["commit", "-q", "-am", "fleet: peers"])?;
    s.quiet("work", "git", &["push", "-q", "origin", "main"])?;

    s.explain("Three peer checkouts: a clean laptop, a workstation with an untracked scratch file, and a lane on another branch.");
    for peer in ["peer-laptop", "peer-workstation", "peer-wrong-branch"] {
        s.quiet(".", "git", &["clone", "-q", "origin.git", peer])?;
    }
    s.write(
        "peer-workstation/notes.txt",
        "scratch notes: untracked files never block and are never touched\n",
    )?;
    s.quiet(
        "peer-wrong-branch",
        "git",
        &["checkout", "-q", "-b", "experiment"],
    )?;
    s.must("work", "git-fleet", &["peers", "list"], &[0])?;

    s.explain("Record today's live state of the `staging` target (here: what is committed).");
    s.must(
        "work",
        "git-fleet",
        &["snapshot", "staging", "-m", "live export"],
        &[0],
    )?;

    s.explain("Edit desired state; `diff` shows each change and its blast radius (fan-out x density, and the values that really change).");
    let v2 = FLEET_V1
        .replace("config: {nginx_workers: 4, listen_port: 80}", "config: {nginx_workers: 6, listen_port: 80}")
        .replace("  app-03:legacy-cron: {enabled: true}\n", "")
        .replace("  legacy-cron:\n    name: legacy-cron\n    priority: 10\n    variety: config\n    config: {schedule: hourly}\n", "");
    s.write("work/fleet.yaml", &v2)?;
    s.write("work/app.conf", "workers = 6\n")?;
    s.must("work", "git-fleet", &["diff", "staging"], &[0])?;

    s.explain("Commit: the pre-commit hook validates the staged fleet.yaml (an invalid file would block the commit).");
    s.must(
        "work",
        "git-fleet",
        &["hooks", "install", "--pre-commit"],
        &[0],
    )?;
    s.quiet("work", "git", &["add", "fleet.yaml", "app.conf"])?;
    s.must(
        "work",
        "git",
        &["commit", "-m", "nginx: 6 workers; retire legacy-cron"],
        &[0],
    )?;

    s.explain("Push. A push proves the remote accepted the commit, not that anything runs it.");
    s.must("work", "git", &["push", "-q", "origin", "main"], &[0])?;

    s.explain(
        "Fanout: fast-forward the peers that are safe to move, name the rest, touch nothing else. The laptop also declares reload, health and readback (its runtime proof).",
    );
    s.must("work", "git-fleet", &["fanout"], &[0, 1])?;

    s.explain(
        "Proof: origin -> host -> runtime, per peer, from the record fanout left on the commit.",
    );
    s.must("work", "git-fleet", &["proof"], &[0, 1])?;

    s.explain("A reload that fails: the laptop's next reload breaks (a bad config). The peer moves, the reload fails, and the reload stays owed.");
    s.write("laptop-reload-broken", "")?;
    s.write("work/app.conf", "workers = 6\nlisten = 8080\n")?;
    s.quiet(
        "work",
        "git",
        &["commit", "-q", "-am", "app: listen on 8080"],
    )?;
    s.quiet("work", "git", &["push", "-q", "origin", "main"])?;
    s.must("work", "git-fleet", &["fanout"], &[1])?;
    s.must("work", "git-fleet", &["proof"], &[1])?;

    s.explain("Fixed: the next fanout runs the owed reload again (the peer is already current), then health and readback; the laptop's proof is ok.");
    std::fs::remove_file(s.root.join("laptop-reload-broken")).map_err(|source| Error::Write {
        path: s.root.join("laptop-reload-broken"),
        source,
    })?;
    s.must("work", "git-fleet", &["fanout"], &[0, 1])?;
    s.must("work", "git-fleet", &["proof"], &[0, 1])?;

    s.explain("Reconcile: every diff between desired and live becomes a proposal for review (auto_apply is off).");
    s.must("work", "git-fleet", &["reconcile", "staging"], &[0, 1])?;
    s.must("work", "git-fleet", &["proposals"], &[0])?;

    s.explain("Approve and apply the update; the apply checks the proposal is not stale and leaves a receipt.");
    let list = s.quiet(
        "work",
        &s.exe.display().to_string(),
        &["proposals", "--state", "pending_review"],
    )?;
    let update = first_id(&list, "update")
        .ok_or_else(|| Error::Command("demo: no update proposal".into()))?;
    s.must(
        "work",
        "git-fleet",
        &["approve", &update, "--reason", "reviewed in the demo"],
        &[0],
    )?;
    s.must("work", "git-fleet", &["apply", &update], &[0])?;

    s.explain("Destroys always wait for a person: the retired module and its assignment are still pending review.");
    s.must(
        "work",
        "git-fleet",
        &["proposals", "--state", "pending_review"],
        &[0],
    )?;

    s.explain("The kill switch: halt stops all auto-apply (replicated like any ref); resume lifts it. Both leave receipts.");
    s.must(
        "work",
        "git-fleet",
        &["halt", "--reason", "demo incident"],
        &[0],
    )?;
    s.must("work", "git-fleet", &["resume"], &[0])?;

    s.explain("Evidence: receipts are git notes, readable with plain git log.");
    s.must(
        "work",
        "git",
        &["log", "--notes=fleet/receipts", "-1", "--format=%h %s%n%N"],
        &[0],
    )?;
    s.must(
        "work",
        "git",
        &["notes", "--ref=fleet/receipts", "list"],
        &[0],
    )?;
    s.explain("Bounded writes: a [[policy]] lets the web team change nginx-* modules only; a change outside it is refused and the rule named.");
    let toml = std::fs::read_to_string(s.root.join("work/fleet.toml")).unwrap_or_default();
    s.write(
        "work/fleet.toml",
        &format!("{toml}\n[[policy]]\nname = \"web-team\"\nactor = \"operator@example.com\"\nallow = [\"modules/nginx-*\", \"assignments/app-*:*\"]\ndestroy = false\n"),
    )?;
    s.quiet(
        "work",
        "git",
        &["commit", "-q", "-am", "policy: web team scope"],
    )?;
    let fleet = std::fs::read_to_string(s.root.join("work/fleet.yaml")).unwrap_or_default();
    s.write(
        "work/fleet.yaml",
        &fleet.replace("config: {listen_port: 443}", "config: {listen_port: 8443}"),
    )?;
    s.must("work", "git-fleet", &["diff", "--check"], &[1])?;
    s.quiet("work", "git", &["checkout", "-q", "fleet.yaml"])?;

    s.explain("Receipts form a hash chain (each names the sha256 of the one before); verify walks it and checks every block.");
    s.must("work", "git-fleet", &["receipts", "log"], &[0])?;
    s.must("work", "git-fleet", &["receipts", "verify"], &[0])?;
    Ok(())
}

/// The first proposal id (12 characters) listed with `change`.
fn first_id(list: &str, change: &str) -> Option<String> {
    list.lines()
        .find(|l| l.split_whitespace().nth(3) == Some(change))
        .and_then(|l| l.split_whitespace().next())
        .map(str::to_string)
}
