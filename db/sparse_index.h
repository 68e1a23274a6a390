// The sparse vectors of a collection's points in memory: an inverted index
// (term -> the points holding it, with their weights) answering exact
// dot-product top-k queries, as Qdrant's sparse vectors and Milvus's
// SPARSE_INVERTED_INDEX do. Postings name a point by a dense slot, so a
// query accumulates its scores in an array (a posting costs a sequential
// read and an indexed add, no hashing). Rebuilt from the `sparse` column family
// at open (db/FORMAT.md); written after each batch reaches RocksDB.
//
// A query's cost is the sum of the lengths of its terms' posting lists: a
// term most points hold (a stop word in BM25 weights) costs a pass over
// those points.
//
// Thread-safety: thread-safe; its lock is a leaf.
#ifndef TQDB_DB_SPARSE_INDEX_H_
#define TQDB_DB_SPARSE_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "db/db.h"
#include "index/types.h"

namespace tqdb {

// Most non-zero coordinates a sparse vector may hold.
constexpr size_t kMaxSparseNonZeros = size_t{1} << 16;

// The rules of a sparse vector, `v` put in ascending index order: as many
// values as indices, no index twice, finite values, at most
// kMaxSparseNonZeros of them. InvalidArgument naming `what` ("sparse
// vector", "sparse query") and the offending index.
absl::Status CheckSparseVector(absl::string_view what, SparseVector* v);

// Storage encoding (the `sparse` family's values, db/FORMAT.md): fixed32
// count, count x fixed32 index, count x float32 value. Decode checks the
// size, the order and the finiteness (false: corrupt).
std::string EncodeSparseVector(const SparseVector& v);
bool DecodeSparseVector(absl::string_view in, SparseVector* v);

// Multiplies each value of `query` (its indices the terms `stats` was asked
// for, in order) by its term's inverse document frequency, Qdrant's (the
// BM25 one): ln(1 + (N - n + 0.5) / (n + 0.5)), N = stats.points, n = the
// points holding the term (a term no point holds: ln(2 + 2N)).
void ApplyIdf(const SparseTermStats& stats, SparseVector* query);

class SparseIndex {
 public:
  SparseIndex() = default;
  SparseIndex(const SparseIndex&) = delete;
  SparseIndex& operator=(const SparseIndex&) = delete;

  // Sets the sparse vectors of `ids` (checked ones): replaces what they
  // held; an empty vector leaves the point without one.
  void Set(const std::vector<uint64_t>& ids,
           const std::vector<const SparseVector*>& vectors);
  void Remove(const std::vector<uint64_t>& ids);
  // Whether `id` holds a sparse vector.
  bool Contains(uint64_t id) const;

  // The k best points by dot product with `query` (a checked one), among
  // those `allowed` accepts (all without it); ties by ascending id. Points
  // sharing no term with the query are not candidates. *scored: the points
  // whose score was accumulated. `cancelled` is polled between terms.
  absl::Status Search(const SparseVector& query, size_t k,
                      const std::function<bool(uint64_t)>* allowed,
                      const std::function<bool()>* cancelled,
                      std::vector<Neighbor>* out, uint64_t* scored) const;

  uint64_t points() const;
  SparseTermStats Stats(const std::vector<uint32_t>& terms) const;
  size_t memory_bytes() const;
  // About what a non-zero coordinate adds to memory_bytes() (a write's
  // reservation, db/memory_budget.h): its posting and its term in the
  // point's list.
  static constexpr size_t kBytesPerNonZero = 8 + sizeof(uint32_t);

 private:
  // A point's place in the posting lists. A slot is never reused: a point
  // removed (or replaced) leaves its postings behind, skipped by searches
  // (live_ false) until Compact drops them and renumbers the slots.
  struct Posting {
    uint32_t slot;
    float weight;
  };
  struct Term {
    std::vector<Posting> postings;  // in slot order
    uint64_t live = 0;              // of them, of live slots
  };
  void RemoveLocked(uint64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops the dead slots' postings and renumbers the live slots in order.
  void CompactLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint32_t, Term> terms_ ABSL_GUARDED_BY(mu_);
  // slot -> point id, liveness and terms (cleared once dead).
  std::vector<uint64_t> slot_id_ ABSL_GUARDED_BY(mu_);
  std::vector<uint8_t> live_ ABSL_GUARDED_BY(mu_);
  std::vector<std::vector<uint32_t>> slot_terms_ ABSL_GUARDED_BY(mu_);
  // point id -> its live slot.
  absl::flat_hash_map<uint64_t, uint32_t> slot_of_ ABSL_GUARDED_BY(mu_);
  size_t nonzeros_ ABSL_GUARDED_BY(mu_) = 0;       // live postings
  size_t dead_postings_ ABSL_GUARDED_BY(mu_) = 0;  // not dropped yet
};

}  // namespace tqdb

#endif  // TQDB_DB_SPARSE_INDEX_H_
