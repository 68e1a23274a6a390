// The recall report's inputs (internal to tools/bench/report*.cc): the
// shared data sets it runs on, the plan of a run (full or quick), and the
// methods it compares.
#ifndef TQDB_TOOLS_BENCH_REPORT_DATA_H_
#define TQDB_TOOLS_BENCH_REPORT_DATA_H_

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "index/ivf_index.h"
#include "tools/bench/recall.h"
#include "tools/bench/report.h"

namespace tqdb {

struct DataSpec {
  const char* name;  // folder under the data directory
  const char* base;
  const char* queries;
  const char* gt;
  Metric metric;
};

// glove100-wink (cosine) and use512-debian-pkgdesc (inner product).
inline constexpr DataSpec kDataSpecs[] = {
    {"glove100-wink", "glove100_base_100k.fvecs", "glove100_query_1k.fvecs",
     "glove100_query_1k.gt_angular_top100.ivecs", Metric::kCosine},
    {"use512-debian-pkgdesc", "debdesc_use512_base_20k.fvecs",
     "debdesc_use512_query_1k.fvecs",
     "debdesc_use512_query_1k.gt_ip_top100.ivecs", Metric::kInnerProduct},
};

// Parameters of a run (full or quick).
struct Plan {
  std::vector<uint32_t> bits;
  size_t max_base = 0, max_queries = 0;
  size_t ip_queries = 0;   // queries of the inner-product error study
  size_t ip_random = 0;    // random base partners per query (plus top 100)
  size_t codec_train = 0;  // training rows of the IP-error codecs
  size_t dmse_n = 0;       // random unit vectors per D_mse measurement
  std::vector<uint32_t> dmse_dims;
  size_t faiss_max_train = 0;
};

Plan MakePlan(const ReportOptions& o);

// Methods of the main experiment, in chart and table order.
inline constexpr const char* kTqdbMethods[] = {"mse", "prod", "renorm", "pca",
                                               "pq"};
inline constexpr char kFaissLut[] = "faiss-lut256";
inline constexpr char kFaissFs[] = "faiss-fastscan";

// kTqdbMethods and the two FAISS ones.
std::vector<std::string> MainMethods();
// A method's name in tables and legends ("TQ renorm", ...).
std::string Display(const std::string& m);
bool IsTurbo(const std::string& m);  // mse, prod, renorm
bool IsPq(const std::string& m);     // ours and FAISS's

// One data set in memory, sampled as the plan says.
struct Data {
  const DataSpec* spec = nullptr;
  size_t n_file = 0, nq_file = 0, n = 0, d = 0, nq = 0;
  std::vector<float> base, queries;      // as in the files (sampled)
  std::vector<float> base_m, queries_m;  // unit-normalized for cosine
  GroundTruth gt;
  std::string gt_note;
};

// NotFound naming the first file of `spec` missing under `dir`, with a hint
// at --data.
absl::Status CheckDataFiles(const std::string& dir, const DataSpec& spec);

// Reads the data set (at most plan.max_base base vectors, a deterministic
// sample whose ground truth is recomputed, and plan.max_queries queries).
absl::StatusOr<Data> LoadData(const std::string& dir, const DataSpec& spec,
                              const Plan& plan, std::ostream& log);

}  // namespace tqdb

#endif  // TQDB_TOOLS_BENCH_REPORT_DATA_H_
