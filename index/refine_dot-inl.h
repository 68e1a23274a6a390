// Per-target body of scan::RefineDot (index/scan_kernels.h), the
// progressive scan's refine kernel: included by index/scan_kernels-inl.h,
// once per target.

#if defined(TQDB_INDEX_REFINE_DOT_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TQDB_INDEX_REFINE_DOT_INL_H_
#undef TQDB_INDEX_REFINE_DOT_INL_H_
#else
#define TQDB_INDEX_REFINE_DOT_INL_H_
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

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
// Levels (low and high bytes) of width b >= 5 for the byte indices idx:
// entry idx >> (b - 4) of each of the 2^(b - 4) tables, then a select tree
// on the low b - 4 bits. A template, inlined: with b a constant the tables
// and the select tree stay in registers (as a call taking b, this was half
// of RefineDot's time on use512's pca codes).
template <uint32_t b, class D, class V>
HWY_INLINE void RefineLevelsWide(D d8, const uint8_t* HWY_RESTRICT tab, V idx,
                                 V* lo, V* hi, V* neg) {
  // Width b >= 5: the level is the sign (index below half: negative) times
  // the magnitude of m = the index's distance from the middle (b - 1
  // bits): entry m >> (b - 5) of each of the 2^(b - 5) magnitude tables,
  // then a select tree on the low b - 5 bits of m.
  constexpr uint32_t r = b - 5, ntab = 1u << r;
  const V half = hn::Set(d8, static_cast<uint8_t>(1u << (b - 1)));
  const V below = hn::Set(d8, static_cast<uint8_t>((1u << (b - 1)) - 1));
  const V negative =
      hn::VecFromMask(d8, hn::Eq(hn::And(idx, half), hn::Zero(d8)));
  const V m = hn::And(hn::Xor(idx, hn::And(negative, below)), below);
  const V n = hn::ShiftRight<r>(m);
  V tlo[ntab], thi[ntab];
  for (uint32_t v = 0; v < ntab; ++v) {
    tlo[v] = hn::TableLookupBytes(hn::LoadDup128(d8, tab + 32 * v), n);
    thi[v] = hn::TableLookupBytes(hn::LoadDup128(d8, tab + 32 * v + 16), n);
  }
  for (uint32_t bit = 0; bit < r; ++bit) {
    const uint32_t step = 1u << bit;
    const V mask = hn::Set(d8, static_cast<uint8_t>(step));
    const auto sel = hn::Eq(hn::And(m, mask), mask);
    for (uint32_t v = 0; v < ntab; v += 2 * step) {
      tlo[v] = hn::IfThenElse(sel, tlo[v + step], tlo[v]);
      thi[v] = hn::IfThenElse(sel, thi[v + step], thi[v]);
    }
  }
  *lo = tlo[0];
  *hi = thi[0];
  *neg = negative;
}
#endif

