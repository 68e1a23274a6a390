#include "tools/bench/faiss_peer.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_set>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "quant/random.h"
#include "tools/io/matrix.h"

namespace tqdb {
namespace {

using ::testing::HasSubstr;

// n points around `centers` Gaussian blob centers in R^d (center spread 1,
// blob spread 0.25), unit-normalized when `normalize`. The centers depend on
// center_seed only, so that base and queries can share them.
std::vector<float> Blobs(size_t n, size_t d, size_t centers, bool normalize,
                         uint64_t center_seed, uint64_t point_seed) {
  Rng crng(center_seed);
  std::vector<float> c(centers * d);
  for (float& v : c) v = static_cast<float>(crng.Gaussian());
  Rng rng(point_seed);
  std::vector<float> x(n * d);
  for (size_t i = 0; i < n; ++i) {
    const float* ci = &c[rng.Uniform(centers) * d];
    double s = 0;
    for (size_t j = 0; j < d; ++j) {
      x[i * d + j] = ci[j] + 0.25f * static_cast<float>(rng.Gaussian());
      s += double{x[i * d + j]} * x[i * d + j];
    }
    if (normalize) {
      const float inv = static_cast<float>(1.0 / std::sqrt(s));
      for (size_t j = 0; j < d; ++j) x[i * d + j] *= inv;
    }
  }
  return x;
}

// Exact top-k ids per query (inner product: largest first; L2: smallest).
std::vector<int64_t> BruteForce(const std::vector<float>& base, size_t nb,
                                const std::vector<float>& q, size_t nq,
                                size_t d, size_t k, PeerMetric metric) {
  std::vector<int64_t> out(nq * k);
  std::vector<std::pair<double, int64_t>> scored(nb);
  for (size_t i = 0; i < nq; ++i) {
    for (size_t j = 0; j < nb; ++j) {
      double s = 0;
      for (size_t t = 0; t < d; ++t) {
        const double a = q[i * d + t], b = base[j * d + t];
        s += metric == PeerMetric::kInnerProduct ? a * b : -(a - b) * (a - b);
      }
      scored[j] = {-s, static_cast<int64_t>(j)};  // ascending = best first
    }
    std::partial_sort(scored.begin(), scored.begin() + k, scored.end());
    for (size_t r = 0; r < k; ++r) out[i * k + r] = scored[r].second;
  }
  return out;
}

// |top-at of result  ∩  top-at of truth| / (nq * at); rows of width k / gk.
double Recall(const std::vector<int64_t>& ids, size_t k,
              const std::vector<int64_t>& truth, size_t gk, size_t nq,
              size_t at) {
  size_t hit = 0;
  for (size_t i = 0; i < nq; ++i) {
    std::unordered_set<int64_t> t(truth.begin() + i * gk,
                                  truth.begin() + i * gk + at);
    for (size_t r = 0; r < at; ++r) hit += t.count(ids[i * k + r]);
  }
  return static_cast<double>(hit) / (nq * at);
}

class FaissPeerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!FaissAvailable()) GTEST_SKIP() << "built without FAISS";
  }
};

TEST(FaissPeerNames, Stable) {
  EXPECT_STREQ(PeerKindName(PeerKind::kIvfPq), "faiss-ivfpq");
  EXPECT_STREQ(PeerKindName(PeerKind::kIvfPqFastScan), "faiss-ivfpqfs");
  EXPECT_STREQ(PeerKindName(PeerKind::kIvfPqFastScanRefine),
               "faiss-ivfpqfs-refine");
  EXPECT_STREQ(PeerKindName(PeerKind::kPqFastScanFlat), "faiss-pqfs-flat");
  EXPECT_STREQ(PeerKindName(PeerKind::kPqFlat), "faiss-pq-flat");
}

TEST(FaissPeerUnavailable, ReturnsUnimplemented) {
  if (FaissAvailable()) GTEST_SKIP() << "built with FAISS";
  std::vector<float> x(64 * 8, 1.0f);
  FaissPeerConfig cfg;
  cfg.target_bytes_per_vector = 8;
  cfg.kinds = {PeerKind::kPqFlat};
  auto r = RunFaissPeers(cfg, x.data(), 64, x.data(), 1, 8);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnimplemented);
}

