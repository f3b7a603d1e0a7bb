#![forbid(unsafe_code)]
//! `git-fleet`: parse the command line, dispatch, map outcomes to exit codes.

mod cmd;
mod ui;

use clap::{CommandFactory, FromArgMatches};
use git_fleet::cli::{Cli, ColorChoice, Command};
use git_fleet::proposals::State;
use git_fleet::Error;
use ui::{Outcome, Ui};

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let (cli, json) = match Cli::command().try_get_matches_from(&args) {
        Ok(matches) => {
            let json = json_requested(&matches);
            match Cli::from_arg_matches(&matches) {
                Ok(cli) => (cli, json),
                Err(e) => refuse(e, json),
            }
        }
        // Asked for JSON on a line clap refuses: still one JSON object.
        Err(e) => refuse(e, args.iter().any(|a| a == "--json")),
    };
    // After -C, so git's color.ui is read in the repository it names.
    let moved = chdir(&cli.chdir);
    let ui = Ui::new(cli.color, cli.quiet);
    if let Err(e) = moved {
        fail(&ui, &e, json);
    }
    let result = match cli.command {
        Command::Status(args) => cmd::status::run(&ui, args),
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
        Command::Mcp(args) => cmd::mcp::run(&ui, args),
    };
    let code = match result {
        Ok(Outcome::Done) => 0,
        Ok(Outcome::Found) => 1,
        Err(e) => fail(&ui, &e, json),
    };
    std::process::exit(code);
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
        ui.json(&error_json("usage", &message, None, &[], None));
    }
    e.exit()
}

/// Report on stderr, with `--json` also the error object on stdout; exit 2.
fn fail(ui: &Ui, e: &Error, json: bool) -> ! {
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
            Error::Other(_) => ("error", None, &[][..]),
        };
        let mut message = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(cause) = source {
            message.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        ui.json(&error_json(code, &message, location, problems, e.hint()));
    }
    std::process::exit(2)
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
        "version": cmd::JSON_VERSION,
        "error": {
            "code": code,
            "message": message,
            "location": location,
            "problems": problems,
            "hint": hint,
        }
    })
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
