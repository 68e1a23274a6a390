// Entry points of the benchmark subcommands (tools/bench/), which run in
// tqdb-bench (tools/bench/main.cc): `tqdb bench` and `tqdb distortion`
// execute it. Each takes the arguments after the subcommand name, writes
// results to `out` and diagnostics to `err`, and returns the exit code of
// tools/cli/output.h (0 ok, 2 usage or input error naming the flag or file,
// 1 other).
#ifndef TQDB_TOOLS_BENCH_COMMANDS_H_
#define TQDB_TOOLS_BENCH_COMMANDS_H_

#include <ostream>
#include <string>
#include <vector>

#include "tools/cli/flags.h"

namespace tqdb {

// tqdb bench: recall@k, QPS and build time of IVF indexes per method, bit
// width, nprobe and rescoring on a data set (FAISS as the peer), as a table,
// JSON lines and an SVG chart; with --report, the recall report (report.h).
int RunBench(const std::vector<std::string>& args, std::ostream& out,
             std::ostream& err);

// tqdb distortion: quantizer distortion, inner-product bias/variance, bytes
// per vector and encode speed, per method and bit width.
int RunDistortion(const std::vector<std::string>& args, std::ostream& out,
                  std::ostream& err);

// The flags each command parses its arguments with (tests pin the documented
// forms against them); --report's are ReportFlags() of report.h.
const FlagSpec& BenchFlags();
const FlagSpec& DistortionFlags();

}  // namespace tqdb

#endif  // TQDB_TOOLS_BENCH_COMMANDS_H_
