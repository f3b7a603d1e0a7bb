//! Peers: checkouts that receive pushed commits by fast-forward (issue 4).
//!
//! * [`config`]: `[peers.<name>]` tables and their locations.
//! * [`agent`]: pull mode, a peer delivering to itself and reporting.
//! * [`fanout`]: deliver a commit to every peer that can fast-forward to it.
//! * [`record`]: the note block each fanout run leaves on the commit.
//! * [`lock`]: one fanout per peer at a time.
//! * [`proof`]: the delivery closeout of a commit.
//! * [`shell`]: the [`shell::PeerShell`] trait every peer command goes through.
//! * [`ssh`]: the SSH transport.

pub mod agent;
pub mod config;
pub mod fanout;
pub mod local;
pub mod lock;
pub mod proof;
pub mod record;
pub mod report_cache;
pub mod shell;
pub mod ssh;
