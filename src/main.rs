#![forbid(unsafe_code)]
//! `git-fleet`: parse the command line, change directory (`-C`), dispatch,
//! exit with the outcome's code (0 done, 1 something to see, 2 error).

mod cli;
mod ui;

fn main() {
    let (cli, json) = cli::parse();
    // After -C, so git's color.ui is read in the repository it names.
    let moved = cli::chdir(&cli.chdir);
    let ui = ui::Ui::new(cli.color, cli.quiet);
    let result = moved.and_then(|()| cli::dispatch(&ui, cli.command));
    match result {
        Ok(outcome) => std::process::exit(outcome.code()),
        Err(e) => cli::fail(&ui, &e, json),
    }
}
