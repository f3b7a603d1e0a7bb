#!/usr/bin/env bash
# bench/diff.sh: how long `git fleet diff` takes on a ~1 MiB fleet.yaml with a
# 1% edit, against `git diff --no-index` of the same pair of files.
#
#   bench/diff.sh                  build release, run 10 iterations
#   ITER=20 bench/diff.sh          more iterations
#   SKIP_BUILD=1 bench/diff.sh     use the binary as it is
#   BIN=/path/to/git-fleet bench/diff.sh
#   KEEP=1 bench/diff.sh           keep the temp dir (its path is printed)
#
# Every timed diff sees a mutation the tool has never seen (mutation seed =
# iteration number), so a cache can only help with the unchanged part.
# Results go to stdout, progress to stderr. Needs bash, git, python3, cargo.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
ITER=${ITER:-10}
BIN=${BIN:-$ROOT/target/release/git-fleet}
GEN="python3 $HERE/gen_fleet.py"
T="python3 $HERE/timeit.py"

say() { echo "diff.sh: $*" >&2; }
die() { say "error: $*"; exit 2; }

if [ -z "${SKIP_BUILD:-}" ]; then
    say "cargo build --release"
    (cd "$ROOT" && cargo build --release >&2) || die "cargo build --release failed"
fi
[ -x "$BIN" ] || die "no binary at $BIN"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/fleet-bench-diff.XXXXXX")
if [ -n "${KEEP:-}" ]; then say "keeping $TMP"; else trap 'rm -rf "$TMP"' EXIT; fi
REPO=$TMP/repo
DATA=$TMP/data
mkdir -p "$REPO" "$DATA" "$TMP/home"

# isolated, reproducible git environment
export HOME=$TMP/home GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null NO_COLOR=1
export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.invalid
export GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=bench@example.invalid
git init -q -b main "$REPO"
git -C "$REPO" config user.name Bench
git -C "$REPO" config user.email bench@example.invalid

A=$DATA/A.yaml
$GEN --seed 1 --out "$A" 2>"$TMP/gen.log" || { cat "$TMP/gen.log" >&2; die "gen_fleet.py failed"; }
A_INFO=$(sed -n 's/^gen_fleet: wrote [^:]*: //p' "$TMP/gen.log")
cp "$A" "$REPO/fleet.yaml"
git -C "$REPO" add fleet.yaml
git -C "$REPO" commit -q -m "fleet.yaml (bench seed 1)"

say "snapshot staging --from A"
(cd "$REPO" && "$BIN" snapshot staging --from "$A" >/dev/null) || die "\`git-fleet snapshot staging --from A\` failed"

mutation() { # seed -> path of a fresh mutation of A
    local out=$DATA/B$1.yaml
    $GEN --mutate "$A" --seed "$1" --out "$out" 2>"$TMP/gen.log" || { cat "$TMP/gen.log" >&2; die "gen_fleet.py --mutate failed"; }
    echo "$out"
}
fleet_diff() { # [--env K=V] file -> ms
    local envopt=()
    if [ "$1" = --env ]; then envopt=(--env "$2"); shift 2; fi
    $T run --cwd "$REPO" --ok 0,1 "${envopt[@]}" -- "$BIN" diff staging --file "$1" --json
}
git_diff() { $T run --cwd "$REPO" --ok 0,1 -- git diff --no-index "$A" "$1"; }

# cold: the first diff after the snapshot, on an edit never seen
B=$(mutation 1000) || exit 2
B_INFO=$(sed -n 's/^gen_fleet: mutated [^:]*: //p' "$TMP/gen.log")
say "cold diff"
COLD=$(fleet_diff "$B") || die "\`git-fleet diff staging --file B --json\` failed"

# sanity (untimed): one JSON object on stdout, reporting as many changes as
# the generator made (exit 0 or 1: 1 only means "diffs" with --exit-code)
set +e
(cd "$REPO" && "$BIN" diff staging --file "$B" --json >"$TMP/out.json" 2>"$TMP/err.txt")
CODE=$?
set -e
EXPECTED=$(printf '%s' "$B_INFO" | sed -n 's/^\([0-9]*\) of .*/\1/p')
SANITY=$(python3 - "$TMP/out.json" "$CODE" "$EXPECTED" <<'EOF'
import json, sys
path, code, expected = sys.argv[1], int(sys.argv[2]), sys.argv[3]
try:
    doc = json.load(open(path, encoding="utf-8"))
except Exception as e:
    print("WARNING: stdout is not one JSON object (%s)" % e); sys.exit()
if not isinstance(doc, dict):
    print("WARNING: stdout JSON is not an object"); sys.exit()
totals = doc.get("totals") if isinstance(doc.get("totals"), dict) else {}
n = totals.get("changes")
if n is None and isinstance(doc.get("changes"), list):
    n = len(doc["changes"])
if n is None:
    seen = "no totals.changes in the JSON"
elif str(n) == expected:
    seen = "%s changes reported = %s made" % (n, expected)
else:
    seen = "WARNING: %s changes reported, the generator made %s" % (n, expected)
print("exit %d, %d bytes of JSON, version=%s, %s" % (code, len(open(path, "rb").read()), doc.get("version"), seen))
EOF
)

NO_CACHE=
if grep -qa GIT_FLEET_NO_CACHE "$BIN"; then NO_CACHE=1; fi

FLEET=() GIT=() FULL=()
for i in $(seq 1 "$ITER"); do
    say "iteration $i/$ITER"
    B=$(mutation "$i") || exit 2
    ms=$(fleet_diff "$B") || die "\`git-fleet diff staging --file $B --json\` failed"
    FLEET+=("$ms")
    ms=$(git_diff "$B") || die "git diff --no-index failed"
    GIT+=("$ms")
    if [ -n "$NO_CACHE" ]; then
        ms=$(fleet_diff --env GIT_FLEET_NO_CACHE=1 "$B") || die "git-fleet diff (GIT_FLEET_NO_CACHE=1) failed"
        FULL+=("$ms")
    fi
done

FLEET_MED=$($T median "${FLEET[@]}")
GIT_MED=$($T median "${GIT[@]}")
echo "# fleet.yaml A: $A_INFO"
echo "# each B: $B_INFO (seed = iteration)"
echo "# $(git --version); binary $BIN; $ITER iterations; diff sanity: $SANITY"
echo "git fleet diff staging --file B --json (warm, median of $ITER): $FLEET_MED ms"
echo "git diff --no-index A B (median of $ITER): $GIT_MED ms"
echo "ratio fleet/git: $($T ratio "$FLEET_MED" "$GIT_MED")"
echo "git fleet diff, cold (first diff after snapshot, 1 run): $(printf '%.1f' "$COLD") ms"
if [ -n "$NO_CACHE" ]; then
    FULL_MED=$($T median "${FULL[@]}")
    echo "git fleet diff, GIT_FLEET_NO_CACHE=1 full parse (median of $ITER): $FULL_MED ms"
    echo "ratio full-parse/git: $($T ratio "$FULL_MED" "$GIT_MED")"
fi
RERUN=bench/diff.sh; [ "$ITER" = 10 ] || RERUN="ITER=$ITER $RERUN"
echo "rerun: (cd $ROOT && $RERUN)"
