// The progressive scan's layout: how a scalar-quantized code (TurboQuant
// mse or renorm, pca: ScanCodec::scalar_info()) is held in memory so that a
// list is scanned in two passes, and the per-query state of both passes.
//
// Pass 1 reads a prefix of every code: the top t_j bits of coordinate j
// (Lloyd-Max indices are ordered by value, so the top bits name an interval
// of cells, the 1-bit prefix of a symmetric codebook being the sign).
// The t_j are water-filled (bits go where they remove the most expected
// squared error, importance_j * (V_j(t) - V_j(t')), V_j(t) the variance of
// the level given its top t bits), at most 4 a coordinate, about one bit
// per dimension in all: for TurboQuant that is the sign plane, for pca the
// leading axes get more
// (the idea of ADSampling / DDC, Gao & Long SIGMOD 2023, applied to codes).
// Prefixes are packed into 4-bit sub-codes and scanned by the FastScan
// kernel with uint8 tables of w_j * mu_j(prefix), mu_j = the mean level of
// the prefix's cells (a conditional mean, so E[level | prefix] = mu).
//
// The error of pass 1 and its bound. With c_j the level of coordinate j,
// c1_j = mu_j(prefix_j) and a per-vector alpha = <c, c> / <c, c1> (inner
// products and norms of codes in the vectors' metric,
// ScalarCodeInfo::metric: the importance for orthonormal axes, not for
// pca's query weighting), the estimate splits exactly as
//   scale * <w, c> = g1 * <w, c1> + scale * <w, delta>,
//   g1 = scale * alpha, delta = c - alpha c1 (orthogonal to c: pass 1 is
//   exact for a query along the code's own reconstruction, ||delta|| =
//   ||c|| tan(c, c1)).
// The codec's random rotation spreads delta over the coordinates in
// proportion to their variances v_j = V_j(t_j); with that model
// scale * <w, delta> has standard deviation g2 * W, g2 = scale * ||delta||
// (per vector) and W^2 = sum_j w_j^2 v_j / sum_j v_j (per query). Pass 1
// also rounds its tables to uint8: Q = lut_scale * sqrt(tables / 12) is
// the standard deviation of that rounding in the table sum. A candidate is
// read in full (refined) only if
//   g1 * est1 + sigmas * (g2 * W + g1 * Q)
// can still reach the k-th best score; sigmas (SearchParams::refine_sigmas)
// sets the confidence. tests/index/progressive_test checks the bound's
// coverage on real data.
//
// Pass 2 (refine) reads the candidate's whole code and computes, in
// integers,
//   dot = sum_j wq_j * lq(b_j, idx_j),
// wq = the weights rounded to int16 (scale chosen so that no partial sum
// overflows int32), lq = the levels rounded to multiples of 2^-12 of the
// largest level: exact in any order, so the same on every SIMD target
// (index/scan_kernels.h: RefineDot).
//
// Where the code's bits are (scan::RefineTables). The row may hold the
// whole code again (chunks of 32 coordinates, each index at its chunk's
// widest width, most significant bits first) and the prefix bits are
// allotted coordinate by coordinate. With a shared prefix
// (LayoutOptions::prefix_sharing) no bit is held twice: the prefix is
// allotted a chunk at a time, chunk c keeping the top T_c (0, 1, 2 or 4)
// bits of its B_c-bit index fields in pass 1's sub-codes (t_j = max(0, b_j
// - (B_c - T_c)); the T_c minimize the error pass 1 leaves, an exact
// knapsack over the chunks) and the row only the low B_c - T_c bits; a
// refinement gathers the candidate's pass-1 bytes from its block. Coarser
// than a coordinate at a time: more candidates refined (use512 pca 4 bits
// 1.99% instead of 1.57%), for 64 bytes less a vector at one bit a
// dimension and 512 dimensions.
//
// Memory per vector (InvertedList, ScanShape of shape()): the prefix
// sub-codes (sum t_j / 8 bytes, or 4 T_c a chunk), the row (chunk-padded),
// the codec's factors and g1 (4 bytes each), g2 (2 bytes, bfloat16; and
// delta1 with a centroid correction). Nothing of it is persisted: it is
// derived from the stored codes when they are loaded.
//
// Thread-safety: immutable after Create.
#ifndef TQDB_INDEX_PROGRESSIVE_H_
#define TQDB_INDEX_PROGRESSIVE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "index/refine_codes.h"
#include "index/scan_codec.h"
#include "index/scan_kernels.h"
#include "index/types.h"

