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
                                   uint32_t* HWY_RESTRICT out) {
  const size_t block_bytes = npairs * 32;
#if HWY_TARGET == HWY_SCALAR
  (void)block_bytes;
  scalar::AccumulateList(codes, nblocks, npairs, lut_lo, lut_hi, out);
#else
  const hn::ScalableTag<uint8_t> d8;
  const hn::Half<decltype(d8)> dh;
  const hn::Rebind<uint16_t, decltype(dh)> d16;
  constexpr size_t W = hn::MaxLanes(hn::ScalableTag<uint8_t>());
  static_assert(W == 16 || W == 32 || W == 64, "unexpected vector size");
  constexpr size_t kAcc = W == 16 ? 4 : 2;
  constexpr size_t kHalf = W / 2;  // u16 lanes per accumulator
  // Each accumulator lane gains at most 2 * 255 per chunk it receives.
  constexpr size_t kFlushChunks = W == 16 ? 256 : 128;
  const auto nib = hn::Set(d8, 0x0F);
  HWY_ALIGN uint16_t tmp[kHalf];
  for (size_t blk = 0; blk < nblocks; ++blk) {
    const uint8_t* cb = codes + blk * block_bytes;
    uint32_t acc32[32] = {0};
    decltype(hn::Zero(d16)) acc[kAcc];
    for (size_t i = 0; i < kAcc; ++i) acc[i] = hn::Zero(d16);
    auto flush = [&]() {
      for (size_t i = 0; i < kAcc; ++i) {
        hn::Store(acc[i], d16, tmp);
        const size_t base = W == 64 ? 0 : i * kHalf;
        for (size_t l = 0; l < kHalf; ++l) acc32[base + l] += tmp[l];
        acc[i] = hn::Zero(d16);
      }
    };
    size_t chunks = 0;
    for (size_t o = 0; o < block_bytes; o += W) {
      const auto c = hn::LoadU(d8, cb + o);
      const auto lo = hn::And(c, nib);
      const auto hi = hn::And(hn::ShiftRight<4>(c), nib);
      const auto rl = hn::TableLookupBytes(hn::LoadU(d8, lut_lo + o), lo);
      const auto rh = hn::TableLookupBytes(hn::LoadU(d8, lut_hi + o), hi);
      const auto s_lo = hn::Add(hn::PromoteTo(d16, hn::LowerHalf(dh, rl)),
                                hn::PromoteTo(d16, hn::LowerHalf(dh, rh)));
      const auto s_hi = hn::Add(hn::PromoteTo(d16, hn::UpperHalf(dh, rl)),
                                hn::PromoteTo(d16, hn::UpperHalf(dh, rh)));
      if (W == 16) {
        const size_t h = (o / W) & 1;  // which 16 vectors of the 32
        acc[2 * h] = hn::Add(acc[2 * h], s_lo);
        acc[2 * h + 1] = hn::Add(acc[2 * h + 1], s_hi);
      } else {
        acc[0] = hn::Add(acc[0], s_lo);
        acc[1] = hn::Add(acc[1], s_hi);
      }
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
