#!/usr/bin/env bash
# bench/fanout_ssh.sh: deliver one pushed commit to PEERS checkouts reached over
# SSH (performance goal P6), three ways, in the same run:
#
#   loop      for h in peers: ssh h "cd dir && git pull -q --ff-only"
#             (sequential, one fresh ssh connection per peer, no checks)
#   libssh2   git fleet fanout, the peers declared as ssh://peer-NNN/dir
#             (default transport; every check of DESIGN §5, plus a note)
#   openssh   the same with transport = "openssh" (system ssh, ControlMaster)
#
# Setup (nothing outside $TMP is touched): its own sshd on 127.0.0.1 (its own
# config, host key, port, authorized_keys; UsePAM no; the current user logs in
# with a fresh ed25519 key), a private HOME whose ~/.ssh/config has one
# `Host peer-NNN` alias per peer (all pointing at that sshd) and whose
# known_hosts has the sshd's key, a bare origin with a FILES-file repository,
# and per method PEERS fresh clones of it (made before any timing), settled
# with one `git status` each as in bench/fanout.sh. One commit is pushed, then
# each method is timed on its own clones and every peer is checked to be at
# the pushed commit and clean.
#
#   bench/fanout_ssh.sh                       100 peers x 2,000 files (issue 11)
#   PEERS=10 FILES=200 bench/fanout_ssh.sh    quick
#   ROUNDS=3 bench/fanout_ssh.sh              fresh clones each round, medians
#   JOBS=8 bench/fanout_ssh.sh                git fleet fanout --jobs (default 8)
#   METHODS="loop libssh2" ...                a subset
#   SKIP_BUILD=1 / BIN=... / KEEP=1           as in bench/fanout.sh
#
# Goal (P6): fanout <= 0.5x the loop's wall time. Results to stdout.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
PEERS=${PEERS:-100}
FILES=${FILES:-2000}
ROUNDS=${ROUNDS:-1}
JOBS=${JOBS:-8}
METHODS=${METHODS:-loop libssh2 openssh}
BIN=${BIN:-$ROOT/target/release/git-fleet}
SSHD=${SSHD:-/usr/sbin/sshd}

say() { echo "fanout_ssh.sh: $*" >&2; }
die() { say "error: $*"; exit 2; }

if [ -z "${SKIP_BUILD:-}" ]; then
    say "build-release.sh (cargo, release)"
    "$ROOT/build-release.sh" >&2 || die "build-release.sh failed"
