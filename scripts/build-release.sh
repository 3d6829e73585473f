#!/usr/bin/env bash
# Builds the release binary for an ARM terminal and proves that it runs on glibc 2.17 or newer.
#
#   scripts/build-release.sh <armv7|aarch64>
#   scripts/build-release.sh --check-glibc FILE     # only the glibc gate, on any ELF binary
#
# Links with cargo-zigbuild against glibc 2.17 (the `.2.17` target suffix); zig and cargo-zigbuild
# come from PyPI into a venv outside the repo ($PUSH_AGENT_ZIGBUILD_VENV, by default
# ~/.cache/push-agent/zigbuild-venv), made on first use. Then every GLIBC_ symbol version the binary
# needs is read with readelf; anything above 2.17 fails the build.
# Progress goes to stderr; stdout is one line, the binary's path. Honours CARGO_TARGET_DIR.
set -euo pipefail

readonly GLIBC_FLOOR="2.17"
readonly ZIGLANG_VERSION="0.17.0"
readonly CARGO_ZIGBUILD_VERSION="0.24.0"

die() { printf 'build-release: %s\n' "$*" >&2; exit 1; }
say() { printf 'build-release: %s\n' "$*" >&2; }

# check_glibc FILE: fails unless every GLIBC_ version FILE needs is at most GLIBC_FLOOR. These are
# the versions the dynamic loader checks: the binary's version needs (.gnu.version_r).
check_glibc() {
    local binary="$1" needed highest
    [ -f "$binary" ] || die "no binary at $binary"
    needed=$(readelf --version-info --wide "$binary" | grep -o 'Name: GLIBC_[0-9.]*' \
        | sed 's/^Name: GLIBC_//' | sort -uV)
    [ -n "$needed" ] || die "$binary names no GLIBC_ version: not a dynamically linked glibc binary"
    highest=$(printf '%s\n' "$needed" | tail -n 1)
    if [ "$(printf '%s\n%s\n' "$highest" "$GLIBC_FLOOR" | sort -V | tail -n 1)" != "$GLIBC_FLOOR" ]; then
        die "$binary needs GLIBC_$highest, above the GLIBC_$GLIBC_FLOOR floor of the terminals"
    fi
    say "$binary: $(stat -c %s "$binary") bytes, highest glibc symbol version GLIBC_$highest"
}

case "${1:-}" in
    armv7) triple="armv7-unknown-linux-gnueabihf" ;;
    aarch64) triple="aarch64-unknown-linux-gnu" ;;
    --check-glibc)
        [ $# -eq 2 ] || die "usage: $0 --check-glibc FILE"
        check_glibc "$2"
        exit 0
        ;;
    *) die "usage: $0 <armv7|aarch64> | --check-glibc FILE" ;;
esac

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"

venv="${PUSH_AGENT_ZIGBUILD_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/push-agent/zigbuild-venv}"
if ! "$venv/bin/cargo-zigbuild" --version 2>/dev/null | grep -qF "$CARGO_ZIGBUILD_VERSION" \
    || ! "$venv/bin/python" -m ziglang version 2>/dev/null | grep -qxF "$ZIGLANG_VERSION"; then
    say "installing ziglang $ZIGLANG_VERSION and cargo-zigbuild $CARGO_ZIGBUILD_VERSION into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        "ziglang==$ZIGLANG_VERSION" "cargo-zigbuild==$CARGO_ZIGBUILD_VERSION" >&2
fi
# cargo-zigbuild finds zig as `python -m ziglang` through the venv's python, first on PATH.
export PATH="$venv/bin:$PATH"

if ! rustup target list --installed | grep -qxF "$triple"; then
    say "adding the Rust target $triple"
    rustup target add "$triple" >&2
fi

say "cargo zigbuild --locked --release --target $triple.$GLIBC_FLOOR"
cargo zigbuild --locked --release --target "$triple.$GLIBC_FLOOR" >&2

binary="${CARGO_TARGET_DIR:-$repo/target}/$triple/release/push-agent"
check_glibc "$binary"
printf '%s\n' "$binary"
