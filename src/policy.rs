//! Bounded writes: `[[policy]]` rules in fleet.toml say which actor may change
//! which resources. No rule at all = everything allowed; once any rule exists,
//! a change no rule allows is refused, naming the actor and the change.

use crate::error::{Diagnostic, Error, Result};
use crate::fleet::diff::{Change, ChangeType};
use crate::gitcmd::git;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One `[[policy]]` entry.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// A name for messages and receipts (default: `policy #N`).
    pub name: Option<String>,
    /// Glob on the actor's git email, e.g. `*@ops.example.com`.
    pub actor: Option<String>,
    /// An SSH key principal from gpg.ssh.allowedSignersFile.
    pub principal: Option<String>,
    /// Globs on `kind/name`, e.g. `modules/nginx-*`, `assignments/app-0*:*`.
    pub allow: Vec<String>,
    /// Whether this rule also allows destroys.
    #[serde(default)]
    pub destroy: bool,
    /// Only these targets (default: all).
    pub targets: Option<Vec<String>>,
}

/// Who is making a change, and how that was established.
#[derive(Debug, Clone, Serialize)]
pub struct Actor {
    pub email: String,
    pub principals: Vec<String>,
    /// e.g. "user.email", "verified SSH signer of 1a2b3c", "committer email of 1a2b3c".
    pub source: String,
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.principals.first() {
            Some(p) => write!(f, "{p} ({})", self.source),
            None => write!(f, "{} ({})", self.email, self.source),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    pub resource: String,
    pub change: ChangeType,
    /// The rule that allows it; None = refused.
    pub allowed_by: Option<String>,
    pub message: String,
}

impl Rule {
    pub fn label(&self, index: usize) -> String {
        match &self.name {
            Some(n) => format!("policy '{n}'"),
            None => format!("policy #{}", index + 1),
        }
    }

    fn matches_actor(&self, actor: &Actor) -> bool {
        if let Some(p) = &self.principal {
            return actor.principals.iter().any(|a| a == p);
        }
        match &self.actor {
            Some(glob) => pattern(glob).is_some_and(|g| g.matches_with(&actor.email, options())),
            None => false,
        }
    }

    fn allows(&self, resource: &str, change: ChangeType, target: Option<&str>) -> bool {
        if change == ChangeType::Destroy && !self.destroy {
            return false;
        }
        if let (Some(targets), Some(t)) = (&self.targets, target) {
            if !targets.iter().any(|x| x == t) {
                return false;
            }
        }
        self.allow
            .iter()
            .any(|g| pattern(g).is_some_and(|p| p.matches_with(resource, options())))
    }
}

fn pattern(glob: &str) -> Option<glob::Pattern> {
    glob::Pattern::new(glob).ok()
}

fn options() -> glob::MatchOptions {
    glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: false,
        require_literal_leading_dot: false,
    }
}

/// Check the rules themselves (called when fleet.toml is parsed): a malformed
/// policy is an error, so it refuses everything instead of allowing anything.
pub fn validate_rules(rules: &[Rule], file: &str, text: &str) -> Result<()> {
    // Locate the N-th [[policy]] header for messages.
    let headers: Vec<(usize, usize)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with("[[policy]]"))
        .map(|(i, l)| (i + 1, l.len() - l.trim_start().len() + 1))
        .collect();
    for (i, rule) in rules.iter().enumerate() {
        let at = |msg: String| {
            let d = Diagnostic::new(file, format!("{}: {msg}", rule.label(i)));
            match headers.get(i) {
                Some(&(line, col)) => d.at(line, col),
                None => d,
            }
        };
        match (&rule.actor, &rule.principal) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid(at(
                    "set either `actor` or `principal`, not both".into(),
                )))
            }
            (None, None) => {
                return Err(Error::invalid(at(
                    "needs `actor` (an email glob) or `principal`".into(),
                )))
            }
            _ => {}
        }
        if let Some(g) = &rule.actor {
            if pattern(g).is_none() {
                return Err(Error::invalid(at(format!(
                    "actor '{g}' is not a valid glob"
                ))));
            }
        }
        if rule.allow.is_empty() {
            return Err(Error::invalid(at(
                "`allow` is empty: list kind/name globs".into()
            )));
        }
        for g in &rule.allow {
            let kind = g.split('/').next().unwrap_or("");
            let kind_ok = [
                "templates",
                "modules",
                "assignments",
                "provider_configs",
                "*",
            ]
            .contains(&kind)
                || pattern(kind).is_some_and(|p| {
                    ["templates", "modules", "assignments"]
                        .iter()
                        .any(|k| p.matches(k))
                });
            if pattern(g).is_none() || !g.contains('/') || !kind_ok {
                return Err(Error::invalid(at(format!(
                    "allow '{g}' must be a glob on kind/name, e.g. modules/nginx-*"
                ))));
            }
        }
    }
    Ok(())
}

