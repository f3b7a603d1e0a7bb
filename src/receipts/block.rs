//! The text of one receipt: a block of `Fleet-*` trailer lines.
//!
//! ```text
//! Fleet-Receipt: <id>                      <- sha256 of the canonical bytes (hex)
//! Fleet-Action: apply                      \
//! Fleet-Commit: <source commit>            |
//! Fleet-Target: staging                    |
//! Fleet-Proposal: ...  Fleet-Change: ...   |  canonical bytes: exactly these
//! Fleet-Actor: Name <email>                |  lines, in this order, each ending
//! Fleet-Time: 2026-01-02T03:04:05+00:00    |  in "\n" (UTF-8, no CR, no
//! Fleet-Policy/Before/After: ...           |  trailing blanks)
//! Fleet-<Extra>: ...                       |
//! Fleet-Prev: <id of the previous receipt, or none>
//! Fleet-Signature: -----BEGIN SSH SIGNATURE-----
//!  <base64 lines of the armored signature, each after one space>
//!  -----END SSH SIGNATURE-----
//! ```
//!
//! The canonical bytes are every line of the block except `Fleet-Receipt` and
//! `Fleet-Signature` (with its continuation lines), in the order written; they
//! include `Fleet-Prev`, so the id of a receipt commits to the whole chain
//! before it, and the signature (over the same bytes) does too. Continuation
//! lines (git's trailer and `gpgsig` convention: a leading space) keep the
//! armored signature byte for byte, so ssh-keygen checks exactly what it wrote.

use sha2::{Digest, Sha256};

pub const RECEIPT: &str = "Fleet-Receipt";
pub const ACTION: &str = "Fleet-Action";
pub const COMMIT: &str = "Fleet-Commit";
pub const TARGET: &str = "Fleet-Target";
pub const PROPOSAL: &str = "Fleet-Proposal";
pub const CHANGE: &str = "Fleet-Change";
pub const ACTOR: &str = "Fleet-Actor";
pub const TIME: &str = "Fleet-Time";
pub const POLICY: &str = "Fleet-Policy";
pub const BEFORE: &str = "Fleet-Before";
pub const AFTER: &str = "Fleet-After";
pub const PREV: &str = "Fleet-Prev";
pub const SIGNATURE: &str = "Fleet-Signature";

/// `Fleet-Prev` of the first receipt.
pub const NO_PREV: &str = "none";

/// Keys git-fleet fills itself; `extra` trailers may not use them.
pub const RESERVED: [&str; 13] = [
    RECEIPT, ACTION, COMMIT, TARGET, PROPOSAL, CHANGE, ACTOR, TIME, POLICY, BEFORE, AFTER, PREV,
    SIGNATURE,
];

/// A parsed block: the id it claims, its canonical fields, its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub id: String,
    /// Every trailer but `Fleet-Receipt` and `Fleet-Signature`, in order.
    pub fields: Vec<(String, String)>,
    /// The armored signature, as ssh-keygen printed it.
    pub signature: Option<String>,
}

