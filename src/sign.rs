//! SSH signatures in git's own format (`-----BEGIN SSH SIGNATURE-----`), made and
//! checked by running `ssh-keygen -Y ...` exactly as git does for `gpg.format=ssh`:
//! the same config keys (`gpg.format`, `user.signingKey`, `gpg.ssh.program`,
//! `gpg.ssh.defaultKeyCommand`, `gpg.ssh.allowedSignersFile`), the same
//! literal-key handling (`key::ssh-ed25519 AAAA...` means the private key is in
//! the agent: `-U`), the same principal lookup. Only the namespace differs:
//! `git-fleet`, so a fleet signature can never pass for a commit or tag
//! signature (namespace `git`) or the other way round.
//!
//! In-process where it can be ([`sshsig`], the `ssh-key` crate): one
//! `ssh-keygen` process per receipt made verifying 10,000 receipts take over a
//! minute. Verification reads allowed_signers with OpenSSH's rules (principal
//! patterns, `namespaces=`, `valid-after`/`valid-before`); signatures made with
//! a certificate (`cert-authority`), by FIDO `sk-` keys, or that do not decode
//! still go to `ssh-keygen -Y verify`. Signing is in-process for a plain,
//! unencrypted ed25519/ECDSA key file with the default `gpg.ssh.program`;
//! agent-held (literal or public key file), encrypted, hardware and RSA keys,
//! and any configured `gpg.ssh.program` (a wrapper), sign with the program as
//! git does.

use crate::error::StoreError;
use crate::error::{Error, Result};
use crate::gitcmd;
use crate::store::Store;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

pub mod sshsig;

/// The `ssh-keygen -Y` namespace of every git-fleet signature.
pub const NAMESPACE: &str = "git-fleet";

const ARMOR_BEGIN: &str = "-----BEGIN SSH SIGNATURE-----";
const ARMOR_END: &str = "-----END SSH SIGNATURE-----";

/// Where the signing key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigningKey {
    /// A key file (private, or public with the private key in the agent).
    File(PathBuf),
    /// A public key given literally (`key::ssh-ed25519 AAAA...`); the private key is in the agent.
    Literal(String),
}

/// git's SSH signing configuration, read with `git config` (so global,
/// system and `GIT_CONFIG_*` files count exactly as they do for git).
#[derive(Debug, Clone, Default)]
pub struct SshConfig {
    /// `gpg.ssh.program` (default `ssh-keygen`).
    pub program: String,
    /// Set when `gpg.format=ssh` and a key is configured (`user.signingKey`, or
    /// the first line printed by `gpg.ssh.defaultKeyCommand`).
    pub signing_key: Option<SigningKey>,
    /// `gpg.ssh.allowedSignersFile`, `~/` expanded, relative paths taken from
    /// the work tree root (the git dir in a bare repository).
    pub allowed_signers: Option<PathBuf>,
}

/// What checking one signature found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Verdict {
    /// Valid, by a key that allowed_signers lists for the expected principal.
    Good { principal: String, key: String },
    /// Valid, by a key that allowed_signers lists only for other principals.
    WrongSigner {
        principals: Vec<String>,
        key: String,
    },
    /// Valid, by a key allowed_signers does not list (or lists outside its validity).
    UntrustedKey { key: String },
    /// Valid in itself, but no allowed_signers file is configured to say whose key it is.
    Unchecked { key: String },
    /// Does not verify: the signed bytes, the signature or its namespace was altered.
    Bad { detail: String },
}

