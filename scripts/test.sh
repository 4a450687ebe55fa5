#!/usr/bin/env bash
# The whole test suite, from a clean clone of a fresh Debian 12 machine: installs packages,
# builds with warnings as errors and runs every test; then builds the suite again with ASan +
# UBSan and runs it (zero reports allowed), and gives every fuzz target a short run
# (docs/hardening.md). Within CI's 90 minutes on 2 cores (figures in docs/hardening.md).
#
# Environment: SARSTEER_BUILD_DIR (default build), SARSTEER_JOBS (default nproc),
# SARSTEER_SANITIZERS=0 skips the sanitizer suite, SARSTEER_FUZZ_SECONDS (per target, default 20;
# 0 skips the fuzz pass).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
build_dir=${SARSTEER_BUILD_DIR:-build}
jobs=${SARSTEER_JOBS:-$(nproc)}
fuzz_seconds=${SARSTEER_FUZZ_SECONDS:-20}

step() { printf '\n== %s (%s)\n' "$1" "$(date -u +%T)"; }

step "build and test"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSARSTEER_WERROR=ON
cmake --build "$build_dir" -j "$jobs"
ctest --test-dir "$build_dir" -j "$jobs" --output-on-failure --timeout 600

if [ "${SARSTEER_SANITIZERS:-1}" != 0 ]; then
  step "ASan + UBSan build and test (preset asan, build-asan/)"
  cmake --preset asan
  cmake --build --preset asan -j "$jobs"
  ctest --preset asan -j "$jobs"
fi

if [ "$fuzz_seconds" != 0 ]; then
  step "fuzz pass, $fuzz_seconds s per target (preset fuzz, build-fuzz/)"
  SARSTEER_JOBS="$jobs" bash scripts/fuzz.sh "$fuzz_seconds"
fi
step "all passed"
