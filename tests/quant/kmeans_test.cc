#include "quant/kmeans.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hwy/targets.h"
#include "quant/random.h"

namespace tqdb {
namespace {

using ::testing::HasSubstr;

// n_per[b] points around each of the means (row-major, means.size()/dim of
// them), coordinates mean + sigma * N(0,1). Points are interleaved across
// blobs so that no blob is a contiguous block.
std::vector<float> MakeBlobs(const std::vector<float>& means, uint32_t dim,
                             const std::vector<size_t>& n_per, float sigma,
                             uint64_t seed, std::vector<uint32_t>* labels) {
  Rng rng(seed);
  const size_t blobs = n_per.size();
  std::vector<float> x;
  std::vector<size_t> left = n_per;
  size_t remaining = 0;
  for (size_t v : n_per) remaining += v;
  while (remaining > 0) {
    for (size_t b = 0; b < blobs; ++b) {
      if (left[b] == 0) continue;
      --left[b];
      --remaining;
      for (uint32_t j = 0; j < dim; ++j) {
        x.push_back(means[b * dim + j] +
                    sigma * static_cast<float>(rng.Gaussian()));
      }
      if (labels != nullptr) labels->push_back(static_cast<uint32_t>(b));
    }
  }
  return x;
}

std::vector<float> RandomMeans(size_t count, uint32_t dim, float scale,
                               uint64_t seed) {
  Rng rng(seed);
  std::vector<float> m(count * dim);
  for (float& v : m) v = scale * static_cast<float>(rng.Gaussian());
  return m;
}

double Dist2(const float* a, const float* b, uint32_t dim) {
  double s = 0;
  for (uint32_t j = 0; j < dim; ++j) {
    const double t = double{a[j]} - double{b[j]};
    s += t * t;
  }
  return s;
}

TEST(KMeansTest, RecoversSeparatedBlobs) {
  constexpr uint32_t kDim = 16, kK = 8;
  const std::vector<float> means = RandomMeans(kK, kDim, 10.0f, 7);
  const std::vector<float> x =
      MakeBlobs(means, kDim, std::vector<size_t>(kK, 200), 0.1f, 8, nullptr);
  for (uint32_t threads : {1u, 2u}) {
    KMeansOptions opts;
    opts.k = kK;
    opts.num_threads = threads;
    absl::StatusOr<KMeansResult> r =
        TrainKMeans(x.data(), x.size() / kDim, kDim, opts);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->centroids.size(), size_t{kK} * kDim);
    // Every true mean has a centroid within a few standard errors, and every
    // centroid holds exactly one blob.
    std::vector<int> used(kK, 0);
    for (uint32_t b = 0; b < kK; ++b) {
      double best = 1e30;
      uint32_t arg = 0;
      for (uint32_t c = 0; c < kK; ++c) {
        const double d = Dist2(&means[b * kDim], &r->centroids[c * kDim], kDim);
        if (d < best) best = d, arg = c;
      }
      EXPECT_LT(std::sqrt(best), 0.05) << "blob " << b;
      ++used[arg];
    }
    for (uint32_t c = 0; c < kK; ++c) {
      EXPECT_EQ(used[c], 1);
      EXPECT_EQ(r->sizes[c], 200u);
    }
    EXPECT_EQ(r->num_train, 1600u);
    EXPECT_EQ(r->min_size, 200u);
    EXPECT_EQ(r->max_size, 200u);
    EXPECT_DOUBLE_EQ(r->imbalance, 1.0);
    // Objective ~ n * dim * sigma^2 = 1600 * 16 * 0.01.
    EXPECT_NEAR(r->objective, 256.0, 40.0);
    EXPECT_LT(r->iterations, opts.max_iter);  // converged early
  }
}

TEST(KMeansTest, DeterministicForSeedAndThreadCount) {
  constexpr uint32_t kDim = 24;
  // Unstructured data, so the result depends on every random choice.
  std::vector<float> x(5000 * kDim);
  Rng rng(3);
  for (float& v : x) v = static_cast<float>(rng.Gaussian());
  KMeansOptions opts;
  opts.k = 40;
  opts.max_iter = 10;
  opts.max_points_per_centroid = 100;  // exercise sampling too
  absl::StatusOr<KMeansResult> a = TrainKMeans(x.data(), 5000, kDim, opts);
  absl::StatusOr<KMeansResult> b = TrainKMeans(x.data(), 5000, kDim, opts);
  opts.num_threads = 3;
  absl::StatusOr<KMeansResult> c = TrainKMeans(x.data(), 5000, kDim, opts);
  opts.num_threads = 1;
  opts.seed = 99;
  absl::StatusOr<KMeansResult> d = TrainKMeans(x.data(), 5000, kDim, opts);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok() && d.ok());
  EXPECT_EQ(a->num_train, 4000u);
  EXPECT_EQ(a->centroids, b->centroids);
  EXPECT_EQ(a->sizes, b->sizes);
  EXPECT_EQ(a->objective, b->objective);
  EXPECT_EQ(a->iterations, b->iterations);
  EXPECT_EQ(a->centroids, c->centroids);
  EXPECT_EQ(a->sizes, c->sizes);
  EXPECT_EQ(a->objective, c->objective);
  EXPECT_NE(a->centroids, d->centroids);
}

