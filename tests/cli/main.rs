//! The integration tests, as one binary (one link instead of one per file):
//! each module runs the real `git-fleet` binary (or the library) against real
//! repositories, sharing one `TestEnv` in `common`.
//!
//! `cargo test --test cli` runs them all; `cargo test --test cli -- sync::`
//! runs one module.

mod common;
mod sshd;

mod agent;
mod bad_input;
mod basics;
mod completions;
mod concurrency;
mod crash;
mod demo;
mod fanout;
mod fanout_race;
mod fanout_ssh;
mod history;
mod hooks;
mod incremental;
mod lifecycle;
mod mcp;
mod never_guess;
mod notify;
mod ops;
mod policy;
mod readme;
mod receipts;
mod reconcile;
mod release;
mod ssh;
mod sync;

// Reviewed output: insta snapshots in tests/cli/snapshots/.
mod snapshot_help;
mod snapshot_output;
