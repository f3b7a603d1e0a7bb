#!/bin/sh
# Build git-fleet in release mode and install it without sudo.
#   ./install.sh [--prefix DIR]     (or PREFIX=DIR ./install.sh; default ~/.local)
# Installs bin/git-fleet, share/man/man1/git-fleet*.1 and shell completions.
# Needs cargo, and (ssh2 builds libssh2 against the system OpenSSL) the OpenSSL
# headers and pkg-config: Debian/Ubuntu `apt-get install libssl-dev pkg-config`,
# Fedora `dnf install openssl-devel pkgconf`. Honours CARGO_TARGET_DIR.
set -eu

prefix="${PREFIX:-$HOME/.local}"
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) [ $# -ge 2 ] || { echo "install.sh: --prefix needs a directory" >&2; exit 2; }
                  prefix="$2"; shift 2 ;;
        --prefix=*) prefix="${1#--prefix=}"; shift ;;
        -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done

here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
command -v cargo >/dev/null || { echo "install.sh: cargo not found; install Rust first (https://rustup.rs)" >&2; exit 2; }
# Say so before a long build rather than fail in the middle of it.
if [ "$(uname -s)" = Linux ] && [ -z "${OPENSSL_DIR:-}" ]; then
    if ! command -v pkg-config >/dev/null || ! pkg-config --exists openssl; then
        echo "install.sh: building needs the OpenSSL headers and pkg-config (for libssh2):" >&2
        echo "  Debian/Ubuntu: sudo apt-get install libssl-dev pkg-config" >&2
        echo "  Fedora:        sudo dnf install openssl-devel pkgconf" >&2
        exit 2
    fi
fi

# .cargo/config.toml links OpenSSL's static libraries from the Debian/Ubuntu
# multiarch directory (a faster start for every `git fleet`); a system that
# keeps none there (Fedora: openssl-devel has no libcrypto.a) links the shared ones.
multiarch="/usr/lib/$(uname -m)-linux-gnu"
if [ "$(uname -s)" = Linux ] && [ ! -e "$multiarch/libcrypto.a" ]; then
    export X86_64_UNKNOWN_LINUX_GNU_OPENSSL_STATIC="${X86_64_UNKNOWN_LINUX_GNU_OPENSSL_STATIC:-0}"
    export AARCH64_UNKNOWN_LINUX_GNU_OPENSSL_STATIC="${AARCH64_UNKNOWN_LINUX_GNU_OPENSSL_STATIC:-0}"
fi

# Where cargo puts the binary: CARGO_TARGET_DIR, build.target-dir, or ./target.
target_dir="$(cargo metadata --format-version 1 --no-deps --locked 2>/dev/null |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
[ -n "$target_dir" ] || target_dir="${CARGO_TARGET_DIR:-$here/target}"

echo "building git-fleet (release) in $target_dir; a first build takes a few minutes"
./build-release.sh --locked
binary="$target_dir/release/git-fleet"
[ -x "$binary" ] || { echo "install.sh: the build left no $binary" >&2; exit 2; }

mkdir -p "$prefix/bin" "$prefix/share/man/man1" \
    "$prefix/share/bash-completion/completions" \
    "$prefix/share/zsh/site-functions" \
    "$prefix/share/fish/vendor_completions.d" \
    "$prefix/share/fish/vendor_conf.d"

install -m 755 "$binary" "$prefix/bin/git-fleet"
echo "installed $prefix/bin/git-fleet"
for page in man/*.1; do
    install -m 644 "$page" "$prefix/share/man/man1/"
done
echo "installed $(ls man/*.1 | wc -l | tr -d ' ') man pages in $prefix/share/man/man1 (git help fleet)"
install -m 644 completions/git-fleet.bash "$prefix/share/bash-completion/completions/git-fleet"
echo "installed bash completion in $prefix/share/bash-completion/completions/git-fleet"
install -m 644 completions/_git-fleet "$prefix/share/zsh/site-functions/_git-fleet"
echo "installed zsh completion in $prefix/share/zsh/site-functions/_git-fleet"
install -m 644 completions/git-fleet.fish "$prefix/share/fish/vendor_completions.d/git-fleet.fish"
echo "installed fish completion in $prefix/share/fish/vendor_completions.d/git-fleet.fish"
# fish loads a completion file only for its own command: this one makes
# `git fleet <TAB>` reach it.
install -m 644 completions/git-fleet-git.fish "$prefix/share/fish/vendor_conf.d/git-fleet.fish"
echo "installed fish git hook in $prefix/share/fish/vendor_conf.d/git-fleet.fish"

case ":$PATH:" in
    *":$prefix/bin:"*) echo "next: git fleet demo" ;;
    *) echo "note: $prefix/bin is not on PATH; add it so that 'git fleet' finds git-fleet:"
       echo "  export PATH=\"$prefix/bin:\$PATH\"; git fleet demo" ;;
esac
