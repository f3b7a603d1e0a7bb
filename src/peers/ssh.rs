//! SSH transport for peers whose location is `ssh://[user@]host[:port]/path`.
//!
//! Two implementations of [`PeerShell`], chosen per peer by `transport`:
//!
//! * **libssh2** (default, [`libssh2`]): one `ssh2::Session` per host alias, opened
//!   once per process and reused for every peer and command on that host, argv
//!   commands running in one long-lived remote `sh`. Host keys are
//!   checked against `~/.ssh/known_hosts` (libssh2 does not do it by itself); `HostName`,
//!   `User`, `Port`, `IdentityFile` and `HostKeyAlias` come from `~/.ssh/config`
//!   through `ssh2-config`.
//! * **openssh** ([`openssh`]): the system `ssh` in batch mode with `ControlMaster`
//!   multiplexing, for what libssh2 cannot do (ProxyJump, certificates, FIDO keys, `Match`).
//!
//! Both send the same remote command line, built by [`remote_command`] or
//! [`remote_script`]: every piece that comes from a peer declaration (directory, branch,
//! remote, commit) is quoted with `shlex`, so nothing in it is ever interpreted by the
//! remote shell. The remote login shell is assumed to be POSIX (`sh`, `bash`, `dash`,
//! `zsh`, `ksh`); csh and fish quote differently.
//!
//! `~/.ssh` means `$HOME/.ssh` for both transports (see [`openssh`] for how the system
//! `ssh`, which ignores `$HOME`, is pointed at the same files).

mod libssh2;
mod openssh;

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use ssh2_config::{ParseRule, SshConfig};

use super::config::{PeerSsh, Transport};
use super::shell::{CmdOutput, PeerShell, ShellError, SshOptions};

/// Environment set for remote `git` commands, like the local shell does: a peer command
/// must never stop to ask for a password or open an editor.
const GIT_ENV: [&str; 3] = [
    "GIT_TERMINAL_PROMPT=0",
    "GIT_EDITOR=true",
    "GIT_MERGE_AUTOEDIT=no",
];

/// Opens (or reuses) a connection to `peer`'s host and returns a shell on it.
///
/// With the libssh2 transport this connects, checks the host key and authenticates
/// now, so an unreachable host, an unknown or changed host key, or refused
/// credentials are reported here as [`ShellError::Unreachable`]. The openssh transport
/// runs a no-op command for the same effect (and to start the control master).
pub fn connect(peer: &PeerSsh, opts: &SshOptions) -> Result<Box<dyn PeerShell>, ShellError> {
    let home = SshHome::from_env()?;
    match peer.transport {
        Transport::Libssh2 => {
            let target = Target::resolve(peer, &home)?;
            Ok(Box::new(libssh2::connect(target, &home, opts)?))
        }
        Transport::Openssh => Ok(Box::new(openssh::connect(peer, &home, opts)?)),
    }
}

/// The remote command line that runs `argv` in `dir`:
/// `cd <dir> >/dev/null && <argv...>`, every word quoted.
///
/// `dir` may start with `~/` (or git's `/~/`) for a path under the remote user's home;
/// everything after that prefix is quoted. For `git`, the same non-interactive
/// environment as for local peers is set with `env`.
pub fn remote_command(dir: &str, argv: &[&str]) -> Result<String, ShellError> {
    let (program, _) = argv
        .split_first()
        .ok_or_else(|| ShellError::Other("empty argv".to_string()))?;
    let mut line = cd_prefix(dir)?;
    if *program == "git" {
        line.push_str("env ");
        line.push_str(&GIT_ENV.join(" "));
        line.push(' ');
    }
    line.push_str(&quote_all(argv)?);
    Ok(line)
}

/// The remote command line that runs a user-declared shell command (reload, health,
/// readback) in `dir`: `cd <dir> >/dev/null && sh -c <script>`, both quoted.
pub fn remote_script(dir: &str, script: &str) -> Result<String, ShellError> {
    let mut line = cd_prefix(dir)?;
    line.push_str("sh -c ");
    line.push_str(&quote(script)?);
    Ok(line)
}

