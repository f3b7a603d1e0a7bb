//! Installing git-fleet's hook shims (`hooks/` in the source tree) into a
//! repository's hooks directory, honouring `core.hooksPath`.
//!
//! Each shim is a marked block (`# >>> git-fleet >>>` ... `# <<< git-fleet <<<`)
//! that calls `git fleet hook <name>`. An existing hook keeps everything it
//! had: the block goes right after its `#!` line, so it runs first whatever
//! the rest of the hook does, and it hands stdin on untouched. Installing
//! again replaces only the block (idempotent); uninstalling removes only the
//! block, and the file only when nothing but a `#!` line is left.
//!
//! Also here: the pending-push file that links `pre-push` to
//! `reference-transaction` (DESIGN §7).

use crate::error::{Error, Result};
use serde::Serialize;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const BEGIN: &str = "# >>> git-fleet >>>";
pub const END: &str = "# <<< git-fleet <<<";

/// A hook file git-fleet can install, with its shim from `hooks/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HookFile {
    pub name: &'static str,
    shim: &'static str,
}

pub const PRE_COMMIT: HookFile = HookFile {
    name: "pre-commit",
    shim: include_str!("../hooks/pre-commit"),
};
pub const PRE_PUSH: HookFile = HookFile {
    name: "pre-push",
    shim: include_str!("../hooks/pre-push"),
};
pub const REFERENCE_TRANSACTION: HookFile = HookFile {
    name: "reference-transaction",
    shim: include_str!("../hooks/reference-transaction"),
};
pub const PRE_RECEIVE: HookFile = HookFile {
    name: "pre-receive",
    shim: include_str!("../hooks/pre-receive"),
};
pub const POST_RECEIVE: HookFile = HookFile {
    name: "post-receive",
    shim: include_str!("../hooks/post-receive"),
};

/// What `hooks install --<feature>` sets up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Feature {
    PreCommit,
    PostPush,
    PreReceive,
    PostReceive,
}

impl Feature {
    pub const ALL: [Feature; 4] = [
        Feature::PreCommit,
        Feature::PostPush,
        Feature::PreReceive,
        Feature::PostReceive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Feature::PreCommit => "pre-commit",
            Feature::PostPush => "post-push",
            Feature::PreReceive => "pre-receive",
            Feature::PostReceive => "post-receive",
        }
    }

    /// The hook files a feature needs.
    pub fn files(self) -> &'static [HookFile] {
        match self {
            Feature::PreCommit => &[PRE_COMMIT],
            Feature::PostPush => &[PRE_PUSH, REFERENCE_TRANSACTION],
            Feature::PreReceive => &[PRE_RECEIVE],
            Feature::PostReceive => &[POST_RECEIVE],
        }
    }
}

impl HookFile {
    /// The marked block, markers included, ending with a newline.
    pub fn block(&self) -> String {
        let mut out = String::new();
        let mut inside = false;
        for line in self.shim.lines() {
            if line == BEGIN {
                inside = true;
            }
            if inside {
                out.push_str(line);
                out.push('\n');
            }
            if line == END {
                break;
            }
        }
        out
    }

    /// The block as installed: a server shim's `__fleet_installed=''` line
    /// names `exe`, the git-fleet doing the install, shell-quoted.
    pub fn block_for(&self, exe: Option<&Path>) -> String {
        let block = self.block();
        match exe.and_then(|e| e.to_str()) {
            Some(exe) if block.contains(INSTALLED_EMPTY) => {
                let quoted = shlex::try_quote(exe).map(|q| q.into_owned());
                match quoted {
                    Ok(q) => block.replace(INSTALLED_EMPTY, &format!("{INSTALLED_VAR}{q}\n")),
                    Err(_) => block,
                }
            }
            _ => block,
        }
    }
}

/// The line of a server shim that `install` fills with git-fleet's path.
const INSTALLED_VAR: &str = "__fleet_installed=";
const INSTALLED_EMPTY: &str = "__fleet_installed=''\n";

