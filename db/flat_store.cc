#include "db/flat_store.h"

#include <algorithm>

#include "db/exact_scorer.h"
#include "index/scanner.h"

namespace tqdb {
namespace dbimpl {

void FlatStore::Upsert(const uint64_t* ids, const float* x, size_t n) {
  absl::MutexLock l(&mu_);
  for (size_t i = 0; i < n; ++i) {
    auto [it, inserted] =
        slot_.try_emplace(ids[i], static_cast<uint32_t>(ids_.size()));
    if (inserted) {
      ids_.push_back(ids[i]);
      if (!overflowed_) {
        data_.insert(data_.end(), x + i * dim_, x + (i + 1) * dim_);
      }
    } else if (!overflowed_) {
      std::copy(x + i * dim_, x + (i + 1) * dim_,
                data_.begin() + size_t{it->second} * dim_);
    }
  }
  if (!overflowed_ && data_.size() * sizeof(float) > max_bytes_) {
    // Past the memory budget: keep the ids (existence), drop the vectors;
    // searches read the stored ones instead.
    overflowed_ = true;
    std::vector<float>().swap(data_);
  }
}

void FlatStore::Remove(const uint64_t* ids, size_t n) {
  absl::MutexLock l(&mu_);
  for (size_t i = 0; i < n; ++i) {
    auto it = slot_.find(ids[i]);
    if (it == slot_.end()) continue;
    const uint32_t s = it->second,
                   last = static_cast<uint32_t>(ids_.size() - 1);
    slot_.erase(it);
    if (s != last) {
      ids_[s] = ids_[last];
      if (!overflowed_) {
        std::copy(data_.begin() + size_t{last} * dim_,
                  data_.begin() + size_t{last + 1} * dim_,
                  data_.begin() + size_t{s} * dim_);
      }
      slot_[ids_[s]] = s;
    }
    ids_.pop_back();
    if (!overflowed_) data_.resize(size_t{last} * dim_);
  }
}

bool FlatStore::has_vectors() const {
  absl::ReaderMutexLock l(&mu_);
  return !overflowed_;
}

void FlatStore::Contains(const uint64_t* ids, size_t n,
                         std::vector<bool>* out) const {
  absl::ReaderMutexLock l(&mu_);
  out->resize(n);
  for (size_t i = 0; i < n; ++i) (*out)[i] = slot_.contains(ids[i]);
}

size_t FlatStore::size() const {
  absl::ReaderMutexLock l(&mu_);
  return ids_.size();
}

namespace {
// absl::flat_hash_map<uint64_t, uint32_t>: a slot and a control byte a
// bucket.
constexpr size_t kSlotBytes = sizeof(std::pair<uint64_t, uint32_t>) + 1;
}  // namespace

size_t FlatStore::MemoryBytes() const {
  absl::ReaderMutexLock l(&mu_);
  return data_.capacity() * sizeof(float) + ids_.capacity() * sizeof(uint64_t) +
         slot_.capacity() * kSlotBytes;
}

size_t FlatStore::MemoryBytesPerVector() const {
  absl::ReaderMutexLock l(&mu_);
  // The map at its maximum load factor of 7/8.
  return (overflowed_ ? 0 : size_t{dim_} * sizeof(float)) + sizeof(uint64_t) +
         kSlotBytes * 8 / 7;
}

std::vector<Neighbor> FlatStore::Search(
    const float* query, uint32_t k,
    const std::function<bool(uint64_t)>* filter) const {
  ExactScorer scorer(query, dim_, metric_);
  TopK heap(k);
  {
    absl::ReaderMutexLock l(&mu_);
    if (overflowed_) return {};
    for (size_t i = 0; i < ids_.size(); ++i) {
      if (filter && !(*filter)(ids_[i])) continue;
      heap.Push(scorer.Goodness(&data_[i * dim_]), ids_[i]);
    }
  }
  return scorer.Finish(&heap);
}

}  // namespace dbimpl
}  // namespace tqdb