fn cd_prefix(dir: &str) -> Result<String, ShellError> {
    if dir.is_empty() {
        return Err(ShellError::Other("empty peer directory".to_string()));
    }
    // `~/rest`: the tilde stays unquoted so the remote shell expands it; `rest` is one
    // quoted word appended to it (`~/'a b'`), which POSIX shells still tilde-expand.
    let home_relative = dir
        .strip_prefix("/~/")
        .or_else(|| dir.strip_prefix("~/"))
        .or(if dir == "~" || dir == "/~" {
            Some("")
        } else {
            None
        });
    let target = match home_relative {
        Some("") => "~".to_string(),
        Some(rest) => format!("~/{}", quote(rest)?),
        // A relative directory starting with `-` would be read as an option (`cd -`).
        None if dir.starts_with('-') => quote(&format!("./{dir}"))?,
        None => quote(dir)?,
    };
    // `>/dev/null`: with CDPATH set, `cd` prints the directory on stdout.
    Ok(format!("cd {target} >/dev/null && "))
}

fn quote(word: &str) -> Result<String, ShellError> {
    shlex::try_quote(word)
        .map(|q| q.into_owned())
        .map_err(|_| ShellError::Other(format!("{word:?}: a NUL byte cannot be sent to a shell")))
}

fn quote_all(words: &[&str]) -> Result<String, ShellError> {
    let quoted: Vec<String> = words.iter().map(|w| quote(w)).collect::<Result<_, _>>()?;
    Ok(quoted.join(" "))
}

/// How commands are framed in a long-lived remote `sh` that reads them from its stdin
/// (one login shell per host, not per command: the login shell may read rc files that
/// cost more than the git command itself).
///
/// Each command runs in a subshell with stdin from /dev/null; after it the shell prints
/// `\n<token> <status>\n` on stdout and `\n<token>\n` on stderr. The token is random per
/// shell, so no command output can forge the end of a command.
struct ShFraming {
    token: String,
}

impl ShFraming {
    fn new() -> ShFraming {
        ShFraming {
            token: random_token(),
        }
    }

    /// What to write to the shell's stdin to run `command` (a line from
    /// [`remote_command`]). The newline before `)` ends a line that might end in a comment.
    fn line(&self, command: &str) -> String {
        let t = &self.token;
        format!(
            "( {command}\n) </dev/null; printf '\\n%s %s\\n' {t} \"$?\"; printf '\\n%s\\n' {t} >&2\n"
        )
    }

    /// Whether `buf`, stream 0 (stdout) or 1 (stderr) so far, holds the whole command.
    fn complete(&self, stream: i32, buf: &[u8]) -> bool {
        if stream == 0 {
            self.status_at(buf).is_some()
        } else {
            buf.ends_with(format!("\n{}\n", self.token).as_bytes())
        }
    }

    /// The command's output without the framing; `None` when it is incomplete.
    fn finish(&self, mut stdout: Vec<u8>, mut stderr: Vec<u8>) -> Option<CmdOutput> {
        let at = self.status_at(&stdout)?;
        if !self.complete(1, &stderr) {
            return None;
        }
        let marker = format!("\n{} ", self.token);
        let code = String::from_utf8_lossy(&stdout[at + marker.len()..])
            .trim()
            .parse::<i32>()
            .ok();
        stdout.truncate(at);
        stderr.truncate(stderr.len() - (self.token.len() + 2));
        Some(CmdOutput {
            code,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        })
    }

    /// Where `\n<token> <digits>\n` ends `buf`: the index of its first newline.
    fn status_at(&self, buf: &[u8]) -> Option<usize> {
        let marker = format!("\n{} ", self.token);
        let end = buf.strip_suffix(b"\n")?;
        let digits = end.iter().rev().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        end[..end.len() - digits]
            .ends_with(marker.as_bytes())
            .then(|| end.len() - digits - marker.len())
    }
}

