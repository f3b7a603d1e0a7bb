//! Review decisions: their signed payload, counting distinct approvers, and
//! whether a proposal's source is published on the branch that may go live.
use super::actor::Actor;
use super::rules::Policy;
use crate::error::Result;
use crate::gitcmd::git;
use serde::Serialize;
use std::path::Path;

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
pub(super) fn actor_email(actor: &str) -> String {
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
