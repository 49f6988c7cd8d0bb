#!/usr/bin/env bash
# Long fuzz runs for tests/fuzz/README.md "Recorded runs": every target (or the ones named) until
# 10 million executions or SECS seconds, whichever comes first, PAR targets at a time.
# Built without a sanitizer (`-s none`: the fuzzed code is safe Rust, where ASan adds little
# beyond the bounds and overflow checks the build keeps: release + debug assertions) into its own
# target dir, so it neither waits for nor disturbs the ASan build tools/fuzz-smoke.sh uses.
# Prints one line per target and the commit fuzzed; logs in LOG_DIR (default: a temp dir).
# Non-zero exit on a crash.
#   tools/fuzz-long.sh SECS PAR [TARGET...]       e.g. tools/fuzz-long.sh 420 2
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECS=${1:?usage: $0 SECS PAR [TARGET...]}
PAR=${2:?usage: $0 SECS PAR [TARGET...]}
shift 2
FUZZ_DIR=$ROOT/tests/fuzz
TD=$FUZZ_DIR/target-long
LOGS=${LOG_DIR:-$(mktemp -d)}
mkdir -p "$LOGS"
export RUSTC_BOOTSTRAP=1
cd "$ROOT" || exit 2
build=(cargo fuzz build -O -a -s none --fuzz-dir "$FUZZ_DIR" --target-dir "$TD")
# Only the targets named (all when none): one changed crate would otherwise relink them all.
for t in "${@:-}"; do
    if ! nice -n 19 "${build[@]}" ${t:+"$t"} >>"$LOGS/build.log" 2>&1; then
        tail -n 30 "$LOGS/build.log" >&2
        exit 1
    fi
done
echo "fuzz-long: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- sensor tests/fuzz || echo ' + uncommitted changes'), ${SECS}s or 10M runs per target"
if [ $# -gt 0 ]; then
    TARGETS=("$@")
else
    mapfile -t TARGETS < <(cargo fuzz list --fuzz-dir "$FUZZ_DIR")
fi
one() {
    local t=$1 corpus=$FUZZ_DIR/corpus/$1
    mkdir -p "$corpus" "$FUZZ_DIR/artifacts/$t"
    local dirs=("$corpus")
    [ -d "$FUZZ_DIR/seeds/$t" ] && dirs+=("$FUZZ_DIR/seeds/$t")
    local start=$SECONDS
    # The binary built above, run directly: `cargo fuzz run` would rebuild it whenever the
    # sources changed meanwhile, and parallel runs would wait on each other's builds.
    nice -n 10 "$TD/x86_64-unknown-linux-gnu/release/$t" "${dirs[@]}" \
        -runs=10000000 -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
        -max_len=4096 -artifact_prefix="$FUZZ_DIR/artifacts/$t/" -print_final_stats=1 \
        >"$LOGS/$t.log" 2>&1
    local rc=$? log=$LOGS/$t.log
    stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -n 1; }
    local last cov ft
    last=$(grep -E '^#[0-9]+' "$log" | grep -E 'cov: ' | tail -n 1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    printf '%-24s rc=%s secs=%s execs=%s execs_per_s=%s cov=%s ft=%s corpus=%s peak_rss_mb=%s\n' \
        "$t" "$rc" "$((SECONDS - start))" "$(stat number_of_executed_units)" \
        "$(stat average_exec_per_sec)" "${cov:--}" "${ft:--}" \
        "$(find "$FUZZ_DIR/corpus/$t" -type f | wc -l)" "$(stat peak_rss_mb)"
    return "$rc"
}
export -f one
export FUZZ_DIR SECS LOGS TD
failed=0
printf '%s\n' "${TARGETS[@]}" | xargs -P "$PAR" -I{} bash -c 'one "$@"' _ {} || failed=1
echo "fuzz-long: logs in $LOGS"
exit "$failed"
