//! The tools `git fleet mcp` offers an agent, and how each becomes a command.
//!
//! There is exactly one code path per action: every tool runs this same
//! binary's command with `--json` as a subprocess in the server's repository,
//! so an agent is bound by the same policy, identity (the process's git
//! config and signing key) and receipts as a person at the shell. This module
//! maps typed tool arguments to argv and a finished command to a tool reply;
//! the protocol itself lives in `src/cli/mcp.rs`.

use rmcp::schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Stdio};

/// `diff [TARGET] [--rev REV | --staged] --json`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct DiffTool {
    /// Target to compare against (default: the only known one).
    pub target: Option<String>,
    /// Read the desired file as of this git revision (default: the work tree).
    pub rev: Option<String>,
    /// Read the desired file as staged in the index.
    #[serde(default)]
    pub staged: bool,
}

/// `render [NODE...] [--rev REV | --live TARGET] --json`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct RenderTool {
    /// Nodes to render (default: all).
    #[serde(default)]
    pub nodes: Vec<String>,
    /// Render the desired file as of this git revision.
    pub rev: Option<String>,
    /// Render this target's latest live snapshot instead of the desired file.
    pub live: Option<String>,
}

/// `why NODE KEY [--target T] --json`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct WhyTool {
    /// The node whose rendered value to explain, e.g. app-01.
    pub node: String,
    /// The rendered config key, e.g. nginx_workers.
    pub key: String,
    /// The target whose live receipt to name (default: the only known one).
    pub target: Option<String>,
}

/// `get SELECTOR [KEY] [--target T] --json`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct GetTool {
    /// Which resources: modules/nginx-*, assignments/app-*:nginx-public, node=app-01.
    pub selector: String,
    /// Only this key (default: every value of the selected resources).
    pub key: Option<String>,
    /// The target whose desired file to read (default: the only known one).
    pub target: Option<String>,
}

/// `set SELECTOR KEY=VALUE... [--target T] [-m MSG] [--dry-run] --json`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct SetTool {
    /// Which resources: modules/nginx-*, assignments/app-*:nginx-public, node=app-01.
    pub selector: String,
    /// The values to write, each KEY=VALUE (e.g. config.nginx_workers=8).
    pub values: Vec<String>,
    /// The target whose desired file to edit (default: the only known one).
    pub target: Option<String>,
    /// The commit message.
    pub message: Option<String>,
    /// Commit the change. Without it (the default) this is a dry run that
    /// shows the edit, its blast radius and the policy decision, and writes nothing.
    #[serde(default)]
    pub apply: bool,
}

/// `reconcile TARGET [--rev REV] [--max-proposals N] --json`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct ProposeTool {
    /// The target to open proposals for.
    pub target: String,
    /// Read the desired file at this git revision (default: HEAD).
    pub rev: Option<String>,
    /// Open at most this many proposals.
    pub max_proposals: Option<usize>,
}

/// `show ID --json`.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct ShowTool {
    /// Proposal id (or a unique prefix).
    pub id: String,
}

/// `proposals [--target T] [--state S] --json`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct ProposalsTool {
    /// Only this target's proposals.
    pub target: Option<String>,
    /// Only this state: pending_review, approved, applied, rejected, ignored, failed.
    pub state: Option<String>,
}

/// `receipts log [-n N] --json`, or `receipts show COMMIT --json`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct ReceiptsTool {
    /// Show the receipts on this commit instead of the log.
    pub commit: Option<String>,
    /// The log's newest N receipts.
    pub max_count: Option<usize>,
}

/// `proof [COMMIT] --json`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[schemars(crate = "rmcp::schemars")]
#[serde(deny_unknown_fields)]
pub struct ProofTool {
    /// The commit (default: HEAD).
    pub commit: Option<String>,
}

fn opt(argv: &mut Vec<String>, flag: &str, value: &Option<String>) {
    // `--flag=value`: a value that starts with '-' stays a value.
    if let Some(v) = value {
        argv.push(format!("{flag}={v}"));
    }
}

/// A positional argument an agent wrote: refused when clap would read it as
/// a flag, so a value can never smuggle in an option (`--despite-halt`).
fn positional(name: &str, value: &str) -> Result<String, String> {
    if value.starts_with('-') {
        return Err(format!("{name} '{value}' must not start with '-'"));
    }
    Ok(value.to_string())
}

impl DiffTool {
    pub fn argv(&self) -> Result<Vec<String>, String> {
        let mut a = vec!["diff".to_string()];
        if let Some(t) = &self.target {
            a.push(positional("target", t)?);
        }
        opt(&mut a, "--rev", &self.rev);
        if self.staged {
            a.push("--staged".into());
        }
        Ok(a)
    }
}

impl RenderTool {
    pub fn argv(&self) -> Result<Vec<String>, String> {
        let mut a = vec!["render".to_string()];
        opt(&mut a, "--rev", &self.rev);
        opt(&mut a, "--live", &self.live);
        for n in &self.nodes {
            a.push(positional("node", n)?);
        }
        Ok(a)
    }
}

impl WhyTool {
    pub fn argv(&self) -> Result<Vec<String>, String> {
        let mut a = vec![
            "why".to_string(),
            positional("node", &self.node)?,
            positional("key", &self.key)?,
        ];
        opt(&mut a, "--target", &self.target);
        Ok(a)
    }
}

impl GetTool {
    pub fn argv(&self) -> Result<Vec<String>, String> {
        let mut a = vec!["get".to_string(), positional("selector", &self.selector)?];
        if let Some(k) = &self.key {
            a.push(positional("key", k)?);
        }
        opt(&mut a, "--target", &self.target);
        Ok(a)
    }
}

