//! SSHSIG signatures checked, and with a plain key file made, in-process with
//! the `ssh-key` crate, and OpenSSH's allowed_signers file read and matched as
//! `ssh-keygen -Y verify` / `-Y find-principals` match it (OpenSSH 9.x
//! `sshsig.c`): principal pattern lists (`,`, `*`, `?`, `!`), `namespaces=`,
//! `valid-after=`/`valid-before=` (local time unless it ends in `Z`/`UTC`),
//! `cert-authority`.
//!
//! Why: one `ssh-keygen` process per receipt made `receipts verify` of 10,000
//! receipts take over a minute; ed25519 verifies in tens of microseconds.
//!
//! What stays with `ssh-keygen` ([`Checked::Unsupported`], the caller falls
//! back): signatures made with a certificate (ssh-key 0.6 cannot decode a
//! certificate inside an SSHSIG, so `cert-authority` lines only ever vouch
//! through ssh-keygen), FIDO `sk-*` keys (OpenSSH also checks their
//! user-presence flags) and signatures that do not decode. OpenSSH has no
//! revocation list for `-Y verify` as git calls it, and neither has git-fleet.
//!
//! Stricter than OpenSSH on purpose: a malformed line is an error naming
//! `file:line`, whichever principal it is for (OpenSSH skips a malformed line
//! whose principals do not match and fails the whole check on any other).

use crate::error::{Error, Result};
use ssh_key::public::KeyData;
use ssh_key::{HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// What checking a signature over some bytes found, before any trust decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// The signature verifies, in the expected namespace, by `key`.
    Valid {
        key: KeyData,
        /// `SHA256:...`, as ssh-keygen prints it.
        fingerprint: String,
    },
    /// It does not verify (altered bytes, signature or namespace).
    Bad(String),
    /// Not something this module checks (certificate, `sk-*` key, undecodable):
    /// ask `ssh-keygen`.
    Unsupported,
}

/// Check the armored `signature` over `data` in `namespace` (`ssh-keygen -Y check-novalidate`).
pub fn check(signature: &str, namespace: &str, data: &[u8]) -> Checked {
    let Ok(sig) = SshSig::from_pem(signature.trim()) else {
        return Checked::Unsupported;
    };
    let key = sig.public_key();
    if key.is_sk_ed25519() || key.is_sk_ecdsa_p256() {
        return Checked::Unsupported;
    }
    if sig.namespace() != namespace {
        return Checked::Bad(format!(
            "the signature is for namespace \"{}\", not \"{namespace}\"",
            sig.namespace()
        ));
    }
    let public = PublicKey::from(key.clone());
    match public.verify(namespace, data, &sig) {
        Ok(()) => Checked::Valid {
            fingerprint: key.fingerprint(HashAlg::Sha256).to_string(),
            key: key.clone(),
        },
        Err(e) => Checked::Bad(format!("Signature verification failed: {e}")),
    }
}

/// Sign `data` in `namespace` with the private key in `path`, as
/// `ssh-keygen -Y sign` does (SHA-512, armored). None when this is not a key
/// to use here and ssh-keygen should sign: not an unencrypted OpenSSH private
/// key (a public key whose private half is in the agent, an encrypted or
/// hardware key), permissions ssh-keygen would refuse, or an RSA key (the
/// `rsa` crate's signing is not constant-time).
pub fn sign_file(path: &Path, namespace: &str, data: &[u8]) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode();
        if mode & 0o077 != 0 {
            return None; // ssh-keygen refuses it: let it say why
        }
    }
    let key = PrivateKey::read_openssh_file(path).ok()?;
    if key.is_encrypted() {
        return None;
    }
    match key.public_key().key_data() {
        KeyData::Ed25519(_) | KeyData::Ecdsa(_) => {}
        _ => return None,
    }
    let sig = key.sign(namespace, HashAlg::Sha512, data).ok()?;
    sig.to_pem(LineEnding::LF).ok()
}

