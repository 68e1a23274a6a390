#!/usr/bin/env bash
# The sanitizer stages of tools/test.sh. Usage: tools/sanitize.sh asan|tsan
#
#   asan  AddressSanitizer + UndefinedBehaviorSanitizer (every UB check
#         fatal, leaks checked) in build-asan/: the unit and integration
#         tests of quant/, index/, db/, rpc/ and the CLI, and the end-to-end
#         tests against an ASan `tqdb serve` (its leaks are checked at exit).
#         Left out: the accuracy checks on the real data sets (`exclude`),
#         and the tests of tools/bench/ (bench, report, distortion, the
#         FAISS peer, flags_test which links them), which exercise the
#         benchmark harness and FAISS rather than tqdb's serving paths.
#   tsan  ThreadSanitizer in build-tsan/: the tests of db/ and rpc/ that run
#         threads against each other (writers, searches, training, the
#         recovery thread, create racing drop, the gRPC server and the REST
#         gateway, metrics). Debian's Abseil is not built with TSan:
#         tests/tsan/ annotates absl::Mutex, CondVar and Notification.
#
# TQDB_SAN_ONLY="db_refine_test rpc_edges_test" runs only those executables.
#
# Both build with clang, -O1 -g1 (assertions on), only the targets they
# run, as a unity build (CMAKE_UNITY_BUILD: a target's sources compiled a
# few at a time in one file, so the shared headers of db/ and rpc/ are
# parsed once per batch, not once per file), with Ninja in a new build
# directory (tools/cmake_generator.sh), the SIMD kernels for AVX3, AVX2 and
# scalar only (CMakeLists.txt), with all cores (TQDB_SAN_JOBS to
# override). On a 2-core machine the ASan stage's build took 740 s with gcc
# file by file and Make, 568 s as a clang unity build, 342 s with Ninja;
# the TSan stage's 329 s, 140 s and about 90 s (README "Testing").
# Third-party suppressions, each with its reason, are in tools/sanitizers/.
# Exit non-zero on any report.
set -euo pipefail
mode="${1:?usage: tools/sanitize.sh asan|tsan}"
# rpc_load_test's searchers and writer run 8 s under a sanitizer (30 s in
# the Release run): each second is 3-10x the work there already.
export TQDB_LOAD_SECONDS="${TQDB_LOAD_SECONDS:-8}"
root="$(cd "$(dirname "$0")/.." && pwd)"
jobs="${TQDB_SAN_JOBS:-$(nproc)}"
supp="$root/tools/sanitizers"