impl SetTool {
    pub fn argv(&self) -> Result<Vec<String>, String> {
        if self.values.is_empty() {
            return Err("values: give at least one KEY=VALUE".into());
        }
        let mut a = vec!["set".to_string(), positional("selector", &self.selector)?];
        for v in &self.values {
            if !v.contains('=') {
                return Err(format!("values: '{v}' is not KEY=VALUE"));
            }
            a.push(positional("value", v)?);
        }
        opt(&mut a, "--target", &self.target);
        if let Some(m) = &self.message {
            // The issue names only `-m` for set; its value as a separate word.
            a.push("-m".into());
            a.push(m.clone());
        }
        if !self.apply {
            a.push("--dry-run".into());
        }
        Ok(a)
    }
}

impl ProposeTool {
    pub fn argv(&self) -> Result<Vec<String>, String> {
        let mut a = vec!["reconcile".to_string(), positional("target", &self.target)?];
        opt(&mut a, "--rev", &self.rev);
        opt(
            &mut a,
            "--max-proposals",
            &self.max_proposals.map(|n| n.to_string()),
        );
        Ok(a)
    }
}

impl ShowTool {
    pub fn argv(&self) -> Result<Vec<String>, String> {
        Ok(vec!["show".into(), positional("id", &self.id)?])
    }
}

impl ProposalsTool {
    pub fn argv(&self) -> Result<Vec<String>, String> {
        let mut a = vec!["proposals".to_string()];
        opt(&mut a, "--target", &self.target);
        opt(&mut a, "--state", &self.state);
        Ok(a)
    }
}

impl ReceiptsTool {
    pub fn argv(&self) -> Result<Vec<String>, String> {
        Ok(match &self.commit {
            Some(c) => vec!["receipts".into(), "show".into(), positional("commit", c)?],
            None => {
                let mut a = vec!["receipts".to_string(), "log".to_string()];
                opt(
                    &mut a,
                    "--max-count",
                    &self.max_count.map(|n| n.to_string()),
                );
                a
            }
        })
    }
}

impl ProofTool {
    pub fn argv(&self) -> Result<Vec<String>, String> {
        let mut a = vec!["proof".to_string()];
        if let Some(c) = &self.commit {
            a.push(positional("commit", c)?);
        }
        Ok(a)
    }
}

/// What one command produced, as the agent sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The command's exit code (0 done, 1 something to see, 2 refused/error).
    pub code: i32,
    /// The command's JSON object (its error object when it refused).
    pub json: Value,
    /// For a refusal: the error's message and hint, for the agent to read.
    pub error: Option<String>,
}

impl Reply {
    /// Refused before anything ran (bad tool arguments).
    pub fn refused(message: String) -> Reply {
        Reply {
            code: 2,
            json: json!({"version": 1, "error": {"code": "usage", "message": message, "hint": null}}),
            error: Some(message),
        }
    }

    /// The structured result handed to the agent: the exit code and the
    /// command's JSON object (`output`), or its `error` object on a refusal.
    pub fn structured(&self) -> Value {
        match &self.error {
            None => json!({"exit_code": self.code, "output": self.json}),
            Some(_) => json!({
                "exit_code": self.code,
                "error": self.json.get("error").cloned().unwrap_or_else(|| self.json.clone()),
            }),
        }
    }
}

/// Run `exe ARGV... --json` in `dir`, stdin closed (the server's stdin is the
/// protocol), and read its one JSON object.
pub fn run(exe: &Path, dir: &Path, argv: &[String]) -> Reply {
    let out = Command::new(exe)
        .args(argv)
        .arg("--json")
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => return Reply::refused(format!("cannot run {}: {e}", exe.display())),
    };
    let code = out.status.code().unwrap_or(2);
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    let parsed: Option<Value> = serde_json::from_slice(&out.stdout).ok();
    match parsed {
        Some(json) if code != 2 && json.get("error").is_none() => Reply {
            code,
            json,
            error: None,
        },
        Some(json) => {
            let err = json.get("error");
            let field = |k: &str| err.and_then(|e| e.get(k)).and_then(Value::as_str);
            let mut message = field("message")
                .map(str::to_string)
                .unwrap_or_else(|| stderr.clone());
            if let Some(hint) = field("hint") {
                message.push_str(&format!("\nhint: {hint}"));
            }
            Reply {
                code: code.max(2),
                json,
                error: Some(message),
            }
        }
        // No JSON at all (a crash, a command without --json): its stderr.
        None => {
            let message = if stderr.is_empty() {
                format!(
                    "`git fleet {}` exited {code} without output",
                    argv.join(" ")
                )
            } else {
                stderr
            };
            Reply {
                code: if code == 0 { 2 } else { code },
                json: json!({"version": 1, "error": {"code": "error", "message": message, "hint": null}}),
                error: Some(message),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_is_a_dry_run_unless_asked() {
        let mut t = SetTool {
            selector: "modules/m1".into(),
            values: vec!["config.workers=8".into()],
            target: Some("prod".into()),
            message: None,
            apply: false,
        };
        assert_eq!(
            t.argv().unwrap(),
            [
                "set",
                "modules/m1",
                "config.workers=8",
                "--target=prod",
                "--dry-run"
            ]
        );
        t.apply = true;
        assert!(!t.argv().unwrap().contains(&"--dry-run".to_string()));
    }

    #[test]
    fn a_value_cannot_become_a_flag() {
        let t = ShowTool {
            id: "--help".into(),
        };
        assert!(t.argv().is_err());
        let t = SetTool {
            selector: "modules/m1".into(),
            values: vec!["workers".into()],
            target: None,
            message: None,
            apply: true,
        };
        assert!(t.argv().is_err());
    }
}
