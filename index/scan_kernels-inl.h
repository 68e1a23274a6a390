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

HWY_INLINE int32_t RefineDotImpl(const uint8_t* HWY_RESTRICT row,
                                 const RefineTables& t,
                                 const int16_t* HWY_RESTRICT wq) {
#if HWY_TARGET == HWY_SCALAR
  return scalar::RefineDot(row, t, wq);
#else
  // Lanes are coordinates (8 or 16 int16 lanes; a chunk of 16 is two
  // steps on 128-bit targets). A lane's index is assembled from the bit
  // planes (the plane's 8 or 16 bits broadcast, lane i tests bit i, a set
  // bit adds value[p][j]), its level looked up (byte shuffles from the
  // width's 16-entry tables, or a 32-bit gather), multiplied by its weight
  // and summed pairwise into int32 (exact: see RefineDot).
  const hn::CappedTag<int16_t, kRefineChunk> d16;
  constexpr size_t N = hn::MaxLanes(d16);
  static_assert(N == 8 || N == 16, "unexpected vector size");
  const hn::Repartition<int32_t, decltype(d16)> d32;
  const hn::Repartition<uint8_t, decltype(d16)> d8;
  const hn::Half<decltype(d16)> dh16;
  static constexpr int16_t kLaneBits[16] = {
      1,   2,   4,    8,    16,   32,   64,    128,
      256, 512, 1024, 2048, 4096, 8192, 16384, -32768};
  const auto lane_bits = hn::LoadU(d16, kLaneBits);
  const auto zero = hn::Zero(d16);
  const auto low_byte = hn::Set(d16, 0x00FF);
  auto acc0 = hn::Zero(d32), acc1 = hn::Zero(d32);
  for (uint32_t c0 = 0; c0 < t.kpad; c0 += N) {
    const uint32_t b = t.width[c0];  // the chunk's widest (non-increasing)
    if (b == 0) break;               // padding from here on
    auto idx = zero;
    for (uint32_t p = 0; p < b; ++p) {
      const uint8_t* src = row + t.plane_offset[p] + (c0 >> 3);
      const int word = N == 8 ? src[0] : (src[0] | (src[1] << 8));
      const auto bits =
          hn::And(hn::Set(d16, static_cast<int16_t>(word)), lane_bits);
      idx = hn::Or(
          idx, hn::IfThenElseZero(
                   hn::Ne(bits, zero),
                   hn::LoadU(d16, t.value.data() + size_t{p} * t.kpad + c0)));
    }
    const auto w = hn::LoadU(d16, wq + c0);
    const uint32_t cw = t.chunk_width[c0 / kRefineChunk];
    if (cw != 0) {
      const auto i8 = hn::BitCast(d8, idx);
      const auto lo = hn::BitCast(
          d16, hn::TableLookupBytes(hn::LoadDup128(d8, t.lut_lo[cw]), i8));
      const auto hi = hn::BitCast(
          d16, hn::TableLookupBytes(hn::LoadDup128(d8, t.lut_hi[cw]), i8));
      const auto lev = hn::Or(hn::And(lo, low_byte), hn::ShiftLeft<8>(hi));
      acc0 = hn::ReorderWidenMulAccumulate(d32, w, lev, acc0, acc1);
    } else {
      const auto g = hn::Add(idx, hn::LoadU(d16, t.base.data() + c0));
      const auto lev_lo = hn::GatherIndex(
          d32, t.level.data(), hn::PromoteTo(d32, hn::LowerHalf(dh16, g)));
      const auto lev_hi = hn::GatherIndex(
          d32, t.level.data(), hn::PromoteTo(d32, hn::UpperHalf(dh16, g)));
      acc0 = hn::Add(
          acc0, hn::Mul(hn::PromoteTo(d32, hn::LowerHalf(dh16, w)), lev_lo));
      acc1 = hn::Add(
          acc1, hn::Mul(hn::PromoteTo(d32, hn::UpperHalf(dh16, w)), lev_hi));
    }
  }
  return hn::GetLane(hn::SumOfLanes(d32, hn::Add(acc0, acc1)));
#endif
}

}  // namespace HWY_NAMESPACE
}  // namespace scan
}  // namespace tqdb
HWY_AFTER_NAMESPACE();

#endif  // TQDB_INDEX_SCAN_KERNELS_INL_H_
