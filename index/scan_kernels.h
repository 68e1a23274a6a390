// The FastScan kernel of the IVF scanner (Highway dynamic dispatch, one
// translation unit: index/scan_kernels.cc), and its scalar reference.
//
// AccumulateList sums, for every slot of an inverted list's 4-bit stream
// (layout in index/inverted_lists.h), the uint8 LUT entries selected by its
// sub-codes: out[slot] = sum_j lut_j[sub_j(slot)], exactly, in uint32 (the
// kernel accumulates in uint16 and widens every 128 pairs, so no table
// count or dimension overflows). LUT layout: for pair p, lut_lo holds
// 32 bytes = table 2p twice, lut_hi 32 bytes = table 2p + 1 twice.
// block_masks (optional, nblocks entries): a block whose mask is 0 is
// skipped (its 32 outputs are left as they were), the filtered scan's seam:
// blocks holding no point a search may return cost nothing.
// REQUIRES: npairs even; out holds nblocks * 32 entries. Results are
// identical on every target (integer arithmetic).
#ifndef TQDB_INDEX_SCAN_KERNELS_H_
#define TQDB_INDEX_SCAN_KERNELS_H_

#include <cstddef>
#include <cstdint>

namespace tqdb {
namespace scan {

void AccumulateList(const uint8_t* codes, size_t nblocks, size_t npairs,
                    const uint8_t* lut_lo, const uint8_t* lut_hi, uint32_t* out,
                    const uint32_t* block_masks = nullptr);

namespace scalar {
void AccumulateList(const uint8_t* codes, size_t nblocks, size_t npairs,
                    const uint8_t* lut_lo, const uint8_t* lut_hi, uint32_t* out,
                    const uint32_t* block_masks = nullptr);
}  // namespace scalar

}  // namespace scan
}  // namespace tqdb

#endif  // TQDB_INDEX_SCAN_KERNELS_H_
