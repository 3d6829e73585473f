#!/usr/bin/env bash
# Builds the same .ipk twice and fails unless both have the same bytes:
#
#   packaging/check-reproducible.sh [--board FILE] [--outer tar|ar] armv7|aarch64
#
# The binary is $PUSH_AGENT_BINARY, else what scripts/build-release.sh builds; the board defaults
# as in build-ipk.sh. The second build differs in everything that must not matter: the umask,
# the time zone, the locale, the temporary directory, and the paths and times of its copies of
# the binary and the board file.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
# shellcheck source=packaging/lib.sh
. "$here/lib.sh"

usage="usage: packaging/check-reproducible.sh [--board FILE] [--outer tar|ar] armv7|aarch64"
board=
outer=${IPK_OUTER:-tar}
arch=
while [ $# -gt 0 ]; do
    case $1 in
        --board | --outer)
            [ $# -ge 2 ] || die "$1 needs a value"
            if [ "$1" = --board ]; then board=$2; else outer=$2; fi
            shift 2
            ;;
        -*) die "unknown option $1"$'\n'"$usage" ;;
        *)
            [ -z "$arch" ] || die "$usage"
            arch=$1
            shift
            ;;
    esac
done
[ -n "$arch" ] || die "$usage"
arch_elf_machine "$arch" >/dev/null
board=${board:-$(default_board "$arch")}
binary=${PUSH_AGENT_BINARY:-$(release_binary "$arch")}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

first=$(umask 022 && TZ=UTC LC_ALL=C "$here/build-ipk.sh" --binary "$binary" --board "$board" \
    --outer "$outer" --out "$work/first" "$arch")

inputs="$work/elsewhere/with a longer path"
mkdir -p "$inputs/tmp"
cp "$binary" "$inputs/push-agent"
cp "$board" "$inputs/$(basename "$board")"
touch -d '2001-02-03 04:05:06' "$inputs/push-agent" "$inputs/$(basename "$board")"
second=$(umask 077 && TZ=Asia/Kathmandu LC_ALL=C.UTF-8 TMPDIR="$inputs/tmp" "$here/build-ipk.sh" \
    --binary "$inputs/push-agent" --board "$inputs/$(basename "$board")" --outer "$outer" \
    --out "$work/second" "$arch")

sum1=$(sha256sum <"$first" | cut -d' ' -f1)
sum2=$(sha256sum <"$second" | cut -d' ' -f1)
if [ "$sum1" != "$sum2" ]; then
    cmp "$first" "$second" >&2 || true
    die "two builds of $(basename "$first") differ: $sum1 vs $sum2"
fi
echo "check-reproducible: $(basename "$first") ($outer outer): two builds, one sha256 $sum1"