/// One line of an allowed_signers file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// 1-based line number.
    pub line: usize,
    /// The principals pattern list, as written (quotes removed).
    pub principals: String,
    pub cert_authority: bool,
    /// `namespaces="..."`, a pattern list.
    pub namespaces: Option<String>,
    /// Seconds since the epoch.
    pub valid_after: Option<i64>,
    pub valid_before: Option<i64>,
    pub key: KeyData,
}

/// A parsed allowed_signers file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedSigners {
    pub entries: Vec<Entry>,
}

impl AllowedSigners {
    /// Read and parse `path`; parsed once per content per process (a verify
    /// asks for every receipt; the bytes are re-read so an edit is seen).
    pub fn load(path: &Path) -> Result<Arc<AllowedSigners>> {
        type Cache = Mutex<Vec<(PathBuf, Vec<u8>, Arc<AllowedSigners>)>>;
        static CACHE: OnceLock<Cache> = OnceLock::new();
        let bytes = std::fs::read(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let cache = CACHE.get_or_init(Default::default);
        if let Ok(c) = cache.lock() {
            if let Some((_, _, hit)) = c.iter().find(|(p, b, _)| p == path && *b == bytes) {
                return Ok(hit.clone());
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        let parsed = Arc::new(AllowedSigners::parse(&path.display().to_string(), &text)?);
        if let Ok(mut c) = cache.lock() {
            c.retain(|(p, _, _)| p != path);
            c.push((path.to_path_buf(), bytes, parsed.clone()));
        }
        Ok(parsed)
    }

    /// Parse the text of an allowed_signers file; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<AllowedSigners> {
        let mut entries = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let at = |why: String| Error::usage(format!("{file}:{}: {why}", i + 1));
            if let Some(entry) = parse_line(i + 1, line).map_err(at)? {
                entries.push(entry);
            }
        }
        Ok(AllowedSigners { entries })
    }

    /// `ssh-keygen -Y verify -I principal`: does a line allow `key` for
    /// `principal` in `namespace` at `time`? (The signature is checked apart.)
    pub fn allows(&self, key: &KeyData, principal: &str, namespace: &str, time: i64) -> bool {
        self.entries.iter().any(|e| {
            match_pattern_list(principal, &e.principals) == 1
                && e.vouches_for(key, time)
                && e.namespaces
                    .as_deref()
                    .is_none_or(|ns| match_pattern_list(namespace, ns) == 1)
        })
    }

    /// `ssh-keygen -Y find-principals`: the principals of the first line that
    /// lists `key` (valid at `time`, any namespace), one per comma-separated item.
    pub fn principals_of(&self, key: &KeyData, time: i64) -> Vec<&str> {
        self.entries
            .iter()
            .find(|e| e.vouches_for(key, time))
            .map(|e| e.principals.split(',').filter(|p| !p.is_empty()).collect())
            .unwrap_or_default()
    }
}

impl Entry {
    /// The line lists this plain key (not as a certificate authority) and is
    /// valid at `time` (both bounds inclusive, as in OpenSSH).
    fn vouches_for(&self, key: &KeyData, time: i64) -> bool {
        !self.cert_authority
            && self.key == *key
            && self.valid_after.is_none_or(|t| time >= t)
            && self.valid_before.is_none_or(|t| time <= t)
    }
}

const WHITESPACE: &[char] = &[' ', '\t', '\r', '\n'];

/// `principals [options] keytype base64 [comment]`; None for blank and comment lines.
fn parse_line(line: usize, text: &str) -> std::result::Result<Option<Entry>, String> {
    let rest = text.trim_start_matches(WHITESPACE);
    if rest.is_empty() || rest.starts_with('#') {
        return Ok(None);
    }
    // The principals: up to whitespace; a quote runs to the next quote (strdelimw).
    let mut principals = String::new();
    let mut end = rest.len();
    for (i, c) in rest.char_indices() {
        if WHITESPACE.contains(&c) {
            end = i;
            break;
        }
        if c == '"' {
            let after = &rest[i + 1..];
            let close = after
                .find('"')
                .ok_or("unterminated quote in the principals")?;
            principals.push_str(&after[..close]);
            end = i + 1 + close + 1;
            break;
        }
        principals.push(c);
    }
    let rest = rest[end..].trim_start_matches(WHITESPACE);
    if principals.is_empty() || rest.is_empty() {
        return Err("invalid line: expected `principals [options] key`".into());
    }
    // A key right away, or options first.
    let (options, key_text) = match PublicKey::from_openssh(rest.trim_end_matches(WHITESPACE)) {
        Ok(_) => (None, rest),
        Err(_) => {
            let split = options_end(rest).ok_or("invalid options: unterminated quote")?;
            let key_text = rest[split..].trim_start_matches(WHITESPACE);
            if key_text.is_empty() {
                return Err("missing key".into());
            }
            (Some(&rest[..split]), key_text)
        }
    };
    let key = PublicKey::from_openssh(key_text.trim_end_matches(WHITESPACE)).map_err(|e| {
        let kind = key_text.split_whitespace().next().unwrap_or("");
        if options.is_some() && !looks_like_key_type(kind) {
            format!("unknown option or invalid key at \"{}\"", clip(rest))
        } else {
            format!("invalid key \"{}\": {e}", clip(key_text))
        }
    })?;
    let mut entry = Entry {
        line,
        principals,
        cert_authority: false,
        namespaces: None,
        valid_after: None,
        valid_before: None,
        key: key.key_data().clone(),
    };
    if let Some(options) = options {
        parse_options(options, &mut entry).map_err(|why| format!("bad options: {why}"))?;
    }
    Ok(Some(entry))
}

fn looks_like_key_type(word: &str) -> bool {
    word.starts_with("ssh-") || word.starts_with("ecdsa-") || word.starts_with("sk-")
}

fn clip(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// Where the options field ends: the first unquoted space or tab
/// (`sshkey_advance_past_options`); None for an unterminated quote.
fn options_end(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut quoted = false;
    let mut i = 0;
    while i < bytes.len() && (quoted || (bytes[i] != b' ' && bytes[i] != b'\t')) {
        if bytes[i] == b'\\' && bytes.get(i + 1) == Some(&b'"') {
            i += 1;
        } else if bytes[i] == b'"' {
            quoted = !quoted;
        }
        i += 1;
    }
    (!quoted).then_some(i)
}

/// `sshsigopt_parse`: comma-separated, names case-insensitive, values quoted.
fn parse_options(mut opts: &str, entry: &mut Entry) -> std::result::Result<(), String> {
    fn name<'a>(opts: &'a str, term: &str) -> Option<&'a str> {
        let head = opts.get(..term.len())?;
        head.eq_ignore_ascii_case(term).then(|| &opts[term.len()..])
    }
    fn value(opts: &mut &str) -> std::result::Result<String, String> {
        let s = opts.strip_prefix('"').ok_or("missing start quote")?;
        let mut out = String::new();
        let mut chars = s.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    *opts = &s[i + 1..];
                    return Ok(out);
                }
                '\\' if s[i + 1..].starts_with('"') => {
                    chars.next();
                    out.push('"');
                }
                c => out.push(c),
            }
        }
        Err("missing end quote".into())
    }
    while !opts.is_empty() {
        if let Some(rest) = name(opts, "cert-authority") {
            entry.cert_authority = true;
            opts = rest;
        } else if let Some(rest) = name(opts, "namespaces=") {
            if entry.namespaces.is_some() {
                return Err("multiple \"namespaces\" clauses".into());
            }
            opts = rest;
            entry.namespaces = Some(value(&mut opts)?);
        } else if let Some(rest) = name(opts, "valid-after=") {
            if entry.valid_after.is_some() {
                return Err("multiple \"valid-after\" clauses".into());
            }
            opts = rest;
            let v = value(&mut opts)?;
            entry.valid_after =
                Some(parse_time(&v).ok_or_else(|| format!("invalid \"valid-after\" time {v}"))?);
        } else if let Some(rest) = name(opts, "valid-before=") {
            if entry.valid_before.is_some() {
                return Err("multiple \"valid-before\" clauses".into());
            }
            opts = rest;
            let v = value(&mut opts)?;
            entry.valid_before =
                Some(parse_time(&v).ok_or_else(|| format!("invalid \"valid-before\" time {v}"))?);
        }
        if opts.is_empty() {
            break;
        }
        opts = opts
            .strip_prefix(',')
            .ok_or_else(|| format!("unknown key option \"{}\"", clip(opts)))?;
        if opts.is_empty() {
            return Err("unexpected end-of-options".into());
        }
    }
    if let (Some(after), Some(before)) = (entry.valid_after, entry.valid_before) {
        if before <= after {
            return Err("\"valid-before\" time is before \"valid-after\"".into());
        }
    }
    Ok(())
}

