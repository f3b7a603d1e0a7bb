//! Bounded writes: `[[policy]]` rules in fleet.toml say which actor may change
//! which resources (globs on `kind/name`) and whether it may destroy them.
//!
//! No rule at all = everything allowed. Once any rule exists, a change no rule
//! allows is refused, and the refusal names the actor, the change and the rules
//! that matched the actor (or that none did). A malformed policy is a parse
//! error of fleet.toml: callers refuse everything rather than allow anything.
//!
//! fleet.toml itself is the resource `config/fleet.toml`: once a policy exists,
//! a pushed commit that changes it needs a rule allowing that resource (and
//! `destroy = true` to delete it), so nobody widens their own scope by editing
//! the policy first and using it in the next push.

mod actor;
mod approvals;
mod commits;
mod policy_ref;
mod records;
pub mod rules;

pub use actor::*;
pub use approvals::*;
pub use commits::*;
pub use policy_ref::*;
pub use records::*;
pub use rules::*;

use crate::config::Config;
use crate::error::Result;
use std::path::Path;

// Loading goes through `Config` (fleet.toml parsed once); kept here, not in
// `rules`, so `config -> rules` never comes back.
impl Policy {
    /// The policy of the fleet.toml in `root` (a missing file: no policy).
    pub fn load(root: &Path) -> Result<Policy> {
        Ok(Config::load(root)?.policy)
    }

    /// The policy of a whole fleet.toml text; `file` names it in messages.
    pub fn parse(file: &str, bytes: &[u8]) -> Result<Policy> {
        Ok(Config::parse(file, bytes)?.policy)
    }
}

#[cfg(test)]
mod tests;
