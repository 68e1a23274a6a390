// Per-target body of index/scan_kernels.h (included once per target by
// index/scan_kernels.cc and by tests/scan_kernels_test.cc).

#if defined(TQDB_INDEX_SCAN_KERNELS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TQDB_INDEX_SCAN_KERNELS_INL_H_
#undef TQDB_INDEX_SCAN_KERNELS_INL_H_
#else
#define TQDB_INDEX_SCAN_KERNELS_INL_H_
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "hwy/highway.h"
#include "index/scan_kernels.h"
// RefineDotImpl, in its own file (one target pass of it per pass of this).
#include "index/refine_dot-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tqdb {
namespace scan {
namespace HWY_NAMESPACE {

namespace hn = hwy::HWY_NAMESPACE;

#if HWY_TARGET != HWY_SCALAR
// The bits of a float mask (at most 16 lanes), lane i in bit i.
template <class DF, class M>
HWY_INLINE uint32_t MaskBits(DF df, M m) {
  uint8_t bits[8] = {0};
  hn::StoreMaskBits(df, m, bits);
  return uint32_t{bits[0]} | uint32_t{bits[1]} << 8;
}

// A block's sums from the uint16 sums of its even and odd slots, to dst:
// lane i of even / odd holds slot 2i / 2i + 1 (of the 32 slots with
// 256-bit vectors, of the 16 from dst on with 128-bit ones). Each sum is
// zero-extended by interleaving it with zero; the 128-bit halves of a
// 256-bit vector are then put back in slot order.
template <class D16, class V>
HWY_INLINE void StoreSlotSums(D16 d16, V even, V odd,
                              uint32_t* HWY_RESTRICT dst) {
  const hn::Repartition<uint32_t, D16> d32;
  const V zero = hn::Zero(d16);
  const V x_lo = hn::InterleaveLower(d16, even, odd);
  const V x_hi = hn::InterleaveUpper(d16, even, odd);
  const auto y0 = hn::BitCast(d32, hn::InterleaveLower(d16, x_lo, zero));
  const auto y1 = hn::BitCast(d32, hn::InterleaveUpper(d16, x_lo, zero));
  const auto y2 = hn::BitCast(d32, hn::InterleaveLower(d16, x_hi, zero));
  const auto y3 = hn::BitCast(d32, hn::InterleaveUpper(d16, x_hi, zero));
  if constexpr (hn::MaxLanes(D16()) == 8) {
    // Slots 0-3, 4-7, 8-11, 12-15 of the 16 this vector holds.
    hn::StoreU(y0, d32, dst);
    hn::StoreU(y1, d32, dst + 4);
    hn::StoreU(y2, d32, dst + 8);
    hn::StoreU(y3, d32, dst + 12);
  } else {
    static_assert(hn::MaxLanes(D16()) == 16, "128- or 256-bit vectors");
    // y0 = slots 0-3 | 16-19, y1 = 4-7 | 20-23, y2 = 8-11 | 24-27,
    // y3 = 12-15 | 28-31.
    hn::StoreU(hn::ConcatLowerLower(d32, y1, y0), d32, dst);
    hn::StoreU(hn::ConcatLowerLower(d32, y3, y2), d32, dst + 8);
    hn::StoreU(hn::ConcatUpperUpper(d32, y1, y0), d32, dst + 16);
    hn::StoreU(hn::ConcatUpperUpper(d32, y3, y2), d32, dst + 24);
  }
}
#endif

// The FastScan kernel for Q queries over one list: each code vector is
// loaded and split into nibbles once, then looked up in every query's
// tables (query q's at lut_lo[q], lut_hi[q], its sums to out[q]). Each
// query's sums are those Q = 1 gives it. block_masks (optional): blocks
// whose mask is 0 are skipped.
template <size_t Q>
HWY_INLINE void AccumulateMultiT(const uint8_t* HWY_RESTRICT codes,
                                 size_t nblocks, size_t npairs,
                                 const uint8_t* const* lut_lo,
                                 const uint8_t* const* lut_hi,
                                 uint32_t* const* out,
                                 const uint32_t* block_masks) {
  const size_t block_bytes = npairs * 32;
#if HWY_TARGET == HWY_SCALAR
  (void)block_bytes;
  for (size_t q = 0; q < Q; ++q) {
    scalar::AccumulateList(codes, nblocks, npairs, lut_lo[q], lut_hi[q], out[q],
                           block_masks);
  }
#else
  const hn::ScalableTag<uint8_t> d8;
  const hn::Repartition<uint16_t, decltype(d8)> d16;
  constexpr size_t W = hn::MaxLanes(hn::ScalableTag<uint8_t>());
  static_assert(W == 16 || W == 32 || W == 64, "unexpected vector size");
  // The byte results of the two lookups are added as uint16 lanes (the
  // FAISS trick, no widening): acc_a gathers even + 256 * odd bytes modulo
  // 2^16, acc_b the odd bytes alone; the even sums are acc_a - 256 * acc_b.
  // Exact while each sum stays below 2^16: each lane gains at most 2 * 255
  // per chunk it receives, so flush every 128 such chunks. With 16-byte
  // vectors a pair's 32 vectors take two chunks, kept in two sets.
  constexpr size_t kSets = W == 16 ? 2 : 1;
  constexpr size_t kLanes = W / 2;
  constexpr size_t kFlushChunks = 128 * kSets;
  const auto nib = hn::Set(d8, 0x0F);
  // A flush widens the uint16 sums (lane i of set s: slots s * 16 + 2i mod
  // 32 and the next) into the uint32 sums of the even slots and of the odd
  // ones, half a vector at a time in lane order; the slots are interleaved
  // once per block.
  const hn::Half<decltype(d16)> dh16;
  const hn::Rebind<uint32_t, decltype(dh16)> d32;
  constexpr size_t kHalf = kLanes / 2;
  // A block of at most kDirectChunks code vectors needs no flush: its
  // uint16 sums go straight to out (StoreSlotSums). With 64-byte vectors
  // the two 256-bit halves hold the same slots and are added first, so
  // each may reach only half the limit.
  constexpr size_t kDirectChunks = W == 64 ? kFlushChunks / 2 : kFlushChunks;
  // An odd pair count leaves 64-byte vectors a last half vector, read with
  // zeros above (zero codes into zero tables add nothing).
  const bool direct = (block_bytes + W - 1) / W <= kDirectChunks;
  auto load = [&](const uint8_t* p, size_t n) {
    if constexpr (W == 64) {
      if (n < W) {
        return hn::ZeroExtendVector(d8, hn::LoadU(hn::Half<decltype(d8)>(), p));
      }
    }
    (void)n;
    return hn::LoadU(d8, p);
  };
  for (size_t blk = 0; blk < nblocks; ++blk) {
    if (block_masks != nullptr && block_masks[blk] == 0) continue;
    const uint8_t* cb = codes + blk * block_bytes;
    HWY_ALIGN uint32_t even32[Q][16];
    HWY_ALIGN uint32_t odd32[Q][16];
    if (!direct) {
      for (size_t q = 0; q < Q; ++q) {
        std::fill(even32[q], even32[q] + 16, 0u);
        std::fill(odd32[q], odd32[q] + 16, 0u);
      }
    }
    decltype(hn::Zero(d16)) acc_a[Q][kSets], acc_b[Q][kSets];
    for (size_t q = 0; q < Q; ++q) {
      for (size_t i = 0; i < kSets; ++i) {
        acc_a[q][i] = hn::Zero(d16);
        acc_b[q][i] = hn::Zero(d16);
      }
    }
    // The even slots' sums (acc_b holds the odd ones).
    auto even_sums = [&](size_t q, size_t set) {
      return hn::Sub(acc_a[q][set], hn::ShiftLeft<8>(acc_b[q][set]));
    };
    auto flush = [&]() {
      for (size_t q = 0; q < Q; ++q) {
        for (size_t set = 0; set < kSets; ++set) {
          const auto even = even_sums(q, set);
          const auto halves = {
              std::make_pair(hn::LowerHalf(dh16, even),
                             hn::LowerHalf(dh16, acc_b[q][set])),
              std::make_pair(hn::UpperHalf(dh16, even),
                             hn::UpperHalf(dh16, acc_b[q][set]))};
          size_t h = 0;
          for (const auto& [e, o] : halves) {
            const size_t at = (set * kLanes + h++ * kHalf) % 16;
            hn::Store(
                hn::Add(hn::Load(d32, even32[q] + at), hn::PromoteTo(d32, e)),
                d32, even32[q] + at);
            hn::Store(
                hn::Add(hn::Load(d32, odd32[q] + at), hn::PromoteTo(d32, o)),
                d32, odd32[q] + at);
          }
          acc_a[q][set] = hn::Zero(d16);
          acc_b[q][set] = hn::Zero(d16);
        }
      }
    };
    // One code vector at byte o into the accumulators of set `set`.
    auto row = [&](size_t o, size_t set, decltype(acc_a)& a, decltype(acc_b)& b,
                   size_t n) {
      const auto c = load(cb + o, n);
      const auto lo = hn::And(c, nib);
      const auto hi = hn::And(hn::ShiftRight<4>(c), nib);
      for (size_t q = 0; q < Q; ++q) {
        const auto rl =
            hn::BitCast(d16, hn::TableLookupBytes(load(lut_lo[q] + o, n), lo));
        const auto rh =
            hn::BitCast(d16, hn::TableLookupBytes(load(lut_hi[q] + o, n), hi));
        a[q][set] = hn::Add(a[q][set], hn::Add(rl, rh));
        b[q][set] = hn::Add(
            b[q][set], hn::Add(hn::ShiftRight<8>(rl), hn::ShiftRight<8>(rh)));
      }
    };
    size_t chunks = 0;
    size_t o = 0;
    if constexpr (kSets == 1) {
      // Two code vectors an iteration into two accumulator sets (two
      // independent chains), summed before each flush: still exact, as the
      // bound counts the chunks of both.
      decltype(acc_a) a2, b2;
      for (size_t q = 0; q < Q; ++q) a2[q][0] = b2[q][0] = hn::Zero(d16);
      auto merge = [&]() {
        for (size_t q = 0; q < Q; ++q) {
          acc_a[q][0] = hn::Add(acc_a[q][0], a2[q][0]);
          acc_b[q][0] = hn::Add(acc_b[q][0], b2[q][0]);
          a2[q][0] = b2[q][0] = hn::Zero(d16);
        }
      };
      for (; o + 2 * W <= block_bytes; o += 2 * W) {
        row(o, 0, acc_a, acc_b, W);
        row(o + W, 0, a2, b2, W);
        chunks += 2;
        if (chunks == kFlushChunks && !direct) {
          merge();
          flush();
          chunks = 0;
        }
      }
      merge();
    }
    for (; o < block_bytes; o += W) {
      row(o, kSets == 2 ? (o / W) & 1 : 0, acc_a, acc_b,
          std::min(W, block_bytes - o));
      if (++chunks == kFlushChunks && !direct) {
        flush();
        chunks = 0;
      }
    }
    if (direct) {
      for (size_t q = 0; q < Q; ++q) {
        uint32_t* dst = out[q] + blk * 32;
        for (size_t set = 0; set < kSets; ++set) {
          const auto even = even_sums(q, set);
          if constexpr (W == 64) {
            StoreSlotSums(
                dh16,
                hn::Add(hn::LowerHalf(dh16, even), hn::UpperHalf(dh16, even)),
                hn::Add(hn::LowerHalf(dh16, acc_b[q][set]),
                        hn::UpperHalf(dh16, acc_b[q][set])),
                dst);
          } else {
            StoreSlotSums(d16, even, acc_b[q][set], dst + set * 16);
          }
        }
      }
      continue;
    }
    if (chunks != 0) flush();  // (none left when the count hit the period)
    for (size_t q = 0; q < Q; ++q) {
      uint32_t* dst = out[q] + blk * 32;
      for (size_t j = 0; j < 16; ++j) {
        dst[2 * j] = even32[q][j];
        dst[2 * j + 1] = odd32[q][j];
      }
    }
  }
#endif
}

HWY_INLINE void AccumulateListImpl(const uint8_t* HWY_RESTRICT codes,
                                   size_t nblocks, size_t npairs,
                                   const uint8_t* HWY_RESTRICT lut_lo,
                                   const uint8_t* HWY_RESTRICT lut_hi,
                                   uint32_t* HWY_RESTRICT out,
                                   const uint32_t* block_masks) {
  const uint8_t* const lo[1] = {lut_lo};
  const uint8_t* const hi[1] = {lut_hi};
  uint32_t* const sums[1] = {out};
  AccumulateMultiT<1>(codes, nblocks, npairs, lo, hi, sums, block_masks);
}

HWY_INLINE void AccumulateListMultiImpl(const uint8_t* HWY_RESTRICT codes,
                                        size_t nblocks, size_t npairs,
                                        size_t nq, const uint8_t* const* lut_lo,
                                        const uint8_t* const* lut_hi,
                                        uint32_t* const* out) {
  switch (nq) {
    case 1:
      AccumulateMultiT<1>(codes, nblocks, npairs, lut_lo, lut_hi, out, nullptr);
      break;
    case 2:
      AccumulateMultiT<2>(codes, nblocks, npairs, lut_lo, lut_hi, out, nullptr);
      break;
    case 3:
      AccumulateMultiT<3>(codes, nblocks, npairs, lut_lo, lut_hi, out, nullptr);
      break;
    default:
      AccumulateMultiT<4>(codes, nblocks, npairs, lut_lo, lut_hi, out, nullptr);
      break;
  }
}

#if HWY_TARGET != HWY_SCALAR
// BoundMask's arithmetic for one block; kLower: the lower bounds too (lb,
// lb_above), else only the upper ones (lb is not written).
template <bool kLower>
HWY_INLINE BoundBits BlockBoundsT(const uint32_t* HWY_RESTRICT acc,
                                  const float* HWY_RESTRICT g1,
                                  const uint16_t* HWY_RESTRICT g2_16,
                                  const float* HWY_RESTRICT norm,
                                  const uint16_t* HWY_RESTRICT center_col,
                                  const BoundParams& p, float threshold,
                                  float lb_threshold, float* HWY_RESTRICT ub,
                                  float* HWY_RESTRICT lb) {
  // The scalar code's operations, in its order, lane-wise.
  const hn::ScalableTag<float> df;
  const hn::RebindToSigned<decltype(df)> di;
  const hn::RebindToUnsigned<decltype(df)> du;
  const hn::Rebind<uint16_t, decltype(df)> d16;
  constexpr size_t N = hn::MaxLanes(df);
  static_assert(N <= 32 && 32 % N == 0, "unexpected vector size");
  // bfloat16 -> float: the bits shifted into the upper half (exact).
  auto load16 = [&](const uint16_t* HWY_RESTRICT x) {
    return hn::BitCast(df,
                       hn::ShiftLeft<16>(hn::PromoteTo(du, hn::LoadU(d16, x))));
  };
  const auto scale = hn::Set(df, p.lut_scale), bias = hn::Set(df, p.lut_bias);
  const auto allow = hn::Set(df, p.lut_allow), w_err = hn::Set(df, p.w_err);
  const auto gain = hn::Set(df, p.gain), base = hn::Set(df, p.base);
  const auto center = hn::Set(df, p.center);
  const auto eps = hn::Set(df, kBf16RelError);
  const auto thr = hn::Set(df, threshold);
  const auto lb_thr = hn::Set(df, lb_threshold);
  BoundBits out;
  for (size_t v = 0; v < 32; v += N) {
    const auto a = hn::ConvertTo(
        df, hn::LoadU(di, reinterpret_cast<const int32_t*>(acc + v)));
    const auto est1 = hn::Add(hn::Mul(scale, a), bias);
    const auto g = hn::LoadU(df, g1 + v);
    const auto e = hn::Mul(load16(g2_16 + v), w_err);
    const auto c = center_col != nullptr
                       ? hn::Mul(center, load16(center_col + v))
                       : hn::Zero(df);
    const auto slack = hn::Mul(eps, hn::Abs(c));
    const auto hi =
        hn::Add(hn::Add(hn::Mul(g, hn::Add(est1, allow)), e), slack);
    auto offset = base;
    if (p.l2) {
      auto n = hn::Zero(df);
      if (norm != nullptr) {
        n = hn::LoadU(df, norm + v);
        if (!p.norm_squared) n = hn::Mul(n, n);
      }
      offset = hn::Neg(hn::Add(base, n));
      if (center_col != nullptr) offset = hn::Add(offset, hn::Mul(gain, c));
    } else if (center_col != nullptr) {
      offset = hn::Add(base, c);
    }
    const auto u = hn::Add(offset, hn::Mul(gain, hi));
    hn::StoreU(u, df, ub + v);
    out.ub_above |= MaskBits(df, hn::Gt(u, thr)) << v;
    if constexpr (kLower) {
      const auto lo =
          hn::Sub(hn::Sub(hn::Mul(g, hn::Sub(est1, allow)), e), slack);
      const auto l = hn::Add(offset, hn::Mul(gain, lo));
      hn::StoreU(l, df, lb + v);
      out.lb_above |= MaskBits(df, hn::Gt(l, lb_thr)) << v;
    }
  }
  return out;
}
#endif

HWY_INLINE BoundBits BoundMaskImpl(const uint32_t* HWY_RESTRICT acc,
                                   const float* HWY_RESTRICT g1,
                                   const uint16_t* HWY_RESTRICT g2_16,
                                   const float* HWY_RESTRICT norm,
                                   const uint16_t* HWY_RESTRICT center_col,
                                   const BoundParams& p, float threshold,
                                   float lb_threshold, float* HWY_RESTRICT ub,
                                   float* HWY_RESTRICT lb) {
#if HWY_TARGET == HWY_SCALAR
  return scalar::BoundMask(acc, g1, g2_16, norm, center_col, p, threshold,
                           lb_threshold, ub, lb);
#else
  return BlockBoundsT<true>(acc, g1, g2_16, norm, center_col, p, threshold,
                            lb_threshold, ub, lb);
#endif
}

HWY_INLINE void UpperBoundsImpl(const uint32_t* HWY_RESTRICT acc,
                                const BoundColumns& bc, size_t first,
                                size_t count, const BoundParams& p,
                                float threshold, float* HWY_RESTRICT ub,
                                uint32_t* HWY_RESTRICT masks) {
#if HWY_TARGET == HWY_SCALAR
  scalar::UpperBounds(acc, bc, first, count, p, threshold, ub, masks);
#else
  for (size_t b = first; b < first + count; ++b) {
    const BoundBlock in = BlockOf(bc, b);
    masks[b - first] =
        BlockBoundsT<false>(acc + b * 32, in.g1, in.g2, in.norm, in.center, p,
                            threshold, threshold, ub + b * 32, nullptr)
            .ub_above;
  }
#endif
}

HWY_INLINE void BlockMaximaImpl(const uint32_t* HWY_RESTRICT acc,
                                size_t nblocks, uint32_t* HWY_RESTRICT out) {
#if HWY_TARGET == HWY_SCALAR
  scalar::BlockMaxima(acc, nblocks, out);
#else
  const hn::ScalableTag<uint32_t> d;
  constexpr size_t N = hn::MaxLanes(d);
  static_assert(N <= 32 && 32 % N == 0, "unexpected vector size");
  for (size_t b = 0; b < nblocks; ++b) {
    const uint32_t* HWY_RESTRICT block = acc + b * 32;
    auto m = hn::LoadU(d, block);
    for (size_t v = N; v < 32; v += N) m = hn::Max(m, hn::LoadU(d, block + v));
    out[b] = hn::GetLane(hn::MaxOfLanes(d, m));
  }
#endif
}

// The low and high bytes of the entries of AccumulateBytes' tables at tab
// (kTables of them, or nt if kTables is 0) that the lanes' nibbles select.
template <uint32_t kTables, class D, class V>
HWY_INLINE void LookupByteTables(D d8, const uint8_t* HWY_RESTRICT tab,
                                 uint32_t nt, V low, V high, V* rl, V* rh) {
  V l = hn::TableLookupBytes(hn::LoadU(d8, tab), low);
  V h = hn::TableLookupBytes(hn::LoadU(d8, tab + 64), low);
  const uint32_t n = kTables == 0 ? nt : kTables;
#pragma GCC unroll 16
  for (uint32_t t = 1; t < n; ++t) {
    const auto sel = hn::Eq(high, hn::Set(d8, static_cast<uint8_t>(t)));
    const uint8_t* at = tab + t * kByteLutTableBytes;
    l = hn::IfThenElse(sel, hn::TableLookupBytes(hn::LoadU(d8, at), low), l);
    h = hn::IfThenElse(sel, hn::TableLookupBytes(hn::LoadU(d8, at + 64), low),
                       h);
  }
  *rl = l;
  *rh = h;
}

HWY_INLINE void AccumulateBytesImpl(const uint8_t* HWY_RESTRICT codes,
                                    size_t nblocks, size_t m,
                                    const uint8_t* HWY_RESTRICT lut,
                                    const uint8_t* HWY_RESTRICT ntab,
                                    uint32_t shift, uint32_t* HWY_RESTRICT out,
                                    const uint32_t* block_masks) {
#if HWY_TARGET == HWY_SCALAR
  scalar::AccumulateBytes(codes, nblocks, m, lut, ntab, shift, out,
                          block_masks);
#else
  // A pair of sub-codes is a 64-byte row of the block (W-byte vectors, 64 /
  // W of them). A lane's low nibble indexes every table of the pair with one
  // shuffle each, its high nibble keeps the one it needs. The low and high
  // bytes are summed as uint16 lanes, as in AccumulateList: sum = even + 256
  // * odd modulo 2^16, odd alone; each gains at most 255 a pair, so a flush
  // every 256 pairs keeps them exact.
  const hn::ScalableTag<uint8_t> d8;
  const hn::Repartition<uint16_t, decltype(d8)> d16;
  constexpr size_t W = hn::MaxLanes(hn::ScalableTag<uint8_t>());
  static_assert(W == 16 || W == 32 || W == 64, "unexpected vector size");
  constexpr size_t kVecs = 64 / W;
  constexpr size_t kLanes16 = W / 2;
  constexpr size_t kFlushPairs = 256;
  const size_t npairs = m / 2;
  const auto nib = hn::Set(d8, 0x0F);
  using V16 = decltype(hn::Zero(d16));
  const hn::Half<decltype(d16)> dh16;
  const hn::Rebind<uint32_t, decltype(dh16)> d32;
  constexpr size_t kHalf = kLanes16 / 2;
  for (size_t blk = 0; blk < nblocks; ++blk) {
    if (block_masks != nullptr && block_masks[blk] == 0) continue;
    const uint8_t* cb = codes + blk * m * 32;
    HWY_ALIGN uint32_t even32[16] = {0};
    HWY_ALIGN uint32_t odd32[16] = {0};
    V16 lo_all[kVecs], lo_odd[kVecs], hi_all[kVecs], hi_odd[kVecs];
    auto zero = [&]() {
      for (size_t i = 0; i < kVecs; ++i) {
        lo_all[i] = lo_odd[i] = hi_all[i] = hi_odd[i] = hn::Zero(d16);
      }
    };
    // A flush widens the uint16 sums into uint32 sums of the even slots
    // and of the odd ones (u16 lane l of vector i: slots 2 ((i * W / 2 + l)
    // mod 16) and the next), half a vector at a time.
    auto flush = [&]() {
      for (size_t i = 0; i < kVecs; ++i) {
        const auto even_lo = hn::Sub(lo_all[i], hn::ShiftLeft<8>(lo_odd[i]));
        const auto even_hi = hn::Sub(hi_all[i], hn::ShiftLeft<8>(hi_odd[i]));
        for (size_t h = 0; h < 2; ++h) {
          const auto half = [&](V16 v) {
            return hn::PromoteTo(
                d32, h == 0 ? hn::LowerHalf(dh16, v) : hn::UpperHalf(dh16, v));
          };
          const size_t at = (i * kLanes16 + h * kHalf) % 16;
          const auto even =
              hn::Add(half(even_lo), hn::ShiftLeft<8>(half(even_hi)));
          const auto odd =
              hn::Add(half(lo_odd[i]), hn::ShiftLeft<8>(half(hi_odd[i])));
          hn::Store(hn::Add(hn::Load(d32, even32 + at), even), d32,
                    even32 + at);
          hn::Store(hn::Add(hn::Load(d32, odd32 + at), odd), d32, odd32 + at);
        }
      }
      zero();
    };
    zero();
    size_t pending = 0;
    const uint8_t* const lut0 = lut;
    for (size_t q = 0; q < npairs; ++q) {
      const uint8_t* row = cb + q * 64;
      const uint8_t* tabs = lut;
      const uint32_t nt = ntab[q];
      lut += nt * kByteLutTableBytes;
      for (size_t i = 0; i < kVecs; ++i) {
        const auto x = hn::LoadU(d8, row + i * W);
        const auto low = hn::And(x, nib);
        const auto high = hn::And(hn::ShiftRight<4>(x), nib);
        const uint8_t* tab = tabs + i * W;
        auto rl = hn::Zero(d8), rh = hn::Zero(d8);
        // Widths 4..8 use 1, 2, 4, 8 or 16 tables: unrolled.
        switch (nt) {
          case 1:
            LookupByteTables<1>(d8, tab, nt, low, high, &rl, &rh);
            break;
          case 2:
            LookupByteTables<2>(d8, tab, nt, low, high, &rl, &rh);
            break;
          case 4:
            LookupByteTables<4>(d8, tab, nt, low, high, &rl, &rh);
            break;
          case 8:
            LookupByteTables<8>(d8, tab, nt, low, high, &rl, &rh);
            break;
          case 16:
            LookupByteTables<16>(d8, tab, nt, low, high, &rl, &rh);
            break;
          default:
            LookupByteTables<0>(d8, tab, nt, low, high, &rl, &rh);
            break;
        }
        const auto l16 = hn::BitCast(d16, rl);
        const auto h16 = hn::BitCast(d16, rh);
        lo_all[i] = hn::Add(lo_all[i], l16);
        lo_odd[i] = hn::Add(lo_odd[i], hn::ShiftRight<8>(l16));
        hi_all[i] = hn::Add(hi_all[i], h16);
        hi_odd[i] = hn::Add(hi_odd[i], hn::ShiftRight<8>(h16));
      }
      if (++pending == kFlushPairs) {
        flush();
        pending = 0;
      }
    }
    if (pending != 0) flush();
    lut = lut0;
    uint32_t* o = out + blk * 32;
    for (size_t v = 0; v < 16; ++v) {
      o[2 * v] = (o[2 * v] << shift) + even32[v];
      o[2 * v + 1] = (o[2 * v + 1] << shift) + odd32[v];
    }
  }
#endif
}

}  // namespace HWY_NAMESPACE
}  // namespace scan
}  // namespace tqdb
HWY_AFTER_NAMESPACE();

// CombineMaskImpl, CombineRangeImpl (they use MaskBits above).
#include "index/combine_kernels-inl.h"

#endif  // TQDB_INDEX_SCAN_KERNELS_INL_H_