fi
[ -x "$BIN" ] || die "no binary at $BIN"
[ -x "$SSHD" ] || die "no sshd at $SSHD"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/fleet-bench-ssh.XXXXXX")
SSHD_PID=
cleanup() {
    [ -n "$SSHD_PID" ] && kill "$SSHD_PID" 2>/dev/null || true
    # openssh transport: stop the control masters we started (ControlPersist).
    for s in "$TMP"/home/.ssh/git-fleet-cm/* "${XDG_RUNTIME_DIR:-/nonexistent}"/git-fleet-ssh/*; do
        [ -S "$s" ] && ssh -o ControlPath="$s" -O exit dummy 2>/dev/null || true
    done
    if [ -n "${KEEP:-}" ]; then say "keeping $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
mkdir -p "$TMP/home/.ssh" "$TMP/sshd"
chmod 700 "$TMP/home/.ssh"
export HOME=$TMP/home GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null NO_COLOR=1 LC_ALL=C
export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.invalid
export GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=bench@example.invalid
unset SSH_AUTH_SOCK XDG_RUNTIME_DIR

now_ns() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }

# --- sshd -----------------------------------------------------------------
ssh-keygen -q -t ed25519 -N '' -f "$TMP/sshd/host_key" >/dev/null
ssh-keygen -q -t ed25519 -N '' -f "$HOME/.ssh/id_bench" >/dev/null
cp "$HOME/.ssh/id_bench.pub" "$TMP/sshd/authorized_keys"
# root's sshd insists on its privilege separation directory.
[ "$(id -u)" = 0 ] && mkdir -p /run/sshd
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$TMP/sshd/sshd_config" <<EOF
Port $PORT
ListenAddress 127.0.0.1
HostKey $TMP/sshd/host_key
AuthorizedKeysFile $TMP/sshd/authorized_keys
PidFile $TMP/sshd/sshd.pid
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PrintMotd no
MaxStartups 200
MaxSessions 200
LogLevel ERROR
EOF
"$SSHD" -f "$TMP/sshd/sshd_config" -D -e 2>"$TMP/sshd/log" &
SSHD_PID=$!
for _ in $(seq 1 150); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    kill -0 "$SSHD_PID" 2>/dev/null || die "sshd exited: $(cat "$TMP/sshd/log")"
    sleep 0.1
done
printf '[127.0.0.1]:%s %s\n' "$PORT" "$(cut -d' ' -f1,2 "$TMP/sshd/host_key.pub")" \
    >"$HOME/.ssh/known_hosts"
{
    for i in $(seq -f '%03g' 1 "$PEERS"); do
        printf 'Host peer-%s\n  HostName 127.0.0.1\n  Port %s\n  User %s\n  IdentityFile %s\n\n' \
            "$i" "$PORT" "$(id -un)" "$HOME/.ssh/id_bench"
    done
    # OpenSSH reads ~ from the password database, not $HOME: say where things are.
    printf 'Host *\n  UserKnownHostsFile %s\n  IdentitiesOnly yes\n  BatchMode yes\n' \
        "$HOME/.ssh/known_hosts"
} >"$HOME/.ssh/config"
chmod 600 "$HOME/.ssh/config"
SSH=(ssh -F "$HOME/.ssh/config" -o ControlMaster=no -o ControlPath=none)
"${SSH[@]}" peer-001 true || die "cannot log in to the bench sshd: $(cat "$TMP/sshd/log")"

# --- repositories -----------------------------------------------------------
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

declare -A times
for m in $METHODS; do times[$m]=""; done
for round in $(seq 1 "$ROUNDS"); do
    R=$TMP/round$round
    mkdir -p "$R"
    say "round $round: $(echo $METHODS | wc -w) x $PEERS clones"
    for m in $METHODS; do
        for i in $(seq -f '%03g' 1 "$PEERS"); do
            git clone -q "$TMP/origin.git" "$R/$m/peer-$i"
        done
    done
    # Settle the clones (see bench/fanout.sh, SETTLE).
    sleep 1
    for p in "$R"/*/peer-*; do git -C "$p" status --porcelain >/dev/null; done
    (
        cd "$TMP/dev"
        echo "change $round" >>src/d1/f1.txt
        git commit -q -am "change $round"
        git push -q origin main
    )
    C=$(git -C "$TMP/dev" rev-parse HEAD)
    sync

    for m in $METHODS; do
        case $m in
            loop)
                say "round $round: sequential ssh h git pull --ff-only"
                t0=$(now_ns)
                for i in $(seq -f '%03g' 1 "$PEERS"); do
                    "${SSH[@]}" "peer-$i" "cd '$R/loop/peer-$i' && git pull -q --ff-only"
                done
                t1=$(now_ns)
                ;;
            libssh2 | openssh)
                {
                    for i in $(seq -f '%03g' 1 "$PEERS"); do
                        printf '[peers.peer-%s]\nlocation = "ssh://peer-%s%s"\ntransport = "%s"\n\n' \
                            "$i" "$i" "$R/$m/peer-$i" "$m"
                    done
                } >"$TMP/dev/.git/fleet.local.toml"
                say "round $round: git fleet fanout --jobs $JOBS ($m)"
                t0=$(now_ns)
                rc=0
                (cd "$TMP/dev" && "$BIN" --quiet fanout --jobs "$JOBS" >"$TMP/fanout.out") || rc=$?
                t1=$(now_ns)
                [ "$rc" = 0 ] || die "fanout ($m) exited $rc: $(head -20 "$TMP/fanout.out")"
                ;;
            *) die "unknown method $m" ;;
        esac
        times[$m]="${times[$m]} $(ms "$t0" "$t1")"
        say "round $round: $m: $(ms "$t0" "$t1") ms"
        for p in "$R/$m"/peer-*; do
            [ "$(git -C "$p" rev-parse HEAD)" = "$C" ] || die "$m: $p is not at $C"
            [ -z "$(git -C "$p" status --porcelain)" ] || die "$m: $p is not clean"
        done
    done
    rm -rf "$R"
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }
echo "fanout over ssh: $PEERS peers x $FILES files, one pushed commit, one sshd on 127.0.0.1, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $ROUNDS round(s), medians"
declare -A med
for m in $METHODS; do
    # shellcheck disable=SC2086
    med[$m]=$(median ${times[$m]})
    case $m in
        loop) label="sequential: ssh h 'git pull --ff-only'" ;;
        *) label="git fleet fanout --jobs $JOBS ($m)" ;;
    esac
    printf '  %-44s %7d ms\n' "$label" "${med[$m]}"
done
if [ -n "${med[loop]:-}" ]; then
    for m in libssh2 openssh; do
        [ -n "${med[$m]:-}" ] || continue
        awk -v f="${med[$m]}" -v l="${med[loop]}" -v m="$m" \
            'BEGIN { printf "  fanout (%s) / ssh loop = %.2fx (goal <= 0.50x)\n", m, f / l }'
    done
fi
