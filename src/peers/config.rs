//! `[peers.<name>]` tables: in `fleet.toml` (shared, committed) and in
//! `.git/fleet.local.toml` (this machine's; a peer defined there replaces the
//! shared peer of the same name as a whole).
//!
//! ```toml
//! [peers.web-1]
//! location = "ssh://deploy@web-1.example.com:2222/srv/app"  # or /abs/path, ~/path
//! branch = "main"         # default: the branch being delivered
//! remote = "origin"       # the peer's remote to fetch from (ssh peers)
//! reload = "systemctl --user reload app"
//! health = "curl -fsS http://localhost:8080/health"
//! readback = "cat REVISION"   # must print the delivered commit
//! timeout = 60            # seconds, per command
//! transport = "libssh2"   # or "openssh" (system ssh: ProxyJump, certificates)
//! identity = "~/.ssh/deploy_ed25519"
//! ```
//!
//! Unknown keys and bad values are errors naming `file:line:col`.

use crate::config::file::{line_col, read_capped, toml_diagnostic, CONFIG_FILE};
use crate::error::{Diagnostic, Error, Result};
use crate::fleet::validate::{has_inline_credentials, printable, unsafe_name};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The machine-local peers file, inside the git directory.
pub const LOCAL_FILE: &str = "fleet.local.toml";
/// Per-command timeout when a peer declares none.
pub const DEFAULT_TIMEOUT_SECS: u64 = 60;
/// The remote a peer fetches from when it declares none.
pub const DEFAULT_REMOTE: &str = "origin";

/// One `[peers.<name>]` table as written. Unknown keys are refused.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerEntry {
    pub location: toml::Spanned<String>,
    pub branch: Option<toml::Spanned<String>>,
    pub remote: Option<toml::Spanned<String>>,
    pub reload: Option<String>,
    pub health: Option<String>,
    pub readback: Option<String>,
    pub timeout: Option<toml::Spanned<u64>>,
    pub transport: Option<toml::Spanned<Transport>>,
    pub identity: Option<toml::Spanned<String>>,
}

/// How an SSH peer is reached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// ssh2 (libssh2) in-process, one session per host.
    #[default]
    Libssh2,
    /// The system `ssh` binary (BatchMode, ControlMaster multiplexing).
    Openssh,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Libssh2 => "libssh2",
            Transport::Openssh => "openssh",
        }
    }
}

/// An `ssh://[user@]host[:port]/path` location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeerSsh {
    pub user: Option<String>,
    pub host: String,
    pub port: Option<u16>,
    /// Absolute (`/srv/app`), or `~/path` (under the remote user's home) when
    /// the location was written `ssh://host/~/path`.
    pub path: String,
    pub transport: Transport,
    pub identity: Option<PathBuf>,
}

impl PeerSsh {
    /// `user@host:port`, for messages and for grouping peers by host.
    pub fn authority(&self) -> String {
        let mut s = String::new();
        if let Some(u) = &self.user {
            s.push_str(u);
            s.push('@');
        }
        if self.host.contains(':') {
            s.push_str(&format!("[{}]", self.host));
        } else {
            s.push_str(&self.host);
        }
        if let Some(p) = self.port {
            s.push_str(&format!(":{p}"));
        }
        s
    }
}

/// Where a peer checkout lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A directory on this machine (`~` already expanded).
    Local(PathBuf),
    Ssh(PeerSsh),
}

/// Which file a peer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// `fleet.toml`.
    Shared,
    /// `.git/fleet.local.toml` only.
    Local,
    /// `.git/fleet.local.toml`, replacing a peer of the same name in fleet.toml.
    LocalOverride,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Shared => "fleet.toml",
            Origin::Local => "local",
            Origin::LocalOverride => "local (overrides fleet.toml)",
        }
    }
}

/// A peer, resolved and validated.
#[derive(Debug, Clone)]
pub struct Peer {
    pub name: String,
    /// The location as written.
    pub location_text: String,
    pub location: Location,
    /// The branch the peer must be on; `None` means the branch being delivered.
    pub branch: Option<String>,
    pub remote: String,
    pub reload: Option<String>,
    pub health: Option<String>,
    pub readback: Option<String>,
    pub timeout: Duration,
    pub origin: Origin,
}

