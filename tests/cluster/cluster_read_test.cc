// The cluster's read path end to end (real tqdb nodes, etcd, NATS): exact
// distributed top-k equals a single database's top-k over the same points
// (1,000 queries), Count/Get/Info route over the shards, read_your_writes
// sees a write at once, and searches keep answering within their deadline
// while a node is killed (-9) during a 100k-point ingest, a NATS server is
// killed, and a node hangs (SIGSTOP: hedged around); a whole-cluster
// restart (etcd, NATS, nodes) brings everything back.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "db/bm25.h"
#include "db/db.h"
#include "db/fusion.h"
#include "db/sparse_index.h"
#include "gtest/gtest.h"
#include "quant/random.h"
#include "tests/cluster/cluster_test_util.h"
#include "tests/cluster/read_after.h"
#include "tests/cluster/tqdb_cluster.h"
#include "tests/test_util.h"

namespace tqdb {
namespace {

using testing_util::Eventually;
using testing_util::Merge;
using testing_util::ReadAfter;
using testing_util::TempDir;
using testing_util::TqdbClusterOptions;

class ClusterReadTest : public testing_util::TqdbClusterTest {
 protected:
  // Upserts rows [first, first + n) of x (dim d) with payload "p<id>" (a
  // JSON string),
  // retrying a failed batch on the next node; merges the sequences.
  void Ingest(const std::string& name, const std::vector<float>& x, uint32_t d,
              uint64_t first, uint64_t n, uint64_t batch,
              std::map<uint32_t, uint64_t>* written,
              std::atomic<uint64_t>* acknowledged = nullptr) {
    for (uint64_t b = first; b < first + n; b += batch) {
      v1::UpsertRequest req;
      req.set_collection(name);
      for (uint64_t id = b; id < std::min(first + n, b + batch); ++id) {
        v1::Point* p = req.add_points();
        p->set_id(id);
        p->mutable_vector()->Add(x.begin() + id * d, x.begin() + (id + 1) * d);
        p->set_payload(absl::StrCat("\"p", id, "\""));
      }
      for (int attempt = 0;; ++attempt) {
        grpc::ClientContext ctx;
        ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
        v1::UpsertResponse resp;
        grpc::Status s = cluster_->Points((b / batch + attempt) % 3)
                             ->Upsert(&ctx, req, &resp);
        if (s.ok()) {
          Merge(resp.sequences(), written);
          break;
        }
        ASSERT_LT(attempt, 30) << s.error_message();
        absl::SleepFor(absl::Milliseconds(100));
      }
      if (acknowledged) *acknowledged = std::min(first + n, b + batch);
    }
  }

