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

void AccumulateList(const uint8_t* codes, size_t nblocks, size_t npairs,
                    const uint8_t* lut_lo, const uint8_t* lut_hi, uint32_t* out,
                    const uint32_t* block_masks) {
  HWY_DYNAMIC_DISPATCH(AccumulateListImpl)
  (codes, nblocks, npairs, lut_lo, lut_hi, out, block_masks);
}

namespace scalar {
void AccumulateList(const uint8_t* codes, size_t nblocks, size_t npairs,
                    const uint8_t* lut_lo, const uint8_t* lut_hi, uint32_t* out,
                    const uint32_t* block_masks) {
  const size_t block_bytes = npairs * 32;
  for (size_t blk = 0; blk < nblocks; ++blk) {
    if (block_masks != nullptr && block_masks[blk] == 0) continue;
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
}  // namespace scalar

}  // namespace scan
}  // namespace tqdb
#endif  // HWY_ONCE
