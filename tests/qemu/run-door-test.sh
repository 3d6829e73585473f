#!/usr/bin/env bash
# The full-system QEMU door test: the real armv7 push-agent, on board/qemu-virt.toml, in
# qemu-system-arm -M virt with a kernel that has gpio-sim, against a fake Security PUSH server
# on the host.
#
#   host: push-agent serve (127.0.0.1, free port) ◄── slirp 10.0.2.2 ── guest: push-agent run
#                                                                        /init drives gpio-sim
#
# The guest's /init (guest-init.sh) sends a 26-bit Wiegand frame on the D0/D1 lines, waits for
# the lock line to go high, opens and closes the door while the lock is released, waits for the
# lock to drop and for the uploads. This script then asserts, from the guest's kernel trace and
# the server's output:
#   - the lock line was high for DoorDrivertime (DRIVE_SECS) within LOCK_TOLERANCE_MS;
#   - the server received the card's access event (0) and the door's opened (200) and closed
#     (201) events, in that index order, no forced or held-open alarm, and every rtlog event
#     once, in index order;
#   - the reader's LED line was high for LED_GRANT_MS, and its buzzer line pulsed once (one
#     beep: a grant), after the frame;
#   - aux output 1, switched normally open by the server (CONTROL DEVICE 010102FF), is high in
#     the guest (event 12), and aux input 1's contact made and opened again gives events 221
#     and 220;
# and it reports the latency from the end of the Wiegand frame to the lock line going high, and
# the pulses the guest kernel saw, all from the guest's trace (see guest-init.sh).
#
# Usage: tests/qemu/run-door-test.sh      (from anywhere; CI runs it from .ci/run)
# Needs: apt (root or sudo) for what is missing, and what scripts/build-release.sh needs.
# Takes about 10 s once the kernel is cached and the binaries are built; the first run builds the
# kernel (build-kernel.sh, about 6 minutes on 2 idle cores) and the armv7 release binary.
# KEEP_QEMU_WORK=1 keeps the work folder (initramfs, console log, server output).
set -eEuo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR
. "$here/lib.sh"
trap 'die "run-door-test.sh stopped at line $LINENO"' ERR
started=$(date +%s)

# What the test does. The server sets door 1's drive time; the card is 26-bit H10301.
DRIVE_SECS=2
LOCK_TOLERANCE_MS=250
FACILITY=123
CARD_NUMBER=45678
# The card as the agent reports it: the 24 data bits, facility code then card number.
CARD=$((FACILITY * 65536 + CARD_NUMBER))
SERIAL=QEMU0000001
# The board file and its lines (the gpio-sim bank the guest creates, in this order), door 1's
# lock, sensor and Wiegand reader among them.
BOARD_FILE=$repo/board/qemu-virt.toml
LINE_NAMES="LOCK1 DOOR1 EXIT1 TAMPER WG1_D0 WG1_D1 WG1_LED WG1_BEEP AUX_IN1 AUX_OUT1"
INPUT_NAMES="DOOR1 EXIT1 TAMPER WG1_D0 WG1_D1 AUX_IN1"
LOCK_LINE=LOCK1
LED_LINE=WG1_LED
BEEP_LINE=WG1_BEEP
# The reader's feedback on a grant (src/hal/gpio/indicators.rs): the LED on for 1 s, one beep.
LED_GRANT_MS=1000
QEMU_TIMEOUT_SECS=240

# The 26 bits, first sent first: even parity over bits 2-13, 8 bits of facility code, 16 of card
# number, odd parity over bits 14-25.
wiegand26() {
    local data=$(($1 << 16 | $2)) bits=() i ones
    for ((i = 23; i >= 0; i--)); do bits+=($((data >> i & 1))); done
    ones=0
    for ((i = 0; i < 12; i++)); do ones=$((ones + bits[i])); done
    local even=$((ones % 2))
    ones=0
    for ((i = 12; i < 24; i++)); do ones=$((ones + bits[i])); done
    local odd=$((1 - ones % 2))
    echo "$even ${bits[*]} $odd"
}

# The armv7 binary the guest runs: the release build as shipped, linked against glibc 2.17.
build_guest_agent() {
    log "agent: scripts/build-release.sh armv7"
    "$repo/scripts/build-release.sh" armv7 | tail -n 1
}

