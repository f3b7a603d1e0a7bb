//! Pre-receive checks of git-fleet's own records (`refs/fleet/*`, notes):
//! chains only grow, and each new decision, snapshot, halt and receipt is allowed.
use super::actor::{commit_actor, Actor, Pusher};
use super::approvals::{actor_email, decision_payload};
use super::commits::{check_commits_as, is_checked_ref};
use super::rules::Policy;
use crate::error::Result;
use crate::error::StoreError;
use crate::fleet::diff::ChangeType;
use crate::gitcmd::git;
use std::path::Path;

/// The resource a halt or resume is decided as (`allow = ["config/*"]`).
pub const HALT_RESOURCE: &str = "config/halt";

pub(super) fn is_zero(id: &str) -> bool {
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
    let records = Records {
        repo_dir,
        ssh,
        policy,
        pusher,
        signed: &signed,
    };
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
        } else if let Some(target) = name.strip_prefix(crate::paths::LIVE_PREFIX) {
            records.live(name, target, &commits, &mut refusals)?;
        } else if name == crate::halt::HALT_REF {
            records.halt(name, &commits, &mut refusals)?;
        } else if name == crate::receipts::RECEIPTS_REF {
            records.receipts(name, &commits, &mut refusals)?;
        }
    }
    Ok(refusals)
}

/// What the checks of one push's record commits share.
struct Records<'a> {
    repo_dir: &'a Path,
    ssh: &'a crate::sign::SshConfig,
    policy: &'a Policy,
    pusher: Option<&'a Pusher>,
    /// Record commits a pushed signed receipt names, with its verified signer.
    signed: &'a std::collections::HashMap<String, Actor>,
}

impl Records<'_> {
    /// Live snapshots: each new snapshot commit's fleet.yaml change is
    /// decided like a pushed desired-state change of `target`.
    fn live(
        &self,
        name: &str,
        target: &str,
        commits: &[(String, bool)],
        refusals: &mut Vec<String>,
    ) -> Result<()> {
        let own: Vec<String> = commits
            .iter()
            .filter(|c| !c.1)
            .map(|c| c.0.clone())
            .collect();
        let files = vec![(
            crate::paths::YAML_PATH.to_string(),
            vec![target.to_string()],
        )];
        let (repo_dir, policy, pusher) = (self.repo_dir, self.policy, self.pusher);
        for c in check_commits_as(repo_dir, policy, &files, &own, pusher, Some(self.signed))? {
            if let Some(e) = &c.error {
                refusals.push(format!("{name} {}: {e}", &c.commit[..12]));
            }
            for why in c.decisions.iter().filter_map(|d| d.refusal.as_ref()) {
                refusals.push(format!("{name} {}: live snapshot: {why}", &c.commit[..12]));
            }
        }
        Ok(())
    }

    /// Halt and resume: `config/halt`, decided for each new halt commit.
    fn halt(
        &self,
        name: &str,
        commits: &[(String, bool)],
        refusals: &mut Vec<String>,
    ) -> Result<()> {
        for (c, merge) in commits {
            if *merge {
                continue;
            }
            let actor = match self.signed.get(c) {
                Some(signer) => signer.clone(),
                None => record_actor(commit_actor(self.repo_dir, c)?, self.pusher),
            };
            let d = self
                .policy
                .decide(&actor, None, HALT_RESOURCE, ChangeType::Update);
            if let Some(why) = d.refusal {
                refusals.push(format!("{name} {}: halt/resume: {why}", &c[..12]));
            }
        }
        Ok(())
    }

    /// Receipts: each new receipt's change is decided for its signer (or,
    /// unsigned, the actor it claims), and unsigned ones are refused under
    /// require_signed.
    fn receipts(
        &self,
        name: &str,
        commits: &[(String, bool)],
        refusals: &mut Vec<String>,
    ) -> Result<()> {
        let policy = self.policy;
        for (c, merge) in commits {
            if *merge {
                continue; // sync's merge receipt: both sides are checked on their own
            }
            let message = git(self.repo_dir, &["log", "-1", "--format=%B", c])?.stdout;
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
            let Some((resource, change)) = receipt_change(&r) else {
                continue;
            };
            let actor = match &r.signature {
                Some(sig) => signed_actor(
                    self.ssh,
                    r.canonical().as_bytes(),
                    sig,
                    r.time(),
                    self.pusher,
                    "receipt",
                )?,
                None => claimed_actor(r.actor_email(), self.pusher, "unsigned receipt"),
            };
            let d = policy.decide(&actor, r.field("Fleet-Target"), &resource, change);
            if let Some(why) = d.refusal {
                refusals.push(format!("{name} {}: receipt: {why}", &c[..12]));
            }
        }
        Ok(())
    }
}

/// The resource and change a receipt records (`Fleet-Change`, or a halt or
/// resume); None for a receipt that changes no resource.
fn receipt_change(r: &crate::receipts::Receipt) -> Option<(String, ChangeType)> {
    match (r.field("Fleet-Change"), r.action()) {
        (Some(ch), _) => {
            let (t, res) = ch.split_once(' ')?;
            let t = [ChangeType::Create, ChangeType::Update, ChangeType::Destroy]
                .into_iter()
                .find(|c| c.as_str() == t)?;
            Some((res.to_string(), t))
        }
        (None, "halt" | "resume") => Some((HALT_RESOURCE.to_string(), ChangeType::Update)),
        _ => None,
    }
}

/// The record commits (live snapshots by `Fleet-After`, halt commits by
/// `Fleet-Commit`) named by signed receipts this push brings, each with the
/// receipt's verified signer: record commits are never signed themselves,
/// the receipt written with them is.
pub(super) fn signed_by_receipts(
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
pub(super) fn new_commits(repo_dir: &Path, old: &str, new: &str) -> Result<Vec<(String, bool)>> {
    let range = if is_zero(old) {
        new.to_string()
    } else {
        format!("{old}..{new}")
    };
    let out = git(repo_dir, &["rev-list", "--reverse", "--parents", &range])?;
    if !out.success {
        return Err(StoreError::git_failed(format!("cannot list {range}"), &out.stderr).into());
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
pub(super) fn record_actor(mut actor: Actor, pusher: Option<&Pusher>) -> Actor {
    if pusher.is_some() && actor.principals.is_empty() {
        actor.email = None;
        actor.source = format!("{}; the pusher is the actor", actor.source);
    }
    actor.pusher = pusher.cloned();
    actor
}

/// The actor of an unsigned record that names `email`: the pusher when the
/// server names one, else the email it claims.
pub(super) fn claimed_actor(email: Option<&str>, pusher: Option<&Pusher>, what: &str) -> Actor {
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
pub(super) fn signed_actor(
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
pub(super) fn check_proposals(
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
        return Err(StoreError::git_failed(format!("cannot diff {name}"), &out.stderr).into());
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
                        let email = if t.actor == crate::paths::AUTO_ACTOR {
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
