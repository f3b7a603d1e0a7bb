//! Notifications: `[[notify]]` tables in fleet.toml send an event to a
//! command (`exec`, the event JSON on stdin) or a URL (`webhook`, POSTed as
//! JSON) after an action.
//!
//! A notification never blocks or fails the action it reports: it is sent
//! after the action is recorded, each sink is bounded by its timeout (a
//! webhook gets at most [`ATTEMPTS`] tries), and a failure is returned to the
//! caller to show and appended to `<git dir>/fleet/notify.log` (one JSON line:
//! time, event, sink, error), which is never an error itself.

use crate::config::file::line_col;
use crate::error::{Diagnostic, Error, Result};
use crate::store::Store;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The events a `[[notify]]` table may name in `on` (`"*"`: all of them).
pub const EVENTS: &[&str] = &[
    "apply",
    "apply-failed",
    "halt",
    "resume",
    "conflict",
    "fanout-blocked",
    "rollback",
    "reject",
];

/// A sink's time limit when fleet.toml gives none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Tries per webhook (a refused connection, a timeout or a 5xx is retried).
pub const ATTEMPTS: u32 = 3;
/// The file failures are recorded in, under the git dir.
pub const LOG_FILE: &str = "fleet/notify.log";

/// One `[[notify]]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyRule {
    /// The events this sink gets.
    pub on: Vec<String>,
    /// A command; the event JSON is its stdin. Run without a shell unless it
    /// uses shell syntax, in the repository's top directory.
    pub exec: Option<String>,
    /// An http:// or https:// URL the event JSON is POSTed to.
    pub webhook: Option<String>,
    /// Seconds (`5`) or a span (`"500ms"`, `"10s"`, `"1m"`); default 10s.
    pub timeout: Option<Timeout>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Timeout {
    Seconds(u64),
    Span(String),
}

impl NotifyRule {
    pub fn wants(&self, event: &str) -> bool {
        self.on.iter().any(|e| e == event || e == "*")
    }

    pub fn timeout(&self) -> Duration {
        match &self.timeout {
            None => DEFAULT_TIMEOUT,
            Some(Timeout::Seconds(s)) => Duration::from_secs(*s),
            Some(Timeout::Span(s)) => parse_span(s).unwrap_or(DEFAULT_TIMEOUT),
        }
    }

    /// How the sink is named in warnings and the log.
    pub fn sink(&self) -> String {
        match (&self.exec, &self.webhook) {
            (Some(cmd), _) => format!("exec '{cmd}'"),
            (None, Some(url)) => format!("webhook {url}"),
            (None, None) => "nothing".into(),
        }
    }
}

/// `500ms`, `10s`, `2m`.
fn parse_span(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = num.parse().ok()?;
    match unit {
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "m" => Some(Duration::from_secs(n * 60)),
        _ => None,
    }
}

/// Check `[[notify]]` tables as fleet.toml's other sections are checked:
/// each problem names file:line:col.
pub fn check(rules: &[toml::Spanned<NotifyRule>], file: &str, text: &str) -> Result<()> {
    for spanned in rules {
        let rule = spanned.get_ref();
        let (line, col) = line_col(text, spanned.span().start);
        let bad = |m: String| Err(Error::invalid(Diagnostic::new(file, m).at(line, col)));
        match (&rule.exec, &rule.webhook) {
            (Some(_), Some(_)) | (None, None) => {
                return bad(
                    "[[notify]] needs exactly one of exec = \"cmd\" or webhook = \"https://...\""
                        .into(),
                )
            }
            (Some(cmd), None) if cmd.trim().is_empty() => {
                return bad("[[notify]] exec is empty".into())
            }
            (None, Some(url)) if !(url.starts_with("https://") || url.starts_with("http://")) => {
                return bad(format!(
                    "[[notify]] webhook = '{url}': expected an http:// or https:// URL"
                ))
            }
            _ => {}
        }
        if rule.on.is_empty() {
            return bad(format!(
                "[[notify]] on is empty: name events ({}, or \"*\")",
                EVENTS.join(", ")
            ));
        }
        for e in &rule.on {
            if e != "*" && !EVENTS.contains(&e.as_str()) {
                return bad(format!(
                    "[[notify]] on: unknown event '{e}' (known: {}, or \"*\")",
                    EVENTS.join(", ")
                ));
            }
        }
        if let Some(Timeout::Span(s)) = &rule.timeout {
            if parse_span(s).is_none_or(|d| d.is_zero()) {
                return bad(format!(
                    "[[notify]] timeout = '{s}': expected seconds (5) or a span (500ms, 10s, 1m)"
                ));
            }
        }
        if let Some(Timeout::Seconds(0)) = &rule.timeout {
            return bad("[[notify]] timeout must be more than 0".into());
        }
    }
    Ok(())
}

