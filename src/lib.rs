//! git-fleet: deliver pushed commits to peer checkouts, compare desired fleet
//! state with recorded live state, and keep evidence, all inside git.
//!
//! The library returns data and typed errors; it never prints or exits.
#![forbid(unsafe_code)]

pub mod config;
pub mod desired;
pub mod error;
pub mod fleet;
pub mod gitcmd;
pub mod halt;
pub mod hooks;
pub mod live;
pub mod mcp;
pub mod notify;
pub mod ops;
pub mod paths;
pub mod peers;
pub mod policy;
pub mod proposals;
pub mod receipts;
pub mod reconcile;
pub mod runs;
pub mod serverhooks;
pub mod sign;
pub mod status;
pub mod store;
pub mod sync;
pub mod ticklock;
pub mod timeline;
pub mod workspace;

pub use error::{Diagnostic, Error, Result};
