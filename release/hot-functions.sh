#!/usr/bin/env bash
# Regenerate release/hot-functions.txt: the functions git-fleet runs on every
# start and in a note append or show (a hook's or a script's typical call),
# which release/link-hot-first places first and together in the binary.
#
#   release/hot-functions.sh            build with build-release.sh, then list
#   SKIP_BUILD=1 release/hot-functions.sh   use target/release/git-fleet as is
#
# Needs valgrind (callgrind lists every function a run executes) and nm. The
# names are written without rustc's hashes, so the list outlives rebuilds;
# rerun this when the commands' code paths change much.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
BIN=${BIN:-$ROOT/target/release/git-fleet}
say() { echo "hot-functions.sh: $*" >&2; }
command -v valgrind >/dev/null || { say "valgrind not found"; exit 2; }
[ -n "${SKIP_BUILD:-}" ] || "$ROOT/build-release.sh" --locked >&2
[ -x "$BIN" ] || { say "no binary at $BIN"; exit 2; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/fleet-hot.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
export HOME=$TMP/home GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null NO_COLOR=1
export GIT_AUTHOR_NAME=Hot GIT_AUTHOR_EMAIL=hot@example.invalid
export GIT_COMMITTER_NAME=Hot GIT_COMMITTER_EMAIL=hot@example.invalid
mkdir -p "$HOME"
REPO=$TMP/repo
git init -q -b main "$REPO"
# 2,000 commits with a packed notes ref on each (git's 2-level fanout is
# reached only at larger sizes; the code paths are the same), plus 4 fresh ones
python3 - >"$TMP/stream" <<'PY'
import sys
w = sys.stdout.write
def data(s):
    w("data %d\n%s" % (len(s.encode()), s))
for i in range(1, 2005):
    w("commit refs/heads/main\nmark :%d\ncommitter Hot <hot@example.invalid> %d +0000\n" % (i, 1700000000 + i))
    data("commit %d\n" % i)
    if i > 1:
        w("from :%d\n" % (i - 1))
w("commit refs/notes/fleet/hot\ncommitter Hot <hot@example.invalid> 1800000000 +0000\n")
data("notes\n")
for i in range(1, 2001):
    w("N inline :%d\n" % i)
    data("Hot: %d\n" % i)
w("done\n")
PY
git -C "$REPO" fast-import --quiet --done <"$TMP/stream"
git -C "$REPO" repack -adq
mapfile -t C < <(git -C "$REPO" rev-list -5 main)

n=0
cg() { # args... : one callgrind run
    n=$((n + 1))
    (cd "$REPO" && valgrind -q --tool=callgrind --callgrind-out-file="$TMP/cg.$n" \
        --dump-instr=no --compress-strings=no --demangle=no "$BIN" "$@" >/dev/null 2>&1) \
        || { say "failed: git-fleet $*"; exit 2; }
}
cg --version
cg notes append --ref fleet/hot "${C[0]}" -m "Hot: fresh 0"
cg notes append --ref fleet/hot "${C[1]}" -m "Hot: fresh 1"
cg notes append --ref fleet/new "${C[2]}" -m "Hot: new ref"
cg notes show --ref fleet/hot "${C[0]}"
cg notes show --ref fleet/hot "${C[4]}"

# raw -> demangled name (nm -C drops the hash), in the binary's symbol order
paste <(nm -p --defined-only "$BIN" | cut -d' ' -f3-) \
      <(nm -p -C --defined-only "$BIN" | cut -d' ' -f3-) >"$TMP/names"
OUT=$HERE/hot-functions.txt
{
    echo "# Made by release/hot-functions.sh from $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'); read by release/link-hot-first."
    for i in $(seq 1 "$n"); do sed -n 's/^fn=//p' "$TMP/cg.$i"; done |
        sed "s/'[0-9]*\$//" |
        awk -F '\t' 'NR == FNR { name[$1] = $2; next }
                     ($0 in name) && !seen[name[$0]]++ { print name[$0] }' "$TMP/names" -
} >"$OUT"
say "$(($(wc -l <"$OUT") - 1)) functions in $OUT"