/// `block` with its installed path blanked, to compare blocks whatever
/// binary installed them.
fn without_installed_path(block: &str) -> String {
    block
        .lines()
        .map(|l| {
            if l.starts_with(INSTALLED_VAR) {
                "__fleet_installed=''"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The state of one hook file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Our block is there and current.
    Installed,
    /// Our block is there but differs from this version's.
    Outdated,
    /// No block of ours (the file may still exist).
    Absent,
}

#[derive(Debug, Clone, Serialize)]
pub struct HookStatus {
    pub hook: String,
    pub path: PathBuf,
    pub state: State,
    pub exists: bool,
    pub executable: bool,
    /// The file has content besides our block (a user's hook we chain with).
    pub other_content: bool,
    /// How git reaches `path` when it is not the hook file itself, e.g.
    /// "gitolite repo-specific hook fleet".
    pub via: Option<String>,
}

/// What install/uninstall did to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// A new hook file holding only our block.
    Created,
    /// Our block added to an existing hook.
    Inserted,
    /// Our (outdated) block replaced.
    Updated,
    Unchanged,
    /// Our block removed; the user's hook remains.
    Removed,
    /// Our block removed and nothing else was left: file deleted.
    Deleted,
    /// Nothing of ours there.
    NotInstalled,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileChange {
    pub hook: String,
    pub path: PathBuf,
    pub change: Change,
}

/// The hooks directory git uses for the repository whose work tree (or git
/// dir, if bare) is `dir`: `core.hooksPath` when set, else `<git-dir>/hooks`.
pub fn hooks_dir(dir: &Path) -> Result<PathBuf> {
    let out = crate::gitcmd::git_ok(dir, &["rev-parse", "--git-path", "hooks"])?;
    let p = PathBuf::from(out.trim_end_matches('\n'));
    Ok(if p.is_absolute() { p } else { dir.join(p) })
}

/// Where our block is in `text`: (start byte, end byte after END's newline).
fn find_block(text: &str) -> Option<(usize, usize)> {
    let mut offset = 0;
    let mut start = None;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        if bare == BEGIN && start.is_none() {
            start = Some(offset);
        } else if bare == END {
            if let Some(s) = start {
                return Some((s, offset + line.len()));
            }
        }
        offset += line.len();
    }
    None
}

/// Can our sh block live in this hook? Only when it is a POSIX-shell script.
fn shell_compatible(text: &str) -> bool {
    let Some(first) = text.lines().next() else {
        return true;
    };
    let Some(interp) = first.strip_prefix("#!") else {
        // No #! line: git runs it with sh.
        return true;
    };
    let mut words = interp.split_whitespace();
    let mut program = words.next().unwrap_or("");
    if program.ends_with("/env") {
        program = words.find(|w| !w.starts_with('-')).unwrap_or("");
    }
    let base = program.rsplit('/').next().unwrap_or("");
    matches!(
        base,
        "sh" | "bash" | "dash" | "ksh" | "zsh" | "ash" | "mksh"
    )
}

fn read(path: &Path) -> Result<Option<String>> {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| {
            Error::usage(format!(
                "{} is not UTF-8 text; add `git fleet hook ...` to it yourself",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Write `text` to `path` atomically, keeping the mode of the file it
/// replaces (new files: rwxr-xr-x).
fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let mode = std::fs::metadata(path)
        .map(|m| m.permissions().mode())
        .unwrap_or(0o755);
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|source| Error::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let tmp = dir.join(format!(
        ".{}.git-fleet.{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("hook"),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        Error::Write {
            path: path.to_path_buf(),
            source,
        }
    })
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// One of gitolite's repo-specific hooks (gitolite 3.6+, trigger
/// `repo-specific-hooks`): for `option hook.pre-receive = a b` in
/// gitolite.conf, gitolite links `hooks/pre-receive` to its multi-hook driver
/// and `hooks/pre-receive.h00-a`, `.h01-b` to `$LOCAL_CODE/hooks/repo-specific/a`,
/// `b`; the driver runs every `pre-receive.*` in name order.
#[derive(Debug, Clone, Serialize)]
pub struct GitoliteHook {
    /// The name in gitolite.conf (`/` flattened to `_`, as gitolite links it).
    pub name: String,
    /// The `hooks/<hook>.hNN-<name>` link.
    pub path: PathBuf,
}

/// The driver's loop, as gitolite writes it (triggers/repo-specific-hooks).
const GITOLITE_DRIVER_LOOP: &str = "for h in $0.*";

fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path)
        .map(|m| m.file_type().is_symlink())
        .unwrap_or(false)
}

/// Is `dir/<hook>` gitolite's multi-hook driver (a symlink to it)?
pub fn is_gitolite_driver(dir: &Path, hook: &str) -> bool {
    let path = dir.join(hook);
    is_symlink(&path)
        && std::fs::read_to_string(&path)
            .map(|t| t.contains(GITOLITE_DRIVER_LOOP))
            .unwrap_or(false)
}

/// The repo-specific hooks gitolite's driver runs for `hook`, in its order.
pub fn gitolite_hooks(dir: &Path, hook: &str) -> Vec<GitoliteHook> {
    if !is_gitolite_driver(dir, hook) {
        return Vec::new();
    }
    let prefix = format!("{hook}.");
    let mut found: Vec<GitoliteHook> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let file = e.file_name().to_str()?.to_string();
            let rest = file.strip_prefix(&prefix)?;
            // hNN-<name>
            let (counter, name) = rest.split_once('-')?;
            let digits = counter.strip_prefix('h')?;
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some(GitoliteHook {
                name: name.to_string(),
                path: e.path(),
            })
        })
        .collect();
    found.sort_by(|a, b| a.path.cmp(&b.path));
    found
}

/// The repo-specific hook of gitolite's that holds our block for `hook`.
fn gitolite_ours(dir: &Path, hook: HookFile) -> Option<(GitoliteHook, String)> {
    gitolite_hooks(dir, hook.name).into_iter().find_map(|g| {
        let text = std::fs::read_to_string(&g.path).ok()?;
        find_block(&text).map(|_| (g, text))
    })
}

/// The `option hook.<hook> = ...` line gitolite.conf has for `names`.
fn gitolite_option(hook: &str, names: &[String]) -> String {
    format!("option hook.{hook} = {}", names.join(" "))
}

/// The script's name in `$LOCAL_CODE/hooks/repo-specific/`: one directory
/// for every hook, so pre- and post-receive need different names.
fn gitolite_script(hook: HookFile) -> &'static str {
    if hook == PRE_RECEIVE {
        "fleet"
    } else if hook == POST_RECEIVE {
        "fleet-post-receive"
    } else {
        hook.name
    }
}

