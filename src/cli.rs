//! The command line, defined once: help text, man pages and completions are all
//! generated from these definitions.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

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
    /// Print only data and errors, no status lines.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Init(InitArgs),
    Snapshot(SnapshotArgs),
    Diff(DiffArgs),
    Render(RenderArgs),
    #[command(subcommand)]
    Notes(NotesCommand),
}

/// Set up git-fleet in this repository: a commented fleet.toml, refspecs, notes display.
///
/// Writes fleet.toml if absent (every section commented out), adds fetch
/// refspecs for refs/fleet/* and refs/notes/fleet/* to the default remote,
/// and sets notes.displayRef so fleet notes show in `git log`. Idempotent:
/// running it again changes nothing and says so.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  git fleet init\n  git fleet init --push-refspecs --json")]
pub struct InitArgs {
    /// Also add push refspecs for fleet refs (this changes what a bare `git push` sends).
    #[arg(long)]
    pub push_refspecs: bool,
    /// Print one JSON object describing what was changed.
    #[arg(long)]
    pub json: bool,
}

/// Record live state as the next snapshot of a target (refs/fleet/live/<target>).
///
/// The state is validated like fleet.yaml first; bad input writes nothing.
/// Without --from, the target's desired file in the work tree is recorded.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet snapshot staging --from live.yaml -m 'after maintenance'\n  prod-export | git fleet snapshot prod --from -\n  git fleet snapshot --log staging"
)]
pub struct SnapshotArgs {
    /// The target whose live state this is (e.g. staging, prod).
    pub target: String,
    /// Read the live state from FILE ('-' for stdin).
    #[arg(long, value_name = "FILE", conflicts_with = "log")]
    pub from: Option<PathBuf>,
    /// A one-line message for the snapshot record.
    #[arg(long, short, value_name = "M", conflicts_with = "log")]
    pub message: Option<String>,
    /// List the target's snapshot history instead of recording one.
    #[arg(long)]
    pub log: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Compare desired fleet.yaml with a target's latest live snapshot.
///
/// Shows create/update/destroy per resource with field-level before/after, and
/// the blast radius of each change: fan-out (nodes reached) x density (config
/// values in the changed unit) as the estimate, and the measured number of
/// rendered (node, key) values that really change.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet diff                  # the only known target, work tree file\n  git fleet diff prod --staged    # what the next commit would change\n  git fleet diff staging --rev HEAD~1 --stat\n  git fleet diff --staged --check # validation only (pre-commit hook)\n  git fleet diff prod --json --exit-code"
)]
pub struct DiffArgs {
    /// Target to compare against (default: the only known one).
    pub target: Option<String>,
    /// Use the desired file as staged in the index.
    #[arg(long, conflicts_with_all = ["rev", "file"])]
    pub staged: bool,
    /// Use the desired file as of revision REV.
    #[arg(long, value_name = "REV", conflicts_with = "file")]
    pub rev: Option<String>,
    /// Use FILE as the desired state ('-' for stdin).
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Validate only: exit 1 if the desired file has a problem.
    #[arg(long)]
    pub check: bool,
    /// One line per change and the totals, no field detail.
    #[arg(long)]
    pub stat: bool,
    /// Exit 1 when there are differences.
    #[arg(long)]
    pub exit_code: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Print the effective (rendered) config of nodes.
///
/// A node's config is its enabled assignments' module configs merged in
/// ascending priority (an assignment's priority overrides its module's), each
/// assignment's own config overriding its module's.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet render\n  git fleet render app-01 app-02 --json\n  git fleet render --rev HEAD~3 app-01\n  git fleet render --live prod app-01"
)]
pub struct RenderArgs {
    /// Nodes to render (default: all).
    pub nodes: Vec<String>,
    /// Render the desired file as of revision REV.
    #[arg(long, value_name = "REV", conflicts_with_all = ["file", "live"])]
    pub rev: Option<String>,
    /// Render FILE ('-' for stdin).
    #[arg(long, value_name = "FILE", conflicts_with = "live")]
    pub file: Option<PathBuf>,
    /// Render the latest live snapshot of TARGET instead of the desired file.
    #[arg(long, value_name = "TARGET")]
    pub live: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Read and append git-fleet notes (plumbing for scripts and hooks).
#[derive(Debug, Subcommand)]
pub enum NotesCommand {
    Append(NotesAppendArgs),
    Show(NotesShowArgs),
}

/// Append a block to the note on a commit, keeping every block already there.
///
/// Safe under concurrent writers: the notes ref is updated with compare-and-swap
/// and retried, so no block is ever lost.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet notes append --ref fanout HEAD -m 'Fleet-Peer: laptop current'\n  git notes --ref=fleet/fanout show HEAD"
)]
pub struct NotesAppendArgs {
    /// Notes ref: NAME means refs/notes/fleet/NAME.
    #[arg(long = "ref", value_name = "NAME")]
    pub notes_ref: String,
    /// The commit (or other revision) to annotate.
    pub commit: String,
    /// The block to append ('-' reads it from stdin).
    #[arg(long, short, value_name = "TEXT")]
    pub message: String,
}

/// Print the note on a commit.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  git fleet notes show --ref fanout HEAD")]
pub struct NotesShowArgs {
    /// Notes ref: NAME means refs/notes/fleet/NAME.
    #[arg(long = "ref", value_name = "NAME")]
    pub notes_ref: String,
    /// The commit to read the note of.
    #[arg(default_value = "HEAD")]
    pub commit: String,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}
