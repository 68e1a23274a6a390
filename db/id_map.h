// The dense internal ids of a collection's points: every live point has a
// uint32 internal id, unique among live points, assigned when the point is
// first written (or loaded) and freed when it is deleted. They are what the
// payload indexes' bitmaps hold and what a filtered scan tests
// (index/allowed_set.h). Never persisted: assigned afresh at every open.
//
// Freed ids are reused, but only once no reader that could still hold them
// in a bitmap is running: readers Pin() the current epoch for the length of
// a query; a write that frees ids starts a new epoch (EndWrite). Each epoch
// holds the next one, so the ids freed during epoch e become reusable when
// every reader pinned at e or before has let go. A search thus never
// mistakes a new point for the deleted point whose id it reuses.
//
// Thread-safety: not thread-safe except Pin's result (releasing a pin may
// happen on any thread); the owner (PayloadIndex) locks around it.
#ifndef TQDB_DB_ID_MAP_H_
#define TQDB_DB_ID_MAP_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "index/types.h"

namespace tqdb {
namespace dbimpl {

class IdMap {
 public:
  IdMap();

  // kNoIid when absent.
  uint32_t Find(uint64_t id) const {
    auto it = iid_.find(id);
    return it == iid_.end() ? kNoIid : it->second;
  }
  // REQUIRES: iid < universe() and in use.
  uint64_t ExternalId(uint32_t iid) const { return ext_[iid]; }
  // Internal ids are < universe().
  uint32_t universe() const { return static_cast<uint32_t>(ext_.size()); }
  size_t size() const { return iid_.size(); }

  // The internal id of `id`, assigning a free one if it has none.
  uint32_t Assign(uint64_t id);
  // Frees the internal id of `id` (reusable after the current epoch); no-op
  // when absent. Returns the freed id or kNoIid.
  uint32_t Release(uint64_t id);
  // Ends a write: if it freed ids, later pins see a new epoch.
  void EndWrite();

  // Keeps the ids freed from now on out of reuse until released.
  std::shared_ptr<const void> Pin() const { return epoch_; }

  // Approximate bytes held.
  size_t MemoryBytes() const;

 private:
  struct FreeList {
    absl::Mutex mu;
    std::vector<uint32_t> ids ABSL_GUARDED_BY(mu);
  };
  // Ids freed during one epoch; returned to the free list when the last
  // holder (the map, a pinned reader, or the epoch before) lets go.
  struct Epoch {
    explicit Epoch(std::shared_ptr<FreeList> f) : free(std::move(f)) {}
    ~Epoch();
    std::shared_ptr<FreeList> free;
    std::vector<uint32_t> freed;
    std::shared_ptr<Epoch> next;  // later epochs wait for this one's readers
  };

  absl::flat_hash_map<uint64_t, uint32_t> iid_;
  std::vector<uint64_t> ext_;  // by internal id
  std::shared_ptr<FreeList> free_;
  std::shared_ptr<Epoch> epoch_;
};

}  // namespace dbimpl
}  // namespace tqdb

#endif  // TQDB_DB_ID_MAP_H_
