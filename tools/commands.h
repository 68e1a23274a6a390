// Entry points of the tqdb subcommands. Each takes the arguments after the
// subcommand name, writes results to `out` and diagnostics to `err`, and
// returns the process exit code: 0 on success, 2 on a usage or input error
// (bad flag, unreadable or malformed file: the message names the file and
// row), 1 on an internal failure.
#ifndef TQDB_TOOLS_COMMANDS_H_
#define TQDB_TOOLS_COMMANDS_H_

#include <ostream>
#include <string>
#include <vector>

namespace tqdb {

// tqdb distortion: quantizer distortion, inner-product bias/variance,
// bytes per vector and encode speed, per method and bit width.
int RunDistortion(const std::vector<std::string>& args, std::ostream& out,
                  std::ostream& err);

// tqdb bench: recall@k, QPS and build time of IVF indexes per method, bit
// width, nprobe and rescoring on a data set (FAISS as the peer), as a table,
// JSON lines and an SVG chart.
int RunBench(const std::vector<std::string>& args, std::ostream& out,
             std::ostream& err);

// tqdb serve: the gRPC server over a data directory until SIGTERM/SIGINT.
int RunServe(const std::vector<std::string>& args, std::ostream& out,
             std::ostream& err);

// tqdb ingest: streams a vector file (fvecs, bvecs, ivecs, fbin, u8bin,
// i8bin, npy, hdf5, jsonl, csv) into a collection, over gRPC or embedded.
int RunIngest(const std::vector<std::string>& args, std::ostream& out,
              std::ostream& err);

// tqdb search: the nearest neighbours of one query vector.
int RunSearch(const std::vector<std::string>& args, std::ostream& out,
              std::ostream& err);

// tqdb collections: list, info, create, train, drop.
int RunCollections(const std::vector<std::string>& args, std::ostream& out,
                   std::ostream& err);

}  // namespace tqdb

#endif  // TQDB_TOOLS_COMMANDS_H_
