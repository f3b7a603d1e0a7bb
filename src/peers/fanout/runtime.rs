//! Runtime proof after a move: reload, health and readback, each owed until it passes.
use super::report::{Blocker, PeerReport, Stage, Step, StepStatus};
use super::run::{blocked, PeerRun, Stop};
use super::text::{exit_text, one_line, shell_error_text};
use gix::ObjectId;

impl PeerRun<'_> {
    /// reload (only after a fast-forward), health, readback.
    /// The reload runs after a move, and again on every later run while it
    /// is owed (it failed, or never ran); health and readback run each time.
    /// The readback must print `expected`, the commit the peer is at.
    pub(super) fn runtime(
        &self,
        report: &mut PeerReport,
        expected: ObjectId,
        moved: bool,
        stage: &dyn Fn(Stage),
    ) -> std::result::Result<(), Stop> {
        if self.req.dry_run {
            return Ok(());
        }
        self.runtime_ran.set(true);
        let commit = expected;
        if let Some(script) = &self.peer.reload {
            if moved || self.owed_before.reload {
                stage(Stage::Reloading);
                let (ok, detail) = self.script(script);
                report.runtime.reload = Step {
                    status: if ok {
                        StepStatus::Ok
                    } else {
                        StepStatus::Failed
                    },
                    detail: Some(detail.clone()),
                };
                if !ok {
                    return Err(blocked(Blocker::ReloadFailed, format!("reload: {detail}")));
                }
            } else {
                report.runtime.reload.detail =
                    Some("already current and nothing owed; not reloaded".into());
            }
        }
        if let Some(script) = &self.peer.health {
            stage(Stage::Health);
            let (ok, detail) = self.script(script);
            report.runtime.health = Step {
                status: if ok {
                    StepStatus::Ok
                } else {
                    StepStatus::Failed
                },
                detail: Some(detail.clone()),
            };
            if !ok {
                return Err(blocked(Blocker::HealthFailed, format!("health: {detail}")));
            }
        }
        if let Some(script) = &self.peer.readback {
            stage(Stage::Readback);
            let out = self.shell.run_shell(&self.dir, script, self.timeout());
            let (ok, detail) = match &out {
                Ok(o) if o.success() => {
                    let printed = o.stdout.trim().to_string();
                    (readback_matches(&printed, commit), printed)
                }
                Ok(o) => (false, exit_text(o)),
                Err(e) => (false, shell_error_text(e)),
            };
            report.runtime.readback = Step {
                status: if ok {
                    StepStatus::Ok
                } else {
                    StepStatus::Failed
                },
                detail: Some(one_line(&detail)),
            };
            if !ok {
                return Err(blocked(
                    Blocker::ReadbackMismatch,
                    format!(
                        "readback printed '{}', expected {}",
                        one_line(&detail),
                        commit
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Run a user command: (succeeded, one line about it).
    pub(super) fn script(&self, script: &str) -> (bool, String) {
        match self.shell.run_shell(&self.dir, script, self.timeout()) {
            Ok(o) if o.success() => (true, "ok".into()),
            Ok(o) => (false, exit_text(&o)),
            Err(e) => (false, shell_error_text(&e)),
        }
    }
}

/// A readback proves the commit when it prints the full id, or an
/// abbreviation of at least 7 hex digits (`git rev-parse --short HEAD`).
pub fn readback_matches(printed: &str, commit: ObjectId) -> bool {
    let printed = printed.trim().to_ascii_lowercase();
    let full = commit.to_string();
    printed == full
        || (printed.len() >= 7
            && printed.len() <= full.len()
            && printed.bytes().all(|b| b.is_ascii_hexdigit())
            && full.starts_with(&printed))
}
