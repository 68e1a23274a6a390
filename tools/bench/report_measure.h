// The recall report's measurements (internal to tools/bench/report*.cc):
// recall@1@k of tqdb's indexes and of FAISS's PQ at equal bytes, the
// inner-product error of each estimator, and D_mse of the codebooks. One
// thread each, on a Data of report_data.h.
#ifndef TQDB_TOOLS_BENCH_REPORT_MEASURE_H_
#define TQDB_TOOLS_BENCH_REPORT_MEASURE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "index/ivf_index.h"
#include "quant/codebook.h"
#include "tools/bench/recall.h"
#include "tools/bench/report_data.h"

namespace tqdb {

// One recall measurement.
struct RecallResult {
  std::string dataset, experiment, layout, method;
  uint32_t bits = 0;
  size_t bytes = 0;
  uint32_t nlist = 0;
  bool residual = false;
  double r[kNumAt] = {};
  double train_s = 0, encode_s = 0;
  std::string codec;
};

// `r` as one line of recall.jsonl.
std::string RecallResultJson(const RecallResult& r);

// The index of the main experiment: flat (one list) or IVF (the default
// nlist), residuals or raw vectors, 4-bit PQ sub-codes, one thread.
IvfOptions IndexOptions(const Data& data, const std::string& method,
                        uint32_t bits, bool ivf, bool residual);

// Trains, adds every base vector and searches every query (k = 64, all
// lists, no rescoring), one thread.
absl::StatusOr<RecallResult> RunTqdb(const Data& data,
                                     const std::string& experiment,
                                     const std::string& label,
                                     const IvfOptions& o);

// FAISS PQ (LUT256) and PQ FastScan, flat or IVF with every list probed, at
// exactly `target` code bytes (m = target 8-bit or 2 * target 4-bit
// sub-quantizers, at most d / 2 resp. d; vectors zero-padded per sub-vector
// when m does not divide d); a bit width FAISS cannot match adds a line to
// *notes instead. Nothing without FAISS.
absl::StatusOr<std::vector<RecallResult>> RunFaiss(
    const Data& data, bool ivf, uint32_t bits, size_t target, uint32_t nlist,
    const Plan& plan, std::vector<std::string>* notes);

// Inner-product error of one estimator in buckets of the true inner product.
struct IpErrorResult {
  std::string dataset, method;
  uint32_t bits = 0;
  size_t bytes = 0;
  std::vector<double> lo, hi, bias, sd;  // per bucket
  std::vector<size_t> count;
  double all_bias = 0, all_sd = 0, rmse = 0;
};

inline constexpr int kIpBuckets = 10;

// (query, base vector) pairs and their true inner products.
struct Pairs {
  std::vector<uint32_t> q, x;
  std::vector<double> truth;
  double lo = 0, hi = 0;
};

// Each of the first plan.ip_queries queries with its true top-100 and
// plan.ip_random random base vectors.
Pairs MakePairs(const Data& data, const Plan& plan);

// `method` is a codec method, or "prod-gaussian" (prod with the dense
// Gaussian sketch matrix of the paper).
absl::StatusOr<IpErrorResult> MeasureIpError(const Data& data,
                                             const Pairs& pairs,
                                             const std::string& method,
                                             uint32_t bits, const Plan& plan);

// `e` (over `pairs` pairs) as one line of iperror.jsonl.
std::string IpErrorJson(const IpErrorResult& e, size_t pairs);

// D_mse = E||x - x~||^2 of TurboQuant mse on unit vectors.
struct DmseResult {
  std::string source;  // "random" or a data set
  uint32_t d = 0, bits = 0;
  double exact = 0, gaussian = 0;            // measured
  double exact_pred = 0, gaussian_pred = 0;  // the codebooks' own prediction
};

// D_mse of the n x d unit vectors x at `bits`, with the exact-Beta and the
// Gaussian codebook, and their predictions.
absl::StatusOr<DmseResult> DmseRow(const std::string& source,
                                   const std::vector<float>& x, size_t n,
                                   size_t d, uint32_t bits);

// `r` as one line of dmse.jsonl.
std::string DmseJson(const DmseResult& r);

// Everything measured on one data set.
struct DataResult {
  const Data* data = nullptr;
  uint32_t nlist_ivf = 0;
  std::vector<RecallResult> recs;
  std::vector<IpErrorResult> iperr;
  double seconds = 0;
};

// The result of (experiment, layout, method, bits), or null.
const RecallResult* Find(const std::vector<RecallResult>& recs,
                         const std::string& experiment,
                         const std::string& layout, const std::string& method,
                         uint32_t bits);

}  // namespace tqdb

#endif  // TQDB_TOOLS_BENCH_REPORT_MEASURE_H_
