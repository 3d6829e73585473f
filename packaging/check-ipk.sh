#!/usr/bin/env bash
# Checks a push-agent .ipk the way a device would see it, and fails loudly on any difference:
#
#   packaging/check-ipk.sh [--board FILE] FILE.ipk
#
# - the outer container (gzipped tar or ar): exactly debian-binary ("2.0"), control.tar.gz and
#   data.tar.gz, owned by 0/0;
# - control.tar.gz and data.tar.gz: exactly the expected entries, modes and owners (0/0), every
#   entry with the same time;
# - the control fields (Package, Version = Cargo.toml's, Architecture = the packaged board's
#   opkg_arch = the file name's, Maintainer, Description, Depends when present) and conffiles;
# - an install into scratch roots: data.tar.gz extracted, postinst run as an offline image build
#   ($IPKG_INSTROOT or $D) for a sysvinit, a BusyBox, a procd and a systemd root, then prerm; they
#   must only create files inside the root and run no service command;
# - the installed binary under qemu-user: `--version` prints the package version, and
#   `check-config` accepts the installed agent.toml with its paths moved into the root.
#
# --board FILE: the packaged board.toml must be this file.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
# shellcheck source=packaging/lib.sh
. "$here/lib.sh"

usage="usage: packaging/check-ipk.sh [--board FILE] FILE.ipk"
board=
ipk=
while [ $# -gt 0 ]; do
    case $1 in
        --board)
            [ $# -ge 2 ] || die "--board needs a value"
            board=$2
            shift 2
            ;;
        -*) die "unknown option $1"$'\n'"$usage" ;;
        *)
            [ -z "$ipk" ] || die "$usage"
            ipk=$1
            shift
            ;;
    esac
done
[ -n "$ipk" ] || die "$usage"
[ -f "$ipk" ] || die "no file $ipk"
ipk=$(realpath "$ipk")

export LC_ALL=C
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# same WHAT EXPECTED ACTUAL: passes when equal, else fails showing both.
same() {
    if [ "$2" = "$3" ]; then
        pass "$1"
    else
        fail "$1"$'\n'"$(diff <(printf '%s\n' "$2") <(printf '%s\n' "$3") | sed 's/^/    /')"
    fi
}
# listing TAR.GZ: "mode owner name" per entry, in archive order.
listing() {
    tar --list --verbose --numeric-owner --gzip --file="$1" | awk '{ print $1, $2, $6 }'
}
# times TAR.GZ: the distinct entry times.
times() {
    tar --list --verbose --full-time --gzip --file="$1" | awk '{ print $4, $5 }' | sort -u
}

# --- the outer container ------------------------------------------------------------------------
outer=$work/outer
mkdir -p "$outer"
magic=$(od -An -tx1 -N8 "$ipk" | tr -d ' \n')
case $magic in
    1f8b*)
        same "outer gzipped tar: members, modes, owners" \
            "$(printf '%s\n' '-rw-r--r-- 0/0 ./debian-binary' '-rw-r--r-- 0/0 ./control.tar.gz' \
                '-rw-r--r-- 0/0 ./data.tar.gz')" \
            "$(listing "$ipk")"
        tar --extract --gzip --file="$ipk" --directory="$outer"
        ;;
    213c617263683e0a) # "!<arch>\n"
        same "outer ar: members, modes, owners" \
            "$(printf '%s\n' 'rw-r--r-- 0/0 debian-binary' 'rw-r--r-- 0/0 control.tar.gz' \
                'rw-r--r-- 0/0 data.tar.gz')" \
            "$(ar tv "$ipk" | awk '{ print $1, $2, $NF }')"
        (cd "$outer" && ar x "$ipk")
        ;;
    *) die "$ipk is neither a gzipped tar nor an ar archive" ;;
esac
for member in debian-binary control.tar.gz data.tar.gz; do
    [ -f "$outer/$member" ] || die "no $member in $ipk"
done
same "debian-binary is 2.0" "$(printf '2.0\n' | od -An -c)" "$(od -An -c "$outer/debian-binary")"

