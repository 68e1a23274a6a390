// Per-target test of the FastScan kernel against its scalar reference.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <vector>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "tests/index/scan_kernels_test.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/tests/hwy_gtest.h"
#include "index/scan_kernels-inl.h"
#include "index/scan_kernels.h"
#include "quant/random.h"
#include "tests/out_of_line-inl.h"

// Defined once, not per target (this file is included once per target).
#ifndef TQDB_TESTS_INDEX_SCAN_KERNELS_TEST_ONCE_
#define TQDB_TESTS_INDEX_SCAN_KERNELS_TEST_ONCE_
namespace tqdb {
namespace scan {
// Random bound parameters for trial number `trial`: inner product (gain 1)
// on even trials, L2 (gain 2) on odd ones, norms squared on every fourth.
template <class Uniform>
BoundParams RandomBoundParams(int trial, Uniform& uniform) {
  BoundParams p;
  p.lut_scale = uniform(1e-4f, 1e-2f);
  p.lut_bias = uniform(-5.0f, 5.0f);
  p.lut_allow = uniform(0.0f, 0.5f);
  p.w_err = uniform(0.0f, 1.0f);
  p.base = uniform(-1.0f, 1.0f);
  p.l2 = trial % 2 == 1;
  p.gain = p.l2 ? 2.0f : 1.0f;
  p.norm_squared = trial % 4 == 1;
  p.center = uniform(-2.0f, 2.0f);
  return p;
}

}  // namespace scan
}  // namespace tqdb
#endif

