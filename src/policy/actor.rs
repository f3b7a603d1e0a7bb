//! Who makes a change: the local identity, a commit's signer or committer, the pusher.
use crate::error::Result;
use crate::error::StoreError;
use crate::gitcmd::git;
use serde::Serialize;
use std::path::Path;

/// Who makes a change, and how that was established.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Actor {
    /// The git identity email (None for a verified signer: the key is the identity).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// SSH key principals from gpg.ssh.allowedSignersFile.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub principals: Vec<String>,
    /// e.g. `user.email`, `verified SSH signer of 1a2b3c4d5e6f`,
    /// `committer email of 1a2b3c4d5e6f; unsigned`.
    pub source: String,
    /// The user the git server authenticated for this push, if it says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pusher: Option<Pusher>,
}

/// The authenticated pusher, and the variable the server named it in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pusher {
    pub name: String,
    pub variable: String,
}

/// The variables git servers set for hooks to name the authenticated user,
/// in the order they are read: gitolite, Gitea/Forgejo, GitLab, and a web
/// server's HTTP authentication (git http-backend).
pub const PUSHER_VARS: [&str; 4] = ["GL_USER", "GITEA_PUSHER_NAME", "GL_USERNAME", "REMOTE_USER"];

impl Pusher {
    /// The pusher this process's environment names (None: none does).
    pub fn from_env() -> Option<Pusher> {
        PUSHER_VARS.iter().find_map(|v| {
            std::env::var(v)
                .ok()
                .filter(|n| !n.trim().is_empty())
                .map(|name| Pusher {
                    name,
                    variable: v.to_string(),
                })
        })
    }
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.email, self.principals.first()) {
            (Some(e), _) => write!(f, "{e} ({})", self.source)?,
            (None, Some(p)) => write!(f, "{p} ({})", self.source)?,
            (None, None) => write!(f, "an unknown actor ({})", self.source)?,
        }
        match &self.pusher {
            Some(p) => write!(f, " pushed by {} ({})", p.name, p.variable),
            None => Ok(()),
        }
    }
}
/// The actor running a command here: the git identity email (`email`, as git
/// resolves it), plus the principals gpg.ssh.allowedSignersFile lists for the
/// configured SSH signing key (gpg.format = ssh, user.signingKey).
pub fn local_actor(repo_dir: &Path, email: &str) -> Actor {
    let mut actor = Actor {
        email: Some(email.to_string()),
        principals: Vec::new(),
        source: "user.email".into(),
        pusher: None,
    };
    let get = |key: &str| {
        git(repo_dir, &["config", "--get", key])
            .ok()
            .filter(|o| o.success)
            .map(|o| o.stdout.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    if get("gpg.format").as_deref() != Some("ssh") {
        return actor;
    }
    let (Some(key), Some(signers)) = (get("user.signingKey"), get("gpg.ssh.allowedSignersFile"))
    else {
        return actor;
    };
    let public = signing_public_key(repo_dir, &key);
    let principals = principals_for(
        &std::fs::read_to_string(resolve_path(repo_dir, &signers)).unwrap_or_default(),
        &public,
    );
    if !principals.is_empty() {
        actor.source = format!(
            "user.email; signing key principal {}",
            principals.join(", ")
        );
        actor.principals = principals;
    }
    actor
}

/// The public key (`type base64`) of user.signingKey: a literal (`key::...` or
/// `ssh-...`), a `.pub` file, or a private key next to its `.pub` (else derived
/// with `ssh-keygen -y`).
pub(super) fn signing_public_key(repo_dir: &Path, key: &str) -> String {
    if let Some(literal) = key.strip_prefix("key::") {
        return literal.to_string();
    }
    if key.starts_with("ssh-") || key.starts_with("ecdsa-") || key.starts_with("sk-") {
        return key.to_string();
    }
    let path = resolve_path(repo_dir, key);
    if key.ends_with(".pub") {
        return std::fs::read_to_string(path).unwrap_or_default();
    }
    let mut public = path.clone().into_os_string();
    public.push(".pub");
    if let Ok(text) = std::fs::read_to_string(&public) {
        return text;
    }
    std::process::Command::new("ssh-keygen")
        .arg("-y")
        .arg("-f")
        .arg(&path)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// `~/` expanded; a relative path is relative to the repository, as git reads it.
pub(super) fn resolve_path(repo_dir: &Path, p: &str) -> std::path::PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ => repo_dir.join(p),
    }
}

/// Principals listed for `public_key` (type + base64) in an allowed_signers file.
pub(super) fn principals_for(allowed_signers: &str, public_key: &str) -> Vec<String> {
    let mut words = public_key.split_whitespace();
    let (Some(kind), Some(blob)) = (words.next(), words.next()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in allowed_signers.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.windows(2).any(|w| w[0] == kind && w[1] == blob) {
            for p in fields[0].split(',') {
                if !out.iter().any(|o| o == p) {
                    out.push(p.to_string());
                }
            }
        }
    }
    out
}

/// The actor of a pushed commit: its verified SSH signer when the commit
/// carries an SSH signature that verifies against gpg.ssh.allowedSignersFile
/// (git's own check, as `git verify-commit` does it), else its committer email;
/// `source` says which, and why a signature did not count.
pub fn commit_actor(repo_dir: &Path, commit: &str) -> Result<Actor> {
    let raw = git(repo_dir, &["cat-file", "commit", commit])?;
    if !raw.success {
        return Err(
            StoreError::git_failed(format!("cannot read commit {commit}"), &raw.stderr).into(),
        );
    }
    let headers = raw.stdout.split("\n\n").next().unwrap_or("");
    let committer = headers
        .lines()
        .find_map(|l| l.strip_prefix("committer "))
        .and_then(|l| Some(l[l.find('<')? + 1..l.find('>')?].to_string()))
        .unwrap_or_default();
    let signature = headers
        .lines()
        .find(|l| l.starts_with("gpgsig ") || l.starts_with("gpgsig-sha256 "));
    let short = &commit[..commit.len().min(12)];
    // A signature that does not verify is nobody: falling back to the
    // committer email would let a stranger's key sign as anyone.
    let nobody = |why: &str| Actor {
        email: None,
        principals: Vec::new(),
        source: format!("commit {short}: {why}, so its committer email does not count"),
        pusher: None,
    };
    let why = match signature {
        None => "unsigned".to_string(),
        Some(sig) if !sig.contains("BEGIN SSH SIGNATURE") => {
            "not an SSH signature; only SSH signers count".to_string()
        }
        Some(_) => {
            let out = git(repo_dir, &["log", "-1", "--format=%G?%x00%GS", commit])?;
            let line = out.stdout.trim_end_matches('\n');
            let (status, signer) = line.split_once('\0').unwrap_or((line, ""));
            match status {
                "G" if !signer.is_empty() => {
                    return Ok(Actor {
                        email: None,
                        principals: vec![signer.to_string()],
                        source: format!("verified SSH signer of {short}"),
                        pusher: None,
                    })
                }
                "N" => "SSH-signed, but gpg.ssh.allowedSignersFile is not set here".into(),
                "U" => {
                    return Ok(nobody(
                        "signed by a key gpg.ssh.allowedSignersFile does not list",
                    ))
                }
                "B" => return Ok(nobody("bad signature")),
                "X" | "Y" => return Ok(nobody("expired signature or key")),
                "R" => return Ok(nobody("revoked key")),
                _ => return Ok(nobody("the signature could not be checked")),
            }
        }
    };
    Ok(Actor {
        email: Some(committer),
        principals: Vec::new(),
        source: format!("committer email of {short}; {why}"),
        pusher: None,
    })
}
