#!/usr/bin/env bash
# bench/proof_reports.sh: how the cost of `git fleet proof` grows with the
# number of pull-mode agent reports it reads, against `git for-each-ref
# refs/fleet/reports` over the same refs (goal: proof of 10,000 reports in
# under 2x the for-each-ref time).
#
#   bench/proof_reports.sh                   build release, 1,000 and 10,000 reports
#   COUNTS="100 1000 10000" bench/proof_reports.sh
#   RUNS=20 bench/proof_reports.sh           more timed runs per case (default 10)
#   SKIP_BUILD=1 / BIN=... / KEEP=1          as in bench/diff.sh
#   OLD_BIN=/path/to/git-fleet               also time another build, pair by pair
#
# The reports are generated with one `git fast-import` stream (one commit per
# peer, each on its own refs/fleet/reports/<peer>/log, with the trailers the
# agent writes), not by running agents. Each count is timed twice: with the
# refs loose (as fast-import and pushes leave them) and packed (`git
# pack-refs --all`, as after gc on a server). Results go to stdout, progress
# to stderr. For context, each case also times `git for-each-ref
# --format='%(objectname) %(contents)'`, git reading every report's message,
# which proof has to do and plain for-each-ref does not (it reads only each
# object's type from the pack index and header).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
COUNTS=${COUNTS:-"1000 10000"}
RUNS=${RUNS:-10}
BIN=${BIN:-$ROOT/target/release/git-fleet}
T="python3 $HERE/timeit.py"

say() { echo "proof_reports.sh: $*" >&2; }
die() { say "error: $*"; exit 2; }

if [ -z "${SKIP_BUILD:-}" ]; then
    say "build-release.sh (cargo, release)"
    "$ROOT/build-release.sh" >&2 || die "build-release.sh failed"
fi
[ -x "$BIN" ] || die "no binary at $BIN"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/fleet-bench-reports.XXXXXX")
if [ -n "${KEEP:-}" ]; then say "keeping $TMP"; else trap 'rm -rf "$TMP"' EXIT; fi
mkdir -p "$TMP/home"
export HOME=$TMP/home GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null NO_COLOR=1
export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.invalid
export GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=bench@example.invalid

median() { # CMD...: the median wall time of RUNS runs, in ms
    local times=()
    for _ in $(seq "$RUNS"); do times+=("$($T run --ok 0,1 "$@")"); done
    $T median "${times[@]}"
}

echo "# $(git --version); binary $BIN; median of $RUNS runs per case; load average $(cut -d' ' -f1-3 /proc/loadavg)"
for n in $COUNTS; do
    REPO=$TMP/repo-$n
    git init -q -b main "$REPO"
    git -C "$REPO" config gc.auto 0
    echo "v1" >"$REPO/app.conf"
    git -C "$REPO" add app.conf
    git -C "$REPO" commit -q -m "the delivered commit"
    C=$(git -C "$REPO" rev-parse HEAD)
    say "fast-import: $n reports of $C"
    python3 - "$n" "$C" >"$TMP/stream-$n" <<'EOF'