/// The machine-local file: peers only.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LocalFile {
    #[serde(default)]
    peers: BTreeMap<String, PeerEntry>,
}

/// Only the `peers` part of fleet.toml (the rest is `crate::config`'s).
#[derive(Debug, Default, Deserialize)]
struct SharedPeers {
    #[serde(default)]
    peers: BTreeMap<String, PeerEntry>,
}

/// The path of the machine-local peers file of a repository.
pub fn local_path(git_dir: &Path) -> PathBuf {
    git_dir.join(LOCAL_FILE)
}

/// How to name the local file in messages: `.git/fleet.local.toml` when the
/// git dir is the usual one under the work tree, else the full path.
pub fn local_label(root: Option<&Path>, git_dir: &Path) -> String {
    match root {
        Some(root) if git_dir == root.join(".git") => format!(".git/{LOCAL_FILE}"),
        _ => local_path(git_dir).display().to_string(),
    }
}

/// Every configured peer, sorted by name: fleet.toml's, with the local file's
/// replacing same-named ones. `home` expands `~/` (None: `~` is an error).
pub fn load(root: Option<&Path>, git_dir: &Path, home: Option<&Path>) -> Result<Vec<Peer>> {
    let mut shared = Vec::new();
    if let Some(root) = root {
        let path = root.join(CONFIG_FILE);
        if let Some(text) = read_optional(&path)? {
            shared = parse_shared(CONFIG_FILE, &text, home)?;
        }
    }
    with_local(shared, root, git_dir, home)
}

/// `shared` (fleet.toml's peers, resolved) with the local file's peers
/// replacing same-named ones, sorted by name.
pub fn with_local(
    shared: Vec<Peer>,
    root: Option<&Path>,
    git_dir: &Path,
    home: Option<&Path>,
) -> Result<Vec<Peer>> {
    let mut peers: BTreeMap<String, Peer> = shared
        .into_iter()
        .map(|peer| (peer.name.clone(), peer))
        .collect();
    let path = local_path(git_dir);
    if let Some(text) = read_optional(&path)? {
        let label = local_label(root, git_dir);
        for mut peer in parse_local(&label, &text, home)? {
            peer.origin = if peers.contains_key(&peer.name) {
                Origin::LocalOverride
            } else {
                Origin::Local
            };
            peers.insert(peer.name.clone(), peer);
        }
    }
    Ok(peers.into_values().collect())
}

fn read_optional(path: &Path) -> Result<Option<String>> {
    // Capped like fleet.toml: a huge file is refused before it is parsed.
    let label = path.display().to_string();
    match read_capped(path, &label)? {
        Some(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| Error::invalid(Diagnostic::new(label, "not valid UTF-8"))),
        None => Ok(None),
    }
}

/// The peers of a fleet.toml text.
pub fn parse_shared(file: &str, text: &str, home: Option<&Path>) -> Result<Vec<Peer>> {
    let parsed: SharedPeers = toml::from_str(text).map_err(|e| toml_error(file, text, &e))?;
    resolve_all(file, text, parsed.peers, Origin::Shared, home)
        .map_err(|e| e.with_source(file, text))
}

/// The peers of fleet.toml's `[peers]` tables already parsed (by
/// `Config::parse`) from `text`: resolved without parsing the text again.
pub fn resolve_shared(
    file: &str,
    text: &str,
    entries: BTreeMap<String, PeerEntry>,
    home: Option<&Path>,
) -> Result<Vec<Peer>> {
    resolve_all(file, text, entries, Origin::Shared, home).map_err(|e| e.with_source(file, text))
}

/// The peers of a `.git/fleet.local.toml` text (nothing but peers allowed).
pub fn parse_local(file: &str, text: &str, home: Option<&Path>) -> Result<Vec<Peer>> {
    let parsed: LocalFile = toml::from_str(text).map_err(|e| toml_error(file, text, &e))?;
    resolve_all(file, text, parsed.peers, Origin::Local, home)
        .map_err(|e| e.with_source(file, text))
}

fn toml_error(file: &str, text: &str, e: &toml::de::Error) -> Error {
    Error::invalid(toml_diagnostic(file, text, e))
}