/// OpenSSH's `parse_absolute_time`: YYYYMMDD[HHMM[SS]], then `Z` or `UTC` for
/// UTC, otherwise the local time zone. Seconds since the epoch.
pub fn parse_time(s: &str) -> Option<i64> {
    let upper = s.to_ascii_uppercase();
    let (digits, utc) = if let Some(d) = upper.strip_suffix("UTC").filter(|d| !d.is_empty()) {
        (d, true)
    } else if let Some(d) = upper.strip_suffix('Z').filter(|d| !d.is_empty()) {
        (d, true)
    } else {
        (upper.as_str(), false)
    };
    if !matches!(digits.len(), 8 | 12 | 14) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| digits.get(r).map_or(Some(0), |d| d.parse::<i64>().ok());
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, sec) = (num(8..10)?, num(10..12)?, num(12..14)?);
    let dt = jiff::civil::DateTime::new(
        i16::try_from(y).ok()?,
        i8::try_from(mo).ok()?,
        i8::try_from(d).ok()?,
        i8::try_from(h).ok()?,
        i8::try_from(mi).ok()?,
        i8::try_from(sec).ok()?,
        0,
    )
    .ok()?;
    let tz = if utc {
        jiff::tz::TimeZone::UTC
    } else {
        jiff::tz::TimeZone::system()
    };
    let t = dt.to_zoned(tz).ok()?.timestamp().as_second();
    (t >= 0).then_some(t)
}

