// Dispatch TU of index/table_kernels.h (hwy/examples/skeleton.cc pattern).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "index/table_kernels.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "index/table_kernels-inl.h"

#if HWY_ONCE
#include <algorithm>

#include "index/scan_kernels.h"
#include "index/table_kernels.h"

namespace tqdb {
namespace scan {

HWY_EXPORT(LutRangesImpl);
HWY_EXPORT(QuantizeLutsImpl);
HWY_EXPORT(RoundRefineWeightsImpl);

float LutRanges(const float* lut, uint32_t m, float* mins) {
  return HWY_DYNAMIC_DISPATCH(LutRangesImpl)(lut, m, mins);
}

void QuantizeLuts(const float* lut, uint32_t m, const float* mins, float inv,
                  uint8_t* lo, uint8_t* hi) {
  HWY_DYNAMIC_DISPATCH(QuantizeLutsImpl)(lut, m, mins, inv, lo, hi);
}

void RoundRefineWeights(const float* w, uint32_t k, uint32_t nchunks, float inv,
                        int16_t* wq) {
  HWY_DYNAMIC_DISPATCH(RoundRefineWeightsImpl)(w, k, nchunks, inv, wq);
}

namespace scalar {

float LutRanges(const float* lut, uint32_t m, float* mins) {
  float width = 0.0f;
  for (uint32_t j = 0; j < m; ++j) {
    const float* t = lut + size_t{j} * 16;
    const float mn = *std::min_element(t, t + 16);
    const float mx = *std::max_element(t, t + 16);
    mins[j] = mn;
    width = std::max(width, mx - mn);
  }
  return width;
}

void QuantizeLuts(const float* lut, uint32_t m, const float* mins, float inv,
                  uint8_t* lo, uint8_t* hi) {
  for (uint32_t j = 0; j < m; ++j) {
    const float* t = lut + size_t{j} * 16;
    uint8_t* dst = (j % 2 == 0 ? lo : hi) + (j / 2) * 32;
    for (int c = 0; c < 16; ++c) {
      // (t - min) * inv is in [0, 255 + rounding]; +0.5 and truncation
      // round to nearest.
      const float v = std::min(255.0f, (t[c] - mins[j]) * inv + 0.5f);
      const uint8_t q = static_cast<uint8_t>(static_cast<int>(v));
      dst[c] = q;
      dst[c + 16] = q;
    }
  }
}

void RoundRefineWeights(const float* w, uint32_t k, uint32_t nchunks, float inv,
                        int16_t* wq) {
  for (uint32_t j = 0; j < k; ++j) {
    wq[RefineSlot(nchunks, j)] = RoundRefineWeight(w[j] * inv);
  }
}

}  // namespace scalar
}  // namespace scan
}  // namespace tqdb
#endif  // HWY_ONCE
