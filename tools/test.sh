#!/usr/bin/env bash
# Sets up and runs every test of the workspace. Golden tests read ../shared/testdata when it
# exists and say in one line that they skipped when it does not.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
cargo test --workspace --all-targets "$@"