HWY_BEFORE_NAMESPACE();
namespace tqdb {
namespace scan {
namespace HWY_NAMESPACE {

using testing_util::HWY_NAMESPACE::OutOfLine;

void TestAccumulateMatchesScalar() {
  Rng rng(5);
  // npairs up to 400 (800 sub-quantizers) crosses several uint16 flushes;
  // up to 128 the sums go out without one (extreme tables at the limit and
  // one past it). Odd counts leave 64-byte vectors a last half vector.
  for (size_t npairs :
       {size_t{2}, size_t{3}, size_t{4}, size_t{6}, size_t{64}, size_t{128},
        size_t{129}, size_t{130}, size_t{258}, size_t{400}}) {
    const bool extreme = npairs == 128 || npairs == 129 || npairs == 400;
    for (size_t nblocks : {size_t{1}, size_t{3}}) {
      std::vector<uint8_t> codes(nblocks * npairs * 32);
      for (auto& c : codes) c = static_cast<uint8_t>(rng.Next());
      std::vector<uint8_t> lo(npairs * 32), hi(npairs * 32);
      for (size_t p = 0; p < npairs; ++p) {
        for (int c = 0; c < 16; ++c) {
          // Extreme tables (all 255) check that no accumulator overflows.
          const uint8_t a = extreme ? 255 : static_cast<uint8_t>(rng.Next());
          const uint8_t b = extreme ? 255 : static_cast<uint8_t>(rng.Next());
          lo[p * 32 + c] = lo[p * 32 + 16 + c] = a;
          hi[p * 32 + c] = hi[p * 32 + 16 + c] = b;
        }
      }
      std::vector<uint32_t> got(nblocks * 32), want(nblocks * 32);
      OutOfLine<AccumulateListImpl>(codes.data(), nblocks, npairs, lo.data(),
                                    hi.data(), got.data(), nullptr);
      scalar::AccumulateList(codes.data(), nblocks, npairs, lo.data(),
                             hi.data(), want.data());
      ASSERT_EQ(got, want) << "npairs=" << npairs << " nblocks=" << nblocks;
      if (extreme) {
        EXPECT_EQ(want[0], npairs * 2 * 255);
      }
    }
  }
}

// The multi-query kernel against the scalar kernel run query by query:
// 1..4 queries with their own tables (extreme ones at 400 pairs, past
// several uint16 flushes), and the output of each left where it belongs.
void TestAccumulateMultiMatchesScalar() {
  Rng rng(7);
  for (size_t npairs : {size_t{2}, size_t{4}, size_t{50}, size_t{51},
                        size_t{128}, size_t{130}, size_t{258}, size_t{400}}) {
    for (size_t nblocks : {size_t{1}, size_t{4}}) {
      std::vector<uint8_t> codes(nblocks * npairs * 32);
      for (auto& c : codes) c = static_cast<uint8_t>(rng.Next());
      for (size_t nq = 1; nq <= kMaxMultiQueries; ++nq) {
        std::vector<std::vector<uint8_t>> lo(nq), hi(nq);
        std::vector<std::vector<uint32_t>> got(nq);
        const uint8_t* lo_p[kMaxMultiQueries];
        const uint8_t* hi_p[kMaxMultiQueries];
        uint32_t* out_p[kMaxMultiQueries];
        for (size_t q = 0; q < nq; ++q) {
          lo[q].resize(npairs * 32);
          hi[q].resize(npairs * 32);
          for (size_t p = 0; p < npairs; ++p) {
            for (int c = 0; c < 16; ++c) {
              const bool extreme =
                  (npairs == 128 || npairs == 400) && q % 2 == 0;
              const uint8_t a =
                  extreme ? 255 : static_cast<uint8_t>(rng.Next());
              const uint8_t b =
                  extreme ? 255 : static_cast<uint8_t>(rng.Next());
              lo[q][p * 32 + c] = lo[q][p * 32 + 16 + c] = a;
              hi[q][p * 32 + c] = hi[q][p * 32 + 16 + c] = b;
            }
          }
          got[q].assign(nblocks * 32, 12345u);
          lo_p[q] = lo[q].data();
          hi_p[q] = hi[q].data();
          out_p[q] = got[q].data();
        }
        OutOfLine<AccumulateListMultiImpl>(codes.data(), nblocks, npairs, nq,
                                           lo_p, hi_p, out_p);
        for (size_t q = 0; q < nq; ++q) {
          std::vector<uint32_t> want(nblocks * 32);
          scalar::AccumulateList(codes.data(), nblocks, npairs, lo[q].data(),
                                 hi[q].data(), want.data());
          ASSERT_EQ(got[q], want)
              << "npairs=" << npairs << " nblocks=" << nblocks << " nq=" << nq
              << " query " << q;
        }
      }
    }
  }
}

// RefineDot against the scalar code and against the sum written from the
// indices (which also checks PackRefineRow and PackRefinePrefix): uniform
// widths 1..8, mixed non-increasing widths (chunks of several widths),
// tails, extreme levels and weights at the overflow budget, each without
// a prefix and with random chunk prefixes (T of 0, 1, 2, 4).
void TestRefineDotMatchesScalar() {
  Rng rng(11);
  for (uint32_t k : {1u, 5u, 31u, 32u, 33u, 100u, 256u, 469u, 512u, 777u}) {
    for (int pattern = 0; pattern <= 9; ++pattern) {
      std::vector<uint8_t> width(k);
      for (uint32_t j = 0; j < k; ++j) {
        if (pattern <= 7) {
          width[j] = static_cast<uint8_t>(pattern + 1);
        } else {
          // Non-increasing, every width 8..1 in runs of random length.
          width[j] = static_cast<uint8_t>(8 - (j * 8) / k);
        }
      }
      if (pattern == 9) {
        for (uint32_t j = 0; j < k; ++j) {
          width[j] = static_cast<uint8_t>(
              std::max<int>(1, 8 - static_cast<int>(rng.Next() % 3) -
                                   static_cast<int>((j * 6) / k)));
        }
        std::sort(width.begin(), width.end(), std::greater<uint8_t>());
      }
      // Antisymmetric levels, as codebooks symmetric about 0 give.
      std::vector<int32_t> lq[9];
      for (uint32_t b = 1; b <= 8; ++b) {
        const uint32_t size = 1u << b;
        lq[b].resize(size);
        for (uint32_t i = size / 2; i < size; ++i) {
          const int32_t v = pattern == 3
                                ? ((i % 2) ? 4096 : 0)
                                : static_cast<int32_t>(rng.Next() % 4097);
          lq[b][i] = v;
          lq[b][size - 1 - i] = -v;
        }
      }
      for (int with_prefix = 0; with_prefix <= 1; ++with_prefix) {
        std::vector<uint8_t> chunk_prefix;
        for (uint32_t c = 0; with_prefix && c < k / kRefineChunk; ++c) {
          const uint32_t bits = width[c * kRefineChunk];
          uint32_t pre = 0;
          do {
            pre = std::vector<uint32_t>{0, 1, 2, 4}[rng.Next() % 4];
          } while (pre > bits);
          chunk_prefix.push_back(static_cast<uint8_t>(pre));
        }
        const RefineTables t = BuildRefineTables(width, lq, chunk_prefix);
        ASSERT_EQ(t.k, k);
        // Weights within the budget: sum |wq| * 4096 < 2^31.
        std::vector<int16_t> wq(k);
        const int64_t cap = std::min<int64_t>(32767, 524287 / k);
        for (auto& w : wq) {
          w = static_cast<int16_t>(
              static_cast<int64_t>(rng.Next() % (2 * cap + 1)) - cap);
        }
        std::vector<uint8_t> idx(k), row(t.row_bytes), prefix(t.prefix_bytes);
        for (int trial = 0; trial < 8; ++trial) {
          for (uint32_t j = 0; j < k; ++j) {
            idx[j] = static_cast<uint8_t>(rng.Next() % (1u << width[j]));
          }
          PackRefineRow(t, idx.data(), row.data());
          PackRefinePrefix(t, idx.data(), prefix.data());
          int64_t want = 0;
          for (uint32_t j = 0; j < k; ++j) {
            want += int64_t{wq[RefineSlot(t, j)]} * lq[width[j]][idx[j]];
          }
          ASSERT_EQ(scalar::RefineDot(prefix.data(), row.data(), t, wq.data()),
                    want)
              << "k=" << k << " pattern=" << pattern << " prefix "
              << with_prefix;
          ASSERT_EQ(
              OutOfLine<RefineDotImpl>(prefix.data(), row.data(), t, wq.data()),
              want)
              << "k=" << k << " pattern=" << pattern << " prefix "
              << with_prefix;
        }
      }
    }
  }
}

// BoundMask: the same bounds, bit for bit, and the same mask as the
// scalar code, for inner products (with a centroid correction column or
// not) and L2 (norms squared or not, absent).
void TestBoundMaskMatchesScalar() {
  Rng rng(17);
  auto uniform = [&](float lo, float hi) {
    return lo + (hi - lo) * static_cast<float>(rng.Next() % 1000001) / 1e6f;
  };
  for (int trial = 0; trial < 400; ++trial) {
    uint32_t acc[32];
    uint16_t g2[32], cen[32];
    float g1[32], norm[32];
    for (int v = 0; v < 32; ++v) {
      acc[v] = static_cast<uint32_t>(rng.Next() % 70000);
      cen[v] = Bf16Nearest(uniform(-0.5f, 0.5f));
      g1[v] = uniform(-0.5f, 3.0f);
      g2[v] = Bf16Away(trial % 7 == 0 && v == 3
                           ? std::numeric_limits<float>::infinity()
                           : uniform(0.0f, 0.5f));
      norm[v] = uniform(0.0f, 2.0f);
    }
    const BoundParams p = RandomBoundParams(trial, uniform);
    const float* nptr = trial % 8 == 5 ? nullptr : norm;
    const uint16_t* cptr = trial % 3 == 0 ? cen : nullptr;
    // Thresholds among the bounds (their means), so both bit values occur.
    float ub_want[32], ub_got[32], lb_want[32], lb_got[32];
    scalar::BoundMask(acc, g1, g2, nptr, cptr, p, 0.0f, 0.0f, ub_want, lb_want);
    float thr = 0.0f, lb_thr = 0.0f;
    for (int v = 0; v < 32; ++v) {
      if (std::isfinite(ub_want[v])) thr += ub_want[v] / 32;
      if (std::isfinite(lb_want[v])) lb_thr += lb_want[v] / 32;
    }
    const BoundBits want = scalar::BoundMask(acc, g1, g2, nptr, cptr, p, thr,
                                             lb_thr, ub_want, lb_want);
    const BoundBits got = OutOfLine<BoundMaskImpl>(acc, g1, g2, nptr, cptr, p,
                                                   thr, lb_thr, ub_got, lb_got);
    ASSERT_EQ(got.ub_above, want.ub_above) << "trial " << trial;
    ASSERT_EQ(got.lb_above, want.lb_above) << "trial " << trial;
    ASSERT_EQ(0, std::memcmp(ub_got, ub_want, sizeof(ub_got)))
        << "trial " << trial;
    ASSERT_EQ(0, std::memcmp(lb_got, lb_want, sizeof(lb_got)))
        << "trial " << trial;
    for (int v = 0; v < 32; ++v) {
      ASSERT_EQ((want.ub_above >> v) & 1, ub_want[v] > thr ? 1u : 0u);
      ASSERT_EQ((want.lb_above >> v) & 1, lb_want[v] > lb_thr ? 1u : 0u);
    }
  }
}

// UpperBounds: each block's upper bounds and mask as BoundMask gives them
// (the scalar code's, bit for bit), over a run of blocks of a list's
// blocked factor arrays, for inner products (with a centroid correction
// column or not) and L2; slots outside the run are not written.
void TestUpperBoundsMatchBoundMask() {
  Rng rng(29);
  auto uniform = [&](float lo, float hi) {
    return lo + (hi - lo) * static_cast<float>(rng.Next() % 1000001) / 1e6f;
  };
  constexpr size_t kBlocks = 7, kFloats = 3, kHalves = 2;
  for (int trial = 0; trial < 60; ++trial) {
    std::vector<uint32_t> acc(kBlocks * 32);
    std::vector<float> factors(kBlocks * kFloats * 32);
    std::vector<uint16_t> factors16(kBlocks * kHalves * 32);
    for (uint32_t& a : acc) a = static_cast<uint32_t>(rng.Next() % 70000);
    for (float& f : factors) f = uniform(-0.5f, 3.0f);
    for (size_t i = 0; i < factors16.size(); ++i) {
      factors16[i] = i / 32 % kHalves == 0 ? Bf16Away(uniform(0.0f, 0.5f))
                                           : Bf16Nearest(uniform(-0.5f, 0.5f));
    }
    BoundColumns bc;
    bc.factors = factors.data();
    bc.nfactors = kFloats;
    bc.factors16 = factors16.data();
    bc.nfactors16 = kHalves;
    bc.g1 = 2;
    bc.g2 = 0;
    bc.norm = trial % 4 == 1 ? 0 : -1;
    bc.center = trial % 3 == 0 ? 1 : -1;
    const BoundParams p = RandomBoundParams(trial, uniform);
    const size_t first = trial % 3, count = kBlocks - first - trial % 2;
    // A threshold among the bounds (their mean), so both bit values occur.
    float want_ub[32], lb[32];
    float thr = 0.0f;
    for (size_t b = first; b < first + count; ++b) {
      const float* f = &factors[b * kFloats * 32];
      const uint16_t* h = &factors16[b * kHalves * 32];
      scalar::BoundMask(&acc[b * 32], f + 2 * 32, h, bc.norm >= 0 ? f : nullptr,
                        bc.center >= 0 ? h + 32 : nullptr, p, 0.0f, 0.0f,
                        want_ub, lb);
      for (float u : want_ub) thr += u / static_cast<float>(32 * count);
    }
    std::vector<float> ub(kBlocks * 32, -7.0f);
    uint32_t masks[kBlocks];
    OutOfLine<UpperBoundsImpl>(acc.data(), bc, first, count, p, thr, ub.data(),
                               masks);
    for (size_t b = 0; b < kBlocks; ++b) {
      if (b < first || b >= first + count) {
        for (size_t v = 0; v < 32; ++v) ASSERT_EQ(ub[b * 32 + v], -7.0f);
        continue;
      }
      const float* f = &factors[b * kFloats * 32];
      const uint16_t* h = &factors16[b * kHalves * 32];
      const BoundBits want = scalar::BoundMask(
          &acc[b * 32], f + 2 * 32, h, bc.norm >= 0 ? f : nullptr,
          bc.center >= 0 ? h + 32 : nullptr, p, thr, thr, want_ub, lb);
      ASSERT_EQ(masks[b - first], want.ub_above)
          << "trial " << trial << " block " << b;
      ASSERT_EQ(0, std::memcmp(&ub[b * 32], want_ub, sizeof(want_ub)))
          << "trial " << trial << " block " << b;
    }
  }
}

// BlockMaxima: each block's largest sum, as the scalar code finds it.
void TestBlockMaximaMatchScalar() {
  Rng rng(31);
  constexpr size_t kBlocks = 11;
  for (int trial = 0; trial < 100; ++trial) {
    std::vector<uint32_t> acc(kBlocks * 32);
    for (uint32_t& a : acc) {
      // Sums up to 2^32 - 1: the comparison is unsigned.
      a = static_cast<uint32_t>(rng.Next() >> (trial % 2 == 0 ? 32 : 40));
    }
    uint32_t want[kBlocks], got[kBlocks];
    scalar::BlockMaxima(acc.data(), kBlocks, want);
    OutOfLine<BlockMaximaImpl>(acc.data(), kBlocks, got);
    for (size_t b = 0; b < kBlocks; ++b) {
      ASSERT_EQ(got[b], want[b]) << "trial " << trial << " block " << b;
      ASSERT_EQ(want[b], *std::max_element(&acc[b * 32], &acc[b * 32] + 32));
    }
  }
}

// CombineMask: the same scores, bit for bit, and the same mask as the
// scalar code, for every form and score (inner product or L2 with a
// centroid correction column or not, L2 with norms squared or not or
// absent, L2 tables).
void TestCombineMaskMatchesScalar() {
  Rng rng(23);
  auto uniform = [&](float lo, float hi) {
    return lo + (hi - lo) * static_cast<float>(rng.Next() % 1000001) / 1e6f;
  };
  for (int trial = 0; trial < 800; ++trial) {
    uint32_t acc_a[32], acc_b[32];
    float f0[32], f1[32], norm[32], cen[32];
    for (int v = 0; v < 32; ++v) {
      acc_a[v] = static_cast<uint32_t>(rng.Next() % 200000);
      cen[v] = uniform(-0.5f, 0.5f);
      acc_b[v] = static_cast<uint32_t>(rng.Next() % 70000);
      f0[v] = uniform(0.0f, 3.0f);
      f1[v] = uniform(-1.0f, 2.0f);
      norm[v] = uniform(0.0f, 2.0f);
    }
    CombineParams p;
    p.form = static_cast<CombineParams::Form>(trial % 4);
    p.a_scale = uniform(1e-4f, 1e-2f);
    p.a_bias = uniform(-5.0f, 5.0f);
    p.b_scale = uniform(1e-4f, 1e-2f);
    p.b_bias = uniform(-5.0f, 5.0f);
    p.kappa = uniform(0.0f, 2.0f);
    p.base = uniform(-1.0f, 1.0f);
    const int score = (trial / 4) % 4;  // ip, l2, l2 squared norms, lut_l2
    p.l2 = score >= 1;
    p.norm_squared = score == 2;
    p.lut_l2 = score == 3;
    p.center = uniform(-2.0f, 2.0f);
    const float* nptr = trial % 16 == 5 ? nullptr : norm;
    const float* cptr = trial % 3 == 0 ? cen : nullptr;
    const uint32_t* bptr = trial % 8 == 3 ? nullptr : acc_b;
    float want_g[32], got_g[32];
    scalar::CombineMask(acc_a, bptr, f0, f1, nptr, cptr, p, 0.0f, want_g);
    // A threshold among the scores (the mean), so both bit values occur.
    float thr = 0.0f;
    for (int v = 0; v < 32; ++v) thr += want_g[v] / 32;
    const uint32_t want =
        scalar::CombineMask(acc_a, bptr, f0, f1, nptr, cptr, p, thr, want_g);
    const uint32_t got = OutOfLine<CombineMaskImpl>(acc_a, bptr, f0, f1, nptr,
                                                    cptr, p, thr, got_g);
    ASSERT_EQ(got, want) << "trial " << trial;
    ASSERT_NE(want, 0u) << "trial " << trial;
    ASSERT_NE(want, ~0u) << "trial " << trial;
    ASSERT_EQ(0, std::memcmp(got_g, want_g, sizeof(got_g)))
        << "trial " << trial;
  }
}

// CombineRange: the first block from `first` with a slot (below n) whose
// score beats the threshold, with its scores and slots, the same on every
// target as in the scalar code, and as CombineMask block by block finds
// it; the block count if there is none.
void TestCombineRangeMatchesScalar() {
  Rng rng(29);
  for (int trial = 0; trial < 200; ++trial) {
    const uint32_t n = 1 + static_cast<uint32_t>(rng.Next() % 300);
    const uint32_t nblocks = (n + 31) / 32;
    const uint32_t nf = 1 + trial % 3;
    std::vector<uint32_t> acc_a(nblocks * 32), acc_b(nblocks * 32);
    std::vector<float> factors(size_t{nblocks} * nf * 32);
    for (auto& a : acc_a) a = static_cast<uint32_t>(rng.Next() % 200000);
    for (auto& b : acc_b) b = static_cast<uint32_t>(rng.Next() % 70000);
    for (auto& f : factors) {
      f = static_cast<float>(rng.Next() % 1000001) / 5e5f;
    }
    CombineParams p;
    p.form =
        static_cast<CombineParams::Form>(nf == 1 ? trial % 2 : 2 + trial % 2);
    p.a_scale = 1e-3f;
    p.a_bias = -3.0f;
    p.b_scale = 2e-3f;
    p.kappa = 0.5f;
    p.base = 0.25f;
    p.l2 = trial % 5 == 1;
    p.lut_l2 = trial % 5 == 3;  // (every score: the kernel's per-score loops)
    p.center = -0.75f;
    FactorColumns fc;
    fc.factors = factors.data();
    fc.nfactors = nf;
    fc.f0 = 0;
    fc.f1 = nf > 1 ? 1 : -1;
    fc.norm = p.l2 ? static_cast<int32_t>(nf - 1) : -1;
    // (Under L2 the correction column shares factor 0's numbers.)
    fc.center = trial % 3 != 0 ? -1 : p.l2 ? 0 : static_cast<int32_t>(nf - 1);
    const uint32_t* bptr = trial % 4 == 3 ? nullptr : acc_b.data();
    // Block by block with CombineMask: which slots beat thr.
    auto block_mask = [&](uint32_t b, float thr, float* g) {
      const float* blk = factors.data() + size_t{b} * nf * 32;
      const uint32_t count = std::min<uint32_t>(32, n - b * 32);
      const uint32_t valid = count == 32 ? ~0u : (1u << count) - 1;
      return valid & scalar::CombineMask(
                         acc_a.data() + b * 32, bptr ? bptr + b * 32 : nullptr,
                         blk, fc.f1 < 0 ? nullptr : blk + 32 * fc.f1,
                         fc.norm < 0 ? nullptr : blk + 32 * fc.norm,
                         fc.center < 0 ? nullptr : blk + 32 * fc.center, p, thr,
                         g);
    };
    // Thresholds from "a tenth of the slots" to "none" (the maximum).
    std::vector<float> all;
    float g[32];
    for (uint32_t b = 0; b < nblocks; ++b) {
      block_mask(b, 0.0f, g);
      for (uint32_t v = 0; v < 32 && b * 32 + v < n; ++v) all.push_back(g[v]);
    }
    std::sort(all.begin(), all.end());
    const float thr = trial % 7 == 0 ? all.back() : all[all.size() * 9 / 10];
    for (uint32_t first = 0; first <= nblocks; first += 1 + trial % 3) {
      float want_g[32] = {}, got_g[32] = {};
      uint32_t want_m = 7, got_m = 9;
      const uint32_t want = scalar::CombineRange(
          acc_a.data(), bptr, fc, n, first, p, thr, want_g, &want_m);
      const uint32_t got = OutOfLine<CombineRangeImpl>(
          acc_a.data(), bptr, fc, n, first, p, thr, got_g, &got_m);
      ASSERT_EQ(got, want) << "trial " << trial << " first " << first;
      ASSERT_EQ(got_m, want_m) << "trial " << trial << " first " << first;
      uint32_t expect = first, expect_m = 0;
      for (; expect < nblocks; ++expect) {
        expect_m = block_mask(expect, thr, g);
        if (expect_m != 0) break;
      }
      ASSERT_EQ(want, std::max(first, expect)) << "trial " << trial;
      if (want < nblocks) {
        ASSERT_EQ(want_m, expect_m) << "trial " << trial;
        ASSERT_EQ(0, std::memcmp(got_g, want_g, sizeof(got_g)));
        ASSERT_EQ(0, std::memcmp(g, want_g, sizeof(g)));
      } else {
        ASSERT_EQ(want_m, 0u) << "trial " << trial;
      }
    }
  }
}

// Blocks whose mask is 0 are skipped (their outputs untouched), the others
// computed exactly as without masks, on every target.
void TestMaskedBlocksAreSkipped() {
  Rng rng(9);
  const size_t npairs = 64, nblocks = 5;
  std::vector<uint8_t> codes(nblocks * npairs * 32);
  for (auto& c : codes) c = static_cast<uint8_t>(rng.Next());
  std::vector<uint8_t> lo(npairs * 32), hi(npairs * 32);
  for (size_t p = 0; p < npairs; ++p) {
    for (int c = 0; c < 16; ++c) {
      lo[p * 32 + c] = lo[p * 32 + 16 + c] = static_cast<uint8_t>(rng.Next());
      hi[p * 32 + c] = hi[p * 32 + 16 + c] = static_cast<uint8_t>(rng.Next());
    }
  }
  const std::vector<uint32_t> masks = {0, 1u << 7, 0, 0xFFFFFFFFu, 0};
  const uint32_t kSentinel = 0xDEADBEEF;
  std::vector<uint32_t> got(nblocks * 32, kSentinel), want(nblocks * 32);
  OutOfLine<AccumulateListImpl>(codes.data(), nblocks, npairs, lo.data(),
                                hi.data(), got.data(), masks.data());
  scalar::AccumulateList(codes.data(), nblocks, npairs, lo.data(), hi.data(),
                         want.data());
  for (size_t b = 0; b < nblocks; ++b) {
    for (size_t v = 0; v < 32; ++v) {
      if (masks[b] == 0) {
        ASSERT_EQ(got[b * 32 + v], kSentinel) << "block " << b;
      } else {
        ASSERT_EQ(got[b * 32 + v], want[b * 32 + v]) << "block " << b;
      }
    }
  }
}

// AccumulateBytes against the scalar code and against the sum written from
// plain uint16 tables: every table count, masks, a shift, and 600 sub-codes
// of all-0xFFFF tables (two uint16 flushes at their largest sums).
void TestAccumulateBytesMatchesScalar() {
  Rng rng(11);
  for (size_t m : {size_t{2}, size_t{6}, size_t{32}, size_t{600}}) {
    const bool extreme = m == 600;
    const size_t nblocks = 3;
    std::vector<uint8_t> ntab(m / 2);
    for (size_t q = 0; q < m / 2; ++q) {
      ntab[q] = extreme ? 16 : static_cast<uint8_t>(1 + rng.Next() % 16);
    }
    std::vector<uint16_t> table(m * 256, 0);
    std::vector<size_t> base(m / 2 + 1, 0);
    for (size_t q = 0; q < m / 2; ++q) {
      base[q + 1] = base[q] + ntab[q] * kByteLutTableBytes;
    }
    std::vector<uint8_t> lut(base[m / 2], 0);
    for (size_t j = 0; j < m; ++j) {
      for (size_t i = 0; i < 16u * ntab[j / 2]; ++i) {
        const uint16_t v =
            extreme ? 0xFFFF : static_cast<uint16_t>(rng.Next() & 0xFFFF);
        table[j * 256 + i] = v;
        for (size_t p = 0; p < 2; ++p) {
          const uint8_t byte = static_cast<uint8_t>(p == 0 ? v & 0xFF : v >> 8);
          const size_t at = ByteLutOffset(base[j / 2], j, i / 16, p);
          lut[at + i % 16] = lut[at + 16 + i % 16] = byte;
        }
      }
    }
    std::vector<uint8_t> codes(nblocks * m * 32);
    for (size_t b = 0; b < nblocks; ++b) {
      for (size_t j = 0; j < m; ++j) {
        for (size_t v = 0; v < 32; ++v) {
          codes[(b * m + j) * 32 + v] =
              static_cast<uint8_t>(rng.Next() % (16u * ntab[j / 2]));
        }
      }
    }
    const uint32_t masks[3] = {1, 0, 0x80000000u};
    const uint32_t shift = extreme ? 0 : 5;
    std::vector<uint32_t> start(nblocks * 32);
    for (auto& x : start) x = static_cast<uint32_t>(rng.Next() % 100000);
    std::vector<uint32_t> got = start, want = start;
    OutOfLine<AccumulateBytesImpl>(codes.data(), nblocks, m, lut.data(),
                                   ntab.data(), shift, got.data(), masks);
    scalar::AccumulateBytes(codes.data(), nblocks, m, lut.data(), ntab.data(),
                            shift, want.data(), masks);
    ASSERT_EQ(got, want) << "m=" << m;
    for (size_t b = 0; b < nblocks; ++b) {
      for (size_t v = 0; v < 32; ++v) {
        uint32_t sum = 0;
        for (size_t j = 0; j < m; ++j) {
          sum += table[j * 256 + codes[(b * m + j) * 32 + v]];
        }
        const size_t at = b * 32 + v;
        const uint32_t expect =
            masks[b] == 0 ? start[at] : (start[at] << shift) + sum;
        ASSERT_EQ(want[at], expect) << "m=" << m << " slot " << at;
      }
    }
    if (extreme) {
      EXPECT_EQ(want[0], start[0] + 600u * 0xFFFF);
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace scan
}  // namespace tqdb
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace tqdb {
namespace scan {
HWY_BEFORE_TEST(ScanKernelsTest);
HWY_EXPORT_AND_TEST_P(ScanKernelsTest, TestAccumulateMatchesScalar);
HWY_EXPORT_AND_TEST_P(ScanKernelsTest, TestAccumulateMultiMatchesScalar);
HWY_EXPORT_AND_TEST_P(ScanKernelsTest, TestRefineDotMatchesScalar);
HWY_EXPORT_AND_TEST_P(ScanKernelsTest, TestBoundMaskMatchesScalar);
HWY_EXPORT_AND_TEST_P(ScanKernelsTest, TestUpperBoundsMatchBoundMask);
HWY_EXPORT_AND_TEST_P(ScanKernelsTest, TestBlockMaximaMatchScalar);
HWY_EXPORT_AND_TEST_P(ScanKernelsTest, TestMaskedBlocksAreSkipped);
HWY_EXPORT_AND_TEST_P(ScanKernelsTest, TestCombineMaskMatchesScalar);
HWY_EXPORT_AND_TEST_P(ScanKernelsTest, TestCombineRangeMatchesScalar);
HWY_EXPORT_AND_TEST_P(ScanKernelsTest, TestAccumulateBytesMatchesScalar);

// The bounds from bfloat16 factors (delta1 to nearest, g2 up) hold the
// bounds the unrounded factors give: the slack covers the rounding.
TEST(BoundMaskTest, SlackCoversTheFactorsRounding) {
  std::mt19937 rng(23);
  auto uniform = [&](double lo, double hi) {
    return static_cast<float>(
        std::uniform_real_distribution<double>(lo, hi)(rng));
  };
  for (int trial = 0; trial < 2000; ++trial) {
    uint32_t acc[32];
    float g1[32], g2[32], cen[32], norm[32];
    uint16_t g2h[32], cenh[32];
    // Factors over several binades, of both signs where they may be.
    const float mag = std::ldexp(1.0f, static_cast<int>(rng() % 13) - 6);
    for (int v = 0; v < 32; ++v) {
      acc[v] = static_cast<uint32_t>(rng() % 70000);
      g1[v] = mag * uniform(-0.5, 3.0);
      g2[v] = mag * uniform(0.0, 0.5);
      cen[v] = mag * uniform(-2.0, 2.0);
      norm[v] = uniform(0.0, 2.0);
      g2h[v] = Bf16Away(g2[v]);
      cenh[v] = Bf16Nearest(cen[v]);
    }
    BoundParams p = RandomBoundParams(trial, uniform);
    p.norm_squared = true;  // (the reference below squares no norm)
    const bool with_center = trial % 3 != 0;
    float ub[32], lb[32];
    scalar::BoundMask(acc, g1, g2h, p.l2 ? norm : nullptr,
                      with_center ? cenh : nullptr, p, 0.0f, 0.0f, ub, lb);
    for (int v = 0; v < 32; ++v) {
      // The unrounded bounds, in double.
      const double est1 = double{p.lut_scale} * acc[v] + p.lut_bias;
      const double c = with_center ? double{p.center} * cen[v] : 0.0;
      const double offset =
          p.l2 ? -(double{p.base} + norm[v]) + p.gain * c : p.base + c;
      const double e = double{g2[v]} * p.w_err;
      const double hi = offset + p.gain * (g1[v] * (est1 + p.lut_allow) + e);
      const double lo = offset + p.gain * (g1[v] * (est1 - p.lut_allow) - e);
      // The float arithmetic's own rounding: a few ulps of the terms.
      const double tol =
          1e-6 * (std::fabs(offset) +
                  p.gain * (std::fabs(g1[v]) * (std::fabs(est1) + p.lut_allow) +
                            std::fabs(e)));
      ASSERT_GE(ub[v], hi - tol) << "trial " << trial << " slot " << v;
      ASSERT_LE(lb[v], lo + tol) << "trial " << trial << " slot " << v;
    }
  }
}
}  // namespace scan
}  // namespace tqdb
#endif
