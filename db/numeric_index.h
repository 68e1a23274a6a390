// The sorted structure of an integer or float payload index: value -> points,
// answering ranges with bitmap unions.
//
// Values are kept in buckets ordered by value (an absl::btree_map keyed by
// each bucket's lower bound), each a bitmap of the points with a value in
// it. A bucket is either
//  - pure: one value, any number of points; or
//  - mixed: values from its key up to the next bucket's, holding up to
//    kMaxEntries (value, point) pairs, with the least and greatest value
//    it ever held (bounds: a removal does not narrow them).
// The pairs themselves are not stored: the point's values are in the
// field's forward values (db/forward_values.h), which the index reads to
// split a bucket and to filter the points of a bucket a range cuts. A
// field of distinct numbers thus costs about 2 bytes a point here (the
// bitmaps) plus its forward values, a field with few distinct values (a
// rank, a count, a year: pure buckets) less.
//
// A range is the union of the bitmaps of the buckets it covers whole
// (roaring's lazy multi-way union) plus the points of the at most two mixed
// buckets it cuts that have a value in it: O(result + kMaxEntries) however
// many distinct values the field has. Uniting bitmaps costs per point
// (their containers are sparse), so a broad range over many points would
// cost about 2 ns a point (1 ms for half a million); past kLayerMinEntries
// pairs the index also keeps a coarse layer: kBins bins of about equal
// shares of the pairs (quantiles of the values, rebuilt as they grow or
// drift) and, per bin boundary, the bitmap of the points with a value
// below it (dense: word-wise operations). A range is then one difference
// of two of those for the bins it covers whole, plus the fine union over
// the at most two bins it cuts (each about 1/kBins of the points), plus
// the points with several values checked one by one: O(n / kBins) at most.
// The layer costs about kBins / 8 bytes a point and kBins / 2 bitmap
// updates per value written.
//
// Thread-compatible: the owner (PayloadIndex) locks around it.
#ifndef TQDB_DB_NUMERIC_INDEX_H_
#define TQDB_DB_NUMERIC_INDEX_H_

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "db/forward_values.h"
#include "roaring/roaring.hh"

namespace tqdb {
namespace dbimpl {

template <typename T>
class NumericIndex {
 public:
  // (value, point) pairs of a mixed bucket before it splits.
  static constexpr uint32_t kMaxEntries = 1024;
  // The coarse layer: bins, and the pairs from which it is kept.
  static constexpr size_t kBins = 16;
  static constexpr uint64_t kLayerMinEntries = uint64_t{1} << 15;

  // `values`: the field's forward values, which outlive the index.
  explicit NumericIndex(const ForwardValues<T>* values) : values_(values) {}
  NumericIndex(const NumericIndex&) = delete;
  NumericIndex& operator=(const NumericIndex&) = delete;

  // Point iid now holds value v (already in the forward values, once).
  void Add(T v, uint32_t iid);
  // Point iid loses every value (still in the forward values; cleared
  // there after).
  void Erase(uint32_t iid);

  // Points with a value in [lo, hi] (none when lo > hi). `multi`: the
  // points with several values (the layer answers for the others).
  Roaring Range(T lo, T hi, const Roaring& multi) const;
  // (value, point) pairs with a value in [lo, hi] (a point with two such
  // values counts twice): exact, O(buckets + kMaxEntries).
  uint64_t CountEntries(T lo, T hi) const;
  // Every (value, point) pair.
  uint64_t entries() const { return entries_; }

  // The (value, point) pairs bucket by bucket in value order, ascending or
  // (descending) from the greatest, starting at the bucket that holds
  // `from` when given (ascending: or the first): f(pairs) gets one
  // bucket's pairs of the points in `among` (all points when null), in no
  // order, and returns false to stop. Every value lies in one bucket, so a
  // bucket's values all come after the previous one's: an ordered scan
  // reads only the buckets of its page, O(page + bucket) instead of
  // O(points).
  template <typename F>
  void WalkBuckets(bool descending, std::optional<T> from, const Roaring* among,
                   F&& f) const;

  size_t buckets() const { return buckets_.size(); }
  size_t MemoryBytes() const;

 private:
  struct Bucket {
    bool pure = false;
    uint32_t entries = 0;    // (value, point) pairs
    T min = T(), max = T();  // mixed: bounds of the values held
    Roaring ids;
  };
  using Map = absl::btree_map<T, Bucket>;

