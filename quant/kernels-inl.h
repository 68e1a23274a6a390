// Per-target bodies of the kernels declared in quant/kernels.h. Included once
// per Highway target by quant/kernels.cc (the dispatch TU) and by the
// per-target tests, exactly like hwy/examples/skeleton-inl.h.
// Contracts: see quant/kernels.h.

// Per-target include guard (re-included for each target by foreach_target).
#if defined(TQDB_QUANT_KERNELS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TQDB_QUANT_KERNELS_INL_H_
#undef TQDB_QUANT_KERNELS_INL_H_
#else
#define TQDB_QUANT_KERNELS_INL_H_
#endif

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "hwy/highway.h"
#include "quant/coding.h"
#include "quant/kernels.h"

HWY_BEFORE_NAMESPACE();
namespace tqdb {
namespace kernels {
namespace HWY_NAMESPACE {

namespace hn = hwy::HWY_NAMESPACE;

#ifndef TQDB_KERNEL_LAMBDA
// The per-vector lambdas of LaneSums must inline: one left out of line
// takes the running sums' addresses and keeps them on the stack.
#define TQDB_KERNEL_LAMBDA __attribute__((always_inline))
#endif

// ---- The canonical float sum (quant/kernels.h, "Determinism") ----
// Element i of a sum goes to running sum i % kSumLanes; the running sums
// start at +0 and are then added pairwise, lane j += lane j + w for
// w = kSumLanes / 2, ..., 1. A target holds the kSumLanes sums in
// kSumLanes / N vectors (two on AVX-512, four on AVX2, eight at 128 bits),
// so every target, and the scalar reference, forms the same sums.
using SumTag = hn::CappedTag<float, kSumLanes>;

// a * b + c rounded once, on every target: where the target has no FMA
// instruction (SSSE3, SSE4, EMU128, SCALAR) lane by lane through std::fma,
// slower but the same bits as the fused instruction.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V FusedMulAdd(D d, V a, V b, V c) {
#if HWY_NATIVE_FMA
  (void)d;
  return hn::MulAdd(a, b, c);
#else
  constexpr size_t N = hn::MaxLanes(D());
  HWY_ALIGN float x[N], y[N], z[N];
  hn::Store(a, d, x);
  hn::Store(b, d, y);
  hn::Store(c, d, z);
  for (size_t j = 0; j < N; ++j) z[j] = std::fma(x[j], y[j], z[j]);
  return hn::Load(d, z);
#endif
}

// The pairwise sum of the lanes of v: lane j += lane j + N / 2, then the
// same on the lower half, down to one lane.
template <class D>
HWY_INLINE float HalvingSum(D d, hn::Vec<D> v) {
#if HWY_TARGET == HWY_SCALAR  // one lane, and no UpperHalf
  (void)d;
  return hn::GetLane(v);
#else
  if constexpr (hn::MaxLanes(D()) == 1) {
    (void)d;
    return hn::GetLane(v);
  } else {
    const hn::Half<D> dh;
    return HalvingSum(dh, hn::Add(hn::LowerHalf(dh, v), hn::UpperHalf(dh, v)));
  }
#endif
}

// The pairwise sum of the kSumLanes lanes of acc[0 .. kSumLanes / N)
// (acc[v] holds lanes v N .. v N + N - 1). Destroys acc.
template <class D>
HWY_INLINE float SumLaneTree(D d, hn::Vec<D>* acc) {
  constexpr size_t N = hn::MaxLanes(D());
  constexpr size_t kVecs = kSumLanes / N;
  for (size_t w = kVecs / 2; w >= 1; w /= 2) {
    for (size_t v = 0; v < w; ++v) acc[v] = hn::Add(acc[v], acc[v + w]);
  }
  return HalvingSum(d, acc[0]);
}

// Loads count <= N elements from p into the first lanes and zeros into the
// others, reading nothing past p + count (the last, partial vector of a
// sum). Floats on AVX2 and AVX-512 by a masked load (no fault past the
// mask), anything else through a zeroed copy.
template <class DT, typename T>
HWY_INLINE hn::Vec<DT> LoadFirst(DT dt, const T* HWY_RESTRICT p, size_t count) {
  constexpr size_t N = hn::MaxLanes(DT());
  if (N == 1 || count == N) return hn::LoadU(dt, p);
#if HWY_TARGET <= HWY_AVX2
  if constexpr (sizeof(T) == 4) {
    return hn::MaskedLoad(hn::FirstN(dt, count), dt, p);
  }
#endif
  HWY_ALIGN T buf[N] = {};
  std::memcpy(buf, p, count * sizeof(T));
  return hn::Load(dt, buf);
}

// f(std::integral_constant<size_t, v>) for v = 0 .. K - 1: unrolled by
// construction (a loop the compiler left rolled would index the running
// sums at run time and move them from registers to the stack).
template <size_t... Is, class F>
HWY_INLINE void ForEachConstant(std::index_sequence<Is...>, const F& f) {
  (f(std::integral_constant<size_t, Is>()), ...);
}

// LaneSums (below), with or without the code of a partial last chunk.
template <size_t R, bool kTail, class D, class VecTerm>
HWY_INLINE void LaneSumsT(D d, size_t n, const VecTerm& vec_term,
                          float* HWY_RESTRICT out) {
  using V = hn::Vec<D>;
  constexpr size_t N = hn::MaxLanes(D());
  constexpr size_t kVecs = kSumLanes / N;
  static_assert(kSumLanes % N == 0, "whole vectors of running sums");
  const auto vecs = std::make_index_sequence<kVecs>();
  V acc[R][kVecs];
  for (size_t r = 0; r < R; ++r) {
    for (size_t v = 0; v < kVecs; ++v) acc[r][v] = hn::Zero(d);
  }
  size_t i = 0;
  for (; i + kSumLanes <= n; i += kSumLanes) {
    ForEachConstant(vecs, [&](auto vc) TQDB_KERNEL_LAMBDA {
      constexpr size_t v = decltype(vc)::value;
      V col[R];
      for (size_t r = 0; r < R; ++r) col[r] = acc[r][v];
      vec_term(i + v * N, N, col);
      for (size_t r = 0; r < R; ++r) acc[r][v] = col[r];
    });
  }
  if constexpr (kTail) {
    if (i < n) {  // the last n % kSumLanes terms
      const size_t rest = n - i;
      ForEachConstant(vecs, [&](auto vc) TQDB_KERNEL_LAMBDA {
        constexpr size_t v = decltype(vc)::value;
        if (v * N >= rest) return;
        const size_t count = HWY_MIN(N, rest - v * N);
        V col[R];
        for (size_t r = 0; r < R; ++r) col[r] = acc[r][v];
        vec_term(i + v * N, count, col);
        const auto first = hn::FirstN(d, count);
        for (size_t r = 0; r < R; ++r) {
          acc[r][v] = hn::IfThenElse(first, col[r], acc[r][v]);
        }
      });
    }
  }
  for (size_t r = 0; r < R; ++r) out[r] = SumLaneTree(d, acc[r]);
}

// out[r] = the canonical sum over i < n of row r's term i, for R rows at
// once (each row has its own kSumLanes sums; what the rows share, such as
// a query chunk, is loaded once). vec_term(i, count, acc) adds the terms
// i .. i + count - 1 of every row r to the first count lanes of acc[r],
// each term by one rounding (FusedMulAdd, or one Add); count is N except
// for the last vector of a sum, whose loads must then read only count
// elements (LoadFirst) and whose lanes past count are restored here.
template <size_t R, class D, class VecTerm>
HWY_INLINE void LaneSums(D d, size_t n, const VecTerm& vec_term,
                         float* HWY_RESTRICT out) {
  // Whole chunks (d = 128, 384, 512, 768, 1024, 1536, ...) take a copy
  // without the tail's code: the compiler then keeps every running sum in
  // a register from start to end (with the tail's blends in the same code
  // it kept them on the stack around the loop, ~50% slower on AVX2).
  if (n % kSumLanes == 0) {
    LaneSumsT<R, false>(d, n, vec_term, out);
  } else {
    LaneSumsT<R, true>(d, n, vec_term, out);
  }
}

// The canonical sum over i < n of one row's terms (LaneSums with R = 1).
template <class VecTerm>
HWY_INLINE float LaneSum(size_t n, const VecTerm& vec_term) {
  float sum;
  LaneSums<1>(SumTag(), n, vec_term, &sum);
  return sum;
}

// Rows handled at once by the matrix kernels: eight vectors of running sums.
template <class D>
constexpr size_t RowsAtOnce() {
  return hn::MaxLanes(D()) >= 16 ? 4 : hn::MaxLanes(D()) >= 8 ? 2 : 1;
}

HWY_INLINE float DotImpl(const float* HWY_RESTRICT a,
                         const float* HWY_RESTRICT b, size_t n) {
  const SumTag d;
  return LaneSum(
      n, [&](size_t i, size_t count, hn::Vec<SumTag>* acc) TQDB_KERNEL_LAMBDA {
        acc[0] = FusedMulAdd(d, LoadFirst(d, a + i, count),
                             LoadFirst(d, b + i, count), acc[0]);
      });
}

HWY_INLINE float L2SqrImpl(const float* HWY_RESTRICT a,
                           const float* HWY_RESTRICT b, size_t n) {
  const SumTag d;
  return LaneSum(
      n, [&](size_t i, size_t count, hn::Vec<SumTag>* acc) TQDB_KERNEL_LAMBDA {
        const auto t =
            hn::Sub(LoadFirst(d, a + i, count), LoadFirst(d, b + i, count));
        acc[0] = FusedMulAdd(d, t, t, acc[0]);
      });
}

// Butterfly stages with stride h >= N combine whole vectors. Stages with
// h < N run inside each vector: partner lanes come from TableLookupLanes
// (lane i ^ h), lanes with bit h clear keep a + b and the others b' - a'
// (= x[i - h] - x[i]). Every element is the same single add or subtract of
// the same two operands as in the scalar reference, so the output is
// bit-identical on every target.
HWY_INLINE void FwhtImpl(float* HWY_RESTRICT x, size_t n, float scale) {
  const hn::ScalableTag<float> d;
  const hn::RebindToSigned<decltype(d)> di;
  const size_t N = hn::Lanes(d);
  size_t h = 1;
  if (n >= N && N > 1) {
    // In-register stages h = 1, 2, ..., N/2.
    constexpr size_t kMaxLanes = HWY_MAX_BYTES / sizeof(float);
    constexpr size_t kMaxStages = 5;  // log2(16) + 1 is plenty
    using Idx =
        decltype(hn::SetTableIndices(d, static_cast<int32_t*>(nullptr)));
    using Mask = decltype(hn::FirstN(d, 0));
    HWY_ALIGN int32_t lanes[kMaxLanes];
    Idx idx[kMaxStages];
    Mask upper[kMaxStages];
    size_t stages = 0;
    const auto iota = hn::Iota(di, 0);
    for (size_t hh = 1; hh < N && stages < kMaxStages; hh *= 2, ++stages) {
      for (size_t i = 0; i < N; ++i) lanes[i] = static_cast<int32_t>(i ^ hh);
      idx[stages] = hn::SetTableIndices(d, lanes);
      const auto bit = hn::And(iota, hn::Set(di, static_cast<int32_t>(hh)));
      upper[stages] = hn::RebindMask(d, bit != hn::Zero(di));
    }
    for (size_t i = 0; i < n; i += N) {
      auto v = hn::LoadU(d, x + i);
      for (size_t s = 0; s < stages; ++s) {
        const auto p = hn::TableLookupLanes(v, idx[s]);
        v = hn::IfThenElse(upper[s], hn::Sub(p, v), hn::Add(v, p));
      }
      hn::StoreU(v, d, x + i);
    }
    h = N;
  }
  for (; h < n && h < N; h *= 2) {
    for (size_t i = 0; i < n; i += 2 * h) {
      for (size_t j = i; j < i + h; ++j) {
        const float a = x[j];
        const float b = x[j + h];
        x[j] = a + b;
        x[j + h] = a - b;
      }
    }
  }
  for (; h < n; h *= 2) {
    for (size_t i = 0; i < n; i += 2 * h) {
      for (size_t j = i; j < i + h; j += N) {
        const auto a = hn::LoadU(d, x + j);
        const auto b = hn::LoadU(d, x + j + h);
        hn::StoreU(hn::Add(a, b), d, x + j);
        hn::StoreU(hn::Sub(a, b), d, x + j + h);
      }
    }
  }
  const auto vs = hn::Set(d, scale);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    hn::StoreU(hn::Mul(hn::LoadU(d, x + i), vs), d, x + i);
  }
  for (; i < n; ++i) x[i] *= scale;
}

HWY_INLINE void PermuteSignsImpl(const float* HWY_RESTRICT x,
                                 const uint32_t* HWY_RESTRICT perm,
                                 const float* HWY_RESTRICT signs, size_t n,
                                 float* HWY_RESTRICT y) {
  const hn::ScalableTag<float> d;
  const hn::RebindToSigned<decltype(d)> di;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto idx = hn::LoadU(di, reinterpret_cast<const int32_t*>(perm + i));
    const auto v = hn::GatherIndex(d, x, idx);
    hn::StoreU(hn::Mul(v, hn::LoadU(d, signs + i)), d, y + i);
  }
  for (; i < n; ++i) y[i] = x[perm[i]] * signs[i];
}

