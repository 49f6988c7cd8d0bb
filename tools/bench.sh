#!/usr/bin/env bash
# Throughput table for benches/README.md: a generated capture (default 1 GiB) replayed with
# realistic-size intel, for 1 and N workers, against bare reading of the same file in the
# same run. Medians of REPS runs (default 3). File in page cache, EVE to /dev/null.
#   tools/bench.sh [SIZE] [REPS]       e.g. tools/bench.sh 1GiB 3
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-1GiB}
REPS=${2:-3}
NPROC=$(nproc)
bash tools/setup.sh
cargo build --release -q -p tapir -p tapir-gen-demo -p tapir-benches --bins
R=target/release
D=target/bench
mkdir -p "$D"
CAP="$D/bench-$SIZE.pcap"
if [ ! -f "$CAP" ]; then
    "$R/tapir-gen-demo" bench --out "$CAP" --size "$SIZE" --flows 5000 --seed 1 --plant 100 >&2
fi
if [ ! -f "$D/intel/ips.txt" ]; then
    rm -rf "$D/intel"
    "$R/tapir-gen-demo" intel --out "$D/intel" --domains 100K --ips 1M --ja3 10K --ja4 10K \
        --seed 1 --truth "$CAP.truth.json" >&2
    # Payload patterns are another input (tapir replay --patterns); keep the list directory
    # to the four list types.
    rm -f "$D/intel"/patterns*
fi
cat "$CAP" > /dev/null
# One run: prints "Mpps Gbit/s" parsed from the run's summary line.
rate() { grep -o 'rate=[0-9.]*Mpps [0-9.]*Gbit/s' | sed 's/rate=//; s/Mpps//; s#Gbit/s##'; }
median() { sort -n | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}'; }
declare -A MPPS GBPS
run() { # name, command...
    local name=$1; shift
    local m=() g=()
    for _ in $(seq "$REPS"); do
        read -r x y < <("$@" 2>&1 >/dev/null | rate)
        m+=("$x"); g+=("$y")
    done
    MPPS[$name]=$(printf '%s\n' "${m[@]}" | median)
    GBPS[$name]=$(printf '%s\n' "${g[@]}" | median)
}
run libpcap_read "$R/pcap-read-baseline" "$CAP"
run native_read "$R/pcap-read-baseline" --native "$CAP"
run w1_nointel "$R/tapir" replay --workers 1 --eve /dev/null "$CAP"
run w1_intel "$R/tapir" replay --workers 1 --intel "$D/intel" --eve /dev/null "$CAP"
run wN_intel "$R/tapir" replay --workers "$NPROC" --intel "$D/intel" --eve /dev/null "$CAP"
run w1_libpcap_intel "$R/tapir" replay --workers 1 --reader libpcap --intel "$D/intel" --eve /dev/null "$CAP"
run wN_libpcap_intel "$R/tapir" replay --workers "$NPROC" --reader libpcap --intel "$D/intel" --eve /dev/null "$CAP"
base=${MPPS[libpcap_read]}
echo "capture: $CAP ($(stat -c %s "$CAP") bytes), intel: $(cat "$D"/intel/*.txt | grep -vc '^#'), cores: $NPROC, medians of $REPS"
printf '| %-44s | %8s | %8s | %14s |\n' "run" "Mpps" "Gbit/s" "vs libpcap read"
printf '|%s|%s|%s|%s|\n' "----------------------------------------------" "----------" "----------" "----------------"
for k in libpcap_read native_read w1_nointel w1_intel wN_intel w1_libpcap_intel wN_libpcap_intel; do
    ratio=$(awk -v a="${MPPS[$k]}" -v b="$base" 'BEGIN { printf "%.2f", a / b }')
    label=${k/wN/w$NPROC}
    printf '| %-44s | %8s | %8s | %14s |\n' "$label" "${MPPS[$k]}" "${GBPS[$k]}" "$ratio"
done
