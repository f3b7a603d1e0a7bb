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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
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
    Proposals(ProposalsArgs),
    Show(ShowArgs),
    Approve(DecideArgs),
    Reject(DecideArgs),
    Ignore(DecideArgs),
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
    Mcp(McpArgs),
}

/// Share fleet records with another clone: fetch, merge, push with a lease.
///
/// Fetches the remote's refs/fleet/* and refs/notes/fleet/* into
/// refs/fleet-remote/<remote>/, merges them into ours (notes by union of
/// blocks; the receipt log with a signed merge receipt; proposals by id with
/// every transition kept; runs by union; live snapshots and halt by the newer
/// state, both kept in history), and pushes back with --force-with-lease, so a
/// remote that moved meanwhile is merged again, never overwritten. A proposal
/// applied on one side and rejected on the other is reported (exit 1).
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  git fleet sync\n  git fleet sync backup --json")]
pub struct SyncArgs {
    /// The remote (default: origin, or the only remote).
    pub remote: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Bounded writes: check changes to desired state against fleet.toml's [[policy]].
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    Check(PolicyCheckArgs),
}

/// Check commits against the policy, as the pre-receive hook does.
///
/// For each commit in the range that changes a desired file, the semantic diff
/// against its first parent is decided for the commit's actor on every target
/// the file serves: its verified SSH signer when the commit carries an SSH
/// signature that verifies against gpg.ssh.allowedSignersFile, else its
/// committer email (the output says which, and why a signature did not count).
/// A change to fleet.toml itself is the resource config/fleet.toml. The policy
/// is fleet.toml as the upstream branch has it (what the server will apply),
/// else the work tree's. Exit 1 when any change is outside its actor's scope.
///
/// [[policy]] keys: name (named in refusals and receipts), actor (glob on the
/// git email, or on a verified signer's principal, case-insensitive) or
/// principal (glob on an allowed-signers principal only), allow (globs on
/// kind/name: templates, modules, assignments, provider_configs, config),
/// destroy (default false), targets (default all).
/// No rule at all allows everything; once one exists, what no rule allows is
/// refused; a malformed policy refuses everything.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet policy check                 # commits not yet on the upstream\n  git fleet policy check --rev main~5..main --json\n\nExit codes: 0 every change allowed, 1 something refused, 2 error (also a malformed policy)."
)]
pub struct PolicyCheckArgs {
    /// Commits to check (default: @{upstream}..HEAD, or HEAD alone without an upstream).
    #[arg(long, value_name = "RANGE")]
    pub rev: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Build a sandbox and walk through every job, one explained step at a time.
///
/// A bare origin, a working clone, three peers (one with untracked files, one
/// on another branch), a fleet.yaml and a snapshot; then diff with blast
/// radius, commit through the pre-commit check, push, fanout, proof,
/// reconcile, approve, apply, a destroy that waits for review, halt/resume,
/// and the receipts in `git log --notes`. Offline, a few seconds.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet demo\n  git fleet demo --dir /tmp/fleet-demo   # keep it and explore"
)]
pub struct DemoArgs {
    /// Build the sandbox in DIR (new or empty) and keep it.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<std::path::PathBuf>,
    /// Keep the temporary sandbox and print its path.
    #[arg(long)]
    pub keep: bool,
    /// Also print one JSON object at the end (path, seconds).
    #[arg(long)]
    pub json: bool,
}