TEST_F(FaissPeerTest, AllKindsOnBlobs) {
  const size_t nb = 5000, nq = 100, d = 64, k = 20;
  const std::vector<float> base = Blobs(nb, d, 50, true, 1, 1);
  const std::vector<float> queries = Blobs(nq, d, 50, true, 1, 2);
  const auto truth =
      BruteForce(base, nb, queries, nq, d, k, PeerMetric::kInnerProduct);

  FaissPeerConfig cfg;
  cfg.metric = PeerMetric::kInnerProduct;
  cfg.target_bytes_per_vector = 20;  // 8-bit: m = 16; 4-bit: m = 32
  cfg.nlist = 50;
  cfg.nprobes = {4, 50};
  cfg.refine_factors = {1, 4};
  cfg.k = k;
  cfg.kinds = {PeerKind::kIvfPq, PeerKind::kIvfPqFastScan,
               PeerKind::kIvfPqFastScanRefine, PeerKind::kPqFastScanFlat,
               PeerKind::kPqFlat};
  auto r = RunFaissPeers(cfg, base.data(), nb, queries.data(), nq, d);
  ASSERT_TRUE(r.ok()) << r.status();
  // 2 + 2 + 2*2 + 1 + 1 measurements, in kinds, nprobe, factor order.
  ASSERT_EQ(r->size(), 10u);
  const PeerResult* refine_full = nullptr;
  for (const PeerResult& p : *r) {
    SCOPED_TRACE(p.name + " nprobe " + std::to_string(p.nprobe) + " factor " +
                 std::to_string(p.refine_factor));
    EXPECT_EQ(p.name, PeerKindName(p.kind));
    ASSERT_EQ(p.ids.size(), nq * k);
    EXPECT_LE(p.bytes_per_vector, cfg.target_bytes_per_vector);
    EXPECT_EQ(p.bytes_per_vector, size_t{p.m} * p.nbits / 8);
    EXPECT_EQ(d % p.m, 0u);
    EXPECT_GT(p.build_s, 0);
    EXPECT_GT(p.search_s, 0);
    EXPECT_GT(p.qps, 0);
    for (int64_t id : p.ids) {
      ASSERT_GE(id, -1);
      ASSERT_LT(id, static_cast<int64_t>(nb));
    }
    const double rec = Recall(p.ids, k, truth, k, nq, 10);
    std::printf(
        "%-22s m=%3u nbits=%u bytes=%2zu nprobe=%2u factor=%.0f "
        "recall@10=%.3f build=%.3fs qps=%.0f\n",
        p.name.c_str(), p.m, p.nbits, p.bytes_per_vector, p.nprobe,
        p.refine_factor, rec, p.build_s, p.qps);
    // Sanity floor (random ids: 0.002). Within a blob the neighbors differ
    // by Gaussian noise, which 16 bytes of PQ rank only roughly.
    EXPECT_GT(rec, 0.1);
    if (p.kind == PeerKind::kIvfPqFastScanRefine && p.nprobe == cfg.nlist &&
        p.refine_factor == 4) {
      refine_full = &p;
      EXPECT_GT(rec, 0.9);
    }
    if (p.kind == PeerKind::kIvfPq || p.kind == PeerKind::kPqFlat) {
      EXPECT_EQ(p.nbits, 8u);
      EXPECT_EQ(p.m, 16u);
    } else {
      EXPECT_EQ(p.nbits, 4u);
      EXPECT_EQ(p.m, 32u);
    }
    if (p.kind == PeerKind::kPqFastScanFlat || p.kind == PeerKind::kPqFlat) {
      EXPECT_EQ(p.nlist, 0u);
      EXPECT_EQ(p.nprobe, 0u);
    } else {
      EXPECT_EQ(p.nlist, cfg.nlist);
    }
  }
  ASSERT_NE(refine_full, nullptr);
  // Full probing returns every vector's code, so refinement with 4x
  // candidates must beat the unrefined FastScan it wraps.
  const PeerResult& fs_full = (*r)[3];
  ASSERT_EQ(fs_full.kind, PeerKind::kIvfPqFastScan);
  ASSERT_EQ(fs_full.nprobe, cfg.nlist);
  EXPECT_GE(Recall(refine_full->ids, k, truth, k, nq, 10),
            Recall(fs_full.ids, k, truth, k, nq, 10));
}

