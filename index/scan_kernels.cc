// Dispatch TU of index/scan_kernels.h (hwy/examples/skeleton.cc pattern).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "index/scan_kernels.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "index/scan_kernels-inl.h"

#if HWY_ONCE
#include "index/scan_kernels.h"

namespace tqdb {
namespace scan {

HWY_EXPORT(AccumulateListImpl);
HWY_EXPORT(RefineDotImpl);

int32_t RefineDot(const uint8_t* row, const RefineTables& t,
                  const int16_t* wq) {
  return HWY_DYNAMIC_DISPATCH(RefineDotImpl)(row, t, wq);
}

void AccumulateList(const uint8_t* codes, size_t nblocks, size_t npairs,
                    const uint8_t* lut_lo, const uint8_t* lut_hi,
                    uint32_t* out) {
  HWY_DYNAMIC_DISPATCH(AccumulateListImpl)
  (codes, nblocks, npairs, lut_lo, lut_hi, out);
}

namespace scalar {
void AccumulateList(const uint8_t* codes, size_t nblocks, size_t npairs,
                    const uint8_t* lut_lo, const uint8_t* lut_hi,
                    uint32_t* out) {
  const size_t block_bytes = npairs * 32;
  for (size_t blk = 0; blk < nblocks; ++blk) {
    const uint8_t* cb = codes + blk * block_bytes;
    uint32_t* o = out + blk * 32;
    for (size_t v = 0; v < 32; ++v) o[v] = 0;
    for (size_t p = 0; p < npairs; ++p) {
      for (size_t v = 0; v < 32; ++v) {
        const uint8_t c = cb[p * 32 + v];
        o[v] += lut_lo[p * 32 + (c & 0xF)] + lut_hi[p * 32 + (c >> 4)];
      }
    }
  }
}

int32_t RefineDot(const uint8_t* row, const RefineTables& t,
                  const int16_t* wq) {
  int32_t dot = 0;
  for (uint32_t j = 0; j < t.k; ++j) {
    const uint32_t b = t.width[j];
    uint32_t idx = 0;
    for (uint32_t p = 0; p < b; ++p) {
      const uint32_t bit = (row[t.plane_offset[p] + (j >> 3)] >> (j & 7)) & 1;
      idx |= bit << (b - 1 - p);
    }
    dot += int32_t{wq[j]} * t.level[t.base[j] + idx];
  }
  return dot;
}
}  // namespace scalar

}  // namespace scan
}  // namespace tqdb
#endif  // HWY_ONCE
