#!/usr/bin/env bash
# Installs what building tapir needs on Debian/Ubuntu: a C toolchain, pkg-config, the libpcap
# headers and Hyperscan (libhs, for payload patterns). Without libpcap-dev the `pcap` crate
# still passes `cargo check` and only fails at link time with "unable to find library -lpcap".
set -euo pipefail
need=()
for p in build-essential pkg-config libpcap-dev libhyperscan-dev; do
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
