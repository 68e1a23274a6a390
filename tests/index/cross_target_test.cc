// An index is the same on every SIMD target (quant/kernels.h, Determinism):
// trained, filled and searched under each target the CPU has, the same data
// gives the same trained bytes and the same neighbours with the same scores,
// bit for bit; so do replicas of a collection on an AVX-512 and an AVX2
// machine.
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "hwy/targets.h"
#include "index/ivf_index.h"
#include "quant/kernels.h"
#include "quant/simd_targets.h"
#include "tests/test_util.h"

namespace tqdb {
namespace {

using testing_util::AnisotropicBlobs;

struct Outcome {
  std::string target;
  std::string trained;
  std::vector<std::vector<Neighbor>> results;
};

// Trains, adds and searches under dispatch capped at `cap`.
Outcome RunCapped(const char* cap, const IvfOptions& o,
                  const std::vector<float>& x, const std::vector<float>& q,
                  const SearchParams& p) {
  Outcome out;
  EXPECT_TRUE(kernels::LimitSimdTargets(cap).ok()) << cap;
  out.target = kernels::ActiveTargetName();
  const size_t d = o.dim, n = x.size() / d;
  auto idx = IvfIndex::Train(o, x.data(), n);
  EXPECT_TRUE(idx.ok()) << idx.status();
  if (!idx.ok()) return out;
  std::vector<uint64_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = 1000 + i;
  EXPECT_TRUE((*idx)->Add(ids.data(), x.data(), n).ok());
  out.trained = (*idx)->SerializeTrained();
  for (size_t i = 0; i < q.size() / d; ++i) {
    auto r = (*idx)->Search(&q[i * d], p);
    EXPECT_TRUE(r.ok()) << r.status();
    out.results.push_back(r.ok() ? *r : std::vector<Neighbor>{});
  }
  return out;
}

// Every target this CPU runs (caps naming one it lacks fall to the next).
std::vector<Outcome> RunOnEveryTarget(const IvfOptions& o,
                                      const std::vector<float>& x,
                                      const std::vector<float>& q,
                                      const SearchParams& p) {
  std::vector<Outcome> runs;
  for (const char* cap : {"avx3_dl", "avx3", "avx2", "sse4", "scalar"}) {
    runs.push_back(RunCapped(cap, o, x, q, p));
  }
  hwy::DisableTargets(0);
  return runs;
}

void ExpectSame(const std::vector<Outcome>& runs, const char* what) {
  ASSERT_FALSE(runs.empty());
  const Outcome& ref = runs.front();
  size_t targets = 1;
  for (const Outcome& run : runs) {
    if (run.target != runs.front().target) ++targets;
    EXPECT_EQ(run.trained, ref.trained) << what << ": trained bytes differ, "
                                        << run.target << " vs " << ref.target;
    ASSERT_EQ(run.results.size(), ref.results.size()) << what;
    for (size_t i = 0; i < ref.results.size(); ++i) {
      ASSERT_EQ(run.results[i].size(), ref.results[i].size())
          << what << " query " << i;
      ASSERT_FALSE(ref.results[i].empty()) << what;
      for (size_t j = 0; j < ref.results[i].size(); ++j) {
        const Neighbor& a = run.results[i][j];
        const Neighbor& b = ref.results[i][j];
        EXPECT_EQ(a.id, b.id) << what << " query " << i << " rank " << j << ", "
                              << run.target << " vs " << ref.target;
        EXPECT_EQ(0, std::memcmp(&a.score, &b.score, sizeof(float)))
            << what << " query " << i << " rank " << j << ": " << a.score
            << " on " << run.target << ", " << b.score << " on " << ref.target;
      }
    }
  }
  // At least the CPU's best and the scalar target.
  EXPECT_GE(targets, 2u) << what;
}

IvfOptions Options(size_t d, Metric metric, const char* method, uint32_t bits) {
  IvfOptions o;
  o.dim = static_cast<uint32_t>(d);
  o.metric = metric;
  o.nlist = 16;
  o.kmeans_iters = 6;  // the scalar target emulates each fused multiply-add
  o.threads = 1;
  o.codec.method = method;
  o.codec.bits = bits;
  return o;
}

// pca, progressive layout: the query projection (MatVecF16), the coarse
// step (int8 codes, then exact distances), the first pass and refinement.
TEST(CrossTargetTest, PcaProgressiveIsTheSame) {
  const size_t d = 300;  // 9 chunks of 32 and a tail of 12
  const std::vector<float> x = AnisotropicBlobs(1500, d, 1),
                           q = AnisotropicBlobs(20, d, 2);
  IvfOptions o = Options(d, Metric::kInnerProduct, "pca", 4);
  SearchParams p;
  p.nprobe = 6;
  ExpectSame(RunOnEveryTarget(o, x, q, p), "pca 4 bits, progressive");
}

// One list of 47 blocks (ListScanner::ScanLongList): the seeded heap
// (BlockMaxima, the seed blocks' upper bounds), the ranges of upper
// bounds (UpperBounds), the refinements.
TEST(CrossTargetTest, PcaLongListIsTheSame) {
  const size_t d = 100;
  const std::vector<float> x = AnisotropicBlobs(1500, d, 7),
                           q = AnisotropicBlobs(20, d, 8);
  IvfOptions o = Options(d, Metric::kCosine, "pca", 4);
  o.nlist = 1;
  SearchParams p;
  p.nprobe = 1;
  ExpectSame(RunOnEveryTarget(o, x, q, p), "pca 4 bits, one long list");
}

// renorm under L2 with rescoring from in-memory int8 codes (DotI8).
TEST(CrossTargetTest, RenormL2RescoredFromInt8CodesIsTheSame) {
  const size_t d = 100;
  const std::vector<float> x = AnisotropicBlobs(1500, d, 3),
                           q = AnisotropicBlobs(20, d, 4);
  IvfOptions o = Options(d, Metric::kL2, "renorm", 2);
  o.layout.refine = RefineKind::kInt8;
  SearchParams p;
  p.nprobe = 6;
  p.rescore = true;
  ExpectSame(RunOnEveryTarget(o, x, q, p), "renorm 2 bits, L2, int8 rescore");
}

// prod (the QJL sign sketch: a Gaussian projection and masked sums), cosine.
TEST(CrossTargetTest, ProdCosineIsTheSame) {
  const size_t d = 100;
  const std::vector<float> x = AnisotropicBlobs(1500, d, 5),
                           q = AnisotropicBlobs(20, d, 6);
  IvfOptions o = Options(d, Metric::kCosine, "prod", 3);
  SearchParams p;
  p.nprobe = 16;
  ExpectSame(RunOnEveryTarget(o, x, q, p), "prod 3 bits, cosine");
}

}  // namespace
}  // namespace tqdb