TEST_F(FaissPeerTest, RefineAloneAndL2) {
  const size_t nb = 3000, nq = 50, d = 32, k = 10;
  const std::vector<float> base = Blobs(nb, d, 30, false, 4, 4);
  std::vector<float> queries(base.begin(), base.begin() + nq * d);
  const auto truth = BruteForce(base, nb, queries, nq, d, k, PeerMetric::kL2);
  FaissPeerConfig cfg;
  cfg.metric = PeerMetric::kL2;
  cfg.target_bytes_per_vector = 8;  // 4-bit: m = 16
  cfg.nlist = 30;
  cfg.nprobes = {30};
  cfg.refine_factors = {8};
  cfg.k = k;
  cfg.kinds = {PeerKind::kIvfPqFastScanRefine};
  auto r = RunFaissPeers(cfg, base.data(), nb, queries.data(), nq, d);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].m, 16u);
  EXPECT_EQ((*r)[0].bytes_per_vector, 8u);
  // Queries are base rows: exact rescoring finds each one itself first.
  size_t self = 0;
  for (size_t i = 0; i < nq; ++i) self += (*r)[0].ids[i * k] == int64_t(i);
  EXPECT_GE(self, nq * 9 / 10);
  EXPECT_GT(Recall((*r)[0].ids, k, truth, k, nq, 10), 0.9);
}

TEST_F(FaissPeerTest, UnmatchableTargetIsInvalidArgument) {
  const size_t nb = 1000, d = 64;
  const std::vector<float> base = Blobs(nb, d, 10, true, 5, 5);
  FaissPeerConfig cfg;
  cfg.nlist = 10;
  cfg.nprobes = {1};
  cfg.refine_factors = {2};
  for (PeerKind kind : {PeerKind::kIvfPq, PeerKind::kIvfPqFastScan,
                        PeerKind::kIvfPqFastScanRefine,
                        PeerKind::kPqFastScanFlat, PeerKind::kPqFlat}) {
    cfg.kinds = {kind};
    cfg.target_bytes_per_vector = 0;  // no m >= 1 fits in 0 bytes
    auto r = RunFaissPeers(cfg, base.data(), nb, base.data(), 1, d);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument)
        << PeerKindName(kind);
    EXPECT_THAT(std::string(r.status().message()), HasSubstr("d = 64"));
  }
  // 4-bit codes need an even m | d: none for odd d = 63 (= 3^2 * 7), while
  // 8-bit PQ picks m = 21 <= 30.
  const size_t d_odd = 63;
  cfg.target_bytes_per_vector = 30;
  cfg.kinds = {PeerKind::kPqFastScanFlat};
  auto r = RunFaissPeers(cfg, base.data(), nb / 2, base.data(), 1, d_odd);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("d = 63"));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("30"));
  cfg.kinds = {PeerKind::kPqFlat};
  auto ok = RunFaissPeers(cfg, base.data(), nb / 2, base.data(), 1, d_odd);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ((*ok)[0].m, 21u);
  EXPECT_EQ((*ok)[0].bytes_per_vector, 21u);
}

TEST_F(FaissPeerTest, BadConfigIsInvalidArgument) {
  const size_t nb = 1000, d = 16;
  const std::vector<float> base = Blobs(nb, d, 10, true, 6, 6);
  FaissPeerConfig cfg;
  cfg.target_bytes_per_vector = 8;
  cfg.nlist = 10;
  cfg.nprobes = {20};  // > nlist
  cfg.kinds = {PeerKind::kIvfPq};
  EXPECT_EQ(
      RunFaissPeers(cfg, base.data(), nb, base.data(), 1, d).status().code(),
      absl::StatusCode::kInvalidArgument);
  cfg.nprobes = {5};
  cfg.nlist = 0;
  EXPECT_EQ(
      RunFaissPeers(cfg, base.data(), nb, base.data(), 1, d).status().code(),
      absl::StatusCode::kInvalidArgument);
  cfg.nlist = 10;
  cfg.kinds = {PeerKind::kIvfPqFastScanRefine};  // no refine factors
  EXPECT_EQ(
      RunFaissPeers(cfg, base.data(), nb, base.data(), 1, d).status().code(),
      absl::StatusCode::kInvalidArgument);
  cfg.kinds = {PeerKind::kPqFlat};  // 8-bit PQ: 256 training rows needed
  EXPECT_EQ(
      RunFaissPeers(cfg, base.data(), 100, base.data(), 1, d).status().code(),
      absl::StatusCode::kInvalidArgument);
  cfg.k = 0;
  EXPECT_EQ(
      RunFaissPeers(cfg, base.data(), nb, base.data(), 1, d).status().code(),
      absl::StatusCode::kInvalidArgument);
}

