// Dispatch TU of index/scan_kernels.h (hwy/examples/skeleton.cc pattern).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "index/scan_kernels.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "index/scan_kernels-inl.h"

#if HWY_ONCE
#include <algorithm>
#include <cmath>
#include <cstring>

#include "index/scan_kernels.h"

namespace tqdb {
namespace scan {

HWY_EXPORT(AccumulateListImpl);
HWY_EXPORT(AccumulateListMultiImpl);
HWY_EXPORT(RefineDotImpl);
HWY_EXPORT(BoundMaskImpl);
HWY_EXPORT(UpperBoundsImpl);
HWY_EXPORT(BlockMaximaImpl);
HWY_EXPORT(CombineMaskImpl);
HWY_EXPORT(CombineRangeImpl);
HWY_EXPORT(AccumulateBytesImpl);

uint32_t CombineRange(const uint32_t* acc_a, const uint32_t* acc_b,
                      const FactorColumns& fc, uint32_t n, uint32_t first,
                      const CombineParams& p, float threshold, float* goodness,
                      uint32_t* mask) {
  return HWY_DYNAMIC_DISPATCH(CombineRangeImpl)(acc_a, acc_b, fc, n, first, p,
                                                threshold, goodness, mask);
}

uint32_t CombineMask(const uint32_t* acc_a, const uint32_t* acc_b,
                     const float* f0, const float* f1, const float* norm,
                     const float* center_col, const CombineParams& p,
                     float threshold, float* goodness) {
  return HWY_DYNAMIC_DISPATCH(CombineMaskImpl)(
      acc_a, acc_b, f0, f1, norm, center_col, p, threshold, goodness);
}

BoundBits BoundMask(const uint32_t* acc, const float* g1, const uint16_t* g2,
                    const float* norm, const uint16_t* center_col,
                    const BoundParams& p, float threshold, float lb_threshold,
                    float* ub, float* lb) {
  return HWY_DYNAMIC_DISPATCH(BoundMaskImpl)(acc, g1, g2, norm, center_col, p,
                                             threshold, lb_threshold, ub, lb);
}

void UpperBounds(const uint32_t* acc, const BoundColumns& bc, size_t first,
                 size_t count, const BoundParams& p, float threshold, float* ub,
                 uint32_t* masks) {
  HWY_DYNAMIC_DISPATCH(UpperBoundsImpl)
  (acc, bc, first, count, p, threshold, ub, masks);
}

void BlockMaxima(const uint32_t* acc, size_t nblocks, uint32_t* out) {
  HWY_DYNAMIC_DISPATCH(BlockMaximaImpl)(acc, nblocks, out);
}

int32_t RefineDot(const uint8_t* prefix, const uint8_t* row,
                  const RefineTables& t, const int16_t* wq) {
  return HWY_DYNAMIC_DISPATCH(RefineDotImpl)(prefix, row, t, wq);
}

void AccumulateList(const uint8_t* codes, size_t nblocks, size_t npairs,
                    const uint8_t* lut_lo, const uint8_t* lut_hi, uint32_t* out,
                    const uint32_t* block_masks) {
  HWY_DYNAMIC_DISPATCH(AccumulateListImpl)
  (codes, nblocks, npairs, lut_lo, lut_hi, out, block_masks);
}

void AccumulateBytes(const uint8_t* codes, size_t nblocks, size_t m,
                     const uint8_t* lut, const uint8_t* ntab, uint32_t shift,
                     uint32_t* out, const uint32_t* block_masks) {
  HWY_DYNAMIC_DISPATCH(AccumulateBytesImpl)
  (codes, nblocks, m, lut, ntab, shift, out, block_masks);
}

void AccumulateListMulti(const uint8_t* codes, size_t nblocks, size_t npairs,
                         size_t nq, const uint8_t* const* lut_lo,
                         const uint8_t* const* lut_hi, uint32_t* const* out) {
  HWY_DYNAMIC_DISPATCH(AccumulateListMultiImpl)
  (codes, nblocks, npairs, nq, lut_lo, lut_hi, out);
}

namespace {

// Lane i's value of `bits` bits in the segment format at src (most
// significant bits first; scan_kernels.h, "Row layout").
uint32_t ReadSegments(const uint8_t* src, uint32_t bits, uint32_t i) {
  uint32_t v = 0;
  for (uint32_t s = 0; s < bits / 4; ++s, src += 16) {
    v = (v << 4) | ((src[i % 16] >> (i < 16 ? 0 : 4)) & 0xF);
  }
  if (bits & 2) {
    v = (v << 2) | ((src[i % 8] >> (2 * (i / 8))) & 3);
    src += 8;
  }
  if (bits & 1) v = (v << 1) | ((src[i % 4] >> (i / 4)) & 1);
  return v;
}

// ORs lane i's value v (bits bits) into the segments at dst.
void WriteSegments(uint8_t* dst, uint32_t bits, uint32_t i, uint32_t v) {
  for (uint32_t s = 0; s < bits / 4; ++s, dst += 16) {
    const uint32_t nib = (v >> (bits - 4 * (s + 1))) & 0xF;
    dst[i % 16] |= static_cast<uint8_t>(nib << (i < 16 ? 0 : 4));
  }
  if (bits & 2) {
    dst[i % 8] |=
        static_cast<uint8_t>(((v >> (bits % 2)) & 3) << (2 * (i / 8)));
    dst += 8;
  }
  if (bits & 1) dst[i % 4] |= static_cast<uint8_t>((v & 1) << (i / 4));
}

}  // namespace

RefineTables BuildRefineTables(const std::vector<uint8_t>& width,
                               const std::vector<int32_t> lq[9],
                               const std::vector<uint8_t>& chunk_prefix) {
  RefineTables t;
  const uint32_t k = static_cast<uint32_t>(width.size());
  t.k = k;
  t.nchunks = k / kRefineChunk;
  uint32_t off = 0, poff = 0;
  for (uint32_t c = 0; c < t.nchunks; ++c) {
    const uint32_t first = c * kRefineChunk;
    uint16_t widths = 0;
    for (uint32_t j = first; j < first + kRefineChunk; ++j) {
      widths |= 1u << width[j];
    }
    const uint32_t bits = width[first];  // non-increasing: the widest
    const uint32_t pre = c < chunk_prefix.size() ? chunk_prefix[c] : 0;
    t.chunk_bits.push_back(static_cast<uint8_t>(bits));
    t.chunk_widths.push_back(widths);
    t.chunk_offset.push_back(off);
    t.chunk_prefix.push_back(static_cast<uint8_t>(pre));
    t.prefix_offset.push_back(poff);
    off += 4 * (bits - pre);
    poff += 4 * pre;
  }
  t.prefix_bytes = poff;
  t.tail_offset = off;
  uint32_t tail_bits = 0;
  for (uint32_t j = t.nchunks * kRefineChunk; j < k; ++j) tail_bits += width[j];
  t.row_bytes = off + (tail_bits + 7) / 8;
  for (uint32_t b = 1; b <= 8; ++b) {
    t.level_base[b] = static_cast<uint32_t>(t.level.size());
    t.level.insert(t.level.end(), lq[b].begin(), lq[b].end());
    if (lq[b].empty()) continue;
    // Widths <= 4: one table of the 2^b levels. Wider: 2^(b - 5) tables of
    // magnitudes, table v entry n = level half + (n << (b - 5) | v).
    const uint32_t ntab = b > 4 ? 1u << (b - 5) : 1;
    t.lut_offset[b] = static_cast<uint32_t>(t.lut.size());
    t.lut.resize(t.lut.size() + 32 * ntab, 0);
    uint8_t* tab = t.lut.data() + t.lut_offset[b];
    for (uint32_t v = 0; v < ntab; ++v) {
      for (uint32_t n = 0; n < 16; ++n) {
        const uint32_t i = b <= 4 ? n : (1u << (b - 1)) + (n << (b - 5) | v);
        if (i >= (1u << b)) break;
        const int32_t q = lq[b][i];
        tab[32 * v + n] = static_cast<uint8_t>(q & 0xff);
        tab[32 * v + 16 + n] = static_cast<uint8_t>((q >> 8) & 0xff);
      }
    }
  }
  t.width = width;
  t.base.resize(k);
  for (uint32_t j = 0; j < k; ++j) t.base[j] = t.level_base[width[j]];
  return t;
}

void PackRefineRow(const RefineTables& t, const uint8_t* idx, uint8_t* row) {
  if (t.row_bytes == 0) return;  // every bit in the prefix (row may be null)
  std::memset(row, 0, t.row_bytes);
  for (uint32_t c = 0; c < t.nchunks; ++c) {
    const uint32_t rest = t.chunk_bits[c] - t.chunk_prefix[c];
    for (uint32_t i = 0; i < kRefineChunk; ++i) {
      const uint32_t v = idx[c * kRefineChunk + i];
      WriteSegments(row + t.chunk_offset[c], rest, i, v & ((1u << rest) - 1));
    }
  }
  uint32_t off = t.tail_offset * 8;
  for (uint32_t j = t.nchunks * kRefineChunk; j < t.k; ++j) {
    for (uint32_t i = 0; i < t.width[j]; ++i, ++off) {
      row[off >> 3] |= static_cast<uint8_t>(((idx[j] >> i) & 1) << (off & 7));
    }
  }
}

void PackRefinePrefix(const RefineTables& t, const uint8_t* idx,
                      uint8_t* prefix) {
  if (t.prefix_bytes == 0) return;  // no prefix (prefix may be null)
  std::memset(prefix, 0, t.prefix_bytes);
  for (uint32_t c = 0; c < t.nchunks; ++c) {
    const uint32_t pre = t.chunk_prefix[c];
    const uint32_t rest = t.chunk_bits[c] - pre;
    for (uint32_t i = 0; i < kRefineChunk; ++i) {
      const uint32_t v = idx[c * kRefineChunk + i];
      WriteSegments(prefix + t.prefix_offset[c], pre, i, v >> rest);
    }
  }
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

void AccumulateListMulti(const uint8_t* codes, size_t nblocks, size_t npairs,
                         size_t nq, const uint8_t* const* lut_lo,
                         const uint8_t* const* lut_hi, uint32_t* const* out) {
  for (size_t q = 0; q < nq; ++q) {
    AccumulateList(codes, nblocks, npairs, lut_lo[q], lut_hi[q], out[q]);
  }
}

int32_t RefineDot(const uint8_t* prefix, const uint8_t* row,
                  const RefineTables& t, const int16_t* wq) {
  int32_t dot = 0;
  for (uint32_t c = 0; c < t.nchunks; ++c) {
    const uint32_t pre = t.chunk_prefix[c];
    const uint32_t rest = t.chunk_bits[c] - pre;
    for (uint32_t i = 0; i < kRefineChunk; ++i) {
      uint32_t idx = ReadSegments(row + t.chunk_offset[c], rest, i);
      if (pre > 0) {
        idx |= ReadSegments(prefix + t.prefix_offset[c], pre, i) << rest;
      }
      const uint32_t j = c * kRefineChunk + i;
      dot += int32_t{wq[RefineSlot(t, j)]} * t.level[t.base[j] + idx];
    }
  }
  return dot + RefineTail(row, t, wq);
}

BoundBits BoundMask(const uint32_t* acc, const float* g1, const uint16_t* g2_16,
                    const float* norm, const uint16_t* center_col,
                    const BoundParams& p, float threshold, float lb_threshold,
                    float* ub, float* lb) {
  BoundBits bits;
  for (uint32_t v = 0; v < 32; ++v) {
    const float est1 = p.lut_scale * static_cast<float>(acc[v]) + p.lut_bias;
    const float e = Bf16ToFloat(g2_16[v]) * p.w_err;
    const float c =
        center_col != nullptr ? p.center * Bf16ToFloat(center_col[v]) : 0.0f;
    const float slack = kBf16RelError * std::fabs(c);
    const float hi = g1[v] * (est1 + p.lut_allow) + e + slack;
    const float lo = g1[v] * (est1 - p.lut_allow) - e - slack;
    float offset = p.base;
    if (p.l2) {
      const float n = norm == nullptr  ? 0.0f
                      : p.norm_squared ? norm[v]
                                       : norm[v] * norm[v];
      offset = -(p.base + n);
      if (center_col != nullptr) offset = offset + p.gain * c;
    } else if (center_col != nullptr) {
      offset = p.base + c;
    }
    ub[v] = offset + p.gain * hi;
    lb[v] = offset + p.gain * lo;
    if (ub[v] > threshold) bits.ub_above |= 1u << v;
    if (lb[v] > lb_threshold) bits.lb_above |= 1u << v;
  }
  return bits;
}

void UpperBounds(const uint32_t* acc, const BoundColumns& bc, size_t first,
                 size_t count, const BoundParams& p, float threshold, float* ub,
                 uint32_t* masks) {
  float lb[32];
  for (size_t b = first; b < first + count; ++b) {
    const BoundBlock in = BlockOf(bc, b);
    masks[b - first] =
        scalar::BoundMask(acc + b * 32, in.g1, in.g2, in.norm, in.center, p,
                          threshold, threshold, ub + b * 32, lb)
            .ub_above;
  }
}

void BlockMaxima(const uint32_t* acc, size_t nblocks, uint32_t* out) {
  for (size_t b = 0; b < nblocks; ++b) {
    out[b] = *std::max_element(acc + b * 32, acc + b * 32 + 32);
  }
}

uint32_t CombineMask(const uint32_t* acc_a, const uint32_t* acc_b,
                     const float* f0, const float* f1, const float* norm,
                     const float* center_col, const CombineParams& p,
                     float threshold, float* goodness) {
  uint32_t mask = 0;
  for (uint32_t v = 0; v < 32; ++v) {
    const float a = p.a_scale * static_cast<float>(acc_a[v]) + p.a_bias;
    float est;
    switch (p.form) {
      case CombineParams::kSum:
        est = a;
        break;
      case CombineParams::kScaled:
        est = f0[v] * a;
        break;
      case CombineParams::kScaled2:
        est = (f0[v] * f1[v]) * a;
        break;
      default: {
        const float b =
            acc_b == nullptr
                ? 0.0f
                : p.b_scale * static_cast<float>(acc_b[v]) + p.b_bias;
        est = f0[v] * (a + (p.kappa * f1[v]) * b);
        break;
      }
    }
    float g;
    if (p.lut_l2) {
      g = -est;
    } else if (p.l2) {
      const float n = norm == nullptr  ? 0.0f
                      : p.norm_squared ? norm[v]
                                       : norm[v] * norm[v];
      const float e =
          center_col == nullptr ? est : est + p.center * center_col[v];
      g = -((p.base + n) - 2.0f * e);
    } else if (center_col != nullptr) {
      g = (p.base + p.center * center_col[v]) + est;
    } else {
      g = p.base + est;
    }
    goodness[v] = g;
    if (g > threshold) mask |= 1u << v;
  }
  return mask;
}

uint32_t CombineRange(const uint32_t* acc_a, const uint32_t* acc_b,
                      const FactorColumns& fc, uint32_t n, uint32_t first,
                      const CombineParams& p, float threshold, float* goodness,
                      uint32_t* mask) {
  const uint32_t nblocks = (n + 31) / 32;
  auto column = [&](uint32_t blk, int32_t i) -> const float* {
    return i < 0 ? nullptr
                 : fc.factors + (size_t{blk} * fc.nfactors + i) * size_t{32};
  };
  for (uint32_t blk = first; blk < nblocks; ++blk) {
    const uint32_t count = std::min<uint32_t>(32, n - blk * 32);
    const uint32_t valid = count == 32 ? ~0u : (1u << count) - 1;
    const size_t at = size_t{blk} * 32;
    const uint32_t m =
        valid &
        scalar::CombineMask(acc_a + at, acc_b == nullptr ? nullptr : acc_b + at,
                            column(blk, fc.f0), column(blk, fc.f1),
                            column(blk, fc.norm), column(blk, fc.center), p,
                            threshold, goodness);
    if (m != 0) {
      *mask = m;
      return blk;
    }
  }
  *mask = 0;
  return nblocks;
}

void AccumulateBytes(const uint8_t* codes, size_t nblocks, size_t m,
                     const uint8_t* lut, const uint8_t* ntab, uint32_t shift,
                     uint32_t* out, const uint32_t* block_masks) {
  std::vector<size_t> base(m / 2 + 1, 0);
  for (size_t q = 0; q < m / 2; ++q) {
    base[q + 1] = base[q] + ntab[q] * kByteLutTableBytes;
  }
  for (size_t blk = 0; blk < nblocks; ++blk) {
    if (block_masks != nullptr && block_masks[blk] == 0) continue;
    const uint8_t* cb = codes + blk * m * 32;
    for (size_t v = 0; v < 32; ++v) {
      uint32_t sum = 0;
      for (size_t j = 0; j < m; ++j) {
        const uint8_t c = cb[j * 32 + v];
        const size_t t = c >> 4, n = c & 0xF;
        sum += lut[ByteLutOffset(base[j / 2], j, t, 0) + n] +
               (uint32_t{lut[ByteLutOffset(base[j / 2], j, t, 1) + n]} << 8);
      }
      uint32_t& o = out[blk * 32 + v];
      o = (o << shift) + sum;
    }
  }
}

int32_t RefineTail(const uint8_t* row, const RefineTables& t,
                   const int16_t* wq) {
  int32_t dot = 0;
  uint32_t off = t.tail_offset * 8;
  for (uint32_t j = t.nchunks * kRefineChunk; j < t.k; ++j) {
    uint32_t idx = 0;
    for (uint32_t i = 0; i < t.width[j]; ++i, ++off) {
      idx |= uint32_t{(row[off >> 3] >> (off & 7)) & 1u} << i;
    }
    dot += int32_t{wq[j]} * t.level[t.base[j] + idx];
  }
  return dot;
}
}  // namespace scalar

}  // namespace scan
}  // namespace tqdb
#endif  // HWY_ONCE