/// One reconcile tick: diff desired against live and open proposals for review.
///
/// Parse and validate the desired file at REV (default HEAD), diff it against
/// the target's live state, open proposals up to the per-tick cap (default 25;
/// --max-proposals, env GIT_FLEET_MAX_PROPOSALS_PER_TICK, or max_proposals in
/// fleet.toml; over the cap the run is `partial` and the rest open next tick),
/// then auto-apply only when all four gates hold: the target has auto_apply =
/// true, the change is a create or update (a destroy always waits), automation
/// is not halted, and the proposal was opened within this tick's cap. The
/// audit proposal is written before anything is applied; one failed apply
/// never aborts the tick; every tick leaves a run record. Once fleet.toml has
/// a [[policy]], auto-apply is also decided for whoever runs the tick
/// (user.email or signing key principal); a change outside that scope waits
/// for review.
///
/// Nothing is guessed: a target without a live snapshot recorded here (a
/// fetched one is merged in by `git fleet sync`), or whose desired file is
/// missing or empty at REV, is refused (exit 2) before anything is written.
///
/// Two ticks of one target never run at once: a tick holds
/// .git/fleet/locks/tick-<target>.lock (pid, process start, time), and a lock
/// whose process is gone, whose pid was reused, or that is older than an hour
/// is stale and taken over (the run record notes it).
///
/// --watch is the timer for setups without the post-receive hook: one tick per
/// target every --interval (fleet.toml is read again each round), until
/// SIGINT or SIGTERM; a tick in progress finishes first. A target whose tick
/// is still running elsewhere is skipped for that round.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet reconcile staging\n  git fleet reconcile --all --json\n  GIT_FLEET_MAX_PROPOSALS_PER_TICK=5 git fleet reconcile prod\n  git fleet reconcile --all --watch --interval 5m   # until Ctrl-C or SIGTERM\n  git fleet reconcile prod --rev refs/heads/main --wait 10m   # what post-receive runs"
)]
pub struct ReconcileArgs {
    /// The target to reconcile (default: the only known one).
    pub target: Option<String>,
    /// Reconcile every known target.
    #[arg(long, conflicts_with = "target")]
    pub all: bool,
    /// Read the desired file at this revision.
    #[arg(long, value_name = "REV", default_value = "HEAD")]
    pub rev: String,
    /// Open at most N proposals in this tick.
    #[arg(long, value_name = "N")]
    pub max_proposals: Option<usize>,
    /// Read a missing or empty desired file as an empty fleet, on purpose
    /// (default: refuse; every resource would be proposed for destruction).
    #[arg(long)]
    pub allow_empty: bool,
    /// Keep reconciling: one tick per target every --interval, until SIGINT/SIGTERM.
    #[arg(long)]
    pub watch: bool,
    /// If another tick of the target is running, wait up to DURATION for it
    /// (30s, 5m, 1h; default: refuse at once).
    #[arg(long, value_name = "DURATION", conflicts_with = "watch")]
    pub wait: Option<String>,
    /// Time between ticks with --watch: 30s, 5m, 1h (default 5m).
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "5m",
        requires = "watch"
    )]
    pub interval: String,
    /// List every proposal applied, failed or held for review (default:
    /// counts per kind and change, and the first few).
    #[arg(long, short)]
    pub verbose: bool,
    /// Print one JSON object (with --watch: one per tick, a line each).
    #[arg(long)]
    pub json: bool,
}

