#include "db/sparse_index.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "quant/coding.h"

namespace tqdb {

absl::Status CheckSparseVector(absl::string_view what, SparseVector* v) {
  const size_t n = v->indices.size();
  if (v->values.size() != n) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " has ", n, " indices and ", v->values.size(),
                     " values (one value an index)"));
  }
  if (n > kMaxSparseNonZeros) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " has ", n, " non-zero coordinates, at most ",
                     kMaxSparseNonZeros));
  }
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(v->values[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " holds a non-finite value at index ",
                       v->indices[i], " (position ", i, ")"));
    }
  }
  if (!std::is_sorted(v->indices.begin(), v->indices.end())) {
    std::vector<uint32_t> order(n);
    std::iota(order.begin(), order.end(), 0u);
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
      return v->indices[a] < v->indices[b];
    });
    SparseVector sorted;
    sorted.indices.reserve(n);
    sorted.values.reserve(n);
    for (uint32_t i : order) {
      sorted.indices.push_back(v->indices[i]);
      sorted.values.push_back(v->values[i]);
    }
    *v = std::move(sorted);
  }
  for (size_t i = 1; i < n; ++i) {
    if (v->indices[i] == v->indices[i - 1]) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " holds index ", v->indices[i], " twice (indices are unique)"));
    }
  }
  return absl::OkStatus();
}

std::string EncodeSparseVector(const SparseVector& v) {
  std::string out;
  out.reserve(4 + 8 * v.indices.size());
  PutFixed32(&out, static_cast<uint32_t>(v.indices.size()));
  for (uint32_t i : v.indices) PutFixed32(&out, i);
  for (float x : v.values) PutFloat(&out, x);
  return out;
}

bool DecodeSparseVector(absl::string_view in, SparseVector* v) {
  Decoder d(in);
  uint32_t n = 0;
  if (!d.GetFixed32(&n) || n > kMaxSparseNonZeros ||
      in.size() != 4 + size_t{n} * 8) {
    return false;
  }
  v->indices.resize(n);
  v->values.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    if (!d.GetFixed32(&v->indices[i])) return false;
    if (i > 0 && v->indices[i] <= v->indices[i - 1]) return false;
  }
  for (uint32_t i = 0; i < n; ++i) {
    if (!d.GetFloat(&v->values[i]) || !std::isfinite(v->values[i])) {
      return false;
    }
  }
  return true;
}

void SparseIndex::RemoveLocked(uint64_t id) {
  auto it = terms_.find(id);
  if (it == terms_.end()) return;
  for (uint32_t t : it->second) {
    auto p = postings_.find(t);
    if (p == postings_.end()) continue;
    p->second.erase(id);
    if (p->second.empty()) postings_.erase(p);
  }
  nonzeros_ -= it->second.size();
  terms_.erase(it);
}

void SparseIndex::Set(const std::vector<uint64_t>& ids,
                      const std::vector<const SparseVector*>& vectors) {
  absl::MutexLock l(&mu_);
  for (size_t i = 0; i < ids.size(); ++i) {
    RemoveLocked(ids[i]);
    const SparseVector& v = *vectors[i];
    if (v.indices.empty()) continue;
    for (size_t j = 0; j < v.indices.size(); ++j) {
      postings_[v.indices[j]][ids[i]] = v.values[j];
    }
    terms_[ids[i]] = v.indices;
    nonzeros_ += v.indices.size();
  }
}

void SparseIndex::Remove(const std::vector<uint64_t>& ids) {
  absl::MutexLock l(&mu_);
  for (uint64_t id : ids) RemoveLocked(id);
}

bool SparseIndex::Contains(uint64_t id) const {
  absl::ReaderMutexLock l(&mu_);
  return terms_.contains(id);
}

absl::Status SparseIndex::Search(const SparseVector& query, size_t k,
                                 const std::function<bool(uint64_t)>* allowed,
                                 const std::function<bool()>* cancelled,
                                 std::vector<Neighbor>* out,
                                 uint64_t* scored) const {
  out->clear();
  absl::flat_hash_map<uint64_t, float> acc;
  {
    absl::ReaderMutexLock l(&mu_);
    for (size_t j = 0; j < query.indices.size(); ++j) {
      if (cancelled != nullptr && *cancelled && j > 0 && (*cancelled)()) {
        return absl::CancelledError(
            "search cancelled (deadline or client gone)");
      }
      const auto p = postings_.find(query.indices[j]);
      if (p == postings_.end()) continue;
      const float q = query.values[j];
      for (const auto& [id, w] : p->second) acc[id] += q * w;
    }
  }
  if (scored != nullptr) *scored = acc.size();
  out->reserve(std::min(acc.size(), k));
  std::vector<Neighbor> all;
  all.reserve(acc.size());
  for (const auto& [id, s] : acc) {
    if (allowed != nullptr && *allowed && !(*allowed)(id)) continue;
    all.push_back({id, s});
  }
  const auto better = [](const Neighbor& a, const Neighbor& b) {
    return a.score != b.score ? a.score > b.score : a.id < b.id;
  };
  const size_t m = std::min(all.size(), k);
  std::partial_sort(all.begin(), all.begin() + m, all.end(), better);
  out->assign(all.begin(), all.begin() + m);
  return absl::OkStatus();
}

void ApplyIdf(const SparseTermStats& stats, SparseVector* query) {
  const double n_all = static_cast<double>(stats.points);
  for (size_t j = 0; j < query->values.size() && j < stats.holding.size();
       ++j) {
    const double n = static_cast<double>(stats.holding[j]);
    const double idf = std::log(1.0 + (n_all - n + 0.5) / (n + 0.5));
    query->values[j] *= static_cast<float>(idf);
  }
}

SparseTermStats SparseIndex::Stats(const std::vector<uint32_t>& terms) const {
  absl::ReaderMutexLock l(&mu_);
  SparseTermStats out;
  out.points = terms_.size();
  out.holding.reserve(terms.size());
  for (uint32_t t : terms) {
    const auto p = postings_.find(t);
    out.holding.push_back(p == postings_.end() ? 0 : p->second.size());
  }
  return out;
}

uint64_t SparseIndex::points() const {
  absl::ReaderMutexLock l(&mu_);
  return terms_.size();
}

size_t SparseIndex::memory_bytes() const {
  absl::ReaderMutexLock l(&mu_);
  // A posting's slot (id, weight) and control byte at the tables' maximum
  // load (7/8), the point's term list, and each table's slots.
  const size_t posting = (sizeof(uint64_t) + sizeof(float) + 1) * 8 / 7;
  const size_t point =
      (sizeof(uint64_t) + sizeof(std::vector<uint32_t>) + 1) * 8 / 7;
  const size_t term =
      (sizeof(uint32_t) + sizeof(absl::flat_hash_map<uint64_t, float>) + 1) *
      8 / 7;
  static_assert(posting + sizeof(uint32_t) == kBytesPerNonZero);
  return nonzeros_ * kBytesPerNonZero + terms_.size() * point +
         postings_.size() * term;
}

}  // namespace tqdb
