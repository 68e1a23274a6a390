#include "quant/rotation.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "quant/coding.h"
#include "quant/random.h"
#include "tests/test_util.h"

namespace tqdb {
namespace {

constexpr uint32_t kGoldenParamsCrc = 664051731u;
constexpr uint32_t kGoldenOutputCrc = 1409614447u;

double Norm(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += double{x} * x;
  return std::sqrt(s);
}

class RotationDimTest : public ::testing::TestWithParam<uint32_t> {};

TEST_P(RotationDimTest, PreservesNormsAndInverts) {
  const uint32_t d = GetParam();
  auto rot = HadamardRotation::Create(d, 42);
  ASSERT_TRUE(rot.ok()) << rot.status();
  Rng rng(7);
  for (int t = 0; t < 20; ++t) {
    std::vector<float> x(d);
    for (float& v : x) v = static_cast<float>(rng.Gaussian() * 3.0);
    const std::vector<float> y = rot->Apply(x);
    EXPECT_NEAR(Norm(y) / Norm(x), 1.0, 1e-5) << "d=" << d;
    const std::vector<float> back = rot->ApplyInverse(y);
    for (uint32_t i = 0; i < d; ++i) {
      ASSERT_NEAR(back[i], x[i], 1e-4 * (1 + std::fabs(x[i]))) << "i=" << i;
    }
  }
}

TEST_P(RotationDimTest, SerializationRoundTripIsBitIdentical) {
  const uint32_t d = GetParam();
  auto rot = HadamardRotation::Create(d, 99);
  ASSERT_TRUE(rot.ok());
  auto back = HadamardRotation::Deserialize(rot->Serialize());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->Serialize(), rot->Serialize());
  std::vector<float> x = testing_util::RandomUnitVectors(1, d, 3);
  EXPECT_EQ(rot->Apply(x), back->Apply(x));
}

INSTANTIATE_TEST_SUITE_P(Dims, RotationDimTest,
                         ::testing::Values(2u, 3u, 7u, 64u, 100u, 128u, 200u,
                                           384u, 512u, 768u, 1536u, 3072u));

TEST(RotationTest, SameSeedSameBytesDifferentSeedDifferent) {
  auto a = HadamardRotation::Create(100, 5);
  auto b = HadamardRotation::Create(100, 5);
  auto c = HadamardRotation::Create(100, 6);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->Serialize(), b->Serialize());
  EXPECT_NE(a->Serialize(), c->Serialize());
}

// Pins the generator and the transform: these constants must never change,
// or every stored code would silently change meaning.
TEST(RotationTest, GoldenBytes) {
  auto rot = HadamardRotation::Create(100, 42);
  ASSERT_TRUE(rot.ok());
  const std::string s = rot->Serialize();
  EXPECT_EQ(s.size(), 24u + 4 * 100 * 4 + 4 * 13 + 4);
  EXPECT_EQ(Crc32c(s.data(), s.size() - 4), kGoldenParamsCrc);
  std::vector<float> x(100);
  for (int i = 0; i < 100; ++i) x[i] = static_cast<float>(i % 7) - 3.0f;
  const std::vector<float> y = rot->Apply(x);
  EXPECT_EQ(Crc32c(y.data(), y.size() * sizeof(float)), kGoldenOutputCrc);
}

TEST(RotationTest, CoordinatesOfASparseVectorLookGaussian) {
  // Worst case for a structured transform: x = e_0. Over many seeds each
  // output coordinate should have variance 1/d and Gaussian-like kurtosis.
  for (uint32_t d : {100u, 512u, 768u}) {
    std::vector<float> x(d, 0.0f);
    x[0] = 1.0f;
    double m2 = 0, m4 = 0;
    size_t count = 0;
    for (uint64_t seed = 0; seed < 300; ++seed) {
      auto rot = HadamardRotation::Create(d, seed);
      ASSERT_TRUE(rot.ok());
      const std::vector<float> y = rot->Apply(x);
      for (float v : y) {
        const double s = double{v} * v * d;
        m2 += s;
        m4 += s * s;
        ++count;
      }
    }
    m2 /= count;
    m4 /= count;
    EXPECT_NEAR(m2, 1.0, 0.02) << "d=" << d;
    EXPECT_NEAR(m4, 3.0, 0.3) << "d=" << d;  // kurtosis of N(0,1) is 3
  }
}

TEST(RotationTest, CorruptBytesFailClosed) {
  auto rot = HadamardRotation::Create(64, 1);
  ASSERT_TRUE(rot.ok());
  std::string s = rot->Serialize();
  std::string flipped = s;
  flipped[40] ^= 1;
  EXPECT_EQ(HadamardRotation::Deserialize(flipped).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(HadamardRotation::Deserialize(s.substr(0, 20)).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(HadamardRotation::Deserialize("").status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(RotationTest, BadArguments) {
  for (uint32_t d : {0u, 1u}) {
    auto r = HadamardRotation::Create(d, 1);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(std::to_string(d)), std::string::npos);
  }
  EXPECT_EQ(HadamardRotation::Create(8, 1, 17).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(DenseRotationTest, IsOrthogonal) {
  const uint32_t d = 64;
  auto rot = DenseRotation::Create(d, 11);
  ASSERT_TRUE(rot.ok());
  const auto& m = rot->matrix();
  for (uint32_t i = 0; i < d; ++i) {
    for (uint32_t j = 0; j < d; ++j) {
      double s = 0;
      for (uint32_t k = 0; k < d; ++k) s += double{m[i * d + k]} * m[j * d + k];
      EXPECT_NEAR(s, i == j ? 1.0 : 0.0, 1e-5);
    }
  }
  std::vector<float> x = testing_util::RandomUnitVectors(1, d, 2), y(d), z(d);
  rot->Apply(x.data(), y.data());
  rot->ApplyInverse(y.data(), z.data());
  for (uint32_t i = 0; i < d; ++i) EXPECT_NEAR(z[i], x[i], 1e-5);
}

}  // namespace
}  // namespace tqdb
