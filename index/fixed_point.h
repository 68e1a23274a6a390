// A query rounded to int16 multiples of one step t, for exact integer dot
// products with int8 rows (kernels::DotI16I8Rows): the IVF coarse step's
// centroid codes and the pca codec's query projection.
#ifndef TQDB_INDEX_FIXED_POINT_H_
#define TQDB_INDEX_FIXED_POINT_H_

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace tqdb {

// The largest |q16| for a query of d coordinates times int8 rows (|c| <=
// 128): no int32 partial sum of DotI16I8Rows overflows (d * lim * 128 <
// 2^31), and at most 16383.
inline int32_t Int16QueryLimit(uint32_t d) {
  return static_cast<int32_t>(
      std::min<uint32_t>(16383, 0x7FFFFFFFu / (128u * d)));
}

// max |q_i| and sum |q_i| in one pass (eight partial results each, so
// that the loop runs on vectors; the max is exact in any order, the sum
// within float rounding, which a caller's bound must cover).
inline void AbsMaxAndSum(const float* q, uint32_t d, float* max_out,
                         float* sum_out) {
  constexpr uint32_t kLanes = 8;
  float mx[kLanes] = {0}, sum[kLanes] = {0};
  uint32_t j = 0;
  for (; j + kLanes <= d; j += kLanes) {
    for (uint32_t l = 0; l < kLanes; ++l) {
      const float a = std::fabs(q[j + l]);
      mx[l] = mx[l] < a ? a : mx[l];
      sum[l] += a;
    }
  }
  float m = 0, s = 0;
  for (uint32_t l = 0; l < kLanes; ++l) {
    m = m < mx[l] ? mx[l] : m;
    s += sum[l];
  }
  for (; j < d; ++j) {
    const float a = std::fabs(q[j]);
    m = m < a ? a : m;
    s += a;
  }
  *max_out = m;
  *sum_out = s;
}

// x rounded to the nearest integer (ties to even) for |x| < 2^22: adding
// and removing 1.5 * 2^23 leaves no fraction bits (inline and vectorizable,
// unlike std::round or std::nearbyint, library calls here).
inline float RoundToNearest(float x) {
  constexpr float kMagic = 12582912.0f;
  return (x + kMagic) - kMagic;
}

// out[j] = round(x[j] * inv_t) clamped to [-lim, lim] (lim < 2^15). With
// inv_t = 1 / t for t = max|x| / lim, |x[j] - t out[j]| <= t / 2 up to the
// rounding of the product (2^-23 of lim, so within 0.502 t).
inline void RoundToInt16(const float* x, size_t n, float inv_t, float lim,
                         int16_t* out) {
  for (size_t j = 0; j < n; ++j) {
    out[j] = static_cast<int16_t>(
        RoundToNearest(std::clamp(x[j] * inv_t, -lim, lim)));
  }
}

}  // namespace tqdb

#endif  // TQDB_INDEX_FIXED_POINT_H_
