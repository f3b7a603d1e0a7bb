//! `fleet.toml` at the repository root: targets, peers and policy.
//! Parsed strictly: unknown keys are errors that name file:line:col.

use crate::error::{Diagnostic, Error, Result};
use crate::fleet::validate::{has_inline_credentials, unsafe_name};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Component, Path};

pub const CONFIG_FILE: &str = "fleet.toml";
pub const DEFAULT_DESIRED: &str = "fleet.yaml";
pub const DEFAULT_MAX_PROPOSALS: usize = 25;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub targets: BTreeMap<String, TargetConfig>,
    /// Peers, checked strictly here; resolved by `crate::peers::config`.
    #[serde(default)]
    pub peers: BTreeMap<String, crate::peers::config::PeerEntry>,
    /// `[[policy]]` tables as written; `Config::parse` checks and compiles
    /// them into `policy`.
    #[doc(hidden)]
    #[serde(default, rename = "policy")]
    pub policy_tables: Vec<toml::Spanned<crate::policy::RawRule>>,
    /// Bounded-write rules (`[[policy]]`).
    #[serde(skip)]
    pub policy: crate::policy::Policy,
    /// Only verified SSH signers act: unsigned or unverifiable commits,
    /// decisions and receipts are refused where the policy is enforced.
    #[serde(default)]
    pub require_signed: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// The desired file, relative to the repository root.
    pub desired: Option<String>,
    /// A directory holding this target's `fleet.yaml`, relative, no `..`.
    pub path_prefix: Option<String>,
    #[serde(default)]
    pub auto_apply: bool,
    pub max_proposals: Option<usize>,
    #[serde(default)]
    pub approvals: Option<usize>,
    pub driver: Option<String>,
    pub live: Option<String>,
    pub apply: Option<String>,
    /// The branch whose content may go live (default: the remote's default branch).
    pub branch: Option<String>,
    /// The remote that branch is read from (default: origin, or the only remote).
    pub remote: Option<String>,
}

impl TargetConfig {
    /// The desired file's path relative to the repository root.
    pub fn desired_path(&self) -> String {
        match (&self.desired, &self.path_prefix) {
            (Some(d), Some(p)) => format!("{}/{}", p.trim_end_matches('/'), d),
            (Some(d), None) => d.clone(),
            (None, Some(p)) if !p.trim_end_matches('/').is_empty() => {
                format!("{}/{DEFAULT_DESIRED}", p.trim_end_matches('/'))
            }
            _ => DEFAULT_DESIRED.to_string(),
        }
    }
}

impl Config {
    /// Load `fleet.toml` from `root`; a missing file is the empty config.
    pub fn load(root: &Path) -> Result<Config> {
        let path = root.join(CONFIG_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => Config::parse(CONFIG_FILE, &bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(source) => Err(Error::Read { path, source }),
        }
    }

    pub fn parse(file: &str, bytes: &[u8]) -> Result<Config> {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| Error::invalid(Diagnostic::new(file, "not valid UTF-8")))?;
        let mut config: Config = toml::from_str(text).map_err(|e| {
            let d = Diagnostic::new(file, e.message().trim().to_string());
            Error::invalid(match e.span() {
                Some(span) => {
                    let (line, col) = line_col(text, span.start);
                    d.at(line, col)
                }
                None => d,
            })
        })?;
        config.check(file, text)?;
        let tables = std::mem::take(&mut config.policy_tables);
        config.policy = crate::policy::Policy::compile(file, text, tables)?;
        config.policy.require_signed = config.require_signed;
        Ok(config)
    }

    fn check(&self, file: &str, text: &str) -> Result<()> {
        let at = |needle: &str, message: String| {
            let d = Diagnostic::new(file, message);
            match text.find(needle) {
                Some(offset) => {
                    let (line, col) = line_col(text, offset);
                    d.at(line, col)
                }
                None => d,
            }
        };
        // Credentials in a URL leak into history and logs: refuse them anywhere.
        for (n, line) in text.lines().enumerate() {
            if let Some(start) = line.find("://") {
                let token = line[..start]
                    .rsplit(|c: char| c == '"' || c == '\'' || c.is_whitespace() || c == '=')
                    .next()
                    .unwrap_or("");
                let url = format!("{token}{}", &line[start..]);
                if has_inline_credentials(url.trim_matches(|c| c == '"' || c == '\'')) {
                    return Err(Error::invalid(
                        Diagnostic::new(file, "a URL with inline credentials (user:password@); keep credentials out of git")
                            .at(n + 1, start.saturating_sub(token.len()) + 1),
                    ));
                }
            }
        }
        for (name, target) in &self.targets {
            if let Some(why) = unsafe_name(name) {
                return Err(Error::invalid(at(
                    &format!("[targets.{name}"),
                    format!("target name '{name}' {why}"),
                )));
            }
            for (key, value) in [
                ("path_prefix", &target.path_prefix),
                ("desired", &target.desired),
            ] {
                if let Some(v) = value {
                    if !is_safe_relative(v) {
                        return Err(Error::invalid(at(
                            v,
                            format!("targets.{name}.{key} = '{v}' must be a relative path inside the repository (no '..', not absolute)"),
                        )));
                    }
                }
            }
            match target.driver.as_deref() {
                None | Some("embedded") | Some("exec") => {}
                Some(other) => {
                    return Err(Error::invalid(at(
                        other,
                        format!("targets.{name}.driver = '{other}': expected 'embedded' or 'exec'"),
                    )))
                }
            }
        }
        Ok(())
    }

    pub fn target(&self, name: &str) -> Option<&TargetConfig> {
        self.targets.get(name)
    }
}

/// Relative, no `..`, no absolute or drive prefix.
pub fn is_safe_relative(p: &str) -> bool {
    !p.is_empty()
        && !p.contains('\0')
        && Path::new(p)
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, col)
}
