// Selection and sorting over float keys without data-dependent branches,
// for the IVF coarse step (index/ivf_coarse.cc): its cut, the nprobe-th
// smallest upper bound of the centroid distances, and the order of the
// nearest lists.
#ifndef TQDB_INDEX_RADIX_SELECT_H_
#define TQDB_INDEX_RADIX_SELECT_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace tqdb {

// The floats' order as unsigned integers (finite values; -0 just below
// +0, which compare equal as floats, so a cut at either selects the same).
inline uint32_t OrderKey(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof(u));
  return (u & 0x80000000u) != 0 ? ~u : u | 0x80000000u;
}

inline float FromOrderKey(uint32_t key) {
  const uint32_t u = (key & 0x80000000u) != 0 ? key & 0x7FFFFFFFu : ~key;
  float x;
  std::memcpy(&x, &u, sizeof(x));
  return x;
}

// The key of rank r (0 = smallest) among keys[0, n): a radix select, a
// digit at a time, most significant first, keeping the keys in the bucket
// that holds rank r (in place: keys[] is reordered and cut). Unlike
// nth_element its loops do not branch on the data (nth_element mispredicted
// about every other comparison: half of the coarse step's own time at 565
// lists). It starts at the highest bit in which two keys differ (distances
// within a factor of two share the top byte, sign and exponent, whose pass
// only counted them) and stops once one key is left. REQUIRES: r < n.
inline uint32_t RankKey(uint32_t* keys, size_t n, uint32_t r) {
  uint32_t differ = 0;
  for (size_t i = 0; i < n; ++i) differ |= keys[i] ^ keys[0];
  // Bits above `hi` are the same in every key still kept.
  int hi = differ == 0 ? -1 : 31 - __builtin_clz(differ);
  while (hi >= 0 && n > 1) {
    // Bytes while many keys are left, then nibbles: a pass's fixed cost
    // (clearing, merging and searching 256 counts) outweighed counting
    // the hundred-odd keys of the coarse step's sample and cut.
    const int digit_bits = n > 256 ? 8 : 4;
    const int lo = std::max(hi - (digit_bits - 1), 0);
    const uint32_t mask = (2u << (hi - lo)) - 1;
    // Four histograms, key i counted in the (i % 4)-th: keys of one bucket
    // in a row made each count wait for the one before (through memory).
    uint32_t counts[4][256];
    for (auto& c : counts) std::fill(c, c + mask + 1, 0u);
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
      for (size_t j = 0; j < 4; ++j) ++counts[j][(keys[i + j] >> lo) & mask];
    }
    for (; i < n; ++i) ++counts[0][(keys[i] >> lo) & mask];
    uint32_t* count = counts[0];
    for (uint32_t b = 0; b <= mask; ++b) {
      count[b] += counts[1][b] + counts[2][b] + counts[3][b];
    }
    uint32_t bucket = 0;
    while (r >= count[bucket]) r -= count[bucket++];
    if (count[bucket] != n) {
      size_t kept = 0;
      for (i = 0; i < n; ++i) {
        keys[kept] = keys[i];
        kept += ((keys[i] >> lo) & mask) == bucket;
      }
      n = kept;
    }
    hi = lo - 1;
  }
  return keys[0];
}

// The value of rank r (0 = smallest) of v, by RankKey. For a small rank of
// many values (the coarse step's nprobe-th of nlist bounds) it first
// narrows the keys: the rank that a stride-8 sample puts a few deviations
// above r (RankKey of the sample) is a pivot at or above the answer, and
// only the keys up to it, typically 3 r, are selected among (a compaction
// without branches; each radix pass costs a pass over the keys it keeps).
// If fewer than r + 1 keys pass, the whole set is. REQUIRES: r < v.size().
// scratch: any vector, reused.
inline float RankValue(const std::vector<float>& v, uint32_t r,
                       std::vector<uint32_t>* scratch) {
  constexpr size_t kStride = 8, kSampledFrom = 512;
  const size_t n = v.size();
  std::vector<uint32_t>& keys = *scratch;
  keys.resize(n + n / kStride);
  for (size_t i = 0; i < n; ++i) keys[i] = OrderKey(v[i]);
  if (n >= kSampledFrom && r < n / (2 * kStride)) {
    uint32_t* sample = keys.data() + n;
    const size_t ns = n / kStride;
    for (size_t j = 0; j < ns; ++j) sample[j] = keys[j * kStride];
    // The sample's ranks below the answer: (r + 1) / kStride expected,
    // binomial; the pivot's rank adds 3 deviations and 2.
    const double expected = double(r + 1) / kStride;
    const size_t at = std::min<size_t>(
        ns - 1, static_cast<size_t>(expected + 3.0 * std::sqrt(expected)) + 2);
    const uint32_t pivot = RankKey(sample, ns, static_cast<uint32_t>(at));
    size_t kept = 0;
    for (size_t i = 0; i < n; ++i) {
      keys[kept] = keys[i];
      kept += keys[i] <= pivot;
    }
    if (kept > r) return FromOrderKey(RankKey(keys.data(), kept, r));
    for (size_t i = 0; i < n; ++i) keys[i] = OrderKey(v[i]);
  }
  return FromOrderKey(RankKey(keys.data(), n, r));
}

// Sorts a[0, n) by the high 32 bits of each element, stably (elements
// with equal high halves keep their order): an LSD radix sort, a byte a
// pass, skipping the bytes in which all agree. Where the low halves ascend
// in input order (the coarse step's list numbers), that is the order of
// the whole values. Its loops do not branch on the data: std::sort and
// nth_element of the coarse step's 87 nearest (GloVe-100, 1,265 lists,
// nprobe 72) took 2.3 us, a twentieth of the query. scratch: any vector,
// reused.
inline void SortByHighHalf(uint64_t* a, size_t n,
                           std::vector<uint64_t>* scratch) {
  if (n < 2) return;
  const uint32_t first = static_cast<uint32_t>(a[0] >> 32);
  uint32_t differ = 0;
  for (size_t i = 0; i < n; ++i) {
    differ |= static_cast<uint32_t>(a[i] >> 32) ^ first;
  }
  scratch->resize(n);
  uint64_t* src = a;
  uint64_t* dst = scratch->data();
  for (int byte = 0; byte < 4; ++byte) {
    if (((differ >> (8 * byte)) & 0xff) == 0) continue;
    const int shift = 32 + 8 * byte;
    uint32_t start[256] = {0};
    for (size_t i = 0; i < n; ++i) ++start[(src[i] >> shift) & 0xff];
    uint32_t sum = 0;
    for (uint32_t& c : start) {
      const uint32_t count = c;
      c = sum;
      sum += count;
    }
    for (size_t i = 0; i < n; ++i)
      dst[start[(src[i] >> shift) & 0xff]++] = src[i];
    std::swap(src, dst);
  }
  if (src != a) std::memcpy(a, src, n * sizeof(uint64_t));
}

}  // namespace tqdb

#endif  // TQDB_INDEX_RADIX_SELECT_H_
