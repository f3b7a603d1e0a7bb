//! How fanout names things in messages: quoting, redaction, short ids.
use crate::peers::shell::{CmdOutput, ShellError};
use gix::ObjectId;

/// A value for a shell command line in a hint, quoted so pasting it runs
/// nothing but the command shown.
pub fn quoted(s: &str) -> String {
    shlex::try_quote(s)
        .map(|q| q.into_owned())
        .unwrap_or_else(|_| format!("{s:?}"))
}

/// `scheme://user:password@host` with the password replaced by `***`, in
/// every URL of `s`: reasons and records never repeat a password.
pub fn redact(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| "/?#'\"`<>".contains(c) || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rsplit_once('@') {
            Some((userinfo, host)) if userinfo.contains(':') => {
                let user = userinfo.split(':').next().unwrap_or("");
                out.push_str(&format!("{user}:***@{host}"));
            }
            _ => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

pub(super) fn exit_text(o: &CmdOutput) -> String {
    redact(&exit_text_raw(o))
}

pub(super) fn exit_text_raw(o: &CmdOutput) -> String {
    let code = match o.code {
        Some(c) => format!("exited {c}"),
        None => "killed by a signal".into(),
    };
    let said = if o.stderr.trim().is_empty() {
        o.stdout.trim()
    } else {
        o.stderr.trim()
    };
    if said.is_empty() {
        code
    } else {
        format!("{code}: {}", first_line(said))
    }
}

pub(super) fn shell_error_text(e: &ShellError) -> String {
    redact(&match e {
        ShellError::Unreachable(m) => m.clone(),
        ShellError::Timeout(m) => format!("timed out ({m})"),
        ShellError::Other(m) => m.clone(),
    })
}

/// The first 12 hex digits.
pub fn short(id: ObjectId) -> String {
    id.to_string()[..12].to_string()
}

pub(super) fn first_line(s: &str) -> &str {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
}

/// Text made safe for one trailer line: no line breaks, bounded length.
pub fn one_line(s: &str) -> String {
    let flat: String = redact(s)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    if flat.chars().count() > 240 {
        let cut: String = flat.chars().take(237).collect();
        format!("{cut}...")
    } else {
        flat
    }
}

/// The first three paths of a list, then "..." when there are more.
pub(super) fn first_three<'a>(paths: &[&'a str]) -> Vec<&'a str> {
    let mut names: Vec<&str> = paths.iter().take(3).copied().collect();
    if paths.len() > 3 {
        names.push("...");
    }
    names
}
