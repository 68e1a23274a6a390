// The pieces of the JSON lines bench and the recall report write by hand
// (their number formats are fixed, e.g. recall with 4 decimals).
#ifndef TQDB_TOOLS_BENCH_JSON_LINE_H_
#define TQDB_TOOLS_BENCH_JSON_LINE_H_

#include <string>

namespace tqdb {

// `s` escaped for a JSON string (quotes, backslashes, control characters).
std::string JsonEscape(const std::string& s);

// The members of a JSON object of recall1_at (kNumAt values, k = 1, 2, 4,
// ..., 64): "1":0.8123,"2":...,"64":...
std::string RecallAtJson(const double* recall1_at);

}  // namespace tqdb

#endif  // TQDB_TOOLS_BENCH_JSON_LINE_H_