/// List proposals.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet proposals\n  git fleet proposals --target prod --state pending_review --json"
)]
pub struct ProposalsArgs {
    /// Only this target's proposals.
    #[arg(long, value_name = "T")]
    pub target: Option<String>,
    /// Only proposals in this state (pending_review, approved, applied, rejected, ignored, failed).
    #[arg(long, value_name = "S")]
    pub state: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Show one proposal: the change, full before/after, and every transition.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  git fleet show 3f2a9c\n  git fleet show 3f2a9c --json")]
pub struct ShowArgs {
    /// Proposal id (or a unique prefix).
    pub id: String,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Record a review decision on proposals (approve, reject or ignore).
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet approve 3f2a9c 81bb07\n  git fleet reject 3f2a9c --reason 'wrong window'\n  git fleet ignore 3f2a9c"
)]
pub struct DecideArgs {
    /// Proposal ids (or unique prefixes).
    #[arg(required = true)]
    pub ids: Vec<String>,
    /// Why (recorded with the transition).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Apply approved proposals to live state, with stale-conflict checks.
///
/// A proposal computed against a live resource that has changed since is
/// refused and returned to review with the reason. Destroys apply on approval
/// for every kind, but a module or template that something still references is
/// refused unless the referencing change is in the same apply.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet apply 3f2a9c\n  git fleet apply --approved --target prod\n  git fleet apply 3f2a9c --despite-halt"
)]
pub struct ApplyArgs {
    /// Proposal ids (or unique prefixes).
    pub ids: Vec<String>,
    /// Apply every approved proposal (of --target, or of every target).
    #[arg(long, conflicts_with = "ids")]
    pub approved: bool,
    /// Limit --approved to one target.
    #[arg(long, value_name = "T")]
    pub target: Option<String>,
    /// Apply although automation is halted; the receipt records it.
    #[arg(long)]
    pub despite_halt: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Halt (or resume) automation: no auto-apply while halted.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  git fleet halt --reason 'incident 4711'\n  git fleet resume")]
pub struct HaltArgs {
    /// Why (recorded in refs/fleet/halt and the receipt).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// List reconcile run records.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  git fleet runs\n  git fleet runs prod --json")]
pub struct RunsArgs {
    /// Only this target's runs.
    pub target: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Drop run records past retention: 90 days (success), 365 days (failed/partial).
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  git fleet gc --dry-run\n  git fleet gc")]
pub struct GcArgs {
    /// Say what would be dropped; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Open proposals that take live state back to a recorded snapshot.
///
/// The proposals go through the same review and gates; a rolled-back desired
/// content is never auto-applied again until the desired file changes.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet snapshot --log prod\n  git fleet rollback prod --to 1a2b3c4d"
)]
pub struct RollbackArgs {
    /// The target to roll back.
    pub target: String,
    /// The snapshot commit (from `git fleet snapshot --log`) to return to.
    #[arg(long, value_name = "SNAPSHOT")]
    pub to: String,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// The receipt log: list, show, verify (and append, for scripts).
///
/// Every apply, auto-apply, halt and resume leaves a receipt: a block of
/// Fleet-* trailer lines in the note on its commit (refs/notes/fleet/receipts)
/// and one commit on that notes ref whose message is the receipt, so the ref's
/// history is the log. Receipts form a sha256 hash chain (Fleet-Prev) and are
/// signed with ssh-keygen (namespace git-fleet) when git is configured for SSH
/// signing (gpg.format=ssh, user.signingKey). Without a subcommand: `log`.
#[derive(Debug, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Examples:\n  git fleet receipts\n  git fleet receipts show HEAD\n  git fleet receipts verify --json\n\nExit codes: 0 done (verify: every check passed), 1 verify found a problem or show found no receipt, 2 error."
)]
pub struct ReceiptsArgs {
    #[command(subcommand)]
    pub command: Option<ReceiptsCommand>,
    #[command(flatten)]
    pub log: ReceiptsLogArgs,
}

#[derive(Debug, Subcommand)]
pub enum ReceiptsCommand {
    Log(ReceiptsLogArgs),
    Show(ReceiptsShowArgs),
    Verify(ReceiptsVerifyArgs),
    Append(ReceiptsAppendArgs),
}

/// List receipts, newest first.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet receipts log -n 10\n  git fleet receipts log --json"
)]
pub struct ReceiptsLogArgs {
    /// Show at most N receipts (the newest).
    #[arg(long, short = 'n', value_name = "N")]
    pub max_count: Option<usize>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Show the receipts in the note on a commit.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet receipts show HEAD\n  git fleet receipts show 3f2a9c1 --json"
)]
pub struct ReceiptsShowArgs {
    /// The commit (or other revision) the receipts are about.
    #[arg(default_value = "HEAD")]
    pub commit: String,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Verify the receipt log: hash chain, signatures, and notes against the log.
///
/// Walks the first-parent history of refs/notes/fleet/receipts: each receipt's
/// id must be the sha256 of its canonical bytes and its Fleet-Prev the id of
/// the receipt before it; each signature must verify with ssh-keygen against
/// gpg.ssh.allowedSignersFile for the receipt's Fleet-Actor (when that file is
/// configured, unsigned receipts fail; without it, only validity is checked and
/// unsigned receipts pass); the note on each receipt's commit must hold its
/// block byte for byte, and no note may hold a receipt the log lacks. Every
/// problem names the receipt (id) and its commit; exit 1 if there is any.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git config gpg.ssh.allowedSignersFile .git/allowed_signers\n  git fleet receipts verify\n  git fleet receipts verify --json"
)]
pub struct ReceiptsVerifyArgs {
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Append a receipt (plumbing for scripts and tests; apply, halt and resume
/// write their own).
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet receipts append --action deploy --commit HEAD --target prod --trailer Ticket=OPS-12"
)]
pub struct ReceiptsAppendArgs {
    /// What happened (Fleet-Action), e.g. apply, halt, deploy.
    #[arg(long, value_name = "A")]
    pub action: String,
    /// The commit (or other revision) the receipt is about; its note gets the block.
    #[arg(long, value_name = "C")]
    pub commit: String,
    /// Fleet-Target.
    #[arg(long, value_name = "T")]
    pub target: Option<String>,
    /// Fleet-Proposal.
    #[arg(long, value_name = "P")]
    pub proposal: Option<String>,
    /// Fleet-Change.
    #[arg(long, value_name = "X")]
    pub change: Option<String>,
    /// Fleet-Policy: the rule that allowed the change.
    #[arg(long, value_name = "RULE")]
    pub policy: Option<String>,
    /// Fleet-Before.
    #[arg(long, value_name = "V")]
    pub before: Option<String>,
    /// Fleet-After.
    #[arg(long, value_name = "V")]
    pub after: Option<String>,
    /// Another trailer, KEY=VALUE (KEY gets a Fleet- prefix if it lacks one). Repeatable.
    #[arg(long = "trailer", value_name = "KEY=VALUE")]
    pub trailers: Vec<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// One screen: is automation halted, what waits per target, the last fanout.
///
/// Shows whether automation is halted (and by whom, why), per known target
/// the proposals pending review, approved and failed, conflicting review
/// decisions and the last reconcile run, and the last fanout run with what it
/// still owes (peers not delivered, runtime steps not done; as `git fleet
/// proof` of that commit). Reads only; changes nothing.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet status\n  git fleet status --json\n\nExit codes: 0 nothing needs attention, 1 halted, a conflict, or the last fanout is incomplete, 2 error."
)]
pub struct StatusArgs {
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Set up git-fleet in this repository: a commented fleet.toml, refspecs, notes display.
///
/// Writes fleet.toml if absent (every section commented out), adds fetch
/// refspecs for refs/fleet/* and refs/notes/fleet/* to the default remote,
/// and sets notes.displayRef so receipts show in `git log` (fanout notes,
/// one line per peer, on request: `git log --notes=fleet/fanout`). Idempotent:
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
/// An empty export (no bytes, or only comments) is refused unless
/// --allow-empty says the target is empty on purpose.
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
    /// Record an empty live state on purpose (default: an empty export is refused).
    #[arg(long, conflicts_with = "log")]
    pub allow_empty: bool,
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
///
/// The live side is refs/fleet/live/<target>, or when this clone has not
/// recorded one, the snapshot fetched from a remote
/// (refs/fleet-remote/<remote>/fleet/live/<target>, after `git fleet init` and
/// `git fetch`); the ref used is named. With no snapshot anywhere, or a missing
/// or empty desired file, diff refuses (exit 2) unless --allow-empty-live or
/// --allow-empty says empty is meant.
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
    /// Compare with an empty fleet when the target has no live snapshot,
    /// neither recorded here nor fetched (default: refuse).
    #[arg(long)]
    pub allow_empty_live: bool,
    /// Read a missing or empty desired file as an empty fleet, on purpose
    /// (default: refuse; every resource would be a destroy).
    #[arg(long)]
    pub allow_empty: bool,
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

/// Declare, remove and list peer checkouts that `fanout` delivers to.
///
/// Peers live in fleet.toml (shared, committed) or, with --local, in
/// .git/fleet.local.toml (this machine's; a local peer replaces a shared one
/// of the same name). Edits keep the file's comments and layout.
#[derive(Debug, Subcommand)]
pub enum PeersCommand {
    Add(PeersAddArgs),
    Remove(PeersRemoveArgs),
    List(PeersListArgs),
}

/// Declare a peer checkout.
///
/// LOCATION is an absolute path, ~/path, or ssh://[user@]host[:port]/path.
/// Other settings (reload, health, readback, timeout, remote, transport,
/// identity) are edited in the file itself.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet peers add laptop ~/src/app\n  git fleet peers add web-1 ssh://deploy@web-1:2222/srv/app --branch main\n  git fleet peers add scratch /tmp/app-checkout --local"
)]
pub struct PeersAddArgs {
    /// The peer's name (letters, digits, '-', '_', '.').
    pub name: String,
    /// Where the checkout is: /abs/path, ~/path or ssh://[user@]host[:port]/path.
    pub location: String,
    /// The branch the peer must be on (default: the branch being delivered).
    #[arg(long, value_name = "B")]
    pub branch: Option<String>,
    /// Write to .git/fleet.local.toml (this machine only) instead of fleet.toml.
    #[arg(long)]
    pub local: bool,
}