HWY_INLINE void QuantizeImpl(const float* HWY_RESTRICT y, size_t n,
                             const float* HWY_RESTRICT thresholds, int bits,
                             uint8_t* HWY_RESTRICT idx) {
  const hn::ScalableTag<float> d;
  const hn::RebindToSigned<decltype(d)> di;
  const hn::Rebind<uint8_t, decltype(di)> du8;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  if (bits <= 4) {
    // Few thresholds: count them with broadcast compares (no gathers).
    const int nt = (1 << bits) - 1;
    for (; i + N <= n; i += N) {
      const auto v = hn::LoadU(d, y + i);
      auto k = hn::Zero(di);
      for (int t = 0; t < nt; ++t) {
        const auto gt = hn::RebindMask(di, v > hn::Set(d, thresholds[t]));
        k = hn::Sub(k, hn::VecFromMask(di, gt));  // true lanes are -1
      }
      hn::StoreU(hn::DemoteTo(du8, k), du8, idx + i);
    }
  }
  for (; i + N <= n; i += N) {
    const auto v = hn::LoadU(d, y + i);
    auto k = hn::Zero(di);
    for (int32_t step = 1 << (bits - 1); step > 0; step >>= 1) {
      const auto t = hn::GatherIndex(d, thresholds + step - 1, k);
      const auto gt = hn::RebindMask(di, v > t);
      k = hn::IfThenElse(gt, hn::Add(k, hn::Set(di, step)), k);
    }
    hn::StoreU(hn::DemoteTo(du8, k), du8, idx + i);
  }
  for (; i < n; ++i) {
    uint32_t k = 0;
    for (uint32_t step = 1u << (bits - 1); step > 0; step >>= 1) {
      if (y[i] > thresholds[k + step - 1]) k += step;
    }
    idx[i] = static_cast<uint8_t>(k);
  }
}

