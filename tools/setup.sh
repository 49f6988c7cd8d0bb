#!/usr/bin/env bash
# Installs what building tapir needs on Debian/Ubuntu: a C toolchain, pkg-config, the libpcap
# headers and Hyperscan (libhs, for payload patterns). Without libpcap-dev the `pcap` crate
# still passes `cargo check` and only fails at link time with "unable to find library -lpcap".
set -euo pipefail
need=()
# prometheus: the metrics test scrapes tapir with a real Prometheus (started by the test on
# loopback; the package's own service is not used).
# librdkafka-dev: the Kafka output links the system librdkafka; redis-server: the Redis output
# tests start their own server on loopback (the package's own service is not used).
# tcpreplay: the live capture tests send captures over a veth pair (tests/live.rs of tapir).
# chromium: the hunt report is rendered in a headless browser (sensor/tapir/tests/hunt.rs).
# nftables, ipset, iptables: the response backends' tests (sensor/respond, tapir --test block)
# run them inside network namespaces they create.
for p in build-essential pkg-config libpcap-dev libhyperscan-dev prometheus librdkafka-dev redis-server tcpreplay chromium nftables ipset iptables; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing ${need[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "setup: cargo not found: install a Rust toolchain (rustup)" >&2; exit 1; }