/// 128 bits from the kernel as hex; a clock-and-pid mix if /dev/urandom is unreadable.
fn random_token() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    let read = File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if read.is_err() {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        h.write_u32(std::process::id());
        bytes[..8].copy_from_slice(&h.finish().to_le_bytes());
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("git-fleet-end-{hex}")
}

/// Where the ssh client files are: `$HOME/.ssh`.
#[derive(Debug, Clone)]
struct SshHome {
    home: PathBuf,
    dir: PathBuf,
}

impl SshHome {
    fn from_env() -> Result<SshHome, ShellError> {
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
            .ok_or_else(|| ShellError::Other("HOME is not set: cannot find ~/.ssh".to_string()))?;
        let dir = home.join(".ssh");
        Ok(SshHome { home, dir })
    }

    fn config(&self) -> PathBuf {
        self.dir.join("config")
    }

    fn known_hosts(&self) -> PathBuf {
        self.dir.join("known_hosts")
    }
}

/// Where and as whom to connect, after `~/.ssh/config` (for the libssh2 transport).
#[derive(Debug, Clone)]
struct Target {
    /// The host as written in the peer location (a `Host` alias or a real name).
    alias: String,
    /// `HostName` from the config, or the alias.
    host: String,
    port: u16,
    user: String,
    /// Identity files to try, in order: the peer's `identity`, then `IdentityFile`s;
    /// when both are absent, the default `~/.ssh/id_{ed25519,rsa,ecdsa}`.
    identities: Vec<PathBuf>,
    /// `HostKeyAlias`: the name the host key is recorded under in known_hosts, instead
    /// of `host` / `[host]:port` (OpenSSH appends no port to it either).
    host_key_alias: Option<String>,
}

impl Target {
    fn resolve(peer: &PeerSsh, home: &SshHome) -> Result<Target, ShellError> {
        let params = read_config(home)?.map(|c| c.query(&peer.host));
        let params = params.as_ref();
        if let Some(jumps) = params.and_then(|p| p.proxy_jump.as_ref()) {
            if !jumps.is_empty() && !jumps.iter().any(|j| j == "none") {
                return Err(ShellError::Unreachable(format!(
                    "{}: ~/.ssh/config sets ProxyJump {}, which the libssh2 transport cannot \
                     follow; set transport = \"openssh\" for this peer",
                    peer.host,
                    jumps.join(",")
                )));
            }
        }
        let host = params
            .and_then(|p| p.host_name.as_deref())
            .map(|h| expand_host_tokens(h, &peer.host))
            .unwrap_or_else(|| peer.host.clone());
        let port = peer.port.or(params.and_then(|p| p.port)).unwrap_or(22);
        let user = match peer.user.clone().or(params.and_then(|p| p.user.clone())) {
            Some(user) => user,
            None => local_user()?,
        };
        let mut identities: Vec<PathBuf> = peer.identity.iter().cloned().collect();
        if let Some(files) = params.and_then(|p| p.identity_file.as_ref()) {
            identities.extend(files.iter().cloned());
        }
        if identities.is_empty() {
            identities = ["id_ed25519", "id_rsa", "id_ecdsa"]
                .iter()
                .map(|name| home.dir.join(name))
                .collect();
        }
        let mut unique: Vec<PathBuf> = Vec::new();
        for path in identities {
            let path = expand_tilde(&path, &home.home);
            if !unique.contains(&path) {
                unique.push(path);
            }
        }
        let identities = unique;
        // ssh2-config keeps options it does not model under their lowercase names.
        let host_key_alias = params
            .and_then(|p| p.unsupported_fields.get("hostkeyalias"))
            .and_then(|args| args.first())
            .filter(|a| !a.is_empty())
            .cloned();
        Ok(Target {
            alias: peer.host.clone(),
            host,
            port,
            user,
            identities,
            host_key_alias,
        })
    }