/// How to run git-fleet's `hook` through gitolite's repo-specific hooks.
pub fn gitolite_recipe(hook: HookFile, exe: Option<&Path>) -> String {
    format!(
        "gitolite runs this repository's {name} (its multi-hook driver); add git-fleet as a repo-specific hook:\n\
         1. save this as $LOCAL_CODE/hooks/repo-specific/{script} and chmod +x it:\n\
         #!/bin/sh\n{block}\
         2. in ~/.gitolite.rc: set LOCAL_CODE (e.g. LOCAL_CODE => \"$ENV{{HOME}}/local\",) and add 'repo-specific-hooks', to ENABLE\n\
         3. in gitolite.conf (gitolite-admin), under this repo: {option}\n\
         then push gitolite-admin (or run `gitolite setup`); `git fleet hooks status` shows it",
        name = hook.name,
        block = hook.block_for(exe),
        script = gitolite_script(hook),
        option = gitolite_option(hook.name, &[gitolite_script(hook).to_string()]),
    )
}

/// Can `install` go ahead on `dir/<hook>`? Checked for every hook before
/// any is written, so a refusal leaves all of them as they were. Returns the
/// gitolite repo-specific hook already holding our current block.
pub fn check_install(dir: &Path, hook: HookFile) -> Result<Option<GitoliteHook>> {
    if is_gitolite_driver(dir, hook.name) {
        // `gitolite setup` rewrites hooks/: only its repo-specific hooks
        // last, so say how to use them.
        if let Some((g, text)) = gitolite_ours(dir, hook) {
            if find_block(&text).is_some_and(|(s, e)| {
                without_installed_path(&text[s..e]) == without_installed_path(&hook.block())
            }) {
                return Ok(Some(g));
            }
        }
        let exe = std::env::current_exe().ok();
        return Err(Error::usage(gitolite_recipe(hook, exe.as_deref())));
    }
    refuse_symlink(&dir.join(hook.name), hook.name)?;
    Ok(None)
}