// `cancelled` stops a training between steps (a database that closes does
// not wait for it); never true, it changes nothing.
TEST(KMeansTest, CancelledStopsBetweenSteps) {
  constexpr uint32_t kDim = 24;
  std::vector<float> x(5000 * kDim);
  Rng rng(3);
  for (float& v : x) v = static_cast<float>(rng.Gaussian());
  KMeansOptions opts;
  opts.k = 40;
  opts.max_iter = 10;
  const absl::StatusOr<KMeansResult> plain =
      TrainKMeans(x.data(), 5000, kDim, opts);
  ASSERT_TRUE(plain.ok()) << plain.status();
  for (const KMeansInit init :
       {KMeansInit::kKMeansPlusPlus, KMeansInit::kRandom}) {
    for (int after : {0, 1, 3}) {
      SCOPED_TRACE(after);
      int polls = 0;
      opts.init = init;
      opts.cancelled = [&] { return polls++ >= after; };
      const absl::StatusOr<KMeansResult> r =
          TrainKMeans(x.data(), 5000, kDim, opts);
      EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled);
      EXPECT_EQ(polls, after + 1);  // stopped at the first true
    }
  }
  opts.init = KMeansInit::kKMeansPlusPlus;
  opts.cancelled = [] { return false; };
  const absl::StatusOr<KMeansResult> r =
      TrainKMeans(x.data(), 5000, kDim, opts);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->centroids, plain->centroids);
}

TEST(KMeansTest, PlusPlusBeatsRandomInitOnAverage) {
  // 30 blobs of very different sizes: random init over-seeds the big ones
  // and misses small ones; k-means++ finds them.
  constexpr uint32_t kDim = 8, kBlobs = 30;
  const std::vector<float> means = RandomMeans(kBlobs, kDim, 5.0f, 11);
  std::vector<size_t> sizes;
  for (uint32_t b = 0; b < kBlobs; ++b) sizes.push_back(b < 5 ? 400 : 20);
  const std::vector<float> x = MakeBlobs(means, kDim, sizes, 0.3f, 12, nullptr);
  const size_t n = x.size() / kDim;
  for (uint32_t iters : {0u, 10u}) {
    double pp = 0, rnd = 0;
    int pp_wins = 0;
    constexpr int kSeeds = 10;
    for (int s = 0; s < kSeeds; ++s) {
      KMeansOptions opts;
      opts.k = kBlobs;
      opts.max_iter = iters;
      opts.seed = 1000 + s;
      absl::StatusOr<KMeansResult> a = TrainKMeans(x.data(), n, kDim, opts);
      opts.init = KMeansInit::kRandom;
      absl::StatusOr<KMeansResult> b = TrainKMeans(x.data(), n, kDim, opts);
      ASSERT_TRUE(a.ok() && b.ok());
      pp += a->objective;
      rnd += b->objective;
      pp_wins += a->objective <= b->objective;
    }
    EXPECT_LT(pp, 0.5 * rnd) << "max_iter " << iters;
    EXPECT_GE(pp_wins, kSeeds - 3) << "max_iter " << iters;
  }
}