HWY_INLINE float DotLutImpl(const float* HWY_RESTRICT q,
                            const uint8_t* HWY_RESTRICT idx,
                            const float* HWY_RESTRICT table, size_t n) {
  const SumTag d;
  const hn::RebindToSigned<decltype(d)> di;
  const hn::Rebind<uint8_t, decltype(di)> du8;
  return LaneSum(
      n, [&](size_t i, size_t count, hn::Vec<SumTag>* acc) TQDB_KERNEL_LAMBDA {
        // Padding lanes gather table[0]: in bounds, and not kept.
        const auto k = hn::PromoteTo(di, LoadFirst(du8, idx + i, count));
        acc[0] = FusedMulAdd(d, LoadFirst(d, q + i, count),
                             hn::GatherIndex(d, table, k), acc[0]);
      });
}

HWY_INLINE float MaskedSumImpl(const float* HWY_RESTRICT q,
                               const uint8_t* HWY_RESTRICT bits, size_t n) {
  const SumTag d;
  return LaneSum(
      n, [&](size_t i, size_t count, hn::Vec<SumTag>* acc) TQDB_KERNEL_LAMBDA {
        // Bits i .. i + count - 1 (count <= 16, i a multiple of N) lie in
        // the bytes from bits + i / 8 that this reads.
        uint32_t w = 0;
        std::memcpy(&w, bits + i / 8, (count + (i & 7) + 7) / 8);  // LE
        w >>= (i & 7);
        uint8_t mb[8] = {};
        std::memcpy(mb, &w, sizeof(w));
        const auto mask = hn::LoadMaskBits(d, mb);
        acc[0] = hn::Add(acc[0],
                         hn::IfThenElseZero(mask, LoadFirst(d, q + i, count)));
      });
}

