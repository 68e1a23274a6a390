#include "db/sparse_index.h"

#include <algorithm>
#include <cmath>
#include <limits>
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
  const auto it = slot_of_.find(id);
  if (it == slot_of_.end()) return;
  const uint32_t slot = it->second;
  for (uint32_t t : slot_terms_[slot]) --terms_[t].live;
  nonzeros_ -= slot_terms_[slot].size();
  dead_postings_ += slot_terms_[slot].size();
  live_[slot] = 0;
  std::vector<uint32_t>().swap(slot_terms_[slot]);
  slot_of_.erase(it);
}

void SparseIndex::CompactLocked() {
  constexpr uint32_t kGone = std::numeric_limits<uint32_t>::max();
  std::vector<uint32_t> renumbered(slot_id_.size(), kGone);
  uint32_t next = 0;
  for (uint32_t s = 0; s < slot_id_.size(); ++s) {
    if (!live_[s]) continue;
    renumbered[s] = next;
    if (next != s) {
      slot_id_[next] = slot_id_[s];
      slot_terms_[next] = std::move(slot_terms_[s]);
      slot_of_[slot_id_[next]] = next;
    }
    ++next;
  }
  slot_id_.resize(next);
  slot_terms_.resize(next);
  live_.assign(next, 1);
  for (auto it = terms_.begin(); it != terms_.end();) {
    std::vector<Posting>& ps = it->second.postings;
    size_t kept = 0;
    for (const Posting& p : ps) {
      if (renumbered[p.slot] != kGone) {
        ps[kept++] = {renumbered[p.slot], p.weight};
      }
    }
    ps.resize(kept);
    if (kept == 0) {
      terms_.erase(it++);
    } else {
      ps.shrink_to_fit();
      ++it;
    }
  }
  dead_postings_ = 0;
}

void SparseIndex::Set(const std::vector<uint64_t>& ids,
                      const std::vector<const SparseVector*>& vectors) {
  absl::MutexLock l(&mu_);
  for (size_t i = 0; i < ids.size(); ++i) {
    RemoveLocked(ids[i]);
    const SparseVector& v = *vectors[i];
    if (v.indices.empty()) continue;
    const uint32_t slot = static_cast<uint32_t>(slot_id_.size());
    slot_id_.push_back(ids[i]);
    live_.push_back(1);
    slot_terms_.push_back(v.indices);
    slot_of_[ids[i]] = slot;
    for (size_t j = 0; j < v.indices.size(); ++j) {
      Term& t = terms_[v.indices[j]];
      t.postings.push_back({slot, v.values[j]});
      ++t.live;
    }
    nonzeros_ += v.indices.size();
  }
  // Dead postings cost searches a skip each and memory: dropped once they
  // outnumber the live ones (or the slots near 2^32).
  if ((dead_postings_ > nonzeros_ && dead_postings_ > 4096) ||
      slot_id_.size() > (uint32_t{1} << 31)) {
    CompactLocked();
  }
}

void SparseIndex::Remove(const std::vector<uint64_t>& ids) {
  absl::MutexLock l(&mu_);
  for (uint64_t id : ids) RemoveLocked(id);
  if (dead_postings_ > nonzeros_ && dead_postings_ > 4096) CompactLocked();
}

bool SparseIndex::Contains(uint64_t id) const {
  absl::ReaderMutexLock l(&mu_);
  return slot_of_.contains(id);
}

namespace {

// A search's accumulators, one set a thread, reused across searches: a
// score a slot, and the query that last touched it (a slot whose stamp is
// not the current query's holds nothing yet).
struct Accumulators {
  std::vector<float> score;
  std::vector<uint32_t> stamp;
  std::vector<uint32_t> touched;
  uint32_t query = 0;

  void Begin(size_t slots) {
    if (score.size() < slots) {
      score.resize(slots);
      stamp.resize(slots, 0);
    }
    touched.clear();
    if (++query == 0) {  // wrapped: every stamp is stale again
      std::fill(stamp.begin(), stamp.end(), 0);
      query = 1;
    }
  }
};

}  // namespace

absl::Status SparseIndex::Search(const SparseVector& query, size_t k,
                                 const std::function<bool(uint64_t)>* allowed,
                                 const std::function<bool()>* cancelled,
                                 std::vector<Neighbor>* out,
                                 uint64_t* scored) const {
  out->clear();
  thread_local Accumulators acc;
  std::vector<Neighbor> all;
  {
    absl::ReaderMutexLock l(&mu_);
    acc.Begin(slot_id_.size());
    float* score = acc.score.data();
    uint32_t* stamp = acc.stamp.data();
    const uint8_t* live = live_.data();
    const uint32_t now = acc.query;
    for (size_t j = 0; j < query.indices.size(); ++j) {
      if (cancelled != nullptr && *cancelled && j > 0 && (*cancelled)()) {
        return absl::CancelledError(
            "search cancelled (deadline or client gone)");
      }
      const auto t = terms_.find(query.indices[j]);
      if (t == terms_.end()) continue;
      const float q = query.values[j];
      for (const Posting& p : t->second.postings) {
        if (!live[p.slot]) continue;
        if (stamp[p.slot] != now) {
          stamp[p.slot] = now;
          score[p.slot] = q * p.weight;
          acc.touched.push_back(p.slot);
        } else {
          score[p.slot] += q * p.weight;
        }
      }
    }
    all.reserve(acc.touched.size());
    for (uint32_t s : acc.touched) all.push_back({slot_id_[s], score[s]});
  }
  if (scored != nullptr) *scored = all.size();
  if (allowed != nullptr && *allowed) {
    all.erase(
        std::remove_if(all.begin(), all.end(),
                       [&](const Neighbor& n) { return !(*allowed)(n.id); }),
        all.end());
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
  out.points = slot_of_.size();
  out.holding.reserve(terms.size());
  for (uint32_t t : terms) {
    const auto it = terms_.find(t);
    out.holding.push_back(it == terms_.end() ? 0 : it->second.live);
  }
  return out;
}

uint64_t SparseIndex::points() const {
  absl::ReaderMutexLock l(&mu_);
  return slot_of_.size();
}

size_t SparseIndex::memory_bytes() const {
  absl::ReaderMutexLock l(&mu_);
  // Postings (live and dead) and the points' term lists; a slot's id,
  // liveness and list header; the id map's and the term table's slots at
  // their maximum load (7/8).
  const size_t per_slot = sizeof(uint64_t) + 1 + sizeof(std::vector<uint32_t>);
  const size_t per_point = (sizeof(uint64_t) + sizeof(uint32_t) + 1) * 8 / 7;
  const size_t per_term = (sizeof(uint32_t) + sizeof(Term) + 1) * 8 / 7;
  static_assert(sizeof(Posting) == 8);
  return (nonzeros_ + dead_postings_) * sizeof(Posting) +
         nonzeros_ * sizeof(uint32_t) + slot_id_.size() * per_slot +
         slot_of_.size() * per_point + terms_.size() * per_term;
}

}  // namespace tqdb
