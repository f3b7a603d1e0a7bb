//! Bounded writes: `[[policy]]` rules in fleet.toml say which actor may change
//! which resources (globs on `kind/name`) and whether it may destroy them.
//!
//! No rule at all = everything allowed. Once any rule exists, a change no rule
//! allows is refused, and the refusal names the actor, the change and the rules
//! that matched the actor (or that none did). A malformed policy is a parse
//! error of fleet.toml: callers refuse everything rather than allow anything.
//!
//! fleet.toml itself is the resource `config/fleet.toml`: once a policy exists,
//! a pushed commit that changes it needs a rule allowing that resource (and
//! `destroy = true` to delete it), so nobody widens their own scope by editing
//! the policy first and using it in the next push.

use crate::config::{line_col, Config, CONFIG_FILE, DEFAULT_DESIRED};
use crate::error::{Diagnostic, Error, Result};
use crate::fleet::diff::{diff, Change, ChangeType};
use crate::gitcmd::git;
use glob::{MatchOptions, Pattern};
use serde::{Deserialize, Serialize};
use std::path::Path;
use toml::Spanned;

/// The resource name of fleet.toml in `allow` globs.
pub const CONFIG_RESOURCE: &str = "config/fleet.toml";

/// The kinds an `allow` glob may name.
const KINDS: [&str; 5] = [
    "templates",
    "modules",
    "assignments",
    "provider_configs",
    "config",
];

/// A `[[policy]]` table as written; spans locate problems as file:line:col.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    name: Option<Spanned<String>>,
    actor: Option<Spanned<String>>,
    principal: Option<Spanned<String>>,
    pusher: Option<Spanned<String>>,
    allow: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    destroy: bool,
    targets: Option<Spanned<Vec<Spanned<String>>>>,
}

/// One checked `[[policy]]` rule with its globs compiled.
#[derive(Debug, Clone, Serialize)]
pub struct Rule {
    /// 1-based position among the `[[policy]]` tables.
    pub number: usize,
    pub name: Option<String>,
    /// Glob on the git identity email, or a verified signer's principal
    /// (case-insensitive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Glob on an SSH key principal from gpg.ssh.allowedSignersFile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// Glob on the user the git server authenticated (see `PUSHER_VARS`);
    /// never matched by commit metadata, so only a server's hook matches it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pusher: Option<String>,
    /// Globs on `kind/name`.
    pub allow: Vec<String>,
    /// Whether this rule also allows destroying what it allows changing.
    pub destroy: bool,
    /// Only these targets (None: every target).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<String>>,
    #[serde(skip)]
    selector: Option<Pattern>,
    #[serde(skip)]
    pusher_glob: Option<Pattern>,
    #[serde(skip)]
    globs: Vec<Pattern>,
}

/// The `[[policy]]` rules of one fleet.toml.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Policy {
    /// The file the rules came from, for messages (`fleet.toml`, `fleet.toml (HEAD)`).
    pub file: String,
    pub rules: Vec<Rule>,
    /// `require_signed = true`: only verified SSH signers match any rule (an
    /// email never does), and without rules only they may act at all.
    #[serde(default)]
    pub require_signed: bool,
}

/// The rule that allowed a change: its position, name and text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleRef {
    pub number: usize,
    pub name: Option<String>,
    pub file: String,
    /// The rule as written, e.g. `actor = "*@ops.example.com", allow = ["modules/*"], destroy = false`.
    pub text: String,
}

impl RuleRef {
    /// `policy 'web-team'`, or `policy #2` for an unnamed rule.
    pub fn label(&self) -> String {
        label(self.number, self.name.as_deref())
    }
}

impl std::fmt::Display for RuleRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({} #{}: {})",
            self.label(),
            self.file,
            self.number,
            self.text
        )
    }
}

fn label(number: usize, name: Option<&str>) -> String {
    match name {
        Some(n) => format!("policy '{n}'"),
        None => format!("policy #{number}"),
    }
}

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

/// The policy's answer for one change.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    /// `kind/name`, e.g. `modules/nginx-public`.
    pub resource: String,
    pub change: ChangeType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The actor as messages name it.
    pub actor: String,
    /// The first rule that allows the change (None: refused, or no policy at all).
    pub allowed_by: Option<RuleRef>,
    /// Why the change is refused (None: allowed), naming actor, change and rules.
    pub refusal: Option<String>,
}

impl Decision {
    pub fn allowed(&self) -> bool {
        self.refusal.is_none()
    }

    /// What a receipt records as the policy that allowed this change.
    pub fn policy_note(&self) -> String {
        match (&self.allowed_by, &self.refusal) {
            (Some(rule), _) => rule.to_string(),
            (None, None) => "none: no [[policy]] in fleet.toml, everything is allowed".into(),
            (None, Some(why)) => format!("refused: {why}"),
        }
    }

    /// `update modules/postgres on staging`.
    pub fn subject(&self) -> String {
        match &self.target {
            Some(t) => format!("{} {} on {t}", self.change.as_str(), self.resource),
            None => format!("{} {}", self.change.as_str(), self.resource),
        }
    }
}

fn email_options() -> MatchOptions {
    MatchOptions {
        case_sensitive: false,
        require_literal_separator: false,
        require_literal_leading_dot: false,
    }
}

fn exact_options() -> MatchOptions {
    MatchOptions {
        case_sensitive: true,
        require_literal_separator: false,
        require_literal_leading_dot: false,
    }
}

/// `*` stays within the kind or the name: `modules/*` never matches another kind.
fn resource_options() -> MatchOptions {
    MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: false,
    }
}

impl Rule {
    pub fn label(&self) -> String {
        label(self.number, self.name.as_deref())
    }

    /// The rule as written (one line), for receipts and messages.
    pub fn text(&self) -> String {
        let list = |v: &[String]| {
            let items: Vec<String> = v.iter().map(|s| format!("{s:?}")).collect();
            format!("[{}]", items.join(", "))
        };
        let mut parts = Vec::new();
        if let Some(a) = &self.actor {
            parts.push(format!("actor = {a:?}"));
        }
        if let Some(p) = &self.principal {
            parts.push(format!("principal = {p:?}"));
        }
        if let Some(p) = &self.pusher {
            parts.push(format!("pusher = {p:?}"));
        }
        parts.push(format!("allow = {}", list(&self.allow)));
        parts.push(format!("destroy = {}", self.destroy));
        if let Some(t) = &self.targets {
            parts.push(format!("targets = {}", list(t)));
        }
        parts.join(", ")
    }

    fn reference(&self, file: &str) -> RuleRef {
        RuleRef {
            number: self.number,
            name: self.name.clone(),
            file: file.to_string(),
            text: self.text(),
        }
    }

    /// `actor` globs the email, and also a verified principal (allowed
    /// signers principals are usually emails: a signed commit keeps the scope
    /// its author's email has); `principal` globs principals only.
    fn matches_actor(&self, actor: &Actor) -> bool {
        if let Some(glob) = &self.pusher_glob {
            let pushed = actor
                .pusher
                .as_ref()
                .is_some_and(|p| glob.matches_with(&p.name, exact_options()));
            if !pushed {
                return false;
            }
        }
        let Some(selector) = &self.selector else {
            return true; // a pusher rule alone
        };
        if self.actor.is_some() {
            actor
                .email
                .iter()
                .chain(actor.principals.iter())
                .any(|e| selector.matches_with(e, email_options()))
        } else {
            actor
                .principals
                .iter()
                .any(|p| selector.matches_with(p, exact_options()))
        }
    }

