// A query rounded to int16 multiples of one step t, for exact integer dot
// products with int8 rows (kernels::DotI16I8Rows): the IVF coarse step's
// centroid codes and the pca codec's query projection.
#ifndef TQDB_INDEX_FIXED_POINT_H_
#define TQDB_INDEX_FIXED_POINT_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace tqdb {

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
