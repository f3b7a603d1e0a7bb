#!/bin/sh
# Build git-fleet in release mode and install it without sudo.
#   ./install.sh [--prefix DIR]     (or PREFIX=DIR ./install.sh; default ~/.local)
# Installs bin/git-fleet, share/man/man1/git-fleet*.1 and shell completions.
set -eu

prefix="${PREFIX:-$HOME/.local}"
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) [ $# -ge 2 ] || { echo "install.sh: --prefix needs a directory" >&2; exit 2; }
                  prefix="$2"; shift 2 ;;
        --prefix=*) prefix="${1#--prefix=}"; shift ;;
        -h|--help) sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done

here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
command -v cargo >/dev/null || { echo "install.sh: cargo not found; install Rust first" >&2; exit 2; }
cargo build --release --locked --quiet

mkdir -p "$prefix/bin" "$prefix/share/man/man1" \
    "$prefix/share/bash-completion/completions" \
    "$prefix/share/zsh/site-functions" \
    "$prefix/share/fish/vendor_completions.d"

install -m 755 target/release/git-fleet "$prefix/bin/git-fleet"
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

case ":$PATH:" in
    *":$prefix/bin:"*) ;;
    *) echo "note: $prefix/bin is not on PATH; add it so that 'git fleet' finds git-fleet" ;;
esac
