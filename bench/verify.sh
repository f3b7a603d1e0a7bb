#!/usr/bin/env bash
# bench/verify.sh: `git fleet receipts verify` of N signed receipts against
# `git log --format=%H%n%B` of the same receipt ref (reading the same log is
# the floor verify cannot go under). Goal: verify <= 20x git log.
#
#   bench/verify.sh                  build release; N = 1000 and 10000, 5 runs each
#   SIZES="1000" bench/verify.sh     other sizes
#   RUNS=3 bench/verify.sh           runs per command and size
#   SKIP_BUILD=1 / BIN=... / KEEP=1  as in bench/diff.sh
#
# The receipts are written by one `git fast-import` stream, not N processes:
# gen_receipts (below, python3 + the `cryptography` package, Debian
# python3-cryptography) builds each receipt as `receipts append` does
# (Fleet-Prev chain, sha256 id, an SSHSIG ed25519 signature in namespace
# git-fleet over the canonical bytes, SHA-512, armored like ssh-keygen), one per
# source commit, with the note on that commit. Before timing, the first
# receipt is also appended by the binary itself (so the format cannot drift),
# one signature is checked with `ssh-keygen -Y verify`, and an untimed
# `verify --json` must report N good receipts and no problem.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
SIZES=${SIZES:-1000 10000}
RUNS=${RUNS:-5}
BIN=${BIN:-$ROOT/target/release/git-fleet}
T="python3 $HERE/timeit.py"

say() { echo "verify.sh: $*" >&2; }
die() { say "error: $*"; exit 2; }

python3 -c 'import cryptography' 2>/dev/null \
    || die "python3 cannot import cryptography (apt-get install python3-cryptography)"
if [ -z "${SKIP_BUILD:-}" ]; then
    say "build-release.sh (cargo, release)"
    "$ROOT/build-release.sh" >&2 || die "build-release.sh failed"
fi
[ -x "$BIN" ] || die "no binary at $BIN"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/fleet-bench-verify.XXXXXX")
if [ -n "${KEEP:-}" ]; then say "keeping $TMP"; else trap 'rm -rf "$TMP"' EXIT; fi
mkdir -p "$TMP/home"
export HOME=$TMP/home GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null NO_COLOR=1 TZ=UTC
export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.invalid
export GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=bench@example.invalid
export GIT_COMMITTER_DATE=2026-01-02T03:04:05Z GIT_AUTHOR_DATE=2026-01-02T03:04:05Z

KEY=$TMP/key
ssh-keygen -q -t ed25519 -N "" -C bench -f "$KEY" || die "ssh-keygen failed"
echo "bench@example.invalid namespaces=\"git-fleet\" $(cat "$KEY.pub")" >"$TMP/allowed_signers"

# The source commits' ids are needed inside the receipts (Fleet-Commit), so
# the stream is written in two passes: the source commits first, then the
# receipts, generated with their ids.
cat >"$TMP/gen_receipts.py" <<'EOF'
import base64, hashlib, struct, sys
from cryptography.hazmat.primitives import serialization

mode = sys.argv[1]
out = sys.stdout.buffer
def data(b):
    out.write(b"data %d\n" % len(b)); out.write(b)
when = b"Bench <bench@example.invalid> 1767323045 +0000"

if mode == "sources":  # gen_receipts.py sources N
    for i in range(1, int(sys.argv[2]) + 1):
        out.write(b"commit refs/bench/src\nmark :%d\ncommitter %s\n" % (i, when))
        data(b"source %d\n" % i)
        if i > 1:
            out.write(b"from :%d\n" % (i - 1))
    out.write(b"done\n")
    sys.exit(0)

# gen_receipts.py receipts KEY FIRST_PREV TIP < source ids, oldest first
key = serialization.load_ssh_private_key(open(sys.argv[2], "rb").read(), None)
prev, tip = sys.argv[3], sys.argv[4]
pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
s = lambda b: struct.pack(">I", len(b)) + b
pub_blob = s(b"ssh-ed25519") + s(pub)

def sshsig(msg):
    signed = b"SSHSIG" + s(b"git-fleet") + s(b"") + s(b"sha512") + s(hashlib.sha512(msg).digest())
    sig = s(b"ssh-ed25519") + s(key.sign(signed))
    blob = (b"SSHSIG" + struct.pack(">I", 1) + s(pub_blob) + s(b"git-fleet") + s(b"")
            + s(b"sha512") + s(sig))
    b64 = base64.b64encode(blob).decode()
    return (["-----BEGIN SSH SIGNATURE-----"] + [b64[i:i + 70] for i in range(0, len(b64), 70)]
            + ["-----END SSH SIGNATURE-----"])