  // The bucket whose range holds v, or end().
  typename Map::iterator Holding(T v);
  typename Map::const_iterator Holding(T v) const;
  // The (value, point) pairs of a mixed bucket, sorted.
  std::vector<std::pair<T, uint32_t>> Pairs(
      typename Map::const_iterator it) const;
  // Appends to *out the (value, point) pairs of the points `ids` (of the
  // bucket at `it`) whose values lie in that bucket, in no order.
  void AppendPairs(typename Map::const_iterator it, const Roaring& ids,
                   std::vector<std::pair<T, uint32_t>>* out) const;
  void AddToBuckets(T v, uint32_t iid);
  void AddToLayer(T v, uint32_t iid);
  // Moves the bucket at `it` to key `key` (a lower bound further down).
  typename Map::iterator Rekey(typename Map::iterator it, T key);
  void Split(typename Map::iterator it);
  bool IsFull(const Bucket& b) const {
    return !b.pure && b.entries >= kMaxEntries;
  }
  // Calls f(bucket, whole) for the buckets holding a value in [lo, hi]
  // (whole: every value of the bucket is in it; else the bucket is cut).
  template <typename F>
  void Visit(T lo, T hi, F&& f) const;
  bool Within(uint32_t iid, T lo, T hi) const {
    return values_->Any(iid, [&](T x) { return x >= lo && x <= hi; });
  }
  // Range() from the buckets alone.
  Roaring FineRange(T lo, T hi) const;
  // Adds to / takes from *out the points with a value in [lo, hi], bucket
  // by bucket (in place: no union built and repaired).
  void AddRange(T lo, T hi, Roaring* out) const;
  void SubtractRange(T lo, T hi, Roaring* out) const;
  // The layer's bin of v: the number of bounds at or below it.
  size_t Bin(T v) const {
    return static_cast<size_t>(
        std::upper_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  }
  // Builds, rebuilds or drops the layer when the pairs grew, shrank or
  // drifted into one bin (at most once per entries_ / kBins writes: O(kBins)
  // amortized per write).
  void MaybeRebuild(size_t bin_written);
  void Rebuild();

  const ForwardValues<T>* const values_;
  Map buckets_;
  uint64_t entries_ = 0;
  // The coarse layer (bounds_ empty: none). Bin j holds the values in
  // [bounds_[j-1], bounds_[j]) (bounds_[-1] = -inf, bounds_[B] = +inf, B =
  // bounds_.size()), bin_entries_[j] pairs; below_[j] (j <= B): the points
  // with a value below bounds_[j] (below_[B]: every point).
  std::vector<T> bounds_;
  std::vector<Roaring> below_;
  std::vector<uint64_t> bin_entries_;
  uint64_t built_entries_ = 0, writes_since_build_ = 0;
};

// The greatest value below x, the least above (x is strictly inside the
// type's range where they are called: no wrap).
template <typename T>
T Before(T x) {
  if constexpr (std::is_integral_v<T>) {
    return x - 1;
  } else {
    return std::nextafter(x, -std::numeric_limits<T>::infinity());
  }
}
template <typename T>
T After(T x) {
  if constexpr (std::is_integral_v<T>) {
    return x + 1;
  } else {
    return std::nextafter(x, std::numeric_limits<T>::infinity());
  }
}

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
void NumericIndex<T>::AppendPairs(
    typename Map::const_iterator it, const Roaring& ids,
    std::vector<std::pair<T, uint32_t>>* out) const {
  const T key = it->first;
  if (it->second.pure) {
    for (uint32_t iid : ids) out->emplace_back(key, iid);
    return;
  }
  const auto next = std::next(it);
  const bool last = next == buckets_.end();
  const T end = last ? T() : next->first;
  for (uint32_t iid : ids) {
    values_->ForEach(iid, [&](T x) {
      if (x >= key && (last || x < end)) out->emplace_back(x, iid);
    });
  }
}

template <typename T>
std::vector<std::pair<T, uint32_t>> NumericIndex<T>::Pairs(
    typename Map::const_iterator it) const {
  std::vector<std::pair<T, uint32_t>> pairs;
  pairs.reserve(it->second.entries);
  AppendPairs(it, it->second.ids, &pairs);
  std::sort(pairs.begin(), pairs.end());
  return pairs;
}

template <typename T>
typename NumericIndex<T>::Map::iterator NumericIndex<T>::Rekey(
    typename Map::iterator it, T key) {
  Bucket b = std::move(it->second);
  buckets_.erase(it);
  return buckets_.emplace(key, std::move(b)).first;
}

template <typename T>
void NumericIndex<T>::Add(T v, uint32_t iid) {
  ++entries_;
  AddToBuckets(v, iid);
  AddToLayer(v, iid);
}

template <typename T>
void NumericIndex<T>::AddToBuckets(T v, uint32_t iid) {
  auto fresh = [&] {
    Bucket b;
    b.entries = 1;
    b.min = b.max = v;
    b.ids.add(iid);
    buckets_.emplace(v, std::move(b));
  };
  auto it = Holding(v);
  if (it == buckets_.end()) {
    // Below every bucket: extend the first one down if it is mixed and has
    // room, else start a new one.
    auto first = buckets_.begin();
    if (first == buckets_.end() || first->second.pure ||
        IsFull(first->second)) {
      return fresh();
    }
    it = Rekey(first, v);
  } else if (it->second.pure) {
    if (it->first == v) {
      ++it->second.entries;
      it->second.ids.add(iid);
      return;
    }
    // Between a pure bucket and the next: extend the next one down if it is
    // mixed and has room (values arriving in decreasing order then fill one
    // bucket instead of making one each), else start a new one.
    auto next = std::next(it);
    if (next == buckets_.end() || next->second.pure || IsFull(next->second)) {
      return fresh();
    }
    it = Rekey(next, v);
  }
  Bucket& b = it->second;
  b.min = b.entries == 0 ? v : std::min(b.min, v);
  b.max = b.entries == 0 ? v : std::max(b.max, v);
  ++b.entries;
  b.ids.add(iid);
  if (b.entries > kMaxEntries) Split(it);
}

template <typename T>
void NumericIndex<T>::AddToLayer(T v, uint32_t iid) {
  if (bounds_.empty()) return MaybeRebuild(0);
  const size_t bin = Bin(v);
  for (size_t j = bin; j < below_.size(); ++j) below_[j].add(iid);
  ++bin_entries_[bin];
  MaybeRebuild(bin);
}

// A mixed bucket over kMaxEntries: a value holding half the pairs or more
// becomes a pure bucket of its own; otherwise the pairs are cut in two at a
// change of value near the middle.
template <typename T>
void NumericIndex<T>::Split(typename Map::iterator it) {
  const std::vector<std::pair<T, uint32_t>> pairs = Pairs(it);
  const T key = it->first;
  buckets_.erase(it);
  const size_t n = pairs.size();
  // The most frequent value (pairs are sorted: runs).
  size_t best_start = 0, best_len = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && pairs[j].first == pairs[i].first) ++j;
    if (j - i > best_len) {
      best_len = j - i;
      best_start = i;
    }
    i = j;
  }
  auto make = [&](size_t lo, size_t hi, T k, bool pure) {
    if (lo >= hi) return;
    Bucket b;
    b.pure = pure;
    b.entries = static_cast<uint32_t>(hi - lo);
    b.min = pairs[lo].first;
    b.max = pairs[hi - 1].first;
    std::vector<uint32_t> ids;
    ids.reserve(hi - lo);
    for (size_t i = lo; i < hi; ++i) ids.push_back(pairs[i].second);
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    b.ids = Roaring(ids.size(), ids.data());
    buckets_.emplace(k, std::move(b));
  };
  if (best_len * 2 >= n) {
    make(0, best_start, key, false);
    make(best_start, best_start + best_len, pairs[best_start].first, true);
    const size_t after = best_start + best_len;
    if (after < n) make(after, n, pairs[after].first, false);
    return;
  }
  size_t cut = n / 2;
  while (cut < n && pairs[cut].first == pairs[cut - 1].first) ++cut;
  if (cut == n) {
    cut = n / 2;
    while (cut > 0 && pairs[cut].first == pairs[cut - 1].first) --cut;
  }
  make(0, cut, key, false);
  make(cut, n, pairs[cut].first, false);
}

template <typename T>
void NumericIndex<T>::Erase(uint32_t iid) {
  if (!bounds_.empty()) {
    size_t least = bounds_.size();
    values_->ForEach(iid, [&](T v) {
      const size_t bin = Bin(v);
      least = std::min(least, bin);
      --bin_entries_[bin];
    });
    for (size_t j = least; j < below_.size(); ++j) below_[j].remove(iid);
  }
  values_->ForEach(iid, [&](T v) {
    auto it = Holding(v);
    if (it == buckets_.end()) return;
    Bucket& b = it->second;
    if (b.pure && it->first != v) return;
    --entries_;
    --b.entries;
    b.ids.remove(iid);  // each of the point's values goes: all its pairs
    if (b.entries == 0) buckets_.erase(it);
  });
  if (!bounds_.empty() && entries_ * 4 < built_entries_) Rebuild();
}

template <typename T>
void NumericIndex<T>::MaybeRebuild(size_t bin_written) {
  ++writes_since_build_;
  if (bounds_.empty()) {
    if (entries_ >= kLayerMinEntries) Rebuild();
    return;
  }
  if (entries_ >= 2 * built_entries_) return Rebuild();
  // A bin holding three times its share (values drifting: timestamps)
  // makes ranges cutting it costlier: rebuilt, but not more often than
  // every entries_ / kBins writes.
  if (bin_entries_[bin_written] * kBins > 3 * entries_ &&
      writes_since_build_ * kBins >= entries_) {
    Rebuild();
  }
}

template <typename T>
void NumericIndex<T>::Rebuild() {
  bounds_.clear();
  below_.clear();
  bin_entries_.clear();
  writes_since_build_ = 0;
  built_entries_ = entries_;
  if (entries_ < kLayerMinEntries / 2) return;
  // Bounds at bucket keys (no bucket straddles one when it is built), about
  // every entries_ / kBins pairs.
  const uint64_t step = std::max<uint64_t>(1, entries_ / kBins);
  std::vector<std::vector<const Roaring*>> bins(1);
  bin_entries_.push_back(0);
  uint64_t seen = 0;
  for (auto it = buckets_.begin(); it != buckets_.end(); ++it) {
    if (it != buckets_.begin() && seen >= step * bins.size() &&
        bins.size() < kBins) {
      bounds_.push_back(it->first);
      bins.emplace_back();
      bin_entries_.push_back(0);
    }
    bins.back().push_back(&it->second.ids);
    bin_entries_.back() += it->second.entries;
    seen += it->second.entries;
  }
  if (bounds_.empty()) return;  // one bucket: no layer
  below_.resize(bins.size());
  for (size_t j = 0; j < bins.size(); ++j) {
    Roaring part = Roaring::fastunion(bins[j].size(), bins[j].data());
    below_[j] = j == 0 ? std::move(part) : below_[j - 1] | part;
  }
}

template <typename T>
template <typename F>
void NumericIndex<T>::Visit(T lo, T hi, F&& f) const {
  if (lo > hi) return;
  auto it = Holding(lo);
  if (it == buckets_.end()) it = buckets_.begin();
  for (; it != buckets_.end() && it->first <= hi; ++it) {
    const Bucket& b = it->second;
    if (b.pure) {
      if (it->first >= lo) f(b, true);
      continue;
    }
    if (b.max < lo || b.min > hi) continue;
    f(b, b.min >= lo && b.max <= hi);
  }
}

template <typename T>
template <typename F>
void NumericIndex<T>::WalkBuckets(bool descending, std::optional<T> from,
                                  const Roaring* among, F&& f) const {
  if (buckets_.empty()) return;
  std::vector<std::pair<T, uint32_t>> pairs;
  auto visit = [&](typename Map::const_iterator it) {
    pairs.clear();
    if (among == nullptr) {
      AppendPairs(it, it->second.ids, &pairs);
    } else {
      AppendPairs(it, it->second.ids & *among, &pairs);
    }
    return f(pairs);
  };
  auto it = from ? Holding(*from) : buckets_.end();
  if (!descending) {
    if (it == buckets_.end()) it = buckets_.begin();
    for (; it != buckets_.end(); ++it) {
      if (!visit(it)) return;
    }
    return;
  }
  if (!from) it = std::prev(buckets_.end());
  if (it == buckets_.end()) return;  // `from` below every value
  for (;; --it) {
    if (!visit(it) || it == buckets_.begin()) return;
  }
}

template <typename T>
Roaring NumericIndex<T>::FineRange(T lo, T hi) const {
  std::vector<const Roaring*> whole;
  std::vector<uint32_t> some;
  Visit(lo, hi, [&](const Bucket& b, bool all) {
    if (all) {
      whole.push_back(&b.ids);
      return;
    }
    for (uint32_t iid : b.ids) {
      if (Within(iid, lo, hi)) some.push_back(iid);
    }
  });
  Roaring out;
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
Roaring NumericIndex<T>::Range(T lo, T hi, const Roaring& multi) const {
  if (lo > hi) return Roaring();
  // Without the layer, or with many points holding several values (each
  // checked): the buckets.
  if (bounds_.empty() || multi.cardinality() * kBins > entries_) {
    return FineRange(lo, hi);
  }
  const size_t a = Bin(lo), b = Bin(hi);
  const size_t last = bounds_.size();
  // Bin j's values lie in [start(j), end(j)].
  auto start = [&](size_t j) {
    return j == 0 ? buckets_.begin()->first : bounds_[j - 1];
  };
  auto end = [&](size_t j) {
    if (j < last) return Before(bounds_[j]);
    const auto& [key, bucket] = *buckets_.rbegin();
    return bucket.pure ? key : bucket.max;
  };
  const T sa = start(a), eb = end(b);
  const bool has_sa = sa < lo;  // lo cuts bin a
  const bool has_eb = eb > hi;  // hi cuts bin b
  // Each bin the range cuts is taken whole (points whose least value is in
  // it, from the layer) less the pairs outside the range, or as its pairs
  // inside (the buckets), whichever unites fewer points.
  std::vector<std::pair<T, T>> minus, plus;
  size_t first = a, past = b + 1;  // bins taken whole: [first, past)
  if (a == b) {
    const uint64_t in = CountEntries(lo, hi);
    if (in * 2 <= bin_entries_[a]) return FineRange(lo, hi);
    if (has_sa) minus.push_back({sa, Before(lo)});
    if (has_eb) minus.push_back({After(hi), eb});
  } else {
    const T ea = end(a), sb = start(b);
    if (has_sa) {
      if (CountEntries(sa, Before(lo)) * 2 <= bin_entries_[a]) {
        minus.push_back({sa, Before(lo)});
      } else {
        plus.push_back({lo, ea});
        first = a + 1;
      }
    }
    if (has_eb) {
      if (CountEntries(After(hi), eb) * 2 <= bin_entries_[b]) {
        minus.push_back({After(hi), eb});
      } else {
        plus.push_back({sb, hi});
        past = b;
      }
    }
  }
  Roaring out;
  if (past > first) {
    out = first == 0 ? below_[past - 1] : below_[past - 1] - below_[first - 1];
  }
  // Bucket by bucket into a dense result (bitset containers: a bit each);
  // a sparse one (arrays: each difference rewrites it) takes one union.
  const bool dense = out.cardinality() * 16 >= entries_;
  for (const auto& [x, y] : minus) {
    if (dense) {
      SubtractRange(x, y, &out);
    } else {
      out -= FineRange(x, y);
    }
  }
  for (const auto& [x, y] : plus) AddRange(x, y, &out);
  // A point with several values may have its least one outside the range
  // and another inside, or be among those taken away for a value outside.
  for (uint32_t iid : multi - out) {
    if (Within(iid, lo, hi)) out.add(iid);
  }
  return out;
}

template <typename T>
void NumericIndex<T>::AddRange(T lo, T hi, Roaring* out) const {
  Visit(lo, hi, [&](const Bucket& b, bool all) {
    if (all) {
      *out |= b.ids;
      return;
    }
    for (uint32_t iid : b.ids) {
      if (Within(iid, lo, hi)) out->add(iid);
    }
  });
}

template <typename T>
void NumericIndex<T>::SubtractRange(T lo, T hi, Roaring* out) const {
  Visit(lo, hi, [&](const Bucket& b, bool all) {
    if (all) {
      *out -= b.ids;
      return;
    }
    for (uint32_t iid : b.ids) {
      if (Within(iid, lo, hi)) out->remove(iid);
    }
  });
}

template <typename T>
uint64_t NumericIndex<T>::CountEntries(T lo, T hi) const {
  uint64_t n = 0;
  Visit(lo, hi, [&](const Bucket& b, bool all) {
    if (all) {
      n += b.entries;
      return;
    }
    // The bucket's values lie in [b.min, b.max], no other bucket's do.
    const T from = std::max(lo, b.min), to = std::min(hi, b.max);
    for (uint32_t iid : b.ids) {
      values_->ForEach(iid, [&](T x) { n += x >= from && x <= to; });
    }
  });
  return n;
}

template <typename T>
size_t NumericIndex<T>::MemoryBytes() const {
  size_t bytes = 0;
  for (const auto& [k, b] : buckets_) {
    bytes += sizeof(T) + sizeof(Bucket) + b.ids.getSizeInBytes(false);
  }
  for (const Roaring& r : below_) bytes += r.getSizeInBytes(false);
  return bytes;
}

}  // namespace dbimpl
}  // namespace tqdb

#endif  // TQDB_DB_NUMERIC_INDEX_H_