case "$mode" in
  asan)
    build="${TQDB_ASAN_BUILD_DIR:-$root/build-asan}"
    flavor=address
    unit=(codebook_test echo_test kmeans_test pq_test rotation_test
          status_macros_test turbo_quantizer_test kernels_test
          ivf_index_test ivf_batch_test pca_codec_test scan_kernels_test
          cross_target_test ivf_filtered_test allowed_from_bitmap_test
          db_basic_test db_concurrency_test db_corruption_test
          db_crash_test db_edges_test db_memory_test db_snapshot_test
          db_fault_test storage_recovery_test db_logged_write_test
          db_refine_test rpc_test
          rpc_load_test rpc_edges_test rpc_fault_test
          convert_test http_gateway_test metrics_test readers_test cli_test
          cli_edges_test)
    e2e=(grpc_blackbox cli_e2e edges_e2e disk_full_e2e prometheus_e2e
         dashboard_e2e python_client_e2e readme_e2e)
    # The accuracy checks on the real data sets (20,000 x 512 and more:
    # recall, and CentroidCorrectionOnUse512's error at the centroids): they
    # measure accuracy, and take 40 s to 25 min each under ASan; the same
    # code paths (training, every codec and bit width, SIMD targets, scans)
    # run on synthetic data in the other tests of their suites. Likewise
    # the recall and variance comparisons on synthetic data of pca_codec_test
    # (pca against renorm, weighted against unweighted: 14 s under ASan) and
    # turbo_quantizer_test (the paper's variance
    # bound): 24 s under ASan, what they measure is accuracy, and the same
    # training and encoding run in the other tests of both suites.
    # The cluster tests (tests/cluster: cluster_*, etcd_client_test,
    # jetstream_test, shard_replica_fault_test) are left out too: they start
    # etcd, three nats-servers and up to four `tqdb serve` processes each,
    # wait on elections, leases and kills, and take 4-5 min of ctest in the
    # Release build; under ASan (the nodes 2-3x slower, timeouts tuned for
    # Release) they would add an estimated 10-15 min, past CI's 30-minute
    # budget (24 min without them). So the stage builds tqdb without the
    # cluster (TQDB_CLUSTER=OFF: its flags are refused, naming the option),
    # which saves compiling etcd's protos and rpc/cluster/ (see README
    # "Testing" for the time). To check the cluster under ASan, configure a
    # build with -DTQDB_SANITIZE=address (TQDB_CLUSTER on), build the tests
    # of tests/cluster and run
    # `ctest -R '^(cluster_|etcd_client_test|jetstream_test|shard_replica)'`.
    exclude='Recall(On|At1)|OnUse512|DataMatchesRenorm|DataBeatsRenorm|DataRanksBetterThanUnweighted|UnbiasedWithinPaperVarianceBound|^(cluster_|etcd_client_test|jetstream_test|shard_replica_fault_test)'
    compilers=(-DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang)
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
    export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
    ;;
  tsan)
    build="${TQDB_TSAN_BUILD_DIR:-$root/build-tsan}"
    flavor=thread
    unit=(db_concurrency_test db_fault_test storage_recovery_test
          db_edges_test db_memory_test
          rpc_load_test rpc_edges_test rpc_test rpc_fault_test
          http_gateway_test metrics_test)
    e2e=()
    # Not the cluster tests (see asan above): processes waiting on each
    # other over the network, not threads in one process TSan can watch.
    exclude='^(cluster_|etcd_client_test|jetstream_test|shard_replica_fault_test)'
    # clang, for the ignorelist of gRPC's and protobuf's header code.
    compilers=(-DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang)
    export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:ignore_noninstrumented_modules=1:suppressions=$supp/tsan.supp"
    ;;
  *)
    echo "usage: tools/sanitize.sh asan|tsan" >&2
    exit 2
    ;;
esac
# TQDB_SAN_ONLY="exe1 exe2": only those test executables of the stage (no
# e2e tests), e.g. the suites a change touched, while iterating.
if [ -n "${TQDB_SAN_ONLY:-}" ]; then
  read -r -a only <<<"$TQDB_SAN_ONLY"
  for t in "${only[@]}"; do
    if [[ " ${unit[*]} " != *" $t "* ]]; then
      echo "TQDB_SAN_ONLY: $t is not a test of the $mode stage" >&2
      exit 2
    fi
  done
  unit=("${only[@]}")
  e2e=()
fi
# ctest names: "<executable>.<Suite>.<Test>" for GoogleTest, the e2e names.
unit_re="$(IFS='|'; echo "${unit[*]}")"
tests="^(${unit_re})\\."
targets=("${unit[@]}")
if [ "${#e2e[@]}" -gt 0 ]; then
  tests="${tests}|^($(IFS='|'; echo "${e2e[*]}"))\$"
  targets+=(tqdb)
fi

# TQDB_CLUSTER=OFF: neither stage runs a cluster test (above).
source "$root/tools/cmake_generator.sh"
mapfile -t generator < <(cmake_generator "$build")
cmake "${generator[@]}" -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug \
  "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g1" -DTQDB_SANITIZE="$flavor" \
  -DTQDB_CLUSTER=OFF -DCMAKE_UNITY_BUILD=ON "${compilers[@]}" >/dev/null
cmake --build "$build" -j "$jobs" --target "${targets[@]}"
cd "$build"
ctest --output-on-failure -j "$jobs" --timeout 1800 -R "$tests" -E "$exclude"