HWY_INLINE int32_t RefineDotImpl(const uint8_t* HWY_RESTRICT prefix,
                                 const uint8_t* HWY_RESTRICT row,
                                 const RefineTables& t,
                                 const int16_t* HWY_RESTRICT wq) {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  // One chunk of 32 coordinates = one 256-bit vector of byte indices,
  // assembled most significant bits first: a nibble segment is loaded into
  // both halves, its low nibbles kept in the lower half (coordinates 0-15)
  // and its high nibbles in the upper (16-31); a 2-bit segment's 8 bytes
  // are broadcast and 64-bit lane q shifted right by 2q; a plane's 4 bytes
  // are broadcast and lane i tests bit i / 4 of byte i % 4.
  const hn::CappedTag<uint8_t, 32> d8;
  const hn::Repartition<int16_t, decltype(d8)> d16;
  const hn::Repartition<int32_t, decltype(d8)> d32;
  const hn::Repartition<uint32_t, decltype(d8)> du32;
  static_assert(hn::MaxLanes(d8) == 32, "256-bit vectors expected");
  const hn::Repartition<uint64_t, decltype(d8)> du64;
  // A plane: lane i tests bit i / 4 of byte i % 4 (the word broadcast).
  static constexpr uint8_t kPlaneBit[32] = {
      1,  1,  1,  1,  2,  2,  2,  2,  4,  4,  4,  4,  8,   8,   8,   8,
      16, 16, 16, 16, 32, 32, 32, 32, 64, 64, 64, 64, 128, 128, 128, 128};
  // A 2-bit segment: 64-bit lane q takes bits 2q, 2q + 1 of each byte.
  static constexpr uint64_t kPairShift[4] = {0, 2, 4, 6};
  const auto plane_bit = hn::LoadU(d8, kPlaneBit);
  const auto pair_shift = hn::LoadU(du64, kPairShift);
  const auto low_nibble = hn::Set(d8, 0x0F);
  const auto low_pair = hn::Set(d8, 0x03);
  auto acc0 = hn::Zero(d32), acc1 = hn::Zero(d32);
  // idx shifted left by `bits` and the lanes' next `bits` bits (segments
  // at src) below.
  auto append = [&](decltype(hn::Zero(d8)) idx, const uint8_t* src,
                    uint32_t bits) {
    for (uint32_t s = 0; s < bits / 4; ++s, src += 16) {
      const auto v = hn::LoadDup128(d8, src);
      const auto nib = hn::ConcatUpperLower(d8, hn::ShiftRight<4>(v),
                                            hn::And(v, low_nibble));
      idx = hn::Or(hn::ShiftLeft<4>(idx), nib);
    }
    if (bits & 2) {
      uint64_t word;
      std::memcpy(&word, src, 8);
      src += 8;
      const auto pair = hn::And(
          hn::BitCast(d8, hn::Shr(hn::Set(du64, word), pair_shift)), low_pair);
      idx = hn::Or(hn::ShiftLeft<2>(idx), pair);
    }
    if (bits & 1) {
      uint32_t word;
      std::memcpy(&word, src, 4);
      const auto bytes = hn::BitCast(d8, hn::Set(du32, word));
      const auto set =
          hn::VecFromMask(d8, hn::Eq(hn::And(bytes, plane_bit), plane_bit));
      idx = hn::Sub(hn::Add(idx, idx), set);  // 2 idx + bit
    }
    return idx;
  };
  for (uint32_t c = 0; c < t.nchunks; ++c) {
    const uint32_t bits = t.chunk_bits[c];
    const uint32_t pre = t.chunk_prefix[c];
    auto idx = hn::Zero(d8);
    if (pre > 0) idx = append(idx, prefix + t.prefix_offset[c], pre);
    idx = append(idx, row + t.chunk_offset[c], bits - pre);
    const int16_t* w = wq + c * kRefineChunk;
    // Levels of every width present (low and high bytes, and for widths
    // >= 5 a sign mask applied after widening); lanes of another width are
    // replaced.
    decltype(idx) lo, hi, neg;
    bool has_neg = false;
    const uint32_t widths = t.chunk_widths[c];
    if (widths == (1u << bits) && bits <= 4) {
      const uint8_t* tab = t.lut.data() + t.lut_offset[bits];
      lo = hn::TableLookupBytes(hn::LoadDup128(d8, tab), idx);
      hi = hn::TableLookupBytes(hn::LoadDup128(d8, tab + 16), idx);
    } else {
      const uint8_t* lane_width = t.width.data() + c * kRefineChunk;
      neg = hn::Zero(d8);
      bool first = true;
      for (uint32_t rest = widths; rest != 0; rest &= rest - 1) {
        const uint32_t b = static_cast<uint32_t>(__builtin_ctz(rest));
        const uint8_t* tab = t.lut.data() + t.lut_offset[b];
        decltype(idx) blo, bhi, bneg = hn::Zero(d8);
        switch (b) {
          case 5:
            RefineLevelsWide<5>(d8, tab, idx, &blo, &bhi, &bneg);
            break;
          case 6:
            RefineLevelsWide<6>(d8, tab, idx, &blo, &bhi, &bneg);
            break;
          case 7:
            RefineLevelsWide<7>(d8, tab, idx, &blo, &bhi, &bneg);
            break;
          case 8:
            RefineLevelsWide<8>(d8, tab, idx, &blo, &bhi, &bneg);
            break;
          default:
            blo = hn::TableLookupBytes(hn::LoadDup128(d8, tab), idx);
            bhi = hn::TableLookupBytes(hn::LoadDup128(d8, tab + 16), idx);
        }
        has_neg |= b >= 5;
        if (first) {
          lo = blo;
          hi = bhi;
          neg = bneg;
          first = false;
        } else {
          const auto mine = hn::Eq(hn::LoadU(d8, lane_width),
                                   hn::Set(d8, static_cast<uint8_t>(b)));
          lo = hn::IfThenElse(mine, blo, lo);
          hi = hn::IfThenElse(mine, bhi, hi);
          neg = hn::IfThenElse(mine, bneg, neg);
        }
      }
    }
    // Coordinates 0-7 and 16-23, then 8-15 and 24-31.
    auto lev_a = hn::BitCast(d16, hn::InterleaveLower(d8, lo, hi));
    auto lev_b = hn::BitCast(d16, hn::InterleaveUpper(d8, lo, hi));
    if (has_neg) {  // -x = (x ^ -1) - (-1)
      const auto sa = hn::BitCast(d16, hn::InterleaveLower(d8, neg, neg));
      const auto sb = hn::BitCast(d16, hn::InterleaveUpper(d8, neg, neg));
      lev_a = hn::Sub(hn::Xor(lev_a, sa), sa);
      lev_b = hn::Sub(hn::Xor(lev_b, sb), sb);
    }
    acc0 = hn::ReorderWidenMulAccumulate(d32, hn::LoadU(d16, w), lev_a, acc0,
                                         acc1);
    acc0 = hn::ReorderWidenMulAccumulate(d32, hn::LoadU(d16, w + 16), lev_b,
                                         acc0, acc1);
  }
  const int32_t chunks = hn::GetLane(hn::SumOfLanes(d32, hn::Add(acc0, acc1)));
  return chunks + scalar::RefineTail(row, t, wq);
#else
  return scalar::RefineDot(prefix, row, t, wq);
#endif
}

}  // namespace HWY_NAMESPACE
}  // namespace scan
}  // namespace tqdb
HWY_AFTER_NAMESPACE();

#endif  // TQDB_INDEX_REFINE_DOT_INL_H_
