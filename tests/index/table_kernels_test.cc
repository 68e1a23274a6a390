// Per-target test of a query's set-up kernels (index/table_kernels.h)
// against their scalar references: identical outputs, bit for bit.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "tests/index/table_kernels_test.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "hwy/tests/hwy_gtest.h"
#include "index/scan_kernels.h"
#include "index/table_kernels-inl.h"
#include "index/table_kernels.h"
#include "quant/random.h"
#include "tests/out_of_line-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tqdb {
namespace scan {
namespace HWY_NAMESPACE {

using testing_util::HWY_NAMESPACE::OutOfLine;

// Tables of m x 16 floats: Gaussian entries at a scale per table, some
// tables constant (width 0), some with entries exactly half a step apart.
std::vector<float> RandomTables(Rng* rng, uint32_t m) {
  std::vector<float> lut(size_t{m} * 16);
  for (uint32_t j = 0; j < m; ++j) {
    const float scale = static_cast<float>(std::ldexp(1.0, j % 9 - 4));
    for (uint32_t c = 0; c < 16; ++c) {
      float v = static_cast<float>(rng->Gaussian()) * scale;
      if (j % 7 == 3) v = -1.25f;                 // a constant table
      if (j % 7 == 5) v = 0.5f * (c % 4) - 2.0f;  // ties at half a step
      lut[size_t{j} * 16 + c] = v;
    }
  }
  return lut;
}

void TestLutRangesMatchScalar() {
  Rng rng(21);
  for (uint32_t m : {0u, 2u, 4u, 14u, 128u, 130u}) {
    const std::vector<float> lut = RandomTables(&rng, m);
    std::vector<float> got(m + 1, -7.0f), want(m + 1, -7.0f);
    const float gw = OutOfLine<LutRangesImpl>(lut.data(), m, got.data());
    const float ww = scalar::LutRanges(lut.data(), m, want.data());
    ASSERT_EQ(std::memcmp(&gw, &ww, sizeof(float)), 0) << "m=" << m;
    ASSERT_EQ(got, want) << "m=" << m;
    if (m == 0) {
      EXPECT_EQ(ww, 0.0f);
    }
  }
}

void TestQuantizeLutsMatchScalar() {
  Rng rng(22);
  for (uint32_t m : {2u, 4u, 14u, 128u, 130u}) {
    const std::vector<float> lut = RandomTables(&rng, m);
    std::vector<float> mins(m);
    const float width = scalar::LutRanges(lut.data(), m, mins.data());
    // The width's own step (entries up to 255), a coarser one, and a step
    // so fine that entries clamp at 255.
    for (float step : {width / 255.0f, width / 100.0f, width / 4000.0f}) {
      const float inv = 1.0f / step;
      std::vector<uint8_t> glo(size_t{m} * 16, 1), ghi(size_t{m} * 16, 1);
      std::vector<uint8_t> wlo(size_t{m} * 16, 1), whi(size_t{m} * 16, 1);
      OutOfLine<QuantizeLutsImpl>(lut.data(), m, mins.data(), inv, glo.data(),
                                  ghi.data());
      scalar::QuantizeLuts(lut.data(), m, mins.data(), inv, wlo.data(),
                           whi.data());
      ASSERT_EQ(glo, wlo) << "m=" << m << " step=" << step;
      ASSERT_EQ(ghi, whi) << "m=" << m << " step=" << step;
      if (step < width / 1000.0f) {
        // The widest table's top entries clamp at 255.
        uint8_t top = 0;
        for (size_t i = 0; i < wlo.size(); ++i) {
          top = std::max({top, wlo[i], whi[i]});
        }
        EXPECT_EQ(top, 255) << "m=" << m;
      }
    }
  }
}

void TestRoundRefineWeightsMatchScalar() {
  Rng rng(23);
  // k below a vector, inside chunks only, with a tail, odd tails.
  for (uint32_t k : {1u, 5u, 32u, 64u, 100u, 131u, 512u, 517u}) {
    for (uint32_t nchunks : {0u, k / 32}) {
      std::vector<float> w(k);
      for (uint32_t j = 0; j < k; ++j) {
        w[j] = static_cast<float>(rng.Gaussian());
        if (j % 11 == 4) w[j] = 0.0f;
        if (j % 11 == 6) w[j] = -0.0f;
      }
      // Ties: exactly +-(n + 0.5) steps round away from zero.
      const float inv = 64.0f;
      if (k > 3) {
        w[1] = 2.5f / inv;
        w[2] = -2.5f / inv;
        w[3] = 1e6f;  // clamps to 32767
      }
      std::vector<int16_t> got(k, 99), want(k, 99);
      OutOfLine<RoundRefineWeightsImpl>(w.data(), k, nchunks, inv, got.data());
      scalar::RoundRefineWeights(w.data(), k, nchunks, inv, want.data());
      ASSERT_EQ(got, want) << "k=" << k << " nchunks=" << nchunks;
      if (k > 3) {
        EXPECT_EQ(want[RefineSlot(nchunks, 1)], 3);
        EXPECT_EQ(want[RefineSlot(nchunks, 2)], -3);
        EXPECT_EQ(want[RefineSlot(nchunks, 3)], 32767);
      }
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
HWY_BEFORE_TEST(TableKernelsTest);
HWY_EXPORT_AND_TEST_P(TableKernelsTest, TestLutRangesMatchScalar);
HWY_EXPORT_AND_TEST_P(TableKernelsTest, TestQuantizeLutsMatchScalar);
HWY_EXPORT_AND_TEST_P(TableKernelsTest, TestRoundRefineWeightsMatchScalar);
}  // namespace scan
}  // namespace tqdb
#endif
