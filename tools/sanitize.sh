#!/usr/bin/env bash
# The sanitizer stages of tools/test.sh. Usage: tools/sanitize.sh asan|tsan
#
#   asan  AddressSanitizer + UndefinedBehaviorSanitizer (every UB check
#         fatal, leaks checked) in build-asan/: the unit and integration
#         tests of every layer, and the end-to-end tests against an ASan
#         `tqdb serve`. Left out: the tests of tools/bench/ (bench, report,
#         distortion, the FAISS peer, flags_test which links them), which
#         exercise the benchmark harness and FAISS rather than tqdb's code
#         paths and take minutes under ASan.
#   tsan  ThreadSanitizer in build-tsan/: the concurrency tests of db/ and
#         rpc/ (db_concurrency, db_fault: the recovery thread, db_edges:
#         create racing drop, rpc_load, rpc_edges, rpc_test). Debian's
#         Abseil is not built with TSan: tests/tsan/ annotates absl::Mutex.
#
# Both build with -O1 -g1 (assertions on) for the targets they run only,
# with all cores (TQDB_SAN_JOBS to override). Third-party suppressions, each
# with its reason, are in tools/sanitizers/. Exit non-zero on any report.
set -euo pipefail
mode="${1:?usage: tools/sanitize.sh asan|tsan}"
root="$(cd "$(dirname "$0")/.." && pwd)"
jobs="${TQDB_SAN_JOBS:-$(nproc)}"
supp="$root/tools/sanitizers"

case "$mode" in
  asan)
    build="${TQDB_ASAN_BUILD_DIR:-$root/build-asan}"
    flavor=address
    targets=(codebook_test echo_test kmeans_test pq_test rotation_test
             status_macros_test turbo_quantizer_test kernels_test
             ivf_index_test pca_codec_test scan_kernels_test
             db_basic_test db_concurrency_test db_corruption_test
             db_crash_test db_edges_test db_snapshot_test db_fault_test
             rpc_test rpc_load_test rpc_edges_test convert_test
             readers_test cli_test cli_edges_test tqdb)
    tests='^(codebook|echo|kmeans|pq|rotation|status_macros|turbo_quantizer|kernels|ivf_index|pca_codec|scan_kernels|db_basic|db_concurrency|db_corruption|db_crash|db_edges|db_snapshot|db_fault|rpc|rpc_load|rpc_edges|convert|readers|cli|cli_edges)_test\.|^(grpc_blackbox|cli_e2e|edges_e2e|disk_full_e2e|layering)$'
    export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
    export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
    ;;
  tsan)
    build="${TQDB_TSAN_BUILD_DIR:-$root/build-tsan}"
    flavor=thread
    targets=(db_concurrency_test db_fault_test db_edges_test rpc_load_test
             rpc_edges_test rpc_test)
    tests='^(db_concurrency|db_fault|db_edges|rpc_load|rpc_edges|rpc)_test\.'
    export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:ignore_noninstrumented_modules=1:suppressions=$supp/tsan.supp"
    ;;
  *)
    echo "usage: tools/sanitize.sh asan|tsan" >&2
    exit 2
    ;;
esac

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Debug \
  "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g1" -DTQDB_SANITIZE="$flavor" >/dev/null
cmake --build "$build" -j "$jobs" --target "${targets[@]}"
cd "$build"
ctest --output-on-failure -j "$jobs" --timeout 1800 -R "$tests"
