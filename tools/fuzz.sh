#!/usr/bin/env bash
# Builds the readers' libFuzzer fuzzers (tools/fuzz/, clang with
# -fsanitize=fuzzer,address,undefined; only the readers, tools/io/, and the
# fuzzers are compiled) in build-fuzz/ (or $TQDB_FUZZ_BUILD_DIR), then runs
# each for SECONDS seconds, two at a time, starting from the checked-in seeds in
# tools/fuzz/corpus/<name>/ (new inputs go to BUILD/corpus/<name>/).
# Prints one line per fuzzer; exits non-zero if any fuzzer crashed, keeping
# the crashing input (path printed) and the log.
# Usage: tools/fuzz.sh [SECONDS]   (default 30)
set -euo pipefail
secs="${1:-30}"
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${TQDB_FUZZ_BUILD_DIR:-$root/build-fuzz}"
jobs=2

source "$root/tools/cmake_generator.sh"
mapfile -t generator < <(cmake_generator "$build")
CC="${CC_FUZZ:-clang}" CXX="${CXX_FUZZ:-clang++}" \
  cmake "${generator[@]}" -S "$root/tools/fuzz" -B "$build" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  >/dev/null
cmake --build "$build" -j "$jobs" >/dev/null

mapfile -t fuzzers < <(cd "$root/tools/fuzz" && ls *_fuzzer.cc | sed 's/_fuzzer\.cc$//')
# hdf5_raw fuzzes libhdf5's own parser, which crashes on corrupt files
# (tools/fuzz/hdf5_raw_fuzzer.cc says more): opt-in with TQDB_FUZZ_ALL=1.
if [ "${TQDB_FUZZ_ALL:-0}" != 1 ]; then
  mapfile -t fuzzers < <(printf '%s\n' "${fuzzers[@]}" | grep -vx hdf5_raw)
  echo "fuzz: hdf5_raw skipped (libhdf5's own crashes; TQDB_FUZZ_ALL=1 runs it)"
fi
mkdir -p "$build/logs" "$build/results"

run_one() {
  local name="$1"
  local corpus="$build/corpus/$name" artifacts="$build/artifacts/$name"
  local log="$build/logs/$name.log" dict="$root/tools/fuzz/$name.dict"
  mkdir -p "$corpus" "$artifacts"
  local args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048
              -print_final_stats=1 -artifact_prefix="$artifacts/")
  [ -f "$dict" ] && args+=(-dict="$dict")
  local rc=0
  "$build/${name}_fuzzer" "${args[@]}" "$corpus" "$root/tools/fuzz/corpus/$name" \
    >"$log" 2>&1 || rc=$?
  local execs rate files
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  files=$(find "$corpus" -type f | wc -l)
  if [ "$rc" -eq 0 ]; then
    echo "fuzz: $name OK: ${execs:-?} runs, ${rate:-?} exec/s, corpus $files files" \
      >"$build/results/$name"
  else
    local crash
    crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    echo "fuzz: $name FAILED (exit $rc): input ${crash:-none}, log $log" \
      >"$build/results/$name"
  fi
}

rm -f "$build"/results/*
for name in "${fuzzers[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  run_one "$name" &
done
wait

failed=0
for name in "${fuzzers[@]}"; do
  cat "$build/results/$name"
  grep -q " OK: " "$build/results/$name" || failed=1
done
if [ "$failed" -ne 0 ]; then
  echo "fuzz: FAILED (reproduce: $build/NAME_fuzzer CRASH_FILE)"
  exit 1
fi
echo "fuzz: all ${#fuzzers[@]} fuzzers ran ${secs}s without a crash"
