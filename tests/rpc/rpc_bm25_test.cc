// BM25 over gRPC: a collection created with bm25 takes points' texts
// (Point.text, PointVector.text) and query texts (SearchRequest.text). A
// text search answers as the sparse search of the text's terms with
// sparse_idf (the API's own other path), a hybrid one as that hybrid; the
// stored sparse vectors are the texts' BM25 weights; the errors name what
// is wrong.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "db/bm25.h"
#include "gtest/gtest.h"
#include "tests/rpc/rpc_test_util.h"

namespace tqdb {
namespace {

using namespace rpctest;  // NOLINT

constexpr uint32_t kDim = 16;
constexpr uint64_t kPoints = 200;

std::string TextOf(uint64_t id) {
  static const char* const kWords[] = {
      "compressed", "vectors",  "searching", "database", "quantized",
      "indexes",    "recall",   "memory",    "clusters", "shards",
      "ranking",    "payloads", "filters",   "texts",    "queries"};
  std::string t = "the";
  for (uint64_t i = 0, s = id * 2654435761ull + 7; i < 3 + id % 9; ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    absl::StrAppend(&t, " ", kWords[(s >> 33) % 15]);
  }
  return t;
}

class RpcBm25Test : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ClientContext ctx;
    pb::CollectionInfo info;
    auto r = CreateReq("docs", kDim, pb::METRIC_COSINE);
    r.mutable_bm25()->set_avg_len(8);
    ASSERT_TRUE(ts_.collections().Create(&ctx, r, &info).ok());
    EXPECT_EQ(info.bm25().language(), "english");
    EXPECT_FLOAT_EQ(info.bm25().k1(), 1.2f);
    EXPECT_FLOAT_EQ(info.bm25().b(), 0.75f);
    EXPECT_FLOAT_EQ(info.bm25().avg_len(), 8.0f);
    pb::UpsertRequest up = UpsertReq("docs", 0, kPoints, kDim);
    for (pb::Point& p : *up.mutable_points()) {
      if (p.id() % 5 != 0) p.set_text(TextOf(p.id()));
    }
    grpc::ClientContext uctx;
    pb::UpsertResponse resp;
    ASSERT_TRUE(ts_.points().Upsert(&uctx, up, &resp).ok());
  }
  grpc::Status Search(const pb::SearchRequest& r, pb::SearchResponse* resp) {
    grpc::ClientContext ctx;
    return ts_.points().Search(&ctx, r, resp);
  }
  // A text search, and the same search given the text's terms as a sparse
  // vector with sparse_idf: the same answer.
  void ExpectSameAsSparse(pb::SearchRequest r, const std::string& text) {
    r.set_text(text);
    pb::SearchResponse by_text, by_sparse;
    ASSERT_TRUE(Search(r, &by_text).ok());
    r.clear_text();
    Bm25Config english;
    english.avg_len = 8;
    const SparseVector q = Bm25Query(english, text);
    r.mutable_sparse_vector()->mutable_indices()->Add(q.indices.begin(),
                                                      q.indices.end());
    r.mutable_sparse_vector()->mutable_values()->Add(q.values.begin(),
                                                     q.values.end());
    r.set_sparse_idf(true);
    ASSERT_TRUE(Search(r, &by_sparse).ok());
    ASSERT_GT(by_text.points_size(), 0) << text;
    ASSERT_EQ(by_text.points_size(), by_sparse.points_size()) << text;
    for (int i = 0; i < by_text.points_size(); ++i) {
      EXPECT_EQ(by_text.points(i).id(), by_sparse.points(i).id()) << text;
      EXPECT_EQ(by_text.points(i).score(), by_sparse.points(i).score());
      EXPECT_EQ(by_text.points(i).payload(), by_sparse.points(i).payload());
    }
    EXPECT_EQ(by_text.plan().kind(), by_sparse.plan().kind());
  }
  TestServer ts_;
};