// Keeps v in a register where the compiler would otherwise fold its load
// into each use: on AVX2 the rows sharing an x chunk then load it once, not
// once a row (loads, not multiply-adds, bound this kernel there).
template <class V>
HWY_INLINE void KeepInRegister(V& v) {
#if HWY_TARGET == HWY_AVX2
  asm("" : "+x"(v.raw));
#else
  (void)v;
#endif
}

// y = m x for R rows of a row-major matrix of binary16 values (widened
// exactly), each chunk of x loaded once for them.
template <size_t R>
HWY_INLINE void MatVecF16RowsT(const uint16_t* HWY_RESTRICT m, size_t cols,
                               const float* HWY_RESTRICT x,
                               float* HWY_RESTRICT y) {
  const SumTag df;
  const hn::Rebind<hwy::float16_t, decltype(df)> dh;
  const hwy::float16_t* HWY_RESTRICT h =
      reinterpret_cast<const hwy::float16_t*>(m);
  LaneSums<R>(
      df, cols,
      [&](size_t i, size_t count, hn::Vec<SumTag>* acc) TQDB_KERNEL_LAMBDA {
        auto xv = LoadFirst(df, x + i, count);
        KeepInRegister(xv);
        for (size_t r = 0; r < R; ++r) {
          const auto row =
              hn::PromoteTo(df, LoadFirst(dh, h + r * cols + i, count));
          acc[r] = FusedMulAdd(df, row, xv, acc[r]);
        }
      },
      y);
}

