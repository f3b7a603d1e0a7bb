//! `git fleet demo` runs green end to end, offline, in well under 10 s.

use crate::common;
use common::TestEnv;
use std::time::{Duration, Instant};

#[test]
fn demo_walks_through_every_job() {
    let _load = common::timed();
    let env = TestEnv::new();
    let dir = env.root().join("sandbox");
    let started = Instant::now();
    let out = env.fleet(env.root(), &["demo", "--dir", dir.to_str().unwrap()]);
    let took = started.elapsed();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(took < Duration::from_secs(10), "demo took {took:?}");
    let text = &out.stdout;
    for expected in [
        "fan-out",       // diff with blast radius
        "fleet.yaml ok", // the pre-commit check ran
        "2 fast-forwarded, 0 current, 1 blocked",
        // Runtime proof for real: reload, health and readback on the laptop.
        "reload=ok health=ok readback=ok",
        "fast-forwarded; reloaded, healthy, read back",
        // A failed reload: the peer moved, the reload is owed ...
        "reload=failed health=skipped readback=skipped",
        "app.conf: syntax error on line 1; still owed: reload, health, readback",
        // ... and the next fanout runs it again.
        "already at",
        "the owed reload ran again",
        "current; reloaded, healthy, read back",
        "wrong-branch",
        "config.nginx_workers: 6 -> 8",
        "dry run: nothing written",
        "origin has it",
        "pending_review staging  destroy", // destroys wait for review
        "applied ",
        "automation halted",
        "automation resumed",
        "Fleet-Action: apply",
        "receipts verify",
        "update modules/tls on staging by operator@example.com (user.email; signing key principal",
        "does not allow it",
        // The snapshot, three fanouts, an apply (its intent and its
        // completion), a halt, a resume.
        "8 signed",
    ] {
        assert!(
            text.contains(expected),
            "demo output lacks {expected:?}:\n{text}"
        );
    }
    // The blocked peer was not touched: still on its branch at the first commit.
    let peer = dir.join("peer-wrong-branch");
    assert_eq!(
        env.git(&peer, &["rev-parse", "--abbrev-ref", "HEAD"])
            .trim(),
        "experiment"
    );
    assert!(env.git(&peer, &["status", "--porcelain"]).is_empty());
    // The laptop serves what it was delivered (its readback).
    let laptop = dir.join("peer-laptop");
    assert_eq!(
        std::fs::read_to_string(laptop.join(".served"))
            .unwrap()
            .trim(),
        env.git(&laptop, &["rev-parse", "HEAD"]).trim()
    );
    // The untracked scratch file survived the fast-forward.
    assert!(dir.join("peer-workstation/notes.txt").exists());
    // A non-empty --dir is refused.
    let again = env.fleet(env.root(), &["demo", "--dir", dir.to_str().unwrap()]);
    assert_eq!(again.code, 2);
}
