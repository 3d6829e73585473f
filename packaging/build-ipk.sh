#!/usr/bin/env bash
# Builds dist/push-agent_<version>_<opkg arch>.ipk for one board, reproducibly: the same binary,
# board, scripts and SOURCE_DATE_EPOCH give the same bytes, whatever the umask, the clock, the
# file times or the build directory (packaging/check-reproducible.sh proves it).
#
#   packaging/build-ipk.sh [--board FILE] [--binary FILE] [--out DIR] [--outer tar|ar] armv7|aarch64
#
# --board    the board file installed as /etc/push-agent/board.toml; its [board] opkg_arch is the
#            package's Architecture. Default: board/ref-armv7-1door.toml or
#            board/ref-aarch64-4door.toml.
# --binary   the release binary (also $PUSH_AGENT_BINARY). Default: the path that
#            `scripts/build-release.sh ARCH` prints as the last line of its stdout (it builds a
#            binary for glibc 2.17; its progress goes to stderr).
# --out      the output directory (default: dist/).
# --outer    the outer container (also $IPK_OUTER). `tar` (the default) is a gzipped tar, as
#            OpenWrt's ipkg-build and nfpm write it: OpenWrt's opkg reads only that form, and
#            Yocto's opkg reads it too. `ar` is the Debian-like form of opkg-utils' opkg-build,
#            for tools that expect a .deb-shaped file.
# $IPK_DEPENDS      a Depends: value, e.g. "libc6 (>= 2.17)". None by default: the names of the C
#                   library's package differ between firmwares, and many have none registered.
# $SOURCE_DATE_EPOCH  the time of every entry. Default: the time of the last git commit.
#
# Prints the path of the .ipk on stdout.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
# shellcheck source=packaging/lib.sh
. "$here/lib.sh"

usage="usage: packaging/build-ipk.sh [--board FILE] [--binary FILE] [--out DIR] [--outer tar|ar] armv7|aarch64"
board=
binary=${PUSH_AGENT_BINARY:-}
out=$repo/dist
outer=${IPK_OUTER:-tar}
arch=
while [ $# -gt 0 ]; do
    case $1 in
        --board | --binary | --out | --outer)
            [ $# -ge 2 ] || die "$1 needs a value"$'\n'"$usage"
            case $1 in
                --board) board=$2 ;;
                --binary) binary=$2 ;;
                --out) out=$2 ;;
                --outer) outer=$2 ;;
            esac
            shift 2
            ;;
        -h | --help)
            echo "$usage"
            exit 0
            ;;
        -*) die "unknown option $1"$'\n'"$usage" ;;
        *)
            [ -z "$arch" ] || die "one ARCH only"$'\n'"$usage"
            arch=$1
            shift
            ;;
    esac
done
[ -n "$arch" ] || die "$usage"
machine=$(arch_elf_machine "$arch")
case $outer in tar | ar) ;; *) die "--outer must be tar or ar, not '$outer'" ;; esac
board=${board:-$(default_board "$arch")}
[ -f "$board" ] || die "no board file $board (--board FILE)"
binary=${binary:-$(release_binary "$arch")}
[ -f "$binary" ] || die "no binary at '$binary'"
[ "$(elf_machine "$binary")" = "$machine" ] || die "$binary is not an $arch binary"

version=$(toml_get "$repo/Cargo.toml" package.version)
[[ $version =~ ^[0-9][A-Za-z0-9.+~-]*$ ]] || die "Cargo.toml version '$version' is not an opkg version"
description=$(toml_get "$repo/Cargo.toml" package.description)
license=$(toml_get "$repo/Cargo.toml" package.license)
opkg_arch=$(opkg_arch_of "$board")
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH=$(git -C "$repo" log -1 --format=%ct) \
        || die "not a git checkout: set SOURCE_DATE_EPOCH"
fi
[[ $SOURCE_DATE_EPOCH =~ ^[0-9]+$ ]] || die "SOURCE_DATE_EPOCH '$SOURCE_DATE_EPOCH' is not a number of seconds"

umask 022
export LC_ALL=C
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
data=$work/data
control=$work/control
mkdir -p "$data" "$control"

install -D -m 0755 "$binary" "$data/usr/bin/push-agent"
# 0600: agent.toml is where comm_key and token go.
install -D -m 0600 "$here/files/agent.toml" "$data/etc/push-agent/agent.toml"
install -D -m 0644 "$board" "$data/etc/push-agent/board.toml"
install -D -m 0644 "$here/files/push-agent.service" "$data/lib/systemd/system/push-agent.service"
# Both want to be /etc/init.d/push-agent: postinst installs the one the device's init system uses.
install -D -m 0755 "$here/files/push-agent.procd" "$data/usr/share/push-agent/init.d/procd"
install -D -m 0755 "$here/files/push-agent.sysvinit" "$data/usr/share/push-agent/init.d/sysvinit"
find "$data" -type d -exec chmod 0755 {} +

{
    echo "Package: push-agent"
    echo "Version: $version"
    echo "Architecture: $opkg_arch"
    echo "Maintainer: push-agent maintainers"
    echo "License: $license"
    echo "Section: net"
    echo "Priority: optional"
    echo "Source: push-agent"
    if [ -n "${IPK_DEPENDS:-}" ]; then echo "Depends: $IPK_DEPENDS"; fi
    echo "Description: $description"
} >"$control/control"
printf '%s\n' /etc/push-agent/agent.toml /etc/push-agent/board.toml >"$control/conffiles"
install -m 0755 "$here/control/postinst" "$here/control/prerm" "$control/"
chmod 0755 "$control"

# tar_gz DIR OUT MEMBER...: a gzipped tar with sorted names, owner 0/0, every time set to
# SOURCE_DATE_EPOCH, and no name or time in the gzip header.
tar_gz() {
    local dir=$1 dest=$2
    shift 2
    tar --create --file=- --directory="$dir" --format=gnu --sort=name \
        --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" "$@" \
        | gzip -n -9 >"$dest"
}

tar_gz "$data" "$work/data.tar.gz" .
tar_gz "$control" "$work/control.tar.gz" .
printf '2.0\n' >"$work/debian-binary"
members=(debian-binary control.tar.gz data.tar.gz)
case $outer in
    tar) tar_gz "$work" "$work/package.ipk" "${members[@]/#/./}" ;;
    # D: deterministic (owner 0, mode 0644, time 0 for every member).
    ar) (cd "$work" && ar -crD package.ipk "${members[@]}") ;;
esac

mkdir -p "$out"
ipk=$out/push-agent_${version}_${opkg_arch}.ipk
mv "$work/package.ipk" "$ipk"
note "$ipk: $(wc -c <"$ipk") bytes, sha256 $(sha256sum "$ipk" | cut -d' ' -f1) ($outer outer, board $(basename "$board"))"
echo "$ipk"