/// Can `uninstall` go ahead on `dir/<hook>` (checked for every hook first,
/// like `check_install`)? False: gitolite's driver with nothing of ours.
pub fn check_uninstall(dir: &Path, hook: HookFile) -> Result<bool> {
    if let Some((g, _)) = gitolite_ours(dir, hook) {
        let names: Vec<String> = gitolite_hooks(dir, hook.name)
            .into_iter()
            .map(|h| h.name)
            .collect();
        let rest: Vec<String> = names.iter().filter(|n| **n != g.name).cloned().collect();
        let after = if rest.is_empty() {
            "delete that line".to_string()
        } else {
            format!("leaving `{}`", gitolite_option(hook.name, &rest))
        };
        return Err(Error::usage_hint(
            format!(
                "git-fleet's {} runs through gitolite's repo-specific hook {} ({}); gitolite manages it, so git-fleet does not remove it",
                hook.name,
                g.name,
                g.path.display()
            ),
            format!(
                "in gitolite.conf (gitolite-admin), remove `{}` from this repo's `{}` ({after}), then push gitolite-admin",
                g.name,
                gitolite_option(hook.name, &names)
            ),
        ));
    }
    if is_gitolite_driver(dir, hook.name) {
        return Ok(false);
    }
    refuse_symlink(&dir.join(hook.name), hook.name)?;
    Ok(true)
}

/// A hook that is a symlink belongs to something else (gitolite links every
/// repository's hooks to its driver; dotfile setups link shared scripts):
/// replacing it would de-link it, writing through it would change every
/// repository that shares it. Refuse, and say how to chain git-fleet instead.
fn refuse_symlink(path: &Path, hook: &str) -> Result<()> {
    let linked = std::fs::symlink_metadata(path)
        .map(|m| m.file_type().is_symlink())
        .unwrap_or(false);
    if !linked {
        return Ok(());
    }
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "git-fleet".to_string());
    Err(Error::usage_hint(
        format!(
            "{} is a symlink (e.g. gitolite's hook driver); git-fleet never replaces, de-links or writes through it",
            path.display()
        ),
        format!(
            "call `{} hook {hook} \"$@\"` from the hook it points to, or through your server's own mechanism (gitolite: repo-specific hooks)",
            shlex::try_quote(&exe).map(|q| q.into_owned()).unwrap_or(exe.clone())
        ),
    ))
}

/// Add or refresh our block in `dir/<hook>`.
pub fn install(dir: &Path, hook: HookFile) -> Result<FileChange> {
    let path = dir.join(hook.name);
    let exe = std::env::current_exe().ok();
    if let Some(g) = check_install(dir, hook)? {
        return Ok(FileChange {
            hook: hook.name.to_string(),
            path: g.path,
            change: Change::Unchanged,
        });
    }
    let block = hook.block_for(exe.as_deref());
    let existing = read(&path)?.filter(|t| !t.trim().is_empty());
    let change = match existing {
        None => {
            // New, or an empty file: ours alone, executable.
            let _ = std::fs::remove_file(&path);
            write_atomic(&path, &format!("#!/bin/sh\n{block}"))?;
            Change::Created
        }
        Some(text) => {
            match find_block(&text) {
                Some((s, e)) if text[s..e] == block => {
                    if !is_executable(&path) {
                        return Err(not_executable(&path));
                    }
                    Change::Unchanged
                }
                Some((s, e)) => {
                    write_atomic(&path, &format!("{}{block}{}", &text[..s], &text[e..]))?;
                    Change::Updated
                }
                None => {
                    if !shell_compatible(&text) {
                        return Err(Error::usage_hint(
                        format!("{} is not a shell script, so git-fleet cannot add its block to it", path.display()),
                        format!("call `git fleet hook {} \"$@\"` from it yourself (passing stdin on)", hook.name),
                    ));
                    }
                    if !is_executable(&path) {
                        return Err(not_executable(&path));
                    }
                    let new = match text.strip_prefix("#!") {
                        Some(_) => {
                            let cut = text.find('\n').map(|i| i + 1).unwrap_or(text.len());
                            let head = &text[..cut];
                            let sep = if head.ends_with('\n') { "" } else { "\n" };
                            format!("{head}{sep}{block}{}", &text[cut..])
                        }
                        None => format!("#!/bin/sh\n{block}{text}"),
                    };
                    write_atomic(&path, &new)?;
                    Change::Inserted
                }
            }
        }
    };
    Ok(FileChange {
        hook: hook.name.to_string(),
        path,
        change,
    })
}

