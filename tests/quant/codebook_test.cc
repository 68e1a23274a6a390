#include "quant/codebook.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace tqdb {
namespace {

// Lloyd-Max for N(0,1), positive half (DEVELOPERS.md / research notes).
const std::vector<std::vector<double>> kGaussianCentroids = {
    {0.7979},
    {0.4528, 1.5104},
    {0.2451, 0.7560, 1.3439, 2.1519},
    {0.1284, 0.3880, 0.6568, 0.9423, 1.2562, 1.6180, 2.0690, 2.7326},
};
const double kGaussianMse[] = {0.3634, 0.1175, 0.03455, 0.00950};

TEST(CodebookTest, LargeDimensionMatchesGaussianLimit) {
  const uint32_t d = 1 << 16;  // Beta law is N(0, 1/d) to O(1/d)
  for (uint32_t b = 1; b <= 4; ++b) {
    auto cb = GetCodebook(CodebookKind::kExactBeta, d, b);
    ASSERT_TRUE(cb.ok()) << cb.status();
    const auto& want = kGaussianCentroids[b - 1];
    const uint32_t k = 1u << b;
    ASSERT_EQ((*cb)->centroids.size(), k);
    for (uint32_t j = 0; j < want.size(); ++j) {
      EXPECT_NEAR((*cb)->centroids[k / 2 + j] * std::sqrt(double{d}), want[j],
                  2e-3 * want[j] + 2e-4)
          << "b=" << b << " j=" << j;
    }
    EXPECT_NEAR((*cb)->expected_mse, kGaussianMse[b - 1],
                0.005 * kGaussianMse[b - 1])
        << "b=" << b;
  }
}

TEST(CodebookTest, GaussianKindMatchesTable) {
  for (uint32_t b = 1; b <= 4; ++b) {
    auto cb = GetCodebook(CodebookKind::kGaussian, 512, b);
    ASSERT_TRUE(cb.ok());
    const auto& want = kGaussianCentroids[b - 1];
    const uint32_t k = 1u << b;
    for (uint32_t j = 0; j < want.size(); ++j) {
      EXPECT_NEAR((*cb)->centroids[k / 2 + j] * std::sqrt(512.0), want[j],
                  2e-3 * want[j] + 2e-4);
    }
    EXPECT_NEAR((*cb)->expected_mse, kGaussianMse[b - 1],
                0.005 * kGaussianMse[b - 1]);
  }
}

TEST(CodebookTest, ExactBetaAtModerateDimension) {
  // Values computed independently (research notes): d = 128, b = 2.
  auto cb = GetCodebook(CodebookKind::kExactBeta, 128, 2);
  ASSERT_TRUE(cb.ok());
  EXPECT_NEAR((*cb)->centroids[2] * std::sqrt(128.0), 0.4525, 1e-3);
  EXPECT_NEAR((*cb)->centroids[3] * std::sqrt(128.0), 1.5053, 1e-3);
  // b = 4 distortion is lower than the Gaussian limit at small d.
  auto cb4 = GetCodebook(CodebookKind::kExactBeta, 128, 4);
  ASSERT_TRUE(cb4.ok());
  EXPECT_NEAR((*cb4)->expected_mse, 0.00931, 1e-4);
  EXPECT_LT((*cb4)->expected_mse, kGaussianMse[3]);
}

TEST(CodebookTest, AllBitsAreSymmetricSortedWithMidpointBoundaries) {
  for (uint32_t d : {2u, 3u, 17u, 100u, 1536u}) {
    double prev_mse = 1e9;
    for (uint32_t b = 1; b <= 8; ++b) {
      auto cbr = GetCodebook(CodebookKind::kExactBeta, d, b);
      ASSERT_TRUE(cbr.ok()) << cbr.status();
      const Codebook& cb = **cbr;
      const uint32_t k = 1u << b;
      ASSERT_EQ(cb.centroids.size(), k);
      ASSERT_EQ(cb.thresholds.size(), k);
      EXPECT_TRUE(std::isinf(cb.thresholds[k - 1]));
      for (uint32_t j = 0; j < k; ++j) {
        EXPECT_FLOAT_EQ(cb.centroids[j], -cb.centroids[k - 1 - j]);
        EXPECT_LE(std::fabs(cb.centroids[j]), 1.0f);
        if (j + 1 < k) {
          EXPECT_LT(cb.centroids[j], cb.centroids[j + 1]);
          EXPECT_FLOAT_EQ(cb.thresholds[j],
                          0.5f * (cb.centroids[j] + cb.centroids[j + 1]));
        }
      }
      EXPECT_LT(cb.expected_mse, prev_mse) << "d=" << d << " b=" << b;
      // Never worse than the Panter-Dite bound sqrt(3) pi / 2 * 4^-b.
      EXPECT_LT(cb.expected_mse, 2.73 * std::pow(4.0, -double(b)));
      prev_mse = cb.expected_mse;
    }
  }
}

TEST(CodebookTest, DimensionThreeIsUniform) {
  // For d = 3 one coordinate is uniform on [-1, 1]: Lloyd-Max levels are
  // the midpoints of 2^b equal cells, MSE per coordinate (2/2^b)^2 / 12.
  auto cb = GetCodebook(CodebookKind::kExactBeta, 3, 3);
  ASSERT_TRUE(cb.ok());
  for (int j = 0; j < 8; ++j) {
    EXPECT_NEAR((*cb)->centroids[j], -1.0 + (2 * j + 1) / 8.0, 1e-4);
  }
  EXPECT_NEAR((*cb)->expected_mse, 3 * (0.25 * 0.25) / 12, 1e-5);
}

// The law's mass and first moment below x by Simpson's rule on a fine grid
// (in theta for the Beta law, in t for the Gaussian), independent of the
// closed forms of codebook.cc.
struct Moments {
  double mass, first;
};
Moments NumericBelow(CodebookKind kind, uint32_t d, double x) {
  auto simpson = [](auto f, double a, double b, int n) {
    const double h = (b - a) / n;
    double s = f(a) + f(b);
    for (int i = 1; i < n; ++i) s += f(a + i * h) * (i % 2 ? 4 : 2);
    return s * h / 3;
  };
  if (kind == CodebookKind::kGaussian) {
    const double sigma = 1 / std::sqrt(static_cast<double>(d));
    auto f = [&](double t) { return std::exp(-0.5 * t * t / (sigma * sigma)); };
    auto tf = [&](double t) { return t * f(t); };
    const double total = simpson(f, -20 * sigma, 20 * sigma, 20000);
    x = std::clamp(x, -20 * sigma, 20 * sigma);
    return {simpson(f, -20 * sigma, x, 20000) / total,
            simpson(tf, -20 * sigma, x, 20000) / total};
  }
  // cos^(d-2) is below e^-400 past 40 / sqrt(d) radians.
  const double lim = std::min(M_PI / 2, 40 / std::sqrt(static_cast<double>(d)));
  auto f = [&](double th) { return std::pow(std::cos(th), d - 2.0); };
  auto tf = [&](double th) { return std::sin(th) * f(th); };
  const double theta =
      std::clamp(std::asin(std::clamp(x, -1.0, 1.0)), -lim, lim);
  const double total = simpson(f, -lim, lim, 20000);
  return {simpson(f, -lim, theta, 20000) / total,
          simpson(tf, -lim, theta, 20000) / total};
}

// Lloyd-Max's condition, checked by integration: every level is its cell's
// mean; and CellMasses are the cells' masses (non-negative, symmetric,
// summing to 1).
TEST(CodebookTest, LevelsAreTheirCellsMeansAndMassesTheirCells) {
  for (CodebookKind kind :
       {CodebookKind::kExactBeta, CodebookKind::kGaussian}) {
    for (uint32_t d : {2u, 3u, 4u, 5u, 16u, 1536u}) {
      for (uint32_t bits : {1u, 4u, 8u}) {
        auto cb = GetCodebook(kind, d, bits);
        ASSERT_TRUE(cb.ok());
        const std::vector<double> mass = CellMasses(**cb);
        ASSERT_EQ(mass.size(), size_t{1} << bits);
        const double sigma = 1 / std::sqrt(static_cast<double>(d));
        double sum = 0;
        for (size_t j = 0; j < mass.size(); ++j) {
          SCOPED_TRACE(testing::Message()
                       << "kind " << static_cast<int>(kind) << " d " << d
                       << " bits " << bits << " cell " << j);
          EXPECT_GE(mass[j], 0.0);
          EXPECT_NEAR(mass[j], mass[mass.size() - 1 - j], 1e-12);
          sum += mass[j];
          if (j % (1 + mass.size() / 8) != 0) continue;
          const Moments lo =
              j == 0 ? Moments{0, 0}
                     : NumericBelow(kind, d, (*cb)->thresholds[j - 1]);
          const Moments hi = j + 1 < mass.size()
                                 ? NumericBelow(kind, d, (*cb)->thresholds[j])
                                 : NumericBelow(kind, d, HUGE_VAL);
          EXPECT_NEAR(sum, hi.mass, 1e-10);
          EXPECT_NEAR(mass[j], hi.mass - lo.mass, 1e-10);
          EXPECT_NEAR((*cb)->centroids[j], (hi.first - lo.first) / mass[j],
                      3e-7 * sigma);
        }
        EXPECT_NEAR(sum, 1.0, 1e-12);
      }
    }
  }
}

TEST(CodebookTest, CachedInstanceIsShared) {
  auto a = GetCodebook(CodebookKind::kExactBeta, 300, 3);
  auto b = GetCodebook(CodebookKind::kExactBeta, 300, 3);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->get(), b->get());
}

TEST(CodebookTest, SerializationRoundTripAndCorruption) {
  auto cb = GetCodebook(CodebookKind::kExactBeta, 100, 4);
  ASSERT_TRUE(cb.ok());
  const std::string s = (*cb)->Serialize();
  auto back = Codebook::Deserialize(s);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->centroids, (*cb)->centroids);
  EXPECT_EQ(back->thresholds, (*cb)->thresholds);
  EXPECT_EQ(back->expected_mse, (*cb)->expected_mse);
  std::string bad = s;
  bad[20] ^= 0x10;
  EXPECT_EQ(Codebook::Deserialize(bad).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(Codebook::Deserialize(s.substr(0, 10)).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(CodebookTest, BadArguments) {
  auto r = GetCodebook(CodebookKind::kExactBeta, 1, 4);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("1"), std::string::npos);
  for (uint32_t b : {0u, 9u}) {
    auto s = GetCodebook(CodebookKind::kExactBeta, 64, b);
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(s.status().message().find(std::to_string(b)), std::string::npos);
  }
}

}  // namespace
}  // namespace tqdb