namespace tqdb {

// Per-query state of a progressive scan (one per ListScanner).
struct ProgressiveQuery {
  std::vector<float> w;     // codec query weights
  std::vector<float> lut;   // pass-1 float tables, m4a x 16
  std::vector<int16_t> wq;  // refine weights, padded to the chunk size
  float wq_scale = 0;       // est / scale = wq_scale * dot
  float w_err = 0;          // W
  float lut_err = 0;        // Q (set by the scanner with the uint8 LUT)
};

// The first pass's bits a dimension an index takes by default for a scalar
// code of code_bits bits (the sum of its widths) over dim dimensions, or 0
// for the full layout (LayoutOptions::prefix_bits = 0). Pass 1's error next
// to the spread of the scores grows as sqrt(D(b) / dim), D the unit
// Gaussian Lloyd-Max distortion; the preferred width is the fewest bits b
// with D(b) / dim <= D(1) / 320, 320 being where a one-bit and a two-bit
// first pass were measured level (use512 projected to 192-512 dimensions,
// pca and renorm 4 bits: two bits 1.1-1.35x faster at 192-256, one bit
// 1.1x faster at 512): one bit from 320 dimensions, two from 104, three
// from 31, four below. A code must hold twice the first pass's bits; one
// that cannot takes one bit less, down to two (a one-bit first pass below
// 320 dimensions reads too many candidates in full: on GloVe-100 6-25%,
// 1.4-5x slower than the full layout).
uint32_t DefaultPrefixBits(uint32_t dim, uint64_t code_bits);

class ProgressiveLayout {
 public:
  // Null if the codec has no scalar view or too few bits beyond the prefix
  // for a second pass to pay (total bits < 2 x the prefix budget).
  // prefix_bits_per_dim: the pass-1 budget, in bits per dimension.
  // sharing: whether the prefix is allotted a chunk at a time and the row
  // holds only the rest, or coordinate by coordinate with the row holding
  // the whole code (PrefixSharing, index/types.h).
  static std::unique_ptr<ProgressiveLayout> Create(
      const ScanCodec& codec, double prefix_bits_per_dim = 1.0,
      PrefixSharing sharing = PrefixSharing::kWhereExact);

  // The in-memory layout: m4a prefix sub-codes, m8 row bytes, nfactors =
  // the codec's + 1 (g1), and nfactors16 = 1 (g2), + 1 (delta1) with a
  // centroid correction, as bfloat16 (pass 1 only steers: its bound allows
  // for the rounding, index/scan_kernels.h BoundMask).
  const ScanShape& shape() const { return shape_; }
  uint32_t codec_factors() const { return codec_factors_; }
  // The 16-bit factor holding delta1 (g2 is 0), pass 1's centroid
  // correction, or -1 (a codec without CombineForm::center_factor). The
  // codec's delta corrects the full estimate along the list's centroid c;
  // pass 1 needs its own: delta1 = <c, r> - est1(<c, r>). With it and
  // alpha = <q, c> / ||c||^2, the refined score minus pass 1's is scale *
  // <w(q) - alpha w(c), c - (g1 / scale) c1>, whose deviation is g2 * W of
  // the weights w(q) - alpha w(c) (WeightError): the query's part along c,
  // most of W for normalized embeddings, leaves the bound.
  // Bytes a vector's code takes in memory (streams and factors).
  size_t memory_bytes_per_vector() const;
  int32_t center1_factor() const { return center1_; }
  // Bytes pass 1 reads per vector (prefix sub-codes, g1, g2, delta1).
  size_t prefix_bytes() const {
    return shape_.m4a / 2 + 4 + 2 * size_t{shape_.nfactors16};
  }
  // Bytes of the layout's own state a BuildQuery reads (the slots' table
  // levels; the codec's state is ScanCodec::query_bytes).
  size_t query_bytes() const { return slot_levels_.size() * sizeof(float); }
  // Bytes a refinement reads (the row, the codec's factors, and with a
  // shared prefix its pass-1 bytes again).
  size_t refine_bytes() const {
    return tables_.prefix_bytes + shape_.m8 + 4 * codec_factors_;
  }

  // Persisted code -> prefix sub-codes, row and factors. wc: the codec's
  // weights of the centroid of the vector's list (ScanCodec::QueryWeights),
  // for delta1; null leaves delta1 = the codec's delta.
  void Unpack(const uint8_t* code, uint8_t* sub4a, uint8_t* row, float* factors,
              const float* wc = nullptr) const;
  // Query-side vector u -> weights, pass-1 float tables, refine weights,
  // W.
  void BuildQuery(const float* u, ProgressiveQuery* q) const;
  // W of the weights w (k of them): sqrt(sum_j w_j^2 v_j / sum_j
  // lambda_j v_j), as BuildQuery sets it.
  float WeightError(const float* w) const;
  // out_j = w_j v_j / sum_j lambda_j v_j: WeightError(w - a u)^2 =
  // WeightError(w)^2 - 2 a <out, u> + a^2 WeightError(u)^2.
  void ErrorWeights(const float* w, float* out) const;
  // The codec's scale of a vector (f0 or f0 * f1).
  float Scale(const float* factors) const {
    return scaled2_ ? factors[0] * factors[1] : factors[0];
  }
  // Whether a refinement reads the code's pass-1 bytes (a shared prefix).
  bool shares_prefix() const { return tables_.prefix_bytes > 0; }
  // Refined estimate / Scale(): RefineDot of the code's pass-1 bytes
  // (m4a / 2: sub-codes 2p and 2p + 1 in byte p's low and high nibble, as
  // a block of stream A holds them; unread without a shared prefix) and
  // its row, scaled.
  float Refine(const uint8_t* prefix, const uint8_t* row,
               const ProgressiveQuery& q) const {
    return q.wq_scale * static_cast<float>(
                            scan::RefineDot(prefix, row, tables_, q.wq.data()));
  }
  // Number of real (non-padding) pass-1 tables.
  uint32_t prefix_tables() const { return prefix_tables_; }
  const std::vector<uint8_t>& prefix_bits() const { return t_; }
  const scan::RefineTables& refine_tables() const { return tables_; }

