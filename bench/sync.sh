#!/usr/bin/env bash
# bench/sync.sh: `git fleet sync` of ~10,000 receipts and ~1,000 proposals
# between two clones, against `git fetch` + `git push` of the same refs in the
# same run (goal: at most 2x).
#
#   bench/sync.sh                       build release, 10,000 receipts
#   RECEIPTS=2000 SKIP_BUILD=1 bench/sync.sh
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
BIN=${BIN:-$ROOT/target/release/git-fleet}
RECEIPTS=${RECEIPTS:-10000}
T="python3 $HERE/timeit.py"
say() { echo "sync.sh: $*" >&2; }

if [ -z "${SKIP_BUILD:-}" ]; then
    "$ROOT/build-release.sh" >&2
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/fleet-bench-sync.XXXXXX")
trap 'rm -rf "$TMP" 2>/dev/null || true' EXIT
export HOME=$TMP/home GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null NO_COLOR=1
export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.invalid
export GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=bench@example.invalid
mkdir -p "$HOME"
git init -q --bare -b main "$TMP/origin.git"
A=$TMP/a
git init -q -b main "$A"
python3 "$HERE/gen_fleet.py" --seed 5 --nodes 330 --out "$A/fleet.yaml" 2>/dev/null
printf '[targets.bench]\n' > "$A/fleet.toml"
git -C "$A" add fleet.yaml fleet.toml
git -C "$A" commit -q -m fleet
git -C "$A" remote add origin "$TMP/origin.git"
git -C "$A" push -q origin main
cd "$A"
# Live is empty, on record: diff and reconcile refuse a target without a snapshot.
: >"$TMP/empty.yaml"
"$BIN" snapshot bench --from "$TMP/empty.yaml" --allow-empty >/dev/null
"$BIN" reconcile bench --max-proposals 100000 >/dev/null || true
PROPOSALS=$(git ls-tree -r refs/fleet/proposals/bench | wc -l)
say "writing $RECEIPTS receipts on as many commits (one process each; this takes a while)"
HEAD=$(git rev-parse HEAD)
# One receipt per commit, as in real use (a note per applied commit).
python3 - "$RECEIPTS" <<'PY' | git fast-import --quiet
import sys
n = int(sys.argv[1])
for i in range(n):
    msg = f"bench commit {i}\n".encode()
    print("commit refs/heads/bench-objects")
    print(f"committer Bench <bench@example.invalid> {1700000000 + i} +0000")
    print(f"data {len(msg)}")
    sys.stdout.flush()
    sys.stdout.buffer.write(msg)
    print()
PY
git rev-list refs/heads/bench-objects > "$TMP/commits"
i=0
while read -r c; do
    i=$((i + 1))
    "$BIN" receipts append --action bench --commit "$c" --trailer "Seq=$i" >/dev/null 2>&1
done < "$TMP/commits"
"$BIN" sync origin >/dev/null
echo "# $RECEIPTS receipts, $PROPOSALS proposals, pushed by clone A"

fresh_clone() { rm -rf "$1"; git clone -q "$TMP/origin.git" "$1"; }
ours=(); theirs=()
for i in 1 2 3; do
    fresh_clone "$TMP/b"
    ours+=("$($T run --cwd "$TMP/b" -- "$BIN" sync origin)")
    fresh_clone "$TMP/c"
    theirs+=("$($T run --cwd "$TMP/c" -- sh -c 'git fetch -q origin "+refs/fleet/*:refs/fleet/*" "+refs/notes/fleet/*:refs/notes/fleet/*" && git push -q origin "refs/fleet/*:refs/fleet/*" "refs/notes/fleet/*:refs/notes/fleet/*"')")
done
o=$($T median "${ours[@]}"); g=$($T median "${theirs[@]}")
echo "first sync of a fresh clone (median of 3): git fleet sync $o ms; git fetch + git push of the same refs $g ms; ratio $($T ratio "$o" "$g")"

# Both sides record one more receipt: sync must merge the two logs.
cd "$TMP/b"
merge_ours=(); merge_theirs=()
for i in 1 2 3; do
    (cd "$A" && "$BIN" receipts append --action bench --commit "$HEAD" --trailer "A=$i" >/dev/null 2>&1 && "$BIN" sync origin >/dev/null)
    "$BIN" receipts append --action bench --commit "$HEAD" --trailer "B=$i" >/dev/null 2>&1
    merge_ours+=("$($T run --cwd "$TMP/b" -- "$BIN" sync origin)")
    merge_theirs+=("$($T run --cwd "$TMP/c" -- sh -c 'git fetch -q origin "+refs/fleet/*:refs/fleet-x/*" "+refs/notes/fleet/*:refs/notes/fleet-x/*" && git push -q origin "refs/fleet/*:refs/fleet-y/*"')")
done
o=$($T median "${merge_ours[@]}"); g=$($T median "${merge_theirs[@]}")
echo "sync after both sides wrote a receipt (merge of the logs, median of 3): git fleet sync $o ms; git fetch + git push $g ms; ratio $($T ratio "$o" "$g")"
"$BIN" receipts verify >/dev/null 2>&1 && echo "# receipts verify after the merges: ok"
echo "rerun: (cd $ROOT && bench/sync.sh)"
