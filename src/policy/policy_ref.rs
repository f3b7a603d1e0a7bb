//! Where a server reads its policy from (`fleet.policyRef`, else HEAD's branch).
use crate::error::Result;
use crate::gitcmd::git;
use std::path::Path;

/// Where a server reads its policy from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyRef {
    /// This ref's fleet.toml; `configured`: named by fleet.policyRef (else HEAD).
    Found { name: String, configured: bool },
    /// No branch exists yet (the first push into an empty repository): no policy.
    NoBranches,
    /// Branches exist but the policy ref does not: fail closed, saying why.
    Missing(String),
}

/// The policy ref of the repository at `repo_dir`: `git config
/// fleet.policyRef` (a ref, or a branch name), else the branch HEAD names.
/// Either missing while branches exist is `Missing`, never "no policy": a
/// HEAD that names an unborn branch (gitolite's `master` while clients push
/// `main`) would otherwise switch the policy off.
pub fn policy_ref(repo_dir: &Path) -> Result<PolicyRef> {
    let exists = |r: &str| -> Result<bool> {
        Ok(git(
            repo_dir,
            &["rev-parse", "--verify", "-q", &format!("{r}^{{commit}}")],
        )?
        .success)
    };
    let branches = git(
        repo_dir,
        &["for-each-ref", "--format=%(refname:short)", "refs/heads/"],
    )?;
    let branches: Vec<&str> = branches.stdout.lines().collect();
    let configured = git(repo_dir, &["config", "--get", "fleet.policyRef"])?;
    let configured = configured.stdout.trim();
    if !configured.is_empty() {
        let name = if configured.starts_with("refs/") {
            configured.to_string()
        } else {
            format!("refs/heads/{configured}")
        };
        if exists(&name)? {
            return Ok(PolicyRef::Found {
                name,
                configured: true,
            });
        }
        if branches.is_empty() {
            return Ok(PolicyRef::NoBranches);
        }
        return Ok(PolicyRef::Missing(format!(
            "fleet.policyRef names {name}, which does not exist (branches: {})",
            branches.join(", ")
        )));
    }
    let head = git(repo_dir, &["symbolic-ref", "-q", "HEAD"])?;
    let head = head.stdout.trim();
    let name = if head.is_empty() { "HEAD" } else { head };
    if exists(name)? {
        return Ok(PolicyRef::Found {
            name: name.to_string(),
            configured: false,
        });
    }
    if branches.is_empty() {
        return Ok(PolicyRef::NoBranches);
    }
    let example = branches
        .iter()
        .find(|b| **b == "main" || **b == "master")
        .unwrap_or(&branches[0]);
    Ok(PolicyRef::Missing(format!(
        "HEAD names {name}, which does not exist, while branches do ({}); set the policy ref: git config fleet.policyRef refs/heads/{example} (or point HEAD at the default branch: git symbolic-ref HEAD refs/heads/{example})",
        branches.join(", ")
    )))
}

/// Why an update of `name` from `old` to `new` (pre-receive stdin) may not
/// happen because `name` is the policy ref: it only moves forward, so a push
/// can neither delete it nor rewind it to a laxer fleet.toml.
pub fn policy_ref_update(
    repo_dir: &Path,
    policy_ref: &str,
    old: &str,
    new: &str,
    name: &str,
) -> Result<Option<String>> {
    let zero = |s: &str| s.bytes().all(|b| b == b'0');
    if name != policy_ref || zero(old) {
        return Ok(None);
    }
    if zero(new) {
        return Ok(Some(format!(
            "{name} holds the policy (fleet.toml) and only moves forward: it cannot be deleted"
        )));
    }
    let ff = git(repo_dir, &["merge-base", "--is-ancestor", old, new])?;
    Ok((!ff.success).then(|| {
        format!("{name} holds the policy (fleet.toml) and only moves forward: this push rewinds it (not a fast-forward)")
    }))
}
