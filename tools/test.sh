#!/usr/bin/env bash
# The README's test command: installs what is missing (apt), builds tqdb in
# Release with all cores and runs every test with ctest, then the readers'
# fuzzers, then the sanitizer stages (tools/sanitize.sh: the tests again
# under ASan+UBSan, and the concurrency tests of db/ and rpc/ under TSan).
# Non-zero exit on any failure. Tests that need ../shared/data skip with a
# message where it is absent. Each stage prints its wall and CPU time.
# TQDB_SANITIZE=0 leaves the sanitizer stages out (a quick local run).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

# Runs one stage and prints its wall and CPU time (user and system, its
# processes summed: on a loaded machine the wall time grows, not these).
stage() {
  local name="$1"
  shift
  echo "== test.sh: $name"
  local TIMEFORMAT="== test.sh: $name took %0R s (CPU: %0U s user, %0S s sys)"
  time "$@"
}

# The cluster tests (tests/cluster: etcd, nats-servers and `tqdb serve`
# nodes) mostly wait, on elections, leases and killed nodes: 229 s of ctest
# for 72 s of CPU on a 2-core machine. They run in a ctest of their own, one
# at a time, started beside the ctest of the other tests (all cores; the
# label `cluster` of tests/cluster/CMakeLists.txt leaves them out there) and
# still running through the fuzz stage (the other ctest ends ~40 s before
# them); their log follows the fuzz stage's, before the sanitizer stages.
build_dir="${TQDB_BUILD_DIR:-$root/build}"
cluster_log="$build_dir/cluster_ctest.log"
cluster_pid=""
run_ctest() {
  cd "$build_dir"
  if [ -f tests/cluster/CTestTestfile.cmake ]; then
    (cd tests/cluster && ctest --output-on-failure --timeout 900) \
      >"$cluster_log" 2>&1 &
    cluster_pid=$!
  fi
  ctest --output-on-failure -j "$(nproc)" --timeout 900 -LE cluster
}
wait_cluster() {
  [ -n "$cluster_pid" ] || return 0
  local rc=0
  wait "$cluster_pid" || rc=$?
  cat "$cluster_log"
  return "$rc"
}

# A unity build (tools/build.sh): in a fresh clone every file is compiled
# once, and batching them saves most of the repeated header parsing.
export TQDB_UNITY="${TQDB_UNITY:-ON}"
stage setup bash "$root/tools/setup.sh"
stage build bash "$root/tools/build.sh"
# `stage` runs its command in this shell (cluster_pid is set for later),
# and a failing ctest still waits for the cluster tests and shows their log.
ctest_rc=0
stage ctest run_ctest || ctest_rc=$?
if [ "$ctest_rc" -ne 0 ]; then
  wait_cluster || true
  exit "$ctest_rc"
fi
# The ingest readers' libFuzzer fuzzers, 6 s each from the checked-in
# corpora (clang, build-fuzz/; a smoke run within CI's time, ~100,000 inputs
# each for the fast readers; longer runs by hand: tools/fuzz.sh SECONDS).
fuzz_rc=0
stage fuzz bash "$root/tools/fuzz.sh" 6 || fuzz_rc=$?
stage "cluster tests (tests/cluster, run beside the two above)" wait_cluster
[ "$fuzz_rc" -eq 0 ] || exit "$fuzz_rc"
if [ "${TQDB_SANITIZE:-1}" != 0 ]; then
  stage asan bash "$root/tools/sanitize.sh" asan
  stage tsan bash "$root/tools/sanitize.sh" tsan
fi
echo "== test.sh: all stages passed in $SECONDS s"