fn not_executable(path: &Path) -> Error {
    Error::usage_hint(
        format!(
            "{} exists but is not executable, so git does not run it",
            path.display()
        ),
        "make it executable (chmod +x) or remove it, then install again",
    )
}

/// Remove our block from `dir/<hook>`; delete the file if nothing else is left.
pub fn uninstall(dir: &Path, hook: HookFile) -> Result<FileChange> {
    let path = dir.join(hook.name);
    if !check_uninstall(dir, hook)? {
        return Ok(FileChange {
            hook: hook.name.to_string(),
            path,
            change: Change::NotInstalled,
        });
    }
    let change = match read(&path)? {
        None => Change::NotInstalled,
        Some(text) => match find_block(&text) {
            None => Change::NotInstalled,
            Some((s, e)) => {
                let rest = format!("{}{}", &text[..s], &text[e..]);
                let meaningful = rest
                    .lines()
                    .enumerate()
                    .any(|(i, l)| !(l.trim().is_empty() || (i == 0 && l.starts_with("#!"))));
                if meaningful {
                    write_atomic(&path, &rest)?;
                    Change::Removed
                } else {
                    std::fs::remove_file(&path).map_err(|source| Error::Write {
                        path: path.clone(),
                        source,
                    })?;
                    Change::Deleted
                }
            }
        },
    };
    Ok(FileChange {
        hook: hook.name.to_string(),
        path,
        change,
    })
}

pub fn status(dir: &Path, hook: HookFile) -> Result<HookStatus> {
    let (path, via) = match gitolite_ours(dir, hook) {
        Some((g, _)) => (
            g.path,
            Some(format!("gitolite repo-specific hook {}", g.name)),
        ),
        None => (dir.join(hook.name), None),
    };
    let text = read(&path)?;
    let (state, other) = match &text {
        None => (State::Absent, false),
        Some(text) => match find_block(text) {
            None => (State::Absent, !text.trim().is_empty()),
            Some((s, e)) => {
                let rest = format!("{}{}", &text[..s], &text[e..]);
                let other = rest
                    .lines()
                    .enumerate()
                    .any(|(i, l)| !(l.trim().is_empty() || (i == 0 && l.starts_with("#!"))));
                let state = if without_installed_path(&text[s..e])
                    == without_installed_path(&hook.block())
                {
                    State::Installed
                } else {
                    State::Outdated
                };
                (state, other)
            }
        },
    };
    Ok(HookStatus {
        hook: hook.name.to_string(),
        exists: text.is_some(),
        executable: is_executable(&path),
        path,
        state,
        other_content: other,
        via,
    })
}

// ---- pending pushes (pre-push -> reference-transaction) ----

/// The file `pre-push` writes and the `reference-transaction` shim tests for.
pub const PENDING_FILE: &str = "pending-push";
/// An entry older than this is dropped: its push failed or never updated a
/// remote-tracking ref, and a later fetch must not start a fanout for it.
pub const PENDING_TTL: Duration = Duration::from_secs(600);

/// One pushed branch awaiting its remote-tracking ref update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// Seconds since the epoch when pre-push recorded it.
    pub at: u64,
    pub commit: String,
    /// `refs/remotes/<remote>/<branch>`.
    pub tracking: String,
    pub branch: String,
}

impl Pending {
    fn line(&self) -> String {
        format!(
            "{} {} {} {}",
            self.at, self.commit, self.tracking, self.branch
        )
    }