HWY_INLINE void MatVecF16Impl(const uint16_t* HWY_RESTRICT m, size_t rows,
                              size_t cols, const float* HWY_RESTRICT x,
                              float* HWY_RESTRICT y) {
  constexpr size_t R = RowsAtOnce<SumTag>();
  size_t r = 0;
  for (; r + R <= rows; r += R) {
    MatVecF16RowsT<R>(m + r * cols, cols, x, y + r);
  }
  for (; r < rows; ++r) MatVecF16RowsT<1>(m + r * cols, cols, x, y + r);
}

// DotI8 of R rows at once (row r at c + r * stride), each chunk of q loaded
// once for all of them; every row's sum is DotI8's (the canonical sum).
template <size_t R>
HWY_INLINE void DotI8RowsT(const float* HWY_RESTRICT q,
                           const int8_t* HWY_RESTRICT c, size_t stride,
                           size_t n, float* HWY_RESTRICT out) {
  const SumTag df;
  const hn::RebindToSigned<decltype(df)> di;
  const hn::Rebind<int8_t, decltype(df)> d8;
  LaneSums<R>(
      df, n,
      [&](size_t i, size_t count, hn::Vec<SumTag>* acc) TQDB_KERNEL_LAMBDA {
        const auto qv = LoadFirst(df, q + i, count);
        for (size_t r = 0; r < R; ++r) {
          const auto cv = hn::ConvertTo(
              df, hn::PromoteTo(di, LoadFirst(d8, c + r * stride + i, count)));
          acc[r] = FusedMulAdd(df, qv, cv, acc[r]);
        }
      },
      out);
}

HWY_INLINE float L2SqrI8Impl(const float* HWY_RESTRICT q,
                             const int8_t* HWY_RESTRICT c, float scale,
                             size_t n) {
  const SumTag df;
  const hn::RebindToSigned<decltype(df)> di;
  const hn::Rebind<int8_t, decltype(df)> d8;
  const auto s = hn::Set(df, scale);
  return LaneSum(n, [&](size_t i, size_t count,
                        hn::Vec<SumTag>* acc) TQDB_KERNEL_LAMBDA {
    const auto x = hn::Mul(
        s, hn::ConvertTo(df, hn::PromoteTo(di, LoadFirst(d8, c + i, count))));
    const auto t = hn::Sub(LoadFirst(df, q + i, count), x);
    acc[0] = FusedMulAdd(df, t, t, acc[0]);
  });
}

