#include "db/id_map.h"

#include <utility>

namespace tqdb {
namespace dbimpl {

IdMap::Epoch::~Epoch() {
  if (freed.empty()) return;
  absl::MutexLock l(&free->mu);
  free->ids.insert(free->ids.end(), freed.begin(), freed.end());
}

IdMap::IdMap()
    : free_(std::make_shared<FreeList>()),
      epoch_(std::make_shared<Epoch>(free_)) {}

uint32_t IdMap::Assign(uint64_t id) {
  auto [it, inserted] = iid_.try_emplace(id, kNoIid);
  if (!inserted) return it->second;
  uint32_t iid = kNoIid;
  {
    absl::MutexLock l(&free_->mu);
    if (!free_->ids.empty()) {
      iid = free_->ids.back();
      free_->ids.pop_back();
    }
  }
  if (iid == kNoIid) {
    iid = static_cast<uint32_t>(ext_.size());
    ext_.push_back(0);
  }
  ext_[iid] = id;
  it->second = iid;
  return iid;
}

uint32_t IdMap::Release(uint64_t id) {
  auto it = iid_.find(id);
  if (it == iid_.end()) return kNoIid;
  const uint32_t iid = it->second;
  iid_.erase(it);
  epoch_->freed.push_back(iid);
  return iid;
}

void IdMap::EndWrite() {
  if (!epoch_->freed.empty()) epoch_ = std::make_shared<Epoch>(free_);
}

size_t IdMap::MemoryBytes() const {
  return iid_.capacity() * (sizeof(uint64_t) + sizeof(uint32_t) + 1) +
         ext_.capacity() * sizeof(uint64_t);
}

}  // namespace dbimpl
}  // namespace tqdb
