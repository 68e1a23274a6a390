// The raw vectors of an untrained collection, in memory, for exact search.
#ifndef TQDB_DB_FLAT_STORE_H_
#define TQDB_DB_FLAT_STORE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "index/types.h"

namespace tqdb {
namespace dbimpl {

// Holds vectors up to max_bytes; past that only the ids are kept
// (existence, count) and has_vectors() turns false for good: searches then
// scan the stored vectors. Thread-safe: searches share mu_, writes (which
// the collection serializes) take it exclusively.
class FlatStore {
 public:
  FlatStore(uint32_t dim, Metric metric, size_t max_bytes)
      : dim_(dim), metric_(metric), max_bytes_(max_bytes) {}
  bool has_vectors() const;
  void Upsert(const uint64_t* ids, const float* x, size_t n);
  void Remove(const uint64_t* ids, size_t n);
  void Contains(const uint64_t* ids, size_t n, std::vector<bool>* out) const;
  size_t size() const;
  // Bytes held (vectors, ids, the id map), and what one more point adds.
  size_t MemoryBytes() const;
  size_t MemoryBytesPerVector() const;
  // Exact top k (empty once the vectors are gone: see has_vectors()).
  std::vector<Neighbor> Search(
      const float* query, uint32_t k,
      const std::function<bool(uint64_t)>* filter) const;

 private:
  const uint32_t dim_;
  const Metric metric_;
  const size_t max_bytes_;
  mutable absl::Mutex mu_;  // a leaf: nothing is locked under it
  bool overflowed_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<float> data_ ABSL_GUARDED_BY(mu_);  // ids_.size() x dim_
  std::vector<uint64_t> ids_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, uint32_t> slot_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dbimpl
}  // namespace tqdb

#endif  // TQDB_DB_FLAT_STORE_H_