/// Decide one change for `actor`.
pub fn decide(rules: &[Rule], actor: &Actor, target: Option<&str>, change: &Change) -> Decision {
    let resource = format!("{}/{}", change.kind, change.name);
    if rules.is_empty() {
        return Decision {
            resource,
            change: change.change,
            allowed_by: Some("no policy (everything allowed)".into()),
            message: String::new(),
        };
    }
    for (i, rule) in rules.iter().enumerate() {
        if rule.matches_actor(actor) && rule.allows(&resource, change.change, target) {
            return Decision {
                resource: resource.clone(),
                change: change.change,
                allowed_by: Some(rule.label(i)),
                message: format!(
                    "{} {resource} by {actor}: allowed by {}",
                    change.change.as_str(),
                    rule.label(i)
                ),
            };
        }
    }
    // Say why: no rule for this actor, or rules that do not cover it.
    let theirs: Vec<String> = rules
        .iter()
        .enumerate()
        .filter(|(_, r)| r.matches_actor(actor))
        .map(|(i, r)| r.label(i))
        .collect();
    let verb = if theirs.len() == 1 { "does" } else { "do" };
    let why = if theirs.is_empty() {
        "no policy rule matches this actor".to_string()
    } else if change.change == ChangeType::Destroy {
        format!("{} {verb} not allow destroying it", theirs.join(", "))
    } else {
        format!("{} {verb} not allow it", theirs.join(", "))
    };
    Decision {
        resource: resource.clone(),
        change: change.change,
        allowed_by: None,
        message: format!(
            "{} {resource} by {actor} refused: {why}",
            change.change.as_str()
        ),
    }
}

/// The actor running a command here: user.email, plus the principals the
/// allowed signers file gives the configured SSH signing key.
pub fn local_actor(repo_dir: &Path, email: &str) -> Actor {
    let mut actor = Actor {
        email: email.to_string(),
        principals: Vec::new(),
        source: "user.email".into(),
    };
    let get = |key: &str| {
        git(repo_dir, &["config", "--get", key])
            .ok()
            .filter(|o| o.success)
            .map(|o| o.stdout.trim().to_string())
    };
    if get("gpg.format").as_deref() != Some("ssh") {
        return actor;
    }
    let (Some(key), Some(signers)) = (get("user.signingKey"), get("gpg.ssh.allowedSignersFile"))
    else {
        return actor;
    };
    let public = if let Some(literal) = key.strip_prefix("key::") {
        literal.to_string()
    } else if key.starts_with("ssh-") || key.starts_with("ecdsa-") {
        key.clone()
    } else {
        let path = if key.ends_with(".pub") {
            key.clone()
        } else {
            format!("{key}.pub")
        };
        std::fs::read_to_string(expand_home(&path)).unwrap_or_default()
    };
    let principals = principals_for(
        &std::fs::read_to_string(expand_home(&signers)).unwrap_or_default(),
        &public,
    );
    if !principals.is_empty() {
        actor.principals = principals;
        actor.source = "signing key principal".into();
    }
    actor
}

fn expand_home(p: &str) -> String {
    match (p.strip_prefix("~/"), std::env::var("HOME")) {
        (Some(rest), Ok(home)) => format!("{home}/{rest}"),
        _ => p.to_string(),
    }
}

/// Principals listed for `public_key` (type + base64) in an allowed_signers file.
fn principals_for(allowed_signers: &str, public_key: &str) -> Vec<String> {
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
            out.extend(fields[0].split(',').map(str::to_string));
        }
    }
    out
}

/// The actor of a pushed commit: its verified SSH signer when the commit is
/// signed and verifies against the allowed signers file, else its committer email.
pub fn commit_actor(repo_dir: &Path, commit: &str) -> Result<Actor> {
    let out = git(
        repo_dir,
        &["log", "-1", "--format=%G?%x00%GS%x00%ce", commit],
    )?;
    if !out.success {
        return Err(Error::Other(format!(
            "cannot read commit {commit}: {}",
            out.stderr.trim()
        )));
    }
    let line = out.stdout.trim_end_matches('\n');
    let mut parts = line.split('\0');
    let status = parts.next().unwrap_or("N");
    let signer = parts.next().unwrap_or("").to_string();
    let email = parts.next().unwrap_or("").to_string();
    let short = &commit[..commit.len().min(12)];
    if status == "G" && !signer.is_empty() {
        return Ok(Actor {
            email,
            principals: vec![signer],
            source: format!("verified SSH signer of {short}"),
        });
    }
    Ok(Actor {
        email,
        principals: Vec::new(),
        source: format!("committer email of {short} (not signed by an allowed signer)"),
    })
}

