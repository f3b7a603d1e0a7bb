//! Check 4: signatures, in-process SSHSIG checks against allowed_signers.

use super::report::{ProblemKind, Problems};
use crate::error::{ReceiptsError, Result};
use crate::receipts::Receipt;
use crate::sign::{SshConfig, Verdict};

/// Each receipt's verdict as a problem: unsigned under an allowed signers
/// file, a bad signature, an unknown key, someone else's key.
pub(super) fn check_verdicts(
    ssh: &SshConfig,
    log: &[Receipt],
    verdicts: &[Option<Verdict>],
    problems: &mut Problems,
) {
    for (r, verdict) in log.iter().zip(verdicts) {
        match verdict {
            None if ssh.allowed_signers.is_some() => problems.add(
                ProblemKind::Unsigned,
                Some(r),
                "unsigned, but gpg.ssh.allowedSignersFile is configured: every receipt must be signed",
            ),
            None | Some(Verdict::Good { .. }) | Some(Verdict::Unchecked { .. }) => {}
            Some(Verdict::Bad { detail }) => problems.add(
                ProblemKind::BadSignature,
                Some(r),
                format!("the signature does not verify ({detail}): the receipt or its signature was altered"),
            ),
            Some(Verdict::UntrustedKey { key }) => problems.add(
                ProblemKind::UntrustedKey,
                Some(r),
                format!("signed with {key}, a key the allowed signers file does not list (or not at that time)"),
            ),
            Some(Verdict::WrongSigner { principals, key }) => problems.add(
                ProblemKind::WrongSigner,
                Some(r),
                format!(
                    "signed with {key}, which the allowed signers file lists for {}, not for the Fleet-Actor {}",
                    principals.join(", "),
                    r.actor_email().unwrap_or("(none)")
                ),
            ),
        }
    }
}

/// One verdict per receipt (None: unsigned), checked on a few threads.
pub(super) fn check_signatures(ssh: &SshConfig, log: &[Receipt]) -> Result<Vec<Option<Verdict>>> {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(1, 8);
    let chunk = log.len().div_ceil(workers).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = log
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|r| match &r.signature {
                            None => Ok(None),
                            Some(sig) => ssh
                                .verify(r.canonical().as_bytes(), sig, r.actor_email(), r.time())
                                .map(Some),
                        })
                        .collect::<Result<Vec<_>>>()
                })
            })
            .collect();
        let mut out = Vec::with_capacity(log.len());
        for h in handles {
            match h.join() {
                Ok(part) => out.extend(part?),
                Err(_) => return Err(ReceiptsError::SignatureThread.into()),
            }
        }
        Ok(out)
    })
}
