#include "index/bfloat16.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

namespace tqdb {
namespace {

uint32_t Bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof(u));
  return u;
}

// Normal floats of both signs over 60 binades, and the neighbours of
// bfloat16 values (ties, one ulp either side).
float Draw(std::mt19937& rng, int i) {
  const float m = std::uniform_real_distribution<float>(1.0f, 2.0f)(rng);
  const int e = static_cast<int>(rng() % 61) - 30;
  float x = std::ldexp(m, e) * (rng() % 2 ? -1.0f : 1.0f);
  if (i % 4 == 1) {
    uint32_t u = (Bits(x) & 0xFFFF0000u) | 0x8000u;  // a tie
    std::memcpy(&x, &u, sizeof(x));
  } else if (i % 4 == 2) {
    uint32_t u = (Bits(x) & 0xFFFF0000u) + (rng() % 2 ? 1u : 0xFFFFu);
    std::memcpy(&x, &u, sizeof(x));
  }
  return x;
}

TEST(Bfloat16Test, NearestWithinTheStatedErrorAndTiesToEven) {
  std::mt19937 rng(5);
  for (int i = 0; i < 200000; ++i) {
    const float x = Draw(rng, i);
    const uint16_t b = Bf16Nearest(x);
    const float y = Bf16ToFloat(b);
    ASSERT_LE(std::fabs(double{x} - y), kBf16RelError * std::fabs(double{y}))
        << x;
    // Nearest: neither neighbour of b is closer.
    const double up = Bf16ToFloat(static_cast<uint16_t>(b + 1));
    const double down = Bf16ToFloat(static_cast<uint16_t>(b - 1));
    ASSERT_LE(std::fabs(x - y), std::fabs(x - up)) << x;
    ASSERT_LE(std::fabs(x - y), std::fabs(x - down)) << x;
    if ((Bits(x) & 0xFFFFu) == 0x8000u) {
      ASSERT_EQ(b & 1u, 0u) << x;
    }
    // A bfloat16 value converts back to itself.
    ASSERT_EQ(Bf16Nearest(y), b);
    ASSERT_EQ(Bf16Away(y), b);
  }
}

TEST(Bfloat16Test, AwayNeverUnderstatesAndIsTheNextValue) {
  std::mt19937 rng(6);
  for (int i = 0; i < 200000; ++i) {
    const float x = Draw(rng, i);
    const uint16_t b = Bf16Away(x);
    const float y = Bf16ToFloat(b);
    ASSERT_GE(std::fabs(y), std::fabs(x)) << x;
    ASSERT_EQ(std::signbit(y), std::signbit(x)) << x;
    // One step toward zero understates it (or is it, exactly).
    const float z = Bf16ToFloat(static_cast<uint16_t>(b - 1));
    ASSERT_TRUE(std::fabs(z) < std::fabs(x) || y == x) << x;
  }
}

TEST(Bfloat16Test, SpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  const float big = std::numeric_limits<float>::max();
  EXPECT_EQ(Bf16ToFloat(Bf16Nearest(0.0f)), 0.0f);
  EXPECT_TRUE(std::signbit(Bf16ToFloat(Bf16Nearest(-0.0f))));
  EXPECT_EQ(Bf16ToFloat(Bf16Nearest(inf)), inf);
  EXPECT_EQ(Bf16ToFloat(Bf16Away(-inf)), -inf);
  EXPECT_TRUE(std::isnan(Bf16ToFloat(Bf16Nearest(std::nanf("")))));
  EXPECT_TRUE(std::isnan(Bf16ToFloat(Bf16Away(std::nanf("")))));
  // Finite stays finite (the largest float would round to infinity).
  EXPECT_TRUE(std::isfinite(Bf16ToFloat(Bf16Nearest(big))));
  EXPECT_TRUE(std::isfinite(Bf16ToFloat(Bf16Away(-big))));
  EXPECT_GT(Bf16ToFloat(Bf16Nearest(big)), 3e38f);
}

}  // namespace
}  // namespace tqdb