# Copies the program interpreter and the shared libraries BINARY needs, and theirs, from the
# armhf glibc of the cross toolchain into ROOT/lib (a newer glibc runs a binary linked against
# 2.17).
ARMHF_LIBS=/usr/arm-linux-gnueabihf/lib
copy_libraries() {
    local binary=$1 root=$2 interpreter lib
    interpreter=$(readelf --program-headers "$binary" | sed -n 's/.*interpreter: \(.*\)]$/\1/p')
    if [ -n "$interpreter" ] && [ ! -e "$root$interpreter" ]; then
        mkdir -p "$root$(dirname "$interpreter")"
        cp -L "$ARMHF_LIBS/$(basename "$interpreter")" "$root$interpreter"
    fi
    for lib in $(readelf --dynamic "$binary" | sed -n 's/.*Shared library: \[\(.*\)\]$/\1/p'); do
        [ ! -e "$root/lib/$lib" ] || continue
        [ -f "$ARMHF_LIBS/$lib" ] || die "$ARMHF_LIBS has no $lib (package libc6-armhf-cross)"
        mkdir -p "$root/lib"
        cp -L "$ARMHF_LIBS/$lib" "$root/lib/$lib"
        copy_libraries "$ARMHF_LIBS/$lib" "$root"
    done
}

# The host's push-agent, for `serve`.
build_host_agent() {
    log "server: cargo build (host)"
    (cd "$repo" && cargo build --locked --bin push-agent >&2)
    printf '%s\n' "${CARGO_TARGET_DIR:-$repo/target}/debug/push-agent"
}

need_commands cpio:cpio gzip:gzip bc:bc timeout:coreutils awk:gawk readelf:binutils
[ -e "$ARMHF_LIBS/libc.so.6" ] || apt_install libc6-armhf-cross
kernel=$("$here/build-kernel.sh")
ensure_qemu
ensure_busybox
guest_agent=$(build_guest_agent)
host_agent=$(build_host_agent)
[ -f "$BOARD_FILE" ] || die "no board file $BOARD_FILE"
for name in $LINE_NAMES; do
    grep -q "\"$name\"" "$BOARD_FILE" || die "$BOARD_FILE names no line $name"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/push-agent-qemu.XXXXXX")
