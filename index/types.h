// The vocabulary of a search, shared by the index and every layer above it
// (as FAISS's faiss/MetricType.h and SearchParameters): the metric, a
// result, list statistics, the raw-vector source for exact scoring, and the
// parameters of one search. No behaviour beside the metric's names; the
// index's types (IvfIndex, IvfOptions) are in index/ivf_index.h.
#ifndef TQDB_INDEX_TYPES_H_
#define TQDB_INDEX_TYPES_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tqdb {

// Scores: for kInnerProduct and kCosine the (estimated) inner product,
// larger is better (kCosine normalizes vectors and queries); for kL2 the
// squared Euclidean distance, smaller is better.
enum class Metric : uint32_t { kInnerProduct = 0, kCosine = 1, kL2 = 2 };
const char* MetricName(Metric m);  // "ip", "cosine", "l2"
// Also accepts "dot", "angular", "euclidean". InvalidArgument otherwise.
absl::StatusOr<Metric> ParseMetric(absl::string_view name);

struct Neighbor {
  uint64_t id;
  float score;
};

struct ListStats {
  uint32_t nlist = 0;
  uint64_t live = 0;        // vectors searchable
  uint64_t tombstones = 0;  // deleted, not yet compacted
  uint32_t min_size = 0, max_size = 0;
  double imbalance = 0;         // FAISS imbalance factor of live list sizes
  std::vector<uint32_t> sizes;  // live vectors of each list, by list id
};

// What one search did (SearchParams::stats), for monitoring.
struct SearchStats {
  uint32_t lists_probed = 0;   // IVF lists scanned
  uint64_t codes_scanned = 0;  // list slots the scan kernel ran over
  uint64_t rescored = 0;       // candidates rescored on the raw vectors
  uint64_t exact_scored = 0;   // vectors scored exactly (exact search)
};
// The field-wise sum (a batch's stats).
SearchStats SumStats(const std::vector<SearchStats>& all);

// Caller-provided raw vectors, for exact search and rescoring.
// Implementations must be thread-safe for concurrent GetVector calls.
class VectorStore {
 public:
  virtual ~VectorStore() = default;
  // Copies the stored vector of `id` (dim floats, as given to Add, before
  // normalization) to out; false if unknown.
  virtual bool GetVector(uint64_t id, float* out) const = 0;
};

// What one search asks for. The database's QueryOptions (db/db.h) extends
// it (FAISS's SearchParametersIVF : SearchParameters), so the same object
// flows from the API down to the index without being copied field by field.
struct SearchParams {
  uint32_t k = 10;
  // Lists probed; 0 = all. IvfIndex::Search: InvalidArgument if > nlist.
  uint32_t nprobe = 16;
  // Brute force over the raw vectors (ground truth); ignores nprobe.
  bool exact = false;
  // Rerank the best k * oversampling candidates by exact score on the raw
  // vectors.
  bool rescore = false;
  float oversampling = 4.0f;
  // IvfIndex::Search called directly: the raw vectors of exact and rescore.
  // (The database supplies its own; QueryOptions hides this field.)
  const VectorStore* store = nullptr;
  // Optional filter applied inside the scan: only ids for which it returns
  // true are returned. Must be thread-safe.
  std::function<bool(uint64_t)> filter;
  // Optional out: what the search did (overwritten). Not owned; one per
  // concurrent search.
  SearchStats* stats = nullptr;
  // Optional: polled between lists (and every few thousand vectors of an
  // exact search); when it returns true the search stops with Cancelled
  // (deadline passed, client gone). Must be thread-safe.
  std::function<bool()> cancelled;
};

}  // namespace tqdb

#endif  // TQDB_INDEX_TYPES_H_
