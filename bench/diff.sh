#!/usr/bin/env bash
# bench/diff.sh: how long `git fleet diff` takes on a ~1 MiB fleet.yaml with a
# 1% edit, against `git diff --no-index` of the same pair of files.
#
#   bench/diff.sh                  build release, run 10 iterations
#   ITER=20 bench/diff.sh          more iterations
#   SKIP_BUILD=1 bench/diff.sh     use the binary as it is
#   BIN=/path/to/git-fleet bench/diff.sh
#   KEEP=1 bench/diff.sh           keep the temp dir (its path is printed)
#   SHAPES=small bench/diff.sh     one shape only (default: "default small")
#   FULL=1 bench/diff.sh           also time GIT_FLEET_NO_CACHE=1 (full parse)
#   OLD=/path/to/old/git-fleet bench/diff.sh
#                                  also time another build (in its own repo:
#                                  its own parse cache) in the same
#                                  iterations: old/git and new/old, pair by pair
#
# Shapes (gen_fleet.py --shape): "default" is ~80 modules and ~3 assignments
# per node (11,088 assignments); "small" is many small resources, fewer large
# ones: 120 modules, 4 assignments per node (14,800 assignments). Each timed
# iteration writes a new mutation into the work tree's fleet.yaml and times,
# interleaved: `diff staging` (human output), `diff staging --json`, and
# `git diff --no-index A B`; ratios are medians over iterations.
#
# Every timed diff sees a mutation the tool has never seen (mutation seed =
# iteration number), so a cache can only help with the unchanged part.
# Results go to stdout, progress to stderr. Needs bash, git, python3, cargo.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
ITER=${ITER:-10}
SHAPES=${SHAPES:-default small}
BIN=${BIN:-$ROOT/target/release/git-fleet}
GEN="python3 $HERE/gen_fleet.py"
T="python3 $HERE/timeit.py"

say() { echo "diff.sh: $*" >&2; }
die() { say "error: $*"; exit 2; }

if [ -z "${SKIP_BUILD:-}" ]; then
    say "build-release.sh (cargo, release)"
    "$ROOT/build-release.sh" >&2 || die "build-release.sh failed"
fi
[ -x "$BIN" ] || die "no binary at $BIN"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/fleet-bench-diff.XXXXXX")
if [ -n "${KEEP:-}" ]; then say "keeping $TMP"; else trap 'rm -rf "$TMP"' EXIT; fi
mkdir -p "$TMP/home"

# isolated, reproducible git environment
export HOME=$TMP/home GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null NO_COLOR=1
export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.invalid
export GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=bench@example.invalid

echo "# $(git --version); binary $BIN; $ITER iterations per shape; load average $(cut -d' ' -f1-3 /proc/loadavg)"

for SHAPE in $SHAPES; do
REPO=$TMP/$SHAPE/repo
DATA=$TMP/$SHAPE/data
mkdir -p "$REPO" "$DATA"
git init -q -b main "$REPO"
git -C "$REPO" config user.name Bench
git -C "$REPO" config user.email bench@example.invalid

A=$DATA/A.yaml
$GEN --seed 1 --shape "$SHAPE" --out "$A" 2>"$TMP/gen.log" || { cat "$TMP/gen.log" >&2; die "gen_fleet.py failed"; }
A_INFO=$(sed -n 's/^gen_fleet: wrote [^:]*: //p' "$TMP/gen.log")
cp "$A" "$REPO/fleet.yaml"
git -C "$REPO" add fleet.yaml
git -C "$REPO" commit -q -m "fleet.yaml (bench seed 1, shape $SHAPE)"

say "[$SHAPE] snapshot staging --from A"
(cd "$REPO" && "$BIN" snapshot staging --from "$A" >/dev/null) || die "\`git-fleet snapshot staging --from A\` failed"
if [ -n "${OLD:-}" ]; then
    [ -x "$OLD" ] || die "no binary at OLD=$OLD"
    OREPO=$TMP/$SHAPE/old
    git init -q -b main "$OREPO"
    cp "$A" "$OREPO/fleet.yaml"
    git -C "$OREPO" add fleet.yaml
    git -C "$OREPO" commit -q -m "fleet.yaml (bench seed 1, shape $SHAPE)"
    (cd "$OREPO" && "$OLD" snapshot staging --from "$A" >/dev/null) || die "OLD snapshot failed"
fi
old_diff() { $T run --cwd "$OREPO" --ok 0,1 -- "$OLD" diff staging "$@"; }

mutation() { # seed -> path of a fresh mutation of A
    local out=$DATA/B$1.yaml
    $GEN --mutate "$A" --seed "$1" --out "$out" 2>"$TMP/gen.log" || { cat "$TMP/gen.log" >&2; die "gen_fleet.py --mutate failed"; }
    echo "$out"
}
fleet_diff() { # [--env K=V] [args] -> ms; the work tree's fleet.yaml
    local envopt=()
    if [ "${1:-}" = --env ]; then envopt=(--env "$2"); shift 2; fi
    $T run --cwd "$REPO" --ok 0,1 ${envopt[@]+"${envopt[@]}"} -- "$BIN" diff staging "$@"
}
git_diff() { $T run --cwd "$REPO" --ok 0,1 -- git diff --no-index "$A" "$1"; }