server_pid=
cleanup() {
    [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
    if [ "${KEEP_QEMU_WORK:-}" = 1 ]; then
        log "work folder kept: $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

# The server queues, before the agent first polls: the user, an all-day time zone, the
# authorization for door 1, and door 1's options: the drive time; CloseAndLock=0, so that only
# the drive time ends the release (the default 1 relocks when the door closes); a normally-open
# sensor; a held-open alarm long after the test. RequestDelay=1 keeps the polls quick.
all_day=$(printf '\t%sTime1=2359' Sun Mon Tue Wed Thu Fri Sat)
door_options=Door1Detectortime=60,Door1SensorType=1
timeout 600 "$host_agent" serve --dialect security --port-file "$work/port" \
    --option RequestDelay=1 --option ErrorDelay=2 \
    --command "DATA UPDATE user CardNo=$CARD"$'\tPin=1\tName=QEMU' \
    --command "DATA UPDATE timezone TimezoneId=1$all_day" \
    --command $'DATA UPDATE userauthorize Pin=1\tAuthorizeTimezoneId=1\tAuthorizeDoorId=1' \
    --command "SET OPTIONS Door1Drivertime=$DRIVE_SECS,Door1CloseAndLock=0,$door_options" \
    --command "CONTROL DEVICE 010102FF" \
    > "$work/server.out" 2> "$work/server.err" &
server_pid=$!
for _ in $(seq 100); do
    [ -s "$work/port" ] && break
    kill -0 "$server_pid" 2>/dev/null || die "the server exited: $(cat "$work/server.err")"
    sleep 0.1
done
[ -s "$work/port" ] || die "the server wrote no port file within 10 s"
port=$(cat "$work/port")
log "server: 127.0.0.1:$port (the guest's 10.0.2.2:$port)"

WIEGAND_BITS=$(wiegand26 "$FACILITY" "$CARD_NUMBER")

# The initramfs.
root=$work/root
mkdir -p "$root/bin" "$root/dev" "$root/etc/push-agent" "$root/usr/bin"
# The kernel opens /dev/console before /init runs, and devtmpfs is not mounted yet then.
mknod -m 600 "$root/dev/console" c 5 1
mknod -m 666 "$root/dev/null" c 1 3
cp "$BUSYBOX" "$root/bin/busybox"
cp "$guest_agent" "$root/usr/bin/push-agent"
copy_libraries "$guest_agent" "$root"
cp "$here/guest-init.sh" "$root/init"
chmod 755 "$root/init"
cp "$BOARD_FILE" "$root/etc/push-agent/board.toml"
cat > "$root/etc/push-agent/agent.toml" <<EOF
[server]
url = "http://10.0.2.2:$port"

[device]
serial = "$SERIAL"
dialect = "security"
push_version = "3.1.2"
board = "/etc/push-agent/board.toml"

[storage]
data_dir = "/var/lib/push-agent"
EOF
cat > "$root/etc/door-test.env" <<EOF
LINE_NAMES="$LINE_NAMES"
INPUT_NAMES="$INPUT_NAMES"
LOCK_LINE=$LOCK_LINE
LED_LINE=$LED_LINE
BEEP_LINE=$BEEP_LINE
DOOR_LINE=DOOR1
DOOR_OPEN_PULL=pull-down
DOOR_CLOSED_PULL=pull-up
AUX_IN=AUX_IN1
AUX_OUT=AUX_OUT1
WIEGAND_D0=WG1_D0
WIEGAND_D1=WG1_D1
WIEGAND_BITS="$WIEGAND_BITS"
DRIVE_SECS=$DRIVE_SECS
EOF
(cd "$root" && find . | cpio -o -H newc --owner root:root --quiet) | gzip -1 > "$work/initrd.gz"

log "qemu: booting (console: $work/console.log)"
# -icount shift=1: the guest's clock counts the instructions it runs, 2 ns each, instead of
# following the host's, so neither a host that deschedules QEMU nor TCG translating code on
# first use stretches a 40 µs Wiegand pulse as the guest kernel timestamps it; idle time still
# passes at the host's pace (sleep=on, the default), so the 2 s drive time is 2 s. Without it,
# pulses measured 0.1-25 ms on a loaded 2-core host and the decoder refused most frames. One
# vCPU: QEMU 7.2 hung at boot in about half the runs with -smp 2 and -icount.
boot_started=$(date +%s.%N)
qemu_status=0
timeout "$QEMU_TIMEOUT_SECS" env LD_LIBRARY_PATH="$(qemu_library_path)" "$QEMU_BIN" \
    -M virt -cpu cortex-a15 -smp 1 -m 256 -icount shift=1 -nographic -no-reboot \
    -kernel "$kernel" -initrd "$work/initrd.gz" \
    -append 'console=ttyAMA0 rdinit=/init panic=-1 quiet' \
    -nic none -netdev user,id=net0 -device virtio-net-device,netdev=net0 \
    -device virtio-rng-device < /dev/null > "$work/console.raw" 2>&1 \
    || qemu_status=$?
boot_secs=$(echo "$(date +%s.%N) - $boot_started" | bc)
tr -d '\r' < "$work/console.raw" > "$work/console.log"
kill "$server_pid" 2>/dev/null || true
wait "$server_pid" 2>/dev/null || true
server_pid=

# The verdict.
failures=()
expect() { # MESSAGE COMMAND...: notes MESSAGE as a failure unless COMMAND succeeds
    local message=$1
    shift
    "$@" || failures+=("$message")
}
guest_end=$(sed -n 's/^DOORTEST end //p' "$work/console.log")
if [ "$guest_end" != passed ]; then
    {
        echo "--- guest (DOORTEST lines, last 60) ---"
        { grep -E '^DOORTEST' "$work/console.log" || true; } | tail -n 60
        echo "--- console, last 20 lines ---"
        tail -n 20 "$work/console.log"
    } >&2
    die "the guest did not finish (qemu exit $qemu_status, guest ${guest_end:-gave no end line}):" \
        "$(sed -n 's/^DOORTEST FAIL //p' "$work/console.log")"
fi

lock_gpio=$(sed -n 's/^DOORTEST lock-gpio //p' "$work/console.log")
frames=$(sed -n 's/^DOORTEST wiegand .* frames=//p' "$work/console.log")
bit_count=$(wc -w <<<"$WIEGAND_BITS")
# Trace lines: "TRACE <task> [cpu] <flags> <seconds>: <event>: <text>". From the last frame
# (the one the lock answered): its end, the lock's first rise after it and its first fall after
# that; and its edges, the agent's line interrupts between the frame's start and end markers.
# With both edges watched they come in pairs (pulse start, end): the pulse widths; the intervals
# are between pulse starts. Times in µs, "-" when the edges do not fit either pattern.
read -r frame_end lock_on lock_off edges width_min width_max interval_min interval_max < <(
    awk -v gpio="$lock_gpio" -v frame="$frames" -v bits="$bit_count" '
    function us(seconds) { return sprintf("%.0f", seconds * 1e6) }
    /^TRACE / {
        for (i = 2; i <= NF; i++)
            if ($i ~ /^[0-9]+\.[0-9]+:$/) { t = substr($i, 1, length($i) - 1); break }
        if ($0 ~ ("door-test: wiegand frame start " frame "$")) in_frame = 1
        else if ($0 ~ ("door-test: wiegand frame end " frame "$")) { in_frame = 0; end = t }
        else if (in_frame && /irq_handler_entry/) edge[n++] = t
        else if (end != "" && on == "" && $0 ~ ("gpio_value: " gpio " set 1")) on = t
        else if (on != "" && off == "" && $0 ~ ("gpio_value: " gpio " set 0")) off = t
    }
    END {
        step = (n == 2 * bits) ? 2 : (n == bits) ? 1 : 0
        wmin = imin = "-"; wmax = imax = "-"
        for (i = 0; step && i < n; i += step) {
            if (step == 2) {
                w = edge[i + 1] - edge[i]
                if (wmin == "-" || w < wmin) wmin = w; if (wmax == "-" || w > wmax) wmax = w
            }
            if (i >= step) {
                p = edge[i] - edge[i - step]
                if (imin == "-" || p < imin) imin = p; if (imax == "-" || p > imax) imax = p
            }
        }
        print (end == "" ? "-" : end), (on == "" ? "-" : on), (off == "" ? "-" : off), n + 0,
            (wmin == "-" ? "-" : us(wmin)), (wmax == "-" ? "-" : us(wmax)),
            (imin == "-" ? "-" : us(imin)), (imax == "-" ? "-" : us(imax))
    }' "$work/console.log")
[ "$frame_end" != - ] || die "no end-of-frame marker in the guest's trace"
[ "$lock_on" != - ] || die "the trace shows no rise of gpio $lock_gpio ($LOCK_LINE) after the frame"
[ "$lock_off" != - ] || die "the trace shows no fall of gpio $lock_gpio ($LOCK_LINE) after it rose"
expect "the trace shows $edges interrupts for the $bit_count-bit frame, not one or two a bit" \
    test "$edges" -eq "$bit_count" -o "$edges" -eq $((2 * bit_count))
milliseconds() { printf '%.1f' "$(echo "($1) * 1000" | bc)"; }

# pulses_after GPIO TIME: the pulses (set 1 … set 0) of GPIO in the trace after TIME: their
# count and the first one's width in ms ("-" without any).
pulses_after() {
    awk -v gpio="$1" -v after="$2" '
    /^TRACE / && /gpio_value: / {
        for (i = 2; i <= NF; i++)
            if ($i ~ /^[0-9]+\.[0-9]+:$/) { t = substr($i, 1, length($i) - 1); break }
        if (t + 0 < after + 0) next
        if ($0 ~ ("gpio_value: " gpio " set 1") && rose == "") rose = t
        else if ($0 ~ ("gpio_value: " gpio " set 0") && rose != "") {
            if (n++ == 0) width = t - rose
            rose = ""
        }
    }
    END { print n + 0, (n ? sprintf("%.1f", width * 1000) : "-") }' "$work/console.log"
}
led_gpio=$(sed -n 's/^DOORTEST led-gpio //p' "$work/console.log")
beep_gpio=$(sed -n 's/^DOORTEST beep-gpio //p' "$work/console.log")
read -r led_pulses led_ms < <(pulses_after "$led_gpio" "$frame_end")
read -r beep_pulses beep_ms < <(pulses_after "$beep_gpio" "$frame_end")
# within_tolerance MS EXPECTED_MS: MS is a number within LOCK_TOLERANCE_MS of EXPECTED_MS.
within_tolerance() {
    [ "$1" != - ] || return 1
    local error="$1 - $2"
    [ "$(echo "($error <= $LOCK_TOLERANCE_MS) && (-($error) <= $LOCK_TOLERANCE_MS)" | bc)" = 1 ]
}
expect "the reader's LED ($LED_LINE) pulsed $led_pulses times after the frame, not once" \
    test "$led_pulses" -eq 1
expect "the reader's LED was on for $led_ms ms, not $LED_GRANT_MS ± $LOCK_TOLERANCE_MS ms" \
    within_tolerance "$led_ms" "$LED_GRANT_MS"
expect "the reader's buzzer ($BEEP_LINE) beeped $beep_pulses times after the frame, not once" \
    test "$beep_pulses" -eq 1
latency_ms=$(milliseconds "$lock_on - $frame_end")
held_ms=$(milliseconds "$lock_off - $lock_on")
expect "the lock was high for $held_ms ms, not ${DRIVE_SECS}000 ± $LOCK_TOLERANCE_MS ms" \
    within_tolerance "$held_ms" $((DRIVE_SECS * 1000))

# The server's rtlog events, "rtlog <index> <field>…", in arrival order.
awk -F'\t' '$1 == "rtlog"' "$work/server.out" > "$work/rtlog"
event_index() { # EVENT FIELD=VALUE AFTER: the index of the first such event above index AFTER
    awk -F'\t' -v event="event=$1" -v field="$2" -v after="$3" '
        $2 + 0 > after + 0 {
            has_event = has_field = 0
            for (i = 3; i <= NF; i++) {
                if ($i == event) has_event = 1
                if ($i == field) has_field = 1
            }
            if (has_event && has_field) { print $2; exit }
        }' "$work/rtlog"
}
granted=$(event_index 0 "cardno=$CARD" 0)
expect "the server has no access event 0 for card $CARD" test -n "$granted"
opened=$(event_index 200 eventaddr=1 "${granted:-0}")
expect "the server has no door-opened event 200 after the access event" test -n "$opened"
closed=$(event_index 201 eventaddr=1 "${opened:-0}")
expect "the server has no door-closed event 201 after the opened event" test -n "$closed"
# The door opened while the lock was released and closed at once: no forced (102) or held-open
# (28) alarm.
alarms=$(awk -F'\t' '
    { for (i = 3; i <= NF; i++) if ($i == "event=102" || $i == "event=28") print $2 }
    ' "$work/rtlog")
expect "the door raised alarms (rtlog index $alarms)" test -z "$alarms"
aux_on=$(event_index 12 eventaddr=1 0)
expect "the server has no aux-output event 12 for CONTROL DEVICE 010102FF" test -n "$aux_on"
aux_made=$(event_index 221 eventaddr=1 0)
expect "the server has no aux-input event 221 (contact made)" test -n "$aux_made"
aux_open=$(event_index 220 eventaddr=1 "${aux_made:-0}")
expect "the server has no aux-input event 220 (contact open) after 221" test -n "$aux_open"
indexes=$(cut -f2 "$work/rtlog" | xargs)
# shellcheck disable=SC2016 # an awk program
expect "the rtlog events did not arrive once each in index order: $indexes" \
    awk -F'\t' 'NR > 1 && $2 + 0 <= last { bad = 1 } { last = $2 + 0 } END { exit bad }' \
    "$work/rtlog"

echo
echo "full-system QEMU door test ($(sed -n 's/^DOORTEST boot //p' "$work/console.log"))"
echo "  rtlog events at the server (index:event):" "$(awk -F'\t' '
    { for (i = 3; i <= NF; i++) if ($i ~ /^event=/) e = substr($i, 7); printf "%s:%s ", $2, e }
    ' "$work/rtlog")"
echo "  reader feedback: LED on for ${led_ms} ms, ${beep_pulses} beep of ${beep_ms} ms"
echo "  lock high for ${held_ms} ms" \
    "(DoorDrivertime ${DRIVE_SECS} s, tolerance ± ${LOCK_TOLERANCE_MS} ms)"
echo "  Wiegand frame end → lock high: ${latency_ms} ms (guest kernel trace, CLOCK_MONOTONIC;" \
    "the decoder closes a frame after 30 ms of silence)"
echo "  Wiegand frames sent: $frames; the last one at the guest kernel: $edges edges," \
    "pulses ${width_min}-${width_max} µs wide, starting ${interval_min}-${interval_max} µs apart"
echo "  qemu run ${boot_secs} s, whole script $(($(date +%s) - started)) s"
if [ ${#failures[@]} -gt 0 ]; then
    printf '  FAILED: %s\n' "${failures[@]}" >&2
    die "${#failures[@]} door assertion(s) failed"
fi
echo "  passed"
