#!/usr/bin/env bash
# bench/tick_memory.sh: peak memory and wall time of one reconcile tick
# (issue 13 item 3: uncapped work stays bounded).
#
#   1. one uncapped tick (--max-proposals 1000000) opening ~10,000 proposals
#      of the gen_fleet.py shape (3,300 nodes; live recorded empty):
#      goal <= 256 MiB
#   2. one tick with the default cap (25) over 100,000 diffs (50,000 small
#      assignments only in live, 50,000 only in desired; both files < 1 MiB):
#      goal <= 2 s and <= 128 MiB
#
# Figures are from `/usr/bin/time -f "%e %M %U %S"` (wall seconds, max RSS KiB,
# user and system seconds: on a shared machine CPU time is the steadier);
# each case runs RUNS times (default 3) in a fresh repository, median time and
# max RSS are reported.
#
#   bench/tick_memory.sh                 build release, run
#   SKIP_BUILD=1 BIN=... bench/tick_memory.sh
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
BIN=${BIN:-$ROOT/target/release/git-fleet}
RUNS=${RUNS:-3}
say() { echo "tick_memory.sh: $*" >&2; }

if [ -z "${SKIP_BUILD:-}" ]; then
    "$ROOT/build-release.sh" >&2
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/fleet-bench-tick.XXXXXX")
if [ -z "${KEEP:-}" ]; then trap 'rm -rf "$TMP"' EXIT; else say "keeping $TMP"; fi
export HOME=$TMP/home GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null NO_COLOR=1
export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.invalid
export GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=bench@example.invalid
unset GIT_FLEET_MAX_PROPOSALS_PER_TICK
mkdir -p "$HOME"

# The two fleets of each case, written once.
python3 "$HERE/gen_fleet.py" --seed 3 --nodes 3300 --out "$TMP/big.yaml" 2>/dev/null
python3 - "$TMP" <<'EOF'
import sys
tmp = sys.argv[1]
def fleet(lo, hi):
    lines = ["modules:", "  m: {}", "assignments:"]
    lines += [f"  n{i:06d}:m: {{}}" for i in range(lo, hi)]
    return "\n".join(lines) + "\n"
open(f"{tmp}/small_live.yaml", "w").write(fleet(0, 50000))
open(f"{tmp}/small_desired.yaml", "w").write(fleet(50000, 100000))
EOF

# repo DIR DESIRED LIVE [--allow-empty]: a repository with a recorded snapshot.
repo() {
    local dir=$1 desired=$2 live=$3
    shift 3
    rm -rf "$dir"
    git init -q -b main "$dir"
    cp "$desired" "$dir/fleet.yaml"
    printf '[targets.bench]\n' >"$dir/fleet.toml"
    git -C "$dir" add fleet.yaml fleet.toml
    git -C "$dir" commit -q -m fleet
    (cd "$dir" && "$BIN" snapshot bench --from "$live" "$@" >/dev/null)
}

# measure NAME DESIRED LIVE SNAPSHOT_FLAGS -- RECONCILE_FLAGS...
measure() {
    local name=$1 desired=$2 live=$3 sflags=$4
    shift 5
    local rows=() i out opened
    for i in $(seq 1 "$RUNS"); do
        # shellcheck disable=SC2086
        repo "$TMP/r" "$desired" "$live" $sflags
        out=$( { cd "$TMP/r" && /usr/bin/time -f "%e %M %U %S" "$BIN" reconcile bench "$@" >/dev/null || true; } 2>&1 | tail -1 )
        rows+=("$out")
        opened=$(git -C "$TMP/r" ls-tree -r refs/fleet/proposals/bench 2>/dev/null | wc -l)
    done
    local secs peak diffs cpu
    secs=$(printf '%s\n' "${rows[@]}" | awk '{print $1}' | sort -n | sed -n "$(((RUNS + 1) / 2))p")
    cpu=$(printf '%s\n' "${rows[@]}" | awk '{printf "%.2f\n", $3 + $4}' | sort -n | sed -n "$(((RUNS + 1) / 2))p")
    peak=$(printf '%s\n' "${rows[@]}" | awk '{print $2}' | sort -n | tail -1)
    diffs=$(cd "$TMP/r" && "$BIN" runs bench --json 2>/dev/null |
        python3 -c 'import json,sys; r=json.load(sys.stdin)["runs"]; print(r[0]["diffs"] if r else "?")' 2>/dev/null || echo "?")
    echo "$name: $diffs diffs, $opened proposals stored: ${secs} s wall, ${cpu} s user+sys (medians of $RUNS), peak RSS $((peak / 1024)) MiB (max of $RUNS)"
}

echo "# binary $BIN; git $(git --version | awk '{print $3}')"
measure "uncapped tick (--max-proposals 1000000), gen_fleet 3300 nodes vs empty live" \
    "$TMP/big.yaml" /dev/null "--allow-empty" -- --max-proposals 1000000
# The last repository of the uncapped case now stores every proposal: a
# default tick there opens nothing and reads them all.
rows=()
for i in $(seq 1 "$RUNS"); do
    rows+=("$( { cd "$TMP/r" && /usr/bin/time -f "%e %M %U %S" "$BIN" reconcile bench >/dev/null || true; } 2>&1 | tail -1 )")
done
echo "default-cap tick with those $(git -C "$TMP/r" ls-tree -r refs/fleet/proposals/bench | wc -l) proposals stored (nothing new): $(printf '%s\n' "${rows[@]}" | awk '{print $1}' | sort -n | sed -n "$(((RUNS + 1) / 2))p") s wall, $(printf '%s\n' "${rows[@]}" | awk '{printf "%.2f\n", $3 + $4}' | sort -n | sed -n "$(((RUNS + 1) / 2))p") s user+sys (medians of $RUNS), peak RSS $(( $(printf '%s\n' "${rows[@]}" | awk '{print $2}' | sort -n | tail -1) / 1024 )) MiB (max of $RUNS)"
measure "default-cap tick (25), 50,000 creates + 50,000 destroys" \
    "$TMP/small_desired.yaml" "$TMP/small_live.yaml" "" --
echo "rerun: (cd $ROOT && bench/tick_memory.sh)"
