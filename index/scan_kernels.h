// The FastScan kernel of the IVF scanner (Highway dynamic dispatch, one
// translation unit: index/scan_kernels.cc), and its scalar reference.
//
// AccumulateList sums, for every slot of an inverted list's 4-bit stream
// (layout in index/inverted_lists.h), the uint8 LUT entries selected by its
// sub-codes: out[slot] = sum_j lut_j[sub_j(slot)], exactly, in uint32 (the
// kernel accumulates in uint16 and widens every 128 pairs, so no table
// count or dimension overflows). LUT layout: for pair p, lut_lo holds
// 32 bytes = table 2p twice, lut_hi 32 bytes = table 2p + 1 twice.
// REQUIRES: npairs even; out holds nblocks * 32 entries. Results are
// identical on every target (integer arithmetic).
#ifndef TQDB_INDEX_SCAN_KERNELS_H_
#define TQDB_INDEX_SCAN_KERNELS_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tqdb {
namespace scan {

void AccumulateList(const uint8_t* codes, size_t nblocks, size_t npairs,
                    const uint8_t* lut_lo, const uint8_t* lut_hi,
                    uint32_t* out);

// RefineDot: the second pass of the progressive scan (index/progressive.h).
// A row holds the b_j-bit indices of k coordinates in bit planes: plane p
// (bytes [plane_offset[p], ...), bit j of it = bit b_j - 1 - p of idx_j)
// covers the plane_coords[p] first coordinates (widths are
// non-increasing). RefineDot returns sum_j wq[j] * level[base[j] + idx_j]
// in int32; the caller keeps sum_j |wq[j]| * max |level| below 2^31, so no
// partial sum overflows and the result is the same in every order: on
// every target. Chunks of kRefineChunk coordinates whose width is one b <= 4
// look their levels up with byte shuffles, the others gather.
constexpr uint32_t kRefineChunk = 16;

struct RefineTables {
  uint32_t k = 0;     // coordinates
  uint32_t kpad = 0;  // k rounded up to kRefineChunk (wq has kpad entries,
                      // zero past k)
  uint32_t nplanes = 0;
  uint32_t plane_offset[8] = {};
  uint32_t plane_coords[8] = {};
  // The row's bytes, plus one of padding (a chunk reads two bytes a plane).
  uint32_t row_bytes = 0;
  std::vector<uint8_t> width;  // kpad (0 past k)
  std::vector<int16_t> value;  // nplanes x kpad: 1 << (b_j - 1 - p) or 0
  std::vector<int16_t> base;   // kpad: level_base[b_j] (0 past k)
  std::vector<int32_t> level;  // widths' tables, b's at level_base[b]
  uint32_t level_base[9] = {};
  // Per chunk: its width if every coordinate of it has that width b <= 4
  // (and is < k), else 0.
  std::vector<uint8_t> chunk_width;
  // Width b <= 4: low and high bytes of its int16 levels, zero-padded.
  uint8_t lut_lo[5][16] = {}, lut_hi[5][16] = {};
};

int32_t RefineDot(const uint8_t* row, const RefineTables& t, const int16_t* wq);

namespace scalar {
void AccumulateList(const uint8_t* codes, size_t nblocks, size_t npairs,
                    const uint8_t* lut_lo, const uint8_t* lut_hi,
                    uint32_t* out);
int32_t RefineDot(const uint8_t* row, const RefineTables& t, const int16_t* wq);
}  // namespace scalar

}  // namespace scan
}  // namespace tqdb

#endif  // TQDB_INDEX_SCAN_KERNELS_H_
