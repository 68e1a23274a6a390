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

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "hwy/highway.h"
#include "quant/coding.h"

HWY_BEFORE_NAMESPACE();
namespace tqdb {
namespace kernels {
namespace HWY_NAMESPACE {

namespace hn = hwy::HWY_NAMESPACE;

HWY_INLINE float DotImpl(const float* HWY_RESTRICT a,
                         const float* HWY_RESTRICT b, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  auto acc0 = hn::Zero(d);
  auto acc1 = hn::Zero(d);
  size_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    acc0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), acc0);
    acc1 = hn::MulAdd(hn::LoadU(d, a + i + N), hn::LoadU(d, b + i + N), acc1);
  }
  for (; i + N <= n; i += N) {
    acc0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), acc0);
  }
  float s = hn::GetLane(hn::SumOfLanes(d, hn::Add(acc0, acc1)));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

HWY_INLINE float L2SqrImpl(const float* HWY_RESTRICT a,
                           const float* HWY_RESTRICT b, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  auto acc0 = hn::Zero(d);
  auto acc1 = hn::Zero(d);
  size_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    const auto t0 = hn::Sub(hn::LoadU(d, a + i), hn::LoadU(d, b + i));
    const auto t1 = hn::Sub(hn::LoadU(d, a + i + N), hn::LoadU(d, b + i + N));
    acc0 = hn::MulAdd(t0, t0, acc0);
    acc1 = hn::MulAdd(t1, t1, acc1);
  }
  for (; i + N <= n; i += N) {
    const auto t = hn::Sub(hn::LoadU(d, a + i), hn::LoadU(d, b + i));
    acc0 = hn::MulAdd(t, t, acc0);
  }
  float s = hn::GetLane(hn::SumOfLanes(d, hn::Add(acc0, acc1)));
  for (; i < n; ++i) {
    const float t = a[i] - b[i];
    s += t * t;
  }
  return s;
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
  const hn::ScalableTag<float> d;
  const hn::RebindToSigned<decltype(d)> di;
  const hn::Rebind<uint8_t, decltype(di)> du8;
  const size_t N = hn::Lanes(d);
  auto acc0 = hn::Zero(d);
  auto acc1 = hn::Zero(d);
  size_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    const auto k0 = hn::PromoteTo(di, hn::LoadU(du8, idx + i));
    const auto k1 = hn::PromoteTo(di, hn::LoadU(du8, idx + i + N));
    acc0 = hn::MulAdd(hn::LoadU(d, q + i), hn::GatherIndex(d, table, k0), acc0);
    acc1 = hn::MulAdd(hn::LoadU(d, q + i + N), hn::GatherIndex(d, table, k1),
                      acc1);
  }
  for (; i + N <= n; i += N) {
    const auto k0 = hn::PromoteTo(di, hn::LoadU(du8, idx + i));
    acc0 = hn::MulAdd(hn::LoadU(d, q + i), hn::GatherIndex(d, table, k0), acc0);
  }
  float s = hn::GetLane(hn::SumOfLanes(d, hn::Add(acc0, acc1)));
  for (; i < n; ++i) s += q[i] * table[idx[i]];
  return s;
}

HWY_INLINE float MaskedSumImpl(const float* HWY_RESTRICT q,
                               const uint8_t* HWY_RESTRICT bits, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  auto acc = hn::Zero(d);
  size_t i = 0;
  if (N <= 32) {
    // 64 elements per word; each vector takes N consecutive bits of it.
    for (; i + 64 <= n; i += 64) {
      uint64_t w;
      std::memcpy(&w, bits + i / 8, 8);  // little-endian hosts (x86, ARM)
      for (size_t j = 0; j < 64; j += N) {
        const uint64_t m = (w >> j);
        uint8_t mb[8];
        std::memcpy(mb, &m, 8);
        const auto mask = hn::LoadMaskBits(d, mb);
        acc = hn::Add(acc, hn::IfThenElseZero(mask, hn::LoadU(d, q + i + j)));
      }
    }
  }
  float s = hn::GetLane(hn::SumOfLanes(d, acc));
  for (; i < n; ++i) {
    if ((bits[i >> 3] >> (i & 7)) & 1) s += q[i];
  }
  return s;
}

