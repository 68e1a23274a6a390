// Per-target body of index/scan_kernels.h (included once per target by
// index/scan_kernels.cc and by tests/scan_kernels_test.cc).

#if defined(TQDB_INDEX_SCAN_KERNELS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TQDB_INDEX_SCAN_KERNELS_INL_H_
#undef TQDB_INDEX_SCAN_KERNELS_INL_H_
#else
#define TQDB_INDEX_SCAN_KERNELS_INL_H_
#endif

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "hwy/highway.h"
#include "index/scan_kernels.h"

HWY_BEFORE_NAMESPACE();
namespace tqdb {
namespace scan {
namespace HWY_NAMESPACE {

namespace hn = hwy::HWY_NAMESPACE;

HWY_INLINE void AccumulateListImpl(const uint8_t* HWY_RESTRICT codes,
                                   size_t nblocks, size_t npairs,
                                   const uint8_t* HWY_RESTRICT lut_lo,
                                   const uint8_t* HWY_RESTRICT lut_hi,
                                   uint32_t* HWY_RESTRICT out,
                                   const uint32_t* block_masks) {
  const size_t block_bytes = npairs * 32;
#if HWY_TARGET == HWY_SCALAR
  (void)block_bytes;
  scalar::AccumulateList(codes, nblocks, npairs, lut_lo, lut_hi, out,
                         block_masks);
#else
  const hn::ScalableTag<uint8_t> d8;
  const hn::Repartition<uint16_t, decltype(d8)> d16;
  constexpr size_t W = hn::MaxLanes(hn::ScalableTag<uint8_t>());
  static_assert(W == 16 || W == 32 || W == 64, "unexpected vector size");
  // The byte results of the two lookups are added as uint16 lanes (the
  // FAISS trick, no widening): acc_a gathers even + 256 * odd bytes modulo
  // 2^16, acc_b the odd bytes alone; the even sums are acc_a - 256 * acc_b.
  // Exact while each sum stays below 2^16: each lane gains at most 2 * 255
  // per chunk it receives, so flush every 128 such chunks. With 16-byte
  // vectors a pair's 32 vectors take two chunks, kept in two sets.
  constexpr size_t kSets = W == 16 ? 2 : 1;
  constexpr size_t kLanes = W / 2;
  constexpr size_t kFlushChunks = 128 * kSets;
  const auto nib = hn::Set(d8, 0x0F);
  HWY_ALIGN uint16_t ta[kLanes];
  HWY_ALIGN uint16_t tb[kLanes];
  for (size_t blk = 0; blk < nblocks; ++blk) {
    if (block_masks != nullptr && block_masks[blk] == 0) continue;
    const uint8_t* cb = codes + blk * block_bytes;
    uint32_t acc32[32] = {0};
    decltype(hn::Zero(d16)) acc_a[kSets], acc_b[kSets];
    for (size_t i = 0; i < kSets; ++i) {
      acc_a[i] = hn::Zero(d16);
      acc_b[i] = hn::Zero(d16);
    }
    auto flush = [&]() {
      for (size_t set = 0; set < kSets; ++set) {
        hn::Store(acc_a[set], d16, ta);
        hn::Store(acc_b[set], d16, tb);
        for (size_t i = 0; i < kLanes; ++i) {
          const size_t v = set * 16 + (2 * i) % 32;
          acc32[v] += static_cast<uint16_t>(ta[i] - (tb[i] << 8));
          acc32[v + 1] += tb[i];
        }
        acc_a[set] = hn::Zero(d16);
        acc_b[set] = hn::Zero(d16);
      }
    };
    size_t chunks = 0;
    for (size_t o = 0; o < block_bytes; o += W) {
      const auto c = hn::LoadU(d8, cb + o);
      const auto lo = hn::And(c, nib);
      const auto hi = hn::And(hn::ShiftRight<4>(c), nib);
      const auto rl =
          hn::BitCast(d16, hn::TableLookupBytes(hn::LoadU(d8, lut_lo + o), lo));
      const auto rh =
          hn::BitCast(d16, hn::TableLookupBytes(hn::LoadU(d8, lut_hi + o), hi));
      const size_t set = kSets == 2 ? (o / W) & 1 : 0;
      acc_a[set] = hn::Add(acc_a[set], hn::Add(rl, rh));
      acc_b[set] = hn::Add(
          acc_b[set], hn::Add(hn::ShiftRight<8>(rl), hn::ShiftRight<8>(rh)));
      if (++chunks == kFlushChunks) {
        flush();
        chunks = 0;
      }
    }
    flush();
    std::memcpy(out + blk * 32, acc32, sizeof(acc32));
  }
#endif
}

}  // namespace HWY_NAMESPACE
}  // namespace scan
}  // namespace tqdb
HWY_AFTER_NAMESPACE();

#endif  // TQDB_INDEX_SCAN_KERNELS_INL_H_
