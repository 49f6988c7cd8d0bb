#!/usr/bin/env bash
# Intel hot-reload cost for benches/README.md (issue 5): the generated capture replayed with the
# 1.12 M-indicator bench intel (tools/bench.sh makes both), without reloads and with a reload
# every 100 ms in three cases:
#   unchanged  no file changes: each reload stats the files, reuses every table, swaps in a new
#              generation;
#   one_feed   domains.txt (100 k names) touched before every reload: that table is parsed again;
#   all_feeds  every list touched before every reload: the whole set is parsed again (as every
#              reload did before tables were kept per feed).
# Runs are interleaved (REPS rounds of the four cases) so machine noise hits each case alike.
# Prints per case: median Mpps, packets, alerts, largest peak RSS, and the reload line.
#   tools/bench-reload.sh [WORKERS] [REPS]      e.g. tools/bench-reload.sh 2 3
set -euo pipefail
cd "$(dirname "$0")/.."
WORKERS=${1:-2}
REPS=${2:-3}
R=target/release
D=target/bench
CAP=$D/bench-1GiB.pcap
INTEL=$D/intel
if [ ! -f "$CAP" ] || [ ! -f "$INTEL/ips.txt" ]; then
    echo "bench-reload: run tools/bench.sh first (it generates $CAP and $INTEL)" >&2
    exit 2
fi
[ -n "${NO_BUILD:-}" ] || cargo build --release -q -p tapir
cat "$CAP" >/dev/null
field() { grep -o " $1=[0-9.]*" | head -n 1 | cut -d= -f2; }
median() { sort -n | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}'; }
declare -A RATES RSS PKTS ALERTS LINE
one() { # case
    local toucher=""
    case $1 in
    one_feed) toucher="$INTEL/domains.txt" ;;
    all_feeds) toucher="$INTEL/*.txt" ;;
    esac
    local args=(replay --workers "$WORKERS" --intel "$INTEL" --eve /dev/null)
    [ "$1" != none ] && args+=(--reload-intel-every 100)
    local tp=""
    if [ -n "$toucher" ]; then
        # shellcheck disable=SC2086
        (while sleep 0.1; do touch $toucher; done) &
        tp=$!
    fi
    local e
    e=$("$R/tapir" "${args[@]}" "$CAP" 2>&1 >/dev/null)
    [ -n "$tp" ] && kill "$tp" && wait "$tp" 2>/dev/null || true
    local s
    s=$(grep -E '^tapir: .*rate=' <<<"$e" | tail -n 1)
    RATES[$1]+="$(grep -o 'rate=[0-9.]*' <<<"$s" | cut -d= -f2) "
    RSS[$1]+="$(grep -o 'max_rss=[0-9]*' <<<"$s" | cut -d= -f2) "
    PKTS[$1]+="$(field packets <<<"$s") "
    ALERTS[$1]+="$(field alerts <<<"$s") "
    LINE[$1]=$(grep -E 'reloads,' <<<"$e" || echo "-")
}
CASES=(none unchanged one_feed all_feeds)
for _ in $(seq "$REPS"); do
    for c in "${CASES[@]}"; do one "$c"; done
done
printf '%-10s %8s %10s %8s %12s  %s\n' case Mpps packets alerts peak_rss_MiB "reloads (last run)"
for c in "${CASES[@]}"; do
    printf '%-10s %8s %10s %8s %12s  %s\n' "$c" \
        "$(tr ' ' '\n' <<<"${RATES[$c]}" | grep . | median)" \
        "$(tr ' ' '\n' <<<"${PKTS[$c]}" | grep . | sort -u | tr '\n' ' ')" \
        "$(tr ' ' '\n' <<<"${ALERTS[$c]}" | grep . | sort -u | tr '\n' ' ')" \
        "$(tr ' ' '\n' <<<"${RSS[$c]}" | grep . | sort -n | tail -n 1)" \
        "${LINE[$c]#tapir: intel: }"
    echo "  all rates: ${RATES[$c]}"
done
