#!/usr/bin/env bash
# bench/reconcile.sh: one reconcile tick over ~10,000 diffs with the default cap
# of 25 (goal <= 0.5 s, peak memory <= 64 MiB), and `proposals --json` with
# ~10,000 stored proposals against plain git reading the same records
# (`git ls-tree -r` + `git cat-file --batch`).
#
#   bench/reconcile.sh             build release, run
#   SKIP_BUILD=1 BIN=... bench/reconcile.sh
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
BIN=${BIN:-$ROOT/target/release/git-fleet}
T="python3 $HERE/timeit.py"
say() { echo "reconcile.sh: $*" >&2; }

if [ -z "${SKIP_BUILD:-}" ]; then
    "$ROOT/build-release.sh" >&2
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/fleet-bench-reconcile.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
export HOME=$TMP/home GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null NO_COLOR=1
export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.invalid
export GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=bench@example.invalid
mkdir -p "$HOME"
REPO=$TMP/repo
git init -q -b main "$REPO"
python3 "$HERE/gen_fleet.py" --seed 3 --nodes 3300 --out "$REPO/fleet.yaml" 2>/dev/null
printf '[targets.bench]\n' > "$REPO/fleet.toml"
git -C "$REPO" add fleet.yaml fleet.toml
git -C "$REPO" commit -q -m "fleet"
cd "$REPO"
# Live is empty, on record: diff and reconcile refuse a target without a snapshot.
: >"$TMP/empty.yaml"
"$BIN" snapshot bench --from "$TMP/empty.yaml" --allow-empty >/dev/null
DIFFS=$("$BIN" diff bench --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["totals"]["changes"])')
echo "# $DIFFS diffs (live is empty: every resource is a create); cap 25 per tick"

ticks=()
for i in 1 2 3 4 5; do
    out=$( { /usr/bin/time -f "%e %M" "$BIN" reconcile bench >/dev/null || true; } 2>&1 | tail -1 )
    ticks+=("$out")
done
secs=$(printf '%s\n' "${ticks[@]}" | awk '{print $1}' | sort -n | sed -n 3p)
peak=$(printf '%s\n' "${ticks[@]}" | awk '{print $2}' | sort -n | tail -1)
echo "git fleet reconcile (one tick, cap 25, median of 5): ${secs} s, peak RSS $((peak / 1024)) MiB (max of 5)"

fill=$( { /usr/bin/time -f "%e %M" "$BIN" reconcile bench --max-proposals 100000 >/dev/null || true; } 2>&1 | tail -1 )
STORED=$(git ls-tree -r refs/fleet/proposals/bench | wc -l)
echo "# one uncapped tick opening the rest: $(echo "$fill" | awk '{print $1}') s, peak RSS $(( $(echo "$fill" | awk '{print $2}') / 1024 )) MiB; $STORED proposals stored"

tick_after=$( { /usr/bin/time -f "%e %M" "$BIN" reconcile bench >/dev/null || true; } 2>&1 | tail -1 )
echo "git fleet reconcile with $STORED stored proposals (nothing new to open): $(echo "$tick_after" | awk '{print $1}') s, peak RSS $(( $(echo "$tick_after" | awk '{print $2}') / 1024 )) MiB"

ours=(); theirs=()
for i in 1 2 3 4 5; do
    ours+=("$($T run -- "$BIN" proposals --target bench --json)")
    theirs+=("$($T run -- sh -c 'git ls-tree -r refs/fleet/proposals/bench | awk "{print \$3}" | git cat-file --batch >/dev/null')")
done
o=$($T median "${ours[@]}"); g=$($T median "${theirs[@]}")
echo "git fleet proposals --json ($STORED proposals, median of 5): $o ms"
echo "git ls-tree -r + git cat-file --batch of the same blobs (median of 5): $g ms"
echo "ratio fleet/git: $($T ratio "$o" "$g")"
echo "rerun: (cd $ROOT && bench/reconcile.sh)"