    fn parse(line: &str) -> Option<Pending> {
        let mut w = line.split(' ');
        let p = Pending {
            at: w.next()?.parse().ok()?,
            commit: w.next()?.to_string(),
            tracking: w.next()?.to_string(),
            branch: w.next()?.to_string(),
        };
        w.next().is_none().then_some(p)
    }
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The pending entries for a pre-push invocation (`remote` is the hook's
/// first argument; stdin lines `<local ref> <local sha> <remote ref> <remote sha>`).
pub fn pending_from_pre_push(remote: &str, stdin: &str, at: u64) -> Vec<Pending> {
    let mut out = Vec::new();
    if remote.is_empty() || remote.contains(['/', ':', ' ']) {
        // A URL, not a remote name: no remote-tracking ref will move.
        return out;
    }
    for line in stdin.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        let [_, local_sha, remote_ref, _] = w[..] else {
            continue;
        };
        if local_sha.bytes().all(|b| b == b'0') {
            continue; // a deletion
        }
        let Some(branch) = remote_ref.strip_prefix("refs/heads/") else {
            continue;
        };
        out.push(Pending {
            at,
            commit: local_sha.to_string(),
            tracking: format!("refs/remotes/{remote}/{branch}"),
            branch: branch.to_string(),
        });
    }
    out
}

/// Exclusive access to `dir/pending-push` for one read-modify-write.
struct PendingLock {
    path: PathBuf,
}

impl PendingLock {
    fn acquire(dir: &Path) -> Result<PendingLock> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Write {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(format!("{PENDING_FILE}.lock"));
        let start = std::time::Instant::now();
        loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(_) => return Ok(PendingLock { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    // A lock left by a killed process expires.
                    let stale = std::fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age > Duration::from_secs(30));
                    if stale {
                        let _ = std::fs::remove_file(&path);
                    } else if start.elapsed() > Duration::from_secs(5) {
                        return Err(Error::usage(format!(
                            "{} is held by another process",
                            path.display()
                        )));
                    } else {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
                Err(source) => return Err(Error::Write { path, source }),
            }
        }
    }
}

impl Drop for PendingLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn read_pending(path: &Path, now: u64) -> Result<Vec<Pending>> {
    Ok(read(path)?
        .unwrap_or_default()
        .lines()
        .filter_map(Pending::parse)
        .filter(|p| now.saturating_sub(p.at) <= PENDING_TTL.as_secs())
        .collect())
}

fn write_pending(path: &Path, entries: &[Pending]) -> Result<()> {
    if entries.is_empty() {
        return match std::fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(Error::Write {
                path: path.to_path_buf(),
                source,
            }),
        };
    }
    let text: String = entries.iter().map(|p| p.line() + "\n").collect();
    write_atomic(path, &text)
}

/// Record pushes in `dir/pending-push` (a later entry for the same
/// remote-tracking ref replaces an earlier one; expired entries are dropped).
pub fn add_pending(dir: &Path, new: &[Pending]) -> Result<()> {
    let _lock = PendingLock::acquire(dir)?;
    let path = dir.join(PENDING_FILE);
    let now = now_secs();
    let mut entries = read_pending(&path, now)?;
    entries.retain(|e| !new.iter().any(|n| n.tracking == e.tracking));
    entries.extend(new.iter().cloned());
    write_pending(&path, &entries)
}

/// Take (remove and return) the pending entries that the committed ref
/// updates on `stdin` (`<old> <new> <ref>` lines) confirm. Each entry is
/// taken at most once, whatever runs concurrently.
pub fn take_confirmed(dir: &Path, stdin: &str) -> Result<Vec<Pending>> {
    let path = dir.join(PENDING_FILE);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let _lock = PendingLock::acquire(dir)?;
    let now = now_secs();
    let entries = read_pending(&path, now)?;
    let updates: Vec<(&str, &str)> = stdin
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            match w[..] {
                [_, new, name] => Some((new, name)),
                _ => None,
            }
        })
        .collect();
    let (taken, kept): (Vec<Pending>, Vec<Pending>) = entries.into_iter().partition(|e| {
        updates
            .iter()
            .any(|(new, name)| *name == e.tracking && *new == e.commit)
    });
    write_pending(&path, &kept)?;
    Ok(taken)
}

