//! The read-only checks before a peer is written to: reachable, a repository,
//! nothing in progress, on its branch, clean, nothing in the way, no hidden edits.
use super::report::Blocker;
use super::run::{blocked, PeerRun, Stop};
use super::status::{added_paths, changed_paths, parse_status, MAX_IN_THE_WAY_PATHS};
use super::text::{first_line, first_three, shell_error_text, short};
use crate::peers::config::Location;
use crate::peers::local;
use crate::peers::shell::{CmdOutput, ShellError};
use gix::ObjectId;
use std::collections::HashSet;

/// What the read-only checks found out about a peer.
pub(super) struct Probe {
    pub(super) head: ObjectId,
}

/// Relation of the peer's HEAD to the delivered commit.
pub(super) enum Ancestry {
    Equal,
    Behind,
    Ahead,
    Diverged,
}

impl PeerRun<'_> {
    /// Exists, is a repository (at its top level), nothing in progress, on
    /// the branch, clean. Only reads.
    pub(super) fn probe(&self) -> std::result::Result<Probe, Stop> {
        const STATE: [(&str, &str); 7] = local::IN_PROGRESS;
        if let Location::Local(path) = &self.peer.location {
            match std::fs::metadata(path) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(blocked(
                        Blocker::NotARepo,
                        format!("{} is a file, not a directory", path.display()),
                    ))
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(blocked(
                        Blocker::Missing,
                        format!("{} does not exist", path.display()),
                    ))
                }
                Err(e) => {
                    return Err(blocked(
                        Blocker::Missing,
                        format!("cannot read {}: {e}", path.display()),
                    ))
                }
            }
        }
        if let Some(repo) = self.local_repo() {
            if let Some(why) = local::in_progress(repo) {
                return Err(blocked(Blocker::Busy, why));
            }
            if let Some((name, head)) = local::head(repo) {
                self.check_branch(name.as_deref().unwrap_or("HEAD"), head)?;
                if !local::certainly_clean(repo, head) {
                    self.check_clean()?;
                }
                return Ok(Probe { head });
            }
            // Unborn or unreadable HEAD: git words it below.
        }
        let mut args: Vec<&str> = vec!["rev-parse", "--show-cdup"];
        for (path, _) in STATE {
            args.extend(["--git-path", path]);
        }
        args.extend(["HEAD", "--symbolic-full-name", "HEAD"]);
        let out = self.git(&args)?;
        let lines: Vec<&str> = out.stdout.lines().collect();
        if !out.success() || lines.len() != 3 + STATE.len() {
            return Err(self.classify_probe_failure(&out, &lines));
        }
        if !lines[0].trim().is_empty() {
            return Err(blocked(
                Blocker::NotARepo,
                format!(
                    "{} is not a repository's top level (it is inside the repository at {})",
                    self.dir,
                    lines[0].trim()
                ),
            ));
        }
        let paths = &lines[1..1 + STATE.len()];
        let present = self.existing(paths)?;
        for ((_, why), exists) in STATE.iter().zip(&present) {
            if *exists {
                return Err(blocked(Blocker::Busy, *why));
            }
        }
        let head_line = lines[1 + STATE.len()];
        let symbolic = lines[2 + STATE.len()];
        let head = ObjectId::from_hex(head_line.trim().as_bytes()).map_err(|_| {
            blocked(
                Blocker::NotARepo,
                format!("cannot read HEAD: '{}'", head_line.trim()),
            )
        })?;
        self.check_branch(symbolic, head)?;
        self.check_clean()?;
        Ok(Probe { head })
    }

    /// Detached, or on another branch than expected: blocked.
    pub(super) fn check_branch(
        &self,
        symbolic: &str,
        head: ObjectId,
    ) -> std::result::Result<(), Stop> {
        self.head_seen.set(Some(head));
        if symbolic == "HEAD" {
            return Err(blocked(
                Blocker::Detached,
                format!(
                    "HEAD is detached at {}; expected branch {}",
                    short(head),
                    self.branch
                ),
            ));
        }
        let current = symbolic.strip_prefix("refs/heads/").unwrap_or(symbolic);
        if current != self.branch {
            return Err(blocked(
                Blocker::WrongBranch,
                format!("on {current}, expected {}", self.branch),
            ));
        }
        Ok(())
    }

    /// The peer's repository opened in-process (local peers whose work tree
    /// is exactly their location), opened once.
    pub(super) fn local_repo(&self) -> Option<&gix::Repository> {
        self.local
            .get_or_init(|| match &self.peer.location {
                Location::Local(path) => local::open(path),
                Location::Ssh(_) => None,
            })
            .as_ref()
    }

    pub(super) fn classify_probe_failure(&self, out: &CmdOutput, lines: &[&str]) -> Stop {
        let err = out.stderr.trim();
        // A bare repository has no work tree to deliver to.
        if let Ok(o) = self.shell.run(
            &self.dir,
            &["git", "rev-parse", "--is-bare-repository"],
            self.timeout(),
        ) {
            if o.success() && o.stdout.trim() == "true" {
                return blocked(
                    Blocker::NotARepo,
                    format!(
                        "{} is a bare repository: it has no work tree to deliver to (a peer is a checkout)",
                        self.dir
                    ),
                );
            }
        }
        if err.contains("not a git repository") {
            return blocked(
                Blocker::NotARepo,
                format!("{} is not a git repository", self.dir),
            );
        }
        if err.contains("unknown revision") && lines.len() >= 2 {
            return blocked(
                Blocker::Diverged,
                format!(
                    "the peer's branch has no commits yet, so {} cannot fast-forward (clone it instead)",
                    self.branch
                ),
            );
        }
        // Does the directory exist at all? (SSH peers: `cd` is what failed.)
        match self.shell.run(&self.dir, &["true"], self.timeout()) {
            Ok(o) if o.success() => blocked(
                Blocker::NotARepo,
                if first_line(err).is_empty() {
                    format!(
                        "{} is not a checkout git can read (git rev-parse printed {} lines, no error)",
                        self.dir,
                        lines.len()
                    )
                } else {
                    format!("cannot read the repository: {}", first_line(err))
                },
            ),
            Ok(o) => blocked(
                Blocker::Missing,
                format!(
                    "{} does not exist or cannot be entered ({})",
                    self.dir,
                    first_line(o.stderr.trim())
                ),
            ),
            Err(ShellError::Other(m)) => blocked(
                Blocker::Missing,
                format!("{} does not exist ({})", self.dir, first_line(&m)),
            ),
            Err(e) => blocked(Blocker::Unreachable, shell_error_text(&e)),
        }
    }

    /// Which of `paths` (relative to the peer directory, or absolute) exist.
    pub(super) fn existing(&self, paths: &[&str]) -> std::result::Result<Vec<bool>, Stop> {
        if let Location::Local(root) = &self.peer.location {
            return Ok(paths
                .iter()
                .map(|p| root.join(p).symlink_metadata().is_ok())
                .collect());
        }
        let mut argv = vec!["ls", "-d", "--"];
        argv.extend_from_slice(paths);
        let out = self
            .shell
            .run(&self.dir, &argv, self.timeout())
            .map_err(|e| blocked(Blocker::Unreachable, shell_error_text(&e)))?;
        let listed: HashSet<&str> = out.stdout.lines().collect();
        Ok(paths.iter().map(|p| listed.contains(p)).collect())
    }

    /// No staged, unstaged or conflicted changes to tracked files. Untracked
    /// files are not even listed. `--no-optional-locks`: a read-only status
    /// that does not refresh (rewrite) the peer's index.
    pub(super) fn check_clean(&self) -> std::result::Result<(), Stop> {
        let out = self.git(&[
            "--no-optional-locks",
            "status",
            "--porcelain=v2",
            "-z",
            "--untracked-files=no",
            "--ignore-submodules=none",
        ])?;
        if !out.success() {
            if out.stderr.contains("index.lock") {
                return Err(blocked(Blocker::Busy, first_line(out.stderr.trim())));
            }
            return Err(blocked(
                Blocker::NotARepo,
                format!("git status failed: {}", first_line(out.stderr.trim())),
            ));
        }
        let changes = parse_status(&out.stdout);
        if changes.is_empty() {
            return Ok(());
        }
        let staged = changes.iter().filter(|c| c.staged).count();
        let unstaged = changes.iter().filter(|c| c.unstaged).count();
        let conflicted = changes.iter().filter(|c| c.conflicted).count();
        let mut parts = Vec::new();
        if staged > 0 {
            parts.push(format!("{staged} staged"));
        }
        if unstaged > 0 {
            parts.push(format!("{unstaged} unstaged"));
        }
        if conflicted > 0 {
            parts.push(format!("{conflicted} conflicted"));
        }
        let mut names: Vec<&str> = changes.iter().take(3).map(|c| c.path.as_str()).collect();
        if changes.len() > 3 {
            names.push("...");
        }
        Err(blocked(
            Blocker::Dirty,
            format!(
                "{} change{} to tracked files ({}): {}",
                changes.len(),
                if changes.len() == 1 { "" } else { "s" },
                parts.join(", "),
                names.join(", ")
            ),
        ))
    }

    /// Paths the fast-forward would create must not exist in the peer: an
    /// untracked file there would make git refuse (after it has already
    /// rewritten ORIG_HEAD), and an *ignored* one git would silently
    /// overwrite. Checked before anything is written.
    pub(super) fn check_nothing_in_the_way(
        &self,
        head: ObjectId,
        target: ObjectId,
    ) -> std::result::Result<(), Stop> {
        let Ok(added) = added_paths(self.repo, head, self.known(target)) else {
            return Ok(()); // git merge --ff-only still refuses what it must
        };
        if added.is_empty() || added.len() > MAX_IN_THE_WAY_PATHS {
            return Ok(());
        }
        let mut in_the_way = Vec::new();
        match &self.peer.location {
            Location::Local(root) => {
                for (path, is_dir) in &added {
                    if let Ok(meta) = root.join(path).symlink_metadata() {
                        if !*is_dir || !meta.is_dir() {
                            in_the_way.push(path.as_str());
                        }
                    }
                }
            }
            Location::Ssh(_) => {
                // `ls -dp`: existing paths, directories with a trailing '/'.
                let mut argv = vec!["ls", "-dp", "--"];
                argv.extend(added.iter().map(|(p, _)| p.as_str()));
                let out = self
                    .shell
                    .run(&self.dir, &argv, self.timeout())
                    .map_err(|e| blocked(Blocker::Unreachable, shell_error_text(&e)))?;
                let listed: HashSet<&str> = out.stdout.lines().collect();
                for (path, is_dir) in &added {
                    let as_dir = format!("{path}/");
                    if listed.contains(path.as_str())
                        || (!*is_dir && listed.contains(as_dir.as_str()))
                    {
                        in_the_way.push(path.as_str());
                    }
                }
            }
        }
        if in_the_way.is_empty() {
            return Ok(());
        }
        let names = first_three(&in_the_way);
        Err(blocked(
            Blocker::Dirty,
            format!(
                "untracked or ignored files are where {} adds files (left untouched): {}",
                short(target),
                names.join(", ")
            ),
        ))
    }

    /// `target` when this repository has it, else the delivered commit (the
    /// part of the move this repository can see).
    pub(super) fn known(&self, target: ObjectId) -> ObjectId {
        if self.repo.has_object(target) {
            target
        } else {
            self.req.commit
        }
    }

    /// A file marked skip-worktree or assume-unchanged hides its local edits
    /// from `git status`, but `git merge --ff-only` refuses to overwrite it
    /// (after writing ORIG_HEAD). Found here first, before any write: such a
    /// file with local edits that the move changes blocks the peer (`dirty`).
    pub(super) fn check_hidden_edits(
        &self,
        head: ObjectId,
        target: ObjectId,
    ) -> std::result::Result<(), Stop> {
        let Ok(changed) = changed_paths(self.repo, head, self.known(target)) else {
            return Ok(()); // git merge --ff-only still refuses what it must
        };
        if changed.is_empty() {
            return Ok(());
        }
        let hidden = match self.local_repo().and_then(local::hidden_entries) {
            Some(all) => {
                let changed: HashSet<&str> = changed.iter().map(String::as_str).collect();
                all.into_iter()
                    .filter(|(p, _)| changed.contains(p.as_str()))
                    .collect()
            }
            None => self.hidden_via_git(&changed)?,
        };
        if hidden.is_empty() {
            return Ok(());
        }
        let paths: Vec<&str> = hidden.iter().map(|(p, _)| p.as_str()).collect();
        let present = self.existing(&paths)?;
        let present: Vec<&(String, ObjectId)> = hidden
            .iter()
            .zip(present)
            .filter(|(_, there)| *there)
            .map(|(h, _)| h)
            .collect();
        if present.is_empty() {
            return Ok(()); // not in the work tree: nothing local to lose
        }
        let mut argv = vec!["hash-object", "--"];
        argv.extend(present.iter().map(|(p, _)| p.as_str()));
        let out = self.git(&argv)?;
        let ids: Vec<Option<ObjectId>> = out
            .stdout
            .lines()
            .map(|l| ObjectId::from_hex(l.trim().as_bytes()).ok())
            .collect();
        let edited: Vec<&str> = present
            .iter()
            .enumerate()
            .filter(|(i, (_, id))| !out.success() || ids.get(*i).copied().flatten() != Some(*id))
            .map(|(_, (p, _))| p.as_str())
            .collect();
        if edited.is_empty() {
            return Ok(());
        }
        let names = first_three(&edited);
        Err(blocked(
            Blocker::Dirty,
            format!(
                "{} file{} marked skip-worktree or assume-unchanged {} local edits that {} changes (left untouched; `git update-index --no-skip-worktree --no-assume-unchanged` shows them): {}",
                edited.len(),
                if edited.len() == 1 { "" } else { "s" },
                if edited.len() == 1 { "has" } else { "have" },
                short(target),
                names.join(", ")
            ),
        ))
    }

    /// Index entries among `paths` marked skip-worktree or assume-unchanged,
    /// with their blob ids, as git lists them (`ls-files -v -s`).
    pub(super) fn hidden_via_git(
        &self,
        paths: &[String],
    ) -> std::result::Result<Vec<(String, ObjectId)>, Stop> {
        let mut argv = vec!["--literal-pathspecs", "ls-files", "-v", "-s", "-z", "--"];
        argv.extend(paths.iter().map(String::as_str));
        let out = self.git(&argv)?;
        if !out.success() {
            return Ok(Vec::new()); // git merge --ff-only still refuses
        }
        Ok(out
            .stdout
            .split('\0')
            .filter_map(|rec| {
                let (meta, path) = rec.split_once('\t')?;
                let mut f = meta.split(' ');
                let tag = f.next()?;
                let hidden = tag == "S" || tag.chars().all(|c| c.is_ascii_lowercase());
                let id = ObjectId::from_hex(f.nth(1)?.as_bytes()).ok()?;
                hidden.then(|| (path.to_string(), id))
            })
            .collect())
    }

    /// Where the peer's HEAD stands relative to the commit. Answered in this
    /// repository when it knows the peer's HEAD; otherwise the peer has
    /// commits we lack, and only the peer can tell ahead from diverged.
    pub(super) fn ancestry(&self, head: ObjectId) -> std::result::Result<Ancestry, Stop> {
        let commit = self.req.commit;
        if head == commit {
            return Ok(Ancestry::Equal);
        }
        if self.repo.find_commit(head).is_ok() {
            return match self.repo.merge_base(head, commit) {
                Ok(Some(base)) if base.detach() == head => Ok(Ancestry::Behind),
                Ok(Some(base)) if base.detach() == commit => Ok(Ancestry::Ahead),
                Ok(_) => Ok(Ancestry::Diverged),
                Err(e) => Err(blocked(
                    Blocker::Diverged,
                    format!(
                        "cannot relate HEAD {} to {}: {e}",
                        short(head),
                        short(commit)
                    ),
                )),
            };
        }
        let hex = commit.to_string();
        let out = self.git(&["merge-base", "--is-ancestor", &hex, "HEAD"])?;
        Ok(if out.success() {
            Ancestry::Ahead
        } else {
            Ancestry::Diverged
        })
    }
}
