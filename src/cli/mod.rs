//! The command line, defined once: one file per command holds its clap
//! `Args` (its help text and examples) and its `run`, which calls the library
//! and presents the result through `Ui`. This file holds the top-level parser,
//! the dispatch, and the one place that maps errors to exit codes, the JSON
//! error object and hints. Help, man pages and completions are all generated
//! from these definitions.

pub mod adopt;
pub mod agent;
pub mod apply;
pub mod demo;
pub mod diff;
pub mod fanout;
pub mod gc;
#[cfg(test)]
mod generated;
pub mod get;
pub mod halt;
pub mod history;
pub mod hook;
pub mod hooks;
pub mod init;
pub mod mcp;
pub mod notes;
pub mod notify;
pub mod peers;
pub mod policy;
pub mod promote;
pub mod proof;
pub mod proposals;
pub mod receipts;
pub mod reconcile;
pub mod render;
pub mod resume;
pub mod rollback;
pub mod runs;
pub mod set;
pub mod snapshot;
pub mod status;
pub mod sync;
pub mod variants;
pub mod why;

use crate::ui::{ColorChoice, Outcome, Ui};
use adopt::AdoptArgs;
use agent::AgentArgs;
use apply::ApplyArgs;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use demo::DemoArgs;
use diff::DiffArgs;
use fanout::FanoutArgs;
use gc::GcArgs;
use get::GetArgs;
use git_fleet::proposals::State;
use git_fleet::workspace::Workspace;
use git_fleet::{Error, Result};
use halt::HaltArgs;
use history::HistoryArgs;
use hook::HookArgs;
use hooks::HooksCommand;
use init::InitArgs;
use mcp::McpArgs;
use notes::NotesCommand;
use peers::PeersCommand;
use policy::PolicyCommand;
use promote::PromoteArgs;
use proof::ProofArgs;
use receipts::ReceiptsArgs;
use reconcile::ReconcileArgs;
use render::RenderArgs;
use rollback::RollbackArgs;
use runs::RunsArgs;
use set::SetArgs;
use snapshot::SnapshotArgs;
use status::StatusArgs;
use std::path::PathBuf;
use sync::SyncArgs;
use variants::VariantsArgs;
use why::WhyArgs;

#[derive(Debug, Parser)]
#[command(
    name = "git-fleet",
    bin_name = "git fleet",
    version,
    about = "Deliver pushed commits to peer checkouts, compare desired fleet state with live state, and keep the evidence in git",
    after_help = "Examples:\n  git fleet init\n  git fleet snapshot staging --from live.yaml\n  git fleet diff staging\n  git fleet render app-01\n\nExit codes: 0 done, 1 something to see (diffs with --exit-code, failed checks), 2 bad input or error.",
    propagate_version = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    /// When to color human output.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Quiet, like git: no status lines, and reports of what a command did
    /// (init, reconcile) are not printed; errors, data you asked for (listings,
    /// --json) and the exit code still tell.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Run as if started in PATH (like `git -C`; repeatable, each relative to the previous).
    #[arg(short = 'C', value_name = "PATH", action = clap::ArgAction::Append)]
    pub chdir: Vec<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// Each subcommand's arguments are built only when that subcommand runs (or
/// help, completions and man pages need them): a hook that appends a note
/// does not pay for the other 35 commands' definitions at every start.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    Status(StatusArgs),
    Init(InitArgs),
    Snapshot(SnapshotArgs),
    Diff(DiffArgs),
    Render(RenderArgs),
    #[command(subcommand)]
    Notes(NotesCommand),
    #[command(subcommand)]
    Peers(PeersCommand),
    Fanout(FanoutArgs),
    Agent(AgentArgs),
    Proof(ProofArgs),
    #[command(subcommand)]
    Hooks(HooksCommand),
    Hook(HookArgs),
    Reconcile(ReconcileArgs),
    Proposals(proposals::list::ProposalsArgs),
    Show(proposals::show::ShowArgs),
    Approve(proposals::decide::DecideArgs),
    Reject(proposals::decide::DecideArgs),
    Ignore(proposals::decide::DecideArgs),
    Apply(ApplyArgs),
    Halt(HaltArgs),
    Resume(HaltArgs),
    Runs(RunsArgs),
    Gc(GcArgs),
    Rollback(RollbackArgs),
    Demo(DemoArgs),
    Receipts(ReceiptsArgs),
    #[command(subcommand)]
    Policy(PolicyCommand),
    Sync(SyncArgs),
    Why(WhyArgs),
    History(HistoryArgs),
    Get(GetArgs),
    Set(SetArgs),
    Adopt(AdoptArgs),
    Variants(VariantsArgs),
    Promote(PromoteArgs),
    Mcp(McpArgs),
}

