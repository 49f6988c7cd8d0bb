#!/usr/bin/env bash
# Fuzz smoke run: builds every cargo-fuzz target in tests/fuzz and runs each for N seconds
# (default 20), then prints one line per target (executions, execs/s, coverage, corpus size).
# Exits non-zero when any target crashes, hangs (-timeout), runs out of memory (-rss_limit_mb) or
# fails to build; the crashing input is left in tests/fuzz/artifacts/<target>/.
#
# Usage: tools/fuzz-smoke.sh [SECONDS] [TARGET...]      (default: every target)
# Env:   FUZZ_JOBS=1        cargo build jobs (default 1: be gentle on shared machines)
#        FUZZ_TIMEOUT=10    seconds one input may take before it counts as a hang
#        FUZZ_RSS_MB=2048   memory limit per target
#        FUZZ_LOG_DIR=DIR   keep each target's libFuzzer log there (default: a temp dir)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). Only stable Rust is installed here, so the
# nightly-only sanitizer flags are unlocked with RUSTC_BOOTSTRAP=1, as the README explains.
# Corpora: tests/fuzz/corpus/<target> (generated, gitignored; see tools/fuzz-seeds.sh) grows with
# what the run finds; tests/fuzz/seeds/<target> (committed) is read only.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECS=${1:-20}
shift || true
FUZZ_DIR=$ROOT/tests/fuzz
JOBS=${FUZZ_JOBS:-1}
TIMEOUT=${FUZZ_TIMEOUT:-10}
RSS=${FUZZ_RSS_MB:-2048}
LOGS=${FUZZ_LOG_DIR:-$(mktemp -d)}
mkdir -p "$LOGS"
export RUSTC_BOOTSTRAP=1 CARGO_BUILD_JOBS=$JOBS

case $SECS in
'' | *[!0-9]*)
    echo "usage: $0 [SECONDS] [TARGET...]" >&2
    exit 2
    ;;
esac
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz-smoke: cargo-fuzz is not installed (cargo install cargo-fuzz)" >&2
    exit 2
fi

cd "$ROOT" || exit 2
if [ $# -gt 0 ]; then
    TARGETS=("$@")
else
    mapfile -t TARGETS < <(cargo fuzz list --fuzz-dir "$FUZZ_DIR")
fi

echo "fuzz-smoke: building ${#TARGETS[@]} targets"
if ! nice -n 19 cargo fuzz build --fuzz-dir "$FUZZ_DIR" >"$LOGS/build.log" 2>&1; then
    tail -n 40 "$LOGS/build.log" >&2
    echo "fuzz-smoke: build failed" >&2
    exit 1
fi

failed=()
printf '%-24s %6s %12s %9s %7s %7s %6s\n' target rc execs execs/s cov ft corpus
for t in "${TARGETS[@]}"; do
    corpus=$FUZZ_DIR/corpus/$t
    mkdir -p "$corpus" "$FUZZ_DIR/artifacts/$t"
    dirs=("$corpus")
    [ -d "$FUZZ_DIR/seeds/$t" ] && dirs+=("$FUZZ_DIR/seeds/$t")
    log=$LOGS/$t.log
    nice -n 19 cargo fuzz run --fuzz-dir "$FUZZ_DIR" "$t" "${dirs[@]}" -- \
        -max_total_time="$SECS" -timeout="$TIMEOUT" -rss_limit_mb="$RSS" \
        -print_final_stats=1 >"$log" 2>&1
    rc=$?
    stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -n 1; }
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$done_line")
    printf '%-24s %6s %12s %9s %7s %7s %6s\n' "$t" "$rc" "$(stat number_of_executed_units)" \
        "$(stat average_exec_per_sec)" "${cov:--}" "${ft:--}" "$(find "$corpus" -type f | wc -l)"
    if [ "$rc" -ne 0 ]; then
        failed+=("$t")
        grep -E 'panicked at|^==[0-9]+==ERROR|SUMMARY|Test unit written to|Timeout|out-of-memory' "$log" |
            head -n 8 | sed 's/^/    /'
    fi
done

echo "fuzz-smoke: logs in $LOGS"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz-smoke: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz-smoke: ${#TARGETS[@]} targets, no crash in ${SECS}s each"