/// OpenSSH's `match_pattern_list`: 1 when a pattern matches and no negated
/// (`!`) one does, -1 when a negated one matches, 0 otherwise.
pub fn match_pattern_list(s: &str, list: &str) -> i32 {
    let mut positive = 0;
    for pattern in list.split(',') {
        let (negated, pattern) = match pattern.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, pattern),
        };
        if match_pattern(s.as_bytes(), pattern.as_bytes()) {
            if negated {
                return -1;
            }
            positive = 1;
        }
    }
    positive
}

/// `*` any run of bytes, `?` one byte, anything else itself (OpenSSH `match_pattern`).
pub fn match_pattern(s: &[u8], p: &[u8]) -> bool {
    // Iterative glob with one backtrack point: linear in practice.
    let (mut si, mut pi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == s[si]) {
            si += 1;
            pi += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBBCszna5GS0MrjvFcghg1VvgS48Sy5NOsRx85kDYZ54 me@host";

    fn parse(text: &str) -> Result<AllowedSigners> {
        AllowedSigners::parse("allowed", text)
    }

    fn key() -> KeyData {
        PublicKey::from_openssh(ED).unwrap().key_data().clone()
    }

    #[test]
    fn patterns_match_as_openssh_does() {
        assert!(match_pattern(b"a@example.com", b"*@example.com"));
        assert!(match_pattern(b"a@example.com", b"?@example.*"));
        assert!(!match_pattern(b"ab@example.com", b"?@example.com"));
        assert!(match_pattern(b"", b"*"));
        assert!(!match_pattern(b"a", b""));
        assert!(match_pattern(b"aXbXc", b"a*b*c"));
        assert!(!match_pattern(b"aXbXd", b"a*b*c"));
        assert_eq!(match_pattern_list("a@x", "b@x,a@x"), 1);
        assert_eq!(match_pattern_list("a@x", "*@x,!a@x"), -1);
        assert_eq!(match_pattern_list("a@x", "!a@x,*@x"), -1);
        assert_eq!(match_pattern_list("b@x", "*@x,!a@x"), 1);
        assert_eq!(match_pattern_list("c@y", "*@x,!a@x"), 0);
        // Only negations: nothing positive matched.
        assert_eq!(match_pattern_list("b@x", "!a@x"), 0);
    }

    #[test]
    fn lines_with_and_without_options_parse() {
        let text = format!(
            "# comment\n\n   \n\t z@x {ED}\n\
             a@x,b@x {ED}\n\
             \"c@x\" namespaces=\"git,git-fleet\",valid-after=\"20250101\",VALID-BEFORE=\"20260101120000Z\" {ED}\n\
             *@ca cert-authority {ED}\n"
        );
        let s = parse(&text).unwrap();
        assert_eq!(s.entries.len(), 4);
        assert_eq!(s.entries[0].line, 4);
        assert_eq!(s.entries[0].principals, "z@x");
        assert_eq!(s.entries[1].principals, "a@x,b@x");
        let c = &s.entries[2];
        assert_eq!(c.principals, "c@x");
        assert_eq!(c.namespaces.as_deref(), Some("git,git-fleet"));
        assert_eq!(c.valid_after, parse_time("20250101"));
        assert_eq!(c.valid_before, Some(1_767_268_800));
        assert!(s.entries[3].cert_authority);
        assert_eq!(s.entries[3].key, key());
    }

    #[test]
    fn malformed_lines_name_the_file_and_line() {
        for (text, why) in [
            ("a@x\n", "invalid line"),
            (&format!("{ED}\n") as &str, "invalid key"),
            ("a@x ssh-ed25519 AAAAnotbase64!\n", "invalid key"),
            (
                &format!("a@x namespaces=\"git {ED}\n") as &str,
                "unterminated quote",
            ),
            (&format!("a@x bogus=\"1\" {ED}\n"), "unknown key option"),
            (&format!("a@x namespaces=git {ED}\n"), "missing start quote"),
            (
                &format!("a@x valid-after=\"2025\" {ED}\n"),
                "invalid \"valid-after\" time",
            ),
            (
                &format!("a@x valid-after=\"20260101\",valid-before=\"20250101\" {ED}\n"),
                "before \"valid-after\"",
            ),
            (
                &format!("a@x namespaces=\"a\",namespaces=\"b\" {ED}\n"),
                "multiple",
            ),
            (&format!("a@x cert-authority, {ED}\n"), "end-of-options"),
            ("a@x cert-authority\n", "missing key"),
        ] {
            let err = parse(&format!("z@x {ED}\n# ok\n{text}"))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("allowed:3: "), "{text:?}: {err}");
            assert!(err.contains(why), "{text:?}: {err}");
        }
    }

    #[test]
    fn verify_and_find_principals_rules() {
        let k = key();
        let s = parse(&format!(
            "old@x valid-before=\"20251231Z\" {ED}\n\
             *@x,!eve@x namespaces=\"git-fleet\" {ED}\n\
             git@x namespaces=\"git\" {ED}\n\
             ca@y cert-authority {ED}\n"
        ))
        .unwrap();
        let t2026 = parse_time("20260102Z").unwrap();
        let t2025 = parse_time("20250102Z").unwrap();
        assert!(s.allows(&k, "a@x", "git-fleet", t2026));
        assert!(!s.allows(&k, "eve@x", "git-fleet", t2026));
        assert!(!s.allows(&k, "a@y", "git-fleet", t2026));
        assert!(s.allows(&k, "git@x", "git", t2026));
        // git@x matches `*@x` too, for namespace git-fleet.
        assert!(s.allows(&k, "git@x", "git-fleet", t2026));
        // old@x: only until the end of 2025, any namespace.
        assert!(s.allows(&k, "old@x", "anything", t2025));
        assert!(!s.allows(&k, "old@x", "git", t2026));
        // cert-authority lines never vouch for a plain key.
        assert!(!s.allows(&k, "ca@y", "git-fleet", t2026));
        // find-principals: the first line valid at the time.
        assert_eq!(s.principals_of(&k, t2025), vec!["old@x"]);
        assert_eq!(s.principals_of(&k, t2026), vec!["*@x", "!eve@x"]);
    }

    #[test]
    fn times_are_utc_with_z_and_bounds_are_inclusive() {
        assert_eq!(parse_time("20260102030405Z"), Some(1_767_323_045));
        assert_eq!(parse_time("20260102030405utc"), Some(1_767_323_045));
        assert_eq!(parse_time("202601020304Z"), Some(1_767_323_040));
        assert_eq!(parse_time("2026010203"), None);
        assert_eq!(parse_time("2026-01-02"), None);
        assert_eq!(parse_time("20261302Z"), None);
        let k = key();
        let s = parse(&format!(
            "a@x valid-after=\"20260101Z\",valid-before=\"20260102Z\" {ED}\n"
        ))
        .unwrap();
        let (from, to) = (
            parse_time("20260101Z").unwrap(),
            parse_time("20260102Z").unwrap(),
        );
        assert!(s.allows(&k, "a@x", "n", from));
        assert!(s.allows(&k, "a@x", "n", to));
        assert!(!s.allows(&k, "a@x", "n", from - 1));
        assert!(!s.allows(&k, "a@x", "n", to + 1));
    }

    /// A throwaway test key (not used anywhere else).
    const TEST_KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACAwltUDHlIm++EdyiRlV8s+RHOOAGyRKFBSBs2raXhlIAAAAIhcZ7bmXGe2\n5gAAAAtzc2gtZWQyNTUxOQAAACAwltUDHlIm++EdyiRlV8s+RHOOAGyRKFBSBs2raXhlIA\nAAAEC4DIB3Q/lwf1kLBHnfegbPD1/IUTiLyxLzouXooOeqBDCW1QMeUib74R3KJGVXyz5E\nc44AbJEoUFIGzatpeGUgAAAABHRlc3QB\n-----END OPENSSH PRIVATE KEY-----\n";

    #[test]
    fn signatures_made_here_check_here_and_tampering_is_bad() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id_ed25519");
        std::fs::write(&path, TEST_KEY).unwrap();
        // Group-readable: ssh-keygen refuses it, so we leave it to ssh-keygen.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(sign_file(&path, "git-fleet", b"data"), None);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let sig = sign_file(&path, "git-fleet", b"data\n").unwrap();
        assert!(sig.starts_with("-----BEGIN SSH SIGNATURE-----\n"), "{sig}");
        match check(&sig, "git-fleet", b"data\n") {
            Checked::Valid { fingerprint, .. } => assert!(fingerprint.starts_with("SHA256:")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            check(&sig, "git-fleet", b"datb\n"),
            Checked::Bad(_)
        ));
        assert!(matches!(check(&sig, "git", b"data\n"), Checked::Bad(_)));
        assert_eq!(
            check("not a signature", "git-fleet", b""),
            Checked::Unsupported
        );
        // No private key in the file (a public key: the agent signs): ssh-keygen's.
        std::fs::write(&path, ED).unwrap();
        assert_eq!(sign_file(&path, "git-fleet", b"data"), None);
    }
}
