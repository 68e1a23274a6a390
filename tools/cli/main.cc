// tqdb: the command line of the tqdb vector database. serve, ingest, search,
// scroll, collections and cluster run here; bench and distortion run in the
// sibling executable tqdb-bench (tools/bench/main.cc), so that the benchmarks'
// peer, FAISS, and its OpenMP and BLAS stay out of the production binary.
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "quant/kernels.h"
#include "quant/simd_targets.h"
#include "tools/cli/commands.h"
#include "tools/cli/output.h"

namespace {

constexpr char kUsage[] =
    "usage: tqdb <command> [flags]\n"
    "\n"
    "commands:\n"
    "  distortion   measure TurboQuant and PQ distortion, inner-product\n"
    "               bias/variance, bytes per vector and encode speed\n"
    "  bench        recall, QPS and build time per method, bits and nprobe\n"
    "  serve        serve a data directory over gRPC\n"
    "  ingest       load a vector file (fvecs, npy, hdf5, jsonl, csv, ...)\n"
    "  search       nearest neighbours of a query vector (--filter: of the\n"
    "               points matching a filter)\n"
    "  scroll       the points of a collection in id order, page by page\n"
    "  collections  list, inspect, create, train or drop collections; index\n"
    "               payload fields; count points\n"
    "  snapshots    a server's snapshots: list, create, delete; restore a\n"
    "               snapshot's collections into a server or cluster\n"
    "  cluster      a cluster node's status; drain a node before taking it\n"
    "               out of the cluster\n"
    "\n"
    "Run 'tqdb <command> --help' for the flags of a command.\n"
    "\n"
    "environment:\n"
    "  TQDB_SIMD    cap the SIMD target of the kernels (avx3_dl, avx3,\n"
    "               avx2, sse4, ssse3, emu128, scalar; default: the best\n"
    "               this CPU has); 'tqdb --version' names the one in use\n";

// Replaces this process with tqdb-bench from the directory of this
// executable (git-style), passing the command and its arguments on;
// returns only on failure.
int ExecBench(int argc, char** argv) {
  const std::string cmd = argv[1];
  char self[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) {
    std::cerr << "tqdb " << cmd << ": cannot locate this executable "
              << "(/proc/self/exe): " << std::strerror(errno) << "\n";
    return tqdb::kExitFailure;
  }
  std::string path(self, static_cast<size_t>(n));
  path = path.substr(0, path.rfind('/') + 1) + "tqdb-bench";
  std::vector<char*> args = {const_cast<char*>(path.c_str())};
  for (int i = 1; i <= argc; ++i) args.push_back(argv[i]);  // argv[argc] null
  execv(path.c_str(), args.data());
  const int e = errno;
  std::cerr << "tqdb " << cmd << ": cannot run " << path << ": "
            << std::strerror(e)
            << (e == ENOENT ? " (tqdb " + cmd +
                                  " runs tqdb-bench, built and installed "
                                  "beside tqdb: cmake --build build --target "
                                  "tqdb-bench)"
                            : std::string())
            << "\n";
  return tqdb::kExitFailure;
}

}  // namespace

int main(int argc, char** argv) {
  if (const absl::Status s = tqdb::kernels::LimitSimdTargetsFromEnvironment();
      !s.ok()) {
    std::cerr << "tqdb: " << s.message() << "\n";
    return tqdb::kExitUsage;
  }
  if (argc < 2 || !std::strcmp(argv[1], "--help") ||
      !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    std::cout << kUsage;
    return argc < 2 ? tqdb::kExitUsage : tqdb::kExitOk;
  }
  if (!std::strcmp(argv[1], "--version")) {
    std::cout << "tqdb 0.1 (SIMD target " << tqdb::kernels::ActiveTargetName()
              << ")\n";
    return tqdb::kExitOk;
  }
  const std::string cmd = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  if (cmd == "bench" || cmd == "distortion") return ExecBench(argc, argv);
  if (cmd == "serve") return tqdb::RunServe(args, std::cout, std::cerr);
  if (cmd == "ingest") return tqdb::RunIngest(args, std::cout, std::cerr);
  if (cmd == "search") return tqdb::RunSearch(args, std::cout, std::cerr);
  if (cmd == "scroll") return tqdb::RunScroll(args, std::cout, std::cerr);
  if (cmd == "collections") {
    return tqdb::RunCollections(args, std::cout, std::cerr);
  }
  if (cmd == "snapshots") {
    return tqdb::RunSnapshots(args, std::cout, std::cerr);
  }
  if (cmd == "cluster") return tqdb::RunCluster(args, std::cout, std::cerr);
  std::cerr << "tqdb: unknown command '" << cmd << "'\n\n" << kUsage;
  return tqdb::kExitUsage;
}