# cold: the first diff after the snapshot, on an edit never seen
B=$(mutation 1000) || exit 2
B_INFO=$(sed -n 's/^gen_fleet: mutated [^:]*: //p' "$TMP/gen.log")
cp "$B" "$REPO/fleet.yaml"
say "[$SHAPE] cold diff"
COLD=$(fleet_diff) || die "\`git-fleet diff staging\` failed"
if [ -n "${OLD:-}" ]; then
    cp "$B" "$OREPO/fleet.yaml"
    OCOLD=$(old_diff) || die "OLD diff failed"
    (cd "$OREPO" && "$OLD" diff staging --json >"$TMP/old.json" 2>/dev/null) || true
    (cd "$REPO" && "$BIN" diff staging --json >"$TMP/new.json" 2>/dev/null) || true
    # the same JSON but for the snapshot commit (each repo recorded its own)
    SAME=$(python3 - "$TMP/old.json" "$TMP/new.json" <<'EOF3'
import json, sys
a, b = (json.load(open(p, encoding="utf-8")) for p in sys.argv[1:3])
for d in (a, b):
    d.pop("snapshot", None)
print("same JSON (but the snapshot id)" if a == b else "WARNING: the JSON differs")
EOF3
)
fi

# sanity (untimed): one JSON object on stdout, reporting as many changes as
# the generator made (exit 0 or 1: 1 only means "diffs" with --exit-code)
set +e
(cd "$REPO" && "$BIN" diff staging --json >"$TMP/out.json" 2>"$TMP/err.txt")
CODE=$?
set -e
EXPECTED=$(printf '%s' "$B_INFO" | sed -n 's/^\([0-9]*\) of .*/\1/p')
SANITY=$(python3 - "$TMP/out.json" "$CODE" "$EXPECTED" <<'EOF2'
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
EOF2
)

HUMAN=() JSON=() GIT=() FULL_=() RH=() RJ=() OH=() OJ=() ROH=() ROJ=() NOH=() NOJ=()
for i in $(seq 1 "$ITER"); do
    say "[$SHAPE] iteration $i/$ITER"
    B=$(mutation "$i") || exit 2
    cp "$B" "$REPO/fleet.yaml"
    h=$(fleet_diff) || die "\`git-fleet diff staging\` failed"
    g=$(git_diff "$B") || die "git diff --no-index failed"
    j=$(fleet_diff --json) || die "\`git-fleet diff staging --json\` failed"
    HUMAN+=("$h") GIT+=("$g") JSON+=("$j")
    RH+=("$($T ratio "$h" "$g")") RJ+=("$($T ratio "$j" "$g")")
    if [ -n "${OLD:-}" ]; then
        cp "$B" "$OREPO/fleet.yaml"
        oh=$(old_diff) || die "OLD diff failed"
        oj=$(old_diff --json) || die "OLD diff --json failed"
        OH+=("$oh") OJ+=("$oj")
        ROH+=("$($T ratio "$oh" "$g")") ROJ+=("$($T ratio "$oj" "$g")")
        NOH+=("$($T ratio "$h" "$oh")") NOJ+=("$($T ratio "$j" "$oj")")
    fi
    if [ -n "${FULL:-}" ]; then
        ms=$(fleet_diff --env GIT_FLEET_NO_CACHE=1 --json) || die "git-fleet diff (GIT_FLEET_NO_CACHE=1) failed"
        FULL_+=("$ms")
    fi
done

GIT_MED=$($T median "${GIT[@]}")
H_MED=$($T median "${HUMAN[@]}")
J_MED=$($T median "${JSON[@]}")
echo "## shape $SHAPE"
echo "# fleet.yaml A: $A_INFO"
echo "# each B: $B_INFO (seed = iteration); diff sanity: $SANITY"
echo "git fleet diff staging (work tree, human; median of $ITER): $H_MED ms"
echo "git fleet diff staging --json (work tree; median of $ITER): $J_MED ms"
echo "git diff --no-index A B (median of $ITER): $GIT_MED ms"
echo "ratio human/git ($SHAPE): median $($T rmedian "${RH[@]}") min $($T min "${RH[@]}") (pair by pair)"
echo "ratio json/git ($SHAPE): median $($T rmedian "${RJ[@]}") min $($T min "${RJ[@]}") (pair by pair)"
echo "git fleet diff, cold (first diff after snapshot, human, 1 run): $(printf '%.1f' "$COLD") ms; ratio cold/git ($SHAPE): $($T ratio "$COLD" "$GIT_MED")"
if [ -n "${OLD:-}" ]; then
    echo "OLD $OLD: diff staging (human) $($T median "${OH[@]}") ms, --json $($T median "${OJ[@]}") ms (medians of $ITER); cold $(printf '%.1f' "$OCOLD") ms; first diff: $SAME"
    echo "ratio OLD human/git ($SHAPE): median $($T rmedian "${ROH[@]}") min $($T min "${ROH[@]}"); OLD json/git: median $($T rmedian "${ROJ[@]}") min $($T min "${ROJ[@]}") (pair by pair)"
    echo "ratio new/OLD ($SHAPE): human median $($T rmedian "${NOH[@]}"), json median $($T rmedian "${NOJ[@]}") (pair by pair); cold new/OLD $($T ratio "$COLD" "$OCOLD")"
fi
if [ -n "${FULL:-}" ]; then
    FULL_MED=$($T median "${FULL_[@]}")
    echo "git fleet diff, GIT_FLEET_NO_CACHE=1 full parse (median of $ITER): $FULL_MED ms; ratio full-parse/git: $($T ratio "$FULL_MED" "$GIT_MED")"
fi
done
RERUN=bench/diff.sh; [ "$ITER" = 10 ] || RERUN="ITER=$ITER $RERUN"
echo "rerun: (cd $ROOT && $RERUN)"