    /// `user@host:port`, as shown in messages.
    fn key(&self) -> String {
        format!("{}@{}:{}", self.user, self.host, self.port)
    }

    /// One session (and one remembered failure) per distinct value: per alias as
    /// written, like OpenSSH, since two aliases of one address may differ in identity
    /// or `HostKeyAlias` (and a session checked for one must not serve the other).
    fn session_key(&self) -> String {
        format!(
            "{} {} {:?} {:?}",
            self.alias,
            self.key(),
            self.host_key_alias,
            self.identities
        )
    }

    /// The name used in messages: `alias (user@host:port)`, or just `user@host:port`.
    fn label(&self) -> String {
        if self.alias == self.host {
            self.key()
        } else {
            format!("{} ({})", self.alias, self.key())
        }
    }
}

/// Parses `~/.ssh/config`; `None` when there is none. Options this parser does not know
/// (or libssh2 cannot use) are allowed, as OpenSSH would read them.
fn read_config(home: &SshHome) -> Result<Option<SshConfig>, ShellError> {
    let path = home.config();
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(ShellError::Other(format!(
                "cannot read {}: {e}",
                path.display()
            )))
        }
    };
    let rules = ParseRule::ALLOW_UNKNOWN_FIELDS | ParseRule::ALLOW_UNSUPPORTED_FIELDS;
    SshConfig::default()
        .home_dir(&home.home)
        .parse(&mut BufReader::new(file), rules)
        .map(Some)
        .map_err(|e| ShellError::Other(format!("{}: {e}", path.display())))
}

/// `HostName` may use `%h` (the host as given) and `%%`.
fn expand_host_tokens(host_name: &str, alias: &str) -> String {
    host_name
        .replace("%%", "\0")
        .replace("%h", alias)
        .replace('\0', "%")
}

fn expand_tilde(path: &Path, home: &Path) -> PathBuf {
    match path.strip_prefix("~") {
        Ok(rest) => home.join(rest),
        Err(_) => path.to_path_buf(),
    }
}

/// The local user name, OpenSSH's default remote user.
fn local_user() -> Result<String, ShellError> {
    static USER: OnceLock<Option<String>> = OnceLock::new();
    USER.get_or_init(|| {
        for var in ["USER", "LOGNAME"] {
            if let Ok(user) = std::env::var(var) {
                if !user.is_empty() {
                    return Some(user);
                }
            }
        }
        let out = std::process::Command::new("id").arg("-un").output().ok()?;
        let user = String::from_utf8(out.stdout).ok()?.trim().to_string();
        (out.status.success() && !user.is_empty()).then_some(user)
    })
    .clone()
    .ok_or_else(|| {
        ShellError::Other(
            "cannot tell the local user name (USER is not set): give a user in the peer \
             location (ssh://user@host/path) or in ~/.ssh/config"
                .to_string(),
        )
    })
}