/// The policy decisions for one commit that changes desired state.
#[derive(Debug, Clone, Serialize)]
pub struct CommitCheck {
    pub commit: String,
    pub actor: Actor,
    pub file: String,
    pub decisions: Vec<Decision>,
    /// A desired file that does not parse is refused outright.
    pub error: Option<String>,
}

impl CommitCheck {
    pub fn refused(&self) -> bool {
        self.error.is_some() || self.decisions.iter().any(|d| d.allowed_by.is_none())
    }
}

/// Check `commits` (oldest first is not required) against `config`'s policy:
/// for each desired file a commit changes, the semantic diff against its
/// first parent, decided for the commit's actor.
pub fn check_commits(
    store: &crate::store::Store,
    config: &crate::config::Config,
    commits: &[String],
) -> Result<Vec<CommitCheck>> {
    use crate::fleet::diff::diff;
    let dir = store.git_dir().to_path_buf();
    // Desired files and the target each belongs to.
    let mut files: Vec<(String, Option<String>)> = config
        .targets
        .iter()
        .map(|(name, t)| (crate::reconcile::desired_path(t), Some(name.clone())))
        .collect();
    if files.is_empty() {
        files.push((crate::config::DEFAULT_DESIRED.to_string(), None));
    }
    let mut out = Vec::new();
    // Read through git itself: in a pre-receive hook the pushed objects are
    // only visible through the quarantine git sets up in the environment.
    for commit in commits {
        let id = git(
            &dir,
            &[
                "rev-parse",
                "--verify",
                "-q",
                &format!("{commit}^{{commit}}"),
            ],
        )?;
        if !id.success {
            return Err(Error::usage(format!("unknown commit '{commit}'")));
        }
        let id = id.stdout.trim().to_string();
        let parent = git(&dir, &["rev-parse", "--verify", "-q", &format!("{id}^1")])?;
        let parent = parent.success.then(|| parent.stdout.trim().to_string());
        for (path, target) in &files {
            let now = blob_at(&dir, &id, path)?;
            let before = match &parent {
                Some(p) => blob_at(&dir, p, path)?,
                None => None,
            };
            if now == before {
                continue;
            }
            let label = format!("{}:{path}", &id[..12]);
            let actor = commit_actor(&dir, &id)?;
            let parse = |bytes: &Option<Vec<u8>>| -> Result<crate::fleet::Fleet> {
                match bytes {
                    Some(b) => Ok(crate::fleet::parse(&label, b)?.fleet),
                    None => Ok(Default::default()),
                }
            };
            let (old, new) = match (parse(&before), parse(&now)) {
                (Ok(o), Ok(n)) => (o, n),
                (_, Err(e)) | (Err(e), _) => {
                    out.push(CommitCheck {
                        commit: id.clone(),
                        actor,
                        file: path.clone(),
                        decisions: vec![],
                        error: Some(e.to_string()),
                    });
                    continue;
                }
            };
            let decisions = diff(&old, &new)
                .changes
                .iter()
                .map(|c| decide(&config.policy, &actor, target.as_deref(), c))
                .collect();
            out.push(CommitCheck {
                commit: id.clone(),
                actor,
                file: path.clone(),
                decisions,
                error: None,
            });
        }
    }
    Ok(out)
}

/// The raw bytes of `path` at `rev`, if it exists there.
fn blob_at(dir: &Path, rev: &str, path: &str) -> Result<Option<Vec<u8>>> {
    let out = std::process::Command::new("git")
        .args(["cat-file", "blob", &format!("{rev}:{path}")])
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .map_err(|e| Error::Other(format!("cannot run git: {e}")))?;
    Ok(out.status.success().then_some(out.stdout))
}

/// The commits a pre-receive hook must check: for each updated ref (stdin lines
/// `<old> <new> <ref>`), the new commits not reachable from any existing ref.
pub fn pushed_commits(repo_dir: &Path, stdin: &str) -> Result<Vec<String>> {
    let mut commits = Vec::new();
    for line in stdin.lines() {
        let mut f = line.split_whitespace();
        let (Some(_old), Some(new), Some(_name)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if new.bytes().all(|b| b == b'0') {
            continue; // a deletion changes no desired state
        }
        let out = git(repo_dir, &["rev-list", "--reverse", new, "--not", "--all"])?;
        if !out.success {
            return Err(Error::Other(format!(
                "cannot list pushed commits: {}",
                out.stderr.trim()
            )));
        }
        commits.extend(out.stdout.lines().map(str::to_string));
    }
    commits.dedup();
    Ok(commits)
}
