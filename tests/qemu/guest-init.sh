#!/bin/busybox sh
# shellcheck shell=dash
# /init of the door test's initramfs (run-door-test.sh packs it with busybox, push-agent, its
# config and /etc/door-test.env). It plays the hardware around a 1-door controller:
#   1. creates a gpio-sim bank whose line names are the board file's (qemu-virt.toml);
#   2. starts push-agent, which talks to the host's fake server at 10.0.2.2 through slirp, and
#      waits until the server's user, time zone, authorization and door options are applied;
#   3. sends a 26-bit Wiegand frame by toggling the D0/D1 lines' `pull` attribute, and waits
#      for the lock line to go high;
#   4. opens and closes the door sensor while the lock is released;
#   5. waits for the lock line to go back low;
#   6. checks that the server's CONTROL DEVICE left aux output 1 high, and makes and opens aux
#      input 1's contact;
#   7. waits until every record is uploaded, prints the evidence and powers off.
# Every line meant for run-door-test.sh starts with "DOORTEST ", the kernel trace with "TRACE ".
# Timing comes from the kernel trace, not from this script: the lock line's edges are gpio_value
# events, the Wiegand edges are the interrupts of the agent's line request (irq_handler_entry,
# where the kernel also takes the edge timestamps the decoder gets), and the script's own
# moments (start and end of each frame, door moves) are trace_marker lines, all on one clock
# (CLOCK_MONOTONIC).

/bin/busybox mkdir -p /proc /sys /dev /tmp /usr/bin /usr/sbin /sbin /var/lib/push-agent
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t configfs configfs /sys/kernel/config
mount -t debugfs debugfs /sys/kernel/debug
mount -t tracefs tracefs /sys/kernel/tracing
mount -t tmpfs tmpfs /var/lib/push-agent
# shellcheck source=/dev/null # written by run-door-test.sh
. /etc/door-test.env

CONFIG=/etc/push-agent/agent.toml
TRACE=/sys/kernel/tracing
AGENT_LOG=/tmp/agent.log