fn resolve_all(
    file: &str,
    text: &str,
    entries: BTreeMap<String, PeerEntry>,
    origin: Origin,
    home: Option<&Path>,
) -> Result<Vec<Peer>> {
    let mut problems = Vec::new();
    let mut peers = Vec::new();
    for (name, entry) in entries {
        match resolve(file, text, &name, entry, origin, home) {
            Ok(p) => peers.push(p),
            Err(d) => problems.push(d),
        }
    }
    if problems.is_empty() {
        Ok(peers)
    } else {
        Err(Error::Invalid(problems))
    }
}

fn resolve(
    file: &str,
    text: &str,
    name: &str,
    entry: PeerEntry,
    origin: Origin,
    home: Option<&Path>,
) -> Result<Peer, Diagnostic> {
    let at = |span: std::ops::Range<usize>, message: String| {
        let (line, col) = line_col(text, span.start);
        Diagnostic::new(file, message).at(line, col)
    };
    if let Some(why) = unsafe_name(name) {
        let d = Diagnostic::new(file, format!("peer name '{}' {why}", printable(name)));
        return Err(match find_header(text, name) {
            Some(offset) => {
                let (line, col) = line_col(text, offset);
                d.at(line, col)
            }
            None => d,
        });
    }
    let span = entry.location.span();
    let location_text = entry.location.into_inner();
    let mut location = parse_location(&location_text, home)
        .map_err(|why| at(span.clone(), format!("peers.{name}.location: {why}")))?;
    let transport = entry.transport.map(|t| (t.span(), t.into_inner()));
    let identity = entry.identity.map(|i| (i.span(), i.into_inner()));
    match &mut location {
        Location::Ssh(ssh) => {
            if let Some((_, t)) = &transport {
                ssh.transport = *t;
            }
            if let Some((span, identity)) = &identity {
                ssh.identity =
                    Some(expand_home(identity, home).map_err(|why| {
                        at(span.clone(), format!("peers.{name}.identity: {why}"))
                    })?);
            }
        }
        Location::Local(_) => {
            for (key, span) in [
                ("transport", transport.as_ref().map(|t| t.0.clone())),
                ("identity", identity.as_ref().map(|i| i.0.clone())),
            ] {
                if let Some(span) = span {
                    return Err(at(
                        span,
                        format!("peers.{name}.{key} only applies to ssh:// locations"),
                    ));
                }
            }
        }
    }
    let branch = match entry.branch {
        Some(b) => {
            let span = b.span();
            let b = b.into_inner();
            if let Some(why) = bad_branch(&b) {
                return Err(at(
                    span,
                    format!("peers.{name}.branch '{}' {why}", printable(&b)),
                ));
            }
            Some(b)
        }
        None => None,
    };
    let remote = match entry.remote {
        Some(r) => {
            let span = r.span();
            let r = r.into_inner();
            if r.is_empty() || r.starts_with('-') || r.contains(['\n', '\r', '\0']) {
                return Err(at(
                    span,
                    format!(
                        "peers.{name}.remote '{}' must be a remote name or URL (not empty, not starting with '-')",
                        printable(&r)
                    ),
                ));
            }
            if has_inline_credentials(&r) {
                return Err(at(
                    span,
                    format!("peers.{name}.remote has inline credentials (user:password@); keep credentials out of config"),
                ));
            }
            r
        }
        None => DEFAULT_REMOTE.to_string(),
    };
    let timeout = match entry.timeout {
        Some(t) if *t.get_ref() == 0 => {
            return Err(at(
                t.span(),
                format!("peers.{name}.timeout must be at least 1 (seconds)"),
            ))
        }
        Some(t) => Duration::from_secs(t.into_inner()),
        None => Duration::from_secs(DEFAULT_TIMEOUT_SECS),
    };
    Ok(Peer {
        name: name.to_string(),
        location_text,
        location,
        branch,
        remote,
        reload: entry.reload.filter(|s| !s.trim().is_empty()),
        health: entry.health.filter(|s| !s.trim().is_empty()),
        readback: entry.readback.filter(|s| !s.trim().is_empty()),
        timeout,
        origin,
    })
}

/// Where `[peers.<name>]` (or a dotted/quoted form) starts, for error positions.
fn find_header(text: &str, name: &str) -> Option<usize> {
    for needle in [
        format!("[peers.{name}]"),
        format!("[peers.\"{name}\"]"),
        format!("[peers.'{name}']"),
        format!("peers.{name}"),
    ] {
        if let Some(i) = text.find(&needle) {
            return Some(i);
        }
    }
    None
}

