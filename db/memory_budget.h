// What the collections of one database hold in memory, against
// DatabaseOptions::memory_limit_bytes, so that a write, a training or an
// open that would pass the limit fails with ResourceExhausted (naming the
// collection and the numbers) instead of the process being killed.
//
// Accounted per collection: the active IVF index (codes, per-vector
// factors, ids, tombstone flags, the id map, the centroids), the raw vectors
// an untrained collection keeps in memory (db/flat_store.h), and a running
// training's sample and new index. Sizes are the structures' own
// (capacities), measured after every change; before one, the change is
// estimated and reserved, so concurrent writers cannot together pass the
// limit. RocksDB's memory (block cache, memtables) is configured separately
// (DatabaseOptions::block_cache_bytes, write_buffer_bytes) and not counted
// here.
//
// Thread-safe.
#ifndef TQDB_DB_MEMORY_BUDGET_H_
#define TQDB_DB_MEMORY_BUDGET_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace tqdb {
namespace dbimpl {

class MemoryBudget {
 public:
  // 0: no limit (everything is still accounted).
  explicit MemoryBudget(size_t limit_bytes) : limit_(limit_bytes) {}

  // A reservation: released by its destructor (or Release()).
  class Reservation {
   public:
    Reservation() = default;
    Reservation(Reservation&& o) noexcept { *this = std::move(o); }
    Reservation& operator=(Reservation&& o) noexcept;
    ~Reservation() { Release(); }
    void Release();

   private:
    friend class MemoryBudget;
    MemoryBudget* budget_ = nullptr;
    uint32_t cid_ = 0;
    size_t bytes_ = 0;
  };

  // Reserves `bytes` more for collection `cid` (called `name`), or
  // ResourceExhausted when the total would pass the limit: "collection
  // 'docs': <what> needs 1200000 bytes of memory; in use 9000000 (docs
  // 4000000, other collections 5000000), limit 10000000".
  absl::Status Reserve(const std::string& name, uint32_t cid, size_t bytes,
                       absl::string_view what, Reservation* out);
  // Sets what the collection holds now (after a change, or at open).
  void Set(uint32_t cid, size_t bytes);
  // Forgets the collection (dropped).
  void Remove(uint32_t cid);
  // At open: ResourceExhausted when what is loaded already passes the
  // limit, naming the collection loaded last.
  absl::Status CheckLoaded(const std::string& name, uint32_t cid) const;

  struct Usage {
    size_t collection = 0;  // held by the collection (its reservations too)
    size_t total = 0;       // every collection of the database
    size_t limit = 0;       // 0 = none
  };
  Usage usage(uint32_t cid) const;
  size_t limit() const { return limit_; }

 private:
  struct Entry {
    size_t held = 0;
    size_t reserved = 0;
  };
  void Unreserve(uint32_t cid, size_t bytes);
  absl::Status Exhausted(const std::string& name, uint32_t cid,
                         absl::string_view what, size_t bytes) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const size_t limit_;
  mutable absl::Mutex mu_;  // a leaf: nothing is locked under it
  absl::flat_hash_map<uint32_t, Entry> by_cid_ ABSL_GUARDED_BY(mu_);
  size_t total_ ABSL_GUARDED_BY(mu_) = 0;  // sum of held and reserved
};

}  // namespace dbimpl
}  // namespace tqdb

#endif  // TQDB_DB_MEMORY_BUDGET_H_
