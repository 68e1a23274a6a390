// Recall, as `tqdb bench` and the recall report measure it: the ground truth
// (computed exactly, or read from an .ivecs file), recall@1@k and
// 10-recall@10 of result ids, and the unit-normalized copies cosine needs.
//
// Thread-compatible: plain functions and values.
#ifndef TQDB_TOOLS_BENCH_RECALL_H_
#define TQDB_TOOLS_BENCH_RECALL_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "index/ivf_index.h"
#include "index/thread_pool.h"

namespace tqdb {

constexpr uint32_t kRecallK = 64;  // results of the untimed recall pass
constexpr size_t kGtK = 100;       // computed ground truth depth
constexpr int kNumAt = 7;          // recall@1@k for k = 1, 2, 4, ..., 64

// Result ids: nq rows of `width` ids, -1 = none.
struct Results {
  size_t width = 0;
  std::vector<int64_t> ids;
};

struct GroundTruth {
  size_t width = 0;  // ids per query
  std::vector<int32_t> ids;
};

// Copy of the n x d rows of x, each scaled to unit norm (zero rows stay 0).
std::vector<float> Normalized(const std::vector<float>& x, size_t n, size_t d);

// Exact top-min(kGtK, n) per query. base/queries already normalized for
// cosine; l2 = smallest squared distance, else largest inner product.
GroundTruth BruteForce(const std::vector<float>& base, size_t n,
                       const std::vector<float>& queries, size_t nq, size_t d,
                       bool l2, ThreadPool* pool);

// Reads the first nq rows of an .ivecs ground truth and checks that every id
// is a row of a base of n vectors (InvalidArgument naming the file and row
// otherwise; NotFound if unreadable).
absl::Status LoadGroundTruth(const std::string& path, size_t nq, size_t n,
                             GroundTruth* gt);

// recall1_at[j]: share of queries whose true top-1 is among the first 2^j
// results. recall10 (if wanted): |first 10 & true first t| / t, t =
// min(10, gt width).
void ComputeRecall(const Results& r, const GroundTruth& gt, size_t nq,
                   double* recall1_at, double* recall10);

Results ToResults(const std::vector<std::vector<Neighbor>>& res, size_t width);

}  // namespace tqdb

#endif  // TQDB_TOOLS_BENCH_RECALL_H_