/// Remove a peer declaration.
///
/// Removes it from every file that declares it, or only from
/// .git/fleet.local.toml with --local.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet peers remove laptop\n  git fleet peers remove scratch --local"
)]
pub struct PeersRemoveArgs {
    /// The peer's name.
    pub name: String,
    /// Only remove it from .git/fleet.local.toml.
    #[arg(long)]
    pub local: bool,
}

/// List the peers fanout would deliver to, and where each is declared.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  git fleet peers list\n  git fleet peers list --json")]
pub struct PeersListArgs {
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Fast-forward every peer checkout to a commit, where that is safe.
///
/// Per peer, in parallel: reachable, exists, is a repository, nothing in
/// progress and no index.lock, on the expected branch, no staged or unstaged
/// changes to tracked files, HEAD an ancestor of the commit; then fetch,
/// `git merge --ff-only`, read HEAD back, and run the peer's reload, health and
/// readback commands. A peer that fails a check is left exactly as it was and
/// reported blocked with the reason (dirty, diverged, ahead, wrong-branch,
/// detached, missing, not-a-repo, busy, unreachable, fetch-failed,
/// merge-failed, reload-failed, health-failed, readback-mismatch). Nothing is
/// ever stashed, reset, rebased, cleaned, checked out or forced, and
/// untracked files are never touched. Each run is recorded as a note on the
/// commit in refs/notes/fleet/fanout. Exit 1 if any peer is blocked.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet fanout\n  git fleet fanout --dry-run\n  git fleet fanout --commit v1.4.2 --peer web-1 --peer web-2\n  git fleet fanout --jobs 16 --json"
)]
pub struct FanoutArgs {
    /// The commit to deliver.
    #[arg(long, value_name = "C", default_value = "HEAD")]
    pub commit: String,
    /// The branch being delivered: peers without their own `branch` must be
    /// on it (default: the current branch).
    #[arg(long, value_name = "B")]
    pub branch: Option<String>,
    /// Only these peers (repeatable; default: all).
    #[arg(long = "peer", value_name = "NAME")]
    pub peers: Vec<String>,
    /// Peers handled at once (default: 8).
    #[arg(long, short, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: Option<u16>,
    /// Check every peer and say what would happen; change nothing, record nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Trust and remember SSH host keys seen for the first time (never a changed key).
    #[arg(long)]
    pub accept_new_host_keys: bool,
    /// Deliver nothing: show each peer's latest evidence for the commit,
    /// push-mode notes and pull-mode agent reports merged.
    #[arg(long, conflicts_with_all = ["dry_run", "peers", "jobs"])]
    pub status: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Pull mode: deliver to this peer checkout itself, then report.
///
/// Run in a peer's checkout from a systemd timer or cron. Fetches the
/// branch from the remote, applies fanout's safety contract to this checkout
/// (the same checks and outcomes: current, fast-forwarded, dirty, diverged,
/// ahead, wrong-branch, not-on-remote, ...; the same reload, health and
/// readback steps, owed steps run again until they pass), records the run
/// like fanout does, and pushes a report commit to the peer's own ref
/// refs/fleet/reports/<name>/log on the remote (fast-forward only, never
/// forced). `git fleet proof` and `git fleet fanout --status` read these
/// reports. Nothing is ever stashed, reset, rebased, cleaned, checked out or
/// forced. Exit 1 if the peer is blocked or the report could not be pushed.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet agent\n  git fleet agent --name web-1 --reload 'systemctl reload app'\n  git -C /srv/app fleet agent --json\n  git fleet agent --install-timer --interval 5min"
)]
pub struct AgentArgs {
    /// The peer's name, its report ref (default: git config fleet.peerName,
    /// else the host name).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// The remote to fetch from and report to (default: the peer's
    /// declared remote, else origin).
    #[arg(long, value_name = "REMOTE")]
    pub remote: Option<String>,
    /// The branch this peer follows (default: the declared branch, else the
    /// current branch).
    #[arg(long, value_name = "B")]
    pub branch: Option<String>,
    /// Command run after a move (and again while owed); default: the
    /// peer's declared reload, if any.
    #[arg(long, value_name = "CMD")]
    pub reload: Option<String>,
    /// Health check command (default: the peer's declared health).
    #[arg(long, value_name = "CMD")]
    pub health: Option<String>,
    /// Command that must print the commit (default: the declared readback).
    #[arg(long, value_name = "CMD")]
    pub readback: Option<String>,
    /// Check and say what would happen; change, record and push nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Record the report here only; do not push it.
    #[arg(long)]
    pub no_push: bool,
    /// Write a systemd user service and timer running the agent in this
    /// checkout, print where, and exit (enable with systemctl --user).
    #[arg(long)]
    pub install_timer: bool,
    /// The timer's interval (systemd time span).
    #[arg(
        long,
        value_name = "SPAN",
        default_value = "5min",
        requires = "install_timer"
    )]
    pub interval: String,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// The delivery closeout of a commit.
