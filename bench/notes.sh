#!/usr/bin/env bash
# bench/notes.sh: per-append latency of `git fleet notes append` on an empty
# notes ref and on one holding 100,000 notes, against `git notes add` on a
# ref holding 100,000 notes.
#
#   bench/notes.sh                 build release, 20 appends per case
#   APPENDS=50 bench/notes.sh      more appends per case
#   NOTES=10000 bench/notes.sh     smaller pre-existing notes refs
#   SKIP_BUILD=1 / BIN=... / KEEP=1   as in bench/diff.sh
#
# The 100k-note refs are built with `git fast-import` (its `N` command lays out
# git's 2-level fanout tree itself); every timed append goes to a fresh commit
# that has no note yet, with a text no other append wrote (so neither tool
# finds the note's blob already written). Results go to stdout, progress to
# stderr.
#
# Both tools run from a copy made with `install` into the bench's directory,
# as install.sh installs git-fleet: the linker writes its output through a
# memory map, page by page, and the kernel then keeps that file in 4 KiB page
# cache pages, which makes every start-up page fault of the binary map fewer
# pages (the same bytes ran ~30% slower that way before release/link-hot-first,
# ~10% since; bench/README.md, stop 19).
# The binary straight from the build is timed too, as a fifth case.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
APPENDS=${APPENDS:-20}
NOTES=${NOTES:-100000}
BIN=${BIN:-$ROOT/target/release/git-fleet}
T="python3 $HERE/timeit.py"

say() { echo "notes.sh: $*" >&2; }
die() { say "error: $*"; exit 2; }

if [ -z "${SKIP_BUILD:-}" ]; then
    say "build-release.sh (cargo, release)"
    "$ROOT/build-release.sh" >&2 || die "build-release.sh failed"
fi
[ -x "$BIN" ] || die "no binary at $BIN"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/fleet-bench-notes.XXXXXX")
if [ -n "${KEEP:-}" ]; then say "keeping $TMP"; else trap 'rm -rf "$TMP"' EXIT; fi
REPO=$TMP/repo
mkdir -p "$REPO" "$TMP/home" "$TMP/bin"
GIT=$(command -v git) || die "git not found"
install -m 755 "$BIN" "$TMP/bin/git-fleet"
install -m 755 "$GIT" "$TMP/bin/git"
export HOME=$TMP/home GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null NO_COLOR=1
export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.invalid
export GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=bench@example.invalid
git init -q -b main "$REPO"
git -C "$REPO" config user.name Bench
git -C "$REPO" config user.email bench@example.invalid
# no auto-gc in the middle of a timed run
git -C "$REPO" config gc.auto 0

# One fast-import stream:
#  - refs/bench/annotated: NOTES commits (empty tree) that carry the existing notes
#  - refs/bench/fresh:     4*APPENDS commits, never annotated before their timed append
#  - refs/notes/fleet/bench, refs/notes/fleet/bench2: one commit each with a
#    note on every annotated commit (fast-import picks the fanout)
say "fast-import: $NOTES annotated commits, 2 notes refs of $NOTES notes"
python3 - "$NOTES" "$((5 * APPENDS))" >"$TMP/stream" <<'EOF'
import sys
notes, fresh = int(sys.argv[1]), int(sys.argv[2])
w = sys.stdout.write
def data(s):
    b = s.encode()
    w("data %d\n" % len(b)); w(s)
def commit(ref, mark, msg, parent):
    w("commit %s\nmark :%d\ncommitter Bench <bench@example.invalid> %d +0000\n" % (ref, mark, 1700000000 + mark))
    data(msg)
    if parent:
        w("from :%d\n" % parent)
for i in range(1, notes + 1):
    commit("refs/bench/annotated", i, "annotated %d\n" % i, i - 1)
for j in range(1, fresh + 1):
    m = notes + j
    commit("refs/bench/fresh", m, "fresh %d\n" % j, m - 1 if j > 1 else 0)
for ref, body in (("refs/notes/fleet/bench", "Fleet-Bench: existing %d\n"),
                  ("refs/notes/fleet/bench2", "x %d\n")):
    m = notes + fresh + (1 if ref.endswith("bench") else 2)
    w("commit %s\nmark :%d\ncommitter Bench <bench@example.invalid> 1800000000 +0000\n" % (ref, m))
    data("Notes added by bench/notes.sh\n")
    for i in range(1, notes + 1):
        w("N inline :%d\n" % i)
        data(body % i)
w("done\n")
EOF
git -C "$REPO" fast-import --quiet --done <"$TMP/stream" || die "git fast-import failed"
rm -f "$TMP/stream"

for ref in fleet/bench fleet/bench2; do
    n=$(git -C "$REPO" notes --ref="$ref" list | wc -l)
    [ "$n" -eq "$NOTES" ] || die "refs/notes/$ref holds $n notes, expected $NOTES"
done
# (sed, not head: head would SIGPIPE ls-tree and trip pipefail)
FIRST=$(git -C "$REPO" ls-tree -r --name-only refs/notes/fleet/bench | sed -n 1p)
DEPTH=$(printf '%s' "$FIRST" | tr -cd / | wc -c)
say "notes refs ready: $NOTES notes each, fanout depth $DEPTH (e.g. $FIRST)"

