#!/usr/bin/env bash
# bench/fanout.sh: deliver one pushed commit to 50 local peer checkouts of a
# 2,000-file repository, three ways, in the same run:
#
#   xargs       ls peers | xargs -P8 -I{} git -C {} pull -q --ff-only
#   sequential  a safe shell loop: per peer check branch, in-progress state
#               and tracked changes, then `git pull -q --ff-only`
#   fanout      git fleet fanout (every check of DESIGN §5, plus a note)
#
#   bench/fanout.sh                      build release, 50 peers, 2,000 files
#   PEERS=20 FILES=500 bench/fanout.sh   smaller
#   ROUNDS=3 bench/fanout.sh             repeat (fresh peers each round), medians
#   JOBS=8 bench/fanout.sh               git fleet fanout --jobs (default 8)
#   SETTLE=0 bench/fanout.sh             time fresh clones as they are (see below)
#   SKIP_BUILD=1 / BIN=... / KEEP=1      as in bench/diff.sh
#
# Each method gets its own 50 fresh clones (made before any timing, from the
# same origin at the same commit), so no method benefits from another's work.
#
# SETTLE=1 (default): after cloning, wait 1 s and run `git status` once in
# every clone of every method, like a checkout that has been in use. A fresh
# clone's index is written in the same second as its files, so git (and
# fanout's in-process check) must re-read and hash every file to tell it is
# clean ("racy git"); `git status` writes the index again and settles that.
# SETTLE=0 times the clones as cloned (every method pays the hashing; fanout
# pays it twice: once in its cleanliness check, once in `git merge`).
# After each method every peer is checked to be at the pushed commit.
# Goal (issue 4): fanout <= 0.5x the xargs time. Results to stdout.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
PEERS=${PEERS:-50}
FILES=${FILES:-2000}
ROUNDS=${ROUNDS:-1}
JOBS=${JOBS:-8}
SETTLE=${SETTLE:-1}
BIN=${BIN:-$ROOT/target/release/git-fleet}

say() { echo "fanout.sh: $*" >&2; }
die() { say "error: $*"; exit 2; }

if [ -z "${SKIP_BUILD:-}" ]; then
    say "build-release.sh (cargo, release)"
    "$ROOT/build-release.sh" >&2 || die "build-release.sh failed"
fi
[ -x "$BIN" ] || die "no binary at $BIN"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/fleet-bench-fanout.XXXXXX")
if [ -n "${KEEP:-}" ]; then say "keeping $TMP"; else trap 'rm -rf "$TMP"' EXIT; fi
mkdir -p "$TMP/home"
export HOME=$TMP/home GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null NO_COLOR=1 LC_ALL=C
export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.invalid
export GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=bench@example.invalid

now_ns() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }

# origin (bare) and the delivering repository `dev`, FILES files in 40 dirs.
say "repository with $FILES files"
git init -q -b main "$TMP/dev"
(
    cd "$TMP/dev"
    dirs=40
    per=$(( (FILES + dirs - 1) / dirs ))
    n=0
    for d in $(seq 1 $dirs); do
        mkdir -p "src/d$d"
        for f in $(seq 1 $per); do
            [ $n -ge "$FILES" ] && break
            printf 'file %d of dir %d\nline two\n' "$f" "$d" >"src/d$d/f$f.txt"
            n=$((n + 1))
        done
    done
    git add -A
    git commit -q -m base
)
git init -q --bare -b main "$TMP/origin.git"
git -C "$TMP/dev" remote add origin "$TMP/origin.git"
git -C "$TMP/dev" push -q -u origin main

xargs_ms=(); seq_ms=(); fanout_ms=()
for round in $(seq 1 "$ROUNDS"); do
    R=$TMP/round$round
    mkdir -p "$R"
    say "round $round: 3 x $PEERS clones"
    for method in xargs seq fanout; do
        mkdir -p "$R/$method"
        for i in $(seq -w 1 "$PEERS"); do
            git clone -q "$TMP/origin.git" "$R/$method/peer$i"
        done
    done
    if [ "$SETTLE" = 1 ]; then
        say "round $round: settling the clones (git status once each)"
        sleep 1
        for p in "$R"/*/peer*; do git -C "$p" status --porcelain >/dev/null; done
    fi
    # One new commit, pushed.
    (
        cd "$TMP/dev"
        echo "change $round" >>src/d1/f1.txt
        git commit -q -am "change $round"
        git push -q origin main
    )
    C=$(git -C "$TMP/dev" rev-parse HEAD)
    # Declare the fanout peers in the machine-local file.
    {
        for i in $(seq -w 1 "$PEERS"); do
            printf '[peers.peer%s]\nlocation = "%s"\n\n' "$i" "$R/fanout/peer$i"
        done
    } >"$TMP/dev/.git/fleet.local.toml"
    sync

    say "round $round: xargs -P8 git pull --ff-only"
    t0=$(now_ns)
    ls -d "$R"/xargs/peer* | xargs -P8 -I{} git -C {} pull -q --ff-only
    t1=$(now_ns)
    xargs_ms+=("$(ms "$t0" "$t1")")

    say "round $round: sequential safe loop"
    t0=$(now_ns)
    for p in "$R"/seq/peer*; do
        [ "$(git -C "$p" symbolic-ref -q HEAD)" = refs/heads/main ] || continue
        gd=$(git -C "$p" rev-parse --git-dir)
        case "$gd" in /*) ;; *) gd=$p/$gd ;; esac
        [ -e "$gd/index.lock" ] || [ -e "$gd/MERGE_HEAD" ] || [ -e "$gd/rebase-merge" ] \
            || [ -e "$gd/rebase-apply" ] || [ -e "$gd/CHERRY_PICK_HEAD" ] && continue
        [ -z "$(git -C "$p" status --porcelain --untracked-files=no)" ] || continue
        git -C "$p" pull -q --ff-only || continue
    done
    t1=$(now_ns)
    seq_ms+=("$(ms "$t0" "$t1")")

    say "round $round: git fleet fanout --jobs $JOBS"
    t0=$(now_ns)
    (cd "$TMP/dev" && "$BIN" --quiet fanout --jobs "$JOBS" >/dev/null)
    t1=$(now_ns)
    fanout_ms+=("$(ms "$t0" "$t1")")

    for method in xargs seq fanout; do
        for p in "$R/$method"/peer*; do
            [ "$(git -C "$p" rev-parse HEAD)" = "$C" ] || die "$method: $p is not at $C"
            [ -z "$(git -C "$p" status --porcelain)" ] || die "$method: $p is not clean"
        done
    done
    rm -rf "$R"
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }
X=$(median "${xargs_ms[@]}")
S=$(median "${seq_ms[@]}")
F=$(median "${fanout_ms[@]}")
echo "fanout bench: $PEERS peers x $FILES files, one pushed commit, $(nproc) cores, $ROUNDS round(s), medians, SETTLE=$SETTLE"
printf '  %-42s %6d ms\n' "xargs -P8 git -C peer pull --ff-only" "$X"
printf '  %-42s %6d ms\n' "sequential safe loop (checks + pull)" "$S"
printf '  %-42s %6d ms\n' "git fleet fanout --jobs $JOBS" "$F"
awk -v f="$F" -v x="$X" -v s="$S" 'BEGIN {
    printf "  fanout / xargs      = %.2fx (goal <= 0.50x)\n", f / x
    printf "  fanout / sequential = %.2fx\n", f / s
}'
