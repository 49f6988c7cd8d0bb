#!/usr/bin/env bash
# Live capture rate for benches/README.md: the highest tcpreplay rate over a veth pair at which
# `tapir run` (AF_PACKET) drops nothing, for 1 and 2 workers, with both sides' CPU use.
# Needs root, ip and tcpreplay. Namespaces get unique names and are removed on exit. Each
# worker count climbs the PPS ladder until a step drops packets; `top` is tcpreplay --topspeed.
#   tools/bench-live.sh [SIZE] [KIND] [PPS...]   e.g. tools/bench-live.sh 256MiB afpacket
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${1:-256MiB}
KIND=${2:-afpacket}
shift $(($# > 2 ? 2 : $#))
LADDER=("$@")
[ ${#LADDER[@]} -gt 0 ] || LADDER=(50000 100000 150000 200000 top)
cargo build --release -q -p tapir -p tapir-gen-demo
R=$PWD/target/release
D=$PWD/target/bench
mkdir -p "$D"
CAP="$D/live-$SIZE.pcap"
[ -f "$CAP" ] || "$R/tapir-gen-demo" bench --out "$CAP" --size "$SIZE" --flows 5000 --seed 1 --plant 100 >&2
if [ ! -f "$D/intel/ips.txt" ]; then
    rm -rf "$D/intel"
    "$R/tapir-gen-demo" intel --out "$D/intel" --domains 100K --ips 1M --ja3 10K --ja4 10K \
        --seed 1 --truth "$CAP.truth.json" >&2
    rm -f "$D/intel"/patterns*
fi
cat "$CAP" > /dev/null
ID=$$
NA=tapir-bench-$ID-a NB=tapir-bench-$ID-b IA=tb${ID}a IB=tb${ID}b
cleanup() { ip netns del "$NA" 2>/dev/null || true; ip netns del "$NB" 2>/dev/null || true; }
trap cleanup EXIT
for ns in "$NA" "$NB"; do
    ip netns add "$ns"
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1
done
ip link add "$IA" netns "$NA" type veth peer name "$IB" netns "$NB"
ip -n "$NA" link set "$IA" mtu 9000 up
ip -n "$NB" link set "$IB" mtu 9000 up
ip -n "$NB" link set lo up
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
echo "capture: $CAP ($(stat -c %s "$CAP") bytes), kind: $KIND, cores: $(nproc), load: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '| %-7s | %8s | %10s | %12s | %10s | %9s | %9s | %10s |\n' workers "pps asked" "pps sent" "kernel drops" "Mbit/s" "tapir CPU" "sender CPU" "busy ratio"
for W in 1 2; do
    for PPS in "${LADDER[@]}"; do
        ERR=$(mktemp)
        ip netns exec "$NB" "$R/tapir" run -i "$IB" --capture "$KIND" --workers "$W" \
            --intel "$D/intel" --eve /dev/null --metrics 127.0.0.1:9917 2>"$ERR" &
        PID=$!
        until grep -q "capturing on" "$ERR"; do sleep 0.2; kill -0 $PID || { cat "$ERR"; exit 1; }; done
        T0=$(ticks $PID)
        BUSY=$(mktemp)
        # Busy ratio: mean of the workers' values, scraped every half second while sending.
        (while [ -f "$BUSY" ]; do
            ip netns exec "$NB" curl -s http://127.0.0.1:9917/metrics \
                | awk '/^tapir_worker_busy_ratio/ {s += $2; n++} END {if (n) print s / n}' >> "$BUSY.s"
            sleep 0.5
        done) &
        SPEED=(--pps="$PPS")
        [ "$PPS" != top ] || SPEED=(--topspeed)
        OUT=$( { /usr/bin/time -f 'SENDER_CPU %U %S %e' ip netns exec "$NA" tcpreplay -i "$IA" "${SPEED[@]}" "$CAP"; } 2>&1 )
        rm -f "$BUSY"
        T1=$(ticks $PID)
        sleep 0.5
        kill -TERM $PID
        wait $PID || true
        wait
        SENT=$(grep -o 'Successful packets: *[0-9]*' <<<"$OUT" | grep -o '[0-9]*$')
        ELAPSED=$(awk '/SENDER_CPU/ {print $4}' <<<"$OUT")
        SCPU=$(awk '/SENDER_CPU/ {printf "%.0f%%", ($2 + $3) / $4 * 100}' <<<"$OUT")
        RATE=$(grep -o 'Rated: [0-9.]* Bps, [0-9.]* Mbps, [0-9.]* pps' <<<"$OUT" | head -1)
        MBPS=$(awk '{print $4}' <<<"$RATE")
        PPSR=$(awk '{print $6}' <<<"$RATE")
        TCPU=$(awk -v a="$T0" -v b="$T1" -v hz="$HZ" -v e="$ELAPSED" 'BEGIN {printf "%.0f%%", (b - a) / hz / e * 100}')
        DROPS=$(grep -o 'kernel_drops=[0-9]*' "$ERR" | cut -d= -f2)
        KP=$(grep -o 'kernel_packets=[0-9]*' "$ERR" | cut -d= -f2)
        printf '| %-7s | %8s | %10s | %12s | %10s | %9s | %9s | %10s |\n' "$W" "$PPS" "$PPSR" "$DROPS of $KP" "$MBPS" "$TCPU" "$SCPU" "$(awk '{s += $1; n++} END {if (n) printf "%.2f", s / n}' "$BUSY.s")"
        rm -f "$ERR" "$BUSY.s"
        [ "${DROPS:-1}" = 0 ] || break
        [ "$SENT" -gt 0 ]
    done
done
