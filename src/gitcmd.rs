//! Running the `git` binary, for the few things gix does not do (config writes,
//! fast-forward merges of a checked-out work tree).

use crate::error::Result;
use crate::error::StoreError;
use std::path::Path;
use std::process::{Command, Stdio};

/// Output of a git command that ran (successfully or not).
pub struct GitOutput {
    pub success: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Run `git args...` in `dir` and capture its output.
pub fn git(dir: &Path, args: &[&str]) -> Result<GitOutput> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| StoreError::spawn("git", e))?;
    Ok(GitOutput {
        success: out.status.success(),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// Run git and fail with its stderr unless it succeeded.
pub fn git_ok(dir: &Path, args: &[&str]) -> Result<String> {
    let out = git(dir, args)?;
    if out.success {
        Ok(out.stdout)
    } else {
        Err(StoreError::git_failed(format!("git {} failed", args.join(" ")), &out.stderr).into())
    }
}