impl Parsed {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The canonical bytes of a receipt with these fields.
pub fn canonical(fields: &[(String, String)]) -> String {
    let mut out = String::new();
    for (k, v) in fields {
        out.push_str(k);
        out.push_str(": ");
        out.push_str(v);
        out.push('\n');
    }
    out
}

/// sha256 of `bytes`, lower-case hex: a receipt id.
pub fn digest(bytes: &str) -> String {
    format!("{:x}", Sha256::digest(bytes.as_bytes()))
}

/// The block text (no trailing newline) for an id, fields and signature.
pub fn render(id: &str, fields: &[(String, String)], signature: Option<&str>) -> String {
    let mut out = format!("{RECEIPT}: {id}\n{}", canonical(fields));
    if let Some(sig) = signature {
        let mut lines = sig.trim().lines();
        out.push_str(&format!("{SIGNATURE}: {}", lines.next().unwrap_or("")));
        for line in lines {
            out.push_str("\n ");
            out.push_str(line);
        }
    }
    out.trim_end_matches('\n').to_string()
}

/// Whether `key` is a well-formed trailer key: `Fleet-` then letters, digits, '-'.
pub fn valid_key(key: &str) -> bool {
    key.strip_prefix("Fleet-").is_some_and(|rest| {
        !rest.is_empty()
            && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !rest.starts_with('-')
    })
}

/// The text of the receipt inside a notes commit message: from its
/// `Fleet-Receipt:` line to the end (the subject line before it is for people).
pub fn in_message(message: &str) -> Option<&str> {
    let start = if message.starts_with("Fleet-Receipt: ") {
        0
    } else {
        message.find("\nFleet-Receipt: ")? + 1
    };
    Some(message[start..].trim_end_matches(['\n', '\r']))
}

/// The id a block claims (its first line), even if the rest is malformed.
pub fn claimed_id(block: &str) -> Option<&str> {
    block
        .lines()
        .next()?
        .strip_prefix("Fleet-Receipt: ")
        .map(str::trim)
}

/// Parse a block strictly: any line that is not a well-formed trailer is an
/// error, so an edit can never hide in text the canonical bytes skip.
pub fn parse(block: &str) -> Result<Parsed, String> {
    let mut lines = block.split('\n').enumerate().peekable();
    let id = match lines.next() {
        Some((_, line)) => line
            .strip_prefix("Fleet-Receipt: ")
            .ok_or("does not start with a Fleet-Receipt line")?
            .to_string(),
        None => return Err("is empty".into()),
    };
    if id.len() != 64 || !id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(format!("has a malformed Fleet-Receipt id '{id}'"));
    }
    let mut fields = Vec::new();
    let mut signature: Option<String> = None;
    while let Some((n, line)) = lines.next() {
        let n = n + 1;
        if signature.is_some() {
            return Err(format!("line {n}: nothing may follow Fleet-Signature"));
        }
        let (key, value) = line
            .split_once(": ")
            .ok_or_else(|| format!("line {n} is not a 'Fleet-Key: value' trailer: '{line}'"))?;
        if !valid_key(key) {
            return Err(format!("line {n} has a malformed key '{key}'"));
        }
        if value.is_empty() || value.trim() != value || value.contains('\r') {
            return Err(format!(
                "line {n} ({key}) has an empty value or stray blanks"
            ));
        }
        match key {
            RECEIPT => return Err(format!("line {n}: a second Fleet-Receipt line")),
            SIGNATURE => {
                let mut armored = format!("{value}\n");
                while let Some((_, cont)) = lines.next_if(|(_, l)| l.starts_with(' ')) {
                    armored.push_str(&cont[1..]);
                    armored.push('\n');
                }
                if !crate::sign::is_armored(&armored) {
                    return Err(format!("line {n}: Fleet-Signature is not an SSH signature"));
                }
                signature = Some(armored);
            }
            _ => fields.push((key.to_string(), value.to_string())),
        }
    }
    for required in [ACTION, COMMIT, PREV] {
        match fields.iter().filter(|(k, _)| k == required).count() {
            1 => {}
            0 => return Err(format!("has no {required} line")),
            _ => return Err(format!("has more than one {required} line")),
        }
    }
    if fields.last().map(|(k, _)| k.as_str()) != Some(PREV) {
        return Err("Fleet-Prev must be the last line before the signature".into());
    }
    Ok(Parsed {
        id,
        fields,
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Vec<(String, String)> {
        [
            (ACTION, "apply"),
            (COMMIT, "0123456789012345678901234567890123456789"),
            (TARGET, "staging"),
            (PREV, NO_PREV),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    const SIG: &str =
        "-----BEGIN SSH SIGNATURE-----\nU1NIU0lHAAAAAQ\nAAAA==\n-----END SSH SIGNATURE-----\n";

    #[test]
    fn render_and_parse_round_trip() {
        let f = fields();
        let id = digest(&canonical(&f));
        let text = render(&id, &f, Some(SIG));
        assert!(text.contains("\nFleet-Signature: -----BEGIN SSH SIGNATURE-----\n U1NI"));
        let p = parse(&text).unwrap();
        assert_eq!(p.id, id);
        assert_eq!(p.fields, f);
        assert_eq!(p.signature.as_deref(), Some(SIG));
        assert_eq!(claimed_id(&text), Some(id.as_str()));
        let unsigned = render(&id, &f, None);
        assert_eq!(parse(&unsigned).unwrap().signature, None);
    }

    #[test]
    fn canonical_bytes_are_the_lines() {
        assert_eq!(
            canonical(&fields()),
            "Fleet-Action: apply\nFleet-Commit: 0123456789012345678901234567890123456789\nFleet-Target: staging\nFleet-Prev: none\n"
        );
    }

    #[test]
    fn strict_parse_refuses_what_canonical_bytes_would_skip() {
        let f = fields();
        let id = digest(&canonical(&f));
        let good = render(&id, &f, None);
        for bad in [
            good.replace("Fleet-Target: staging", "Fleet-Target:  staging"),
            good.replace("Fleet-Target: staging", "Fleet-Target: staging "),
            good.replace("Fleet-Target: staging", "Target: staging"),
            good.replace("Fleet-Target: staging\n", "Fleet-Target: staging\n\n"),
            good.replace("Fleet-Prev: none", "Fleet-Prev: none\nFleet-Prev: none"),
            format!("{good}\nFleet-Late: x"),
            good.replace("Fleet-Receipt: ", "Fleet-Receipt:  "),
        ] {
            assert!(parse(&bad).is_err(), "accepted:\n{bad}");
        }
    }

    #[test]
    fn receipt_found_after_subject() {
        assert_eq!(
            in_message("fleet receipt: apply\n\nFleet-Receipt: x\nFleet-Prev: none\n"),
            Some("Fleet-Receipt: x\nFleet-Prev: none")
        );
        assert_eq!(in_message("Notes added by 'git notes add'\n"), None);
    }
}