    /// None when this rule allows the change; otherwise why not.
    fn why_not(&self, resource: &str, change: ChangeType, target: Option<&str>) -> Option<String> {
        if let Some(targets) = &self.targets {
            match target {
                Some(t) if targets.iter().any(|x| x == t) => {}
                Some(_) => {
                    return Some(format!(
                        "{} is limited to targets {}",
                        self.label(),
                        targets.join(", ")
                    ))
                }
                None => {
                    return Some(format!(
                        "{} is limited to targets {} and this file belongs to no known target",
                        self.label(),
                        targets.join(", ")
                    ))
                }
            }
        }
        if !self
            .globs
            .iter()
            .any(|g| g.matches_with(resource, resource_options()))
        {
            let allow: Vec<String> = self.allow.iter().map(|s| format!("{s:?}")).collect();
            return Some(format!(
                "{} does not allow it (allow = [{}])",
                self.label(),
                allow.join(", ")
            ));
        }
        if change == ChangeType::Destroy && !self.destroy {
            return Some(format!(
                "{} does not allow destroying it (destroy = false)",
                self.label()
            ));
        }
        None
    }
}

impl Policy {
    /// The policy of the fleet.toml in `root` (a missing file: no policy).
    pub fn load(root: &Path) -> Result<Policy> {
        Ok(Config::load(root)?.policy)
    }

    /// The policy of a whole fleet.toml text; `file` names it in messages.
    pub fn parse(file: &str, bytes: &[u8]) -> Result<Policy> {
        Ok(Config::parse(file, bytes)?.policy)
    }

    /// Check and compile the `[[policy]]` tables of `text` (called by
    /// `Config::parse`). Every problem is reported, each at file:line:col.
    pub(crate) fn compile(file: &str, text: &str, raw: Vec<Spanned<RawRule>>) -> Result<Policy> {
        let mut problems = Vec::new();
        let mut rules = Vec::new();
        let at = |start: usize, message: String| {
            let (line, col) = line_col(text, start);
            Diagnostic::new(file, message).at(line, col)
        };
        for (i, entry) in raw.into_iter().enumerate() {
            let number = i + 1;
            let table_start = entry.span().start;
            let raw = entry.into_inner();
            let name = raw.name.as_ref().map(|n| n.get_ref().clone());
            let label = label(number, name.as_deref());
            let before = problems.len();
            if let Some(n) = &raw.name {
                if n.get_ref().trim().is_empty() {
                    problems.push(at(n.span().start, format!("{label}: `name` is empty")));
                } else if let Some(other) = rules
                    .iter()
                    .find(|r: &&Rule| r.name.as_deref() == Some(n.get_ref().as_str()))
                {
                    problems.push(at(
                        n.span().start,
                        format!(
                            "{label}: the name is already used by policy #{}; receipts name rules, so names must be unique",
                            other.number
                        ),
                    ));
                }
            }
            let selector = match (&raw.actor, &raw.principal) {
                (Some(_), Some(p)) => {
                    problems.push(at(
                        p.span().start,
                        format!(
                            "{label}: set either `actor` (an email glob) or `principal`, not both"
                        ),
                    ));
                    None
                }
                (None, None) if raw.pusher.is_some() => None,
                (None, None) => {
                    problems.push(at(
                        table_start,
                        format!("{label}: needs `actor` (a glob on the git email, e.g. \"*@ops.example.com\"), `principal` (an SSH key principal from gpg.ssh.allowedSignersFile) or `pusher` (the user a git server authenticated)"),
                    ));
                    None
                }
                (Some(s), None) | (None, Some(s)) => {
                    let key = if raw.actor.is_some() {
                        "actor"
                    } else {
                        "principal"
                    };
                    match Pattern::new(s.get_ref()) {
                        Ok(p) if !s.get_ref().trim().is_empty() => Some(p),
                        Ok(_) => {
                            problems.push(at(s.span().start, format!("{label}: `{key}` is empty")));
                            None
                        }
                        Err(e) => {
                            problems.push(at(
                                s.span().start,
                                format!(
                                    "{label}: {key} '{}' is not a valid glob: {}",
                                    s.get_ref(),
                                    e.msg
                                ),
                            ));
                            None
                        }
                    }
                }
            };
            let pusher_glob = match &raw.pusher {
                None => None,
                Some(p) if p.get_ref().trim().is_empty() => {
                    problems.push(at(p.span().start, format!("{label}: `pusher` is empty")));
                    None
                }
                Some(p) => match Pattern::new(p.get_ref()) {
                    Ok(g) => Some(g),
                    Err(e) => {
                        problems.push(at(
                            p.span().start,
                            format!(
                                "{label}: pusher '{}' is not a valid glob: {}",
                                p.get_ref(),
                                e.msg
                            ),
                        ));
                        None
                    }
                },
            };
            let mut globs = Vec::new();
            let mut allow = Vec::new();
            match &raw.allow {
                None => problems.push(at(
                    table_start,
                    format!("{label}: needs `allow`: a list of kind/name globs, e.g. [\"modules/nginx-*\"]"),
                )),
                Some(list) if list.get_ref().is_empty() => problems.push(at(
                    list.span().start,
                    format!("{label}: `allow` is empty: list kind/name globs, e.g. [\"modules/nginx-*\"]"),
                )),
                Some(list) => {
                    for g in list.get_ref() {
                        match check_allow(g.get_ref()) {
                            Ok(p) => {
                                globs.push(p);
                                allow.push(g.get_ref().clone());
                            }
                            Err(why) => problems.push(at(
                                g.span().start,
                                format!("{label}: allow '{}' {why}", g.get_ref()),
                            )),
                        }
                    }
                }
            }
            let targets = match &raw.targets {
                None => None,
                Some(list) if list.get_ref().is_empty() => {
                    problems.push(at(
                        list.span().start,
                        format!("{label}: `targets` is empty; leave it out to mean every target"),
                    ));
                    None
                }
                Some(list) => {
                    for t in list.get_ref() {
                        if t.get_ref().trim().is_empty() {
                            problems.push(at(
                                t.span().start,
                                format!("{label}: a target name is empty"),
                            ));
                        }
                    }
                    Some(list.get_ref().iter().map(|t| t.get_ref().clone()).collect())
                }
            };
            if problems.len() > before {
                continue;
            }
            if selector.is_some() || pusher_glob.is_some() {
                rules.push(Rule {
                    number,
                    name,
                    actor: raw.actor.map(|s| s.into_inner()),
                    principal: raw.principal.map(|s| s.into_inner()),
                    pusher: raw.pusher.map(|s| s.into_inner()),
                    allow,
                    destroy: raw.destroy,
                    targets,
                    selector,
                    pusher_glob,
                    globs,
                });
            }
        }
        if !problems.is_empty() {
            return Err(Error::Invalid(problems));
        }
        Ok(Policy {
            file: file.to_string(),
            rules,
            require_signed: false,
        })
    }

    /// No rule and no signing requirement: everything is allowed.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty() && !self.require_signed
    }

    /// Decide `changes` (on `target`, when known) for `actor`, one decision each.
    pub fn check(&self, actor: &Actor, target: Option<&str>, changes: &[Change]) -> Vec<Decision> {
        changes
            .iter()
            .map(|c| {
                self.decide(
                    actor,
                    target,
                    &format!("{}/{}", c.kind.as_str(), c.name),
                    c.change,
                )
            })
            .collect()
    }

    /// Decide one change of `resource` (`kind/name`).
    pub fn decide(
        &self,
        actor: &Actor,
        target: Option<&str>,
        resource: &str,
        change: ChangeType,
    ) -> Decision {
        let mut decision = Decision {
            resource: resource.to_string(),
            change,
            target: target.map(str::to_string),
            actor: actor.to_string(),
            allowed_by: None,
            refusal: None,
        };
        if self.require_signed && actor.principals.is_empty() {
            decision.refusal = Some(format!(
                "{} by {actor} refused: require_signed = true in {} and this actor is not a verified SSH signer (a signature by a key gpg.ssh.allowedSignersFile lists)",
                decision.subject(),
                self.file
            ));
            return decision;
        }
        if self.rules.is_empty() {
            return decision;
        }
        // With require_signed an email is a claim: only principals match.
        let matched = Actor {
            email: actor.email.clone().filter(|_| !self.require_signed),
            ..actor.clone()
        };
        let mut reasons = Vec::new();
        for rule in self.rules.iter().filter(|r| r.matches_actor(&matched)) {
            match rule.why_not(resource, change, target) {
                None => {
                    decision.allowed_by = Some(rule.reference(&self.file));
                    return decision;
                }
                Some(why) => reasons.push(why),
            }
        }
        let why = if reasons.is_empty() {
            let pusher_note =
                if actor.pusher.is_none() && self.rules.iter().any(|r| r.pusher.is_some()) {
                    format!(
                        "; `pusher` rules match only where a git server names the pusher ({})",
                        PUSHER_VARS.join(", ")
                    )
                } else {
                    String::new()
                };
            format!(
                "no policy rule matches this actor ({} rule{} in {}){pusher_note}",
                self.rules.len(),
                if self.rules.len() == 1 { "" } else { "s" },
                self.file
            )
        } else {
            reasons.join("; ")
        };
        decision.refusal = Some(format!("{} by {actor} refused: {why}", decision.subject()));
        decision
    }
}

