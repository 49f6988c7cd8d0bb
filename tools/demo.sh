#!/usr/bin/env bash
# The main job: generate the bundled demo capture (deterministic, made by tools/gen-demo) and
# replay it against the bundled intel in rules/intel, printing EVE JSON events to stdout and
# the run summary to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
cargo build --release -q -p tapir -p tapir-gen-demo
mkdir -p target/demo
./target/release/tapir-gen-demo demo --out target/demo/demo.pcap
./target/release/tapir replay --intel rules/intel --patterns rules/patterns target/demo/demo.pcap "$@"