say() { echo "DOORTEST $*"; }
# Uptime in hundredths of a second (/proc/uptime has two decimals; the 1 keeps them decimal).
uptime_cs() {
    read -r up _ < /proc/uptime
    echo $((${up%.*} * 100 + 1${up#*.} - 100))
}
mark() { echo "door-test: $*" > $TRACE/trace_marker; }

# Prints what run-door-test.sh reads, then powers off (qemu exits).
finish() {
    echo 0 > $TRACE/tracing_on
    say "gpio-debug"
    sed 's/^/DOORTEST gpio /' /sys/kernel/debug/gpio
    grep -E 'door-test:|gpio_value|irq_handler_entry' $TRACE/trace | sed 's/^/TRACE /'
    push-agent -c $CONFIG status > /tmp/status 2>&1
    sed 's/^/DOORTEST status /' /tmp/status
    sed 's/^/DOORTEST agent /' $AGENT_LOG
    say "end $1"
    poweroff -f
}
fail() {
    say "FAIL $*"
    finish failed
}

# within SECONDS COMMAND...: runs COMMAND every 0.05 s until it succeeds (status 0) or SECONDS
# pass (status 1).
within() {
    limit=$(($(uptime_cs) + $1 * 100))
    shift
    until "$@"; do
        kill -0 "$AGENT" 2>/dev/null || fail "push-agent exited"
        [ "$(uptime_cs)" -lt "$limit" ] || return 1
        usleep 50000
    done
}
# wait_until SECONDS WHAT COMMAND...: within, or the test fails.
wait_until() {
    seconds=$1
    what=$2
    shift 2
    within "$seconds" "$@" || fail "no $what within $seconds s"
}

say "boot kernel=$(uname -r) uptime=$(cut -d' ' -f1 /proc/uptime) s"

# 1. The gpio-sim bank: one line per name, in order; LINE_<name> holds each line's sysfs folder
# and OFFSET_<name> its offset.
bank=/sys/kernel/config/gpio-sim/door-test
[ -d /sys/kernel/config/gpio-sim ] || fail "no gpio-sim in configfs (kernel without GPIO_SIM)"
mkdir $bank $bank/bank0
offset=0
for name in $LINE_NAMES; do
    mkdir $bank/bank0/line$offset
    echo "$name" > $bank/bank0/line$offset/name
    offset=$((offset + 1))
done
echo $offset > $bank/bank0/num_lines
echo door-test > $bank/bank0/label
echo 1 > $bank/live || fail "gpio-sim refused the bank"
chip_sysfs=/sys/devices/platform/$(cat $bank/dev_name)/$(cat $bank/bank0/chip_name)
offset=0
for name in $LINE_NAMES; do
    eval "LINE_$name=$chip_sysfs/sim_gpio$offset OFFSET_$name=$offset"
    offset=$((offset + 1))
done
line() { eval "echo \$LINE_$1"; }
set_input() { echo "$2" > "$(line "$1")/pull"; }
# Inputs idle high, as the board's pull-up bias keeps them once the agent holds them.
for name in $INPUT_NAMES; do
    set_input "$name" pull-up
done
# The gpio trace events carry global numbers: the bank's base plus the offset.
base=$(sed -n 's/^gpiochip[0-9]*: GPIOs \([0-9]*\)-.*door-test.*/\1/p' /sys/kernel/debug/gpio)
say "gpio-sim $(cat $bank/bank0/chip_name) base $base lines $LINE_NAMES"
say "lock-gpio $((base + $(eval "echo \$OFFSET_$LOCK_LINE")))"

# 2. The network (slirp: the host is 10.0.2.2), the trace, the agent.
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
echo mono > $TRACE/trace_clock
echo 'get == 0' > $TRACE/events/gpio/gpio_value/filter
echo 1 > $TRACE/events/gpio/gpio_value/enable
echo 'name == "push-agent"' > $TRACE/events/irq/irq_handler_entry/filter
echo 1 > $TRACE/tracing_on
push-agent -c $CONFIG run > $AGENT_LOG 2>&1 &
AGENT=$!
say "agent started pid=$AGENT"
provisioned() {
    push-agent -c $CONFIG status > /tmp/status 2>&1 \
        && grep -q '^users: *[1-9]' /tmp/status \
        && grep -q '^pending replies: *0$' /tmp/status
}
wait_until 90 "user and door settings from the server" provisioned
say "provisioned uptime=$(cut -d' ' -f1 /proc/uptime) s"
# 3. The card: each bit is a low pulse on D0 (0) or D1 (1); the lines idle high (pull-up).
# A pulse is two writes in one command group to a file kept open. Between them runs only the
# thread of the first edge's interrupt, which preempts this script at once (the guest has one
# CPU); it must, for a line watched on both edges: that thread reads the level that names the
# edge. The kernel sees pulses of about 35-60 µs on the guest's instruction clock (run-door-test.sh
# runs QEMU with -icount); an `echo > file` each would make them 200-500 µs, past the decoder's
# 300 µs. The pause makes the interval about 1 ms, a typical reader's, inside the decoder's
# 150 µs-30 ms window; a fork (sleep, usleep) would take several milliseconds. Should a frame
# still be refused, up to 3 are sent; the report says how many.
pause() {
    i=0
    while [ $i -lt 20 ]; do i=$((i + 1)); done
}
send_frame() {
    exec 3> "$(line "$WIEGAND_D0")/pull" 4> "$(line "$WIEGAND_D1")/pull"
    echo 1 > $TRACE/events/irq/irq_handler_entry/enable
    mark "wiegand frame start $1"
    first=true
    for bit in $WIEGAND_BITS; do
        $first || pause
        first=false
        if [ "$bit" = 1 ]; then fd=4; else fd=3; fi
        { echo pull-down; echo pull-up; } >&$fd
    done
    mark "wiegand frame end $1"
    echo 0 > $TRACE/events/irq/irq_handler_entry/enable
    exec 3>&- 4>&-
}
lock=$(line "$LOCK_LINE")
lock_is() { [ "$(cat "$lock/value")" = "$1" ]; }
attempt=1
send_frame $attempt
until within 3 lock_is 1; do
    [ $attempt -lt 3 ] || fail "lock relay on after $attempt Wiegand frames"
    say "frame $attempt: the lock did not answer within 3 s; sending it again"
    attempt=$((attempt + 1))
    send_frame $attempt
done
say "wiegand bits=$(echo "$WIEGAND_BITS" | tr -d ' ') frames=$attempt"

# 4. Someone walks through while the lock is released: the door opens, and closes half a second
# later (the board debounces contacts for 20 ms).
mark "door open"
set_input "$DOOR_LINE" "$DOOR_OPEN_PULL"
sleep 0.5
mark "door close"
set_input "$DOOR_LINE" "$DOOR_CLOSED_PULL"

# 5. The lock goes back low after DoorDrivertime.
wait_until $((DRIVE_SECS + 5)) "lock relay off" lock_is 0

# 6. The aux output the server switched normally open, and the aux input's contact.
aux_output_high() { [ "$(cat "$(line "$AUX_OUT")/value")" = 1 ]; }
wait_until 5 "aux output 1 high after CONTROL DEVICE 010102FF" aux_output_high
mark "aux input made"
set_input "$AUX_IN" pull-down
sleep 0.2
mark "aux input open"
set_input "$AUX_IN" pull-up
sleep 0.2

# 7. Every record at the server: the rtlog backlog is empty (the close event is long made).
uploaded() {
    push-agent -c $CONFIG status > /tmp/status 2>&1 \
        && [ "$(awk '$1 == "rtlog" {print $2}' /tmp/status)" = 0 ]
}
wait_until 60 "upload of every record" uploaded
finish passed