/// Run `command`: one exhaustive match from what the user typed to the file
/// that runs it. The repository is opened here, once, for the commands that
/// act on one (`demo` builds its own; fleet.toml is parsed on first use).
pub fn dispatch(ui: &Ui, command: Command) -> Result<Outcome> {
    if let Command::Demo(args) = command {
        return demo::run(ui, args);
    }
    let ws = Workspace::open()?;
    let outcome = run(ui, &ws, command);
    // The process exits next, and the kernel frees its memory at once:
    // dropping the repository would unmap each pack index and cache on its
    // own (a TLB flush on every core each), ~3% of a note append.
    std::mem::forget(ws);
    outcome
}

fn run(ui: &Ui, ws: &Workspace, command: Command) -> Result<Outcome> {
    match command {
        Command::Status(args) => status::run(ui, ws, args),
        Command::Init(args) => init::run(ui, ws, args),
        Command::Snapshot(args) => snapshot::run(ui, ws, args),
        Command::Diff(args) => diff::run(ui, ws, args),
        Command::Render(args) => render::run(ui, ws, args),
        Command::Notes(command) => notes::run(ui, ws, command),
        Command::Peers(command) => peers::run(ui, ws, command),
        Command::Fanout(args) => fanout::run(ui, ws, args),
        Command::Agent(args) => agent::run(ui, ws, args),
        Command::Proof(args) => proof::run(ui, ws, args),
        Command::Hooks(command) => hooks::run(ui, ws, command),
        Command::Hook(args) => hook::run(ui, ws, args),
        Command::Reconcile(args) => reconcile::run(ui, ws, args),
        Command::Proposals(args) => proposals::list::run(ui, ws, args),
        Command::Show(args) => proposals::show::run(ui, ws, args),
        Command::Approve(args) => proposals::decide::run(ui, ws, args, State::Approved),
        Command::Reject(args) => proposals::decide::run(ui, ws, args, State::Rejected),
        Command::Ignore(args) => proposals::decide::run(ui, ws, args, State::Ignored),
        Command::Apply(args) => apply::run(ui, ws, args),
        Command::Halt(args) => halt::run(ui, ws, args),
        Command::Resume(args) => resume::run(ui, ws, args),
        Command::Runs(args) => runs::run(ui, ws, args),
        Command::Gc(args) => gc::run(ui, ws, args),
        Command::Rollback(args) => rollback::run(ui, ws, args),
        // Handled by `dispatch` (no repository of the caller's).
        Command::Demo(args) => demo::run(ui, args),
        Command::Policy(command) => policy::run(ui, ws, command),
        Command::Sync(args) => sync::run(ui, ws, args),
        Command::Receipts(args) => receipts::run(ui, ws, args),
        Command::Why(args) => why::run(ui, ws, args),
        Command::History(args) => history::run(ui, ws, args),
        Command::Get(args) => get::run(ui, ws, args),
        Command::Set(args) => set::run(ui, ws, args),
        Command::Adopt(args) => adopt::run(ui, ws, args),
        Command::Variants(args) => variants::run(ui, ws, args),
        Command::Promote(args) => promote::run(ui, ws, args),
        Command::Mcp(args) => mcp::run(ui, ws, args),
    }
}

/// The command line, and whether the command that runs was given `--json`.
/// A line clap refuses exits here (2; help and version 0).
pub fn parse() -> (Cli, bool) {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let mut command = Cli::command();
    if !runs_a_subcommand(&command, &args) {
        // The top-level help lists every subcommand's summary.
        command.build();
    }
    match command.try_get_matches_from(&args) {
        Ok(matches) => {
            let json = json_requested(&matches);
            match Cli::from_arg_matches(&matches) {
                Ok(cli) => (cli, json),
                Err(e) => refuse(e, json),
            }
        }
        // Asked for JSON on a line clap refuses: still one JSON object.
        Err(e) => refuse(e, args.iter().any(|a| a == "--json")),
    }
}

/// Whether `args` name a command to run (a leaf: `notes append`, not `notes`)
/// and ask for no help, so that only that command's arguments need building
/// (`defer` on [`Command`] and the nested command enums). Help, and the help
/// clap prints for a missing subcommand, list every summary: those build all.
fn runs_a_subcommand(command: &clap::Command, args: &[std::ffi::OsString]) -> bool {
    if args
        .iter()
        .skip(1)
        .take_while(|a| *a != "--")
        .any(|a| a == "-h" || a == "--help" || a == "help")
    {
        return false;
    }
    let mut command = command;
    let mut named = false;
    for arg in args.iter().skip(1) {
        if arg == "--" {
            break;
        }
        match command.find_subcommand(arg) {
            Some(sub) => {
                command = sub;
                named = true;
            }
            // An option's value or a positional argument of the command.
            None => continue,
        }
        if !command.has_subcommands() {
            return true;
        }
    }
    named && !command.has_subcommands()
}

