//! Peers: checkouts that receive pushed commits by fast-forward (issue 4).
//!
//! * [`config`]: `[peers.<name>]` tables and their locations.
//! * [`shell`]: the [`shell::PeerShell`] trait every peer command goes through.
//! * [`ssh`]: the SSH transport.

pub mod shell;
pub mod ssh;