/// Milliseconds for libssh2's timeout, where 0 would mean "wait forever".
fn timeout_ms(d: Duration) -> u32 {
    d.as_millis().clamp(1, u128::from(u32::MAX)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_is_quoted_word_by_word() {
        let line = remote_command("/srv/app", &["git", "rev-parse", "HEAD"]).unwrap();
        assert_eq!(
            line,
            "cd /srv/app >/dev/null && env GIT_TERMINAL_PROMPT=0 GIT_EDITOR=true \
             GIT_MERGE_AUTOEDIT=no git rev-parse HEAD"
        );
        let line = remote_command("/srv/a b", &["ls", "x;y", "$(id)"]).unwrap();
        assert_eq!(line, "cd '/srv/a b' >/dev/null && ls 'x;y' '$(id)'");
    }

    #[test]
    fn scripts_run_under_sh_c() {
        let line = remote_script("/srv/app", "curl -fs localhost:8080/health").unwrap();
        assert_eq!(
            line,
            "cd /srv/app >/dev/null && sh -c 'curl -fs localhost:8080/health'"
        );
    }

    #[test]
    fn home_relative_and_dash_directories() {
        assert_eq!(cd_prefix("~/app").unwrap(), "cd ~/app >/dev/null && ");
        assert_eq!(cd_prefix("/~/a b").unwrap(), "cd ~/'a b' >/dev/null && ");
        assert_eq!(cd_prefix("~").unwrap(), "cd ~ >/dev/null && ");
        assert_eq!(cd_prefix("-P").unwrap(), "cd ./-P >/dev/null && ");
        assert_eq!(cd_prefix("~user/x").unwrap(), "cd '~user/x' >/dev/null && ");
        assert!(cd_prefix("").is_err());
        assert!(remote_command("/x", &["a\0b"]).is_err());
        assert!(remote_command("/x", &[]).is_err());
    }

    /// The quoted line, run by a real `sh`, passes every argument through unchanged.
    #[test]
    fn hostile_words_survive_a_real_shell() {
        let tmp = std::env::temp_dir().join(format!("git-fleet-quote-{}", std::process::id()));
        let hostile = [
            "$(touch pwned1)",
            "`touch pwned2`",
            "a; touch pwned3",
            "it's \"quoted\"",
            "line1\nline2",
            "*",
            "-n",
            "",
            "{a,b}",
            "~root",
            "tab\there",
            "back\\slash",
            "!bang ^caret",
        ];
        let dir = tmp.join("dir $(touch pwned4) `x`; 'q' \"d\"\nnl");
        std::fs::create_dir_all(&dir).unwrap();
        let mut argv = vec!["printf", "%s\\0"];
        argv.extend(hostile);
        let line = remote_command(dir.to_str().unwrap(), &argv).unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&line)
            .current_dir(&tmp)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let words: Vec<&str> = std::str::from_utf8(&out.stdout)
            .unwrap()
            .split_terminator('\0')
            .collect();
        assert_eq!(words, hostile);
        let script = remote_script(dir.to_str().unwrap(), "pwd").unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim_end_matches('\n'),
            dir.to_str().unwrap()
        );
        for n in 1..=4 {
            assert!(!tmp.join(format!("pwned{n}")).exists());
            assert!(!dir.join(format!("pwned{n}")).exists());
        }
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    /// A framed command run by a real `sh` comes back byte for byte: output without a
    /// final newline, a fake end marker, stderr, the exit status, stdin not consumed.
    #[test]
    fn framed_commands_survive_a_real_sh() {
        use std::io::Write;
        let framing = ShFraming::new();
        let fake = format!("\n{} 0\n", "git-fleet-end-0000");
        let command = remote_command(
            "/",
            &[
                "sh",
                "-c",
                &format!("printf 'a\\nb{fake}x'; printf e >&2; exit 3"),
            ],
        )
        .unwrap();
        let mut child = std::process::Command::new("sh")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(framing.line(&command).as_bytes()).unwrap();
        stdin.write_all(b"echo after\n").unwrap();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        let mut stdout = out.stdout;
        assert!(stdout.ends_with(b"after\n"), "{stdout:?}");
        stdout.truncate(stdout.len() - b"after\n".len());
        assert!(framing.complete(0, &stdout) && framing.complete(1, &out.stderr));
        let got = framing.finish(stdout, out.stderr).unwrap();
        assert_eq!(got.code, Some(3));
        assert_eq!(got.stdout, format!("a\nb{fake}x"));
        assert_eq!(got.stderr, "e");
        assert!(framing.finish(b"partial".to_vec(), Vec::new()).is_none());
    }

    #[test]
    fn host_name_tokens() {
        assert_eq!(
            expand_host_tokens("%h.example.com", "web"),
            "web.example.com"
        );
        assert_eq!(expand_host_tokens("a%%h", "web"), "a%h");
    }
}
