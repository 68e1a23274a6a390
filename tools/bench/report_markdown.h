// The recall report's text, report.md (internal to tools/bench/report*.cc):
// setup, data and protocol, then one section per study and the verdict,
// every number from the run's results.
#ifndef TQDB_TOOLS_BENCH_REPORT_MARKDOWN_H_
#define TQDB_TOOLS_BENCH_REPORT_MARKDOWN_H_

#include <string>
#include <vector>

#include "tools/bench/report.h"
#include "tools/bench/report_data.h"
#include "tools/bench/report_measure.h"

namespace tqdb {

// Everything report.md is written from.
struct ReportResults {
  std::vector<DataResult> data;    // one per data set, in kDataSpecs order
  std::vector<DmseResult> dmse;    // random vectors, then the data sets
  std::vector<std::string> notes;  // "FAISS skipped for ..." lines
  double runtime_s = 0;            // of the whole run
};

// report.md.
std::string ReportMarkdown(const ReportOptions& options, const Plan& plan,
                           const ReportResults& all);

// The pieces of the tables (report_verdict.cc uses them too).
std::string MdTable(const std::vector<std::string>& header,
                    const std::vector<std::vector<std::string>>& rows);
// 0.81234 -> "0.812"; NaN -> "-".
std::string ThreeDecimals(double v);
// A recall difference in percentage points: 0.0123 -> "+1.2".
std::string SignedPoints(double v);

// The verdict's table and sentences, from the main experiment.
std::string Verdict(const std::vector<DataResult>& all, const Plan& plan);

}  // namespace tqdb

#endif  // TQDB_TOOLS_BENCH_REPORT_MARKDOWN_H_
