//! A work repository with a fleet.toml and one target, `staging`, whose
//! desired file and live snapshots the reconcile and lifecycle tests drive
//! (each adds its own helpers in an `impl` of its own).

use super::{Run, TestEnv};
use std::path::PathBuf;

pub struct StagingRepo {
    pub env: TestEnv,
    pub path: PathBuf,
}

impl StagingRepo {
    pub fn new(toml: &str) -> StagingRepo {
        let env = TestEnv::new();
        let path = env.repo("work");
        std::fs::write(path.join("fleet.toml"), toml).unwrap();
        StagingRepo { env, path }
    }
    pub fn commit_fleet(&self, text: &str) {
        std::fs::write(self.path.join("fleet.yaml"), text).unwrap();
        self.env
            .git(&self.path, &["add", "fleet.yaml", "fleet.toml"]);
        self.env.git(&self.path, &["commit", "-q", "-m", "fleet"]);
    }
    pub fn snapshot(&self, text: &str) {
        let r = self.env.fleet_stdin(
            &self.path,
            &["snapshot", "staging", "--from", "-"],
            text.as_bytes(),
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    pub fn fleet(&self, args: &[&str]) -> Run {
        self.env.fleet(&self.path, args)
    }
    pub fn live(&self) -> String {
        self.env
            .git(&self.path, &["show", "refs/fleet/live/staging:fleet.json"])
    }
}
