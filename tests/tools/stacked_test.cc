// Tests of `tqdb bench --stack` (tools/bench/stacked.h) and of the exact
// ground truth it relies on at scale (tools/bench/recall.h: BruteForce).
#include "tools/bench/stacked.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "index/thread_pool.h"
#include "quant/kernels.h"
#include "quant/random.h"
#include "tools/bench/recall.h"

namespace tqdb {
namespace {

FloatMatrix Gaussian(size_t rows, size_t dim, uint64_t seed) {
  Rng rng(seed);
  FloatMatrix m;
  m.rows = rows;
  m.dim = dim;
  m.data.resize(rows * dim);
  for (float& v : m.data) v = static_cast<float>(rng.Gaussian());
  return m;
}

TEST(StackedTest, CopiesAreRotationsAndQueriesFollowTheirCopy) {
  const size_t n = 300, d = 48, nq = 10;
  const uint32_t copies = 4;
  const FloatMatrix base0 = Gaussian(n, d, 1), queries0 = Gaussian(nq, d, 2);
  FloatMatrix base = base0, queries = queries0;
  ASSERT_TRUE(StackRotatedCopies(copies, 9, &base, &queries).ok());
  ASSERT_EQ(base.rows, n * copies);
  ASSERT_EQ(base.data.size(), n * copies * d);
  ASSERT_EQ(queries.rows, nq);
  // Copy 0 and the queries of copy 0 are unchanged.
  EXPECT_TRUE(
      std::equal(base0.data.begin(), base0.data.end(), base.data.begin()));
  for (size_t i = 0; i < nq; i += copies) {
    EXPECT_TRUE(
        std::equal(queries0.row(i), queries0.row(i) + d, queries.row(i)));
  }
  for (uint32_t c = 1; c < copies; ++c) {
    // A rotation: inner products inside a copy are kept, and a query of
    // copy c meets each row of copy c as the original query met the
    // original row; the copy is not the original.
    const float* a0 = base0.row(0);
    const float* b0 = base0.row(7);
    const float* a = base.row(c * n + 0);
    const float* b = base.row(c * n + 7);
    EXPECT_NEAR(kernels::Dot(a, b, d), kernels::Dot(a0, b0, d), 1e-3);
    EXPECT_NEAR(kernels::Dot(a, a, d), kernels::Dot(a0, a0, d), 1e-3);
    EXPECT_GT(std::fabs(a[0] - a0[0]) + std::fabs(a[1] - a0[1]), 1e-3);
    const size_t qi = c;  // i mod copies == c
    for (size_t r : {size_t{0}, size_t{5}, n - 1}) {
      EXPECT_NEAR(kernels::Dot(queries.row(qi), base.row(c * n + r), d),
                  kernels::Dot(queries0.row(qi), base0.row(r), d), 1e-3);
    }
  }
  // Deterministic: the same seed, the same stack.
  FloatMatrix again = base0, again_q = queries0;
  ASSERT_TRUE(StackRotatedCopies(copies, 9, &again, &again_q).ok());
  EXPECT_EQ(again.data, base.data);
  EXPECT_EQ(again_q.data, queries.data);
}

TEST(StackedTest, OneCopyChangesNothingAndBadCountsAreRefused) {
  FloatMatrix base = Gaussian(20, 8, 3), queries = Gaussian(4, 8, 4);
  const FloatMatrix base0 = base, queries0 = queries;
  ASSERT_TRUE(StackRotatedCopies(1, 1, &base, &queries).ok());
  EXPECT_EQ(base.data, base0.data);
  EXPECT_EQ(queries.data, queries0.data);
  for (uint32_t bad : {0u, kMaxStackCopies + 1}) {
    const absl::Status s = StackRotatedCopies(bad, 1, &base, &queries);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  }
  EXPECT_EQ(base.rows, 20u);
}

// The blocked brute force returns what a full sort by (key, id) returns,
// ties included, with and without a pool, for both orders of goodness.
TEST(StackedTest, BruteForceEqualsAFullSort) {
  const size_t n = 5000, d = 24, nq = 70;
  FloatMatrix base = Gaussian(n, d, 5);
  // Duplicated rows: ties, broken by the smaller id.
  for (size_t r = 100; r < 200; ++r) {
    std::copy(base.row(r - 100), base.row(r - 100) + d, &base.data[r * d]);
  }
  const FloatMatrix queries = Gaussian(nq, d, 6);
  ThreadPool pool(2);
  for (bool l2 : {false, true}) {
    const GroundTruth serial =
        BruteForce(base.data, n, queries.data, nq, d, l2, nullptr);
    const GroundTruth pooled =
        BruteForce(base.data, n, queries.data, nq, d, l2, &pool);
    ASSERT_EQ(serial.width, kGtK);
    EXPECT_EQ(serial.ids, pooled.ids);
    for (size_t i = 0; i < nq; ++i) {
      std::vector<std::pair<float, int32_t>> s(n);
      for (size_t j = 0; j < n; ++j) {
        s[j] = {l2 ? kernels::L2Sqr(queries.row(i), base.row(j), d)
                   : -kernels::Dot(queries.row(i), base.row(j), d),
                static_cast<int32_t>(j)};
      }
      std::sort(s.begin(), s.end());
      for (size_t r = 0; r < kGtK; ++r) {
        ASSERT_EQ(serial.ids[i * kGtK + r], s[r].second) << i << " " << r;
      }
    }
  }
}

}  // namespace
}  // namespace tqdb
