// The sorted structure of an integer or float payload index: value -> points,
// answering ranges with one bitmap union.
//
// Values are kept in buckets ordered by value (an absl::btree_map keyed by
// each bucket's lower bound). A bucket is either
//  - pure: one value, any number of points, kept as a bitmap only; or
//  - mixed: up to kMaxEntries (value, internal id) entries, sorted, plus
//    the bitmap of their points.
// A range is the union of the bitmaps of the buckets it covers whole
// (roaring's lazy multi-way union) plus the matching entries of the at
// most two mixed buckets it cuts: O(result) however many distinct values
// the field has. A field with few distinct values (a rank, a count, a
// year) becomes pure buckets, about two bytes a point; a field of distinct
// floats costs about 20 (entries, bitmaps).
//
// Thread-compatible: the owner (PayloadIndex) locks around it.
#ifndef TQDB_DB_NUMERIC_INDEX_H_
#define TQDB_DB_NUMERIC_INDEX_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "roaring/roaring.hh"

namespace tqdb {
namespace dbimpl {

template <typename T>
class NumericIndex {
 public:
  // Entries of a mixed bucket before it splits.
  static constexpr size_t kMaxEntries = 1024;

  // Points with value v (a point with several values adds each once).
  void Add(T v, uint32_t iid);
  void Remove(T v, uint32_t iid);

  // Points with a value in [lo, hi] (none when lo > hi).
  Roaring Range(T lo, T hi) const;
  // Entries with a value in [lo, hi] (a point with two such values counts
  // twice): a cheap upper bound of Range(lo, hi).cardinality().
  uint64_t CountEntries(T lo, T hi) const;

  size_t buckets() const { return buckets_.size(); }
  size_t MemoryBytes() const;

 private:
  struct Bucket {
    bool pure = false;
    std::vector<std::pair<T, uint32_t>> entries;  // mixed, sorted
    Roaring ids;
  };
  using Map = absl::btree_map<T, Bucket>;

  // The bucket whose range holds v, or end().
  typename Map::iterator Holding(T v);
  typename Map::const_iterator Holding(T v) const;
  static void RebuildIds(Bucket* b);
  // Moves the bucket at `it` to key `key` (a lower bound further down).
  typename Map::iterator Rekey(typename Map::iterator it, T key);
  void Split(typename Map::iterator it);
  bool IsFull(const Bucket& b) const {
    return !b.pure && b.entries.size() >= kMaxEntries;
  }
  static void AddEntry(Bucket* b, T v, uint32_t iid);

  Map buckets_;
};

// ---------------------------------------------------------------------------

template <typename T>
typename NumericIndex<T>::Map::iterator NumericIndex<T>::Holding(T v) {
  auto it = buckets_.upper_bound(v);
  if (it == buckets_.begin()) return buckets_.end();
  return std::prev(it);
}

template <typename T>
typename NumericIndex<T>::Map::const_iterator NumericIndex<T>::Holding(
    T v) const {
  auto it = buckets_.upper_bound(v);
  if (it == buckets_.begin()) return buckets_.end();
  return std::prev(it);
}

template <typename T>
void NumericIndex<T>::RebuildIds(Bucket* b) {
  std::vector<uint32_t> ids;
  ids.reserve(b->entries.size());
  for (const auto& e : b->entries) ids.push_back(e.second);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  b->ids = Roaring(ids.size(), ids.data());
}

template <typename T>
typename NumericIndex<T>::Map::iterator NumericIndex<T>::Rekey(
    typename Map::iterator it, T key) {
  Bucket b = std::move(it->second);
  buckets_.erase(it);
  return buckets_.emplace(key, std::move(b)).first;
}

template <typename T>
void NumericIndex<T>::AddEntry(Bucket* b, T v, uint32_t iid) {
  const std::pair<T, uint32_t> e(v, iid);
  auto pos = std::lower_bound(b->entries.begin(), b->entries.end(), e);
  if (pos != b->entries.end() && *pos == e) return;
  b->entries.insert(pos, e);
  b->ids.add(iid);
}

template <typename T>
void NumericIndex<T>::Add(T v, uint32_t iid) {
  auto it = Holding(v);
  if (it == buckets_.end()) {
    // Below every bucket: extend the first one down if it is mixed and has
    // room, else start a new one.
    auto first = buckets_.begin();
    if (first != buckets_.end() && !first->second.pure &&
        !IsFull(first->second)) {
      it = Rekey(first, v);
    } else {
      Bucket b;
      b.entries.push_back({v, iid});
      b.ids.add(iid);
      buckets_.emplace(v, std::move(b));
      return;
    }
  } else if (it->second.pure) {
    if (it->first == v) {
      it->second.ids.add(iid);
      return;
    }
    // Between a pure bucket and the next: extend the next one down if it is
    // mixed and has room (values arriving in decreasing order then fill one
    // bucket instead of making one each), else start a new one.
    auto next = std::next(it);
    if (next != buckets_.end() && !next->second.pure && !IsFull(next->second)) {
      it = Rekey(next, v);
    } else {
      Bucket b;
      b.entries.push_back({v, iid});
      b.ids.add(iid);
      buckets_.emplace(v, std::move(b));
      return;
    }
  }
  AddEntry(&it->second, v, iid);
  if (it->second.entries.size() > kMaxEntries) Split(it);
}

// A mixed bucket over kMaxEntries: a value holding half the entries or more
// becomes a pure bucket of its own; otherwise the entries are cut in two at
// a change of value near the middle.
template <typename T>
void NumericIndex<T>::Split(typename Map::iterator it) {
  std::vector<std::pair<T, uint32_t>> entries = std::move(it->second.entries);
  const T key = it->first;
  buckets_.erase(it);
  const size_t n = entries.size();
  // The most frequent value (entries are sorted: runs).
  size_t best_start = 0, best_len = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && entries[j].first == entries[i].first) ++j;
    if (j - i > best_len) {
      best_len = j - i;
      best_start = i;
    }
    i = j;
  }
  auto mixed = [&](size_t lo, size_t hi, T k) {
    if (lo >= hi) return;
    Bucket b;
    b.entries.assign(entries.begin() + lo, entries.begin() + hi);
    RebuildIds(&b);
    buckets_.emplace(k, std::move(b));
  };
  if (best_len * 2 >= n) {
    mixed(0, best_start, key);
    Bucket pure;
    pure.pure = true;
    std::vector<uint32_t> ids;
    for (size_t i = best_start; i < best_start + best_len; ++i) {
      ids.push_back(entries[i].second);
    }
    std::sort(ids.begin(), ids.end());
    pure.ids = Roaring(ids.size(), ids.data());
    buckets_.emplace(entries[best_start].first, std::move(pure));
    const size_t after = best_start + best_len;
    if (after < n) mixed(after, n, entries[after].first);
    return;
  }
  size_t cut = n / 2;
  while (cut < n && entries[cut].first == entries[cut - 1].first) ++cut;
  if (cut == n) {
    cut = n / 2;
    while (cut > 0 && entries[cut].first == entries[cut - 1].first) --cut;
  }
  mixed(0, cut, key);
  mixed(cut, n, entries[cut].first);
}

