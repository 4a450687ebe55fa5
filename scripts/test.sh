#!/usr/bin/env bash
# The whole test suite, from a clean clone of a fresh Debian 12 machine:
# installs packages, builds with warnings as errors, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
build_dir=${SARSTEER_BUILD_DIR:-build}
jobs=${SARSTEER_JOBS:-$(nproc)}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSARSTEER_WERROR=ON
cmake --build "$build_dir" -j "$jobs"
ctest --test-dir "$build_dir" -j "$jobs" --output-on-failure --timeout 600
