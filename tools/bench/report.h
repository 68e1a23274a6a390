// tqdb bench --report: the recall report (issue 7). One call runs, on the
// shared real data sets (glove100-wink under cosine, use512-debian-pkgdesc
// under inner product):
//  1. the TurboQuant paper's nearest-neighbour experiment: recall@1@k for
//     k = 1..64 at 2, 3 and 4 bits per dimension, flat (no IVF) and IVF (all
//     lists probed, no rescoring), for TurboQuant mse / prod / renorm, the
//     pca variant (ours), our PQ and FAISS PQ (LUT256 and FastScan) at equal
//     bytes per vector;
//  2. indexing time (train + encode, one thread) per method;
//  3. ablations: sign sketch on/off at equal bytes, residual vs raw
//     encoding, Gaussian vs structured sketch, exact-Beta vs Gaussian
//     codebook;
//  4. inner-product error (bias and spread) per bucket of the true inner
//     product;
// and writes DIR/report.md (tables, verdict, machine, command), DIR/*.svg
// (charts) and DIR/*.jsonl (raw numbers). The parts: report_data.h (the data
// sets and the run's plan), report_measure.h (the measurements),
// report_charts.h (the SVG charts), report_markdown.h (report.md).
//
// Thread-compatible; runs single-threaded by design (timings are one
// thread).
#ifndef TQDB_TOOLS_BENCH_REPORT_H_
#define TQDB_TOOLS_BENCH_REPORT_H_

#include <cstddef>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "tools/cli/flags.h"

namespace tqdb {

struct ReportOptions {
  std::string out_dir;   // created if missing
  std::string data_dir;  // holds glove100-wink/ and use512-debian-pkgdesc/
  // Tiny run (3,000 base vectors, 100 queries, 2 and 4 bits) for tests.
  bool quick = false;
  // Base vectors per data set at most (deterministic sample, ground truth
  // recomputed); 0 = the mode's default (all for the full report).
  size_t max_base = 0;
  size_t max_queries = 0;  // 0 = the mode's default
  // The command line, quoted in the report.
  std::string command;
};

// Runs the report, logging progress to `log`. NotFound (naming the missing
// file) if the data is absent, InvalidArgument for a bad option, Internal
// for an unwritable output directory.
absl::Status WriteReport(const ReportOptions& options, std::ostream& log);

// `tqdb bench --report DIR [--data DIR] [--quick] [--max-base N]
// [--max-queries N]`: exit 0 on success, 2 on a usage error or missing data,
// 1 otherwise.
int RunReport(const std::vector<std::string>& args, std::ostream& out,
              std::ostream& err);

// The flags RunReport parses.
const FlagSpec& ReportFlags();

}  // namespace tqdb

#endif  // TQDB_TOOLS_BENCH_REPORT_H_
