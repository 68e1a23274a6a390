#include "db/memory_budget.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace tqdb {
namespace dbimpl {

MemoryBudget::Reservation& MemoryBudget::Reservation::operator=(
    Reservation&& o) noexcept {
  if (this != &o) {
    Release();
    budget_ = std::exchange(o.budget_, nullptr);
    cid_ = o.cid_;
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

void MemoryBudget::Reservation::Release() {
  if (budget_ != nullptr && bytes_ > 0) budget_->Unreserve(cid_, bytes_);
  budget_ = nullptr;
  bytes_ = 0;
}

absl::Status MemoryBudget::Exhausted(const std::string& name, uint32_t cid,
                                     absl::string_view what,
                                     size_t bytes) const {
  size_t mine = 0;
  if (auto it = by_cid_.find(cid); it != by_cid_.end()) {
    mine = it->second.held + it->second.reserved;
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("collection '", name, "': ", what, " needs ", bytes,
                   " bytes of memory; in use ", total_, " (", name, " ", mine,
                   ", other collections ", total_ - mine, "), memory limit ",
                   limit_, " bytes (tqdb serve --memory-limit)"));
}

absl::Status MemoryBudget::Reserve(const std::string& name, uint32_t cid,
                                   size_t bytes, absl::string_view what,
                                   Reservation* out) {
  out->Release();
  absl::MutexLock l(&mu_);
  if (limit_ > 0 && total_ + bytes > limit_) {
    return Exhausted(name, cid, what, bytes);
  }
  by_cid_[cid].reserved += bytes;
  total_ += bytes;
  out->budget_ = this;
  out->cid_ = cid;
  out->bytes_ = bytes;
  return absl::OkStatus();
}

void MemoryBudget::Unreserve(uint32_t cid, size_t bytes) {
  absl::MutexLock l(&mu_);
  auto it = by_cid_.find(cid);
  if (it == by_cid_.end()) return;  // removed meanwhile
  const size_t b = std::min(bytes, it->second.reserved);
  it->second.reserved -= b;
  total_ -= b;
}

void MemoryBudget::Set(uint32_t cid, size_t bytes) {
  absl::MutexLock l(&mu_);
  Entry& e = by_cid_[cid];
  total_ = total_ - e.held + bytes;
  e.held = bytes;
}

void MemoryBudget::Remove(uint32_t cid) {
  absl::MutexLock l(&mu_);
  auto it = by_cid_.find(cid);
  if (it == by_cid_.end()) return;
  total_ -= it->second.held + it->second.reserved;
  by_cid_.erase(it);
}

absl::Status MemoryBudget::CheckLoaded(const std::string& name,
                                       uint32_t cid) const {
  absl::ReaderMutexLock l(&mu_);
  if (limit_ == 0 || total_ <= limit_) return absl::OkStatus();
  auto it = by_cid_.find(cid);
  const size_t mine = it == by_cid_.end() ? 0 : it->second.held;
  return absl::ResourceExhaustedError(absl::StrCat(
      "collection '", name, "': loading it brings the memory in use to ",
      total_, " bytes (", name, " ", mine, ", the collections before it ",
      total_ - mine, "), over the memory limit of ", limit_,
      " bytes (tqdb serve --memory-limit)"));
}

MemoryBudget::Usage MemoryBudget::usage(uint32_t cid) const {
  absl::ReaderMutexLock l(&mu_);
  Usage u;
  if (auto it = by_cid_.find(cid); it != by_cid_.end()) {
    u.collection = it->second.held + it->second.reserved;
  }
  u.total = total_;
  u.limit = limit_;
  return u;
}

}  // namespace dbimpl
}  // namespace tqdb