mapfile -t FRESH < <(git -C "$REPO" rev-list --reverse refs/bench/fresh)
[ "${#FRESH[@]}" -eq $((5 * APPENDS)) ] || die "expected $((5 * APPENDS)) fresh commits"

# each case appends to its own slice of fresh commits: case k uses
# FRESH[k*APPENDS .. (k+1)*APPENDS-1]; prints one ms figure per line
one() { # k ours|built|git ref i -> ms
    local k=$1 who=$2 ref=$3 i=$4 c bin
    c=${FRESH[$((k * APPENDS + i - 1))]}
    if [ "$who" != git ]; then
        bin=$TMP/bin/git-fleet
        [ "$who" = ours ] || bin=$BIN
        $T run --cwd "$REPO" -- "$bin" notes append --ref "$ref" "$c" -m "Fleet-Bench: $k.$i" \
            || die "\`git-fleet notes append --ref $ref $c\` failed"
    else
        $T run --cwd "$REPO" -- "$TMP/bin/git" notes --ref="$ref" add -m "Git-Bench: $k.$i" "$c" \
            || die "git notes --ref=$ref add failed"
    fi
}
last() { echo "${FRESH[$(($1 * APPENDS + APPENDS - 1))]}"; }

# Interleaved: each round appends once in every case, so a change in the
# machine's load hits all five alike; ours/git at $NOTES is taken pair by pair.
OURS0=() OURS100=() GIT100=() GIT0=() BUILT=() PAIR=()
for i in $(seq 1 "$APPENDS"); do
    say "round $i/$APPENDS"
    o0=$(one 0 ours fleet/bench-empty "$i") || exit 2
    o=$(one 1 ours fleet/bench "$i") || exit 2
    g=$(one 2 git fleet/bench2 "$i") || exit 2
    g0=$(one 3 git fleet/bench2-empty "$i") || exit 2
    b=$(one 4 built fleet/bench "$i") || exit 2
    OURS0+=("$o0") OURS100+=("$o") GIT100+=("$g") GIT0+=("$g0") BUILT+=("$b")
    PAIR+=("$($T ratio "$o" "$g")")
done

# sanity (untimed): git reads what we wrote, and nothing was lost
check() { # ref expected-count commit expected-line
    local n
    n=$(git -C "$REPO" notes --ref="$1" list | wc -l)
    [ "$n" -eq "$2" ] || die "refs/notes/$1 holds $n notes after the run, expected $2"
    git -C "$REPO" notes --ref="$1" show "$3" | grep -qxF "$4" \
        || die "\`git notes --ref=$1 show $3\` has no line '$4'"
}
check fleet/bench-empty "$APPENDS" "$(last 0)" "Fleet-Bench: 0.$APPENDS"
check fleet/bench "$((NOTES + 2 * APPENDS))" "$(last 1)" "Fleet-Bench: 1.$APPENDS"
check fleet/bench2 "$((NOTES + APPENDS))" "$(last 2)" "Git-Bench: 2.$APPENDS"
check fleet/bench2-empty "$APPENDS" "$(last 3)" "Git-Bench: 3.$APPENDS"

# where did each tool put its note in the 100k tree? (git keeps the fanout)
note_path() { git -C "$REPO" ls-tree -r --name-only "refs/notes/$1" | grep -E "${2:4}\$" || echo "?"; }
OUR_PATH=$(note_path fleet/bench "$(last 1)")
GIT_PATH=$(note_path fleet/bench2 "$(last 2)")

O0=$($T median "${OURS0[@]}")
PAIR_MED=$($T rmedian "${PAIR[@]}")
PAIR_MIN=$($T min "${PAIR[@]}")
O100=$($T median "${OURS100[@]}")
G100=$($T median "${GIT100[@]}")
G0=$($T median "${GIT0[@]}")
B100=$($T median "${BUILT[@]}")
echo "# $("$TMP/bin/git" --version) ($GIT); binary $BIN, both installed into $TMP/bin; $APPENDS appends per case, each to a fresh commit; existing notes in fanout depth $DEPTH; sanity: git notes list/show agree"
echo "# note path after append at $NOTES: ours $OUR_PATH, git $GIT_PATH"
echo "git fleet notes append, 0 existing notes (median of $APPENDS): $O0 ms"
echo "git fleet notes append, $NOTES existing notes (median of $APPENDS): $O100 ms"
echo "git notes add, $NOTES existing notes (median of $APPENDS): $G100 ms"
echo "git notes add, 0 existing notes (median of $APPENDS, for reference): $G0 ms"
echo "git fleet notes append, $NOTES existing notes, run from the build's own file (median of $APPENDS, for reference): $B100 ms"
echo "ratio ours@$NOTES / git@$NOTES: $($T ratio "$O100" "$G100") (of medians); pair by pair: median $PAIR_MED, min $PAIR_MIN; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "ratio ours@$NOTES / ours@0: $($T ratio "$O100" "$O0")"
echo "ratio ours@$NOTES from the build's own file / git@$NOTES: $($T ratio "$B100" "$G100")"
RERUN=bench/notes.sh
[ "$APPENDS" = 20 ] || RERUN="APPENDS=$APPENDS $RERUN"
[ "$NOTES" = 100000 ] || RERUN="NOTES=$NOTES $RERUN"
echo "rerun: (cd $ROOT && $RERUN)"