impl SshConfig {
    /// The configuration of the repository `store`, read once per process
    /// and repository (one `git config` run; a reconcile tick appends many
    /// receipts).
    pub fn load(store: &Store) -> Result<SshConfig> {
        static CACHE: OnceLock<Mutex<HashMap<PathBuf, SshConfig>>> = OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        let key = store.git_dir().to_path_buf();
        if let Some(hit) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(hit);
        }
        let config = SshConfig::read(store)?;
        if let Ok(mut c) = cache.lock() {
            c.insert(key, config.clone());
        }
        Ok(config)
    }

    /// Read the configuration of the repository `store` now (one `git config` run).
    pub fn read(store: &Store) -> Result<SshConfig> {
        let dir = store.work_dir().unwrap_or(store.git_dir()).to_path_buf();
        let out = gitcmd::git(
            &dir,
            &[
                "config",
                "-z",
                "--get-regexp",
                r"^(gpg\.format|gpg\.ssh\.program|gpg\.ssh\.allowedsignersfile|gpg\.ssh\.defaultkeycommand|user\.signingkey)$",
            ],
        )?;
        // Exit 1 means "no such key": nothing configured.
        if !out.success && out.code != Some(1) {
            return Err(StoreError::git_failed(
                "cannot read the signing configuration",
                &out.stderr,
            )
            .into());
        }
        let mut format = None;
        let mut program = None;
        let mut allowed = None;
        let mut key_command = None;
        let mut key = None;
        for entry in out.stdout.split('\0').filter(|e| !e.is_empty()) {
            let (name, value) = entry.split_once('\n').unwrap_or((entry, ""));
            let value = Some(value.to_string()).filter(|v| !v.trim().is_empty());
            // Later values win, as in git.
            match name.to_ascii_lowercase().as_str() {
                "gpg.format" => format = value,
                "gpg.ssh.program" => program = value,
                "gpg.ssh.allowedsignersfile" => allowed = value,
                "gpg.ssh.defaultkeycommand" => key_command = value,
                "user.signingkey" => key = value,
                _ => {}
            }
        }
        let ssh = format.is_some_and(|f| f.trim().eq_ignore_ascii_case("ssh"));
        let signing_key = match (ssh, key, key_command) {
            (false, _, _) => None,
            (true, Some(key), _) => Some(parse_key(&key)),
            (true, None, Some(command)) => Some(default_key(&command, &dir)?),
            (true, None, None) => None,
        };
        Ok(SshConfig {
            program: program.unwrap_or_else(|| "ssh-keygen".into()),
            signing_key,
            allowed_signers: allowed.map(|p| resolve_path(&p, &dir)),
        })
    }

    /// Sign `data` with the configured key; None when signing is not configured.
    /// Returns the armored signature (`-----BEGIN SSH SIGNATURE-----` ...).
    pub fn sign(&self, data: &[u8]) -> Result<Option<String>> {
        let Some(key) = &self.signing_key else {
            return Ok(None);
        };
        if let (SigningKey::File(path), "ssh-keygen") = (key, self.program.as_str()) {
            if let Some(signature) = sshsig::sign_file(path, NAMESPACE, data) {
                return Ok(Some(signature.trim().to_string()));
            }
        }
        let literal;
        let (key_file, use_agent) = match key {
            SigningKey::File(path) => (path.as_path(), false),
            SigningKey::Literal(public) => {
                literal = temp_file("key", public.as_bytes())?;
                (literal.path(), true)
            }
        };
        let mut cmd = Command::new(&self.program);
        cmd.args(["-Y", "sign", "-n", NAMESPACE, "-f"])
            .arg(key_file);
        if use_agent {
            cmd.arg("-U");
        }
        let out = self.run(cmd, data)?;
        let signature = out.stdout.trim();
        if !out.success || !is_armored(signature) {
            return Err(Error::usage_hint(
                format!(
                    "cannot sign the receipt with {} ({}): {}",
                    describe(key),
                    self.program,
                    out.stderr.trim()
                ),
                "check user.signingKey (or unset gpg.format=ssh to write unsigned receipts)",
            ));
        }
        Ok(Some(signature.to_string()))
    }

    /// Check `signature` over `data`: signed by `principal` (an email or any
    /// name allowed_signers uses) according to `gpg.ssh.allowedSignersFile`,
    /// at `time` (seconds since the epoch; honours `valid-after`/`valid-before`).
    /// Without an allowed signers file only the signature itself is checked.
    pub fn verify(
        &self,
        data: &[u8],
        signature: &str,
        principal: Option<&str>,
        time: Option<i64>,
    ) -> Result<Verdict> {
        let (key, fingerprint) = match sshsig::check(signature, NAMESPACE, data) {
            sshsig::Checked::Valid { key, fingerprint } => (key, fingerprint),
            sshsig::Checked::Unsupported => {
                return self.verify_with_program(data, signature, principal, time)
            }
            sshsig::Checked::Bad(detail) => {
                if let Some(allowed) = &self.allowed_signers {
                    missing_allowed_signers(allowed)?;
                }
                return Ok(Verdict::Bad { detail });
            }
        };
        let Some(allowed) = &self.allowed_signers else {
            return Ok(Verdict::Unchecked { key: fingerprint });
        };
        missing_allowed_signers(allowed)?;
        let signers = sshsig::AllowedSigners::load(allowed)?;
        // ssh-keygen checks at the current time when not given one.
        let time = time.unwrap_or_else(|| gix::date::Time::now_utc().seconds);
        // The same steps as with the program below: verify as the expected
        // principal; else the principals find-principals would list, in order.
        if let Some(principal) = principal.filter(|p| !p.is_empty()) {
            if signers.allows(&key, principal, NAMESPACE, time) {
                return Ok(Verdict::Good {
                    principal: principal.to_string(),
                    key: fingerprint,
                });
            }
        }
        for listed in signers.principals_of(&key, time) {
            if signers.allows(&key, listed, NAMESPACE, time) {
                let listed = listed.to_string();
                return Ok(match principal {
                    None => Verdict::Good {
                        principal: listed,
                        key: fingerprint,
                    },
                    Some(_) => Verdict::WrongSigner {
                        principals: vec![listed],
                        key: fingerprint,
                    },
                });
            }
        }
        Ok(Verdict::UntrustedKey { key: fingerprint })
    }

    /// [`SshConfig::verify`] with `ssh-keygen -Y verify`, for what [`sshsig`]
    /// does not check itself (certificates, `sk-` keys).
    pub fn verify_with_program(
        &self,
        data: &[u8],
        signature: &str,
        principal: Option<&str>,
        time: Option<i64>,
    ) -> Result<Verdict> {
        let sig = temp_file("sig", format!("{}\n", signature.trim()).as_bytes())?;
        let verify_time = time.and_then(verify_time_option);
        let Some(allowed) = &self.allowed_signers else {
            return self.check_novalidate(data, sig.path()).map(|v| match v {
                Verdict::UntrustedKey { key } => Verdict::Unchecked { key },
                other => other,
            });
        };
        missing_allowed_signers(allowed)?;
        let verify_as = |who: &str| -> Result<Option<String>> {
            let mut cmd = Command::new(&self.program);
            cmd.args(["-Y", "verify", "-n", NAMESPACE, "-f"])
                .arg(allowed)
                .arg("-I")
                .arg(who)
                .arg("-s")
                .arg(sig.path());
            if let Some(t) = &verify_time {
                cmd.arg(t);
            }
            let out = self.run(cmd, data)?;
            Ok(out.success.then(|| key_of(&out.stdout)))
        };
        if let Some(principal) = principal.filter(|p| !p.is_empty()) {
            if let Some(key) = verify_as(principal)? {
                return Ok(Verdict::Good {
                    principal: principal.to_string(),
                    key,
                });
            }
        }
        let mut cmd = Command::new(&self.program);
        cmd.args(["-Y", "find-principals", "-f"])
            .arg(allowed)
            .arg("-s")
            .arg(sig.path());
        if let Some(t) = &verify_time {
            cmd.arg(t);
        }
        let found = self.run(cmd, b"")?;
        if found.success {
            for listed in found.stdout.lines().filter(|l| !l.trim().is_empty()) {
                if let Some(key) = verify_as(listed.trim())? {
                    return Ok(match principal {
                        // No principal expected: any listed one will do.
                        None => Verdict::Good {
                            principal: listed.trim().to_string(),
                            key,
                        },
                        Some(_) => Verdict::WrongSigner {
                            principals: vec![listed.trim().to_string()],
                            key,
                        },
                    });
                }
            }
        }
        self.check_novalidate(data, sig.path())
    }

    /// Is the signature valid for its own key (no trust decision)?
    fn check_novalidate(&self, data: &[u8], sig: &Path) -> Result<Verdict> {
        let mut cmd = Command::new(&self.program);
        cmd.args(["-Y", "check-novalidate", "-n", NAMESPACE, "-s"])
            .arg(sig);
        let out = self.run(cmd, data)?;
        Ok(if out.success {
            Verdict::UntrustedKey {
                key: key_of(&out.stdout),
            }
        } else {
            let detail = out
                .stderr
                .lines()
                .chain(out.stdout.lines())
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("the signature does not verify")
                .to_string();
            Verdict::Bad { detail }
        })
    }

    fn run(&self, mut cmd: Command, stdin: &[u8]) -> Result<Output> {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                Error::usage_hint(
                    format!("cannot run {} (gpg.ssh.program): {e}", self.program),
                    "install OpenSSH's ssh-keygen or point gpg.ssh.program at it",
                )
            })?;
        if let Some(mut input) = child.stdin.take() {
            // A program that exits without reading its input is judged by its status.
            let _ = input.write_all(stdin);
        }
        let out = child
            .wait_with_output()
            .map_err(|e| StoreError::spawn(self.program.clone(), e))?;
        Ok(Output {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

fn missing_allowed_signers(allowed: &Path) -> Result<()> {
    if allowed.is_file() {
        return Ok(());
    }
    Err(Error::usage(format!(
        "gpg.ssh.allowedSignersFile {} does not exist",
        allowed.display()
    )))
}

struct Output {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Whether `text` is one armored SSH signature.
pub fn is_armored(text: &str) -> bool {
    let text = text.trim();
    text.starts_with(ARMOR_BEGIN) && text.ends_with(ARMOR_END) && text.lines().count() >= 3
}

/// `key::ssh-ed25519 AAAA...` and (deprecated in git) `ssh-ed25519 AAAA...` are
/// literal keys; anything else is a file name.
fn parse_key(value: &str) -> SigningKey {
    let value = value.trim();
    if let Some(literal) = value.strip_prefix("key::") {
        SigningKey::Literal(literal.trim().to_string())
    } else if value.starts_with("ssh-") {
        SigningKey::Literal(value.to_string())
    } else {
        SigningKey::File(expand_home(value))
    }
}

/// git's `gpg.ssh.defaultKeyCommand`: its first line of output must be a literal key.
fn default_key(command: &str, dir: &Path) -> Result<SigningKey> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| StoreError::spawn("gpg.ssh.defaultKeyCommand", e))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let first = stdout.lines().next().unwrap_or("").trim();
    match parse_key(first) {
        SigningKey::Literal(key) if out.status.success() => Ok(SigningKey::Literal(key)),
        _ => Err(Error::usage(format!(
            "gpg.ssh.defaultKeyCommand `{command}` did not print a key (`key::...` or `ssh-...`): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))),
    }
}

fn describe(key: &SigningKey) -> String {
    match key {
        SigningKey::File(path) => format!("key {}", path.display()),
        SigningKey::Literal(k) => format!(
            "agent key {}",
            k.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
        ),
    }
}

fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

fn resolve_path(path: &str, base: &Path) -> PathBuf {
    let path = expand_home(path.trim());
    if path.is_absolute() {
        path
    } else {
        base.join(path)
    }
}

/// `SHA256:...` from ssh-keygen's "Good ... signature ... with ED25519 key SHA256:..." line.
fn key_of(stdout: &str) -> String {
    stdout
        .split_whitespace()
        .find(|w| w.starts_with("SHA256:"))
        .unwrap_or("unknown key")
        .to_string()
}

/// `-Overify-time=YYYYMMDDHHMMSSZ` (UTC), as git passes the commit time.
fn verify_time_option(seconds: i64) -> Option<String> {
    let time = gix::date::Time::new(seconds, 0);
    time.format(gix::date::time::CustomFormat::new("%Y%m%d%H%M%SZ"))
        .ok()
        .map(|t| format!("-Overify-time={t}"))
}

/// A private temporary file (removed on drop) for ssh-keygen's file arguments.
fn temp_file(kind: &str, contents: &[u8]) -> Result<tempfile::NamedTempFile> {
    let mut file = tempfile::Builder::new()
        .prefix(&format!("git-fleet-{kind}-"))
        .tempfile()
        .map_err(|e| StoreError::Io {
            what: "cannot create a temporary file",
            source: e,
        })?;
    file.write_all(contents)
        .and_then(|_| file.flush())
        .map_err(|e| StoreError::Io {
            what: "cannot write a temporary file",
            source: e,
        })?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_literal_or_files() {
        assert_eq!(
            parse_key("key::ssh-ed25519 AAAA me"),
            SigningKey::Literal("ssh-ed25519 AAAA me".into())
        );
        assert_eq!(
            parse_key("ssh-ed25519 AAAA"),
            SigningKey::Literal("ssh-ed25519 AAAA".into())
        );
        assert_eq!(
            parse_key("/k/id_ed25519"),
            SigningKey::File("/k/id_ed25519".into())
        );
    }

    #[test]
    fn verify_time_is_utc() {
        assert_eq!(
            verify_time_option(1_767_323_045).as_deref(),
            Some("-Overify-time=20260102030405Z")
        );
    }
}