HWY_INLINE float DotI8Impl(const float* HWY_RESTRICT q,
                           const int8_t* HWY_RESTRICT c, size_t n) {
  float sum;
  DotI8RowsT<1>(q, c, 0, n, &sum);
  return sum;
}

HWY_INLINE void DotI8RowsImpl(const float* HWY_RESTRICT q,
                              const int8_t* HWY_RESTRICT c, size_t stride,
                              size_t rows, size_t n, float* HWY_RESTRICT out) {
  constexpr size_t R = RowsAtOnce<SumTag>();
  size_t r = 0;
  for (; r + R <= rows; r += R) {
    DotI8RowsT<R>(q, c + r * stride, stride, n, out + r);
  }
  for (; r < rows; ++r) DotI8RowsT<1>(q, c + r * stride, stride, n, out + r);
}

#if HWY_TARGET != HWY_SCALAR  // one lane: no blocks to transpose
// The sums of v's 128-bit blocks, lane by lane, as the four lanes of out.
template <class D32>
HWY_INLINE void StoreBlockSums(D32 d32, hn::Vec<D32> v,
                               int32_t* HWY_RESTRICT out) {
  if constexpr (hn::MaxLanes(D32()) > 4) {
    const hn::Half<D32> dh;
    StoreBlockSums(dh, hn::Add(hn::LowerHalf(dh, v), hn::UpperHalf(dh, v)),
                   out);
  } else {
    hn::StoreU(v, d32, out);
  }
}

// The lane sums of a, b, c and e as the four lanes of out: a 4 x 4
// transpose by interleaving within 128-bit blocks, then the blocks added
// (a horizontal sum per row took a quarter of a 100-dimension row's time).
template <class D32, class V>
HWY_INLINE void StoreSumsOf4(D32 d32, V a, V b, V c, V e,
                             int32_t* HWY_RESTRICT out) {
  const hn::Repartition<int64_t, D32> d64;
  // Per block: (a0 + a2, b0 + b2, a1 + a3, b1 + b3), the same of c and e.
  const V ab =
      hn::Add(hn::InterleaveLower(d32, a, b), hn::InterleaveUpper(d32, a, b));
  const V ce =
      hn::Add(hn::InterleaveLower(d32, c, e), hn::InterleaveUpper(d32, c, e));
  const V lo = hn::BitCast(d32, hn::InterleaveLower(d64, hn::BitCast(d64, ab),
                                                    hn::BitCast(d64, ce)));
  const V hi = hn::BitCast(d32, hn::InterleaveUpper(d64, hn::BitCast(d64, ab),
                                                    hn::BitCast(d64, ce)));
  StoreBlockSums(d32, hn::Add(lo, hi), out);
}
#endif

// sums[r] = the lane sum of acc0[r] + acc1[r].
template <size_t R, class D32, class V>
HWY_INLINE void LaneSums(D32 d32, const V* acc0, const V* acc1,
                         int32_t* HWY_RESTRICT sums) {
#if HWY_TARGET != HWY_SCALAR
  if constexpr (R == 4) {
    StoreSumsOf4(d32, hn::Add(acc0[0], acc1[0]), hn::Add(acc0[1], acc1[1]),
                 hn::Add(acc0[2], acc1[2]), hn::Add(acc0[3], acc1[3]), sums);
    return;
  }
#endif
  for (size_t r = 0; r < R; ++r) {
    sums[r] = hn::GetLane(hn::SumOfLanes(d32, hn::Add(acc0[r], acc1[r])));
  }
}