TEST(KMeansTest, PlusPlusSeedingFollowsD2Distribution) {
  // Four points on a line, k = 3, no Lloyd step: the returned centroids are
  // the seeds in the order drawn. Their empirical distribution over many
  // seeds must match exact k-means++ (the third seed goes through the
  // stale-weight rejection step).
  const std::vector<float> x = {0.0f, 1.0f, 3.0f, 7.0f};
  auto d2 = [&](int i, int j) {
    return static_cast<double>((x[i] - x[j]) * (x[i] - x[j]));
  };
  double exact[4][4][4] = {};
  for (int a = 0; a < 4; ++a) {
    double sa = 0;
    for (int j = 0; j < 4; ++j) sa += d2(a, j);
    for (int b = 0; b < 4; ++b) {
      if (b == a) continue;
      double sb = 0;
      for (int j = 0; j < 4; ++j) sb += std::min(d2(a, j), d2(b, j));
      for (int c = 0; c < 4; ++c) {
        if (c == a || c == b) continue;
        exact[a][b][c] =
            0.25 * d2(a, b) / sa * std::min(d2(a, c), d2(b, c)) / sb;
      }
    }
  }
  constexpr int kRuns = 4000;
  double count[4][4][4] = {};
  for (int s = 0; s < kRuns; ++s) {
    KMeansOptions opts;
    opts.k = 3;
    opts.max_iter = 0;
    opts.seed = 5000 + s;
    absl::StatusOr<KMeansResult> r = TrainKMeans(x.data(), 4, 1, opts);
    ASSERT_TRUE(r.ok());
    int idx[3];
    for (int c = 0; c < 3; ++c) {
      idx[c] = static_cast<int>(std::find(x.begin(), x.end(), r->centroids[c]) -
                                x.begin());
      ASSERT_LT(idx[c], 4);
    }
    count[idx[0]][idx[1]][idx[2]] += 1.0 / kRuns;
  }
  for (int a = 0; a < 4; ++a) {
    for (int b = 0; b < 4; ++b) {
      for (int c = 0; c < 4; ++c) {
        const double p = exact[a][b][c];
        const double sigma = std::sqrt(p * (1 - p) / kRuns);
        EXPECT_NEAR(count[a][b][c], p, 4.5 * sigma + 1e-9)
            << "seeds " << a << "," << b << "," << c;
      }
    }
  }
}

TEST(KMeansTest, FewerDistinctPointsThanK) {
  // 5 distinct points, 20 copies each, k = 8: k-means++ picks the 5 first,
  // the 3 remaining clusters are empty and re-split every step.
  constexpr uint32_t kDim = 3;
  const std::vector<float> means = RandomMeans(5, kDim, 4.0f, 5);
  const std::vector<float> x =
      MakeBlobs(means, kDim, std::vector<size_t>(5, 20), 0.0f, 6, nullptr);
  KMeansOptions opts;
  opts.k = 8;
  opts.max_iter = 4;
  absl::StatusOr<KMeansResult> r = TrainKMeans(x.data(), 100, kDim, opts);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GE(r->empty_splits, 3u);
  uint32_t total = 0, nonzero = 0;
  for (uint32_t s : r->sizes) {
    total += s;
    if (s != 0) {
      ++nonzero;
      EXPECT_EQ(s, 20u);
    }
  }
  EXPECT_EQ(total, 100u);
  EXPECT_EQ(nonzero, 5u);
  EXPECT_EQ(r->min_size, 0u);
  EXPECT_EQ(r->max_size, 20u);
  // Only the 1/1024 split perturbations of the last step cost anything.
  EXPECT_LT(r->objective, 0.05);
}

