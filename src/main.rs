#![forbid(unsafe_code)]
//! `git-fleet`: parse the command line, dispatch, map outcomes to exit codes.

mod cmd;
mod ui;

use clap::Parser;
use git_fleet::cli::{Cli, Command};
use git_fleet::proposals::State;
use git_fleet::Error;
use ui::{Outcome, Ui};

fn main() {
    let cli = Cli::parse();
    let ui = Ui::new(cli.color, cli.quiet);
    if let Err(e) = chdir(&cli.chdir) {
        report(&ui, &e);
        std::process::exit(2);
    }
    let result = match cli.command {
        Command::Init(args) => cmd::init::run(&ui, args),
        Command::Snapshot(args) => cmd::snapshot::run(&ui, args),
        Command::Diff(args) => cmd::diff::run(&ui, args),
        Command::Render(args) => cmd::render::run(&ui, args),
        Command::Notes(command) => cmd::notes::run(&ui, command),
        Command::Peers(command) => cmd::peers::run(&ui, command),
        Command::Fanout(args) => cmd::fanout::run(&ui, args),
        Command::Agent(args) => cmd::agent::run(&ui, args),
        Command::Proof(args) => cmd::proof::run(&ui, args),
        Command::Hooks(command) => cmd::hooks::run(&ui, command),
        Command::Hook(args) => cmd::hook::run(&ui, args),
        Command::Reconcile(args) => cmd::reconcile::run(&ui, args),
        Command::Proposals(args) => cmd::proposals::list(&ui, args),
        Command::Show(args) => cmd::proposals::show(&ui, args),
        Command::Approve(args) => cmd::proposals::decide_cmd(&ui, args, State::Approved),
        Command::Reject(args) => cmd::proposals::decide_cmd(&ui, args, State::Rejected),
        Command::Ignore(args) => cmd::proposals::decide_cmd(&ui, args, State::Ignored),
        Command::Apply(args) => cmd::apply::run(&ui, args),
        Command::Halt(args) => cmd::halt::run(&ui, args, true),
        Command::Resume(args) => cmd::halt::run(&ui, args, false),
        Command::Runs(args) => cmd::runs::list(&ui, args),
        Command::Gc(args) => cmd::runs::gc(&ui, args),
        Command::Rollback(args) => cmd::rollback::run(&ui, args),
        Command::Demo(args) => cmd::demo::run(&ui, args),
        Command::Policy(command) => cmd::policy::run(&ui, command),
        Command::Sync(args) => cmd::sync::run(&ui, args),
        Command::Receipts(args) => cmd::receipts::run(&ui, args),
    };
    let code = match result {
        Ok(Outcome::Done) => 0,
        Ok(Outcome::Found) => 1,
        Err(e) => {
            report(&ui, &e);
            2
        }
    };
    std::process::exit(code);
}

/// `-C PATH...`: change directory in order, each relative to the previous
/// (an empty PATH is no change, as in git).
fn chdir(paths: &[std::path::PathBuf]) -> Result<(), Error> {
    for path in paths.iter().filter(|p| !p.as_os_str().is_empty()) {
        std::env::set_current_dir(path)
            .map_err(|e| Error::usage(format!("cannot change to '{}': {e}", path.display())))?;
    }
    Ok(())
}

/// `error: ...`, each located problem on its own line, the cause chain, a hint.
fn report(ui: &Ui, e: &Error) {
    match e {
        Error::Invalid(problems) => {
            for p in problems {
                ui.error(p.to_string());
            }
        }
        other => {
            ui.error(other.to_string());
            let mut source = std::error::Error::source(other);
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
        }
    }
    if let Some(hint) = e.hint() {
        ui.hint(hint);
    }
}