 private:
  ProgressiveLayout() = default;
  // Create's choice of the prefix bits per coordinate (t_) from var[b][t],
  // the variance of a width-b level given its top t bits: coordinate by
  // coordinate, or a chunk at a time (chunk_t: each chunk's T).
  std::vector<uint8_t> AllotCoordinates(const double (&var)[9][5],
                                        uint64_t budget) const;
  std::vector<uint8_t> AllotChunks(const double (&var)[9][5], uint64_t budget,
                                   std::vector<uint8_t>* chunk_t) const;
  // The sub-codes of t_ (nibbles_, slot_levels_, prefix_tables_,
  // shape_.m4a): packed first-fit, or in each chunk's prefix segment.
  void PackCoordinates();
  void PackChunks(const std::vector<uint8_t>& chunk_t);

  struct Slot {
    uint32_t coord;
    uint8_t bits, shift;
    uint32_t levels;  // its levels: slot_levels_[16 * levels, + 16)
  };

  const ScanCodec* codec_ = nullptr;
  const ScalarCodeInfo* info_ = nullptr;
  ScanShape shape_;
  uint32_t k_ = 0, codec_factors_ = 0, prefix_tables_ = 0;
  int32_t center1_ = -1;
  uint32_t codec_center_ = 0;  // the codec's delta (with center1_)
  bool scaled2_ = false;
  std::vector<uint8_t> t_;                  // prefix bits per coordinate
  std::vector<std::vector<Slot>> nibbles_;  // pass-1 sub-codes
  // Per slot, its prefix mean at each entry of its sub-code's table.
  std::vector<float> slot_levels_;
  // mu_[j]: the 2^t_j prefix means of coordinate j's width (shared by
  // width and t: index by (b, t)).
  std::vector<float> mu_[9][5];
  std::vector<double> lambda_;  // ScalarCodeInfo::metric (or importance)
  // v_j / sum_j lambda_j v_j (v_j: the header's error model).
  std::vector<float> var_share_;
  float level_scale_ = 1;  // lq = round(level * level_scale_)
  scan::RefineTables tables_;
};

// The codec's weights of the IVF centroids (ScanCodec::QueryWeights of
// each) for pass 1's centroid correction (center1_factor), held twice: in
// float, from which Unpack derives delta1 when codes are loaded, and as
// int8 codes (RefineCodec kInt8), which the scan's per-list bound reads:
// a quarter of the bytes, the largest per-list read of the first pass
// (2 KB a probed list in float at d = 512). The code's error enters the
// bound through err_norm (ListScanner::SetCenterWeight).
class CentroidWeights {
 public:
  CentroidWeights() = default;
  // Weights of the nlist centroids (nlist x dim floats).
  CentroidWeights(const ProgressiveLayout& layout, const ScanCodec& codec,
                  const float* centroids, uint32_t nlist, uint32_t dim);

  bool empty() const { return k_ == 0; }
  // Weights a centroid (the codec's k).
  uint32_t k() const { return k_; }
  const float* weights(uint32_t list) const { return &w_[size_t{list} * k_]; }
  const RefineCodec& codec() const { return codec_; }
  const float* code(uint32_t list) const {
    return &codes_[size_t{list} * codec_.code_words()];
  }
  // ||w - w^||, w^ the decoded code.
  float err_norm(uint32_t list) const { return err_norm_[list]; }
  float inv_sqrt_k() const { return inv_sqrt_k_; }
  // Bytes held (the float weights, the codes and the per-centroid floats).
  size_t MemoryBytes() const {
    return (w_.capacity() + codes_.capacity() + err_norm_.capacity() +
            werr_sq_.capacity()) *
           sizeof(float);
  }
  // ProgressiveLayout::WeightError(w)^2.
  float werr_sq(uint32_t list) const { return werr_sq_[list]; }

 private:
  uint32_t k_ = 0;
  float inv_sqrt_k_ = 0;
  std::vector<float> w_;  // nlist x k
  RefineCodec codec_;
  std::vector<float> codes_;  // nlist x codec_.code_words()
  std::vector<float> err_norm_, werr_sq_;
};

}  // namespace tqdb

#endif  // TQDB_INDEX_PROGRESSIVE_H_