/// What happened, as sinks receive it (one JSON object, `"version": 1`).
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub version: u32,
    pub event: String,
    pub target: Option<String>,
    pub proposal: Option<String>,
    pub receipt: Option<String>,
    /// Who acted: `Name <email>` of the git identity that ran the command.
    pub actor: String,
    /// When it was sent, RFC 3339 UTC.
    pub at: String,
    /// Event-specific fields (snapshot, reason, peers, conflicts...).
    #[serde(flatten)]
    pub detail: Map<String, Value>,
}

impl Event {
    pub fn new(store: &Store, event: &str) -> Event {
        let actor = store.actor();
        Event {
            version: 1,
            event: event.to_string(),
            target: None,
            proposal: None,
            receipt: None,
            actor: format!("{} <{}>", actor.name, actor.email),
            at: jiff::Timestamp::now()
                .strftime("%Y-%m-%dT%H:%M:%SZ")
                .to_string(),
            detail: Map::new(),
        }
    }

    pub fn target(mut self, target: &str) -> Event {
        self.target = Some(target.to_string());
        self
    }

    pub fn proposal(mut self, id: &str) -> Event {
        self.proposal = Some(id.to_string());
        self
    }

    pub fn receipt(mut self, id: Option<String>) -> Event {
        self.receipt = id;
        self
    }

    pub fn with(mut self, key: &str, value: impl Serialize) -> Event {
        self.detail.insert(
            key.to_string(),
            serde_json::to_value(value).unwrap_or(Value::Null),
        );
        self
    }
}

/// The receipt of a proposal's latest transition (an apply's), if any.
pub fn proposal_receipt(store: &Store, target: &str, id: &str) -> Option<String> {
    let book = crate::proposals::Book::open(store, target).ok()?;
    let p = book.get(store, id).ok()??;
    p.transitions.iter().rev().find_map(|t| t.receipt.clone())
}

/// The `Fleet-Receipt` a record commit names (halt states, snapshots).
pub fn commit_receipt(store: &Store, commit: gix::ObjectId) -> Option<String> {
    let c = store.repo().find_commit(commit).ok()?;
    let message = c.message_raw().ok()?.to_string();
    message
        .lines()
        .find_map(|l| l.strip_prefix("Fleet-Receipt: "))
        .map(|s| s.trim().to_string())
}

/// A sink that did not take the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub sink: String,
    pub error: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "notify {}: {}", self.sink, self.error)
    }
}