// Real data: Universal Sentence Encoder (512-d, unit) embeddings of Debian
// package descriptions. Prints recall and speed; asserts only a floor.
// Slow on this machine (about 4 min to train 128 8-bit sub-quantizers with
// FAISS's default k-means, 1 more for the FastScan index), so it runs only
// with TQDB_FAISS_USE512=1 in the environment.
TEST_F(FaissPeerTest, Use512DebianPkgdesc) {
  const char* run = std::getenv("TQDB_FAISS_USE512");
  if (run == nullptr || std::string(run) != "1") {
    GTEST_SKIP() << "slow (~5 min): set TQDB_FAISS_USE512=1 to run";
  }
  const std::string dir =
      std::string(TQDB_SHARED_DATA) + "/use512-debian-pkgdesc/";
  ReaderOptions fvecs;
  fvecs.format = "fvecs";
  absl::StatusOr<FloatMatrix> base_read =
      ReadFloatMatrix(dir + "debdesc_use512_base_20k.fvecs", 0, fvecs);
  absl::StatusOr<FloatMatrix> queries_read =
      ReadFloatMatrix(dir + "debdesc_use512_query_1k.fvecs", 0, fvecs);
  absl::StatusOr<IntMatrix> gt_read =
      ReadIntMatrix(dir + "debdesc_use512_query_1k.gt_ip_top100.ivecs");
  if (!base_read.ok() || !queries_read.ok() || !gt_read.ok()) {
    GTEST_SKIP() << "no data in " << dir;
  }
  const FloatMatrix& base = *base_read;
  const FloatMatrix& queries = *queries_read;
  const IntMatrix& gt = *gt_read;
  ASSERT_EQ(base.dim, 512u);
  ASSERT_EQ(queries.dim, 512u);
  ASSERT_EQ(gt.rows, queries.rows);
  FaissPeerConfig cfg;
  cfg.metric = PeerMetric::kInnerProduct;
  cfg.target_bytes_per_vector = 136;
  cfg.nlist = 565;
  cfg.nprobes = {565};
  cfg.k = 10;
  cfg.threads = 1;
  cfg.kinds = {PeerKind::kIvfPq, PeerKind::kIvfPqFastScan};
  auto r = RunFaissPeers(cfg, base.data.data(), base.rows, queries.data.data(),
                         queries.rows, base.dim);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 2u);
  const size_t nq = queries.rows;
  for (const PeerResult& p : *r) {
    size_t hit1 = 0, hit10 = 0;
    for (size_t i = 0; i < nq; ++i) {
      hit1 += p.ids[i * cfg.k] == gt.row(i)[0];
      std::unordered_set<int64_t> t(gt.row(i), gt.row(i) + 10);
      for (size_t j = 0; j < 10; ++j) hit10 += t.count(p.ids[i * cfg.k + j]);
    }
    const double r1 = static_cast<double>(hit1) / nq;
    const double r10 = static_cast<double>(hit10) / (nq * 10);
    std::printf(
        "use512 %-14s m=%3u nbits=%u bytes=%zu nlist=%u nprobe=%u "
        "recall@1@1=%.4f recall@10@10=%.4f build=%.2fs search=%.3fs "
        "qps=%.0f (%.3f ms/query, 1 thread)\n",
        p.name.c_str(), p.m, p.nbits, p.bytes_per_vector, p.nlist, p.nprobe, r1,
        r10, p.build_s, p.search_s, p.qps, p.ms_per_query);
    EXPECT_GT(r1, 0.5) << p.name;
  }
}

}  // namespace
}  // namespace tqdb
