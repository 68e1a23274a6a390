// IvfIndex::SearchBatch's shared scan against Search, query by query: the
// same ids and scores, the same stats, over the codecs, metrics, nprobe
// values and tombstones it covers, and the fallbacks it does not.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "index/ivf_index.h"
#include "index/thread_pool.h"
#include "quant/random.h"
#include "tests/index/index_test_util.h"

namespace tqdb {
namespace {

constexpr size_t kDim = 48;
constexpr size_t kRows = 3000;

// Gaussian blobs, with every 50th row a copy of the one before it (equal
// codes, so equal scores: ties the heap must break as Search does).
std::vector<float> Data(uint64_t seed) {
  Rng rng(seed);
  const size_t clusters = 10;
  std::vector<float> centers(clusters * kDim);
  for (float& c : centers) c = static_cast<float>(rng.Gaussian());
  std::vector<float> x(kRows * kDim);
  for (size_t i = 0; i < kRows; ++i) {
    const size_t c = rng.Uniform(clusters);
    for (size_t j = 0; j < kDim; ++j) {
      x[i * kDim + j] = i % 50 == 49
                            ? x[(i - 1) * kDim + j]
                            : centers[c * kDim + j] +
                                  0.4f * static_cast<float>(rng.Gaussian());
    }
  }
  return x;
}

class ArrayStore : public VectorStore {
 public:
  explicit ArrayStore(const std::vector<float>* x) : x_(x) {}
  bool GetVector(uint64_t id, float* out) const override {
    if ((id + 1) * kDim > x_->size()) return false;
    std::copy(x_->data() + id * kDim, x_->data() + (id + 1) * kDim, out);
    return true;
  }

