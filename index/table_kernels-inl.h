// Per-target body of index/table_kernels.h (included once per target by
// index/table_kernels.cc and by tests/index/table_kernels_test.cc).

#if defined(TQDB_INDEX_TABLE_KERNELS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TQDB_INDEX_TABLE_KERNELS_INL_H_
#undef TQDB_INDEX_TABLE_KERNELS_INL_H_
#else
#define TQDB_INDEX_TABLE_KERNELS_INL_H_
#endif

#include <cstddef>
#include <cstdint>

#include "hwy/highway.h"
#include "index/scan_kernels.h"
#include "index/table_kernels.h"

HWY_BEFORE_NAMESPACE();
namespace tqdb {
namespace scan {
namespace HWY_NAMESPACE {

namespace hn = hwy::HWY_NAMESPACE;

// A table's 16 entries in vectors of at most 16 lanes (a whole number of
// vectors on every target).
using TableTag = hn::CappedTag<float, 16>;

HWY_INLINE float LutRangesImpl(const float* HWY_RESTRICT lut, uint32_t m,
                               float* HWY_RESTRICT mins) {
  const TableTag d;
  const size_t N = hn::Lanes(d);
  auto width = hn::Zero(d);
  for (uint32_t j = 0; j < m; ++j) {
    const float* t = lut + size_t{j} * 16;
    auto mn = hn::LoadU(d, t), mx = mn;
    for (size_t c = N; c < 16; c += N) {
      const auto v = hn::LoadU(d, t + c);
      mn = hn::Min(mn, v);
      mx = hn::Max(mx, v);
    }
    // Min and max are exact in any order; the difference is taken once,
    // as the reference takes it.
    const auto lo = hn::MinOfLanes(d, mn);
    mins[j] = hn::GetLane(lo);
    width = hn::Max(width, hn::Sub(hn::MaxOfLanes(d, mx), lo));
  }
  return hn::GetLane(width);
}

HWY_INLINE void QuantizeLutsImpl(const float* HWY_RESTRICT lut, uint32_t m,
                                 const float* HWY_RESTRICT mins, float inv,
                                 uint8_t* HWY_RESTRICT lo,
                                 uint8_t* HWY_RESTRICT hi) {
  const TableTag d;
  const hn::RebindToSigned<decltype(d)> di;
  const hn::Rebind<uint8_t, decltype(d)> d8;
  const size_t N = hn::Lanes(d);
  const auto vinv = hn::Set(d, inv);
  const auto half = hn::Set(d, 0.5f);
  const auto top = hn::Set(d, 255.0f);
  for (uint32_t j = 0; j < m; ++j) {
    const float* t = lut + size_t{j} * 16;
    uint8_t* dst = (j % 2 == 0 ? lo : hi) + (j / 2) * 32;
    const auto mn = hn::Set(d, mins[j]);
    for (size_t c = 0; c < 16; c += N) {
      const auto v = hn::Min(
          top, hn::Add(hn::Mul(hn::Sub(hn::LoadU(d, t + c), mn), vinv), half));
      // Truncation as the reference's cast; v is in [0, 255] (NaN, from
      // non-finite tables, is out of contract on every target alike).
      const auto q = hn::DemoteTo(d8, hn::ConvertTo(di, v));
      hn::StoreU(q, d8, dst + c);
      hn::StoreU(q, d8, dst + 16 + c);
    }
  }
}

HWY_INLINE void RoundRefineWeightsImpl(const float* HWY_RESTRICT w, uint32_t k,
                                       uint32_t nchunks, float inv,
                                       int16_t* HWY_RESTRICT wq) {
  // Vectors of at most 8 lanes: RefineSlot moves groups of 8 coordinates
  // whole, so a vector starting at a multiple of its size lands in
  // consecutive slots.
  const hn::CappedTag<float, 8> d;
  const hn::RebindToSigned<decltype(d)> di;
  const hn::Rebind<int16_t, decltype(d)> d16;
  const size_t N = hn::Lanes(d);
  const auto vinv = hn::Set(d, inv);
  const auto half = hn::Set(d, 0.5f);
  const auto lim = hn::Set(d, 32767.0f);
  const auto neg_lim = hn::Neg(lim);
  uint32_t j = 0;
  for (; j + N <= k; j += static_cast<uint32_t>(N)) {
    const auto v = hn::Mul(hn::LoadU(d, w + j), vinv);
    const auto r =
        hn::Min(hn::Max(hn::Add(v, hn::CopySign(half, v)), neg_lim), lim);
    hn::StoreU(hn::DemoteTo(d16, hn::ConvertTo(di, r)), d16,
               wq + RefineSlot(nchunks, j));
  }
  for (; j < k; ++j) {
    wq[RefineSlot(nchunks, j)] = RoundRefineWeight(w[j] * inv);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace scan
}  // namespace tqdb
HWY_AFTER_NAMESPACE();

#endif  // TQDB_INDEX_TABLE_KERNELS_INL_H_
