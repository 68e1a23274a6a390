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
// REQUIRES: out holds nblocks * 32 entries. Results are
// identical on every target (integer arithmetic).
#ifndef TQDB_INDEX_SCAN_KERNELS_H_
#define TQDB_INDEX_SCAN_KERNELS_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "index/bfloat16.h"

namespace tqdb {
namespace scan {

void AccumulateList(const uint8_t* codes, size_t nblocks, size_t npairs,
                    const uint8_t* lut_lo, const uint8_t* lut_hi, uint32_t* out,
                    const uint32_t* block_masks = nullptr);

// AccumulateListMulti: AccumulateList (without block masks) for nq queries
// over the same list, 1 <= nq <= kMaxMultiQueries: query q's tables at
// lut_lo[q], lut_hi[q], its sums to out[q] (nblocks * 32 entries each).
// Each code vector is read once for all of them; out[q] is exactly what
// AccumulateList writes for query q, on every target.
constexpr size_t kMaxMultiQueries = 4;
void AccumulateListMulti(const uint8_t* codes, size_t nblocks, size_t npairs,
                         size_t nq, const uint8_t* const* lut_lo,
                         const uint8_t* const* lut_hi, uint32_t* const* out);

// RefineDot: the second pass of the progressive scan (index/progressive.h):
// sum_j wq[slot(j)] * level[base[j] + idx_j] over the k coordinates of a
// row, in int32. The caller keeps sum_j |wq| * max |level| below 2^31, so
// no partial sum overflows and the result is the same in any order: on
// every target.
//
// Row layout. Coordinates come in chunks of 32 (then a tail of k % 32).
// Chunk c holds its coordinates' indices at chunk_bits[c] = B bits each
// (B = the widest width in it; narrower indices zero-extended), most
// significant bits first: B / 4 nibble segments of 16 bytes (byte i: the
// nibble of coordinate i in bits 0-3, of coordinate 16 + i in bits 4-7),
// then if B % 4 >= 2 a 2-bit segment of 8 bytes (bits 2q, 2q + 1 of byte
// i: coordinate 8q + i), then if B is odd a plane of 4 bytes (bit i / 4
// of byte i % 4: coordinate i's bit). A chunk may keep its top
// chunk_prefix[c] = T bits (0, 1, 2 or 4) in a separate prefix instead (the
// first pass's sub-codes, index/progressive.h, so that no bit is held
// twice): at prefix + prefix_offset[c], 4 T bytes in the segment format of
// T bits above; the row then holds the low B - T bits. The tail holds its
// indices tightly, LSB-first, width[j] bits each, from byte tail_offset.
// Weights. wq[slot(j)]: inside a chunk, coordinates 8-15 and 16-23 trade places
// (the order 256-bit byte interleaves produce), the tail is in order. Levels.
// Width b's int16 levels lq_b are looked up with byte shuffles: table v (v <
// 2^(b-4), one table for b <= 4) holds the low bytes, then the high bytes, of
// lq_b[n << (b - 4) | v] for n = 0..15, at lut[lut_offset[b] + 32 v]; a lane
// takes table v = its index's low b - 4 bits and entry n = the rest (AVX2 and
// AVX-512; other targets run the scalar code, which reads lq_b[idx] from
// `level`).
constexpr uint32_t kRefineChunk = 32;

struct RefineTables {
  uint32_t k = 0;
  uint32_t nchunks = 0;             // full chunks; the tail is k - 32 * nchunks
  std::vector<uint8_t> chunk_bits;  // B of each chunk
  std::vector<uint16_t> chunk_widths;   // bit b set: a coordinate of width b
  std::vector<uint32_t> chunk_offset;   // byte offset of each chunk
  std::vector<uint8_t> chunk_prefix;    // T of each chunk (bits in the prefix)
  std::vector<uint32_t> prefix_offset;  // its byte offset in the prefix
  uint32_t prefix_bytes = 0;
  uint32_t tail_offset = 0;
  uint32_t row_bytes = 0;
  std::vector<uint8_t> width;  // k
  std::vector<int32_t> base;   // k: level_base[width[j]]
  std::vector<int32_t> level;  // the widths' tables, b's at level_base[b]
  uint32_t level_base[9] = {};
  std::vector<uint8_t> lut;  // byte tables (above)
  uint32_t lut_offset[9] = {};
};

// Position of coordinate j's weight in wq, of a row of nchunks chunks.
inline uint32_t RefineSlot(uint32_t nchunks, uint32_t j) {
  if (j >= nchunks * kRefineChunk) return j;
  const uint32_t i = j % kRefineChunk;
  const uint32_t swapped = (i >= 8 && i < 16)    ? i + 8
                           : (i >= 16 && i < 24) ? i - 8
                                                 : i;
  return j - i + swapped;
}
inline uint32_t RefineSlot(const RefineTables& t, uint32_t j) {
  return RefineSlot(t.nchunks, j);
}

int32_t RefineDot(const uint8_t* prefix, const uint8_t* row,
                  const RefineTables& t, const int16_t* wq);

// BoundMask: the first pass's bounds for the 32 slots of a block
// (index/progressive.h): with est1 = lut_scale * acc + lut_bias,
//   ub[v] = offset_v + gain * (g1[v] * (est1 + lut_allow) + g2[v] * w_err
//                              + slack_v),
//   lb[v] = offset_v + gain * (g1[v] * (est1 - lut_allow) - g2[v] * w_err
//                              - slack_v),
// offset_v = base, or base + center * center_v for inner products with a
// centroid correction column (center_v = center_col[v], pass 1's delta1),
// or -(base + n_v) for L2 (n_v = norm[v], squared if norm_squared; 0
// without norm), plus gain * (center * center_v) with a correction column;
// bit v of the result's ub_above: ub[v] > threshold, of its lb_above:
// lb[v] > lb_threshold (the lower bounds that can enter the scan's k
// largest, found without a branch a slot). g2 and center_col are bfloat16
// (index/bfloat16.h), g2 rounded up, center_v to nearest: slack_v =
// kBf16RelError * |center * center_v| is what that rounding can move the
// bounds. (g1 stays a float: its rounding would move them by a multiple of
// |est1|, a slack of a few operations a slot, which cost flat scans 5%.)
// Every operation rounds on its own (the TU is compiled without FP
// contraction), in the same order on every target: identical results.
struct BoundParams {
  float lut_scale = 1.0f, lut_bias = 0.0f, lut_allow = 0.0f, w_err = 0.0f;
  float base = 0.0f, gain = 1.0f, center = 0.0f;
  bool l2 = false, norm_squared = false;
};
struct BoundBits {
  uint32_t ub_above = 0, lb_above = 0;
};
BoundBits BoundMask(const uint32_t* acc, const float* g1, const uint16_t* g2,
                    const float* norm, const uint16_t* center_col,
                    const BoundParams& p, float threshold, float lb_threshold,
                    float* ub, float* lb);

// BoundColumns: where BoundMask's per-slot inputs are in a list's blocked
// factor arrays (index/inverted_lists.h): float factor i of block b at
// factors[(b * nfactors + i) * 32], bfloat16 factor i at factors16[(b *
// nfactors16 + i) * 32]; g1 and norm are float factor numbers, g2 and
// center bfloat16 ones; -1: none.
struct BoundColumns {
  const float* factors = nullptr;
  uint32_t nfactors = 0;
  const uint16_t* factors16 = nullptr;
  uint32_t nfactors16 = 0;
  uint32_t g1 = 0, g2 = 0;
  int32_t norm = -1, center = -1;
};
// BoundMask's per-slot inputs of block b (norm, center: null for none).
struct BoundBlock {
  const float* g1;
  const uint16_t* g2;
  const float* norm;
  const uint16_t* center;
};
inline BoundBlock BlockOf(const BoundColumns& bc, size_t b) {
  const float* f = bc.factors + b * bc.nfactors * 32;
  const uint16_t* f16 = bc.factors16 + b * bc.nfactors16 * 32;
  return {f + size_t{bc.g1} * 32, f16 + size_t{bc.g2} * 32,
          bc.norm >= 0 ? f + size_t(bc.norm) * 32 : nullptr,
          bc.center >= 0 ? f16 + size_t(bc.center) * 32 : nullptr};
}

// UpperBounds: BoundMask's upper bounds (not its lower ones) for the
// blocks first .. first + count - 1 of a list in one call: acc and ub hold
// the list's slots from 0 (ub written for those blocks' slots only),
// masks[b - first] = block b's ub_above at threshold. The same values and
// bits as BoundMask's, on every target.
void UpperBounds(const uint32_t* acc, const BoundColumns& bc, size_t first,
                 size_t count, const BoundParams& p, float threshold, float* ub,
                 uint32_t* masks);

// BlockMaxima: out[b] = the largest of block b's 32 sums acc[32 b ..],
// for b < nblocks.
void BlockMaxima(const uint32_t* acc, size_t nblocks, uint32_t* out);

// CombineMask: the full layout's scores for the 32 slots of a block
// (index/scanner.cc), from the kernel's sums: with a = a_scale * acc_a +
// a_bias and b = b_scale * acc_b + b_bias (0 without acc_b),
//   est = a (kSum), f0 * a (kScaled), (f0 * f1) * a (kScaled2),
//         f0 * (a + (kappa * f1) * b) (kSketch),
//   goodness = -est (lut_l2), -((base + n) - 2 e) (l2; n = norm[v],
//         squared unless norm_squared, 0 without norm; e = est, or est +
//         center * center_col[v] with a centroid correction column), base +
//         est (else, or (base + center * center_col[v]) + est with a
//         correction column);
// bit v of the result: goodness[v] > threshold. f1 may be null unless the
// form reads it. Every operation rounds on its own, in this order, on
// every target: identical results.
struct CombineParams {
  enum Form : uint32_t { kSum, kScaled, kScaled2, kSketch } form = kSum;
  float a_scale = 1.0f, a_bias = 0.0f, b_scale = 1.0f, b_bias = 0.0f;
  float kappa = 0.0f, base = 0.0f, center = 0.0f;
  bool lut_l2 = false, l2 = false, norm_squared = false;
};
uint32_t CombineMask(const uint32_t* acc_a, const uint32_t* acc_b,
                     const float* f0, const float* f1, const float* norm,
                     const float* center_col, const CombineParams& p,
                     float threshold, float* goodness);

// CombineRange: CombineMask over the blocks first, first + 1, ... of a
// list, slots at or past n left out, until a block has a slot whose
// goodness beats threshold: returns that block (its scores in goodness,
// the slots that beat threshold in *mask), or the block count (n / 32
// rounded up) if none does. One call runs through the blocks that hold no
// candidate (most of them, once the heap is full). acc_a, acc_b (optional):
// the list's sums, slot after slot; factors blocked as in
// index/inverted_lists.h (factor i of block b at factors[(b * nfactors + i)
// * 32]); f0, f1, norm, center: factor numbers, or -1 for none.
struct FactorColumns {
  const float* factors = nullptr;
  uint32_t nfactors = 0;
  int32_t f0 = -1, f1 = -1, norm = -1, center = -1;
};
uint32_t CombineRange(const uint32_t* acc_a, const uint32_t* acc_b,
                      const FactorColumns& fc, uint32_t n, uint32_t first,
                      const CombineParams& p, float threshold, float* goodness,
                      uint32_t* mask);

// The tables for coordinates of the given widths (non-increasing, 1..8)
// and int16-range levels lq[b] (2^b each for the widths used,
// antisymmetric); chunk_prefix: T of each chunk (empty: none), each 0, 1,
// 2 or 4 and at most the chunk's B.
RefineTables BuildRefineTables(const std::vector<uint8_t>& width,
                               const std::vector<int32_t> lq[9],
                               const std::vector<uint8_t>& chunk_prefix = {});
// Writes the row (t.row_bytes bytes) of the indices idx[t.k].
void PackRefineRow(const RefineTables& t, const uint8_t* idx, uint8_t* row);
// Writes the chunks' prefixes (t.prefix_bytes bytes) of the indices.
void PackRefinePrefix(const RefineTables& t, const uint8_t* idx,
                      uint8_t* prefix);

// AccumulateBytes: stream C of the full layout (8-bit sub-codes), blocked
// as index/inverted_lists.h stores it: sub-code j of slot v of block b at
// byte (b * m + j) * 32 + v, m even. Every sub-code has a uint16 table of
// up to 256 entries, split into 16-entry byte tables that one byte shuffle
// reads: entry 16 t + n of sub-code j, plane p (0: low byte, 1: high byte)
// at lut[ByteLutOffset(pair_base, j, t, p) + n] and again 16 bytes on, so a
// 64-byte load holds table t of the pair j, j + 1 for the 64 lanes of a block's
// two rows. ntab[j / 2] (1..16): the tables the pair's sub-codes use (their
// values stay below 16 * ntab; a 5-bit sub-code needs 2, an 8-bit one 16).
// For every block whose mask is not 0 (block_masks optional, as in
// AccumulateList): out[slot] = (out[slot] << shift) + sum_j lut_j[sub_j],
// in uint32 (the caller keeps it below 2^32), the shift letting stream A's
// sums in out weigh 2^shift steps of these tables. Integer arithmetic:
// identical results on every target.
constexpr size_t kByteLutTableBytes = 2 * 2 * 32;  // 2 planes, 2 sub-codes
// pair_base: where the pair j / 2's tables start, kByteLutTableBytes times
// the tables of the pairs before it (the tables are packed, so a list's
// blocks reread as few bytes as the widths need).
inline size_t ByteLutOffset(size_t pair_base, size_t j, size_t t, size_t p) {
  return pair_base + ((t * 2 + p) * 2 + j % 2) * 32;
}
void AccumulateBytes(const uint8_t* codes, size_t nblocks, size_t m,
                     const uint8_t* lut, const uint8_t* ntab, uint32_t shift,
                     uint32_t* out, const uint32_t* block_masks = nullptr);

namespace scalar {
void AccumulateList(const uint8_t* codes, size_t nblocks, size_t npairs,
                    const uint8_t* lut_lo, const uint8_t* lut_hi, uint32_t* out,
                    const uint32_t* block_masks = nullptr);
void AccumulateListMulti(const uint8_t* codes, size_t nblocks, size_t npairs,
                         size_t nq, const uint8_t* const* lut_lo,
                         const uint8_t* const* lut_hi, uint32_t* const* out);
int32_t RefineDot(const uint8_t* prefix, const uint8_t* row,
                  const RefineTables& t, const int16_t* wq);
BoundBits BoundMask(const uint32_t* acc, const float* g1, const uint16_t* g2,
                    const float* norm, const uint16_t* center_col,
                    const BoundParams& p, float threshold, float lb_threshold,
                    float* ub, float* lb);
void UpperBounds(const uint32_t* acc, const BoundColumns& bc, size_t first,
                 size_t count, const BoundParams& p, float threshold, float* ub,
                 uint32_t* masks);
void BlockMaxima(const uint32_t* acc, size_t nblocks, uint32_t* out);
uint32_t CombineMask(const uint32_t* acc_a, const uint32_t* acc_b,
                     const float* f0, const float* f1, const float* norm,
                     const float* center_col, const CombineParams& p,
                     float threshold, float* goodness);
uint32_t CombineRange(const uint32_t* acc_a, const uint32_t* acc_b,
                      const FactorColumns& fc, uint32_t n, uint32_t first,
                      const CombineParams& p, float threshold, float* goodness,
                      uint32_t* mask);
void AccumulateBytes(const uint8_t* codes, size_t nblocks, size_t m,
                     const uint8_t* lut, const uint8_t* ntab, uint32_t shift,
                     uint32_t* out, const uint32_t* block_masks = nullptr);
// The tail's part of RefineDot (shared by every target).
int32_t RefineTail(const uint8_t* row, const RefineTables& t,
                   const int16_t* wq);
}  // namespace scalar

}  // namespace scan
}  // namespace tqdb

#endif  // TQDB_INDEX_SCAN_KERNELS_H_
