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
/// fleet.toml is read whole and parsed eagerly: cap it like a fleet file.
pub const MAX_CONFIG_BYTES: usize = 1024 * 1024;

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
    /// `[[notify]]` tables as written; `Config::parse` checks them into `notify`.
    #[doc(hidden)]
    #[serde(default, rename = "notify")]
    pub notify_tables: Vec<toml::Spanned<crate::notify::NotifyRule>>,
    /// Where events go (`[[notify]]`).
    #[serde(skip)]
    pub notify: Vec<crate::notify::NotifyRule>,
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
        match read_capped(&root.join(CONFIG_FILE), CONFIG_FILE)? {
            Some(bytes) => Config::parse(CONFIG_FILE, &bytes),
            None => Ok(Config::default()),
        }
    }

    pub fn parse(file: &str, bytes: &[u8]) -> Result<Config> {
        check_size(file, bytes.len() as u64)?;
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
        config.normalise();
        let tables = std::mem::take(&mut config.policy_tables);
        config.policy = crate::policy::Policy::compile(file, text, tables)?;
        config.policy.require_signed = config.require_signed;
        crate::notify::check(&config.notify_tables, file, text)?;
        config.notify = std::mem::take(&mut config.notify_tables)
            .into_iter()
            .map(toml::Spanned::into_inner)
            .collect();
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
                    if key == "desired" && is_safe_relative(v) && normalise_relative(v).is_empty() {
                        return Err(Error::invalid(at(
                            v,
                            format!("targets.{name}.desired = '{v}' must name a file"),
                        )));
                    }
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

    /// One spelling per path (`./fleet.yaml`, `a//b`, `a/.` are `fleet.yaml`,
    /// `a/b`, `a`), so every comparison with git's paths holds; a prefix that
    /// is the root itself is no prefix.
    fn normalise(&mut self) {
        for target in self.targets.values_mut() {
            if let Some(d) = &target.desired {
                target.desired = Some(normalise_relative(d));
            }
            target.path_prefix = target
                .path_prefix
                .as_deref()
                .map(normalise_relative)
                .filter(|p| !p.is_empty());
        }
    }

    pub fn target(&self, name: &str) -> Option<&TargetConfig> {
        self.targets.get(name)
    }
}

/// A relative path as git names it: its normal components joined by `/`
/// (`.` components and repeated or trailing slashes dropped).
pub fn normalise_relative(p: &str) -> String {
    Path::new(p)
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The bytes of `path` (`None` if it does not exist), refusing a file over
/// [`MAX_CONFIG_BYTES`] without reading more than the limit.
pub fn read_capped(path: &Path, label: &str) -> Result<Option<Vec<u8>>> {
    use std::io::Read;
    let read_err = |source| Error::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(read_err(source)),
    };
    if let Ok(meta) = file.metadata() {
        check_size(label, meta.len())?;
    }
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    check_size(label, bytes.len() as u64)?;
    Ok(Some(bytes))
}

fn check_size(label: &str, len: u64) -> Result<()> {
    if len > MAX_CONFIG_BYTES as u64 {
        return Err(Error::invalid(Diagnostic::new(
            label,
            format!(
                "file is {len} bytes; config files are limited to 1 MiB ({MAX_CONFIG_BYTES} bytes)"
            ),
        )));
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn desired_paths_have_one_spelling() {
        for (written, normal) in [
            ("./fleet.yaml", "fleet.yaml"),
            ("fleet.yaml/.", "fleet.yaml"),
            ("a//b/./c.yaml", "a/b/c.yaml"),
            ("a/b/", "a/b"),
        ] {
            assert_eq!(normalise_relative(written), normal, "{written}");
        }
        let text = "[targets.s]\ndesired = \"./fleet.yaml\"\n[targets.p]\npath_prefix = \"./\"\n[targets.q]\npath_prefix = \"./q//\"\ndesired = \"./x.yaml\"\n";
        let c = Config::parse("fleet.toml", text.as_bytes()).unwrap();
        assert_eq!(c.targets["s"].desired_path(), "fleet.yaml");
        assert_eq!(c.targets["p"].desired_path(), "fleet.yaml");
        assert_eq!(c.targets["q"].desired_path(), "q/x.yaml");
        for bad in ["../x.yaml", "a/../../x.yaml", "/etc/x", "."] {
            let text = format!("[targets.s]\ndesired = \"{bad}\"\n");
            assert!(
                Config::parse("fleet.toml", text.as_bytes()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn an_oversized_config_is_refused() {
        let big = format!("# {}\n", "x".repeat(MAX_CONFIG_BYTES));
        let e = Config::parse("fleet.toml", big.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("1 MiB"), "{e}");
    }
}