// DotI16I8 of R rows at once, each q chunk loaded once: int16 products
// summed pairwise into int32 lanes, exact in any order. The last partial
// chunk is the vector ending at n, its lanes already summed zeroed in q
// (no read past n; a scalar loop there took a third of a 100-dimension
// row's time).
template <size_t R>
HWY_INLINE void DotI16I8RowsT(const int16_t* HWY_RESTRICT q,
                              const int8_t* HWY_RESTRICT c, size_t stride,
                              size_t n, int32_t* HWY_RESTRICT out) {
  const hn::ScalableTag<int16_t> d16;
  const hn::Repartition<int32_t, decltype(d16)> d32;
  const hn::Rebind<int8_t, decltype(d16)> d8;
  const size_t N = hn::Lanes(d16);
  decltype(hn::Zero(d32)) acc0[R], acc1[R];
  for (size_t r = 0; r < R; ++r) acc0[r] = acc1[r] = hn::Zero(d32);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto qv = hn::LoadU(d16, q + i);
    for (size_t r = 0; r < R; ++r) {
      const auto cv = hn::PromoteTo(d16, hn::LoadU(d8, c + r * stride + i));
      acc0[r] = hn::ReorderWidenMulAccumulate(d32, qv, cv, acc0[r], acc1[r]);
    }
  }
  size_t scalar_from = n;
  if (i < n) {
    if (i > 0) {
      const size_t start = n - N;
      const auto qv = hn::IfThenZeroElse(hn::FirstN(d16, i - start),
                                         hn::LoadU(d16, q + start));
      for (size_t r = 0; r < R; ++r) {
        const auto cv =
            hn::PromoteTo(d16, hn::LoadU(d8, c + r * stride + start));
        acc0[r] = hn::ReorderWidenMulAccumulate(d32, qv, cv, acc0[r], acc1[r]);
      }
    } else {
      scalar_from = 0;  // shorter than a vector
    }
  }
  int32_t sums[R];
  LaneSums<R>(d32, acc0, acc1, sums);
  for (size_t r = 0; r < R; ++r) {
    const int8_t* row = c + r * stride;
    int32_t s = sums[r];
    for (size_t j = scalar_from; j < n; ++j) s += int32_t{q[j]} * row[j];
    out[r] = s;
  }
}

HWY_INLINE void DotI16I8RowsImpl(const int16_t* HWY_RESTRICT q,
                                 const int8_t* HWY_RESTRICT c, size_t stride,
                                 size_t rows, size_t n,
                                 int32_t* HWY_RESTRICT out) {
  size_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    DotI16I8RowsT<4>(q, c + r * stride, stride, n, out + r);
  }
  for (; r < rows; ++r) {
    DotI16I8RowsT<1>(q, c + r * stride, stride, n, out + r);
  }
}

// The rows of m a band at a time, over all of x: the band (up to
// kBandBytes) stays in cache while x streams by, where a pass over the
// whole triangle a row of x read d^2 / 2 doubles from memory (d = 512:
// 1 MB a row). Each entry still takes its terms in row order.
HWY_INLINE void SecondMomentUpperImpl(const float* HWY_RESTRICT x, size_t n,
                                      size_t d, const double* HWY_RESTRICT w,
                                      double* HWY_RESTRICT m) {
  const hn::ScalableTag<double> dd;
  const hn::Rebind<float, decltype(dd)> df;
  const size_t N = hn::Lanes(dd);
  constexpr size_t kBandBytes = size_t{128} << 10;
  const size_t band = std::max<size_t>(1, kBandBytes / (sizeof(double) * d));
  for (size_t a0 = 0; a0 < d; a0 += band) {
    const size_t a1 = std::min(d, a0 + band);
    for (size_t i = 0; i < n; ++i) {
      if (w[i] == 0) continue;
      const float* HWY_RESTRICT r = x + i * d;
      for (size_t a = a0; a < a1; ++a) {
        const double ra = r[a] * w[i];
        const auto vra = hn::Set(dd, ra);
        double* HWY_RESTRICT row = m + a * d;
        size_t b = a;
        for (; b + N <= d; b += N) {
          const auto xb = hn::PromoteTo(dd, hn::LoadU(df, r + b));
          hn::StoreU(hn::Add(hn::LoadU(dd, row + b), hn::Mul(vra, xb)), dd,
                     row + b);
        }
        for (; b < d; ++b) row[b] += ra * r[b];
      }
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace kernels
}  // namespace tqdb
HWY_AFTER_NAMESPACE();

#endif  // TQDB_QUANT_KERNELS_INL_H_
