// The coarse step's binary16 pre-pass returns exactly the lists a float
// scan of every centroid ranks nearest, in the same order.
#include "index/coarse.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "quant/kernels.h"
#include "quant/random.h"

namespace tqdb {
namespace {

std::vector<std::pair<float, uint32_t>> FullScan(const std::vector<float>& c,
                                                 uint32_t nlist, uint32_t d,
                                                 const float* q,
                                                 uint32_t nprobe) {
  std::vector<std::pair<float, uint32_t>> all(nlist);
  for (uint32_t l = 0; l < nlist; ++l) {
    all[l] = {-kernels::L2Sqr(q, &c[size_t{l} * d], d), l};
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  });
  all.resize(std::min(nprobe, nlist));
  return all;
}

TEST(CentroidScanTest, SameListsAsTheFloatScan) {
  Rng rng(3);
  for (uint32_t d : {8u, 100u, 512u}) {
    for (uint32_t nlist : {10u, 64u, 300u, 1000u}) {
      std::vector<float> c(size_t{nlist} * d);
      for (float& v : c) v = static_cast<float>(rng.Gaussian());
      // Near-ties that binary16 cannot tell apart: copies of a centroid
      // moved by less than a half's rounding, and exact duplicates.
      for (uint32_t l = 1; l + 1 < nlist; l += 7) {
        for (uint32_t j = 0; j < d; ++j) {
          c[size_t{l} * d + j] = c[size_t{l - 1} * d + j] * (1 + 1e-5f);
          c[size_t{l + 1} * d + j] = c[size_t{l - 1} * d + j];
        }
      }
      // Tiny centroids (subnormal halves) and a far one.
      for (uint32_t j = 0; j < d; ++j) {
        c[j] = 1e-6f * static_cast<float>(rng.Gaussian());
        c[size_t{nlist - 1} * d + j] *= 1000.0f;
      }
      CentroidScan scan(c.data(), nlist, d);
      std::vector<std::pair<float, uint32_t>> got;
      for (int t = 0; t < 40; ++t) {
        std::vector<float> q(d);
        // Queries near centroids (where near-ties decide) and far away.
        const uint32_t near = static_cast<uint32_t>(rng.Uniform(nlist));
        for (uint32_t j = 0; j < d; ++j) {
          q[j] = t % 4 == 3 ? 50.0f * static_cast<float>(rng.Gaussian())
                            : c[size_t{near} * d + j] +
                                  0.01f * static_cast<float>(rng.Gaussian());
        }
        for (uint32_t nprobe : {1u, 3u, 16u, nlist - 1, nlist, nlist + 5}) {
          scan.Nearest(q.data(), nprobe, &got);
          ASSERT_EQ(got, FullScan(c, nlist, d, q.data(), nprobe))
              << "d=" << d << " nlist=" << nlist << " nprobe=" << nprobe;
        }
      }
    }
  }
}

}  // namespace
}  // namespace tqdb