/// Send `event` to every rule that wants it, all sinks at once, each within
/// its timeout; record each failure in [`LOG_FILE`] and return them.
pub fn emit(rules: &[NotifyRule], store: &Store, event: &Event) -> Vec<Failure> {
    let wanted: Vec<&NotifyRule> = rules.iter().filter(|r| r.wants(&event.event)).collect();
    if wanted.is_empty() {
        return Vec::new();
    }
    let body = serde_json::to_string(event).unwrap_or_default();
    let dir = store.work_dir().unwrap_or(store.git_dir()).to_path_buf();
    let failures: Vec<Failure> = std::thread::scope(|s| {
        let handles: Vec<_> = wanted
            .iter()
            .map(|rule| {
                let (body, dir) = (&body, &dir);
                s.spawn(move || {
                    let result = match (&rule.exec, &rule.webhook) {
                        (Some(cmd), _) => exec(cmd, dir, body, rule.timeout()),
                        (None, Some(url)) => webhook(url, body, rule.timeout()),
                        (None, None) => Ok(()),
                    };
                    result.err().map(|error| Failure {
                        sink: rule.sink(),
                        error,
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| {
                h.join().unwrap_or_else(|_| {
                    Some(Failure {
                        sink: "notify".into(),
                        error: "the sender panicked".into(),
                    })
                })
            })
            .collect()
    });
    for f in &failures {
        record(store, event, f);
    }
    failures
}

/// Append one line to the failure log; a log that cannot be written is
/// ignored (the caller shows the failure anyway).
fn record(store: &Store, event: &Event, failure: &Failure) {
    let path = store.git_dir().join(LOG_FILE);
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let line = json!({
        "at": jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "event": event.event,
        "target": event.target,
        "proposal": event.proposal,
        "sink": failure.sink,
        "error": failure.error,
    });
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
    {
        let _ = writeln!(f, "{line}");
    }
}

/// Characters that make a command line need `sh -c`.
const SHELL_SYNTAX: &str = "|&;<>()$`\\*?[]{}~#!\n";

/// The argv to run `cmd` with: split as words when it has no shell syntax,
/// else `sh -c cmd` (as the project runs its other user commands).
pub fn argv(cmd: &str) -> Vec<String> {
    if !cmd.chars().any(|c| SHELL_SYNTAX.contains(c)) {
        if let Some(words) = shlex::split(cmd).filter(|w| !w.is_empty()) {
            return words;
        }
    }
    vec!["sh".into(), "-c".into(), cmd.into()]
}

fn exec(cmd: &str, dir: &Path, body: &str, timeout: Duration) -> std::result::Result<(), String> {
    use std::os::unix::process::CommandExt;
    let argv = argv(cmd);
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        // Its own group, so a timeout stops everything it started.
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot run: {e}"))?;
    // Written on a thread: a command that never reads stdin must not stall us.
    let mut stdin = child.stdin.take();
    let input = body.as_bytes().to_vec();
    std::thread::spawn(move || {
        if let Some(s) = stdin.as_mut() {
            let _ = s.write_all(&input);
        }
    });
    let (tx, rx) = std::sync::mpsc::channel();
    let mut stderr = child.stderr.take();
    std::thread::spawn(move || {
        let mut buf = String::new();
        if let Some(s) = stderr.as_mut() {
            use std::io::Read;
            let _ = s.take(4096).read_to_string(&mut buf);
        }
        let _ = tx.send(buf);
    });
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                // Its last stderr line says why (a background child holding
                // the pipe open gets a moment, not a wait).
                let stderr = rx
                    .recv_timeout(Duration::from_millis(300))
                    .unwrap_or_default();
                let last = stderr.lines().last().unwrap_or("").trim().to_string();
                return Err(match status.code() {
                    Some(code) if last.is_empty() => format!("exited {code}"),
                    Some(code) => format!("exited {code}: {last}"),
                    None => "killed by a signal".into(),
                });
            }
            Ok(None) if Instant::now() >= deadline => {
                if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
                    let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
                }
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("timed out after {}, stopped", span(timeout)));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("wait failed: {e}")),
        }
    }
}

fn span(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

fn webhook(url: &str, body: &str, timeout: Duration) -> std::result::Result<(), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .user_agent(concat!("git-fleet/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut last = String::new();
    for attempt in 1..=ATTEMPTS {
        if attempt > 1 {
            // 0.5s, then 1s: bounded, so the command returns soon.
            std::thread::sleep(Duration::from_millis(500 << (attempt - 2)));
        }
        match agent
            .post(url)
            .header("Content-Type", "application/json")
            .send(body)
        {
            Ok(resp) if resp.status().is_success() => return Ok(()),
            // The endpoint answered and refused: trying again will not help.
            Ok(resp) if resp.status().is_client_error() => {
                return Err(format!("HTTP {}", resp.status()))
            }
            Ok(resp) => last = format!("HTTP {}", resp.status()),
            Err(e) => last = e.to_string(),
        }
    }
    Err(format!("{last} (after {ATTEMPTS} tries)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_command_runs_without_a_shell() {
        assert_eq!(
            argv("notify-send 'fleet event'"),
            ["notify-send", "fleet event"]
        );
        assert_eq!(argv("cat > /tmp/x")[..2], ["sh", "-c"]);
        assert_eq!(argv("echo $HOME")[..2], ["sh", "-c"]);
    }

    #[test]
    fn spans() {
        assert_eq!(parse_span("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_span("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_span("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_span("ten"), None);
        assert_eq!(parse_span("10h"), None);
    }
}
