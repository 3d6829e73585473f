# Helpers shared by the packaging scripts. Sourced by bash, not run; $repo is the checkout.
# shellcheck shell=bash
: "${repo:?the sourcing script sets repo, the checkout}"

die() {
    printf '%s: %s\n' "${0##*/}" "$*" >&2
    exit 1
}

note() {
    printf '%s: %s\n' "${0##*/}" "$*" >&2
}

# toml_get FILE DOTTED.KEY: prints the value of a string key, read by a real TOML parser
# (Python's tomllib), so comments, quoting and table order cannot fool it. Fails when the file
# does not parse or the key is missing, empty or not a string.
toml_get() {
    python3 - "$1" "$2" <<'PY'
import sys

try:
    import tomllib
except ImportError:
    sys.exit("python3 >= 3.11 is needed (tomllib)")
path, dotted = sys.argv[1], sys.argv[2]
try:
    with open(path, "rb") as f:
        value = tomllib.load(f)
except (OSError, tomllib.TOMLDecodeError) as e:
    sys.exit(f"{path}: {e}")
for part in dotted.split("."):
    if not isinstance(value, dict) or part not in value:
        sys.exit(f"{path}: no key {dotted}")
    value = value[part]
if not isinstance(value, str) or not value:
    sys.exit(f"{path}: {dotted} must be a non-empty string")
print(value)
PY
}

# The ELF e_machine each supported ARCH must have: 40 = EM_ARM, 183 = EM_AARCH64.
arch_elf_machine() {
    case $1 in
        armv7) echo 40 ;;
        aarch64) echo 183 ;;
        *) die "unknown ARCH '$1' (armv7 or aarch64)" ;;
    esac
}

# default_board ARCH: the reference board an ARCH's package is built for.
default_board() {
    case $1 in
        armv7) echo "$repo/board/ref-armv7-1door.toml" ;;
        aarch64) echo "$repo/board/ref-aarch64-4door.toml" ;;
        *) die "unknown ARCH '$1' (armv7 or aarch64)" ;;
    esac
}

# release_binary ARCH: builds the release binary with scripts/build-release.sh, which prints its
# path as the last line of stdout (progress goes to stderr), and prints that path.
release_binary() {
    [ -x "$repo/scripts/build-release.sh" ] \
        || die "no scripts/build-release.sh to build the binary: pass --binary FILE or set PUSH_AGENT_BINARY"
    "$repo/scripts/build-release.sh" "$1" | tail -n 1
}

# elf_machine FILE: prints the e_machine of a little-endian ELF file, fails on anything else.
elf_machine() {
    local ident lo hi
    ident=$(od -An -tx1 -N6 "$1" | tr -d ' \n')
    # \x7fELF, any class, EI_DATA 1 (little-endian: both ARM targets are).
    [[ $ident =~ ^7f454c460[12]01$ ]] || die "$1 is not a little-endian ELF file"
    read -r lo hi < <(od -An -tu1 -j18 -N2 "$1")
    echo $((lo + 256 * hi))
}

# opkg_arch_of BOARD_FILE: the board's [board] opkg_arch, checked to be usable in a file name and
# an opkg `Architecture:` field.
opkg_arch_of() {
    local arch
    arch=$(toml_get "$1" board.opkg_arch)
    [[ $arch =~ ^[A-Za-z0-9][A-Za-z0-9._+-]*$ ]] \
        || die "$1: opkg_arch '$arch' has characters an opkg architecture cannot have"
    echo "$arch"
}

# --- for the packaging tests ------------------------------------------------------------------

# pass WHAT, fail WHAT: a test's outcome, printed; failures are counted in $failures.
failures=0
pass() { note "ok: $*"; }
fail() {
    note "FAIL: $*"
    failures=$((failures + 1))
}

# check WHAT COMMAND...: passes when the command succeeds.
check() {
    local what=$1
    shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}

# wait_for SECONDS COMMAND...: polls every 0.1 s until the command succeeds; fails after SECONDS.
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}

# kill_listed PIDFILE...: kills (SIGKILL) every process listed in the files that exist: exactly
# what a test started, when it ends early.
kill_listed() {
    local pidfile
    for pidfile; do
        [ ! -f "$pidfile" ] || xargs -r kill -KILL <"$pidfile" 2>/dev/null || true
    done
}

# dead PID: the process is gone.
dead() { ! kill -0 "$1" 2>/dev/null; }
