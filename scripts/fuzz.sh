#!/usr/bin/env bash
# Builds the libFuzzer targets (CMake preset `fuzz`: clang, ASan + UBSan) and runs each one for
# SECONDS_PER_TARGET seconds on a scratch copy of its seed corpus. Prints and logs the
# executions per target; exits non-zero if any target found a crash, leak, timeout or OOM.
#
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     e.g. bash scripts/fuzz.sh 60
#   TARGET: safetensors safetensors_index config tokenizer tokenizer_files audio manifest
#           responses steering openai_request (default: all that are built)
# Environment: SARSTEER_JOBS (build parallelism, default nproc), SARSTEER_FUZZ_WORK (scratch
# corpora, crash artifacts and fuzz-log.tsv; default build-fuzz/work; the corpora grow there
# across runs), SARSTEER_FUZZ_ARGS (extra libFuzzer flags; -runs=N stops a target at N
# executions). fuzz-log.tsv records the seconds each target ran. docs/hardening.md has the figures.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
jobs=${SARSTEER_JOBS:-$(nproc)}
work=${SARSTEER_FUZZ_WORK:-build-fuzz/work}

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$jobs"

if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for exe in build-fuzz/fuzz/fuzz_*; do
    [ -x "$exe" ] && targets+=("${exe##*/fuzz_}")
  done
fi

dict_for() {
  case "$1" in
    safetensors | safetensors_index | steering) echo fuzz/dict/safetensors.dict ;;
    config | tokenizer_files) echo fuzz/dict/config.dict ;;
    manifest) echo fuzz/dict/manifest.dict ;;
    responses) echo fuzz/dict/json.dict ;;
    tokenizer) echo fuzz/dict/tokenizer.dict ;;
    openai_request) echo fuzz/dict/openai.dict ;;
    *) echo "" ;;
  esac
}

mkdir -p "$work"
# Third-party leaks only (each one documented in the file); our code gets no suppressions.
export LSAN_OPTIONS="suppressions=$PWD/scripts/sanitizers/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
log="$work/fuzz-log.tsv"
[ -f "$log" ] || printf 'date\ttarget\tseconds\texecutions\tresult\n' >"$log"
failed=()
printf '%-18s %10s %14s %10s  %s\n' target seconds executions exec/s result
for t in "${targets[@]}"; do
  exe="build-fuzz/fuzz/fuzz_$t"
  [ -x "$exe" ] || { echo "fuzz.sh: no target $t ($exe)" >&2; exit 2; }
  corpus="$work/corpus/$t"
  artifacts="$work/artifacts/$t/"
  mkdir -p "$corpus" "$artifacts"
  cp -n fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null || true
  args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$artifacts")
  dict=$(dict_for "$t")
  [ -n "$dict" ] && args+=(-dict="$dict")
  # shellcheck disable=SC2086
  set +e
  started=$SECONDS
  "$exe" "${args[@]}" ${SARSTEER_FUZZ_ARGS:-} "$corpus" >"$work/$t.log" 2>&1
  rc=$?
  elapsed=$((SECONDS - started))  # less than asked when SARSTEER_FUZZ_ARGS has -runs=N
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$work/$t.log" | tail -1)
  [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\)[[:space:]]*DONE.*/\1/p' "$work/$t.log" | tail -1)
  [ -n "$execs" ] || execs=0
  result=ok
  if [ $rc -ne 0 ]; then
    result="FAILED (rc $rc, see $work/$t.log and $artifacts)"
    failed+=("$t")
  fi
  printf '%-18s %10s %14s %10s  %s\n' "$t" "$elapsed" "$execs" $((execs / (elapsed > 0 ? elapsed : 1))) "$result"
  printf '%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "$elapsed" "$execs" "${result%% *}" >>"$log"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: failures in: ${failed[*]}" >&2
  exit 1
fi
