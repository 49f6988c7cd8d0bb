#!/usr/bin/env bash
# The workspace test suite (`cargo test --workspace --all-targets`) under AddressSanitizer and
# LeakSanitizer, then one summary line. Exits non-zero when the build fails, a test fails (other
# than on a peak-RSS bound, see below), a test binary crashes, or any sanitizer report was
# written (by a test binary or by a `tapir` process a test spawned).
#
# Needs a NIGHTLY toolchain (`-Zsanitizer` is nightly-only): `rustup toolchain install nightly`.
# Not part of CI: .ci/run installs only stable. The tests that need root, namespaces, tcpreplay,
# nftables, redis-server, chromium... run or skip exactly as in tools/test.sh.
#
# Usage: tools/asan-test.sh [extra cargo test args, e.g. -p tapir-capture]
# Env:   ASAN_TOOLCHAIN=nightly   rustup toolchain to use
#        ASAN_JOBS=2              cargo build jobs
#        ASAN_LEAKS=1             0: detect_leaks=0 (heap errors only)
#        CARGO_TARGET_DIR         default target/asan (kept apart from the normal build: every
#                                 crate is rebuilt with the sanitizer)
#        ASAN_LOG_DIR             where the cargo log and the sanitizer reports go
#                                 (default: a new temp dir, printed at the end)
#
# Why these settings:
# - `--target` (the host's): with it, RUSTFLAGS reach only target crates, so proc-macros and
#   build scripts, which rustc loads or runs itself, are built without the sanitizer.
# - std is not rebuilt (-Zbuild-std needs the rust-src component): ASan still intercepts every
#   malloc/free, so heap errors in our code and in dependencies are caught; only std's own
#   code is not instrumented.
# - Tests find the binary through env!("CARGO_BIN_EXE_tapir"), which points into this target
#   dir: the `tapir` they spawn is the instrumented one and inherits ASAN_OPTIONS.
# - ASAN_OPTIONS log_path: each process writes its report to its own file, so a report from a
#   spawned `tapir` is not lost when a test swallows its stderr.
# - Line tables only and no incremental cache: keeps the ASan target dir near 4 GB (symbolized
#   reports need only line tables).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
TOOLCHAIN=${ASAN_TOOLCHAIN:-nightly}
JOBS=${ASAN_JOBS:-2}
LEAKS=${ASAN_LEAKS:-1}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target/asan}
LOG_DIR=${ASAN_LOG_DIR:-$(mktemp -d /tmp/tapir-asan.XXXXXX)}
mkdir -p "$LOG_DIR/reports"
LOG=$LOG_DIR/cargo-test.log

if ! version=$(rustup run "$TOOLCHAIN" rustc --version 2>/dev/null); then
    echo "asan-test: no '$TOOLCHAIN' toolchain (rustup toolchain install nightly)" >&2
    exit 2
fi
host=$(rustup run "$TOOLCHAIN" rustc -vV | sed -n 's/^host: //p')

export RUSTFLAGS="-Zsanitizer=address"
export RUSTDOCFLAGS="-Zsanitizer=address"
export CARGO_PROFILE_DEV_DEBUG=line-tables-only
export CARGO_INCREMENTAL=0
export ASAN_OPTIONS="detect_leaks=$LEAKS:log_path=$LOG_DIR/reports/asan:${ASAN_OPTIONS:-}"
symbolizer=$(command -v llvm-symbolizer || true)
[ -n "$symbolizer" ] && export ASAN_SYMBOLIZER_PATH=$symbolizer

echo "asan-test: $version, target $host, detect_leaks=$LEAKS, log $LOG"
start=$(date +%s)
# --show-output: keeps the one-line "skipped: ..." notes of tests that could not run here.
nice -n 5 cargo "+$TOOLCHAIN" test --workspace --all-targets --target "$host" -j "$JOBS" --no-fail-fast "$@" \
    -- --show-output >"$LOG" 2>&1
rc=$?
secs=$(( $(date +%s) - start ))

# libtest: "test result: ok. 12 passed; 0 failed; 1 ignored; ..."; criterion benches run as
# tests print "Testing <bench>" then "Success".
read -r passed failed ignored < <(awk '/^test result:/ {
        for (i = 1; i <= NF; i++) {
            if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i
            if ($(i+1) ~ /^ignored/) g += $i }
    } END { print p+0, f+0, g+0 }' "$LOG")
# Failures whose panic message is a peak-RSS bound (tests/floods.rs, cli.rs
# syn_flood_stays_under_the_flow_cap; that check comes last in each, after every functional one).
# ASan inflates RSS by design: shadow memory, redzones, and a 256 MiB quarantine of freed blocks
# that are not reused so that use-after-free is caught. The bounds are checked by the normal run.
rss_failed=$(awk 'prev ~ /panicked at/ && /peak RSS/ { n++ } { prev = $0 } END { print n+0 }' "$LOG")
binaries=$(grep -c '^ *Running ' "$LOG")
benches=$(grep -c '^Success$' "$LOG")
skips=$(grep -ciE '^(shared captures )?skipped:|check skipped' "$LOG")
# A test binary that died (signal, or LeakSanitizer's exit code 23) rather than reporting failures.
crashed=$(grep "process didn't exit successfully" "$LOG" | grep -vc 'exit status: 101')
build_errors=$(grep -c '^error: could not compile' "$LOG")
reports=$(find "$LOG_DIR/reports" -type f | wc -l)

for f in "$LOG_DIR"/reports/*; do
    [ -f "$f" ] || continue
    echo "=== sanitizer report $f (first 60 lines)"
    head -n 60 "$f"
done
grep -E '^test .* FAILED$|^error(\[|:)|didn.t exit successfully' "$LOG" | head -n 40

status=ok
if [ "$reports" -ne 0 ] || [ "$crashed" -ne 0 ] || [ "$build_errors" -ne 0 ] ||
    [ "$failed" -gt "$rss_failed" ] || { [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; }; then
    status=FAILED
fi
echo "asan-test: $status: $binaries test binaries, $passed passed, $failed failed" \
    "($rss_failed of them only a peak-RSS bound, expected under ASan), $ignored ignored," \
    "$benches benches run once, $reports sanitizer reports, $crashed crashed binaries," \
    "$skips tests skipped for a missing tool or data, ${secs}s (cargo exit $rc; log $LOG)"
[ "$status" = ok ]
