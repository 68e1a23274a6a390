#include "index/radix_select.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace tqdb {
namespace {

// The kinds of sets the selection tests draw: keys sharing their top bits
// (distances in [0.5, 1.5)), both signs, heavy ties, all equal, and
// magnitudes across 60 binades.
enum class SetKind { kNarrow, kSigned, kTies, kEqual, kBinades };

float Draw(SetKind kind, std::mt19937& rng) {
  switch (kind) {
    case SetKind::kNarrow:
      return std::uniform_real_distribution<float>(0.5f, 1.5f)(rng);
    case SetKind::kSigned:
      return std::uniform_real_distribution<float>(-2.0f, 2.0f)(rng);
    case SetKind::kTies:
      return static_cast<float>(rng() % 4);
    case SetKind::kEqual:
      return 1.25f;
    case SetKind::kBinades:
      break;
  }
  return std::ldexp(std::uniform_real_distribution<float>(1, 2)(rng),
                    static_cast<int>(rng() % 60) - 30) *
         (rng() % 2 ? 1.0f : -1.0f);
}

TEST(RadixSelectTest, OrderKeysSortAsTheFloats) {
  const std::vector<float> sorted = {-1e30f, -2.5f,  -1.0f, -1e-30f, -0.0f,
                                     0.0f,   1e-30f, 1.0f,  2.5f,    1e30f};
  for (size_t i = 0; i + 1 < sorted.size(); ++i) {
    EXPECT_LT(OrderKey(sorted[i]), OrderKey(sorted[i + 1])) << i;
  }
  for (float x : sorted) EXPECT_EQ(FromOrderKey(OrderKey(x)), x);
}

// Every rank of random sets of each kind against nth_element; sizes around
// the four-way count's step.
TEST(RadixSelectTest, RankValueIsNthElement) {
  std::mt19937 rng(7);
  std::vector<uint32_t> scratch;
  for (int trial = 0; trial < 3000; ++trial) {
    const size_t n = 1 + rng() % 70;
    std::vector<float> v(n);
    for (float& x : v) x = Draw(static_cast<SetKind>(trial % 5), rng);
    for (uint32_t r = 0; r < n; ++r) {
      std::vector<float> w = v;
      std::nth_element(w.begin(), w.begin() + r, w.end());
      ASSERT_EQ(RankValue(v, r, &scratch), w[r])
          << "trial " << trial << " n " << n << " rank " << r;
    }
  }
}

// Large sets take the sampled pivot first (n >= 512, small ranks): every
// small rank of the same kinds of sets, and of sets sorted either way
// (the stride sample then sits at one end), against nth_element.
TEST(RadixSelectTest, SampledRankValueIsNthElement) {
  std::mt19937 rng(11);
  std::vector<uint32_t> scratch;
  for (int trial = 0; trial < 120; ++trial) {
    const size_t n = 512 + rng() % 2000;
    std::vector<float> v(n);
    const int kind = trial % 4;
    for (float& x : v) {
      x = Draw(kind == 3 ? SetKind::kBinades : static_cast<SetKind>(kind), rng);
    }
    if (trial % 6 == 4) std::sort(v.begin(), v.end());
    if (trial % 6 == 5) std::sort(v.rbegin(), v.rend());
    for (uint32_t r = 0; r < n / 16 + 2; ++r) {
      std::vector<float> w = v;
      std::nth_element(w.begin(), w.begin() + r, w.end());
      ASSERT_EQ(RankValue(v, r, &scratch), w[r])
          << "trial " << trial << " n " << n << " rank " << r;
    }
  }
}

// SortByHighHalf against std::sort, for values whose low halves ascend
// (the coarse step's list numbers): high halves from a few values (ties),
// from spread floats' order keys, and all equal; sizes 0 to 1,500.
TEST(RadixSelectTest, SortByHighHalfIsSortWhereLowHalvesAscend) {
  std::mt19937 rng(5);
  std::vector<uint64_t> scratch;
  for (int trial = 0; trial < 600; ++trial) {
    const size_t n = rng() % 1500;
    std::vector<uint64_t> a(n);
    for (size_t i = 0; i < n; ++i) {
      uint32_t high;
      switch (trial % 3) {
        case 0:
          high = rng() % 5;
          break;
        case 1:
          high =
              OrderKey(std::uniform_real_distribution<float>(-3.0f, 3.0f)(rng));
          break;
        default:
          high = 0x80001234u;
      }
      a[i] = uint64_t{high} << 32 | i;
    }
    std::vector<uint64_t> want = a;
    std::sort(want.begin(), want.end());
    SortByHighHalf(a.data(), a.size(), &scratch);
    ASSERT_EQ(a, want) << "trial " << trial << " n " << n;
  }
}

}  // namespace
}  // namespace tqdb
