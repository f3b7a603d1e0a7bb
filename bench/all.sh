#!/usr/bin/env bash
# bench/all.sh: run the benchmark set in one go (small sizes by default, a
# full run in well under 10 minutes on the project's 2-core machine) and print
# one table of the ratios against plain git.
#
#   bench/all.sh                    build release once, run every script
#   SKIP_BUILD=1 bench/all.sh       time the binary as it is
#   FULL=1 bench/all.sh             each script's own default sizes (slow)
#   ONLY="diff notes" bench/all.sh  a subset (names of bench/*.sh)
#
# Each script's whole output is kept in $LOGS (printed at the end); the table
# is every line of theirs that states a ratio. Needs what the scripts need:
# bash, git, python3, cargo.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
LOGS=${LOGS:-$(mktemp -d "${TMPDIR:-/tmp}/fleet-bench-all.XXXXXX")}
ONLY=${ONLY:-diff notes sync reconcile fanout fanout_ssh verify proof_reports}

say() { echo "all.sh: $*" >&2; }

if [ -z "${SKIP_BUILD:-}" ]; then
    say "build-release.sh (cargo, release)"
    "$ROOT/build-release.sh" >&2 || { say "build-release.sh failed"; exit 2; }
fi
export SKIP_BUILD=1

# Small sizes: enough work per timed command that the ratios mean something,
# little enough that the set finishes in a few minutes.
sizes() {
    [ -n "${FULL:-}" ] && return
    case $1 in
        diff) echo "ITER=5" ;;
        notes) echo "NOTES=20000 APPENDS=10" ;;
        sync) echo "RECEIPTS=2000" ;;
        fanout) echo "PEERS=20 FILES=500" ;;
        fanout_ssh) echo "PEERS=10 FILES=200" ;;
        verify) echo "N=1000" ;;
    esac
}

FAILED=()
for name in $ONLY; do
    script=$HERE/$name.sh
    [ -f "$script" ] || { say "no bench/$name.sh: skipped"; continue; }
    env_=$(sizes "$name")
    say "$env_ bench/$name.sh"
    start=$(date +%s)
    # shellcheck disable=SC2086
    if env $env_ bash "$script" >"$LOGS/$name.out" 2>"$LOGS/$name.err"; then
        say "bench/$name.sh: $(( $(date +%s) - start )) s"
    else
        say "bench/$name.sh FAILED (see $LOGS/$name.err)"
        FAILED+=("$name")
    fi
done

echo "# bench/all.sh on $(uname -n), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $(git --version)"
printf '%-10s | %s\n' "benchmark" "ratio (against plain git unless said)"
printf '%-10s-+-%s\n' "----------" "--------------------------------------"
for name in $ONLY; do
    out=$LOGS/$name.out
    [ -f "$out" ] || continue
    { grep -iE '\bratio\b|/ xargs|/ sequential|/ ssh loop' "$out" || true; } | sed 's/^ *//' |
        while IFS= read -r line; do printf '%-10s | %s\n' "$name" "$line"; done
done
for name in "${FAILED[@]}"; do printf '%-10s | FAILED (see %s)\n' "$name" "$LOGS/$name.err"; done
echo "# each script's output: $LOGS/<name>.out; rerun: (cd $ROOT && bench/all.sh)"
[ ${#FAILED[@]} -eq 0 ]