  // A read_your_writes count of `collection` through node `via` (60 s
  // deadline) is `expected`.
  void ExpectCount(int via, const std::string& collection,
                   const std::map<uint32_t, uint64_t>& written,
                   uint64_t expected) {
    v1::CountRequest req;
    req.set_collection(collection);
    ReadAfter(written, &req);
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
    v1::CountResponse resp;
    grpc::Status s = cluster_->Points(via)->Count(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.count(), expected);
  }
};

TEST_F(ClusterReadTest, ExactTopKEqualsASingleDatabase) {
  // The bundled real sample: 18,000 GloVe-100 words, cosine.
  std::vector<float> x;
  size_t n = 0, d = 0;
  ASSERT_TRUE(testing_util::ReadVecs(
      std::string(TQDB_SOURCE_DIR) + "/tools/sample/glove100_18k.fvecs", &x, &n,
      &d));
  ASSERT_EQ(d, 100u);
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  // Trained only when asked: replicas that trained themselves in the
  // background would each have trained at their own count (and nlist).
  v1::CreateCollectionRequest create =
      testing_util::CollectionRequest("glove", 100, v1::METRIC_COSINE, 16);
  create.mutable_ivf()->set_train_threshold(n + 1);
  ASSERT_NO_FATAL_FAILURE(CreateCollection(create));
  std::map<uint32_t, uint64_t> written;
  ASSERT_NO_FATAL_FAILURE(Ingest("glove", x, 100, 0, n, 1000, &written));

  // The reference: one database in process, the same points.
  TempDir single;
  auto db = Database::Open(single.path(), DatabaseOptions());
  ASSERT_TRUE(db.ok()) << db.status();
  CollectionConfig cfg;
  cfg.name = "glove";
  cfg.dim = 100;
  cfg.metric = Metric::kCosine;
  ASSERT_TRUE((*db)->CreateCollection(cfg).ok());
  auto coll = *(*db)->GetCollection("glove");
  for (size_t b = 0; b < n; b += 5000) {
    std::vector<Point> pts;
    for (size_t id = b; id < std::min(n, b + 5000); ++id) {
      pts.push_back(
          {id, std::vector<float>(x.begin() + id * d, x.begin() + (id + 1) * d),
           ""});
    }
    ASSERT_TRUE(coll->Upsert(pts, false).ok());
  }

  // read_your_writes: every shard has applied the ingest when Count
  // answers.
  {
    v1::CountRequest req;
    req.set_collection("glove");
    ReadAfter(written, &req);
    grpc::ClientContext ctx;
    v1::CountResponse resp;
    grpc::Status s = cluster_->Points(1)->Count(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.count(), n);
  }
  // 1,000 queries (random directions), exact, k = 10, in batches of 100
  // from all three nodes.
  const size_t kQueries = 1000, kK = 10;
  const std::vector<float> queries =
      testing_util::RandomUnitVectors(kQueries, d, 42);
  QueryOptions o;
  o.k = kK;
  o.exact = true;
  size_t compared = 0;
  for (size_t b = 0; b < kQueries; b += 100) {
    v1::SearchBatchRequest req;
    req.set_collection("glove");
    // Each node asks its own replicas first: read_your_writes makes them
    // wait for the ingest (eventual reads may come from a lagging one).
    ReadAfter(written, &req);
    for (size_t q = b; q < b + 100; ++q) {
      v1::SearchRequest* s = req.add_searches();
      s->mutable_vector()->Add(queries.begin() + q * d,
                               queries.begin() + (q + 1) * d);
      s->set_limit(kK);
      s->mutable_params()->set_exact(true);
    }
    grpc::ClientContext ctx;
    v1::SearchBatchResponse resp;
    grpc::Status s =
        cluster_->Points((b / 100) % 3)->SearchBatch(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(resp.results_size(), 100);
    for (size_t q = b; q < b + 100; ++q) {
      auto want =
          coll->Search(absl::MakeConstSpan(queries.data() + q * d, d), o);
      ASSERT_TRUE(want.ok()) << want.status();
      const v1::SearchResponse& got = resp.results(q - b);
      ASSERT_EQ(got.points_size(), static_cast<int>(want->size()));
      for (size_t r = 0; r < want->size(); ++r) {
        const float ws = (*want)[r].score, gs = got.points(r).score();
        ASSERT_NEAR(gs, ws, 1e-5f) << "query " << q << " rank " << r;
        // Equal ids unless two points tie at this rank.
        const bool tie = (r + 1 < want->size() && (*want)[r + 1].score == ws) ||
                         (r > 0 && (*want)[r - 1].score == ws);
        if (!tie) {
          ASSERT_EQ(got.points(r).id(), (*want)[r].id)
              << "query " << q << " rank " << r;
        }
        ++compared;
      }
    }
  }
  EXPECT_EQ(compared, kQueries * kK);

  // offset: the second page of 5 is ranks 5-9 of one database's top 10
  // (each shard answers its best offset + limit).
  for (size_t q = 0; q < 20; ++q) {
    v1::SearchRequest req;
    req.set_collection("glove");
    ReadAfter(written, &req);
    req.mutable_vector()->Add(queries.begin() + q * d,
                              queries.begin() + (q + 1) * d);
    req.set_limit(5);
    req.set_offset(5);
    req.mutable_params()->set_exact(true);
    grpc::ClientContext ctx;
    v1::SearchResponse got;
    grpc::Status s = cluster_->Points(q % 3)->Search(&ctx, req, &got);
    ASSERT_TRUE(s.ok()) << s.error_message();
    auto want = coll->Search(absl::MakeConstSpan(queries.data() + q * d, d), o);
    ASSERT_TRUE(want.ok() && want->size() == kK);
    ASSERT_EQ(got.points_size(), 5);
    for (int r = 0; r < 5; ++r) {
      EXPECT_NEAR(got.points(r).score(), (*want)[5 + r].score, 1e-5f)
          << "query " << q << " rank " << 5 + r;
    }
  }

  // Search by example: the examples' vectors read from their shards, the
  // query and results those of one database (examples on other shards than
  // the node asked, negatives too, the examples left out).
  for (size_t q = 0; q < 12; ++q) {
    SearchExamples ex;
    ex.positive = {(q * 97) % n, (q * 389 + 5) % n};
    if (q % 2 == 1) ex.negative = {(q * 1013 + 7) % n};
    v1::SearchRequest req;
    req.set_collection("glove");
    ReadAfter(written, &req);
    req.mutable_positive_ids()->Add(ex.positive.begin(), ex.positive.end());
    req.mutable_negative_ids()->Add(ex.negative.begin(), ex.negative.end());
    req.set_limit(kK);
    req.mutable_params()->set_exact(true);
    grpc::ClientContext ctx;
    v1::SearchResponse got;
    grpc::Status s = cluster_->Points(q % 3)->Search(&ctx, req, &got);
    ASSERT_TRUE(s.ok()) << s.error_message();
    QueryOptions by_example = o;
    by_example.examples = ex;
    auto want = coll->Search({}, by_example);
    ASSERT_TRUE(want.ok()) << want.status();
    ASSERT_EQ(got.points_size(), static_cast<int>(want->size()));
    for (size_t r = 0; r < want->size(); ++r) {
      EXPECT_NEAR(got.points(r).score(), (*want)[r].score, 1e-5f)
          << "example query " << q << " rank " << r;
      EXPECT_NE(got.points(r).id(), ex.positive[0]);
      EXPECT_NE(got.points(r).id(), ex.positive[1]);
    }
  }
  // The best_score and sum_scores strategies (best_score's candidate
  // searches run by the node through the cluster, its points scored there;
  // sum_scores one search whose scores the node maps), in a batch beside a
  // plain search: those of one database, a page past an offset, a
  // threshold keeping the scores at least it; an example given as its
  // vector.
  for (size_t q = 0; q < 8; ++q) {
    SearchExamples ex;
    ex.positive = {(q * 211) % n, (q * 577 + 3) % n};
    if (q % 2 == 1) ex.negative = {(q * 1013 + 7) % n};
    if (q == 5 || q == 7) ex.positive.clear();  // negatives alone (cosine)
    ex.strategy = q % 4 < 2 ? RecommendStrategy::kBestScore
                            : RecommendStrategy::kSumScores;
    v1::SearchBatchRequest batch;
    batch.set_collection("glove");
    ReadAfter(written, &batch);
    v1::SearchRequest* req = batch.add_searches();
    req->mutable_positive_ids()->Add(ex.positive.begin(), ex.positive.end());
    req->mutable_negative_ids()->Add(ex.negative.begin(), ex.negative.end());
    req->set_strategy(static_cast<v1::RecommendStrategy>(ex.strategy));
    if (q == 2 || q == 3) {
      // The second positive as its vector (its point left out by a filter
      // instead): the same answer.
      const uint64_t id = ex.positive[1];
      req->mutable_positive_ids()->RemoveLast();
      req->add_positive_vectors()->mutable_values()->Add(
          x.begin() + id * d, x.begin() + (id + 1) * d);
      req->mutable_filter()->add_must_not()->mutable_has_id()->add_has_id(id);
    }
    req->set_limit(kK - 3);
    req->set_offset(3);
    req->set_with_payload(true);
    req->mutable_params()->set_exact(true);
    v1::SearchRequest* plain = batch.add_searches();
    plain->mutable_vector()->Add(queries.begin() + q * d,
                                 queries.begin() + (q + 1) * d);
    plain->set_limit(kK);
    plain->mutable_params()->set_exact(true);
    grpc::ClientContext ctx;
    v1::SearchBatchResponse got;
    grpc::Status s = cluster_->Points(q % 3)->SearchBatch(&ctx, batch, &got);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(got.results_size(), 2);
    QueryOptions by_example = o;
    by_example.examples = ex;
    auto want = coll->Search({}, by_example);
    ASSERT_TRUE(want.ok()) << want.status();
    ASSERT_EQ(want->size(), kK);
    const v1::SearchResponse& r0 = got.results(0);
    ASSERT_EQ(r0.points_size(), static_cast<int>(kK - 3)) << "query " << q;
    for (int r = 0; r < r0.points_size(); ++r) {
      const Neighbor& w = (*want)[3 + r];
      EXPECT_EQ(r0.points(r).id(), w.id) << "query " << q << " rank " << r;
      EXPECT_NEAR(r0.points(r).score(), w.score,
                  1e-5f * (1 + std::fabs(w.score)))
          << "query " << q << " rank " << r;
      EXPECT_EQ(r0.points(r).payload(),
                absl::StrCat("\"p", r0.points(r).id(), "\""));
      EXPECT_EQ(r0.points(r).vector_size(), 0);
    }
    ASSERT_EQ(got.results(1).points_size(), static_cast<int>(kK));
    // The threshold: at least the 6th score (higher is better).
    v1::SearchRequest single = *req;
    single.set_collection("glove");
    ReadAfter(written, &single);
    single.set_score_threshold((*want)[5].score);
    grpc::ClientContext ctx2;
    v1::SearchResponse cut;
    s = cluster_->Points((q + 1) % 3)->Search(&ctx2, single, &cut);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(cut.points_size(), 3) << "query " << q;
  }
  {
    v1::SearchRequest req;
    req.set_collection("glove");
    req.add_positive_ids(3);
    req.add_positive_ids(999999);
    req.set_limit(kK);
    grpc::ClientContext ctx;
    v1::SearchResponse got;
    grpc::Status s = cluster_->Points(0)->Search(&ctx, req, &got);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
    EXPECT_NE(s.error_message().find("positive example 999999"),
              std::string::npos)
        << s.error_message();
  }

  // Get (any order, unknown ids skipped) and Info (summed over shards).
  {
    v1::GetPointsRequest req;
    req.set_collection("glove");
    for (uint64_t id : {17000ull, 3ull, 999999ull, 42ull}) req.add_ids(id);
    req.set_with_payload(true);
    req.set_with_vectors(true);
    grpc::ClientContext ctx;
    v1::GetPointsResponse resp;
    grpc::Status s = cluster_->Points(2)->Get(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(resp.points_size(), 3);
    EXPECT_EQ(resp.points(0).id(), 17000u);
    EXPECT_EQ(resp.points(1).id(), 3u);
    EXPECT_EQ(resp.points(2).id(), 42u);
    EXPECT_EQ(resp.points(1).payload(), "\"p3\"");
    EXPECT_EQ(resp.points(1).vector_size(), 100);
  }
  {
    v1::GetCollectionRequest req;
    req.set_name("glove");
    grpc::ClientContext ctx;
    v1::CollectionInfo info;
    grpc::Status s = cluster_->Collections(1)->Get(&ctx, req, &info);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(info.count(), n);
    EXPECT_EQ(info.shards(), 16u);
    EXPECT_EQ(info.dim(), 100u);
  }
  // A query of the wrong dimension is the client's error, named.
  {
    v1::SearchRequest req;
    req.set_collection("glove");
    req.add_vector(1.0f);
    req.set_limit(3);
    grpc::ClientContext ctx;
    v1::SearchResponse resp;
    grpc::Status s = cluster_->Points(0)->Search(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("vector has 1 dimensions"),
              std::string::npos)
        << s.error_message();
  }
  // Trained, each shard has an nlist of its own (about 4 sqrt of its
  // points): nprobe is clamped to each, never refused, and nprobe_used says
  // the most lists a shard probed (0 for an exact search).
  v1::CollectionInfo trained;
  {
    v1::TrainCollectionRequest req;
    req.set_name("glove");
    grpc::ClientContext ctx;
    grpc::Status s = cluster_->Collections(0)->Train(&ctx, req, &trained);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_TRUE(trained.trained());
    ASSERT_GT(trained.nlist(), 2u);  // shard 0's
    // Each replica trained on every acknowledged write, however far behind
    // it was when Train was asked.
    EXPECT_EQ(trained.trained_count(), n);
  }
  for (const uint32_t nprobe : {0u, 2u, 1000000u}) {
    v1::SearchBatchRequest req;
    req.set_collection("glove");
    for (const bool exact : {false, true}) {
      v1::SearchRequest* q = req.add_searches();
      q->mutable_vector()->Add(queries.begin(), queries.begin() + d);
      q->set_limit(kK);
      q->mutable_params()->set_nprobe(nprobe);
      q->mutable_params()->set_exact(exact);
    }
    grpc::ClientContext ctx;
    v1::SearchBatchResponse resp;
    grpc::Status s =
        cluster_->Points(nprobe % 3)->SearchBatch(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << "nprobe " << nprobe << ": " << s.error_message();
    ASSERT_EQ(resp.results_size(), 2);
    EXPECT_EQ(resp.results(0).points_size(), static_cast<int>(kK));
    const uint32_t used = resp.results(0).nprobe_used();
    if (nprobe == 2) {
      EXPECT_EQ(used, 2u);
    } else if (nprobe == 0) {
      EXPECT_EQ(used, std::min(16u, trained.nlist()));  // the default, 16
    } else {
      // Every list of the shard with the most.
      EXPECT_GE(used, trained.nlist());
      EXPECT_LT(used, 2 * std::sqrt(static_cast<double>(n)));
    }
    EXPECT_EQ(resp.results(1).nprobe_used(), 0u) << "exact";
  }

  // UpdateVectors: new vectors on whichever shards hold the points, their
  // payloads kept; a point the cluster does not hold is NOT_FOUND, named.
  {
    constexpr uint64_t kUpdated = 20;
    const std::vector<float> fresh =
        testing_util::RandomUnitVectors(kUpdated, d, 7);
    v1::UpdateVectorsRequest req;
    req.set_collection("glove");
    for (uint64_t i = 0; i < kUpdated; ++i) {
      v1::PointVector* p = req.add_points();
      p->set_id(i * 101);
      p->mutable_vector()->Add(fresh.begin() + i * d,
                               fresh.begin() + (i + 1) * d);
    }
    grpc::ClientContext ctx;
    v1::UpdateVectorsResponse resp;
    grpc::Status s = cluster_->Points(1)->UpdateVectors(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.updated(), kUpdated);
    std::map<uint32_t, uint64_t> updated;
    testing_util::Merge(resp.sequences(), &updated);
    for (uint64_t i = 0; i < kUpdated; ++i) {
      v1::SearchRequest q;
      q.set_collection("glove");
      ReadAfter(updated, &q);
      q.mutable_vector()->Add(fresh.begin() + i * d,
                              fresh.begin() + (i + 1) * d);
      q.set_limit(1);
      q.set_with_payload(true);
      q.mutable_params()->set_exact(true);
      grpc::ClientContext sctx;
      v1::SearchResponse got;
      s = cluster_->Points(i % 3)->Search(&sctx, q, &got);
      ASSERT_TRUE(s.ok()) << s.error_message();
      ASSERT_EQ(got.points_size(), 1);
      EXPECT_EQ(got.points(0).id(), i * 101);
      EXPECT_NEAR(got.points(0).score(), 1.0f, 1e-5f);
      EXPECT_EQ(got.points(0).payload(), absl::StrCat("\"p", i * 101, "\""));
    }
    v1::UpdateVectorsRequest missing;
    missing.set_collection("glove");
    *missing.add_points() = req.points(0);
    missing.add_points()->set_id(999999);
    *missing.mutable_points(1)->mutable_vector() = req.points(1).vector();
    grpc::ClientContext mctx;
    s = cluster_->Points(2)->UpdateVectors(&mctx, missing, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
    EXPECT_NE(s.error_message().find("point 999999 is not in collection "
                                     "'glove'"),
              std::string::npos)
        << s.error_message();
  }

  // Sparse vectors and hybrid search: 3,000 of the words with sparse
  // vectors (every fifth without), on the cluster and in one database; a
  // sparse search equals one database's exactly, a hybrid one the fusion
  // of one database's two searches.
  {
    constexpr uint64_t kHybrid = 3000;
    auto sparse_of = [](uint64_t id) {
      SparseVector v;
      if (id % 5 == 0) return v;
      v.indices = {static_cast<uint32_t>(150 + id % 13),
                   static_cast<uint32_t>(id % 50),
                   static_cast<uint32_t>(50 + (id * 7) % 100)};
      v.values = {0.25f + (id % 3), 1.0f + (id % 11) / 8.0f, 0.5f};
      return v;
    };
    v1::CreateCollectionRequest hc =
        testing_util::CollectionRequest("hybrid", 100, v1::METRIC_COSINE, 16);
    hc.mutable_ivf()->set_train_threshold(kHybrid + 1);
    ASSERT_NO_FATAL_FAILURE(CreateCollection(hc));
    cfg.name = "hybrid";
    ASSERT_TRUE((*db)->CreateCollection(cfg).ok());
    auto local = *(*db)->GetCollection("hybrid");
    std::vector<Point> pts;
    v1::UpsertRequest up;
    up.set_collection("hybrid");
    for (uint64_t id = 0; id < kHybrid; ++id) {
      pts.push_back(
          {id, std::vector<float>(x.begin() + id * d, x.begin() + (id + 1) * d),
           absl::StrCat("\"p", id, "\""), sparse_of(id)});
      v1::Point* p = up.add_points();
      p->set_id(id);
      p->mutable_vector()->Add(x.begin() + id * d, x.begin() + (id + 1) * d);
      p->set_payload(pts.back().payload);
      p->mutable_sparse_vector()->mutable_indices()->Add(
          pts.back().sparse.indices.begin(), pts.back().sparse.indices.end());
      p->mutable_sparse_vector()->mutable_values()->Add(
          pts.back().sparse.values.begin(), pts.back().sparse.values.end());
    }
    ASSERT_TRUE(local->Upsert(pts, false).ok());
    std::map<uint32_t, uint64_t> hw;
    {
      grpc::ClientContext ctx;
      v1::UpsertResponse resp;
      grpc::Status s = cluster_->Points(0)->Upsert(&ctx, up, &resp);
      ASSERT_TRUE(s.ok()) << s.error_message();
      Merge(resp.sequences(), &hw);
    }
    for (uint64_t q = 0; q < 30; ++q) {
      SCOPED_TRACE(::testing::Message() << "query " << q);
      SparseVector sq;
      sq.indices = {static_cast<uint32_t>(q % 50),
                    static_cast<uint32_t>(150 + q % 13)};
      sq.values = {1.0f, 0.5f + q / 10.0f};
      v1::SearchRequest sparse;
      sparse.set_collection("hybrid");
      ReadAfter(hw, &sparse);
      sparse.mutable_sparse_vector()->mutable_indices()->Add(sq.indices.begin(),
                                                             sq.indices.end());
      sparse.mutable_sparse_vector()->mutable_values()->Add(sq.values.begin(),
                                                            sq.values.end());
      sparse.set_limit(10);
      sparse.set_offset(3);
      sparse.set_with_payload(true);
      v1::SearchRequest hybrid = sparse;
      hybrid.mutable_vector()->Add(queries.begin() + q * d,
                                   queries.begin() + (q + 1) * d);
      hybrid.mutable_params()->set_exact(true);
      hybrid.set_prefetch_limit(40);
      hybrid.set_fusion(q % 2 ? v1::FUSION_DBSF : v1::FUSION_RRF);
      v1::SearchBatchRequest batch;
      batch.set_collection("hybrid");
      ReadAfter(hw, &batch);
      *batch.add_searches() = sparse;
      *batch.add_searches() = hybrid;
      grpc::ClientContext ctx;
      v1::SearchBatchResponse resp;
      grpc::Status s = cluster_->Points(q % 3)->SearchBatch(&ctx, batch, &resp);
      ASSERT_TRUE(s.ok()) << s.error_message();
      ASSERT_EQ(resp.results_size(), 2);
      QueryOptions so;
      so.k = 13;
      auto want_sparse = local->SearchSparse(sq, so);
      ASSERT_TRUE(want_sparse.ok()) << want_sparse.status();
      const v1::SearchResponse& got = resp.results(0);
      ASSERT_EQ(got.points_size() + 3, static_cast<int>(want_sparse->size()));
      for (int r = 0; r < got.points_size(); ++r) {
        EXPECT_EQ(got.points(r).id(), (*want_sparse)[r + 3].id) << r;
        EXPECT_EQ(got.points(r).score(), (*want_sparse)[r + 3].score) << r;
        EXPECT_EQ(got.points(r).payload(),
                  absl::StrCat("\"p", got.points(r).id(), "\""));
      }
      // With sparse_idf: the IDF over every shard's points, as one
      // database's over all of them.
      {
        v1::SearchRequest idf = sparse;
        idf.set_sparse_idf(true);
        grpc::ClientContext ictx;
        v1::SearchResponse igot;
        s = cluster_->Points((q + 1) % 3)->Search(&ictx, idf, &igot);
        ASSERT_TRUE(s.ok()) << s.error_message();
        auto stats = local->SparseStats(sq.indices);
        ASSERT_TRUE(stats.ok());
        SparseVector wq = sq;
        ApplyIdf(*stats, &wq);
        auto want_idf = local->SearchSparse(wq, so);
        ASSERT_TRUE(want_idf.ok());
        ASSERT_EQ(igot.points_size() + 3, static_cast<int>(want_idf->size()));
        for (int r = 0; r < igot.points_size(); ++r) {
          EXPECT_EQ(igot.points(r).id(), (*want_idf)[r + 3].id) << r;
          EXPECT_EQ(igot.points(r).score(), (*want_idf)[r + 3].score) << r;
        }
      }
      so.k = 40;
      auto by_sparse = local->SearchSparse(sq, so);
      so.exact = true;
      auto dense =
          local->Search(absl::MakeConstSpan(queries.data() + q * d, d), so);
      ASSERT_TRUE(by_sparse.ok() && dense.ok());
      const std::vector<Neighbor> want =
          FuseRanked({{&*dense, false}, {&*by_sparse, false}},
                     q % 2 ? Fusion::kDbsf : Fusion::kRrf, 13);
      const v1::SearchResponse& fused = resp.results(1);
      ASSERT_EQ(fused.points_size(), 10);
      for (int r = 0; r < 10; ++r) {
        EXPECT_EQ(fused.points(r).id(), want[r + 3].id) << r;
        EXPECT_NEAR(fused.points(r).score(), want[r + 3].score, 1e-6) << r;
      }
      EXPECT_TRUE(absl::EndsWith(fused.plan().kind(), "+sparse"))
          << fused.plan().kind();
      // Score boosting: the node rescores the merged exact search's best
      // 40 as one database's are rescored here ($score + 0.05 for ids
      // divisible by 4, a page past 3).
      {
        v1::SearchRequest boosted = hybrid;
        boosted.clear_sparse_vector();
        boosted.clear_fusion();
        v1::Expressions* sum =
            boosted.mutable_formula()->mutable_expression()->mutable_sum();
        sum->add_expressions()->set_variable("$score");
        v1::Expressions* m = sum->add_expressions()->mutable_mult();
        m->add_expressions()->set_constant(0.05);
        v1::HasIdCondition* ids =
            m->add_expressions()->mutable_condition()->mutable_has_id();
        for (uint64_t id = 0; id < kHybrid; id += 4) ids->add_has_id(id);
        grpc::ClientContext bctx;
        v1::SearchResponse bgot;
        s = cluster_->Points((q + 2) % 3)->Search(&bctx, boosted, &bgot);
        ASSERT_TRUE(s.ok()) << s.error_message();
        std::vector<std::pair<double, uint64_t>> bwant;
        for (const Neighbor& n : *dense) {
          bwant.emplace_back(n.score + (n.id % 4 == 0 ? 0.05 : 0.0), n.id);
        }
        std::sort(bwant.begin(), bwant.end(), [](const auto& a, const auto& b) {
          return a.first != b.first ? a.first > b.first : a.second < b.second;
        });
        ASSERT_EQ(bgot.points_size(), 10);
        for (int r = 0; r < 10; ++r) {
          EXPECT_EQ(bgot.points(r).id(), bwant[r + 3].second) << r;
          EXPECT_NEAR(bgot.points(r).score(), bwant[r + 3].first, 1e-6) << r;
          EXPECT_EQ(bgot.points(r).payload(),
                    absl::StrCat("\"p", bgot.points(r).id(), "\""));
        }
      }
    }
  }

  // BM25 texts: 1,000 points given texts (every seventh none) through the
  // cluster and into one database; a text search on any node equals one
  // database's (IDF over every shard), also after an UpdateVectors with a
  // text, which the node turns into the vector every replica stores.
  {
    constexpr uint64_t kTexts = 1000;
    static const char* const kWords[] = {
        "ships",  "sailing", "harbour", "storms", "maps",   "islands",
        "winds",  "sails",   "anchors", "tides",  "crews",  "lighthouses",
        "coasts", "waves",   "charts",  "voyage", "compass"};
    auto text_of = [](uint64_t id) {
      std::string t;
      if (id % 7 == 0) return t;
      for (uint64_t j = 0, s = id * 2654435761ull + 11; j < 2 + id % 12; ++j) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        absl::StrAppend(&t, j ? " " : "", kWords[(s >> 33) % 17]);
      }
      return t;
    };
    v1::CreateCollectionRequest tc =
        testing_util::CollectionRequest("texts", 100, v1::METRIC_COSINE, 16);
    tc.mutable_ivf()->set_train_threshold(kTexts + 1);
    tc.mutable_bm25()->set_avg_len(7);
    ASSERT_NO_FATAL_FAILURE(CreateCollection(tc));
    CollectionConfig tcfg = cfg;
    tcfg.name = "texts";
    tcfg.bm25 = Bm25Config();
    tcfg.bm25->avg_len = 7;
    ASSERT_TRUE((*db)->CreateCollection(tcfg).ok());
    auto local = *(*db)->GetCollection("texts");
    std::vector<Point> pts;
    v1::UpsertRequest up;
    up.set_collection("texts");
    for (uint64_t id = 0; id < kTexts; ++id) {
      pts.push_back(
          {id, std::vector<float>(x.begin() + id * d, x.begin() + (id + 1) * d),
           ""});
      pts.back().text = text_of(id);
      v1::Point* p = up.add_points();
      p->set_id(id);
      p->mutable_vector()->Add(x.begin() + id * d, x.begin() + (id + 1) * d);
      p->set_text(pts.back().text);
    }
    ASSERT_TRUE(local->Upsert(pts, false).ok());
    std::map<uint32_t, uint64_t> hw;
    auto write = [&](auto call) {
      grpc::ClientContext ctx;
      grpc::Status s = call(&ctx);
      ASSERT_TRUE(s.ok()) << s.error_message();
    };
    {
      v1::UpsertResponse resp;
      write([&](grpc::ClientContext* ctx) {
        return cluster_->Points(1)->Upsert(ctx, up, &resp);
      });
      Merge(resp.sequences(), &hw);
    }
    {
      // The settings, and (once every replica read applied the upsert) the
      // points holding a text over every shard.
      v1::CollectionInfo info;
      const absl::Time until = absl::Now() + absl::Seconds(20);
      do {
        grpc::ClientContext ctx;
        v1::GetCollectionRequest req;
        req.set_name("texts");
        grpc::Status s = cluster_->Collections(2)->Get(&ctx, req, &info);
        ASSERT_TRUE(s.ok()) << s.error_message();
        if (info.sparse_points() == kTexts - (kTexts + 6) / 7) break;
        absl::SleepFor(absl::Milliseconds(50));
      } while (absl::Now() < until);
      EXPECT_EQ(info.sparse_points(), kTexts - (kTexts + 6) / 7);
      EXPECT_EQ(info.bm25().language(), "english");
      EXPECT_FLOAT_EQ(info.bm25().avg_len(), 7.0f);
    }
    auto compare = [&](const std::string& text, int node) {
      SCOPED_TRACE(text);
      v1::SearchRequest r;
      r.set_collection("texts");
      ReadAfter(hw, &r);
      r.set_text(text);
      r.set_limit(8);
      grpc::ClientContext ctx;
      v1::SearchResponse got;
      grpc::Status s = cluster_->Points(node)->Search(&ctx, r, &got);
      ASSERT_TRUE(s.ok()) << s.error_message();
      SparseVector q = Bm25Query(*tcfg.bm25, text);
      auto stats = local->SparseStats(q.indices);
      ASSERT_TRUE(stats.ok());
      ApplyIdf(*stats, &q);
      QueryOptions so;
      so.k = 8;
      auto want = local->SearchSparse(q, so);
      ASSERT_TRUE(want.ok());
      ASSERT_EQ(got.points_size(), static_cast<int>(want->size()));
      ASSERT_GT(got.points_size(), 0);
      for (int r2 = 0; r2 < got.points_size(); ++r2) {
        EXPECT_EQ(got.points(r2).id(), (*want)[r2].id) << r2;
        EXPECT_EQ(got.points(r2).score(), (*want)[r2].score) << r2;
      }
    };
    for (int q = 0; q < 12; ++q) {
      compare(absl::StrCat(kWords[q % 17], " ", kWords[(q * 5 + 3) % 17],
                           q % 2 ? " Sail" : ""),
              q % 3);
    }
    v1::UpdateVectorsRequest uv;
    uv.set_collection("texts");
    v1::PointVector* pv = uv.add_points();
    pv->set_id(14);
    pv->mutable_vector()->Add(x.begin() + 14 * d, x.begin() + 15 * d);
    pv->set_text("Krakens in the harbour");
    {
      v1::UpdateVectorsResponse resp;
      write([&](grpc::ClientContext* ctx) {
        return cluster_->Points(2)->UpdateVectors(ctx, uv, &resp);
      });
      Merge(resp.sequences(), &hw);
    }
    std::vector<Point> local_uv = {
        {14, std::vector<float>(x.begin() + 14 * d, x.begin() + 15 * d), ""}};
    local_uv[0].text = "Krakens in the harbour";
    ASSERT_TRUE(local->UpdateVectors(local_uv, false).ok());
    compare("kraken harbour", 0);
  }
}

TEST_F(ClusterReadTest, SearchesAnswerThroughNodeAndNatsFailures) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  constexpr uint32_t kDim = 8;
  constexpr uint64_t kPoints = 100000;
  ASSERT_NO_FATAL_FAILURE(Create("docs", kDim, v1::METRIC_L2, 6));
  const std::vector<float> x =
      testing_util::RandomUnitVectors(kPoints, kDim, 7);
  // Searches from node 1 all along, each with a 3 s deadline.
  std::atomic<bool> stop{false};
  std::atomic<int> searches{0}, failures{0};
  std::string last_failure;
  std::thread searcher([&] {
    auto points = cluster_->Points(0);
    while (!stop) {
      v1::SearchRequest req;
      req.set_collection("docs");
      req.mutable_vector()->Add(x.begin(), x.begin() + kDim);
      req.set_limit(5);
      grpc::ClientContext ctx;
      ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(3)));
      v1::SearchResponse resp;
      grpc::Status s = points->Search(&ctx, req, &resp);
      ++searches;
      if (!s.ok()) {
        ++failures;
        last_failure = s.error_message();
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
  });
  std::map<uint32_t, uint64_t> written;
  std::atomic<uint64_t> acknowledged{0};
  std::thread ingest([&] {
    Ingest("docs", x, kDim, 0, kPoints, 1000, &written, &acknowledged);
  });
  ASSERT_TRUE(Eventually(absl::Seconds(60),
                         [&] { return acknowledged >= kPoints * 2 / 10; }));
  cluster_->node(1).Signal(SIGKILL);  // a tqdb node dies
  ASSERT_TRUE(Eventually(absl::Seconds(60),
                         [&] { return acknowledged >= kPoints * 4 / 10; }));
  cluster_->nats().server(2).Signal(SIGKILL);  // and a NATS server
  ASSERT_TRUE(Eventually(absl::Seconds(60),
                         [&] { return acknowledged >= kPoints * 6 / 10; }));
  {
    const absl::Status restarted = cluster_->RestartNode(1);
    ASSERT_TRUE(restarted.ok()) << restarted;
  }
  ASSERT_TRUE(cluster_->nats().Restart(2).ok());
  ingest.join();
  ASSERT_EQ(acknowledged.load(), kPoints);

  // Every acknowledged point is there, once: the count is exact.
  ASSERT_NO_FATAL_FAILURE(ExpectCount(2, "docs", written, kPoints));
  // The restarted node caught up on every shard it holds.
  std::string why;
  EXPECT_TRUE(testing_util::AwaitApplied(*cluster_, {0, 1, 2}, "docs", written,
                                         2, absl::Seconds(60), &why))
      << why;

  // A hung node (SIGSTOP): searches hedge around it, well within their
  // deadline.
  const int before = failures;
  cluster_->node(2).Signal(SIGSTOP);
  for (int i = 0; i < 20; ++i) {
    v1::SearchRequest req;
    req.set_collection("docs");
    req.mutable_vector()->Add(x.begin() + i * kDim, x.begin() + (i + 1) * kDim);
    req.set_limit(1);
    req.mutable_params()->set_exact(true);
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(3)));
    v1::SearchResponse resp;
    const absl::Time t0 = absl::Now();
    grpc::Status s = cluster_->Points(i % 2)->Search(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_LT(absl::Now() - t0, absl::Seconds(2));
    ASSERT_EQ(resp.points_size(), 1);
    EXPECT_EQ(resp.points(0).id(), static_cast<uint64_t>(i));
  }
  cluster_->node(2).Signal(SIGCONT);
  stop = true;
  searcher.join();
  EXPECT_GT(searches.load(), 20);
  EXPECT_EQ(failures.load(), 0) << last_failure;
  EXPECT_EQ(failures.load(), before);
}

TEST_F(ClusterReadTest, WholeClusterRestartKeepsEverything) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  constexpr uint32_t kDim = 8;
  constexpr uint64_t kPoints = 20000;
  ASSERT_NO_FATAL_FAILURE(Create("docs", kDim, v1::METRIC_IP, 8));
  const std::vector<float> x =
      testing_util::RandomUnitVectors(kPoints, kDim, 11);
  std::map<uint32_t, uint64_t> written;
  ASSERT_NO_FATAL_FAILURE(Ingest("docs", x, kDim, 0, kPoints, 2000, &written));
  std::string why;
  ASSERT_TRUE(testing_util::AwaitApplied(*cluster_, {0, 1, 2}, "docs", written,
                                         2, absl::Seconds(60), &why))
      << why;
  // Everything stops: nodes, NATS servers, etcd. Then it all comes back on
  // the same ports and directories.
  cluster_->StopNodes();
  for (int i = 0; i < cluster_->nats().size(); ++i) {
    cluster_->nats().server(i).Stop();
  }
  cluster_->etcd().process().Stop();
  ASSERT_TRUE(cluster_->etcd().Restart().ok());
  for (int i = 0; i < cluster_->nats().size(); ++i) {
    ASSERT_TRUE(cluster_->nats().Restart(i).ok());
  }
  // The servers accept connections before JetStream has a meta leader
  // again, and a node that finds none within its start timeout (10 s)
  // exits 1, as it should (an operator sees why): wait for the election,
  // as an operator would, before starting the nodes.
  {
    const absl::Time t0 = absl::Now();
    const absl::Status js = cluster_->nats().AwaitJetStream(absl::Seconds(60));
    ASSERT_TRUE(js.ok()) << js;
    std::cerr << "JetStream answered " << absl::Now() - t0
              << " after the NATS servers restarted" << std::endl;
  }
  for (int i = 0; i < cluster_->size(); ++i) {
    const absl::Status restarted = cluster_->RestartNode(i);
    ASSERT_TRUE(restarted.ok()) << "node " << i + 1 << ": " << restarted;
  }
  // The state (etcd), the data (each node's directory) and the log (the
  // streams) are back: exact count, exact top-1 of stored points, and new
  // writes go on where the sequences left off.
  ASSERT_NO_FATAL_FAILURE(ExpectCount(1, "docs", written, kPoints));
  for (uint64_t id : {5ull, 777ull, 19999ull}) {
    ASSERT_NO_FATAL_FAILURE(testing_util::ExpectExactTopOne(
        *cluster_, id % 3, "docs", &x[id * kDim], kDim, id));
  }
  std::map<uint32_t, uint64_t> more = written;
  ASSERT_NO_FATAL_FAILURE(Ingest("docs", x, kDim, 0, 2000, 2000, &more));
  for (const auto& [shard, seq] : more) {
    if (written.count(shard)) {
      EXPECT_GT(seq, written[shard]);
    }
  }
}

}  // namespace
}  // namespace tqdb