# --- control.tar.gz ---------------------------------------------------------------------------
same "control.tar.gz: entries, modes, owners" "\
drwxr-xr-x 0/0 ./
-rw-r--r-- 0/0 ./conffiles
-rw-r--r-- 0/0 ./control
-rwxr-xr-x 0/0 ./postinst
-rwxr-xr-x 0/0 ./prerm" "$(listing "$outer/control.tar.gz")"
control=$work/control
mkdir -p "$control"
tar --extract --gzip --file="$outer/control.tar.gz" --directory="$control"

version=$(toml_get "$repo/Cargo.toml" package.version)
declare -A field=()
while IFS= read -r line; do
    if [[ $line =~ ^([A-Za-z][A-Za-z0-9-]*):\ (.+)$ ]]; then
        key=${BASH_REMATCH[1]}
        [ -z "${field[$key]+set}" ] || fail "control: $key appears twice"
        field[$key]=${BASH_REMATCH[2]}
    elif [[ $line =~ ^\ .+ ]] && [ -n "${key:-}" ]; then
        field[$key]+=$'\n'$line
    else
        fail "control: malformed line '$line'"
    fi
done <"$control/control"
[ "$(tail -c 1 "$control/control" | od -An -tx1 | tr -d ' ')" = 0a ] || fail "control does not end with a newline"
same "control: Package" push-agent "${field[Package]:-}"
same "control: Version is Cargo.toml's" "$version" "${field[Version]:-}"
for key in Architecture Maintainer Description; do
    check "control: $key is set" test -n "${field[$key]:-}"
done
if [ -n "${field[Depends]+set}" ]; then
    dep='[a-z0-9][a-z0-9.+-]*( \((<<|<=|=|>=|>>) [^)]+\))?'
    if [[ ${field[Depends]} =~ ^$dep(,\ $dep)*$ ]]; then
        pass "control: Depends is well formed"
    else
        fail "control: Depends '${field[Depends]}' is not a list of packages"
    fi
fi
for key in Filename Size MD5sum SHA256sum; do
    [ -z "${field[$key]+set}" ] || fail "control: $key belongs in the feed index, not the package"
done
arch=${field[Architecture]:-}
same "file name is <Package>_<Version>_<Architecture>.ipk" \
    "push-agent_${field[Version]:-}_${arch}.ipk" "$(basename "$ipk")"
same "conffiles" "$(printf '%s\n' /etc/push-agent/agent.toml /etc/push-agent/board.toml)" \
    "$(cat "$control/conffiles")"
for script in postinst prerm; do
    check "$script parses" sh -n "$control/$script"
done

# --- data.tar.gz ------------------------------------------------------------------------------
same "data.tar.gz: entries, modes, owners" "\
drwxr-xr-x 0/0 ./
drwxr-xr-x 0/0 ./etc/
drwxr-xr-x 0/0 ./etc/push-agent/
-rw------- 0/0 ./etc/push-agent/agent.toml
-rw-r--r-- 0/0 ./etc/push-agent/board.toml
drwxr-xr-x 0/0 ./lib/
drwxr-xr-x 0/0 ./lib/systemd/
drwxr-xr-x 0/0 ./lib/systemd/system/
-rw-r--r-- 0/0 ./lib/systemd/system/push-agent.service
drwxr-xr-x 0/0 ./usr/
drwxr-xr-x 0/0 ./usr/bin/
-rwxr-xr-x 0/0 ./usr/bin/push-agent
drwxr-xr-x 0/0 ./usr/share/
drwxr-xr-x 0/0 ./usr/share/push-agent/
drwxr-xr-x 0/0 ./usr/share/push-agent/init.d/
-rwxr-xr-x 0/0 ./usr/share/push-agent/init.d/procd
-rwxr-xr-x 0/0 ./usr/share/push-agent/init.d/sysvinit" "$(listing "$outer/data.tar.gz")"
same "one time for every entry" 1 \
    "$( (times "$outer/control.tar.gz"; times "$outer/data.tar.gz") | sort -u | wc -l)"

# --- install into scratch roots ---------------------------------------------------------------
# Service commands a postinst or prerm of an offline build must not run: each logs its call.
stubs=$work/stubs
mkdir -p "$stubs"
for cmd in systemctl start-stop-daemon update-rc.d service; do
    printf '#!/bin/sh\necho "%s $*" >>"%s"\n' "$cmd" "$work/service-calls" >"$stubs/$cmd"
    chmod 0755 "$stubs/$cmd"
done
: >"$work/service-calls"

