#!/usr/bin/env bash
# Installs a push-agent .ipk on a running BusyBox "device", a chroot that holds nothing but a
# static BusyBox, as opkg would, and checks the maintainer scripts and the sysvinit script there
# with BusyBox's own sh, sed, cmp, start-stop-daemon and kill:
#
#   packaging/test-busybox-device.sh FILE.ipk        (as root, for chroot; needs busybox-static)
#
# - postinst configure: the data directory, /etc/init.d/push-agent (the sysvinit script) and its
#   S95 link, `check-config`, and the service started;
# - postinst again (an upgrade): the agent restarted;
# - prerm remove: the agent and its supervisor stopped, the script and the link gone, data kept;
# - postinst with a config that check-config refuses: the install succeeds, nothing starts.
#
# The ARM binary cannot run in the chroot (no binfmt_misc), so a stand-in takes its place: it logs
# its arguments, answers check-config with the status in /tmp/check-status and otherwise runs
# until it is signalled. packaging/check-ipk.sh runs the real binary under qemu-user.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck disable=SC2034  # lib.sh checks that repo is set
repo=$(dirname "$here")
# shellcheck source=packaging/lib.sh
. "$here/lib.sh"

{ [ $# -eq 1 ] && [ -f "$1" ]; } || die "usage: packaging/test-busybox-device.sh FILE.ipk"
ipk=$(realpath "$1")
[ "$(id -u)" -eq 0 ] || die "needs root, for chroot"
busybox=$(command -v busybox) || die "busybox is missing (apt-get install busybox-static)"
ldd "$busybox" >/dev/null 2>&1 && die "$busybox is dynamically linked (apt-get install busybox-static)"

work=$(mktemp -d)
root=$work/device
cleanup() {
    # Stop exactly what the tests started: the stand-in agents and the supervisor.
    kill_listed "$root/tmp/agent.pids" "$root/var/run/push-agent.pid"
    rm -rf "$work"
}
trap cleanup EXIT

# on_device COMMAND...: runs a command in the chroot with a clean environment.
on_device() { env -i PATH=/bin:/sbin:/usr/bin:/usr/sbin chroot "$root" "$@"; }
lines() { if [ -f "$root/$1" ]; then wc -l <"$root/$1"; else echo 0; fi; }
runs_reach() { [ "$(lines tmp/agent.pids)" -ge "$1" ]; }
last_agent() { tail -n 1 "$root/tmp/agent.pids"; }
status_is() { [ "$(on_device /etc/init.d/push-agent status >/dev/null 2>&1; echo $?)" = "$1" ]; }

# The device: BusyBox, the package unpacked as opkg does, the stand-in agent.
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,tmp,var/run,etc/init.d}
mknod -m 0666 "$root/dev/null" c 1 3
cp "$busybox" "$root/bin/busybox"
on_device /bin/busybox --install -s
outer=$work/outer
mkdir -p "$outer" "$root/tmp/control"
case $(od -An -tx1 -N2 "$ipk" | tr -d ' \n') in
    1f8b) tar --extract --gzip --file="$ipk" --directory="$outer" ;;
    *) (cd "$outer" && ar x "$ipk") ;;
esac
tar --extract --gzip --file="$outer/data.tar.gz" --directory="$root"
tar --extract --gzip --file="$outer/control.tar.gz" --directory="$root/tmp/control"
cat >"$root/usr/bin/push-agent" <<'EOF'
#!/bin/sh
echo "$*" >>/tmp/agent.calls
case " $* " in
    *" check-config "*) exit "$(cat /tmp/check-status)" ;;
esac
echo $$ >>/tmp/agent.pids
exec sleep 300
EOF
chmod 0755 "$root/usr/bin/push-agent"
calls() { cat "$root/tmp/agent.calls"; }

echo 0 >"$root/tmp/check-status"
check "postinst configure succeeds" on_device /bin/sh /tmp/control/postinst configure
check "postinst: the agent runs" wait_for 10 runs_reach 1
check "postinst: checked the config, then started the agent" test "$(calls)" = "\
--config /etc/push-agent/agent.toml check-config
--config /etc/push-agent/agent.toml run"
check "postinst: /var/lib/push-agent, mode 0750" test "$(stat -c %a "$root/var/lib/push-agent")" = 750
check "postinst: /etc/init.d/push-agent is the sysvinit script" \
    cmp -s "$root/usr/share/push-agent/init.d/sysvinit" "$root/etc/init.d/push-agent"
check "postinst: linked for BusyBox's rcS" test "$(readlink "$root/etc/init.d/S95push-agent")" = push-agent
check "status: running" status_is 0

first=$(last_agent)
supervisor=$(cat "$root/var/run/push-agent.pid")
check "postinst again (upgrade) succeeds" on_device /bin/sh /tmp/control/postinst configure
check "upgrade: a new agent runs" wait_for 10 runs_reach 2
check "upgrade: the old agent stopped" wait_for 5 dead "$first"
check "upgrade: the old supervisor stopped" wait_for 5 dead "$supervisor"

second=$(last_agent)
supervisor=$(cat "$root/var/run/push-agent.pid")
check "prerm remove succeeds" on_device /bin/sh /tmp/control/prerm remove
check "prerm: the agent stopped" wait_for 5 dead "$second"
check "prerm: the supervisor stopped" wait_for 5 dead "$supervisor"
check "prerm: init script and link removed" test -z "$(ls -A "$root/etc/init.d")"
check "prerm: data directory kept" test -d "$root/var/lib/push-agent"

echo 78 >"$root/tmp/check-status"
: >"$root/tmp/agent.calls"
check "postinst with a refused config still succeeds" on_device /bin/sh /tmp/control/postinst configure
check "refused config: only checked, not started" \
    test "$(calls)" = "--config /etc/push-agent/agent.toml check-config"
check "refused config: status is not running" status_is 3
on_device /bin/sh /tmp/control/prerm remove

[ "$failures" -eq 0 ] || die "$failures BusyBox device test(s) failed"
echo "test-busybox-device: every test passed"
