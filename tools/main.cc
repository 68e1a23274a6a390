// tqdb: the command line of the tqdb vector database.
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "quant/kernels.h"
#include "tools/commands.h"

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
    "  search       nearest neighbours of a query vector\n"
    "  collections  list, inspect, create, train or drop collections\n"
    "\n"
    "Run 'tqdb <command> --help' for the flags of a command.\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") ||
      !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    std::cout << kUsage;
    return argc < 2 ? 2 : 0;
  }
  if (!std::strcmp(argv[1], "--version")) {
    std::cout << "tqdb 0.1 (SIMD target " << tqdb::kernels::ActiveTargetName()
              << ")\n";
    return 0;
  }
  const std::string cmd = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  if (cmd == "distortion")
    return tqdb::RunDistortion(args, std::cout, std::cerr);
  if (cmd == "bench") return tqdb::RunBench(args, std::cout, std::cerr);
  if (cmd == "serve") return tqdb::RunServe(args, std::cout, std::cerr);
  if (cmd == "ingest") return tqdb::RunIngest(args, std::cout, std::cerr);
  if (cmd == "search") return tqdb::RunSearch(args, std::cout, std::cerr);
  if (cmd == "collections") {
    return tqdb::RunCollections(args, std::cout, std::cerr);
  }
  std::cerr << "tqdb: unknown command '" << cmd << "'\n\n" << kUsage;
  return 2;
}