template <typename T>
void NumericIndex<T>::Remove(T v, uint32_t iid) {
  auto it = Holding(v);
  if (it == buckets_.end()) return;
  Bucket& b = it->second;
  if (b.pure) {
    if (it->first != v) return;
    b.ids.remove(iid);
  } else {
    const std::pair<T, uint32_t> e(v, iid);
    auto pos = std::lower_bound(b.entries.begin(), b.entries.end(), e);
    if (pos == b.entries.end() || *pos != e) return;
    b.entries.erase(pos);
    bool still = false;
    for (const auto& x : b.entries) {
      if (x.second == iid) {
        still = true;
        break;
      }
    }
    if (!still) b.ids.remove(iid);
  }
  if (b.ids.isEmpty()) buckets_.erase(it);
}

template <typename T>
Roaring NumericIndex<T>::Range(T lo, T hi) const {
  Roaring out;
  if (lo > hi) return out;
  auto it = Holding(lo);
  if (it == buckets_.end()) it = buckets_.begin();
  std::vector<const Roaring*> whole;
  std::vector<uint32_t> some;
  for (; it != buckets_.end() && it->first <= hi; ++it) {
    const Bucket& b = it->second;
    if (b.pure) {
      if (it->first >= lo) whole.push_back(&b.ids);
      continue;
    }
    if (b.entries.front().first >= lo && b.entries.back().first <= hi) {
      whole.push_back(&b.ids);
      continue;
    }
    auto from = std::lower_bound(
        b.entries.begin(), b.entries.end(), lo,
        [](const std::pair<T, uint32_t>& e, T v) { return e.first < v; });
    for (; from != b.entries.end() && from->first <= hi; ++from) {
      some.push_back(from->second);
    }
  }
  if (whole.size() == 1) {
    out = *whole[0];
  } else if (!whole.empty()) {
    out = Roaring::fastunion(whole.size(), whole.data());
  }
  if (!some.empty()) {
    std::sort(some.begin(), some.end());
    out.addMany(some.size(), some.data());
  }
  return out;
}

template <typename T>
uint64_t NumericIndex<T>::CountEntries(T lo, T hi) const {
  if (lo > hi) return 0;
  auto it = Holding(lo);
  if (it == buckets_.end()) it = buckets_.begin();
  uint64_t n = 0;
  for (; it != buckets_.end() && it->first <= hi; ++it) {
    const Bucket& b = it->second;
    if (b.pure) {
      if (it->first >= lo) n += b.ids.cardinality();
      continue;
    }
    for (const auto& e : b.entries) n += e.first >= lo && e.first <= hi;
  }
  return n;
}

template <typename T>
size_t NumericIndex<T>::MemoryBytes() const {
  size_t bytes = 0;
  for (const auto& [k, b] : buckets_) {
    bytes += sizeof(T) + sizeof(Bucket) + b.ids.getSizeInBytes(false) +
             b.entries.capacity() * sizeof(std::pair<T, uint32_t>);
  }
  return bytes;
}

}  // namespace dbimpl
}  // namespace tqdb

#endif  // TQDB_DB_NUMERIC_INDEX_H_
