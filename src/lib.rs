//! git-fleet: deliver pushed commits to peer checkouts, compare desired fleet
//! state with recorded live state, and keep evidence, all inside git.
//!
//! The library returns data and typed errors; it never prints or exits.
#![forbid(unsafe_code)]

pub mod error;
pub mod store;

pub use error::{Diagnostic, Error, Result};