/// `exe` as a process (a git-fleet started from a hook) that outlives the hook: its own process group, SIGHUP
/// ignored through nohup when present, stdin closed, and none of the
/// repository variables git sets for hooks (it finds the repository from its
/// working directory).
pub fn detached(exe: &Path) -> std::process::Command {
    let mut cmd = match find_on_path("nohup") {
        Some(nohup) => {
            let mut c = std::process::Command::new(nohup);
            c.arg(exe);
            c
        }
        None => std::process::Command::new(exe),
    };
    for var in crate::peers::shell::REPO_ENV_VARS {
        cmd.env_remove(var);
    }
    cmd.stdin(std::process::Stdio::null()).process_group(0);
    cmd
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_marked_and_extracted() {
        for f in Feature::ALL.iter().flat_map(|f| f.files()) {
            let b = f.block();
            assert!(b.starts_with(BEGIN), "{}", f.name);
            assert!(b.ends_with(&format!("{END}\n")), "{}", f.name);
            assert!(
                b.contains(&format!("git fleet hook {}", f.name))
                    || b.contains(&format!("\"$__fleet\" hook {}", f.name)),
                "{}",
                f.name
            );
        }
        // A server shim names the installing binary, quoted, and still reads
        // as the same block.
        let b = PRE_RECEIVE.block_for(Some(Path::new("/opt/my tools/git-fleet")));
        assert!(
            b.contains("__fleet_installed='/opt/my tools/git-fleet'\n"),
            "{b}"
        );
        assert_eq!(
            without_installed_path(&b),
            without_installed_path(&PRE_RECEIVE.block())
        );
    }

    #[test]
    fn install_inserts_after_shebang_and_uninstall_restores() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pre-commit");
        let user = "#!/bin/bash\nset -e\necho user\n";
        std::fs::write(&path, user).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            install(dir.path(), PRE_COMMIT).unwrap().change,
            Change::Inserted
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(&format!("#!/bin/bash\n{BEGIN}")));
        assert!(text.ends_with("set -e\necho user\n"));
        assert_eq!(
            install(dir.path(), PRE_COMMIT).unwrap().change,
            Change::Unchanged
        );
        assert_eq!(
            status(dir.path(), PRE_COMMIT).unwrap().state,
            State::Installed
        );
        assert!(status(dir.path(), PRE_COMMIT).unwrap().other_content);
        assert_eq!(
            uninstall(dir.path(), PRE_COMMIT).unwrap().change,
            Change::Removed
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), user);
        assert_eq!(
            uninstall(dir.path(), PRE_COMMIT).unwrap().change,
            Change::NotInstalled
        );

        assert_eq!(
            install(dir.path(), PRE_PUSH).unwrap().change,
            Change::Created
        );
        assert_eq!(
            uninstall(dir.path(), PRE_PUSH).unwrap().change,
            Change::Deleted
        );
        assert!(!dir.path().join("pre-push").exists());
    }

    #[test]
    fn non_shell_hooks_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pre-commit");
        std::fs::write(&path, "#!/usr/bin/env python3\nprint(1)\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(install(dir.path(), PRE_COMMIT).is_err());
        assert!(shell_compatible("#!/usr/bin/env bash\n"));
        assert!(shell_compatible("#!/bin/sh -e\n"));
        assert!(shell_compatible("echo hi\n"));
    }

    #[test]
    fn pending_entries_are_taken_once() {
        let dir = tempfile::tempdir().unwrap();
        let sha = "a".repeat(40);
        let stdin = format!(
            "refs/heads/main {sha} refs/heads/main {}\nrefs/heads/x {} refs/heads/x {sha}\n",
            "0".repeat(40),
            "0".repeat(40)
        );
        let entries = pending_from_pre_push("origin", &stdin, now_secs());
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].tracking, "refs/remotes/origin/main");
        assert!(pending_from_pre_push("../x.git", &stdin, 0).is_empty());
        add_pending(dir.path(), &entries).unwrap();
        let update = format!("{} {sha} refs/remotes/origin/main\n", "0".repeat(40));
        assert!(take_confirmed(
            dir.path(),
            &format!(
                "{} {} refs/remotes/origin/main\n",
                "0".repeat(40),
                "b".repeat(40)
            )
        )
        .unwrap()
        .is_empty());
        assert_eq!(take_confirmed(dir.path(), &update).unwrap().len(), 1);
        assert!(take_confirmed(dir.path(), &update).unwrap().is_empty());
        assert!(!dir.path().join(PENDING_FILE).exists());
    }
}
