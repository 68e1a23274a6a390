// Kernels of a query's set-up, before any list is read (Highway dynamic
// dispatch, one translation unit: index/table_kernels.cc), and their scalar
// references: the uint8 tables of the FastScan first pass
// (QuantizedLut::Build, index/scanner.h) and the int16 weights of the
// progressive scan's refine (ProgressiveLayout::BuildQuery). They run once
// a query, but at a few dozen short lists that is a few percent of it: as
// scalar loops these three took 2.9x their time here (use512, AVX2).
// Every operation rounds on its own (no FP contraction), in the scalar
// reference's order: identical results on every target.
#ifndef TQDB_INDEX_TABLE_KERNELS_H_
#define TQDB_INDEX_TABLE_KERNELS_H_

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace tqdb {
namespace scan {

// m tables of 16 floats (table j at lut + 16 j): mins[j] = table j's
// minimum; returns the largest max - min of a table (0 for m = 0).
float LutRanges(const float* lut, uint32_t m, float* mins);

// Entry c of table j as uint8 min(255, (lut - mins[j]) * inv + 0.5),
// truncated (round to nearest for entries at or above mins[j]), in the
// layout of scan::AccumulateList: table 2p at lo + 32 p and again 16 on,
// table 2p + 1 likewise at hi + 32 p. REQUIRES: m even.
void QuantizeLuts(const float* lut, uint32_t m, const float* mins, float inv,
                  uint8_t* lo, uint8_t* hi);

// wq[RefineSlot(j)] = w[j] * inv rounded half away from zero and clamped
// to [-32767, 32767], for j < k, with the slot order of scan::RefineDot
// (index/scan_kernels.h): in each of the nchunks chunks of 32, coordinates
// 8-15 and 16-23 trade places; the rest in order.
void RoundRefineWeights(const float* w, uint32_t k, uint32_t nchunks, float inv,
                        int16_t* wq);
// One weight of it, v = w[j] * inv (the reference, and every target's
// tail).
inline int16_t RoundRefineWeight(float v) {
  return static_cast<int16_t>(
      std::clamp(v + std::copysign(0.5f, v), -32767.0f, 32767.0f));
}

namespace scalar {
float LutRanges(const float* lut, uint32_t m, float* mins);
void QuantizeLuts(const float* lut, uint32_t m, const float* mins, float inv,
                  uint8_t* lo, uint8_t* hi);
void RoundRefineWeights(const float* w, uint32_t k, uint32_t nchunks, float inv,
                        int16_t* wq);
}  // namespace scalar

}  // namespace scan
}  // namespace tqdb

#endif  // TQDB_INDEX_TABLE_KERNELS_H_