/// Why `b` is not a usable branch name (git's check-ref-format rules), if it is not.
pub fn bad_branch(b: &str) -> Option<&'static str> {
    if b.is_empty() {
        return Some("is empty");
    }
    if b.starts_with('-') {
        return Some("must not start with '-'");
    }
    if b.starts_with("refs/") {
        return Some("must be a branch name, not a full ref (drop 'refs/heads/')");
    }
    if gix::refs::FullName::try_from(format!("refs/heads/{b}").as_str()).is_err()
        || b.contains(|c: char| c.is_control() || c == ' ')
    {
        return Some("is not a valid branch name");
    }
    None
}

/// Parse a location: `/abs/path`, `~/path`, or `ssh://[user@]host[:port]/path`.
pub fn parse_location(text: &str, home: Option<&Path>) -> Result<Location, String> {
    if text.contains(['\0', '\n', '\r']) {
        return Err("must not contain NUL or line breaks".into());
    }
    if let Some(rest) = text.strip_prefix("ssh://") {
        return parse_ssh(rest).map(Location::Ssh);
    }
    if text.contains("://") {
        return Err(format!(
            "'{}': only ssh:// URLs are supported (or a local /abs/path or ~/path)",
            printable(text)
        ));
    }
    if text.starts_with('/') || text == "~" || text.starts_with("~/") {
        return expand_home(text, home).map(Location::Local);
    }
    if let Some((host, path)) = text.split_once(':') {
        if !host.is_empty() && !host.contains('/') {
            return Err(format!(
                "'{}' looks like scp syntax; write ssh://{host}/{}",
                printable(text),
                path.trim_start_matches('/')
            ));
        }
    }
    Err(format!(
        "'{}' must be an absolute path (/srv/app), ~/path, or ssh://[user@]host[:port]/path",
        printable(text)
    ))
}

fn expand_home(path: &str, home: Option<&Path>) -> Result<PathBuf, String> {
    let rest = if path == "~" {
        Some("")
    } else {
        path.strip_prefix("~/")
    };
    match rest {
        Some(rest) => match home {
            Some(home) => Ok(home.join(rest)),
            None => Err(format!("cannot expand '{path}': HOME is not set")),
        },
        None if path.starts_with('/') => Ok(PathBuf::from(path)),
        None => Err(format!(
            "'{}' must be absolute or start with ~/",
            printable(path)
        )),
    }
}

