//! `fleet.toml` at the repository root: targets, peers and policy.
//! Parsed strictly: unknown keys are errors that name file:line:col.

use crate::error::{Diagnostic, Error, Result};
use crate::fleet::validate::{has_inline_credentials, unsafe_name};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

pub mod file;

// The lowest-level facts live in `file` so every module can import them
// without coming back here; re-exported to keep `crate::config::X` paths.
use file::check_size;
pub use file::{
    is_safe_relative, line_col, normalise_relative, read_capped, toml_diagnostic, CONFIG_FILE,
    DEFAULT_DESIRED, DEFAULT_MAX_PROPOSALS, MAX_CONFIG_BYTES,
};

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
    pub policy_tables: Vec<toml::Spanned<crate::policy::rules::RawRule>>,
    /// Bounded-write rules (`[[policy]]`).
    #[serde(skip)]
    pub policy: crate::policy::rules::Policy,
    /// Only verified SSH signers act: unsigned or unverifiable commits,
    /// decisions and receipts are refused where the policy is enforced.
    #[serde(default)]
    pub require_signed: bool,
    /// The text this was parsed from (empty for no file), so peers are
    /// resolved with their positions without parsing it again.
    #[serde(skip)]
    pub text: String,
    /// `[[ignore]]`: fields whose drift is never proposed nor counted.
    #[serde(default)]
    pub ignore: Vec<IgnoreRule>,
    /// `[[notify]]` tables as written; `Config::parse` checks them into `notify`.
    #[doc(hidden)]
    #[serde(default, rename = "notify")]
    pub notify_tables: Vec<toml::Spanned<crate::notify::NotifyRule>>,
    /// Where events go (`[[notify]]`).
    #[serde(skip)]
    pub notify: Vec<crate::notify::NotifyRule>,
}

/// One `[[ignore]]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IgnoreRule {
    /// Only this target (default: every target).
    pub target: Option<String>,
    /// Glob on `kind/name/field`, e.g. `modules/*/config.replicas`.
    pub path: String,
    pub reason: Option<String>,
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
    /// The upstream variant this target's desired values are promoted from
    /// (`git fleet variants`, `git fleet promote`).
    pub promotes_from: Option<String>,
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

/// A target's desired file relative to the repository root.
pub fn desired_path(cfg: &TargetConfig) -> String {
    cfg.desired_path()
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
        let mut config: Config =
            toml::from_str(text).map_err(|e| Error::invalid(toml_diagnostic(file, text, &e)))?;
        // Each problem found below keeps its source line for a snippet.
        let with_source = |e: Error| e.with_source(file, text);
        config.check(file, text).map_err(with_source)?;
        config.normalise();
        let tables = std::mem::take(&mut config.policy_tables);
        config.policy =
            crate::policy::rules::Policy::compile(file, text, tables).map_err(with_source)?;
        config.policy.require_signed = config.require_signed;
        config.text = text.to_string();
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
        for rule in &self.ignore {
            let ok = glob::Pattern::new(&rule.path).is_ok()
                && rule.path.splitn(3, '/').count() == 3
                && !rule.path.split('/').any(str::is_empty);
            if !ok {
                return Err(Error::invalid(at(
                    &rule.path,
                    format!(
                        "[[ignore]] path = '{}': expected a glob on kind/name/field, e.g. modules/*/config.replicas",
                        rule.path
                    ),
                )));
            }
        }
        self.check_variants(file, text)
    }

    /// `promotes_from` names a declared target, and the graph has no cycle.
    fn check_variants(&self, file: &str, text: &str) -> Result<()> {
        // The `promotes_from` line inside `[targets.<name>]`, for file:line:col.
        let locate = |name: &str, message: String| {
            let d = Diagnostic::new(file, message);
            let header = [format!("[targets.{name}]"), format!("[targets.\"{name}\"]")]
                .iter()
                .find_map(|h| text.find(h.as_str()))
                .unwrap_or(0);
            match text[header..].find("promotes_from") {
                Some(off) => {
                    let (line, col) = line_col(text, header + off);
                    d.at(line, col)
                }
                None => d,
            }
        };
        for (name, target) in &self.targets {
            let Some(up) = &target.promotes_from else {
                continue;
            };
            if !self.targets.contains_key(up) {
                return Err(Error::invalid(locate(
                    name,
                    format!("targets.{name}.promotes_from = '{up}': no [targets.{up}] is declared"),
                )));
            }
            let mut seen = vec![name.as_str()];
            let mut at = up.as_str();
            while let Some(next) = self
                .targets
                .get(at)
                .and_then(|t| t.promotes_from.as_deref())
            {
                seen.push(at);
                if seen.contains(&next) {
                    seen.push(next);
                    return Err(Error::invalid(locate(
                        name,
                        format!(
                            "targets.{name}.promotes_from makes a cycle: {}",
                            seen.join(" <- ")
                        ),
                    )));
                }
                at = next;
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

    /// Every configured peer, as `crate::peers::config::load` gives them,
    /// from this parsed fleet.toml (not read or parsed again) and the
    /// machine-local file. `home` expands `~/` (None: `~` is an error).
    pub fn peers(
        &self,
        root: Option<&Path>,
        git_dir: &Path,
        home: Option<&Path>,
    ) -> Result<Vec<crate::peers::config::Peer>> {
        use crate::peers::config::{resolve_shared, with_local};
        let shared = resolve_shared(CONFIG_FILE, &self.text, self.peers.clone(), home)?;
        with_local(shared, root, git_dir, home)
    }
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

    #[test]
    fn peers_come_from_the_parsed_config_as_load_gives_them() {
        let dir = std::env::temp_dir().join(format!("fleet-config-peers-{}", std::process::id()));
        let git_dir = dir.join(".git");
        std::fs::create_dir_all(&git_dir).unwrap();
        let text = "[peers.b]\nlocation = \"/srv/b\"\n[peers.a]\nlocation = \"/srv/a\"\nbranch = \"main\"\n";
        std::fs::write(dir.join(CONFIG_FILE), text).unwrap();
        std::fs::write(
            git_dir.join(crate::peers::config::LOCAL_FILE),
            "[peers.b]\nlocation = \"/srv/b2\"\n",
        )
        .unwrap();
        let config = Config::load(&dir).unwrap();
        let once = config.peers(Some(&dir), &git_dir, None).unwrap();
        let again = crate::peers::config::load(Some(&dir), &git_dir, None).unwrap();
        let show = |peers: &[crate::peers::config::Peer]| {
            peers
                .iter()
                .map(|p| format!("{} {} {:?}", p.name, p.location_text, p.origin))
                .collect::<Vec<_>>()
        };
        assert_eq!(show(&once), show(&again));
        assert_eq!(show(&once), ["a /srv/a Shared", "b /srv/b2 LocalOverride"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
