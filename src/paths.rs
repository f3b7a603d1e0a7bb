//! Names of refs, files and actors that many modules share. Imports nothing
//! of the crate, so any module can use them without an import circle.

/// Live snapshots: `refs/fleet/live/<target>`.
pub const LIVE_PREFIX: &str = "refs/fleet/live/";
/// The snapshot's desired-format file inside a live commit's tree.
pub const YAML_PATH: &str = "fleet.yaml";
/// The snapshot's canonical JSON inside a live commit's tree.
pub const JSON_PATH: &str = "fleet.json";
/// The actor named on transitions that auto-apply makes.
pub const AUTO_ACTOR: &str = "gitops-auto-apply";
