// tqdb-bench: tqdb's benchmarks, `tqdb bench` (and `bench --report`) and
// `tqdb distortion`, in an executable of their own: the tqdb binary runs this
// one (from its own directory) for those commands, so that the benchmarks'
// peer, FAISS, with its OpenMP and BLAS, stays out of the production binary.
#include <iostream>
#include <string>
#include <vector>

#include "quant/simd_targets.h"
#include "tools/bench/commands.h"
#include "tools/cli/output.h"

namespace {

constexpr char kUsage[] =
    "usage: tqdb-bench (bench | distortion) [flags]\n"
    "\n"
    "tqdb's benchmarks; 'tqdb bench' and 'tqdb distortion' run this. Run\n"
    "'tqdb bench --help' or 'tqdb distortion --help' for the flags.\n";

}  // namespace

int main(int argc, char** argv) {
  // tqdb passes its environment on: TQDB_SIMD caps these kernels too.
  if (const absl::Status s = tqdb::kernels::LimitSimdTargetsFromEnvironment();
      !s.ok()) {
    std::cerr << "tqdb-bench: " << s.message() << "\n";
    return tqdb::kExitUsage;
  }
  const std::string cmd = argc < 2 ? "" : argv[1];
  const std::vector<std::string> args(argv + std::min(argc, 2), argv + argc);
  if (cmd == "bench") return tqdb::RunBench(args, std::cout, std::cerr);
  if (cmd == "distortion") {
    return tqdb::RunDistortion(args, std::cout, std::cerr);
  }
  if (cmd == "--help" || cmd == "-h") {
    std::cout << kUsage;
    return tqdb::kExitOk;
  }
  std::cerr << (cmd.empty() ? ""
                            : "tqdb-bench: unknown command '" + cmd + "'\n\n")
            << kUsage;
  return tqdb::kExitUsage;
}