// y = m x for a row-major matrix of `T` (float, or binary16 widened
// exactly), four rows at a time so that each chunk of x is loaded once.
template <typename T, class D, class Load>
HWY_INLINE void MatVecRows(D df, const T* HWY_RESTRICT m, size_t rows,
                           size_t cols, const float* HWY_RESTRICT x,
                           float* HWY_RESTRICT y, Load load,
                           float (*widen)(T)) {
  const size_t N = hn::Lanes(df);
  size_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const T* m0 = m + r * cols;
    auto a0 = hn::Zero(df), a1 = hn::Zero(df), a2 = hn::Zero(df),
         a3 = hn::Zero(df);
    size_t i = 0;
    for (; i + N <= cols; i += N) {
      const auto xv = hn::LoadU(df, x + i);
      a0 = hn::MulAdd(load(m0 + i), xv, a0);
      a1 = hn::MulAdd(load(m0 + cols + i), xv, a1);
      a2 = hn::MulAdd(load(m0 + 2 * cols + i), xv, a2);
      a3 = hn::MulAdd(load(m0 + 3 * cols + i), xv, a3);
    }
    float s[4] = {hn::GetLane(hn::SumOfLanes(df, a0)),
                  hn::GetLane(hn::SumOfLanes(df, a1)),
                  hn::GetLane(hn::SumOfLanes(df, a2)),
                  hn::GetLane(hn::SumOfLanes(df, a3))};
    for (; i < cols; ++i) {
      for (size_t k = 0; k < 4; ++k) s[k] += widen(m0[k * cols + i]) * x[i];
    }
    for (size_t k = 0; k < 4; ++k) y[r + k] = s[k];
  }
  for (; r < rows; ++r) {
    const T* mr = m + r * cols;
    auto a = hn::Zero(df);
    size_t i = 0;
    for (; i + N <= cols; i += N) {
      a = hn::MulAdd(load(mr + i), hn::LoadU(df, x + i), a);
    }
    float s = hn::GetLane(hn::SumOfLanes(df, a));
    for (; i < cols; ++i) s += widen(mr[i]) * x[i];
    y[r] = s;
  }
}

HWY_INLINE void MatVecF16Impl(const uint16_t* HWY_RESTRICT m, size_t rows,
                              size_t cols, const float* HWY_RESTRICT x,
                              float* HWY_RESTRICT y) {
  const hn::ScalableTag<float> df;
  const hn::Rebind<hwy::float16_t, decltype(df)> dh;
  MatVecRows(
      df, m, rows, cols, x, y,
      [&](const uint16_t* p) {
        return hn::PromoteTo(
            df, hn::LoadU(dh, reinterpret_cast<const hwy::float16_t*>(p)));
      },
      &HalfToFloat);
}

// DotI8 of R rows at once (row r at c + r * stride): each chunk of q is
// loaded once for all of them; every row's sums are formed in DotI8's
// order, so each result is bit-identical to DotI8Impl of that row.
template <size_t R>
HWY_INLINE void DotI8RowsT(const float* HWY_RESTRICT q,
                           const int8_t* HWY_RESTRICT c, size_t stride,
                           size_t n, float* HWY_RESTRICT out) {
  const hn::ScalableTag<float> df;
  const hn::RebindToSigned<decltype(df)> di;
  const hn::Rebind<int8_t, decltype(df)> d8;
  const size_t N = hn::Lanes(df);
  auto widen = [&](const int8_t* p) {
    return hn::ConvertTo(df, hn::PromoteTo(di, hn::LoadU(d8, p)));
  };
  decltype(hn::Zero(df)) acc0[R], acc1[R];
  for (size_t r = 0; r < R; ++r) acc0[r] = acc1[r] = hn::Zero(df);
  size_t i = 0;
  for (; i + 2 * N <= n; i += 2 * N) {
    const auto q0 = hn::LoadU(df, q + i);
    const auto q1 = hn::LoadU(df, q + i + N);
    for (size_t r = 0; r < R; ++r) {
      const int8_t* row = c + r * stride;
      acc0[r] = hn::MulAdd(q0, widen(row + i), acc0[r]);
      acc1[r] = hn::MulAdd(q1, widen(row + i + N), acc1[r]);
    }
  }
  for (; i + N <= n; i += N) {
    const auto q0 = hn::LoadU(df, q + i);
    for (size_t r = 0; r < R; ++r) {
      acc0[r] = hn::MulAdd(q0, widen(c + r * stride + i), acc0[r]);
    }
  }
  for (size_t r = 0; r < R; ++r) {
    const int8_t* row = c + r * stride;
    float s = hn::GetLane(hn::SumOfLanes(df, hn::Add(acc0[r], acc1[r])));
    for (size_t j = i; j < n; ++j) s += q[j] * static_cast<float>(row[j]);
    out[r] = s;
  }
}

HWY_INLINE float DotI8Impl(const float* HWY_RESTRICT q,
                           const int8_t* HWY_RESTRICT c, size_t n) {
  float s;
  DotI8RowsT<1>(q, c, 0, n, &s);
  return s;
}

HWY_INLINE void DotI8RowsImpl(const float* HWY_RESTRICT q,
                              const int8_t* HWY_RESTRICT c, size_t stride,
                              size_t rows, size_t n, float* HWY_RESTRICT out) {
  size_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    DotI8RowsT<4>(q, c + r * stride, stride, n, out + r);
  }
  for (; r < rows; ++r) DotI8RowsT<1>(q, c + r * stride, stride, n, out + r);
}

// DotI16I8 of R rows at once, each q chunk loaded once: int16 products
// summed pairwise into int32 lanes, exact in any order.
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
  for (size_t r = 0; r < R; ++r) {
    const int8_t* row = c + r * stride;
    int32_t s = hn::GetLane(hn::SumOfLanes(d32, hn::Add(acc0[r], acc1[r])));
    for (size_t j = i; j < n; ++j) s += int32_t{q[j]} * row[j];
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

}  // namespace HWY_NAMESPACE
}  // namespace kernels
}  // namespace tqdb
HWY_AFTER_NAMESPACE();

#endif  // TQDB_QUANT_KERNELS_INL_H_