# new_root NAME MARKER...: data.tar.gz extracted into a fresh root holding the MARKER files
# (empty), which make it look like an image of one init system.
new_root() {
    local root=$work/$1
    shift
    mkdir -p "$root"
    tar --extract --gzip --file="$outer/data.tar.gz" --directory="$root" --no-same-owner
    for marker in "$@"; do
        mkdir -p "$root/$(dirname "$marker")"
        : >"$root/$marker"
    done
    echo "$root"
}
# maintainer VAR ROOT SCRIPT ARGS...: runs a maintainer script as an offline build into ROOT,
# VAR being IPKG_INSTROOT or D.
maintainer() {
    local var=$1 root=$2 script=$3
    shift 3
    env PATH="$stubs:$PATH" "$var=$root" sh "$control/$script" "$@" >/dev/null \
        || fail "$script $* exited $? (offline build, $var)"
}
# links ROOT: every symbolic link under etc/ as "path -> target", sorted.
links() {
    (cd "$1" && find etc -type l -printf '%p -> %l\n' | sort)
}
# init_script ROOT FLAVOUR: passes when /etc/init.d/push-agent is that flavour's script.
init_script() {
    check "$2 root: /etc/init.d/push-agent is the $2 script" \
        cmp -s "$1/usr/share/push-agent/init.d/$2" "$1/etc/init.d/push-agent"
}

root=$(new_root root-busybox)
maintainer IPKG_INSTROOT "$root" postinst configure
same "postinst created /var/lib/push-agent, mode 0750" 750 "$(stat -c %a "$root/var/lib/push-agent" 2>&1)"
init_script "$root" sysvinit
same "BusyBox root: boot link" "etc/init.d/S95push-agent -> push-agent" "$(links "$root")"
maintainer IPKG_INSTROOT "$root" prerm remove
same "BusyBox root: prerm removed the init script and its link" "" \
    "$(cd "$root" && find etc/init.d -mindepth 1 -printf '%p\n')"
check "prerm kept the data directory" test -d "$root/var/lib/push-agent"

sysv=$(new_root root-sysvinit etc/rc0.d/.keep etc/rc1.d/.keep etc/rc2.d/.keep etc/rc3.d/.keep \
    etc/rc4.d/.keep etc/rc5.d/.keep etc/rc6.d/.keep)
maintainer D "$sysv" postinst configure
init_script "$sysv" sysvinit
same "sysvinit root: runlevel links" "\
etc/rc0.d/K10push-agent -> ../init.d/push-agent
etc/rc1.d/K10push-agent -> ../init.d/push-agent
etc/rc2.d/S95push-agent -> ../init.d/push-agent
etc/rc3.d/S95push-agent -> ../init.d/push-agent
etc/rc4.d/S95push-agent -> ../init.d/push-agent
etc/rc5.d/S95push-agent -> ../init.d/push-agent
etc/rc6.d/K10push-agent -> ../init.d/push-agent" "$(links "$sysv")"
maintainer D "$sysv" prerm remove
same "sysvinit root: prerm removed every link" "" "$(links "$sysv")"

procd=$(new_root root-procd etc/rc.common sbin/procd)
maintainer IPKG_INSTROOT "$procd" postinst configure
init_script "$procd" procd
same "procd root: rc.d links" "$(printf '%s\n' 'etc/rc.d/K10push-agent -> ../init.d/push-agent' \
    'etc/rc.d/S95push-agent -> ../init.d/push-agent')" "$(links "$procd")"

systemd=$(new_root root-systemd lib/systemd/systemd)
maintainer D "$systemd" postinst configure
same "systemd root: the unit is wanted by multi-user.target" \
    "etc/systemd/system/multi-user.target.wants/push-agent.service -> /lib/systemd/system/push-agent.service" \
    "$(links "$systemd")"
check "systemd root: no init script beside the unit" test ! -e "$systemd/etc/init.d/push-agent"
maintainer D "$systemd" prerm remove
same "systemd root: prerm removed the link" "" "$(links "$systemd")"
same "offline scripts ran no service command" "" "$(cat "$work/service-calls")"