for i, src in enumerate(sys.stdin.read().split(), start=2):
    fields = [("Fleet-Action", "apply"), ("Fleet-Commit", src), ("Fleet-Target", "t%d" % i),
              ("Fleet-Actor", "Bench <bench@example.invalid>"),
              ("Fleet-Time", "2026-01-02T03:04:05+00:00"), ("Fleet-Prev", prev)]
    canonical = "".join("%s: %s\n" % kv for kv in fields)
    rid = hashlib.sha256(canonical.encode()).hexdigest()
    sig = sshsig(canonical.encode())
    text = "Fleet-Receipt: %s\n%sFleet-Signature: %s" % (rid, canonical, "\n ".join(sig))
    out.write(b"commit refs/notes/fleet/receipts\ncommitter %s\n" % when)
    data(("fleet receipt: apply t%d\n\n%s\n" % (i, text)).encode())
    if i == 2:  # on the binary's receipt; later commits follow the branch
        out.write(b"from %s\n" % tip.encode())
    out.write(b"N inline %s\n" % src.encode())
    data((text + "\n").encode())
    prev = rid
out.write(b"done\n")
EOF

echo "# $(git --version); binary $BIN; ed25519 key; medians of $RUNS runs"
for N in $SIZES; do
    REPO=$TMP/repo-$N
    git init -q -b main "$REPO"
    git -C "$REPO" config gc.auto 0
    git -C "$REPO" config gpg.format ssh
    git -C "$REPO" config user.signingKey "$KEY"
    git -C "$REPO" config gpg.ssh.allowedSignersFile "$TMP/allowed_signers"
    say "N=$N: fast-import $N source commits"
    python3 "$TMP/gen_receipts.py" sources "$N" | git -C "$REPO" fast-import --quiet --done \
        || die "fast-import of the source commits failed"
    mapfile -t SRC < <(git -C "$REPO" rev-list --reverse refs/bench/src)
    # receipt 1 by the binary (in-process signing), the rest generated after it
    (cd "$REPO" && "$BIN" receipts append --action apply --commit "${SRC[0]}" --target t1 >/dev/null) \
        || die "git-fleet receipts append failed"
    FIRST=$(cd "$REPO" && "$BIN" receipts log --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["receipts"][0]["id"])')
    TIP=$(git -C "$REPO" rev-parse refs/notes/fleet/receipts)
    say "N=$N: generate and fast-import $((N - 1)) more signed receipts"
    printf '%s\n' "${SRC[@]:1}" | python3 "$TMP/gen_receipts.py" receipts "$KEY" "$FIRST" "$TIP" \
        | git -C "$REPO" fast-import --quiet --done || die "fast-import of the receipts failed"

    # sanity (untimed): ssh-keygen accepts a generated signature; verify is clean
    LAST=$(git -C "$REPO" log -1 --format=%B refs/notes/fleet/receipts)
    printf '%s\n' "$LAST" | sed -n '/^Fleet-Signature: /,$p' | sed 's/^Fleet-Signature: //; s/^ //' >"$TMP/last.sig"
    printf '%s\n' "$LAST" | grep '^Fleet-' | grep -v '^Fleet-Receipt: \|^Fleet-Signature: ' \
        | ssh-keygen -Y verify -n git-fleet -f "$TMP/allowed_signers" -I bench@example.invalid \
            -s "$TMP/last.sig" >/dev/null 2>&1 || die "ssh-keygen rejects a generated receipt"
    (cd "$REPO" && "$BIN" receipts verify --json) >"$TMP/verify.json" || die "verify found problems (see KEEP=1 $TMP)"
    python3 - "$TMP/verify.json" "$N" <<'EOF' || die "verify --json is not N good receipts"
import json, sys
v = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
good = sum(1 for r in v["receipts"] if r["signature"].get("status") == "good")
assert v["ok"] and not v["problems"] and len(v["receipts"]) == n and good == n, (len(v["receipts"]), good)
EOF

    say "N=$N: timing ($RUNS runs each, alternating)"
    OURS=() GIT=()
    for _ in $(seq 1 "$RUNS"); do
        OURS+=("$($T run --cwd "$REPO" -- "$BIN" receipts verify)") || exit 2
        GIT+=("$($T run --cwd "$REPO" -- git log --format=%H%n%B refs/notes/fleet/receipts)") || exit 2
    done
    O=$($T median "${OURS[@]}")
    G=$($T median "${GIT[@]}")
    echo "N=$N: git fleet receipts verify $O ms; git log --format=%H%n%B $G ms; ratio $($T ratio "$O" "$G") (goal <= 20)"
done
RERUN=bench/verify.sh
[ "$SIZES" = "1000 10000" ] || RERUN="SIZES=\"$SIZES\" $RERUN"
[ "$RUNS" = 5 ] || RERUN="RUNS=$RUNS $RERUN"
echo "rerun: (cd $ROOT && $RERUN)"