/// Whether the (sub)command that runs was given `--json`.
fn json_requested(matches: &clap::ArgMatches) -> bool {
    let mut m = matches;
    loop {
        if let Ok(Some(true)) = m.try_get_one::<bool>("json") {
            return true;
        }
        match m.subcommand() {
            Some((_, sub)) => m = sub,
            None => return false,
        }
    }
}

/// A command line clap refuses: its message as usual (help and version too),
/// and with `--json` the error object on stdout.
fn refuse(e: clap::Error, json: bool) -> ! {
    use clap::error::ErrorKind;
    let informational = matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if json && !informational {
        let rendered = e.render().to_string();
        let message = rendered
            .lines()
            .next()
            .unwrap_or_default()
            .trim_start_matches("error: ")
            .to_string();
        let ui = Ui::new(ColorChoice::Never, true);
        ui.json(error_json("usage", &message, None, &[], None));
    }
    e.exit()
}

/// `-C PATH...`: change directory in order, each relative to the previous
/// (an empty PATH is no change, as in git).
pub fn chdir(paths: &[PathBuf]) -> Result<()> {
    for path in paths.iter().filter(|p| !p.as_os_str().is_empty()) {
        std::env::set_current_dir(path)
            .map_err(|e| Error::usage(format!("cannot change to '{}': {e}", path.display())))?;
    }
    Ok(())
}

/// Report on stderr, with `--json` also the error object on stdout; exit 2.
pub fn fail(ui: &Ui, e: &Error, json: bool) -> ! {
    report(ui, e);
    // Exactly one object: a command may have printed its own error object.
    if json && !ui.printed_json() {
        let (code, location, problems) = match e {
            Error::Invalid(problems) => (
                "invalid",
                problems.first().map(location),
                problems.as_slice(),
            ),
            Error::Usage { .. } => ("usage", None, &[][..]),
            Error::Read { path, .. } => ("read", Some(serde_json::json!({"file": path})), &[][..]),
            Error::Write { path, .. } => {
                ("write", Some(serde_json::json!({"file": path})), &[][..])
            }
            Error::Git { .. } => ("git", None, &[][..]),
            Error::Contended { .. } => ("contended", None, &[][..]),
            _ => ("error", None, &[][..]),
        };
        let mut message = e.to_string();
        for cause in causes_not_in(e) {
            message.push_str(&format!(": {cause}"));
        }
        ui.json(error_json(code, &message, location, problems, e.hint()));
    }
    std::process::exit(2)
}

/// The cause chain of `e`, without the causes its own message already
/// quotes (many library errors say "cannot read X: <cause>").
fn causes_not_in(e: &Error) -> Vec<String> {
    let mut said = e.to_string();
    let mut out = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !said.contains(&text) {
            said.push_str(&text);
            out.push(text);
        }
        source = cause.source();
    }
    out
}

fn location(d: &git_fleet::error::Diagnostic) -> serde_json::Value {
    serde_json::json!({"file": d.file, "line": d.line, "column": d.column})
}

/// `{"version": 1, "error": {...}}`, documented in the README ("JSON output").
fn error_json(
    code: &str,
    message: &str,
    location: Option<serde_json::Value>,
    problems: &[git_fleet::error::Diagnostic],
    hint: Option<&str>,
) -> serde_json::Value {
    serde_json::json!({
        "error": {
            "code": code,
            "message": message,
            "location": location,
            "problems": problems,
            "hint": hint,
        }
    })
}

/// `error: ...`, each located problem on its own line, the cause chain, a hint.
fn report(ui: &Ui, e: &Error) {
    match e {
        Error::Invalid(problems) => {
            for p in problems {
                ui.problem(p);
            }
        }
        other => {
            ui.error(other.to_string());
            for cause in causes_not_in(other) {
                eprintln!("  caused by: {cause}");
            }
        }
    }
    if let Some(hint) = e.hint() {
        ui.hint(hint);
    }
}

#[cfg(test)]
mod error_tests {
    use super::*;
    use git_fleet::error::StoreError;

    #[test]
    fn a_cause_the_message_already_quotes_is_said_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e: Error = StoreError::spawn("git", io).into();
        assert_eq!(e.to_string(), "cannot run git: no such file");
        assert!(causes_not_in(&e).is_empty(), "{:?}", causes_not_in(&e));
    }
}
