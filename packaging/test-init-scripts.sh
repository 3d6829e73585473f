#!/usr/bin/env bash
# Tests the init scripts' behaviour on this host:
#
# - the sysvinit script (under /bin/sh, with the host's start-stop-daemon) with a stand-in agent
#   whose exit statuses are scripted: it restarts the agent after 75 and 1, stops for good after
#   78, and `stop` ends both the supervisor and the agent;
# - the procd script, sourced as /etc/rc.common would, with procd's functions recording calls.
#
#   packaging/test-init-scripts.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck disable=SC2034  # lib.sh checks that repo is set
repo=$(dirname "$here")
# shellcheck source=packaging/lib.sh
. "$here/lib.sh"

command -v start-stop-daemon >/dev/null || die "start-stop-daemon is missing (Debian: dpkg)"
work=$(mktemp -d)
cleanup() {
    # A failed test may leave the supervisor or the stand-in running: stop exactly those.
    kill_listed "$work/push-agent.pid" "$work/agent.pids"
    rm -rf "$work"
}
trap cleanup EXIT

lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
alive() { kill -0 "$1" 2>/dev/null; }

# --- sysvinit --------------------------------------------------------------------------------
init=$here/files/push-agent.sysvinit
# The stand-in agent: run N (from 1) exits with line N of $work/statuses, or with `serve` stays up
# until it is signalled. Each run logs its arguments and its pid.
cat >"$work/agent" <<EOF
#!/bin/sh
echo "\$*" >>"$work/agent.calls"
echo \$\$ >>"$work/agent.pids"
status=\$(sed -n "\$(wc -l <"$work/agent.calls")p" "$work/statuses")
[ "\$status" != serve ] || exec sleep 300
exit "\$status"
EOF
chmod 0755 "$work/agent"
cat >"$work/defaults" <<EOF
DAEMON=$work/agent
CONFIG=$work/agent.toml
PIDFILE=$work/push-agent.pid
RESTART_DELAY=0
STOP_TIMEOUT=5
EOF
export PUSH_AGENT_DEFAULTS=$work/defaults
service() { /bin/sh "$init" "$@"; }
status_is() { [ "$(service status >/dev/null; echo $?)" = "$1" ]; }
supervisor_gone() { [ ! -f "$work/push-agent.pid" ]; }
runs_reach() { [ "$(lines "$work/agent.calls")" -ge "$1" ]; }
reset() {
    printf '%s\n' "$@" >"$work/statuses"
    rm -f "$work/agent.calls" "$work/agent.pids"
}

reset 75 1 78
service start >/dev/null
check "sysvinit: restarts after 75 and 1, stops after 78" wait_for 10 supervisor_gone
check "sysvinit: three runs" test "$(lines "$work/agent.calls")" = 3
check "sysvinit: each run is '--config CONFIG run'" \
    test "$(sort -u "$work/agent.calls")" = "--config $work/agent.toml run"
check "sysvinit: status after 78 is 3 (not running)" status_is 3

reset 75 serve
service start >/dev/null
check "sysvinit: restarts after 75 and serves" wait_for 10 runs_reach 2
supervisor=$(cat "$work/push-agent.pid")
agent=$(tail -n 1 "$work/agent.pids")
check "sysvinit: status while serving is 0" status_is 0
service start >/dev/null
check "sysvinit: a second start starts nothing" test "$(cat "$work/push-agent.pid")" = "$supervisor"
check "sysvinit: the agent is up" alive "$agent"
service stop >/dev/null
check "sysvinit: stop ends the supervisor" wait_for 5 dead "$supervisor"
check "sysvinit: stop ends the agent" wait_for 5 dead "$agent"
check "sysvinit: no restart after stop" test "$(lines "$work/agent.calls")" = 2
check "sysvinit: status after stop is 3" status_is 3

# --- procd -----------------------------------------------------------------------------------
procd_calls=$(
    # shellcheck disable=SC2317  # called by the sourced script
    procd_open_instance() { echo open_instance; }
    # shellcheck disable=SC2317
    procd_set_param() { echo "$*"; }
    # shellcheck disable=SC2317
    procd_close_instance() { echo close_instance; }
    # shellcheck source=packaging/files/push-agent.procd
    . "$here/files/push-agent.procd"
    start_service
    echo "START=$START STOP=$STOP USE_PROCD=$USE_PROCD"
)
check "procd: one instance: the agent in the foreground, respawned, logging to logd" test "$procd_calls" = "\
open_instance
command /usr/bin/push-agent --config /etc/push-agent/agent.toml run
respawn 3600 5 5
stdout 1
stderr 1
file /etc/push-agent/agent.toml /etc/push-agent/board.toml
term_timeout 10
close_instance
START=95 STOP=10 USE_PROCD=1"

[ "$failures" -eq 0 ] || die "$failures init script test(s) failed"
echo "test-init-scripts: every test passed"
