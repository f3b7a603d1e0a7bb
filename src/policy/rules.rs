//! `[[policy]]` rules: parsing, compiling and deciding one change for one actor.
use super::actor::{Actor, PUSHER_VARS};
use crate::config::file::line_col;
use crate::error::{Diagnostic, Error, Result};
use crate::fleet::diff::{Change, ChangeType};
use glob::{MatchOptions, Pattern};
use serde::{Deserialize, Serialize};
use toml::Spanned;

/// The resource name of fleet.toml in `allow` globs.
pub const CONFIG_RESOURCE: &str = "config/fleet.toml";

/// The kinds an `allow` glob may name.
pub(super) const KINDS: [&str; 5] = [
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

pub(super) fn label(number: usize, name: Option<&str>) -> String {
    match name {
        Some(n) => format!("policy '{n}'"),
        None => format!("policy #{number}"),
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

pub(super) fn email_options() -> MatchOptions {
    MatchOptions {
        case_sensitive: false,
        require_literal_separator: false,
        require_literal_leading_dot: false,
    }
}

pub(super) fn exact_options() -> MatchOptions {
    MatchOptions {
        case_sensitive: true,
        require_literal_separator: false,
        require_literal_leading_dot: false,
    }
}

/// `*` stays within the kind or the name: `modules/*` never matches another kind.
pub(super) fn resource_options() -> MatchOptions {
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
    /// Check and compile the `[[policy]]` tables of `text` (called by
    /// `Config::parse`). Every problem is reported, each at file:line:col.
    pub(crate) fn compile(file: &str, text: &str, raw: Vec<Spanned<RawRule>>) -> Result<Policy> {
        let mut problems = Vec::new();
        let mut rules: Vec<Rule> = Vec::new();
        for (i, entry) in raw.into_iter().enumerate() {
            let number = i + 1;
            let table_start = entry.span().start;
            let raw = entry.into_inner();
            let name = raw.name.as_ref().map(|n| n.get_ref().clone());
            let before = problems.len();
            let mut check = TableCheck {
                file,
                text,
                label: label(number, name.as_deref()),
                problems: &mut problems,
            };
            check.name(&raw, &rules);
            let selector = check.selector(&raw, table_start);
            let pusher_glob = check.pusher_glob(&raw);
            let (globs, allow) = check.allow(&raw, table_start);
            let targets = check.targets(&raw);
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

/// The checks of one `[[policy]]` table; each problem is collected, located
/// at file:line:col, so every problem of every table is reported at once.
struct TableCheck<'a> {
    file: &'a str,
    text: &'a str,
    /// `policy 'name'` or `policy #n`, as messages name the table.
    label: String,
    problems: &'a mut Vec<Diagnostic>,
}

impl TableCheck<'_> {
    fn at(&mut self, start: usize, message: String) {
        let (line, col) = line_col(self.text, start);
        self.problems
            .push(Diagnostic::new(self.file, message).at(line, col));
    }

    /// A name is not empty and not another rule's (receipts name rules).
    fn name(&mut self, raw: &RawRule, rules: &[Rule]) {
        let label = self.label.clone();
        let Some(n) = &raw.name else { return };
        if n.get_ref().trim().is_empty() {
            self.at(n.span().start, format!("{label}: `name` is empty"));
        } else if let Some(other) = rules
            .iter()
            .find(|r| r.name.as_deref() == Some(n.get_ref().as_str()))
        {
            self.at(
                n.span().start,
                format!(
                    "{label}: the name is already used by policy #{}; receipts name rules, so names must be unique",
                    other.number
                ),
            );
        }
    }

    /// The `actor` or `principal` glob (one of them, or a `pusher` alone).
    fn selector(&mut self, raw: &RawRule, table_start: usize) -> Option<Pattern> {
        let label = self.label.clone();
        match (&raw.actor, &raw.principal) {
            (Some(_), Some(p)) => {
                self.at(
                    p.span().start,
                    format!("{label}: set either `actor` (an email glob) or `principal`, not both"),
                );
                None
            }
            (None, None) if raw.pusher.is_some() => None,
            (None, None) => {
                self.at(
                    table_start,
                    format!("{label}: needs `actor` (a glob on the git email, e.g. \"*@ops.example.com\"), `principal` (an SSH key principal from gpg.ssh.allowedSignersFile) or `pusher` (the user a git server authenticated)"),
                );
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
                        self.at(s.span().start, format!("{label}: `{key}` is empty"));
                        None
                    }
                    Err(e) => {
                        self.at(
                            s.span().start,
                            format!(
                                "{label}: {key} '{}' is not a valid glob: {}",
                                s.get_ref(),
                                e.msg
                            ),
                        );
                        None
                    }
                }
            }
        }
    }

    /// The `pusher` glob, if any.
    fn pusher_glob(&mut self, raw: &RawRule) -> Option<Pattern> {
        let label = self.label.clone();
        match &raw.pusher {
            None => None,
            Some(p) if p.get_ref().trim().is_empty() => {
                self.at(p.span().start, format!("{label}: `pusher` is empty"));
                None
            }
            Some(p) => match Pattern::new(p.get_ref()) {
                Ok(g) => Some(g),
                Err(e) => {
                    self.at(
                        p.span().start,
                        format!(
                            "{label}: pusher '{}' is not a valid glob: {}",
                            p.get_ref(),
                            e.msg
                        ),
                    );
                    None
                }
            },
        }
    }

    /// The compiled `allow` globs and their texts.
    fn allow(&mut self, raw: &RawRule, table_start: usize) -> (Vec<Pattern>, Vec<String>) {
        let label = self.label.clone();
        let mut globs = Vec::new();
        let mut allow = Vec::new();
        match &raw.allow {
            None => self.at(
                table_start,
                format!(
                    "{label}: needs `allow`: a list of kind/name globs, e.g. [\"modules/nginx-*\"]"
                ),
            ),
            Some(list) if list.get_ref().is_empty() => self.at(
                list.span().start,
                format!(
                    "{label}: `allow` is empty: list kind/name globs, e.g. [\"modules/nginx-*\"]"
                ),
            ),
            Some(list) => {
                for g in list.get_ref() {
                    match check_allow(g.get_ref()) {
                        Ok(p) => {
                            globs.push(p);
                            allow.push(g.get_ref().clone());
                        }
                        Err(why) => self.at(
                            g.span().start,
                            format!("{label}: allow '{}' {why}", g.get_ref()),
                        ),
                    }
                }
            }
        }
        (globs, allow)
    }

    /// The `targets` list (None: every target).
    fn targets(&mut self, raw: &RawRule) -> Option<Vec<String>> {
        let label = self.label.clone();
        match &raw.targets {
            None => None,
            Some(list) if list.get_ref().is_empty() => {
                self.at(
                    list.span().start,
                    format!("{label}: `targets` is empty; leave it out to mean every target"),
                );
                None
            }
            Some(list) => {
                for t in list.get_ref() {
                    if t.get_ref().trim().is_empty() {
                        self.at(t.span().start, format!("{label}: a target name is empty"));
                    }
                }
                Some(list.get_ref().iter().map(|t| t.get_ref().clone()).collect())
            }
        }
    }
}

/// A valid `allow` entry: a glob on `kind/name` whose kind is (or matches) a known kind.
pub(super) fn check_allow(glob: &str) -> std::result::Result<Pattern, String> {
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
