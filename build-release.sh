#!/bin/sh
# Build git-fleet's release binary (<target dir>/release/git-fleet), as
# install.sh and the benchmarks in bench/ do. Arguments go to cargo (--locked).
#
# On glibc Linux the executable is linked statically when the static archives
# it needs are there (libc6-dev, libssl-dev, zlib1g-dev on Debian/Ubuntu): a
# process then starts without the dynamic loader, ~1.3 ms less for every
# `git fleet` a hook or a script starts (bench/README.md, "Note append, stop
# 18"). Name lookups (SSH peers' host names) then use the C library of the
# machine that built it, which is where install.sh installs it.
# GIT_FLEET_STATIC=0 builds the plain dynamic binary (`cargo build --release`),
# as does any system where the static link fails.
#
# The static link goes through release/link-hot-first, which places the
# functions every start runs (release/hot-functions.txt) first and together:
# ~60 fewer page faults a start (bench/README.md, stop 19). It is plain `cc`
# wherever the linker is not lld.
set -eu
cd "$(dirname "$0")"

if [ "$(uname -s)" = Linux ] && [ "${GIT_FLEET_STATIC:-1}" != 0 ] &&
    ldd --version 2>&1 | grep -qi 'glibc\|gnu libc'; then
    # crt-static only for this crate's link: in RUSTFLAGS it would also apply
    # to the proc-macro crates, which cannot be built that way.
    if cargo rustc --release --bin git-fleet "$@" -- \
        -C target-feature=+crt-static -C relocation-model=static \
        -C linker="$PWD/release/link-hot-first"; then
        exit 0
    fi
    echo "build-release.sh: the static link failed (a static library missing?); building the dynamic binary" >&2
fi
exec cargo build --release "$@"