TEST_F(RpcBm25Test, TextSearchIsTheSparseSearchOfItsTermsWithIdf) {
  for (const std::string q : {"searching compressed vectors", "Shards!",
                              "ranking the queries", "memory recall"}) {
    pb::SearchRequest r;
    r.set_collection("docs");
    r.set_limit(7);
    r.set_with_payload(true);
    ExpectSameAsSparse(r, q);
  }
  // Hybrid, both fusions, an offset.
  for (uint64_t i = 0; i < 4; ++i) {
    pb::SearchRequest r =
        SearchReq("docs", dbtest::VectorFor(1000 + i, 0, kDim), 5);
    r.set_offset(2);
    r.set_fusion(i % 2 ? pb::FUSION_DBSF : pb::FUSION_RRF);
    ExpectSameAsSparse(r, TextOf(i * 13 + 1));
  }
  // A point's stored sparse vector is its text's BM25 weights; points
  // given no text hold none.
  grpc::ClientContext ctx;
  pb::GetPointsRequest g;
  g.set_collection("docs");
  g.add_ids(3);
  g.add_ids(5);
  g.set_with_vectors(true);
  pb::GetPointsResponse got;
  ASSERT_TRUE(ts_.points().Get(&ctx, g, &got).ok());
  ASSERT_EQ(got.points_size(), 2);
  Bm25Config c;
  c.avg_len = 8;
  const SparseVector want = Bm25Document(c, TextOf(3));
  EXPECT_EQ(
      std::vector<uint32_t>(got.points(0).sparse_vector().indices().begin(),
                            got.points(0).sparse_vector().indices().end()),
      want.indices);
  EXPECT_EQ(std::vector<float>(got.points(0).sparse_vector().values().begin(),
                               got.points(0).sparse_vector().values().end()),
            want.values);
  EXPECT_FALSE(got.points(1).has_sparse_vector());
}

TEST_F(RpcBm25Test, UpdateVectorsTakesATextAndTheErrorsSayWhy) {
  // Point 7's text becomes one of a word no other point holds: it alone
  // answers that word.
  {
    grpc::ClientContext ctx;
    pb::UpdateVectorsRequest u;
    u.set_collection("docs");
    pb::PointVector* p = u.add_points();
    p->set_id(7);
    const std::vector<float> v = dbtest::VectorFor(7, 1, kDim);
    p->mutable_vector()->Add(v.begin(), v.end());
    p->set_text("Zeppelins");
    pb::UpdateVectorsResponse resp;
    ASSERT_TRUE(ts_.points().UpdateVectors(&ctx, u, &resp).ok());
    pb::SearchRequest r;
    r.set_collection("docs");
    r.set_limit(3);
    r.set_text("zeppelin");
    pb::SearchResponse sr;
    ASSERT_TRUE(Search(r, &sr).ok());
    ASSERT_EQ(sr.points_size(), 1);
    EXPECT_EQ(sr.points(0).id(), 7u);
  }
  auto expect = [&](const grpc::Status& s, grpc::StatusCode code,
                    const std::string& what) {
    EXPECT_EQ(s.error_code(), code) << s.error_message();
    EXPECT_TRUE(absl::StrContains(s.error_message(), what))
        << s.error_message();
  };
  pb::SearchRequest r;
  r.set_collection("docs");
  r.set_limit(3);
  r.set_text("?! ...");
  pb::SearchResponse sr;
  expect(Search(r, &sr), grpc::INVALID_ARGUMENT, "holds no words");
  r.set_text("vectors");
  r.mutable_sparse_vector()->add_indices(1);
  r.mutable_sparse_vector()->add_values(1);
  expect(Search(r, &sr), grpc::INVALID_ARGUMENT, "text and sparse_vector");
  r.clear_sparse_vector();
  r.add_positive_ids(3);
  expect(Search(r, &sr), grpc::INVALID_ARGUMENT,
         "does not go with a search by example");
  {
    grpc::ClientContext ctx;
    pb::CollectionInfo info;
    auto c = CreateReq("plain", kDim, pb::METRIC_COSINE);
    ASSERT_TRUE(ts_.collections().Create(&ctx, c, &info).ok());
    EXPECT_FALSE(info.has_bm25());
    pb::SearchRequest t;
    t.set_collection("plain");
    t.set_limit(3);
    t.set_text("vectors");
    expect(Search(t, &sr), grpc::FAILED_PRECONDITION,
           "collection 'plain' has no bm25 settings");
    grpc::ClientContext uctx;
    pb::UpsertRequest up = UpsertReq("plain", 0, 2, kDim);
    up.mutable_points(1)->set_text("vectors");
    pb::UpsertResponse resp;
    expect(ts_.points().Upsert(&uctx, up, &resp), grpc::INVALID_ARGUMENT,
           "point 1 (id 1): collection 'plain' has no bm25 settings");
  }
  grpc::ClientContext ctx;
  pb::CollectionInfo info;
  auto c = CreateReq("klingon", kDim, pb::METRIC_COSINE);
  c.mutable_bm25()->set_language("klingon");
  expect(ts_.collections().Create(&ctx, c, &info), grpc::INVALID_ARGUMENT,
         "bm25 language 'klingon' has no Snowball stemmer");
}

}  // namespace
}  // namespace tqdb
