#!/usr/bin/env bash
# Fuzz smoke run: builds every cargo-fuzz target in tests/fuzz and runs each for N seconds
# (default 20), then prints one line per target (executions, execs/s, coverage, corpus size).
# Exits non-zero when any target crashes, hangs (-timeout), runs out of memory (-rss_limit_mb) or
# fails to build; the crashing input is left in tests/fuzz/artifacts/<target>/.
#
# Usage: tools/fuzz-smoke.sh [SECONDS] [TARGET...]      (default: every target)
#        tools/fuzz-smoke.sh --ci [TARGET...]
# --ci:  what .ci/run runs on every submission, the same here as there: installs cargo-fuzz
#        0.13.2 when missing, then runs each target for a fixed number of inputs (FUZZ_RUNS)
#        with a fixed libFuzzer seed (-seed=1), starting from the committed seeds only
#        (tests/fuzz/seeds/<target>; what libFuzzer adds goes to a scratch dir, removed after).
#        Not from tools/fuzz-seeds.sh: its output depends on ../shared and on tshark.
# Env:   FUZZ_JOBS=1        cargo build jobs (default 1: be gentle on shared machines)
#        FUZZ_RUNS=20000    --ci: inputs per target
#        FUZZ_CI_MAX_SECS=300  --ci: time cap per target, far above what FUZZ_RUNS takes here;
#                           it only bounds a machine much slower than this one
#        CARGO_TARGET_DIR   build elsewhere than tests/fuzz/target (cargo's own variable)
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
CI_MODE=0
if [ "${1:-}" = --ci ]; then
    CI_MODE=1
    shift
    SECS=0
else
    SECS=${1:-20}
    shift || true
fi
RUNS=${FUZZ_RUNS:-20000}
CAP=${FUZZ_CI_MAX_SECS:-300}
FUZZ_DIR=$ROOT/tests/fuzz
JOBS=${FUZZ_JOBS:-1}
TIMEOUT=${FUZZ_TIMEOUT:-10}
RSS=${FUZZ_RSS_MB:-2048}
LOGS=${FUZZ_LOG_DIR:-$(mktemp -d)}
mkdir -p "$LOGS"
export RUSTC_BOOTSTRAP=1 CARGO_BUILD_JOBS=$JOBS

case $SECS$RUNS$CAP in
'' | *[!0-9]*)
    echo "usage: $0 [SECONDS] [TARGET...] | $0 --ci [TARGET...]" >&2
    exit 2
    ;;
esac
if [ $CI_MODE = 1 ] && ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --version 0.13.2 --locked || exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz-smoke: cargo-fuzz is not installed (cargo install cargo-fuzz)" >&2
    exit 2
fi

cd "$ROOT" || exit 2
build_only=()
if [ $# -gt 0 ]; then
    TARGETS=("$@")
    # Named targets: build those alone (cargo fuzz build takes one name at a time).
    build_only=("$@")
else
    mapfile -t TARGETS < <(cargo fuzz list --fuzz-dir "$FUZZ_DIR")
fi

echo "fuzz-smoke: building ${#TARGETS[@]} targets ($(rustc --version), $(cargo fuzz --version))"
build_start=$SECONDS
build_opts=()
# cargo-fuzz compiles release builds as one codegen unit (for the fuzzing speed of ThinLTO
# inlining); a smoke run of fixed length gains more from a build that uses both cores.
[ $CI_MODE = 1 ] && build_opts=(--codegen-units 16)
build() {
    if [ ${#build_only[@]} -eq 0 ]; then
        nice -n 19 cargo fuzz build "${build_opts[@]}" --fuzz-dir "$FUZZ_DIR"
    else
        for t in "${build_only[@]}"; do
            nice -n 19 cargo fuzz build "${build_opts[@]}" --fuzz-dir "$FUZZ_DIR" "$t" || return 1
        done
    fi
}
if ! build >"$LOGS/build.log" 2>&1; then
    tail -n 40 "$LOGS/build.log" >&2
    echo "fuzz-smoke: build failed" >&2
    exit 1
fi
echo "fuzz-smoke: built in $((SECONDS - build_start))s"

failed=()
scratch=()
# libFuzzer writes what it finds into the first corpus dir: in --ci mode a fresh one per target.
cleanup() { [ ${#scratch[@]} -eq 0 ] || rm -rf -- "${scratch[@]}"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
if [ $CI_MODE = 1 ]; then
    limits=(-runs="$RUNS" -seed=1 -max_total_time="$CAP")
else
    limits=(-max_total_time="$SECS")
fi
printf '%-24s %6s %12s %9s %7s %7s %6s %5s\n' target rc execs execs/s cov ft corpus secs
for t in "${TARGETS[@]}"; do
    if [ $CI_MODE = 1 ]; then
        corpus=$(mktemp -d)
        scratch+=("$corpus")
    else
        corpus=$FUZZ_DIR/corpus/$t
    fi
    mkdir -p "$corpus" "$FUZZ_DIR/artifacts/$t"
    dirs=("$corpus")
    [ -d "$FUZZ_DIR/seeds/$t" ] && dirs+=("$FUZZ_DIR/seeds/$t")
    log=$LOGS/$t.log
    start=$SECONDS
    nice -n 19 cargo fuzz run "${build_opts[@]}" --fuzz-dir "$FUZZ_DIR" "$t" "${dirs[@]}" -- \
        "${limits[@]}" -timeout="$TIMEOUT" -rss_limit_mb="$RSS" \
        -print_final_stats=1 >"$log" 2>&1
    rc=$?
    stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -n 1; }
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$done_line")
    printf '%-24s %6s %12s %9s %7s %7s %6s %5s\n' "$t" "$rc" "$(stat number_of_executed_units)" \
        "$(stat average_exec_per_sec)" "${cov:--}" "${ft:--}" "$(find "$corpus" -type f | wc -l)" \
        $((SECONDS - start))
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
if [ $CI_MODE = 1 ]; then
    echo "fuzz-smoke: ${#TARGETS[@]} targets, no crash in $RUNS inputs each (-seed=1)"
else
    echo "fuzz-smoke: ${#TARGETS[@]} targets, no crash in ${SECS}s each"
fi
