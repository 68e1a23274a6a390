// The points a filtered search may return: a dense bitset over internal ids
// (the dense uint32 ids IvfIndex::AddEncoded takes beside the 64-bit point
// ids; db/ assigns them, db/id_map.h). The database turns a filter into one
// (db/payload_index.h) and hands it down in SearchParams::allowed; the
// index tests a slot with one bit lookup, and turns the set into per-block
// masks of 32 slots for the scan kernel (index/scanner.h).
//
// Dense, not compressed: a search tests every probed slot, so membership
// must cost one load; n / 8 bytes (125 KB for a million points) are written
// once per query and stay in cache.
//
// Thread-safety: const methods may run concurrently; building is not
// thread-safe.
#ifndef TQDB_INDEX_ALLOWED_SET_H_
#define TQDB_INDEX_ALLOWED_SET_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace tqdb {

class AllowedSet {
 public:
  AllowedSet() = default;
  // An empty set over internal ids [0, universe).
  explicit AllowedSet(uint32_t universe)
      : words_((size_t{universe} + 63) / 64, 0), universe_(universe) {}

  // REQUIRES: iid < universe().
  void Add(uint32_t iid) {
    uint64_t& w = words_[iid >> 6];
    const uint64_t bit = uint64_t{1} << (iid & 63);
    count_ += (w & bit) == 0;
    w |= bit;
  }
  // n ids, each < universe().
  void AddMany(const uint32_t* iids, size_t n) {
    for (size_t i = 0; i < n; ++i) Add(iids[i]);
  }
  // n ascending ids, none in the set yet, each < universe(): a word is
  // assembled in a register and stored once.
  void AddAscending(const uint32_t* iids, size_t n) {
    size_t i = 0;
    while (i < n) {
      const size_t from = i;
      const uint32_t w = iids[i] >> 6;
      uint64_t bits = 0;
      for (; i < n && (iids[i] >> 6) == w; ++i) {
        bits |= uint64_t{1} << (iids[i] & 63);
      }
      words_[w] |= bits;
      count_ += i - from;
    }
  }

  // Bulk forms of Add for a set filled from a bitmap's containers
  // (db/allowed_from_bitmap.h), each over ids none of which is in the set
  // yet and all below universe(). n words from word `first` (bit b of
  // w[i] is id 64 * (first + i) + b), `count` bits set in them:
  void AddWords(size_t first, const uint64_t* w, size_t n, uint64_t count) {
    for (size_t i = 0; i < n; ++i) words_[first + i] |= w[i];
    count_ += count;
  }
  // The ids lo..hi (both included, lo <= hi).
  void AddRange(uint32_t lo, uint32_t hi) {
    const size_t wl = lo >> 6, wh = hi >> 6;
    const uint64_t from = ~uint64_t{0} << (lo & 63);
    const uint64_t to = ~uint64_t{0} >> (63 - (hi & 63));
    if (wl == wh) {
      words_[wl] |= from & to;
    } else {
      words_[wl] |= from;
      for (size_t w = wl + 1; w < wh; ++w) words_[w] = ~uint64_t{0};
      words_[wh] |= to;
    }
    count_ += uint64_t{hi} - lo + 1;
  }

  bool Contains(uint32_t iid) const {
    return iid < universe_ && ((words_[iid >> 6] >> (iid & 63)) & 1) != 0;
  }
  // Contains as 0 or 1 without a branch on the data (a scan tests every
  // slot of a list, and at selectivities near 50% the branch mispredicts
  // every other slot). REQUIRES: !empty().
  uint32_t Bit(uint32_t iid) const {
    const size_t w = std::min<size_t>(iid >> 6, words_.size() - 1);
    return static_cast<uint32_t>((words_[w] >> (iid & 63)) & 1) &
           static_cast<uint32_t>(iid < universe_);
  }
  // Members (exact).
  uint64_t count() const { return count_; }
  uint32_t universe() const { return universe_; }
  bool empty() const { return count_ == 0; }

  // Calls f(iid) for every member, ascending.
  template <typename F>
  void ForEach(F f) const {
    ForEachWhile([&](uint32_t iid) {
      f(iid);
      return true;
    });
  }
  // Calls f(iid) for the members, ascending, until it returns false;
  // returns whether every member was visited.
  template <typename F>
  bool ForEachWhile(F f) const {
    for (size_t w = 0; w < words_.size(); ++w) {
      uint64_t bits = words_[w];
      while (bits) {
        if (!f(static_cast<uint32_t>(w * 64 + __builtin_ctzll(bits)))) {
          return false;
        }
        bits &= bits - 1;
      }
    }
    return true;
  }

 private:
  std::vector<uint64_t> words_;
  uint32_t universe_ = 0;
  uint64_t count_ = 0;
};

}  // namespace tqdb

#endif  // TQDB_INDEX_ALLOWED_SET_H_
