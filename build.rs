//! Link the `git-fleet` executable position-dependent (no PIE) on glibc Linux.
//!
//! Why: a PIE binary of this size carries ~41,000 relative relocations that the
//! dynamic loader applies at every start, copying ~190 pages on write; a git
//! hook or a script may start `git fleet` thousands of times (a note append is
//! measured against `git notes add`, bench/notes.sh). Without PIE those
//! addresses are fixed at link time. The cost: the executable's own image is
//! not placed at a random address (the heap, stack and shared libraries still
//! are). `GIT_FLEET_PIE=1` at build time keeps the default PIE link.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=GIT_FLEET_PIE");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let wants_pie = matches!(var("GIT_FLEET_PIE").as_str(), "1" | "true" | "yes");
    if var("CARGO_CFG_TARGET_OS") == "linux" && var("CARGO_CFG_TARGET_ENV") == "gnu" && !wants_pie {
        // Only the executables: the library and the test binaries link as usual.
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