# --- the systemd unit, as systemd reads it from the systemd root -------------------------------
command -v systemd-analyze >/dev/null || die "systemd-analyze is missing (apt-get install systemd)"
unit=$systemd/lib/systemd/system/push-agent.service
for line in 'ExecStart=/usr/bin/push-agent --config /etc/push-agent/agent.toml run' \
    Restart=always RestartPreventExitStatus=78 StateDirectory=push-agent; do
    check "push-agent.service: $line" grep -qxF "$line" "$unit"
done
# verify needs the targets the unit's default dependencies name; the build host has them.
for host_units in /usr/lib/systemd/system /lib/systemd/system; do
    [ ! -f "$host_units/sysinit.target" ] || break
done
[ -f "$host_units/sysinit.target" ] || die "no systemd targets on this host (apt-get install systemd)"
mkdir -p "$systemd/usr/lib/systemd/system"
cp "$host_units"/*.target "$systemd/usr/lib/systemd/system/"
if verdict=$(systemd-analyze verify --root="$systemd" push-agent.service 2>&1) && [ -z "$verdict" ]; then
    pass "systemd-analyze verify: push-agent.service is clean"
else
    fail "systemd-analyze verify: push-agent.service"$'\n'"$verdict"
fi

# --- the installed binary under qemu-user -----------------------------------------------------
case $(elf_machine "$root/usr/bin/push-agent") in
    40) qemu=(qemu-arm -L "${QEMU_LD_PREFIX:-/usr/arm-linux-gnueabihf}") ;;
    183) qemu=(qemu-aarch64 -L "${QEMU_LD_PREFIX:-/usr/aarch64-linux-gnu}") ;;
    *) die "/usr/bin/push-agent is neither an ARM nor an AArch64 binary" ;;
esac
command -v "${qemu[0]}" >/dev/null || die "${qemu[0]} is missing (apt-get install qemu-user)"
[ -d "${qemu[2]}" ] || die "no sysroot ${qemu[2]} for ${qemu[0]} -L"
same "push-agent --version under ${qemu[0]}" "push-agent $version" \
    "$("${qemu[@]}" "$root/usr/bin/push-agent" --version)"

installed=$root/etc/push-agent
same "board.toml's opkg_arch is the Architecture" "$arch" "$(opkg_arch_of "$installed/board.toml")"
if [ -n "$board" ]; then
    check "board.toml is $board" cmp -s "$board" "$installed/board.toml"
fi
# The installed agent.toml with its board and data directory inside the root.
config=$work/agent.toml
for line in 'board = "/etc/push-agent/board.toml"' 'data_dir = "/var/lib/push-agent"'; do
    same "agent.toml has exactly one line '$line'" 1 "$(grep -cxF "$line" "$installed/agent.toml")"
done
sed -e "s#^board = \"/etc/push-agent/board.toml\"\$#board = \"$installed/board.toml\"#" \
    -e "s#^data_dir = \"/var/lib/push-agent\"\$#data_dir = \"$root/var/lib/push-agent\"#" \
    "$installed/agent.toml" >"$config"
status=0
effective=$("${qemu[@]}" "$root/usr/bin/push-agent" check-config --config "$config" 2>"$work/check-config.err") \
    || status=$?
# On a GPIO board check-config also looks for the board's lines on the running system, after it
# printed the effective config and board ("# board"). A host without GPIO chips has none of them:
# exit 78 then says nothing about the files.
if [ "$status" -eq 0 ]; then
    pass "push-agent check-config accepts the installed agent.toml and board.toml"
elif [ "$status" -eq 78 ] && [ "$(toml_get "$installed/board.toml" board.driver)" = gpio ] \
    && ! compgen -G '/dev/gpiochip*' >/dev/null && grep -qx '# board' <<<"$effective"; then
    pass "push-agent check-config accepts the installed agent.toml and board.toml" \
        "(its GPIO lines cannot be found here: this host has no GPIO chip)"
else
    fail "push-agent check-config refused the installed files (exit $status)"$'\n'"$(cat "$work/check-config.err")"
fi
board_name=$(toml_get "$installed/board.toml" board.name)
for want in 'dialect = "security"' "data_dir = \"$root/var/lib/push-agent\"" "name = \"$board_name\""; do
    check "effective config: $want" grep -qxF "$want" <<<"$effective"
done

[ "$failures" -eq 0 ] || die "$failures check(s) failed for $ipk"
echo "check-ipk: $ipk: every check passed"
