# shellcheck shell=bash
# Shared by build-kernel.sh and run-door-test.sh (sourced, not run): logging, the cache outside
# the repository, and installing what is missing through apt.

# Everything built or downloaded for the QEMU test lives here, never in the repository.
QEMU_CACHE=${PUSH_AGENT_QEMU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/push-agent/qemu}

log() { printf '%s qemu: %s\n' "$(date +%T)" "$*" >&2; }
die() {
    printf 'qemu: FAIL: %s\n' "$*" >&2
    exit 1
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    else
        sudo "$@"
    fi
}

APT_UPDATED=false
apt_update_once() {
    $APT_UPDATED && return 0
    log "apt-get update"
    as_root apt-get update -qq || die "apt-get update failed"
    APT_UPDATED=true
}

# Installs Debian packages. --no-remove: an install that would take anything away fails instead
# (qemu-system-arm is the case in point; see ensure_qemu).
apt_install() {
    apt_update_once
    log "apt-get install $*"
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends --no-remove "$@" >&2 \
        || die "apt-get install $* failed"
}

# need_commands CMD:PACKAGE ... installs the packages of the commands that are missing.
need_commands() {
    local pair missing=()
    for pair in "$@"; do
        command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        apt_install "${missing[@]}"
    fi
}

# The candidate version of a Debian package, from the local apt lists (updated when empty).
apt_candidate() {
    local version
    version=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
    if [ -z "$version" ] || [ "$version" = "(none)" ]; then
        apt_update_once
        version=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
    fi
    if [ -z "$version" ] || [ "$version" = "(none)" ]; then
        die "apt knows no package $1"
    fi
    printf '%s\n' "$version"
}

# Downloads PACKAGE[:ARCH][=VERSION] into DIR unless a .deb of it is there already, and prints
# the .deb's path.
apt_download() {
    local dir=$1 spec=$2 name deb
    name=${spec%%[:=]*}
    mkdir -p "$dir"
    deb=$(find "$dir" -maxdepth 1 -name "${name}_*.deb" | head -n 1)
    if [ -z "$deb" ]; then
        (cd "$dir" && apt-get download -qq -o APT::Sandbox::User=root "$spec" >&2) || true
        deb=$(find "$dir" -maxdepth 1 -name "${name}_*.deb" | head -n 1)
    fi
    [ -n "$deb" ] || die "apt-get download $spec failed"
    printf '%s\n' "$deb"
}

# Sets QEMU_BIN to a qemu-system-arm that runs. Installing Debian's qemu-system-arm can take
# packages away (on this project's machines it removes the qemu-utils backport), so unless one is
# on PATH, the package and the dependencies the system lacks are unpacked into the cache and run
# from there with LD_LIBRARY_PATH (qemu_library_path). Sets a variable rather than printing, so
# that it runs in the caller's shell and apt-get update runs once.
QEMU_ROOT=$QEMU_CACHE/qemu-root
ensure_qemu() {
    if command -v qemu-system-arm >/dev/null 2>&1; then
        QEMU_BIN=$(command -v qemu-system-arm)
        return
    fi
    if ! qemu_run "$QEMU_ROOT/usr/bin/qemu-system-arm" --version >/dev/null 2>&1; then
        apt_update_once
        local packages deb
        packages=$(apt-get install -s --no-install-recommends qemu-system-arm 2>/dev/null \
            | awk '/^Inst / {print $2}')
        [ -n "$packages" ] || die "apt cannot resolve qemu-system-arm"
        log "qemu: unpacking qemu-system-arm and the $(($(wc -w <<<"$packages") - 1))" \
            "dependencies this system lacks into $QEMU_ROOT"
        rm -rf "$QEMU_ROOT"
        mkdir -p "$QEMU_ROOT"
        rm -rf "$QEMU_CACHE/downloads/qemu"
        mkdir -p "$QEMU_CACHE/downloads/qemu"
        # shellcheck disable=SC2086 # one word per package
        (cd "$QEMU_CACHE/downloads/qemu" \
            && apt-get download -qq -o APT::Sandbox::User=root $packages >&2) \
            || die "apt-get download of qemu-system-arm's packages failed"
        for deb in "$QEMU_CACHE/downloads/qemu"/*.deb; do
            dpkg-deb -x "$deb" "$QEMU_ROOT"
        done
        qemu_run "$QEMU_ROOT/usr/bin/qemu-system-arm" --version >/dev/null \
            || die "the unpacked qemu-system-arm does not run"
    fi
    # shellcheck disable=SC2034 # read by the script that sources this file
    QEMU_BIN=$QEMU_ROOT/usr/bin/qemu-system-arm
}

# The library path under which the qemu-system-arm of ensure_qemu runs.
qemu_library_path() {
    local unpacked=$QEMU_ROOT/usr/lib/x86_64-linux-gnu:$QEMU_ROOT/lib/x86_64-linux-gnu
    printf '%s\n' "$unpacked${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
}

# Runs a command with the libraries unpacked by ensure_qemu on the library path.
qemu_run() {
    LD_LIBRARY_PATH=$(qemu_library_path) "$@"
}

# Sets BUSYBOX to an armhf static busybox (Debian's busybox-static:armhf). The system's apt
# has no armhf lists, so a private apt configuration in the cache fetches the armhf index of the
# Debian suite the system gets busybox-static from; dpkg's own architectures stay untouched.
ensure_busybox() {
    local dir=$QEMU_CACHE/busybox-armhf apt_dir=$QEMU_CACHE/apt-armhf source deb
    BUSYBOX=$dir/bin/busybox
    [ ! -x "$BUSYBOX" ] || return 0
    apt_update_once
    # "500 <uri> <suite>/main amd64 Packages" of the candidate: the same archive, for armhf.
    source=$(apt-cache policy busybox-static \
        | awk '$1 ~ /^[0-9]+$/ && $2 ~ /^https?:/ && $3 ~ /\/main$/ {
                   sub("/main", "", $3); print $2, $3; exit
               }')
    [ -n "$source" ] || die "apt knows no Debian archive with busybox-static"
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
    printf 'deb [arch=armhf signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s main\n' \
        "$source" > "$apt_dir/sources.list"
    : > "$apt_dir/status"
    cat > "$apt_dir/apt.conf" <<CONF
Dir::Etc::SourceList "$apt_dir/sources.list";
Dir::Etc::SourceParts "/nonexistent";
Dir::State::Lists "$apt_dir/lists";
Dir::State::status "$apt_dir/status";
Dir::Cache "$apt_dir/cache";
APT::Architecture "armhf";
APT::Architectures { "armhf"; };
APT::Sandbox::User "root";
Acquire::Languages "none";
CONF
    log "busybox: armhf index of $source"
    APT_CONFIG=$apt_dir/apt.conf apt-get update -qq >&2 || die "apt-get update (armhf) failed"
    deb=$(APT_CONFIG=$apt_dir/apt.conf \
        apt_download "$QEMU_CACHE/downloads/busybox" busybox-static:armhf)
    rm -rf "$dir"
    dpkg-deb -x "$deb" "$dir"
    [ -x "$BUSYBOX" ] || die "$deb has no bin/busybox"
}