TEST(KMeansTest, EmptyClusterSplitSeparatesBlobs) {
  // 900 copies of one point A plus a 100-point blob B far away. With random
  // init both seeds are usually copies of A: centroid 1 is then empty, is
  // split off cluster 0, and Lloyd must still separate A from B.
  constexpr uint32_t kDim = 4;
  const std::vector<float> a = {3.0f, 1.0f, -2.0f, 0.5f};
  const std::vector<float> bmean = {-4.0f, 6.0f, 2.0f, -3.0f};
  std::vector<float> x;
  for (int i = 0; i < 900; ++i) x.insert(x.end(), a.begin(), a.end());
  const std::vector<float> blob =
      MakeBlobs(bmean, kDim, {100}, 0.2f, 21, nullptr);
  x.insert(x.end(), blob.begin(), blob.end());
  int runs_with_splits = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    KMeansOptions opts;
    opts.k = 2;
    opts.seed = seed;
    opts.init = KMeansInit::kRandom;
    opts.max_points_per_centroid = 0;  // all 1000 points
    absl::StatusOr<KMeansResult> r = TrainKMeans(x.data(), 1000, kDim, opts);
    ASSERT_TRUE(r.ok()) << r.status();
    runs_with_splits += r->empty_splits > 0;
    std::vector<uint32_t> sizes = r->sizes;
    std::sort(sizes.begin(), sizes.end());
    EXPECT_EQ(sizes, (std::vector<uint32_t>{100, 900})) << "seed " << seed;
    const uint32_t ca = r->sizes[0] == 900 ? 0 : 1;
    EXPECT_LT(Dist2(&r->centroids[ca * kDim], a.data(), kDim), 1e-8);
    EXPECT_LT(Dist2(&r->centroids[(1 - ca) * kDim], bmean.data(), kDim), 0.01);
  }
  // P(no split in a run) ~ 1 - 0.81; 20 runs without any is ~1e-14.
  EXPECT_GT(runs_with_splits, 5);
}

TEST(KMeansTest, ImbalanceFactor) {
  EXPECT_DOUBLE_EQ(ImbalanceFactor(std::vector<uint32_t>{10, 20, 70}), 1.62);
  EXPECT_DOUBLE_EQ(ImbalanceFactor(std::vector<uint32_t>{5, 5, 5, 5}), 1.0);
  EXPECT_DOUBLE_EQ(ImbalanceFactor(std::vector<uint32_t>{0, 0, 12}), 3.0);
  EXPECT_DOUBLE_EQ(ImbalanceFactor(std::vector<uint32_t>{}), 0.0);
  EXPECT_DOUBLE_EQ(ImbalanceFactor(std::vector<uint32_t>{0, 0}), 0.0);

  // The same histogram out of training: three separated blobs of 10, 20, 70.
  constexpr uint32_t kDim = 2;
  const std::vector<float> means = {0.0f, 0.0f, 10.0f, 0.0f, 0.0f, 10.0f};
  const std::vector<float> x =
      MakeBlobs(means, kDim, {10, 20, 70}, 0.5f, 31, nullptr);
  KMeansOptions opts;
  opts.k = 3;
  absl::StatusOr<KMeansResult> r = TrainKMeans(x.data(), 100, kDim, opts);
  ASSERT_TRUE(r.ok()) << r.status();
  std::vector<uint32_t> sizes = r->sizes;
  std::sort(sizes.begin(), sizes.end());
  EXPECT_EQ(sizes, (std::vector<uint32_t>{10, 20, 70}));
  EXPECT_EQ(r->min_size, 10u);
  EXPECT_EQ(r->max_size, 70u);
  EXPECT_DOUBLE_EQ(r->imbalance, 1.62);
}

TEST(KMeansTest, SamplesTrainingSet) {
  constexpr uint32_t kDim = 5;
  std::vector<float> x(10000 * kDim);
  Rng rng(4);
  for (float& v : x) v = static_cast<float>(rng.Gaussian());
  KMeansOptions opts;
  opts.k = 4;
  opts.max_points_per_centroid = 100;
  absl::StatusOr<KMeansResult> r = TrainKMeans(x.data(), 10000, kDim, opts);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->num_train, 400u);
  uint32_t total = 0;
  for (uint32_t s : r->sizes) total += s;
  EXPECT_EQ(total, 400u);
  opts.max_points_per_centroid = 0;  // no cap
  r = TrainKMeans(x.data(), 10000, kDim, opts);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->num_train, 10000u);
}

