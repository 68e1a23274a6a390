#include "db/id_map.h"

#include <utility>

namespace tqdb {
namespace dbimpl {

IdMap::Epoch::~Epoch() {
  if (!freed.empty()) {
    absl::MutexLock l(&free->mu);
    free->ids.insert(free->ids.end(), freed.begin(), freed.end());
  }
  // Release the chain of later epochs iteratively (a reader that stayed
  // pinned through many writes leaves a long one). Only the current epoch
  // can gain pins, and the map holds it, so a use count of 1 means no one
  // else can reach the epoch.
  std::shared_ptr<Epoch> n = std::move(next);
  while (n != nullptr && n.use_count() == 1) {
    std::shared_ptr<Epoch> after = std::move(n->next);
    n.reset();
    n = std::move(after);
  }
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
  if (epoch_->freed.empty()) return;
  auto next = std::make_shared<Epoch>(free_);
  epoch_->next = next;
  epoch_ = std::move(next);
}

size_t IdMap::MemoryBytes() const {
  return iid_.capacity() * (sizeof(uint64_t) + sizeof(uint32_t) + 1) +
         ext_.capacity() * sizeof(uint64_t);
}

}  // namespace dbimpl
}  // namespace tqdb
