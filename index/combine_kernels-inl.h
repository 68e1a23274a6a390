// Per-target body of scan::CombineMask and scan::CombineRange
// (index/scan_kernels.h), the full layout's scores from the kernel's sums:
// included by index/scan_kernels-inl.h, once per target, after the helpers
// it uses (MaskBits).

#if defined(TQDB_INDEX_COMBINE_KERNELS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TQDB_INDEX_COMBINE_KERNELS_INL_H_
#undef TQDB_INDEX_COMBINE_KERNELS_INL_H_
#else
#define TQDB_INDEX_COMBINE_KERNELS_INL_H_
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "hwy/highway.h"
#include "index/scan_kernels.h"

HWY_BEFORE_NAMESPACE();
namespace tqdb {
namespace scan {
namespace HWY_NAMESPACE {

namespace hn = hwy::HWY_NAMESPACE;

#if HWY_TARGET != HWY_SCALAR
// CombineMask's score, fixed at compile time: the generic loop tested the
// form, the score and the columns for every vector (and reloaded them: the
// goodness it stores may alias the parameters), six branches and a load
// for ten arithmetic instructions.
enum CombineScore : uint32_t { kScoreIp, kScoreL2, kScoreLutL2 };

// CombineMask for one block, form kForm, score kScore, with a centroid
// correction column or not: the same operations in the same order.
template <uint32_t kForm, uint32_t kScore, bool kCenter>
HWY_INLINE uint32_t CombineBlockT(
    const uint32_t* HWY_RESTRICT acc_a, const uint32_t* HWY_RESTRICT acc_b,
    const float* HWY_RESTRICT f0, const float* HWY_RESTRICT f1,
    const float* HWY_RESTRICT norm, const float* HWY_RESTRICT center_col,
    const CombineParams& p, float threshold, float* HWY_RESTRICT goodness) {
  // The scalar code's operations, in its order, lane-wise (the sums are
  // below 2^31, so converting them as int32 is exact as uint32 is).
  const hn::ScalableTag<float> df;
  const hn::RebindToSigned<decltype(df)> di;
  constexpr size_t N = hn::MaxLanes(df);
  static_assert(N <= 32 && 32 % N == 0, "unexpected vector size");
  const auto a_scale = hn::Set(df, p.a_scale), a_bias = hn::Set(df, p.a_bias);
  const auto b_scale = hn::Set(df, p.b_scale), b_bias = hn::Set(df, p.b_bias);
  const auto kappa = hn::Set(df, p.kappa), base = hn::Set(df, p.base);
  const auto center = hn::Set(df, p.center);
  const auto two = hn::Set(df, 2.0f), thr = hn::Set(df, threshold);
  const bool norm_squared = p.norm_squared;
  auto load_sums = [&](const uint32_t* HWY_RESTRICT x) {
    return hn::ConvertTo(df,
                         hn::LoadU(di, reinterpret_cast<const int32_t*>(x)));
  };
  uint32_t mask = 0;
  for (size_t v = 0; v < 32; v += N) {
    const auto a = hn::Add(hn::Mul(a_scale, load_sums(acc_a + v)), a_bias);
    auto est = a;
    if constexpr (kForm == CombineParams::kScaled) {
      est = hn::Mul(hn::LoadU(df, f0 + v), a);
    } else if constexpr (kForm == CombineParams::kScaled2) {
      est = hn::Mul(hn::Mul(hn::LoadU(df, f0 + v), hn::LoadU(df, f1 + v)), a);
    } else if constexpr (kForm == CombineParams::kSketch) {
      auto b = hn::Zero(df);
      if (acc_b != nullptr) {
        b = hn::Add(hn::Mul(b_scale, load_sums(acc_b + v)), b_bias);
      }
      est = hn::Mul(
          hn::LoadU(df, f0 + v),
          hn::Add(a, hn::Mul(hn::Mul(kappa, hn::LoadU(df, f1 + v)), b)));
    }
    decltype(est) g;
    if constexpr (kScore == kScoreLutL2) {
      g = hn::Neg(est);
    } else if constexpr (kScore == kScoreL2) {
      auto n = hn::Zero(df);
      if (norm != nullptr) {
        n = hn::LoadU(df, norm + v);
        if (!norm_squared) n = hn::Mul(n, n);
      }
      auto e = est;
      if constexpr (kCenter) {
        e = hn::Add(est, hn::Mul(center, hn::LoadU(df, center_col + v)));
      }
      g = hn::Neg(hn::Sub(hn::Add(base, n), hn::Mul(two, e)));
    } else if constexpr (kCenter) {
      g = hn::Add(hn::Add(base, hn::Mul(center, hn::LoadU(df, center_col + v))),
                  est);
    } else {
      g = hn::Add(base, est);
    }
    hn::StoreU(g, df, goodness + v);
    mask |= MaskBits(df, hn::Gt(g, thr)) << v;
  }
  return mask;
}

// Calls f(form, score, center) with CombineBlockT's template arguments as
// std::integral_constant values, for p and a centroid column or not.
template <class F>
HWY_INLINE uint32_t WithCombineKind(const CombineParams& p, bool has_center,
                                    F&& f) {
  auto with_score = [&](auto form) {
    auto with_center = [&](auto score) {
      return has_center ? f(form, score, std::true_type())
                        : f(form, score, std::false_type());
    };
    if (p.lut_l2) {
      return with_center(std::integral_constant<uint32_t, kScoreLutL2>());
    }
    if (p.l2) return with_center(std::integral_constant<uint32_t, kScoreL2>());
    return with_center(std::integral_constant<uint32_t, kScoreIp>());
  };
  switch (p.form) {
    case CombineParams::kScaled:
      return with_score(
          std::integral_constant<uint32_t, CombineParams::kScaled>());
    case CombineParams::kScaled2:
      return with_score(
          std::integral_constant<uint32_t, CombineParams::kScaled2>());
    case CombineParams::kSketch:
      return with_score(
          std::integral_constant<uint32_t, CombineParams::kSketch>());
    default:
      return with_score(
          std::integral_constant<uint32_t, CombineParams::kSum>());
  }
}
#endif

HWY_INLINE uint32_t CombineMaskImpl(
    const uint32_t* HWY_RESTRICT acc_a, const uint32_t* HWY_RESTRICT acc_b,
    const float* HWY_RESTRICT f0, const float* HWY_RESTRICT f1,
    const float* HWY_RESTRICT norm, const float* HWY_RESTRICT center_col,
    const CombineParams& p, float threshold, float* HWY_RESTRICT goodness) {
#if HWY_TARGET == HWY_SCALAR
  return scalar::CombineMask(acc_a, acc_b, f0, f1, norm, center_col, p,
                             threshold, goodness);
#else
  return WithCombineKind(
      p, center_col != nullptr,
      [&](auto form, auto score, auto center) -> uint32_t {
        return CombineBlockT<decltype(form)::value, decltype(score)::value,
                             decltype(center)::value>(
            acc_a, acc_b, f0, f1, norm, center_col, p, threshold, goodness);
      });
#endif
}

HWY_INLINE uint32_t CombineRangeImpl(
    const uint32_t* HWY_RESTRICT acc_a, const uint32_t* HWY_RESTRICT acc_b,
    const FactorColumns& fc, uint32_t n, uint32_t first, const CombineParams& p,
    float threshold, float* HWY_RESTRICT goodness, uint32_t* mask) {
#if HWY_TARGET == HWY_SCALAR
  return scalar::CombineRange(acc_a, acc_b, fc, n, first, p, threshold,
                              goodness, mask);
#else
  return WithCombineKind(
      p, fc.center >= 0, [&](auto form, auto score, auto center) -> uint32_t {
        const uint32_t nblocks = (n + 31) / 32;
        for (uint32_t blk = first; blk < nblocks; ++blk) {
          const uint32_t count = std::min<uint32_t>(32, n - blk * 32);
          const uint32_t valid = count == 32 ? ~0u : (1u << count) - 1;
          const size_t at = size_t{blk} * 32;
          const float* block = fc.factors + size_t{blk} * fc.nfactors * 32;
          const uint32_t m =
              valid &
              CombineBlockT<decltype(form)::value, decltype(score)::value,
                            decltype(center)::value>(
                  acc_a + at, acc_b == nullptr ? nullptr : acc_b + at,
                  fc.f0 < 0 ? nullptr : block + 32 * fc.f0,
                  fc.f1 < 0 ? nullptr : block + 32 * fc.f1,
                  fc.norm < 0 ? nullptr : block + 32 * fc.norm,
                  fc.center < 0 ? nullptr : block + 32 * fc.center, p,
                  threshold, goodness);
          if (m != 0) {
            *mask = m;
            return blk;
          }
        }
        *mask = 0;
        return nblocks;
      });
#endif
}

}  // namespace HWY_NAMESPACE
}  // namespace scan
}  // namespace tqdb
HWY_AFTER_NAMESPACE();

#endif  // TQDB_INDEX_COMBINE_KERNELS_INL_H_