///
/// Shows whether the commit exists here, whether origin has it (a
/// remote-tracking branch contains it), each peer's latest evidence (the
/// fanout note on the commit, push mode, or the peer's own agent report in
/// refs/fleet/reports, pull mode, whichever is later; the output names the
/// mode), and whether each runtime surface was reloaded, found healthy and
/// read back, or is out of scope (not configured). Peers that report
/// themselves count whether declared or not. Exit 1 if anything is missing.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  git fleet proof\n  git fleet proof v1.4.2 --json")]
pub struct ProofArgs {
    /// The commit (default: HEAD).
    #[arg(default_value = "HEAD")]
    pub commit: String,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Install, remove or inspect git-fleet's git hooks.
///
/// Honours core.hooksPath. An existing hook is kept: git-fleet adds a marked
/// block (# >>> git-fleet >>> ... # <<< git-fleet <<<) after its #! line and
/// removes only that block on uninstall.
#[derive(Debug, Subcommand)]
pub enum HooksCommand {
    /// Install git-fleet's hooks (default: --pre-commit --post-push).
    ///
    /// --pre-commit: check the staged desired state (`git fleet diff --staged
    /// --check`). --post-push: after a successful push, run `git fleet fanout`
    /// in the background (pre-push + reference-transaction; log in
    /// .git/fleet/fanout.log). --pre-receive, --post-receive: server side.
    /// Installing again only refreshes git-fleet's block.
    Install(HooksInstallArgs),
    /// Remove git-fleet's block from its hooks (default: from all of them).
    ///
    /// Everything else in a hook file stays; a file holding nothing but
    /// git-fleet's block is deleted.
    Uninstall(HooksInstallArgs),
    Status(HooksStatusArgs),
}

/// Which hooks.
///
/// --pre-commit: check the staged desired state (`git fleet diff --staged
/// --check`). --post-push: after a successful push, run `git fleet fanout` in
/// the background (pre-push + reference-transaction; log in
/// .git/fleet/fanout.log). --pre-receive, --post-receive: server side.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet hooks install\n  git fleet hooks install --post-push\n  git fleet hooks uninstall --pre-commit\n  git fleet hooks install --pre-receive --post-receive   # on the server"
)]
pub struct HooksInstallArgs {
    /// The pre-commit check of the staged desired state.
    #[arg(long)]
    pub pre_commit: bool,
    /// Fanout in the background after each successful push.
    #[arg(long)]
    pub post_push: bool,
    /// Server side: bounded writes on push.
    #[arg(long)]
    pub pre_receive: bool,
    /// Server side: reconcile after a push changes a desired file.
    #[arg(long)]
    pub post_receive: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Show which git-fleet hooks are installed, and where.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  git fleet hooks status\n  git fleet hooks status --json")]
pub struct HooksStatusArgs {
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// Run a git-fleet hook (what the installed hook shims call).
///
/// pre-commit: `git fleet diff --staged --check`. pre-push: note the pushed
/// branches in .git/fleet/pending-push. reference-transaction: when a pending
/// push is confirmed by its remote-tracking ref, start `git fleet fanout` in
/// the background. pre-receive, post-receive: accept (issue 6 adds checks).
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet hook pre-commit\n  echo 'refs/heads/main <sha> refs/heads/main <sha>' | git fleet hook pre-push origin url"
)]
pub struct HookArgs {
    /// Which hook.
    #[arg(value_enum)]
    pub name: HookName,
    /// The arguments git passed to the hook.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HookName {
    PreCommit,
    PrePush,
    ReferenceTransaction,
    PreReceive,
    PostReceive,
}

/// Serve git-fleet's tools to an agent over MCP (Model Context Protocol, stdio).
///
/// Tools: diff, render, why, get, set, propose, show, proposals, receipts,
/// proof. Each runs this program's own command with --json in the current
/// repository, as this process's git identity: the agent is bound by the
/// same [[policy]] and leaves the same receipts as a person would. `set` is a
/// dry run unless the call says apply=true. Register it in an MCP client as
/// the command `git-fleet` with args `["-C", "/path/to/repo", "mcp"]`
/// (README: "Agents: git fleet mcp").
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  git fleet mcp                       # speaks MCP on stdin/stdout\n  git fleet -C ~/src/fleet mcp"
)]
pub struct McpArgs {}
