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
# at a time, beside the ctest of the other tests (all cores; the label
# `cluster` of tests/cluster/CMakeLists.txt leaves them out there), whose
# output comes first; their log follows it.
run_ctest() {
  cd "${TQDB_BUILD_DIR:-$root/build}"
  local cluster_log="$PWD/cluster_ctest.log" cluster_pid="" rc=0
  if [ -f tests/cluster/CTestTestfile.cmake ]; then
    (cd tests/cluster && ctest --output-on-failure --timeout 900) \
      >"$cluster_log" 2>&1 &
    cluster_pid=$!
  fi
  ctest --output-on-failure -j "$(nproc)" --timeout 900 -LE cluster || rc=$?
  if [ -n "$cluster_pid" ]; then
    echo "== test.sh: the cluster tests (tests/cluster, run beside the above)"
    wait "$cluster_pid" || rc=$?
    cat "$cluster_log"
  fi
  return "$rc"
}

# A unity build (tools/build.sh): in a fresh clone every file is compiled
# once, and batching them saves most of the repeated header parsing.
export TQDB_UNITY="${TQDB_UNITY:-ON}"
stage setup bash "$root/tools/setup.sh"
stage build bash "$root/tools/build.sh"
stage ctest run_ctest
# The ingest readers' libFuzzer fuzzers, 6 s each from the checked-in
# corpora (clang, build-fuzz/; a smoke run within CI's time, ~100,000 inputs
# each for the fast readers; longer runs by hand: tools/fuzz.sh SECONDS).
stage fuzz bash "$root/tools/fuzz.sh" 6
if [ "${TQDB_SANITIZE:-1}" != 0 ]; then
  stage asan bash "$root/tools/sanitize.sh" asan
  stage tsan bash "$root/tools/sanitize.sh" tsan
fi
echo "== test.sh: all stages passed in $SECONDS s"
