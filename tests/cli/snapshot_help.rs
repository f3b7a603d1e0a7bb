//! `--help` of `git-fleet` and of every subcommand, as reviewed snapshots
//! (`snapshots/cli__snapshot_help__*.snap`), so a changed help text shows up
//! in review instead of slipping through.
//!
//! The commands are not listed here: they are read from the real binary's
//! `Commands:` sections, recursively, so a new command is covered the moment
//! it exists. Its snapshot is then missing, and a missing snapshot fails like
//! a changed one: with `INSTA_UPDATE=no` (what `.ci/run` sets) nothing is
//! written; locally insta leaves a `.snap.new` beside it for review. To write
//! or update them on purpose: `INSTA_UPDATE=always cargo test --test cli --
//! snapshot_`, then review `git diff tests/cli/snapshots`. A snapshot whose
//! command no longer exists fails too, so it gets deleted, not kept stale.

use crate::common::TestEnv;
use std::collections::BTreeSet;

/// The subcommand names listed under `Commands:` in a clap help text.
/// Entries are `  name  description`; a wrapped description continues on
/// lines indented further, which are not entries.
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| *line != "Commands:")
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter(|line| !line.starts_with("   "))
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// `git-fleet`, `git-fleet peers`, `git-fleet peers add`, ... as argument
/// lists, read from the binary's own help.
fn every_command(env: &TestEnv) -> Vec<(Vec<String>, String)> {
    let mut out = Vec::new();
    let mut todo = vec![Vec::<String>::new()];
    while let Some(path) = todo.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let run = env.fleet(env.root(), &args);
        assert_eq!(run.code, 0, "git-fleet {args:?}: {}", run.stderr);
        assert_eq!(run.stderr, "", "git-fleet {args:?}");
        for sub in subcommands(&run.stdout) {
            let mut next = path.clone();
            next.push(sub);
            todo.push(next);
        }
        out.push((path, run.stdout));
    }
    out.sort();
    out
}

/// `git-fleet-peers-add`, as for the man pages.
fn snapshot_name(path: &[String]) -> String {
    std::iter::once("git-fleet")
        .chain(path.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join("-")
}

#[test]
fn subcommands_are_read_from_a_help_text() {
    let help = "Usage: x\n\nCommands:\n  status  One screen\n  init    Set up, with a long\n          wrapped line\n  help    Print\n\nOptions:\n  -q\n";
    assert_eq!(subcommands(help), ["status", "init", "help"]);
    assert!(subcommands("Usage: x\n\nOptions:\n  -q\n").is_empty());
}

#[test]
fn help_of_every_command_matches_its_snapshot() {
    let env = TestEnv::new();
    let commands = every_command(&env);
    // The walk itself must have worked: the top level lists the main jobs.
    let top = &commands.iter().find(|(p, _)| p.is_empty()).unwrap().1;
    for known in ["status", "diff", "fanout", "reconcile", "receipts", "sync"] {
        assert!(
            subcommands(top).iter().any(|s| s == known),
            "{known} not found in git-fleet --help:\n{top}"
        );
    }
    assert!(
        commands.len() > 25,
        "only {} commands found",
        commands.len()
    );

    let mut failed = Vec::new();
    for (path, help) in &commands {
        let name = snapshot_name(path);
        // Verbatim: help is static text (its examples' ids are part of it).
        let text = help;
        let result = std::panic::catch_unwind(|| insta::assert_snapshot!(name.as_str(), text));
        if result.is_err() {
            failed.push(name);
        }
    }

    // A snapshot left for a command that is gone.
    let names: BTreeSet<String> = commands.iter().map(|(p, _)| snapshot_name(p)).collect();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cli/snapshots");
    let stale: Vec<String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter_map(|f| {
                    f.strip_prefix("cli__snapshot_help__")?
                        .strip_suffix(".snap")
                        .map(str::to_string)
                })
                .filter(|n| !names.contains(n))
                .collect()
        })
        .unwrap_or_default();

    assert!(
        failed.is_empty() && stale.is_empty(),
        "help snapshots differ or are missing for {failed:?} (review; write with \
         INSTA_UPDATE=always), stale snapshots of commands that are gone: {stale:?}"
    );
}