 private:
  const std::vector<float>* x_;
};

struct Config {
  std::string method;
  uint32_t bits;
  Metric metric;
  bool residual = true;
  bool progressive = false;
  uint32_t pq_nbits = 4;
  uint32_t nlist = 12;
  bool centroid_terms = true;  // IvfOptions::center_factors
};

std::string Name(const Config& c) {
  return c.method + " " + std::to_string(c.bits) + "b " +
         std::string(MetricName(c.metric)) + (c.residual ? "" : " raw") +
         (c.progressive ? " progressive" : " full") + " nlist " +
         std::to_string(c.nlist) + (c.centroid_terms ? "" : " no terms");
}

std::unique_ptr<IvfIndex> Build(const Config& c, const std::vector<float>& x) {
  IvfOptions o;
  o.dim = kDim;
  o.metric = c.metric;
  o.nlist = c.nlist;
  o.codec.method = c.method;
  o.codec.bits = c.bits;
  o.codec.pq_nbits = c.pq_nbits;
  o.residual = c.residual;
  o.center_factors = c.centroid_terms;
  o.layout.progressive = c.progressive;
  o.layout.prefix_bits = 1;
  o.layout.fastscan_prefix_ratio = 0;
  o.threads = 2;
  auto idx = testing_util::TrainAndAddAll(o, x);
  if (idx == nullptr) return nullptr;
  // Tombstones in most lists (a tenth of the rows: no compaction).
  std::vector<uint64_t> gone;
  for (uint64_t i = 3; i < kRows; i += 10) gone.push_back(i);
  EXPECT_EQ(idx->Remove(gone.data(), gone.size()), gone.size());
  return idx;
}

// SearchBatch (on the calling thread and over a pool) equals Search for
// each of the nq queries: ids, scores and summed stats.
void ExpectBatchMatchesSearch(const IvfIndex& idx, const float* queries,
                              size_t nq, SearchParams p,
                              const std::string& what) {
  std::vector<SearchStats> each(nq);
  std::vector<std::vector<Neighbor>> want(nq);
  for (size_t i = 0; i < nq; ++i) {
    p.stats = &each[i];
    auto r = idx.Search(queries + i * kDim, p);
    ASSERT_TRUE(r.ok()) << what << ": " << r.status();
    want[i] = *r;
  }
  const SearchStats sum = SumStats(each);
  ThreadPool pool(2);
  for (ThreadPool* tp : {static_cast<ThreadPool*>(nullptr), &pool}) {
    SearchStats got_stats;
    p.stats = &got_stats;
    auto got = idx.SearchBatch(queries, nq, p, tp);
    ASSERT_TRUE(got.ok()) << what << ": " << got.status();
    ASSERT_EQ(got->size(), nq);
    for (size_t i = 0; i < nq; ++i) {
      ASSERT_EQ((*got)[i].size(), want[i].size()) << what << " query " << i;
      for (size_t j = 0; j < want[i].size(); ++j) {
        ASSERT_EQ((*got)[i][j].id, want[i][j].id)
            << what << " query " << i << " rank " << j;
        ASSERT_EQ((*got)[i][j].score, want[i][j].score)
            << what << " query " << i << " rank " << j;
      }
    }
    EXPECT_EQ(got_stats.lists_probed, sum.lists_probed) << what;
    EXPECT_EQ(got_stats.codes_scanned, sum.codes_scanned) << what;
    EXPECT_EQ(got_stats.rescored, sum.rescored) << what;
    EXPECT_EQ(got_stats.refined, sum.refined) << what;
    EXPECT_EQ(got_stats.centroids_exact, sum.centroids_exact) << what;
    EXPECT_EQ(got_stats.centroids_quantized, sum.centroids_quantized) << what;
  }
}

void CheckConfig(const Config& c, bool shared) {
  const auto x = Data(21);
  auto idx = Build(c, x);
  ASSERT_NE(idx, nullptr);
  ArrayStore store(&x);
  // Queries: rows (some deleted, some duplicated) and 300 of them, more
  // than one chunk on the calling thread.
  const size_t nq = 300;
  for (uint32_t nprobe : {1u, 3u, 0u}) {
    SearchParams p;
    p.k = 10;
    p.nprobe = nprobe;
    const std::string what =
        Name(c) + " nprobe " + std::to_string(nprobe) + " ";
    EXPECT_EQ(idx->BatchScans(p), shared) << what;
    ExpectBatchMatchesSearch(*idx, x.data(), nq, p, what);
    p.rescore = true;
    p.oversampling = 3;
    p.store = &store;
    ExpectBatchMatchesSearch(*idx, x.data() + 7 * kDim, nq, p,
                             what + "rescore");
    p.rescore = false;
    p.id_filter = [](uint64_t id) { return id % 3 != 0; };
    EXPECT_EQ(idx->BatchScans(p), shared) << what;
    ExpectBatchMatchesSearch(*idx, x.data() + 11 * kDim, nq, p,
                             what + "id filter");
  }
}

TEST(IvfBatchTest, SharedScanMatchesSearch) {
  const Config configs[] = {
      {"renorm", 1, Metric::kInnerProduct},
      {"renorm", 2, Metric::kInnerProduct},
      {"renorm", 2, Metric::kCosine},
      {"renorm", 3, Metric::kCosine},
      {"renorm", 4, Metric::kInnerProduct},
      {"renorm", 4, Metric::kCosine},
      {"mse", 2, Metric::kCosine},
      {"prod", 3, Metric::kInnerProduct},  // streams A and B
      {"pq", 2, Metric::kCosine},
      {"renorm", 2, Metric::kL2, /*residual=*/false},
      {"pq", 4, Metric::kL2, /*residual=*/false},  // L2 tables
      {"renorm", 2, Metric::kL2},  // L2 over residuals: the query's tables
      {"mse", 3, Metric::kL2},
  };
  for (const Config& c : configs) CheckConfig(c, true);
}

TEST(IvfBatchTest, FallbacksMatchSearch) {
  const Config configs[] = {
      // L2 over residuals coded without n': tables of q - c per list.
      {"renorm", 2, Metric::kL2, true, false, 4, 12, /*centroid_terms=*/false},
      {"renorm", 5, Metric::kCosine},  // 8-bit sub-codes
      {"renorm", 4, Metric::kInnerProduct, true, /*progressive=*/true},
      // Lists of 30 slots on average: the tables would outweigh the codes.
      {"renorm", 2, Metric::kCosine, true, false, 4, /*nlist=*/100},
  };
  for (const Config& c : configs) CheckConfig(c, false);
}

TEST(IvfBatchTest, ErrorsAndCancellationNameTheQuery) {
  const auto x = Data(5);
  auto idx = Build({"renorm", 2, Metric::kCosine}, x);
  ASSERT_NE(idx, nullptr);
  SearchParams p;
  p.nprobe = 2;
  ASSERT_TRUE(idx->BatchScans(p));
  std::vector<float> q(x.begin(), x.begin() + 5 * kDim);
  q[3 * kDim + 1] = std::nanf("");
  auto r = idx->SearchBatch(q.data(), 5, p, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("query 3"), std::string::npos)
      << r.status();
  p.cancelled = [] { return true; };
  r = idx->SearchBatch(x.data(), 5, p, nullptr);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled) << r.status();
  p.cancelled = nullptr;
  p.nprobe = 13;
  r = idx->SearchBatch(x.data(), 5, p, nullptr);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tqdb