import sys
n, c = int(sys.argv[1]), sys.argv[2]
out = []
for i in range(n):
    peer = "peer-%05d" % i
    t = "2026-01-02T03:%02d:%02d+00:00" % (i // 60 % 60, i % 60)
    msg = (
        "fleet report: %s current at %s\n\n"
        "Fleet-Fanout: %s\nFleet-Run: r%011d\nFleet-Time: %s\n"
        "Fleet-Actor: Agent <agent@%s>\nFleet-Branch: main\n"
        "Fleet-Summary: 1 peer: 0 fast-forwarded, 1 current, 0 blocked\n"
        "Fleet-Peer: %s current already at %s on main\n"
        "Fleet-Runtime: %s reload=ok health=ok readback=ok\n"
        "Fleet-Owed: %s none\nFleet-Mode: pull\nFleet-Head: %s\n"
        "Fleet-Remote: origin\nFleet-Agent: git-fleet 0.1.0\n"
    ) % (peer, c[:12], c, i, t, peer, peer, c[:12], peer, peer, c)
    b = msg.encode()
    out.append("commit refs/fleet/reports/%s/log\n" % peer)
    out.append("committer Agent <agent@%s> %d +0000\n" % (peer, 1767323045 + i))
    out.append("data %d\n" % len(b))
    out.append(msg)
    out.append("\n")
sys.stdout.write("".join(out))
EOF
    git -C "$REPO" fast-import --quiet <"$TMP/stream-$n"
    got=$(git -C "$REPO" for-each-ref refs/fleet/reports | wc -l)
    [ "$got" -eq "$n" ] || die "expected $n report refs, found $got"
    # Sanity: proof reads every report and finds each peer ok.
    # (exit 1: this repository has no origin to check; the peers are what counts)
    reports=$({ "$BIN" -C "$REPO" proof "$C" --json || true; } | python3 -c 'import json,sys; v=json.load(sys.stdin); print(v["reports"], sum(1 for p in v["peers"] if p["ok"] and p["mode"] == "pull"))')
    [ "$reports" = "$n $n" ] || die "proof read '$reports', expected '$n $n'"
    # The report cache (<git dir>/fleet/cache/reports-v3) must not change
    # what proof says: a warm run's JSON equals an uncached one's.
    rm -rf "$REPO/.git/fleet/cache"
    "$BIN" -C "$REPO" proof "$C" --json >"$TMP/cold.json" || true
    "$BIN" -C "$REPO" proof "$C" --json >"$TMP/warm.json" || true
    GIT_FLEET_NO_CACHE=1 "$BIN" -C "$REPO" proof "$C" --json >"$TMP/none.json" || true
    cmp -s "$TMP/warm.json" "$TMP/none.json" && cmp -s "$TMP/cold.json" "$TMP/none.json" ||
        die "proof --json differs with the report cache"
    for layout in loose packed; do
        if [ "$layout" = packed ]; then git -C "$REPO" pack-refs --all; fi
        # Pair by pair (for-each-ref, then each proof variant, RUNS times), so
        # load changes hit every variant alike; ratios are medians of the
        # per-round ratios. cold: the cache removed before each run (untimed).
        G=() GC=() W=() CO=() N=() O=() RW=() RC=() RN=() RO=()
        "$BIN" -C "$REPO" proof "$C" >/dev/null 2>&1 || true # warm the cache
        for _ in $(seq "$RUNS"); do
            g=$($T run --cwd "$REPO" -- git for-each-ref refs/fleet/reports)
            w=$($T run --ok 0,1 --cwd "$REPO" -- "$BIN" proof "$C")
            rm -rf "$REPO/.git/fleet/cache"
            c=$($T run --ok 0,1 --cwd "$REPO" -- "$BIN" proof "$C")
            nc=$($T run --ok 0,1 --cwd "$REPO" --env GIT_FLEET_NO_CACHE=1 -- "$BIN" proof "$C")
            G+=("$g") W+=("$w") CO+=("$c") N+=("$nc")
            RW+=("$($T ratio "$w" "$g")") RC+=("$($T ratio "$c" "$g")") RN+=("$($T ratio "$nc" "$g")")
            if [ -n "${OLD_BIN:-}" ]; then
                o=$($T run --ok 0,1 --cwd "$REPO" -- "$OLD_BIN" proof "$C")
                O+=("$o") RO+=("$($T ratio "$o" "$g")")
            fi
            GC+=("$($T run --cwd "$REPO" -- git for-each-ref --format='%(objectname) %(contents)' refs/fleet/reports)")
        done
        old=""
        if [ -n "${OLD_BIN:-}" ]; then
            old="; old binary $($T median "${O[@]}") ms, ratio $($T rmedian "${RO[@]}")"
        fi
        echo "$n reports, $layout refs: git for-each-ref refs/fleet/reports $($T median "${G[@]}") ms; git fleet proof: warm cache $($T median "${W[@]}") ms, ratio $($T rmedian "${RW[@]}"); cold cache $($T median "${CO[@]}") ms, ratio $($T rmedian "${RC[@]}"); no cache (GIT_FLEET_NO_CACHE=1) $($T median "${N[@]}") ms, ratio $($T rmedian "${RN[@]}")$old (for-each-ref reading every report's message: $($T median "${GC[@]}") ms)"
    done
    echo "# load average after $n: $(cut -d' ' -f1-3 /proc/loadavg)"
done
echo "rerun: (cd $ROOT && bench/proof_reports.sh)"