TEST(KMeansTest, ObjectiveMatchesReturnedCentroids) {
  constexpr uint32_t kDim = 6;
  std::vector<float> x(3000 * kDim);
  Rng rng(8);
  for (float& v : x) v = static_cast<float>(rng.Gaussian());
  KMeansOptions opts;
  opts.k = 17;
  opts.max_iter = 3;  // not converged: objective must still be consistent
  absl::StatusOr<KMeansResult> r = TrainKMeans(x.data(), 3000, kDim, opts);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->iterations, 3u);
  double obj = 0;
  std::vector<uint32_t> sizes(opts.k, 0);
  for (size_t i = 0; i < 3000; ++i) {
    double best = 1e30;
    uint32_t arg = 0;
    for (uint32_t c = 0; c < opts.k; ++c) {
      const double d = Dist2(&x[i * kDim], &r->centroids[c * kDim], kDim);
      if (d < best) best = d, arg = c;
    }
    obj += best;
    ++sizes[arg];
  }
  EXPECT_NEAR(r->objective, obj, 1e-4 * obj);
  EXPECT_EQ(r->sizes, sizes);
}

TEST(KMeansTest, AssignNearestMatchesBruteForce) {
  Rng rng(17);
  for (uint32_t dim : {1u, 2u, 3u, 7u, 16u, 33u, 100u, 257u}) {
    for (uint32_t k : {1u, 5u, 31u, 32u, 33u, 100u}) {
      for (size_t n : {size_t{1}, size_t{7}, size_t{600}}) {
        std::vector<float> c(size_t{k} * dim), x(n * dim);
        for (float& v : c) v = static_cast<float>(rng.Gaussian());
        for (float& v : x) v = static_cast<float>(rng.Gaussian()) + 0.5f;
        std::vector<uint32_t> assign(n, 12345), assign4(n, 777);
        std::vector<float> dist(n, -1.0f), dist4(n);
        AssignNearest(c.data(), k, x.data(), n, dim, assign.data(),
                      dist.data());
        AssignNearest(c.data(), k, x.data(), n, dim, assign4.data(),
                      dist4.data(), 4);
        EXPECT_EQ(assign, assign4);
        EXPECT_EQ(dist, dist4);
        for (size_t i = 0; i < n; ++i) {
          double best = 1e30;
          uint32_t arg = 0;
          for (uint32_t j = 0; j < k; ++j) {
            const double d = Dist2(&x[i * dim], &c[j * dim], dim);
            if (d < best) best = d, arg = j;
          }
          ASSERT_LT(assign[i], k);
          const double got = Dist2(&x[i * dim], &c[assign[i] * dim], dim);
          // Equal, or a near-tie within float rounding of the norm formula.
          double xn = 0;
          for (uint32_t j = 0; j < dim; ++j)
            xn += double{x[i * dim + j]} * x[i * dim + j];
          const double tol =
              1e-5 * (xn + 1.0) * std::sqrt(static_cast<double>(dim));
          if (assign[i] != arg) {
            EXPECT_LE(got - best, tol) << "dim " << dim << " k " << k;
          }
          EXPECT_NEAR(dist[i], got, tol) << "dim " << dim << " k " << k;
        }
      }
    }
  }
}

TEST(KMeansTest, AssignNearestSameOnEverySimdTarget) {
  // The kernel's register blocking differs per target (rows per call,
  // passes per panel); every compiled target that this CPU supports must
  // give the brute-force answer, and the same answer as the best target up
  // to near-ties.
  Rng rng(29);
  constexpr uint32_t kDim = 37, kK = 70;
  constexpr size_t kN = 500;
  std::vector<float> c(kK * kDim), x(kN * kDim);
  for (float& v : c) v = static_cast<float>(rng.Gaussian());
  for (float& v : x) v = static_cast<float>(rng.Gaussian());
  std::vector<uint32_t> brute(kN);
  for (size_t i = 0; i < kN; ++i) {
    double best = 1e30;
    for (uint32_t j = 0; j < kK; ++j) {
      const double d = Dist2(&x[i * kDim], &c[j * kDim], kDim);
      if (d < best) best = d, brute[i] = j;
    }
  }
  int targets = 0;
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    std::vector<uint32_t> assign(kN);
    AssignNearest(c.data(), kK, x.data(), kN, kDim, assign.data());
    // Gaussian data: no near-ties at this size, so exact equality.
    EXPECT_EQ(assign, brute) << hwy::TargetName(target);
    ++targets;
  }
  hwy::SetSupportedTargetsForTest(0);
  EXPECT_GE(targets, 1);
}

