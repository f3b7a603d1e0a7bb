# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_git_fleet_global_optspecs
    string join \n color= q/quiet C= h/help V/version
end

function __fish_git_fleet_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_git_fleet_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_git_fleet_using_subcommand
    set -l cmd (__fish_git_fleet_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c git-fleet -n "__fish_git_fleet_needs_command" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_needs_command" -s C -d 'Run as if started in PATH (like `git -C`; repeatable, each relative to the previous)' -r -F
complete -c git-fleet -n "__fish_git_fleet_needs_command" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_needs_command" -s h -l help -d 'Print help'
complete -c git-fleet -n "__fish_git_fleet_needs_command" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_needs_command" -f -a "status" -d 'One screen: is automation halted, what waits per target, the last fanout'
complete -c git-fleet -n "__fish_git_fleet_needs_command" -f -a "init" -d 'Set up git-fleet in this repository: a commented fleet.toml, refspecs, notes display'
complete -c git-fleet -n "__fish_git_fleet_needs_command" -f -a "snapshot" -d 'Record live state as the next snapshot of a target (refs/fleet/live/<target>)'
complete -c git-fleet -n "__fish_git_fleet_needs_command" -f -a "diff" -d 'Compare desired fleet.yaml with a target\'s latest live snapshot'
complete -c git-fleet -n "__fish_git_fleet_needs_command" -f -a "render" -d 'Print the effective (rendered) config of nodes'
complete -c git-fleet -n "__fish_git_fleet_needs_command" -f -a "notes" -d 'Read and append git-fleet notes (plumbing for scripts and hooks)'
complete -c git-fleet -n "__fish_git_fleet_needs_command" -f -a "peers" -d 'Declare, remove and list peer checkouts that `fanout` delivers to'
complete -c git-fleet -n "__fish_git_fleet_needs_command" -f -a "fanout" -d 'Fast-forward every peer checkout to a commit, where that is safe'
complete -c git-fleet -n "__fish_git_fleet_needs_command" -f -a "agent" -d 'Pull mode: deliver to this peer checkout itself, then report'
complete -c git-fleet -n "__fish_git_fleet_needs_command" -f -a "proof" -d 'The delivery closeout of a commit'
complete -c git-fleet -n "__fish_git_fleet_needs_command" -f -a "hooks" -d 'Install, remove or inspect git-fleet\'s git hooks'
complete -c git-fleet -n "__fish_git_fleet_needs_command" -f -a "hook" -d 'Run a git-fleet hook (what the installed hook shims call)'
complete -c git-fleet -n "__fish_git_fleet_needs_command" -f -a "reconcile" -d 'One reconcile tick: diff desired against live and open proposals for review'
complete -c git-fleet -n "__fish_git_fleet_needs_command" -f -a "proposals" -d 'List proposals'
complete -c git-fleet -n "__fish_git_fleet_needs_command" -f -a "show" -d 'Show one proposal: the change, full before/after, and every transition'
complete -c git-fleet -n "__fish_git_fleet_needs_command" -f -a "approve" -d 'Record a review decision on proposals (approve, reject or ignore)'
complete -c git-fleet -n "__fish_git_fleet_needs_command" -f -a "reject" -d 'Record a review decision on proposals (approve, reject or ignore)'
complete -c git-fleet -n "__fish_git_fleet_needs_command" -f -a "ignore" -d 'Record a review decision on proposals (approve, reject or ignore)'
complete -c git-fleet -n "__fish_git_fleet_needs_command" -f -a "apply" -d 'Apply approved proposals to live state, with stale-conflict checks'
complete -c git-fleet -n "__fish_git_fleet_needs_command" -f -a "halt" -d 'Halt (or resume) automation: no auto-apply while halted'
complete -c git-fleet -n "__fish_git_fleet_needs_command" -f -a "resume" -d 'Halt (or resume) automation: no auto-apply while halted'
complete -c git-fleet -n "__fish_git_fleet_needs_command" -f -a "runs" -d 'List reconcile run records'
complete -c git-fleet -n "__fish_git_fleet_needs_command" -f -a "gc" -d 'Drop run records past retention: 90 days (success), 365 days (failed/partial)'
complete -c git-fleet -n "__fish_git_fleet_needs_command" -f -a "rollback" -d 'Open proposals that take live state back to a recorded snapshot'
complete -c git-fleet -n "__fish_git_fleet_needs_command" -f -a "demo" -d 'Build a sandbox and walk through every job, one explained step at a time'
complete -c git-fleet -n "__fish_git_fleet_needs_command" -f -a "receipts" -d 'The receipt log: list, show, verify (and append, for scripts)'
complete -c git-fleet -n "__fish_git_fleet_needs_command" -f -a "policy" -d 'Bounded writes: check changes to desired state against fleet.toml\'s [[policy]]'
complete -c git-fleet -n "__fish_git_fleet_needs_command" -f -a "sync" -d 'Share fleet records with another clone: fetch, merge, push with a lease'
complete -c git-fleet -n "__fish_git_fleet_needs_command" -f -a "why" -d 'Where a rendered value came from, layer by layer, and what put it live'
complete -c git-fleet -n "__fish_git_fleet_needs_command" -f -a "history" -d 'One resource\'s timeline: desired edits, live changes, proposals, decisions, applies and rollbacks, with their receipts, oldest first'
complete -c git-fleet -n "__fish_git_fleet_needs_command" -f -a "get" -d 'Read values of the resources a selector matches in a desired file'
complete -c git-fleet -n "__fish_git_fleet_needs_command" -f -a "set" -d 'Upsert values in every resource a selector matches, as one commit'
complete -c git-fleet -n "__fish_git_fleet_needs_command" -f -a "adopt" -d 'Write live values that differ from desired back into the desired file'
complete -c git-fleet -n "__fish_git_fleet_needs_command" -f -a "variants" -d 'Show the promotion graph (promotes_from) and what lags behind its upstream'
complete -c git-fleet -n "__fish_git_fleet_needs_command" -f -a "promote" -d 'Write the selected differences of FROM\'s desired into TO\'s desired file'
complete -c git-fleet -n "__fish_git_fleet_needs_command" -f -a "mcp" -d 'Serve git-fleet\'s tools to an agent over MCP (Model Context Protocol, stdio)'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand status" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand status" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand status" -l json -d 'Print one JSON object'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand status" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand init" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand init" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand init" -l push-refspecs -d 'Also add push refspecs for fleet refs (this changes what a bare `git push` sends)'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand init" -l json -d 'Print one JSON object describing what was changed'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand init" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand init" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand snapshot" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand snapshot" -l from -d 'Read the live state from FILE (\'-\' for stdin)' -r -F
complete -c git-fleet -n "__fish_git_fleet_using_subcommand snapshot" -s m -l message -d 'A one-line message for the snapshot record' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand snapshot" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand snapshot" -l log -d 'List the target\'s snapshot history instead of recording one'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand snapshot" -l allow-empty -d 'Record an empty live state on purpose (default: an empty export is refused)'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand snapshot" -l json -d 'Print one JSON object'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand snapshot" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand snapshot" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand diff" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand diff" -l rev -d 'Use the desired file as of revision REV' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand diff" -l file -d 'Use FILE as the desired state (\'-\' for stdin)' -r -F
complete -c git-fleet -n "__fish_git_fleet_using_subcommand diff" -l at -d 'Desired and live as they were at WHEN: a date (2026-01-05, 2026-01-05T10:00:00Z, \'3 days ago\') or a revision (see `git fleet why`)' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand diff" -l rendered -d 'Also show, per node, the rendered values that change (before -> after), and provider_configs changes (informational, never applied); only NODEs when given (put TARGET before --rendered)' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand diff" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand diff" -l staged -d 'Use the desired file as staged in the index'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand diff" -l check -d 'Validate only: exit 1 if the desired file has a problem'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand diff" -l stat -d 'One line per change and the totals, no field detail'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand diff" -l exit-code -d 'Exit 1 when there are differences'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand diff" -l allow-empty-live -d 'Compare with an empty fleet when the target has no live snapshot, neither recorded here nor fetched (default: refuse)'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand diff" -l allow-empty -d 'Read a missing or empty desired file as an empty fleet, on purpose (default: refuse; every resource would be a destroy)'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand diff" -l show-ignored -d 'Also list the drift that [[ignore]] rules in fleet.toml leave out'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand diff" -l json -d 'Print one JSON object'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand diff" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand diff" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand render" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand render" -l rev -d 'Render the desired file as of revision REV' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand render" -l file -d 'Render FILE (\'-\' for stdin)' -r -F
complete -c git-fleet -n "__fish_git_fleet_using_subcommand render" -l live -d 'Render the latest live snapshot of TARGET instead of the desired file' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand render" -l at -d 'Render the desired file (or with --live, the snapshot) as it was at WHEN: a date or a revision (see `git fleet why`)' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand render" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand render" -l json -d 'Print one JSON object'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand render" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand render" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand notes; and not __fish_seen_subcommand_from append show" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand notes; and not __fish_seen_subcommand_from append show" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand notes; and not __fish_seen_subcommand_from append show" -s h -l help -d 'Print help'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand notes; and not __fish_seen_subcommand_from append show" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand notes; and not __fish_seen_subcommand_from append show" -f -a "append" -d 'Append a block to the note on a commit, keeping every block already there'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand notes; and not __fish_seen_subcommand_from append show" -f -a "show" -d 'Print the note on a commit'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand notes; and __fish_seen_subcommand_from append" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand notes; and __fish_seen_subcommand_from append" -l ref -d 'Notes ref: NAME means refs/notes/fleet/NAME' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand notes; and __fish_seen_subcommand_from append" -s m -l message -d 'The block to append (\'-\' reads it from stdin)' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand notes; and __fish_seen_subcommand_from append" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand notes; and __fish_seen_subcommand_from append" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand notes; and __fish_seen_subcommand_from append" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand notes; and __fish_seen_subcommand_from show" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand notes; and __fish_seen_subcommand_from show" -l ref -d 'Notes ref: NAME means refs/notes/fleet/NAME' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand notes; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand notes; and __fish_seen_subcommand_from show" -l json -d 'Print one JSON object'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand notes; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand notes; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand peers; and not __fish_seen_subcommand_from add remove list" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand peers; and not __fish_seen_subcommand_from add remove list" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand peers; and not __fish_seen_subcommand_from add remove list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand peers; and not __fish_seen_subcommand_from add remove list" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand peers; and not __fish_seen_subcommand_from add remove list" -f -a "add" -d 'Declare a peer checkout'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand peers; and not __fish_seen_subcommand_from add remove list" -f -a "remove" -d 'Remove a peer declaration'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand peers; and not __fish_seen_subcommand_from add remove list" -f -a "list" -d 'List the peers fanout would deliver to, and where each is declared'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand peers; and __fish_seen_subcommand_from add" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand peers; and __fish_seen_subcommand_from add" -l branch -d 'The branch the peer must be on (default: the branch being delivered)' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand peers; and __fish_seen_subcommand_from add" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand peers; and __fish_seen_subcommand_from add" -l local -d 'Write to .git/fleet.local.toml (this machine only) instead of fleet.toml'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand peers; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand peers; and __fish_seen_subcommand_from add" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand peers; and __fish_seen_subcommand_from remove" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand peers; and __fish_seen_subcommand_from remove" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand peers; and __fish_seen_subcommand_from remove" -l local -d 'Only remove it from .git/fleet.local.toml'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand peers; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand peers; and __fish_seen_subcommand_from remove" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand peers; and __fish_seen_subcommand_from list" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand peers; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand peers; and __fish_seen_subcommand_from list" -l json -d 'Print one JSON object'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand peers; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand peers; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand fanout" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand fanout" -l commit -d 'The commit to deliver' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand fanout" -l branch -d 'The branch being delivered: peers without their own `branch` must be on it (default: the current branch)' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand fanout" -l peer -d 'Only these peers (repeatable; default: all)' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand fanout" -s j -l jobs -d 'Peers handled at once (default: 8)' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand fanout" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand fanout" -l dry-run -d 'Check every peer and say what would happen; change nothing, record nothing'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand fanout" -l accept-new-host-keys -d 'Trust and remember SSH host keys seen for the first time (never a changed key)'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand fanout" -l status -d 'Deliver nothing: show each peer\'s latest evidence for the commit, push-mode notes and pull-mode agent reports merged'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand fanout" -l json -d 'Print one JSON object'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand fanout" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand fanout" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand agent" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand agent" -l name -d 'The peer\'s name, its report ref (default: git config fleet.peerName, else the host name)' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand agent" -l remote -d 'The remote to fetch from and report to (default: the peer\'s declared remote, else origin)' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand agent" -l branch -d 'The branch this peer follows (default: the declared branch, else the current branch)' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand agent" -l reload -d 'Command run after a move (and again while owed); default: the peer\'s declared reload, if any' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand agent" -l health -d 'Health check command (default: the peer\'s declared health)' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand agent" -l readback -d 'Command that must print the commit (default: the declared readback)' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand agent" -l interval -d 'The timer\'s interval (systemd time span)' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand agent" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand agent" -l dry-run -d 'Check and say what would happen; change, record and push nothing'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand agent" -l no-push -d 'Record the report here only; do not push it'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand agent" -l install-timer -d 'Write a systemd user service and timer running the agent in this checkout, print where, and exit (enable with systemctl --user)'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand agent" -l json -d 'Print one JSON object'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand agent" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand agent" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand proof" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand proof" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand proof" -l json -d 'Print one JSON object'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand proof" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand proof" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand hooks; and not __fish_seen_subcommand_from install uninstall status" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand hooks; and not __fish_seen_subcommand_from install uninstall status" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand hooks; and not __fish_seen_subcommand_from install uninstall status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand hooks; and not __fish_seen_subcommand_from install uninstall status" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand hooks; and not __fish_seen_subcommand_from install uninstall status" -f -a "install" -d 'Install git-fleet\'s hooks (default: --pre-commit --post-push)'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand hooks; and not __fish_seen_subcommand_from install uninstall status" -f -a "uninstall" -d 'Remove git-fleet\'s block from its hooks (default: from all of them)'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand hooks; and not __fish_seen_subcommand_from install uninstall status" -f -a "status" -d 'Show which git-fleet hooks are installed, and where'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand hooks; and __fish_seen_subcommand_from install" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand hooks; and __fish_seen_subcommand_from install" -l pre-commit -d 'The pre-commit check of the staged desired state'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand hooks; and __fish_seen_subcommand_from install" -l post-push -d 'Fanout in the background after each successful push'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand hooks; and __fish_seen_subcommand_from install" -l pre-receive -d 'Server side: bounded writes on push'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand hooks; and __fish_seen_subcommand_from install" -l post-receive -d 'Server side: reconcile after a push changes a desired file'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand hooks; and __fish_seen_subcommand_from install" -l json -d 'Print one JSON object'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand hooks; and __fish_seen_subcommand_from install" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand hooks; and __fish_seen_subcommand_from install" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand hooks; and __fish_seen_subcommand_from install" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand hooks; and __fish_seen_subcommand_from uninstall" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand hooks; and __fish_seen_subcommand_from uninstall" -l pre-commit -d 'The pre-commit check of the staged desired state'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand hooks; and __fish_seen_subcommand_from uninstall" -l post-push -d 'Fanout in the background after each successful push'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand hooks; and __fish_seen_subcommand_from uninstall" -l pre-receive -d 'Server side: bounded writes on push'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand hooks; and __fish_seen_subcommand_from uninstall" -l post-receive -d 'Server side: reconcile after a push changes a desired file'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand hooks; and __fish_seen_subcommand_from uninstall" -l json -d 'Print one JSON object'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand hooks; and __fish_seen_subcommand_from uninstall" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand hooks; and __fish_seen_subcommand_from uninstall" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand hooks; and __fish_seen_subcommand_from uninstall" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand hooks; and __fish_seen_subcommand_from status" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand hooks; and __fish_seen_subcommand_from status" -l json -d 'Print one JSON object'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand hooks; and __fish_seen_subcommand_from status" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand hooks; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand hooks; and __fish_seen_subcommand_from status" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand hook" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand hook" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand hook" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand hook" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand reconcile" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand reconcile" -l rev -d 'Read the desired file at this revision' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand reconcile" -l max-proposals -d 'Open at most N proposals in this tick' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand reconcile" -l wait -d 'If another tick of the target is running, wait up to DURATION for it (30s, 5m, 1h; default: refuse at once)' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand reconcile" -l interval -d 'Time between ticks with --watch: 30s, 5m, 1h (default 5m)' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand reconcile" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand reconcile" -l all -d 'Reconcile every known target'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand reconcile" -l allow-empty -d 'Read a missing or empty desired file as an empty fleet, on purpose (default: refuse; every resource would be proposed for destruction)'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand reconcile" -l watch -d 'Keep reconciling: one tick per target every --interval, until SIGINT/SIGTERM'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand reconcile" -s v -l verbose -d 'List every proposal applied, failed or held for review (default: counts per kind and change, and the first few)'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand reconcile" -l json -d 'Print one JSON object (with --watch: one per tick, a line each)'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand reconcile" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand reconcile" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand proposals" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand proposals" -l target -d 'Only this target\'s proposals' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand proposals" -l state -d 'Only proposals in this state (pending_review, approved, applied, rejected, ignored, failed)' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand proposals" -l at -d 'The proposals and their states as recorded at WHEN: a date or a revision (see `git fleet why`); reads only' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand proposals" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand proposals" -l json -d 'Print one JSON object'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand proposals" -s h -l help -d 'Print help'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand proposals" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand show" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand show" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand show" -l json -d 'Print one JSON object'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand show" -s h -l help -d 'Print help'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand show" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand approve" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand approve" -l reason -d 'Why (recorded with the transition)' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand approve" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand approve" -l json -d 'Print one JSON object'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand approve" -s h -l help -d 'Print help'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand approve" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand reject" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand reject" -l reason -d 'Why (recorded with the transition)' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand reject" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand reject" -l json -d 'Print one JSON object'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand reject" -s h -l help -d 'Print help'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand reject" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand ignore" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand ignore" -l reason -d 'Why (recorded with the transition)' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand ignore" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand ignore" -l json -d 'Print one JSON object'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand ignore" -s h -l help -d 'Print help'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand ignore" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand apply" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand apply" -l target -d 'Limit --approved to one target' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand apply" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand apply" -l approved -d 'Apply every approved proposal (of --target, or of every target)'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand apply" -l despite-halt -d 'Apply although automation is halted; the receipt records it'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand apply" -l json -d 'Print one JSON object'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand apply" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand apply" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand halt" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand halt" -l reason -d 'Why (recorded in refs/fleet/halt and the receipt)' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand halt" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand halt" -l json -d 'Print one JSON object'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand halt" -s h -l help -d 'Print help'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand halt" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand resume" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand resume" -l reason -d 'Why (recorded in refs/fleet/halt and the receipt)' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand resume" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand resume" -l json -d 'Print one JSON object'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand resume" -s h -l help -d 'Print help'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand resume" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand runs" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand runs" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand runs" -l json -d 'Print one JSON object'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand runs" -s h -l help -d 'Print help'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand runs" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand gc" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand gc" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand gc" -l dry-run -d 'Say what would be dropped; change nothing'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand gc" -l json -d 'Print one JSON object'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand gc" -s h -l help -d 'Print help'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand gc" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand rollback" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand rollback" -l to -d 'The snapshot commit (from `git fleet snapshot --log`) to return to' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand rollback" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand rollback" -l json -d 'Print one JSON object'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand rollback" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand rollback" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand demo" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand demo" -l dir -d 'Build the sandbox in DIR (new or empty) and keep it' -r -F
complete -c git-fleet -n "__fish_git_fleet_using_subcommand demo" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand demo" -l keep -d 'Keep the temporary sandbox and print its path'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand demo" -l json -d 'Also print one JSON object at the end (path, seconds)'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand demo" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand demo" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and not __fish_seen_subcommand_from log show verify append" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and not __fish_seen_subcommand_from log show verify append" -s n -l max-count -d 'Show at most N receipts (the newest)' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and not __fish_seen_subcommand_from log show verify append" -l at -d 'The log as it was at WHEN: a date or a revision (see `git fleet why`)' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and not __fish_seen_subcommand_from log show verify append" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and not __fish_seen_subcommand_from log show verify append" -l json -d 'Print one JSON object'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and not __fish_seen_subcommand_from log show verify append" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and not __fish_seen_subcommand_from log show verify append" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and not __fish_seen_subcommand_from log show verify append" -f -a "log" -d 'List receipts, newest first'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and not __fish_seen_subcommand_from log show verify append" -f -a "show" -d 'Show the receipts in the note on a commit'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and not __fish_seen_subcommand_from log show verify append" -f -a "verify" -d 'Verify the receipt log: hash chain, signatures, and notes against the log'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and not __fish_seen_subcommand_from log show verify append" -f -a "append" -d 'Append a receipt (plumbing for scripts and tests; apply, halt and resume write their own)'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and __fish_seen_subcommand_from log" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and __fish_seen_subcommand_from log" -s n -l max-count -d 'Show at most N receipts (the newest)' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and __fish_seen_subcommand_from log" -l at -d 'The log as it was at WHEN: a date or a revision (see `git fleet why`)' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and __fish_seen_subcommand_from log" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and __fish_seen_subcommand_from log" -l json -d 'Print one JSON object'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and __fish_seen_subcommand_from log" -s h -l help -d 'Print help'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and __fish_seen_subcommand_from log" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and __fish_seen_subcommand_from show" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and __fish_seen_subcommand_from show" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and __fish_seen_subcommand_from show" -l json -d 'Print one JSON object'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and __fish_seen_subcommand_from show" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and __fish_seen_subcommand_from verify" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and __fish_seen_subcommand_from verify" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and __fish_seen_subcommand_from verify" -l json -d 'Print one JSON object'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and __fish_seen_subcommand_from verify" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and __fish_seen_subcommand_from append" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and __fish_seen_subcommand_from append" -l action -d 'What happened (Fleet-Action), e.g. apply, halt, deploy' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and __fish_seen_subcommand_from append" -l commit -d 'The commit (or other revision) the receipt is about; its note gets the block' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and __fish_seen_subcommand_from append" -l target -d 'Fleet-Target' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and __fish_seen_subcommand_from append" -l proposal -d 'Fleet-Proposal' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and __fish_seen_subcommand_from append" -l change -d 'Fleet-Change' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and __fish_seen_subcommand_from append" -l policy -d 'Fleet-Policy: the rule that allowed the change' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and __fish_seen_subcommand_from append" -l before -d 'Fleet-Before' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and __fish_seen_subcommand_from append" -l after -d 'Fleet-After' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and __fish_seen_subcommand_from append" -l trailer -d 'Another trailer, KEY=VALUE (KEY gets a Fleet- prefix if it lacks one). Repeatable' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and __fish_seen_subcommand_from append" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and __fish_seen_subcommand_from append" -l json -d 'Print one JSON object'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and __fish_seen_subcommand_from append" -s h -l help -d 'Print help'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand receipts; and __fish_seen_subcommand_from append" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand policy; and not __fish_seen_subcommand_from check" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand policy; and not __fish_seen_subcommand_from check" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand policy; and not __fish_seen_subcommand_from check" -s h -l help -d 'Print help'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand policy; and not __fish_seen_subcommand_from check" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand policy; and not __fish_seen_subcommand_from check" -f -a "check" -d 'Check commits against the policy, as the pre-receive hook does'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand policy; and __fish_seen_subcommand_from check" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand policy; and __fish_seen_subcommand_from check" -l rev -d 'Commits to check (default: @{upstream}..HEAD, or HEAD alone without an upstream)' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand policy; and __fish_seen_subcommand_from check" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand policy; and __fish_seen_subcommand_from check" -l json -d 'Print one JSON object'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand policy; and __fish_seen_subcommand_from check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand policy; and __fish_seen_subcommand_from check" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand sync" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand sync" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand sync" -l json -d 'Print one JSON object'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand sync" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand sync" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand why" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand why" -l target -d 'The target whose live state to compare with (default: the only known one; none known: desired only)' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand why" -l at -d 'Everything as it was at WHEN: a date or a revision' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand why" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand why" -l json -d 'Print one JSON object'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand why" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand why" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand history" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand history" -l target -d 'The target whose records to include (default: the only known one)' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand history" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand history" -l json -d 'Print one JSON object'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand history" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand history" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand get" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand get" -l target -d 'The target whose desired file is read (default: the only known one)' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand get" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand get" -l json -d 'Print one JSON object'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand get" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand get" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand set" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand set" -l target -d 'The target whose desired file is edited (default: the only known one)' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand set" -l live -d 'Change live of TARGET through its driver instead of desired (as apply does: approved proposals, intent and completing receipts); the drift is then reported for `git fleet adopt`' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand set" -s m -d 'The commit message\'s body' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand set" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand set" -l dry-run -d 'Show what would change; write nothing'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand set" -l json -d 'Print one JSON object'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand set" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand set" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand adopt" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand adopt" -l select -d 'Only these resources (kind/name-glob or node=NAME; repeatable)' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand adopt" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand adopt" -l dry-run -d 'Show what would change; write nothing'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand adopt" -l json -d 'Print one JSON object'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand adopt" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand adopt" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand variants" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand variants" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand variants" -l json -d 'Print one JSON object'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand variants" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand variants" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand promote" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand promote" -l select -d 'Only these resources (kind/name-glob or node=NAME; repeatable)' -r
complete -c git-fleet -n "__fish_git_fleet_using_subcommand promote" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand promote" -l dry-run -d 'Show what would change; write nothing'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand promote" -l json -d 'Print one JSON object'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand promote" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand promote" -s V -l version -d 'Print version'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand mcp" -l color -d 'When to color human output' -r -f -a "auto\t''
always\t''
never\t''"
complete -c git-fleet -n "__fish_git_fleet_using_subcommand mcp" -s q -l quiet -d 'Quiet, like git: no status lines, and reports of what a command did (init, reconcile) are not printed; errors, data you asked for (listings, --json) and the exit code still tell'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand mcp" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c git-fleet -n "__fish_git_fleet_using_subcommand mcp" -s V -l version -d 'Print version'