fn parse_ssh(rest: &str) -> Result<PeerSsh, String> {
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => return Err(format!("ssh://{rest} has no path (ssh://host/srv/app)")),
    };
    if has_inline_credentials(&format!("ssh://{authority}/")) {
        return Err("inline credentials (user:password@); keep credentials out of config".into());
    }
    let (user, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    if let Some(u) = user {
        if u.is_empty() || u.starts_with('-') || u.contains(|c: char| c.is_whitespace()) {
            return Err(format!("bad user name '{}'", printable(u)));
        }
    }
    let (host, port) = if let Some(after) = hostport.strip_prefix('[') {
        let (host, tail) = after
            .split_once(']')
            .ok_or_else(|| format!("unclosed '[' in '{}'", printable(hostport)))?;
        match tail {
            "" => (host, None),
            t => match t.strip_prefix(':') {
                Some(p) => (host, Some(p)),
                None => return Err(format!("bad host '{}'", printable(hostport))),
            },
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty()
        || host.starts_with('-')
        || host
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "/@'\"\\`$;&|<>()".contains(c))
    {
        return Err(format!("bad host name '{}'", printable(host)));
    }
    let port = match port {
        Some(p) => Some(
            p.parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("bad port '{}' (1-65535)", printable(p)))?,
        ),
        None => None,
    };
    let path = if path == "/~" || path == "/~/" {
        "~".to_string()
    } else if let Some(rel) = path.strip_prefix("/~/") {
        format!("~/{rel}")
    } else if path.starts_with("/~") {
        return Err(
            "ssh://host/~user/path is not supported: use an absolute path or /~/path".into(),
        );
    } else {
        path.to_string()
    };
    if path == "/" {
        return Err("the peer path must not be '/'".into());
    }
    Ok(PeerSsh {
        user: user.map(str::to_string),
        host: host.to_string(),
        port,
        path,
        transport: Transport::Libssh2,
        identity: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ssh(text: &str) -> PeerSsh {
        match parse_location(text, None).unwrap() {
            Location::Ssh(s) => s,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ssh_locations() {
        let s = ssh("ssh://deploy@web-1.example.com:2222/srv/app");
        assert_eq!(s.user.as_deref(), Some("deploy"));
        assert_eq!(s.host, "web-1.example.com");
        assert_eq!(s.port, Some(2222));
        assert_eq!(s.path, "/srv/app");
        assert_eq!(s.authority(), "deploy@web-1.example.com:2222");
        let s = ssh("ssh://host/~/app");
        assert_eq!((s.user, s.port, s.path.as_str()), (None, None, "~/app"));
        let s = ssh("ssh://[::1]:22/x");
        assert_eq!((s.host.as_str(), s.port), ("::1", Some(22)));
        assert_eq!(s.authority(), "[::1]:22");
        for bad in [
            "ssh://host",
            "ssh://host:0/x",
            "ssh://host:99999/x",
            "ssh://-oProxyCommand=x/y",
            "ssh://u:pw@host/x",
            "ssh://ho st/x",
            "ssh://host/~bob/x",
            "ssh:///x",
            "http://host/x",
            "host:path",
            "relative/path",
        ] {
            assert!(parse_location(bad, None).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn local_locations_expand_home() {
        let home = Path::new("/home/me");
        assert_eq!(
            parse_location("~/src/app", Some(home)).unwrap(),
            Location::Local(PathBuf::from("/home/me/src/app"))
        );
        assert_eq!(
            parse_location("/srv/app", None).unwrap(),
            Location::Local(PathBuf::from("/srv/app"))
        );
        assert!(parse_location("~/x", None).is_err());
    }

    #[test]
    fn unknown_keys_and_bad_values_name_line_and_column() {
        let text = "[peers.a]\nlocation = \"/x\"\ncolour = \"red\"\n";
        let e = parse_shared("fleet.toml", text, None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("fleet.toml:3:1:"), "{e}");
        assert!(e.contains("colour"), "{e}");

        let text = "[peers.a]\nlocation = \"x/y\"\n";
        let e = parse_shared("fleet.toml", text, None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("fleet.toml:2:12:"), "{e}");

        let text = "[peers.a]\nlocation = \"/x\"\ntransport = \"telnet\"\n";
        let e = parse_shared("fleet.toml", text, None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("fleet.toml:3:13:"), "{e}");

        let text = "[peers.a]\nlocation = \"/x\"\ntransport = \"openssh\"\n";
        let e = parse_shared("fleet.toml", text, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("only applies to ssh://"), "{e}");

        let text = "[peers.a]\nlocation = \"/x\"\nbranch = \"-x\"\n";
        let e = parse_shared("fleet.toml", text, None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("fleet.toml:3:10:"), "{e}");

        let text = "[peers.\"a b\"]\nlocation = \"/x\"\n";
        let e = parse_shared("fleet.toml", text, None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("fleet.toml:1:1:"), "{e}");

        let text = "[targets.x]\n[peers.a]\nlocation = \"/x\"\n";
        assert!(parse_local("l.toml", text, None).is_err());
        assert_eq!(parse_shared("f", text, None).unwrap().len(), 1);
    }

    #[test]
    fn defaults_and_ssh_options() {
        let text = "[peers.w]\nlocation = \"ssh://h/srv\"\ntransport = \"openssh\"\nidentity = \"~/.ssh/k\"\ntimeout = 5\nreload = \"\"\n";
        let p = &parse_shared("f", text, Some(Path::new("/h"))).unwrap()[0];
        assert_eq!(p.remote, "origin");
        assert_eq!(p.timeout, Duration::from_secs(5));
        assert_eq!(p.reload, None);
        let Location::Ssh(s) = &p.location else {
            panic!()
        };
        assert_eq!(s.transport, Transport::Openssh);
        assert_eq!(s.identity.as_deref(), Some(Path::new("/h/.ssh/k")));
    }
}