TEST(KMeansTest, AssignTiesGoToLowestIndex) {
  // Centroids 1, 2 and 4 are identical and nearest.
  const std::vector<float> c = {5, 5, 1, 1, 1, 1, 9, 9, 1, 1};
  const std::vector<float> x = {1, 1, 1.5f, 1.0f};
  std::vector<uint32_t> assign(2);
  std::vector<float> dist(2);
  AssignNearest(c.data(), 5, x.data(), 2, 2, assign.data(), dist.data());
  EXPECT_EQ(assign[0], 1u);
  EXPECT_EQ(assign[1], 1u);
  EXPECT_FLOAT_EQ(dist[0], 0.0f);
  EXPECT_FLOAT_EQ(dist[1], 0.25f);
}

TEST(KMeansTest, CentroidAssignerStridedInput) {
  // Sub-vectors [3, 3+4) of rows of width 10, as PQ encoding uses it.
  constexpr uint32_t kDim = 4, kK = 40, kWidth = 10;
  Rng rng(23);
  std::vector<float> c(kK * kDim), rows(300 * kWidth), packed(300 * kDim);
  for (float& v : c) v = static_cast<float>(rng.Gaussian());
  for (float& v : rows) v = static_cast<float>(rng.Gaussian());
  for (size_t i = 0; i < 300; ++i) {
    for (uint32_t j = 0; j < kDim; ++j)
      packed[i * kDim + j] = rows[i * kWidth + 3 + j];
  }
  const CentroidAssigner assigner(c.data(), kK, kDim);
  EXPECT_EQ(assigner.k(), kK);
  EXPECT_EQ(assigner.dim(), kDim);
  std::vector<uint32_t> a1(300), a2(300);
  std::vector<float> d1(300), d2(300);
  assigner.Assign(rows.data() + 3, 300, kWidth, a1.data(), d1.data());
  AssignNearest(c.data(), kK, packed.data(), 300, kDim, a2.data(), d2.data());
  EXPECT_EQ(a1, a2);
  EXPECT_EQ(d1, d2);
}

TEST(KMeansTest, Errors) {
  std::vector<float> x(100 * 4, 1.0f);
  KMeansOptions opts;
  opts.k = 0;
  absl::StatusOr<KMeansResult> r = TrainKMeans(x.data(), 100, 4, opts);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("k must be >= 1"));

  opts.k = 4;
  r = TrainKMeans(x.data(), 100, 0, opts);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("dim"));

  opts.k = 565;
  r = TrainKMeans(x.data(), 100, 4, opts);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(),
              HasSubstr("need at least k=565 points, got 100"));

  opts.k = 4;
  r = TrainKMeans(nullptr, 100, 4, opts);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);

  std::vector<float> bad(20 * 4, 0.5f);
  bad[17 * 4 + 3] = std::numeric_limits<float>::quiet_NaN();
  r = TrainKMeans(bad.data(), 20, 4, opts);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("row 17 coordinate 3 is NaN"));

  bad[17 * 4 + 3] = 0.5f;
  bad[2 * 4 + 1] = -std::numeric_limits<float>::infinity();
  r = TrainKMeans(bad.data(), 20, 4, opts);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("row 2 coordinate 1 is -inf"));

  bad[2 * 4 + 1] = 3e38f;  // finite, but the squared norm overflows
  r = TrainKMeans(bad.data(), 20, 4, opts);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("row 2"));

  // n == k is fine: every point is a centroid.
  opts.k = 20;
  std::vector<float> distinct(20 * 4);
  for (size_t i = 0; i < distinct.size(); ++i)
    distinct[i] = static_cast<float>(i);
  r = TrainKMeans(distinct.data(), 20, 4, opts);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->sizes, std::vector<uint32_t>(20, 1));
  EXPECT_EQ(r->objective, 0.0);
}

}  // namespace
}  // namespace tqdb