/// A valid `allow` entry: a glob on `kind/name` whose kind is (or matches) a known kind.
fn check_allow(glob: &str) -> std::result::Result<Pattern, String> {
    let usage = format!(
        "must be a glob on kind/name with kind one of {}, e.g. modules/nginx-*",
        KINDS.join(", ")
    );
    let Some((kind, name)) = glob.split_once('/') else {
        return Err(usage);
    };
    if name.is_empty() || name.contains('/') {
        return Err(usage);
    }
    let kind_pattern = Pattern::new(kind).map_err(|e| format!("is not a valid glob: {}", e.msg))?;
    if !KINDS.iter().any(|k| kind_pattern.matches(k)) {
        return Err(usage);
    }
    Pattern::new(glob).map_err(|e| format!("is not a valid glob: {}", e.msg))
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
fn signing_public_key(repo_dir: &Path, key: &str) -> String {
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
fn resolve_path(repo_dir: &Path, p: &str) -> std::path::PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ => repo_dir.join(p),
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
        return Err(Error::Other(format!(
            "cannot read commit {commit}: {}",
            raw.stderr.trim()
        )));
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

/// The bytes a review decision's signature covers: the proposal id (a hash
/// of target, resource, change and desired content) and the transition.
pub fn decision_payload(proposal: &str, t: &crate::proposals::Transition) -> Vec<u8> {
    format!(
        "git-fleet decision v1\nproposal {proposal}\nstate {}\nactor {}\ntime {}\nreason {}\n",
        t.state.as_str(),
        t.actor,
        t.time,
        t.reason.as_deref().unwrap_or("")
    )
    .into_bytes()
}

/// The people who approved a proposal since it last entered review.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Approvals {
    /// Distinct people: approvals sharing a key, a principal or an email are one.
    pub count: usize,
    /// What told people apart: `verified signers`, `signing keys` (no allowed
    /// signers file to name them), `emails`, joined by ` and `; or `none`.
    pub counted: String,
    /// One label per person: a verified principal, `key SHA256:... (email)`, an email.
    pub people: Vec<String>,
    /// Approvals that count for nobody, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_counted: Vec<String>,
}

impl Approvals {
    /// `counted by email: a@x, b@x`.
    pub fn describe(&self) -> String {
        if self.counted == "none" {
            return self.why_none();
        }
        let by = self
            .counted
            .replace("signers", "signer")
            .replace("keys", "key")
            .replace("emails", "email");
        let mut s = format!("counted by {by}: {}", self.people.join(", "));
        if !self.not_counted.is_empty() {
            s.push_str(&format!("; not counted: {}", self.not_counted.join("; ")));
        }
        s
    }

    fn why_none(&self) -> String {
        if self.not_counted.is_empty() {
            "no approval".into()
        } else {
            format!("not counted: {}", self.not_counted.join("; "))
        }
    }
}

/// The email of an actor string `Name <email>` (lowercased), or the string.
fn actor_email(actor: &str) -> String {
    match (actor.rfind('<'), actor.rfind('>')) {
        (Some(a), Some(b)) if a < b => actor[a + 1..b].to_ascii_lowercase(),
        _ => actor.trim().to_ascii_lowercase(),
    }
}

/// Count the people who approved `p` since it last entered review. A signed
/// approval is its key (and the principals allowed signers lists for it); an
/// unsigned one is its email, so another `user.name` is the same person. With
/// `require_signed`, unsigned or unverifiable approvals count for nobody.
pub fn count_approvals(
    ssh: &crate::sign::SshConfig,
    p: &crate::proposals::Proposal,
    policy: &Policy,
) -> Result<Approvals> {
    let require_signed = policy.require_signed;
    use crate::proposals::State;
    use crate::sign::Verdict;
    let start = p
        .transitions
        .iter()
        .rposition(|t| t.state == State::PendingReview)
        .map_or(0, |i| i + 1);
    // Each approval: (identity tokens, label, what identified it).
    let mut found: Vec<(Vec<String>, String, &str)> = Vec::new();
    let mut out = Approvals::default();
    for t in p.transitions[start..]
        .iter()
        .filter(|t| t.state == State::Approved)
    {
        let email = actor_email(&t.actor);
        // An approval counts only from someone the policy allows to make
        // this change (a hand-made approval by anyone else counts for nobody).
        let allowed = |actor: &Actor| {
            policy
                .decide(actor, Some(&p.target), &p.resource(), p.change)
                .refusal
        };
        let Some(sig) = &t.signature else {
            if require_signed {
                out.not_counted
                    .push(format!("{email}: unsigned (require_signed = true)"));
            } else if let Some(why) = allowed(&Actor {
                email: Some(email.clone()),
                principals: vec![],
                source: "approval".into(),
                pusher: None,
            }) {
                out.not_counted.push(format!("{email}: {why}"));
            } else {
                found.push((vec![format!("email {email}")], email, "emails"));
            }
            continue;
        };
        match ssh.verify(&decision_payload(&p.id, t), sig, None, Some(t.time))? {
            Verdict::Good { principal, key } => {
                let signer = Actor {
                    email: None,
                    principals: vec![principal.clone()],
                    source: "signed approval".into(),
                    pusher: None,
                };
                match allowed(&signer) {
                    Some(why) => out.not_counted.push(format!("{principal}: {why}")),
                    None => found.push((
                        vec![
                            format!("key {key}"),
                            format!("principal {principal}"),
                            format!("email {email}"),
                        ],
                        principal,
                        "verified signers",
                    )),
                }
            }
            Verdict::Unchecked { key } if !require_signed => {
                let claim = Actor {
                    email: Some(email.clone()),
                    principals: vec![],
                    source: "approval".into(),
                    pusher: None,
                };
                match allowed(&claim) {
                    Some(why) => out.not_counted.push(format!("{email}: {why}")),
                    None => found.push((
                        vec![format!("key {key}"), format!("email {email}")],
                        format!("key {key} ({email})"),
                        "signing keys",
                    )),
                }
            }
            Verdict::Unchecked { key } => out.not_counted.push(format!(
                "{email}: key {key} cannot be checked (no gpg.ssh.allowedSignersFile)"
            )),
            Verdict::UntrustedKey { key } | Verdict::WrongSigner { key, .. } => {
                out.not_counted.push(format!(
                    "{email}: signed by key {key}, which gpg.ssh.allowedSignersFile does not list"
                ))
            }
            Verdict::Bad { detail } => out
                .not_counted
                .push(format!("{email}: bad signature ({detail})")),
        }
    }
    // Approvals that share any token are one person.
    let mut groups: Vec<(Vec<String>, String, &str)> = Vec::new();
    for merged in found {
        let mut merged = merged;
        let mut i = 0;
        while i < groups.len() {
            if groups[i].0.iter().any(|t| merged.0.contains(t)) {
                let g = groups.remove(i);
                merged.0.extend(g.0);
                // The first approval's label names the person.
                merged.1 = g.1;
                // The strongest evidence names how the person was told apart.
                if g.2 == "verified signers" || merged.2 == "emails" {
                    merged.2 = g.2;
                }
                i = 0;
            } else {
                i += 1;
            }
        }
        groups.push(merged);
    }
    out.count = groups.len();
    out.people = groups.iter().map(|g| g.1.clone()).collect();
    let kinds: Vec<&str> = ["verified signers", "signing keys", "emails"]
        .into_iter()
        .filter(|k| groups.iter().any(|g| g.2 == *k))
        .collect();
    out.counted = if kinds.is_empty() {
        "none".into()
    } else {
        kinds.join(" and ")
    };
    Ok(out)
}

/// The remote-tracking ref whose content may go live on a target: the
/// target's `branch` on its `remote` (default: origin, or the only remote;
/// its default branch, `refs/remotes/<remote>/HEAD`, else the branch checked
/// out here as the remote has it). Ok(None): the repository has no remote at all, so
/// there is nothing to check against. Err(why) when it cannot be told.
pub fn published_ref(
    repo_dir: &Path,
    cfg: &crate::config::TargetConfig,
    target: &str,
) -> std::result::Result<Option<String>, String> {
    let out = git(repo_dir, &["remote"]).map_err(|e| e.to_string())?;
    let remotes: Vec<&str> = out.stdout.lines().map(str::trim).collect();
    if remotes.is_empty() && cfg.remote.is_none() && cfg.branch.is_none() {
        return Ok(None);
    }
    let remote = match &cfg.remote {
        Some(r) => r.clone(),
        None if remotes.contains(&"origin") => "origin".into(),
        None if remotes.len() == 1 => remotes[0].to_string(),
        None => {
            return Err(format!(
                "cannot tell which remote's branch target '{target}' follows ({}): set `remote` for it in fleet.toml",
                remotes.join(", ")
            ))
        }
    };
    let tracking = match &cfg.branch {
        Some(b) => format!(
            "refs/remotes/{remote}/{}",
            b.strip_prefix("refs/heads/").unwrap_or(b)
        ),
        None => {
            let head = git(
                repo_dir,
                &["symbolic-ref", "-q", &format!("refs/remotes/{remote}/HEAD")],
            )
            .map_err(|e| e.to_string())?;
            // Without one (a remote added by hand, not cloned), the branch
            // checked out here as the remote has it: what reconcile follows.
            let current = git(repo_dir, &["symbolic-ref", "-q", "--short", "HEAD"])
                .ok()
                .filter(|o| o.success)
                .map(|o| format!("refs/remotes/{remote}/{}", o.stdout.trim()))
                .filter(|r| {
                    git(repo_dir, &["rev-parse", "--verify", "-q", r]).is_ok_and(|o| o.success)
                });
            if let (false, Some(current)) = (head.success, current) {
                return Ok(Some(current));
            }
            if !head.success {
                return Err(format!(
                    "cannot tell the default branch of {remote} (no refs/remotes/{remote}/HEAD): set `branch` for target '{target}' in fleet.toml, or run `git remote set-head {remote} --auto`"
                ));
            }
            head.stdout.trim().to_string()
        }
    };
    Ok(Some(tracking))
}

/// Why the desired content of `source` (a proposal's source commit) may not
/// go live on `target`: it is not reachable from the remote-tracking ref
/// `published_ref` names, so nobody else has it. None: it may (or there is
/// no remote to check against).
pub fn unpublished(
    repo_dir: &Path,
    cfg: &crate::config::TargetConfig,
    target: &str,
    source: Option<&str>,
) -> Option<String> {
    let tracking = match published_ref(repo_dir, cfg, target) {
        Ok(Some(t)) => t,
        Ok(None) => return None,
        Err(why) => return Some(why),
    };
    let hint = "push it to the remote (and fetch here), then apply again";
    let Some(source) = source else {
        return Some(format!(
            "the proposal names no source commit, so its content is not on {tracking}"
        ));
    };
    let short = &source[..source.len().min(12)];
    let exists =
        git(repo_dir, &["rev-parse", "--verify", "-q", &tracking]).is_ok_and(|o| o.success);
    if !exists {
        return Some(format!(
            "its source commit {short} is not on {tracking}: that ref does not exist here; fetch first ({hint})"
        ));
    }
    match git(repo_dir, &["merge-base", "--is-ancestor", source, &tracking]) {
        Ok(o) if o.success => None,
        Ok(o) if o.code == Some(1) => Some(format!(
            "its source commit {short} is not on {tracking}: only content that reached the target's branch goes live; {hint}"
        )),
        _ => Some(format!(
            "its source commit {short} is not on {tracking} (it is not even in this repository); {hint}"
        )),
    }
}

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

/// The policy decisions for one file one commit changes.
#[derive(Debug, Clone, Serialize)]
pub struct CommitCheck {
    pub commit: String,
    pub actor: Actor,
    /// The changed file: a desired file, or fleet.toml.
    pub file: String,
    pub decisions: Vec<Decision>,
    /// A file that cannot be read or parsed is refused outright.
    pub error: Option<String>,
}

impl CommitCheck {
    pub fn refused(&self) -> bool {
        self.error.is_some() || self.decisions.iter().any(|d| !d.allowed())
    }
}

/// A desired file and the targets it serves (empty: no known target).
pub type DesiredFiles = Vec<(String, Vec<String>)>;

/// The desired files of `config`: each known target's desired path (declared
/// targets, and snapshotted ones that use fleet.yaml), or fleet.yaml alone.
pub fn desired_files(config: &Config, known_targets: &[String]) -> DesiredFiles {
    let mut files: DesiredFiles = Vec::new();
    for name in config.targets.keys().chain(known_targets.iter()) {
        let cfg = config.target(name).cloned().unwrap_or_default();
        add_file(&mut files, crate::reconcile::desired_path(&cfg), Some(name));
    }
    if files.is_empty() {
        add_file(&mut files, DEFAULT_DESIRED.to_string(), None);
    }
    files
}

fn add_file(files: &mut DesiredFiles, path: String, target: Option<&str>) {
    let slot = match files.iter().position(|(p, _)| *p == path) {
        Some(i) => i,
        None => {
            files.push((path, Vec::new()));
            files.len() - 1
        }
    };
    if let Some(t) = target {
        if !files[slot].1.iter().any(|x| x == t) {
            files[slot].1.push(t.to_string());
        }
    }
}

/// Check each of `commits` against `policy`: for every desired file (of
/// `files`, plus the targets the commit's own fleet.toml declares) the commit
/// changes, the semantic diff against its first parent is decided for the
/// commit's actor on each target the file serves. A change to fleet.toml is
/// decided as `config/fleet.toml`, and a fleet.toml that does not parse is
/// refused even without a policy (a server could enforce nothing after it).
/// Without a policy, desired files are not even read.
pub fn check_commits(
    repo_dir: &Path,
    policy: &Policy,
    files: &DesiredFiles,
    commits: &[String],
    pusher: Option<&Pusher>,
) -> Result<Vec<CommitCheck>> {
    check_commits_as(repo_dir, policy, files, commits, pusher, None)
}

/// `check_commits`; with `records` (git-fleet's own record commits, which
/// are never signed), a known pusher is the actor and the committer email,
/// a claim anyone can write, does not count; a record commit a pushed signed
/// receipt names (`signed`) is its verified signer's.
fn check_commits_as(
    repo_dir: &Path,
    policy: &Policy,
    files: &DesiredFiles,
    commits: &[String],
    pusher: Option<&Pusher>,
    records: Option<&std::collections::HashMap<String, Actor>>,
) -> Result<Vec<CommitCheck>> {
    let mut out = Vec::new();
    // Read through git itself: in a pre-receive hook the pushed objects are
    // only visible through the quarantine git sets up in the environment.
    for commit in commits {
        let id = git(
            repo_dir,
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
        let short = id[..12].to_string();
        let parent = git(
            repo_dir,
            &["rev-parse", "--verify", "-q", &format!("{id}^1")],
        )?;
        let parent = parent.success.then(|| parent.stdout.trim().to_string());
        let changed = changed_paths(repo_dir, &id, parent.as_deref())?;
        let mut actor: Option<Actor> = None;
        let actor_of = |actor: &mut Option<Actor>| -> Result<Actor> {
            if let Some(signer) = records.and_then(|m| m.get(&id)) {
                *actor = Some(signer.clone());
            }
            if actor.is_none() {
                let mut found = commit_actor(repo_dir, &id)?;
                found.pusher = pusher.cloned();
                if records.is_some() && pusher.is_some() && found.principals.is_empty() {
                    found.email = None;
                    found.source = format!("{}; the pusher is the actor", found.source);
                }
                *actor = Some(found);
            }
            Ok(actor.clone().unwrap_or_default())
        };
        let mut files = files.clone();
        if changed.iter().any(|p| p == CONFIG_FILE) {
            let now = blob_at(repo_dir, &id, CONFIG_FILE)?;
            let label = format!("{CONFIG_FILE} at {short}");
            let parsed = now.as_ref().map(|b| Config::parse(&label, b)).transpose();
            let error = match &parsed {
                Err(e) => Some(format!(
                    "{e} (a server refuses every push while its fleet.toml does not parse, so a broken one is never accepted)"
                )),
                Ok(Some(config)) => {
                    for (name, t) in &config.targets {
                        add_file(&mut files, crate::reconcile::desired_path(t), Some(name));
                    }
                    None
                }
                Ok(None) => None,
            };
            if error.is_some() || !policy.is_empty() {
                let existed = match &parent {
                    Some(p) => blob_at(repo_dir, p, CONFIG_FILE)?.is_some(),
                    None => false,
                };
                let change = match (existed, now.is_some()) {
                    (false, _) => ChangeType::Create,
                    (true, true) => ChangeType::Update,
                    (true, false) => ChangeType::Destroy,
                };
                let actor = actor_of(&mut actor)?;
                let decisions = if policy.is_empty() {
                    Vec::new()
                } else {
                    vec![policy.decide(&actor, None, CONFIG_RESOURCE, change)]
                };
                out.push(CommitCheck {
                    commit: id.clone(),
                    actor,
                    file: CONFIG_FILE.into(),
                    decisions,
                    error,
                });
            }
        }
        if policy.is_empty() {
            continue;
        }
        for (path, targets) in &files {
            if !changed.iter().any(|p| p == path) {
                continue;
            }
            let actor = actor_of(&mut actor)?;
            let label = format!("{path} at {short}");
            let parse = |rev: Option<&str>, what: &str| -> Result<crate::fleet::Fleet> {
                let Some(rev) = rev else {
                    return Ok(Default::default());
                };
                match blob_at(repo_dir, rev, path)? {
                    Some(b) => Ok(crate::fleet::parse(&format!("{path} at {what}"), &b)?.fleet),
                    None => Ok(Default::default()),
                }
            };
            let before = parse(parent.as_deref(), "its parent");
            let after = parse(Some(&id), &short);
            let (old, new) = match (before, after) {
                (Ok(o), Ok(n)) => (o, n),
                (_, Err(e)) | (Err(e), _) => {
                    out.push(CommitCheck {
                        commit: id.clone(),
                        actor,
                        file: path.clone(),
                        decisions: vec![],
                        error: Some(format!("{label}: cannot decide the policy: {e}")),
                    });
                    continue;
                }
            };
            let changes = diff(&old, &new).changes;
            let mut decisions = Vec::new();
            if targets.is_empty() {
                decisions.extend(policy.check(&actor, None, &changes));
            }
            for t in targets {
                decisions.extend(policy.check(&actor, Some(t), &changes));
            }
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

/// The resource a halt or resume is decided as (`allow = ["config/*"]`).
pub const HALT_RESOURCE: &str = "config/halt";

fn is_zero(id: &str) -> bool {
    id.bytes().all(|b| b == b'0')
}

/// Pre-receive for git-fleet's own records (`refs/fleet/*`,
/// `refs/notes/fleet/*`): chains only grow (no deletion, no rewrite), and,
/// under a policy, every new proposal decision, live snapshot, halt and
/// receipt is made by someone the policy allows for that change: its
/// verified signer, else the pusher the server names, else (no pusher) the
/// identity it claims. Returns one refusal per problem.
pub fn check_records(
    repo_dir: &Path,
    ssh: &crate::sign::SshConfig,
    policy: &Policy,
    stdin: &str,
    pusher: Option<&Pusher>,
) -> Result<Vec<String>> {
    let mut refusals = Vec::new();
    let signed = signed_by_receipts(repo_dir, ssh, stdin, pusher)?;
    for line in stdin.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [old, new, name] = f[..] else { continue };
        if is_checked_ref(name) {
            continue;
        }
        if is_zero(new) {
            refusals.push(format!(
                "{name}: fleet records only grow: a push cannot delete them"
            ));
            continue;
        }
        if !is_zero(old) && !git(repo_dir, &["merge-base", "--is-ancestor", old, new])?.success {
            refusals.push(format!(
                "{name}: fleet records only grow: this push rewrites the chain (not a fast-forward; `git fleet sync` merges instead)"
            ));
            continue;
        }
        if policy.is_empty() {
            continue;
        }
        let commits = new_commits(repo_dir, old, new)?;
        if let Some(target) = name.strip_prefix(crate::proposals::PROPOSALS_PREFIX) {
            check_proposals(
                repo_dir,
                ssh,
                policy,
                pusher,
                name,
                target,
                old,
                new,
                &signed,
                &mut refusals,
            )?;
        } else if let Some(target) = name.strip_prefix(crate::live::LIVE_PREFIX) {
            let own: Vec<String> = commits
                .iter()
                .filter(|c| !c.1)
                .map(|c| c.0.clone())
                .collect();
            let files = vec![(crate::live::YAML_PATH.to_string(), vec![target.to_string()])];
            for c in check_commits_as(repo_dir, policy, &files, &own, pusher, Some(&signed))? {
                if let Some(e) = &c.error {
                    refusals.push(format!("{name} {}: {e}", &c.commit[..12]));
                }
                for why in c.decisions.iter().filter_map(|d| d.refusal.as_ref()) {
                    refusals.push(format!("{name} {}: live snapshot: {why}", &c.commit[..12]));
                }
            }
        } else if name == crate::halt::HALT_REF {
            for (c, merge) in &commits {
                if *merge {
                    continue;
                }
                let actor = match signed.get(c) {
                    Some(signer) => signer.clone(),
                    None => record_actor(commit_actor(repo_dir, c)?, pusher),
                };
                let d = policy.decide(&actor, None, HALT_RESOURCE, ChangeType::Update);
                if let Some(why) = d.refusal {
                    refusals.push(format!("{name} {}: halt/resume: {why}", &c[..12]));
                }
            }
        } else if name == crate::receipts::RECEIPTS_REF {
            for (c, merge) in &commits {
                if *merge {
                    continue; // sync's merge receipt: both sides are checked on their own
                }
                let message = git(repo_dir, &["log", "-1", "--format=%B", c])?.stdout;
                let r = crate::receipts::block::in_message(&message)
                    .and_then(|t| crate::receipts::Receipt::parse(t, None));
                let Some(r) = r else {
                    refusals.push(format!("{name} {}: not a receipt", &c[..12]));
                    continue;
                };
                if policy.require_signed && r.signature.is_none() {
                    refusals.push(format!(
                        "{name} {}: receipt: unsigned, and require_signed = true in {}",
                        &c[..12],
                        policy.file
                    ));
                    continue;
                }
                let (resource, change) = match (r.field("Fleet-Change"), r.action()) {
                    (Some(ch), _) => match ch.split_once(' ') {
                        Some((t, res)) => {
                            let t = [ChangeType::Create, ChangeType::Update, ChangeType::Destroy]
                                .into_iter()
                                .find(|c| c.as_str() == t);
                            match t {
                                Some(t) => (res.to_string(), t),
                                None => continue,
                            }
                        }
                        None => continue,
                    },
                    (None, "halt" | "resume") => (HALT_RESOURCE.to_string(), ChangeType::Update),
                    _ => continue,
                };
                let actor = match &r.signature {
                    Some(sig) => signed_actor(
                        ssh,
                        r.canonical().as_bytes(),
                        sig,
                        r.time(),
                        pusher,
                        "receipt",
                    )?,
                    None => claimed_actor(r.actor_email(), pusher, "unsigned receipt"),
                };
                let d = policy.decide(&actor, r.field("Fleet-Target"), &resource, change);
                if let Some(why) = d.refusal {
                    refusals.push(format!("{name} {}: receipt: {why}", &c[..12]));
                }
            }
        }
    }
    Ok(refusals)
}

/// The record commits (live snapshots by `Fleet-After`, halt commits by
/// `Fleet-Commit`) named by signed receipts this push brings, each with the
/// receipt's verified signer: record commits are never signed themselves,
/// the receipt written with them is.
fn signed_by_receipts(
    repo_dir: &Path,
    ssh: &crate::sign::SshConfig,
    stdin: &str,
    pusher: Option<&Pusher>,
) -> Result<std::collections::HashMap<String, Actor>> {
    let mut out = std::collections::HashMap::new();
    for line in stdin.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [old, new, name] = f[..] else { continue };
        if name != crate::receipts::RECEIPTS_REF || is_zero(new) {
            continue;
        }
        if !is_zero(old) && !git(repo_dir, &["merge-base", "--is-ancestor", old, new])?.success {
            continue; // refused as a rewrite
        }
        for (c, _) in new_commits(repo_dir, old, new)? {
            let message = git(repo_dir, &["log", "-1", "--format=%B", &c])?.stdout;
            let Some(r) = crate::receipts::block::in_message(&message)
                .and_then(|t| crate::receipts::Receipt::parse(t, None))
            else {
                continue;
            };
            let Some(sig) = &r.signature else { continue };
            let actor = signed_actor(
                ssh,
                r.canonical().as_bytes(),
                sig,
                r.time(),
                pusher,
                "receipt",
            )?;
            if actor.principals.is_empty() {
                continue;
            }
            for key in ["Fleet-After", "Fleet-Commit"] {
                if let Some(v) = r.field(key) {
                    out.insert(v.to_string(), actor.clone());
                }
            }
        }
    }
    Ok(out)
}

/// The commits `new` brings over `old` (all of them for a new ref), oldest
/// first, each with whether it is a merge that only picks one parent's tree
/// (what sync writes; it brings no state of its own).
fn new_commits(repo_dir: &Path, old: &str, new: &str) -> Result<Vec<(String, bool)>> {
    let range = if is_zero(old) {
        new.to_string()
    } else {
        format!("{old}..{new}")
    };
    let out = git(repo_dir, &["rev-list", "--reverse", "--parents", &range])?;
    if !out.success {
        return Err(Error::Other(format!(
            "cannot list {range}: {}",
            out.stderr.trim()
        )));
    }
    let mut commits = Vec::new();
    for line in out.stdout.lines() {
        let ids: Vec<&str> = line.split_whitespace().collect();
        let Some((c, parents)) = ids.split_first() else {
            continue;
        };
        let picks_a_side = parents.len() > 1 && {
            let tree = |x: &str| {
                git(repo_dir, &["rev-parse", &format!("{x}^{{tree}}")])
                    .map(|o| o.stdout.trim().to_string())
            };
            let own = tree(c)?;
            let mut same = false;
            for p in parents {
                same |= tree(p)? == own;
            }
            same
        };
        commits.push((c.to_string(), picks_a_side));
    }
    Ok(commits)
}

/// A record commit's actor: with a known pusher, the pusher (its committer
/// email is a claim); else the commit's actor as for desired state.
fn record_actor(mut actor: Actor, pusher: Option<&Pusher>) -> Actor {
    if pusher.is_some() && actor.principals.is_empty() {
        actor.email = None;
        actor.source = format!("{}; the pusher is the actor", actor.source);
    }
    actor.pusher = pusher.cloned();
    actor
}

/// The actor of an unsigned record that names `email`: the pusher when the
/// server names one, else the email it claims.
fn claimed_actor(email: Option<&str>, pusher: Option<&Pusher>, what: &str) -> Actor {
    match pusher {
        Some(p) => Actor {
            email: None,
            principals: Vec::new(),
            source: format!(
                "{what} naming {}; the pusher is the actor",
                email.unwrap_or("nobody")
            ),
            pusher: Some(p.clone()),
        },
        None => Actor {
            email: email.map(str::to_string),
            principals: Vec::new(),
            source: format!("{what}: the identity it claims"),
            pusher: None,
        },
    }
}

/// The actor of a signed record: its verified signer, or nobody.
fn signed_actor(
    ssh: &crate::sign::SshConfig,
    data: &[u8],
    signature: &str,
    time: Option<i64>,
    pusher: Option<&Pusher>,
    what: &str,
) -> Result<Actor> {
    use crate::sign::Verdict;
    let (principals, source) = match ssh.verify(data, signature, None, time)? {
        Verdict::Good { principal, key } => (
            vec![principal],
            format!("verified signer of the {what}, key {key}"),
        ),
        Verdict::Unchecked { .. } => (
            vec![],
            format!("signed {what}, but gpg.ssh.allowedSignersFile is not set here"),
        ),
        Verdict::UntrustedKey { .. } | Verdict::WrongSigner { .. } => (
            vec![],
            format!("{what} signed by a key gpg.ssh.allowedSignersFile does not list"),
        ),
        Verdict::Bad { detail } => (vec![], format!("bad signature on the {what}: {detail}")),
    };
    Ok(Actor {
        email: None,
        principals,
        source,
        pusher: pusher.cloned(),
    })
}

/// The proposals a push changes: ids match content, transitions only grow,
/// and each new decision (every state but pending_review) is allowed.
#[allow(clippy::too_many_arguments)]
fn check_proposals(
    repo_dir: &Path,
    ssh: &crate::sign::SshConfig,
    policy: &Policy,
    pusher: Option<&Pusher>,
    name: &str,
    target: &str,
    old: &str,
    new: &str,
    signed: &std::collections::HashMap<String, Actor>,
    refusals: &mut Vec<String>,
) -> Result<()> {
    use crate::proposals::{proposal_id, Proposal, State};
    let empty = git(repo_dir, &["hash-object", "-t", "tree", "--stdin"])?.stdout;
    let base = if is_zero(old) {
        empty.trim().to_string()
    } else {
        old.to_string()
    };
    let out = git(repo_dir, &["diff-tree", "-r", &base, new])?;
    if !out.success {
        return Err(Error::Other(format!(
            "cannot diff {name}: {}",
            out.stderr.trim()
        )));
    }
    let read = |id: &str| -> Result<Option<Proposal>> {
        if is_zero(id) {
            return Ok(None);
        }
        let bytes = git(repo_dir, &["cat-file", "blob", id])?.stdout;
        Ok(serde_json::from_str(&bytes).ok())
    };
    for line in out.stdout.lines() {
        let Some((meta, path)) = line.split_once('\t') else {
            continue;
        };
        let m: Vec<&str> = meta.split_whitespace().collect();
        let (Some(old_blob), Some(new_blob)) = (m.get(2), m.get(3)) else {
            continue;
        };
        let short = path.rsplit('/').next().unwrap_or(path);
        let short = &short[..short.len().min(12)];
        let Some(p) = read(new_blob)? else {
            refusals.push(format!(
                "{name}: proposal {short} was removed or is unreadable: fleet records only grow"
            ));
            continue;
        };
        if proposal_id(target, p.kind, &p.name, p.change, p.after.as_ref()) != p.id
            || !path.ends_with(&p.id)
        {
            refusals.push(format!(
                "{name}: proposal {short}: its content does not match its id"
            ));
            continue;
        }
        let before = read(old_blob)?;
        let known = before
            .as_ref()
            .map(|b| b.transitions.as_slice())
            .unwrap_or_default();
        if known.iter().any(|t| !p.transitions.contains(t)) {
            refusals.push(format!(
                "{name}: proposal {short}: transitions were removed: fleet records only grow"
            ));
            continue;
        }
        for (i, t) in p.transitions.iter().enumerate() {
            // Outcomes, not decisions: a proposal opened, sent back to
            // review, failed, or superseded changes nothing live.
            if known.contains(t)
                || matches!(
                    t.state,
                    State::PendingReview | State::Failed | State::Superseded
                )
            {
                continue;
            }
            // An apply (and auto-apply's approval right before it) is vouched
            // for by the signed receipt of the live snapshot it names.
            let vouched = p.transitions[i..]
                .iter()
                .take(2)
                .find(|x| x.state == State::Applied)
                .filter(|x| x.state == t.state || x.actor == t.actor)
                .and_then(|x| x.reason.as_deref()?.strip_prefix("live snapshot "))
                // "live snapshot <id>" or, after a recovery, "live snapshot <id>; ...".
                .and_then(|rest| rest.split(|c: char| c == ';' || c.is_whitespace()).next())
                .and_then(|snapshot| signed.get(snapshot));
            let actor = match (&t.signature, vouched) {
                (None, Some(signer)) => signer.clone(),
                _ => match &t.signature {
                    Some(sig) => signed_actor(
                        ssh,
                        &decision_payload(&p.id, t),
                        sig,
                        Some(t.time),
                        pusher,
                        "decision",
                    )?,
                    None => {
                        // Auto-apply names no person: the claim is the tick
                        // runner's, the committer of the record commit.
                        let email = if t.actor == crate::reconcile::AUTO_ACTOR {
                            let ce = git(repo_dir, &["log", "-1", "--format=%ce", new])?;
                            ce.stdout.trim().to_string()
                        } else {
                            actor_email(&t.actor)
                        };
                        claimed_actor(
                            Some(&email),
                            pusher,
                            &format!("unsigned {} decision", t.state),
                        )
                    }
                },
            };
            let d = policy.decide(&actor, Some(target), &p.resource(), p.change);
            if let Some(why) = d.refusal {
                refusals.push(format!("{name}: proposal {short} {}: {why}", t.state));
            }
        }
    }
    Ok(())
}

/// The commits a push of `new` brings into a ref whose policy is read per
/// branch: those not reachable from `base` (the ref's old tip, or for a new
/// ref the default policy branch; None: every commit). Commits already on
/// other branches are checked again: another branch's policy may differ.
pub fn commits_entering(repo_dir: &Path, new: &str, base: Option<&str>) -> Result<Vec<String>> {
    let mut args = vec!["rev-list", "--reverse", new];
    if let Some(b) = base {
        args.extend(["--not", b]);
    }
    let out = git(repo_dir, &args)?;
    if !out.success {
        return Err(Error::Other(format!(
            "cannot list pushed commits: {}",
            out.stderr.trim()
        )));
    }
    Ok(out.stdout.lines().map(str::to_string).collect())
}

/// A ref moved from `old` to `new` by other than a fast-forward, landing on
/// another fleet.toml: decided as a change of `config/fleet.toml` under the
/// old policy, for the pusher alone (no commit of the push carries it).
pub fn rewound_policy(
    repo_dir: &Path,
    policy: &Policy,
    old: &str,
    new: &str,
    pusher: Option<&Pusher>,
) -> Result<Option<String>> {
    if git(repo_dir, &["merge-base", "--is-ancestor", old, new])?.success {
        return Ok(None);
    }
    let before = blob_at(repo_dir, old, CONFIG_FILE)?;
    let after = blob_at(repo_dir, new, CONFIG_FILE)?;
    if before == after {
        return Ok(None);
    }
    let change = match (&before, &after) {
        (None, _) => ChangeType::Create,
        (Some(_), Some(_)) => ChangeType::Update,
        (Some(_), None) => ChangeType::Destroy,
    };
    // Moving a branch is the pusher's act, whoever made the commit it lands
    // on: without a pusher the server names, nobody may.
    let actor = Actor {
        email: None,
        principals: Vec::new(),
        source: "the pusher moves the branch back".into(),
        pusher: pusher.cloned(),
    };
    Ok(policy
        .decide(&actor, None, CONFIG_RESOURCE, change)
        .refusal
        .map(|why| format!("not a fast-forward, and fleet.toml differs: {why}")))
}

/// Paths `commit` changes against `parent` (every path of a root commit).
fn changed_paths(repo_dir: &Path, commit: &str, parent: Option<&str>) -> Result<Vec<String>> {
    let mut args = vec!["diff-tree", "-r", "-z", "--no-commit-id", "--name-only"];
    match parent {
        Some(p) => args.extend([p, commit]),
        None => args.extend(["--root", commit]),
    }
    let out = git(repo_dir, &args)?;
    if !out.success {
        return Err(Error::Other(format!(
            "cannot list the paths {commit} changes: {}",
            out.stderr.trim()
        )));
    }
    Ok(out
        .stdout
        .split('\0')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect())
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

/// Refs whose commits hold desired state: everything but git-fleet's own
/// records (`refs/fleet/*`, whose live snapshots also hold a fleet.yaml) and notes.
pub fn is_checked_ref(name: &str) -> bool {
    !(name.starts_with("refs/fleet/") || name.starts_with("refs/notes/"))
}

/// The commits a pre-receive hook must check: for each updated ref that holds
/// desired state (stdin lines `<old> <new> <ref>`), the new commits not yet
/// reachable from any such ref. A commit parked under refs/fleet/ first is
/// still checked when a branch later points at it.
pub fn pushed_commits(repo_dir: &Path, stdin: &str) -> Result<Vec<String>> {
    let mut commits: Vec<String> = Vec::new();
    for line in stdin.lines() {
        let mut f = line.split_whitespace();
        let (Some(_old), Some(new), Some(name)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if new.bytes().all(|b| b == b'0') || !is_checked_ref(name) {
            continue; // a deletion changes no desired state
        }
        let out = git(
            repo_dir,
            &[
                "rev-list",
                "--reverse",
                new,
                "--not",
                "--exclude=refs/fleet/*",
                "--exclude=refs/notes/*",
                "--all",
            ],
        )?;
        if !out.success {
            return Err(Error::Other(format!(
                "cannot list pushed commits: {}",
                out.stderr.trim()
            )));
        }
        for c in out.stdout.lines() {
            if !commits.iter().any(|x| x == c) {
                commits.push(c.to_string());
            }
        }
    }
    Ok(commits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(text: &str) -> Result<Policy> {
        Policy::parse("fleet.toml", text.as_bytes())
    }

    fn email(e: &str) -> Actor {
        Actor {
            email: Some(e.into()),
            principals: vec![],
            source: "user.email".into(),
            pusher: None,
        }
    }

    const WEB: &str = "[[policy]]\nname = \"web\"\nactor = \"*@web.example\"\nallow = [\"modules/nginx-*\", \"assignments/app-0*:*\"]\n\n[[policy]]\nprincipal = \"dba\"\nallow = [\"modules/postgres\"]\ndestroy = true\ntargets = [\"prod\"]\n";

    #[test]
    fn no_policy_allows_everything_without_a_rule() {
        let p = policy("").unwrap();
        let d = p.decide(&email("x@y"), None, "modules/a", ChangeType::Destroy);
        assert!(d.allowed() && d.allowed_by.is_none());
        assert!(d.policy_note().starts_with("none"));
    }

    #[test]
    fn rules_match_actor_resource_destroy_and_target() {
        let p = policy(WEB).unwrap();
        let web = email("Ann@WEB.example");
        let ok = p.decide(&web, Some("prod"), "modules/nginx-a", ChangeType::Update);
        assert_eq!(ok.allowed_by.as_ref().unwrap().label(), "policy 'web'");
        assert!(ok.policy_note().contains("#1: actor = \"*@web.example\""));
        let a = p.decide(&web, None, "assignments/app-01:nginx-a", ChangeType::Create);
        assert!(a.allowed());
        let other_kind = p.decide(&web, None, "templates/nginx-a", ChangeType::Update);
        assert!(other_kind
            .refusal
            .unwrap()
            .contains("update templates/nginx-a by Ann@WEB.example (user.email) refused: policy 'web' does not allow it"));
        let destroy = p.decide(&web, None, "modules/nginx-a", ChangeType::Destroy);
        assert!(destroy
            .refusal
            .unwrap()
            .contains("policy 'web' does not allow destroying it"));
        let stranger = p.decide(
            &email("eve@evil"),
            None,
            "modules/nginx-a",
            ChangeType::Update,
        );
        assert!(stranger
            .refusal
            .unwrap()
            .contains("no policy rule matches this actor (2 rules in fleet.toml)"));

        let dba = Actor {
            email: None,
            principals: vec!["dba".into()],
            source: "verified SSH signer of 0123".into(),
            pusher: None,
        };
        assert!(p
            .decide(&dba, Some("prod"), "modules/postgres", ChangeType::Destroy)
            .allowed());
        let staging = p.decide(
            &dba,
            Some("staging"),
            "modules/postgres",
            ChangeType::Update,
        );
        assert!(staging
            .refusal
            .unwrap()
            .contains("policy #2 is limited to targets prod"));
        let unknown = p.decide(&dba, None, "modules/postgres", ChangeType::Update);
        assert!(
            !unknown.allowed(),
            "a target-limited rule needs a known target"
        );
        // A principal rule never matches an email...
        let by_email = p.decide(
            &email("dba"),
            Some("prod"),
            "modules/postgres",
            ChangeType::Update,
        );
        assert!(!by_email.allowed());
        // ...but an email rule matches a verified principal that is an email.
        let signer = Actor {
            email: None,
            principals: vec!["ann@web.example".into()],
            source: "verified SSH signer of 0123".into(),
            pusher: None,
        };
        assert!(p
            .decide(&signer, None, "modules/nginx-a", ChangeType::Update)
            .allowed());
    }

    #[test]
    fn pusher_rules_match_only_the_pusher() {
        let p = policy("[[policy]]\npusher = \"web\"\nallow = [\"modules/nginx-*\"]\n\n[[policy]]\npusher = \"ops\"\nactor = \"*@ops.example\"\nallow = [\"modules/*\"]\n").unwrap();
        let mut web = email("web@ops.example");
        assert!(!p
            .decide(&web, None, "modules/nginx-a", ChangeType::Update)
            .allowed());
        web.pusher = Some(Pusher {
            name: "web".into(),
            variable: "GL_USER".into(),
        });
        let d = p.decide(&web, None, "modules/nginx-a", ChangeType::Update);
        assert!(d.allowed() && d.policy_note().contains("pusher = \"web\""));
        // pusher and actor together: both must match.
        let mut ops = email("eve@elsewhere");
        ops.pusher = Some(Pusher {
            name: "ops".into(),
            variable: "GL_USER".into(),
        });
        assert!(!p
            .decide(&ops, None, "modules/postgres", ChangeType::Update)
            .allowed());
        ops.email = Some("ann@ops.example".into());
        assert!(p
            .decide(&ops, None, "modules/postgres", ChangeType::Update)
            .allowed());
        let err = policy("[[policy]]\npusher = \"\"\nallow = [\"modules/*\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`pusher` is empty"), "{err}");
    }

    #[test]
    fn globs_stay_within_kind_and_name() {
        let p =
            policy("[[policy]]\nactor = \"*\"\nallow = [\"*/nginx-*\", \"config/*\"]\n").unwrap();
        let a = email("a@b");
        assert!(p
            .decide(&a, None, "modules/nginx-1", ChangeType::Update)
            .allowed());
        assert!(p
            .decide(&a, None, "templates/nginx-1", ChangeType::Update)
            .allowed());
        assert!(p
            .decide(&a, None, CONFIG_RESOURCE, ChangeType::Update)
            .allowed());
        assert!(!p
            .decide(&a, None, "modules/postgres", ChangeType::Update)
            .allowed());
    }

    #[test]
    fn malformed_rules_are_errors_at_file_line_col() {
        let cases = [
            ("[[policy]]\nactor = \"a\"\nallow = [\"modules/*\"]\nbogus = 1\n", "fleet.toml:4:1"),
            ("[[policy]]\nallow = [\"modules/*\"]\n", "needs `actor`"),
            ("[[policy]]\nactor = \"a\"\nprincipal = \"b\"\nallow = [\"modules/*\"]\n", "fleet.toml:3:13: policy #1: set either"),
            ("[[policy]]\nactor = \"a\"\nallow = [\"modules/*\", \"nginx\"]\n", "fleet.toml:3:23: policy #1: allow 'nginx' must be a glob on kind/name"),
            ("[[policy]]\nactor = \"a\"\nallow = [\"widgets/*\"]\n", "must be a glob on kind/name"),
            ("[[policy]]\nactor = \"a\"\nallow = [\"modules/[\"]\n", "not a valid glob"),
            ("[[policy]]\nactor = \"a\"\nallow = []\n", "`allow` is empty"),
            ("[[policy]]\nactor = \"a\"\n", "needs `allow`"),
            ("[[policy]]\nactor = \"a\"\nallow = [\"modules/*\"]\ndestroy = \"yes\"\n", "fleet.toml:4:11"),
            ("[[policy]]\nname = \"x\"\nactor = \"a\"\nallow = [\"modules/*\"]\n[[policy]]\nname = \"x\"\nactor = \"b\"\nallow = [\"modules/*\"]\n", "already used by policy #1"),
            ("[[policy]]\nactor = \"a\"\nallow = [\"modules/*\"]\ntargets = []\n", "`targets` is empty"),
        ];
        for (text, expected) in cases {
            let err = policy(text).expect_err(text).to_string();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }

    #[test]
    fn principals_come_from_the_allowed_signers_line_of_the_key() {
        let signers = "# team\nalice,alice@x namespaces=\"git\" ssh-ed25519 AAAAkey1 alice\nbob ssh-ed25519 AAAAkey2\n";
        assert_eq!(
            principals_for(signers, "ssh-ed25519 AAAAkey1 comment"),
            vec!["alice", "alice@x"]
        );
        assert!(principals_for(signers, "ssh-ed25519 AAAAother").is_empty());
    }

    #[test]
    fn desired_files_group_targets_by_path() {
        let config = Config::parse(
            "fleet.toml",
            b"[targets.a]\n[targets.b]\ndesired = \"b.yaml\"\n",
        )
        .unwrap();
        let files = desired_files(&config, &["a".into(), "c".into()]);
        assert_eq!(
            files,
            vec![
                (
                    "fleet.yaml".to_string(),
                    vec!["a".to_string(), "c".to_string()]
                ),
                ("b.yaml".to_string(), vec!["b".to_string()]),
            ]
        );
        assert_eq!(
            desired_files(&Config::default(), &[]),
            vec![("fleet.yaml".to_string(), vec![])]
        );
    }
}
