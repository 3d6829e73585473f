#!/usr/bin/env bash
# Builds the guest kernel of the full-system QEMU door test and prints the zImage's path.
#
# Debian's own kernels have no gpio-sim (CONFIG_GPIO_SIM is not set in any flavour), so this
# builds a small one: Debian's linux-source-6.12 for ARCH=arm, `allnoconfig` plus the fragment
# tests/qemu/kernel.config, zImage only, no modules. About 5.5 minutes on 2 idle cores (10 to 17
# while other builds shared them), 1.7 GB of scratch space (removed afterwards) and a 153 MB
# source package (kept).
#
# The result is cached outside the repository, keyed on the fragment's options and the source
# version:
#   ${XDG_CACHE_HOME:-~/.cache}/push-agent/qemu/kernel/<sha256 prefix>/zImage
# (PUSH_AGENT_QEMU_CACHE moves the whole cache). A cached kernel is reused without network
# access; a new fragment or a new linux-source-6.12 in the archive builds a new one.
# Missing host tools (flex, bison, bc, the arm cross compiler…) are installed with apt.
#
# Usage: tests/qemu/build-kernel.sh          prints the path of the zImage on stdout
# Any failure exits non-zero with the reason: the test never runs on a kernel it did not build.
set -eEuo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR
. "$here/lib.sh"
trap 'die "build-kernel.sh stopped at line $LINENO"' ERR

# The Debian package the kernel is built from (bookworm-security and trixie have it).
KERNEL_SOURCE_PACKAGE=linux-source-6.12
fragment=$here/kernel.config
version=$(apt_candidate "$KERNEL_SOURCE_PACKAGE")
key=$( (grep '^CONFIG_' "$fragment"; echo "$KERNEL_SOURCE_PACKAGE=$version") \
    | sha256sum | cut -c1-16)
out=$QEMU_CACHE/kernel/$key
if [ -s "$out/zImage" ]; then
    log "kernel: cached $out/zImage ($KERNEL_SOURCE_PACKAGE $version)"
    printf '%s\n' "$out/zImage"
    exit 0
fi

log "kernel: building $KERNEL_SOURCE_PACKAGE $version with $(basename "$fragment") (key $key)"
need_commands make:make gcc:gcc bc:bc perl:perl flex:flex bison:bison xz:xz-utils \
    arm-linux-gnueabihf-gcc:gcc-arm-linux-gnueabihf

deb=$(apt_download "$QEMU_CACHE/downloads/$KERNEL_SOURCE_PACKAGE-$version" \
    "$KERNEL_SOURCE_PACKAGE=$version")
work=$QEMU_CACHE/kernel-build
rm -rf "$work"
mkdir -p "$work/out"
log "kernel: unpacking $(basename "$deb")"
dpkg-deb --fsys-tarfile "$deb" \
    | tar -xO "./usr/src/$KERNEL_SOURCE_PACKAGE.tar.xz" \
    | tar -xJ -C "$work"
src=$work/$KERNEL_SOURCE_PACKAGE
[ -f "$src/Makefile" ] || die "$deb holds no kernel tree at usr/src/$KERNEL_SOURCE_PACKAGE.tar.xz"

kmake() {
    make -C "$src" O="$work/out" ARCH=arm CROSS_COMPILE=arm-linux-gnueabihf- "$@"
}
log "kernel: allnoconfig + fragment"
kmake -s KCONFIG_ALLCONFIG="$fragment" allnoconfig >&2
# kconfig drops an option whose dependencies are unmet without a word: check each one.
dropped=$(grep -E '^CONFIG_[A-Za-z0-9_]+=' "$fragment" | while read -r line; do
    grep -qxF "$line" "$work/out/.config" || printf ' %s' "$line"
done)
[ -z "$dropped" ] || die "the kernel config did not take:$dropped"

log "kernel: make zImage (about 5 minutes on 2 idle cores)"
kmake -s -j"$(($(nproc) + 1))" zImage >&2

staged=$out.tmp.$$
mkdir -p "$staged"
cp "$work/out/arch/arm/boot/zImage" "$work/out/.config" "$staged/"
printf '%s %s\n' "$KERNEL_SOURCE_PACKAGE" "$version" > "$staged/source"
rm -rf "$out"
mv "$staged" "$out"
rm -rf "$work"
log "kernel: built $out/zImage ($(stat -c %s "$out/zImage") bytes)"
printf '%s\n' "$out/zImage"
