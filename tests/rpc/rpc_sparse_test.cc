// Sparse vectors and hybrid search over gRPC (rpc/hybrid_search.h): points
// upserted with a sparse vector beside the dense one; a search of sparse
// vectors alone equals the test's brute force; a hybrid search equals the
// fusion (db/fusion.h) of the dense and the sparse search the API answers
// separately, with offset, threshold and both fusions; SearchBatch mixes
// the kinds; UpdateVectors replaces or keeps the sparse vector; the errors.
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "db/fusion.h"
#include "gtest/gtest.h"
#include "tests/rpc/rpc_test_util.h"

namespace tqdb {
namespace {

using namespace rpctest;  // NOLINT

constexpr uint32_t kDim = 16;
constexpr uint64_t kPoints = 300;

// Point id's sparse vector (given unsorted): 2-4 terms of 40.
pb::SparseVector SparseOf(uint64_t id) {
  pb::SparseVector v;
  const uint32_t terms[] = {
      static_cast<uint32_t>(30 + id % 10), static_cast<uint32_t>(id % 7),
      static_cast<uint32_t>(10 + id % 13), static_cast<uint32_t>(25 + id % 3)};
  const size_t n = 2 + id % 3;
  for (size_t i = 0; i < n; ++i) {
    v.add_indices(terms[i]);
    v.add_values(static_cast<float>(1 + (id * 7 + i) % 9) / 4.0f);
  }
  return v;
}

class RpcSparseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ClientContext ctx;
    pb::CollectionInfo info;
    auto r = CreateReq("c", kDim, pb::METRIC_L2);
    r.mutable_ivf()->set_nlist(4);
    ASSERT_TRUE(ts_.collections().Create(&ctx, r, &info).ok());
    pb::UpsertRequest up = UpsertReq("c", 0, kPoints, kDim);
    for (pb::Point& p : *up.mutable_points()) {
      if (p.id() % 4 != 0) *p.mutable_sparse_vector() = SparseOf(p.id());
    }
    grpc::ClientContext uctx;
    pb::UpsertResponse resp;
    ASSERT_TRUE(ts_.points().Upsert(&uctx, up, &resp).ok());
  }
  grpc::Status Search(const pb::SearchRequest& r, pb::SearchResponse* resp) {
    grpc::ClientContext ctx;
    return ts_.points().Search(&ctx, r, resp);
  }
  // The test's own answer: dot products, summed in ascending query index
  // order as the index sums them.
  std::vector<Neighbor> BruteForce(const pb::SparseVector& q, size_t k) {
    std::map<uint32_t, float> query;
    for (int i = 0; i < q.indices_size(); ++i)
      query[q.indices(i)] = q.values(i);
    std::vector<Neighbor> all;
    for (uint64_t id = 0; id < kPoints; ++id) {
      if (id % 4 == 0) continue;
      const pb::SparseVector v = SparseOf(id);
      float dot = 0;
      bool shared = false;
      for (const auto& [t, w] : query) {
        for (int i = 0; i < v.indices_size(); ++i) {
          if (v.indices(i) != t) continue;
          dot += w * v.values(i);
          shared = true;
        }
      }
      if (shared) all.push_back({id, dot});
    }
    std::sort(all.begin(), all.end(), [](const Neighbor& a, const Neighbor& b) {
      return a.score != b.score ? a.score > b.score : a.id < b.id;
    });
    if (all.size() > k) all.resize(k);
    return all;
  }
  static std::vector<Neighbor> Hits(const pb::SearchResponse& r) {
    std::vector<Neighbor> out;
    for (const pb::ScoredPoint& p : r.points())
      out.push_back({p.id(), p.score()});
    return out;
  }
  TestServer ts_;
};

pb::SparseVector Query(uint64_t i) {
  pb::SparseVector q;
  q.add_indices(static_cast<uint32_t>(i % 7));
  q.add_values(1.5f);
  q.add_indices(static_cast<uint32_t>(30 + i % 10));
  q.add_values(0.5f);
  return q;
}

TEST_F(RpcSparseTest, SparseAloneEqualsBruteForceAndComesBackWithVectors) {
  for (uint64_t i = 0; i < 20; ++i) {
    pb::SearchRequest r;
    r.set_collection("c");
    *r.mutable_sparse_vector() = Query(i);
    r.set_limit(8);
    pb::SearchResponse resp;
    ASSERT_TRUE(Search(r, &resp).ok());
    const std::vector<Neighbor> want = BruteForce(Query(i), 8);
    ASSERT_EQ(resp.points_size(), static_cast<int>(want.size()));
    for (size_t j = 0; j < want.size(); ++j) {
      EXPECT_EQ(resp.points(j).id(), want[j].id) << "query " << i;
      EXPECT_EQ(resp.points(j).score(), want[j].score) << "query " << i;
    }
    EXPECT_EQ(resp.plan().kind(), "sparse");
    // Groups of a sparse search: each point its own group ("i" is its id),
    // in the ranking's order.
    pb::SearchRequest groups = r;
    groups.set_limit(3);
    groups.set_group_by("i");
    pb::SearchResponse grouped;
    ASSERT_TRUE(Search(groups, &grouped).ok());
    ASSERT_EQ(grouped.groups_size(), 3);
    for (int g = 0; g < 3; ++g) {
      EXPECT_EQ(grouped.groups(g).integer(), static_cast<int64_t>(want[g].id));
      ASSERT_EQ(grouped.groups(g).hits_size(), 1);
      EXPECT_EQ(grouped.groups(g).hits(0).score(), want[g].score);
    }
    // A threshold keeps the higher scores (dot products, on l2 too).
    r.set_score_threshold(want[2].score);
    ASSERT_TRUE(Search(r, &resp).ok());
    for (const pb::ScoredPoint& p : resp.points()) {
      EXPECT_GE(p.score(), want[2].score);
    }
    EXPECT_GE(resp.points_size(), 3);
  }
  pb::GetPointsRequest get;
  get.set_collection("c");
  get.add_ids(5);
  get.add_ids(8);
  get.set_with_vectors(true);
  pb::GetPointsResponse got;
  grpc::ClientContext ctx;
  ASSERT_TRUE(ts_.points().Get(&ctx, get, &got).ok());
  ASSERT_EQ(got.points_size(), 2);
  const pb::SparseVector& s = got.points(0).sparse_vector();
  ASSERT_EQ(s.indices_size(), SparseOf(5).indices_size());
  EXPECT_TRUE(std::is_sorted(s.indices().begin(), s.indices().end()));
  EXPECT_EQ(got.points(1).sparse_vector().indices_size(), 0);  // 8 has none
}

TEST_F(RpcSparseTest, HybridIsTheFusionOfItsTwoSearches) {
  for (const pb::Fusion fusion : {pb::FUSION_RRF, pb::FUSION_DBSF}) {
    for (uint64_t i = 0; i < 10; ++i) {
      SCOPED_TRACE(::testing::Message()
                   << "fusion " << fusion << " query " << i);
      const std::vector<float> v = dbtest::VectorFor(1000 + i, 0, kDim);
      pb::SearchRequest hybrid = SearchReq("c", v, 5);
      hybrid.set_offset(2);
      hybrid.set_prefetch_limit(20);
      hybrid.set_fusion(fusion);
      if (fusion == pb::FUSION_RRF) hybrid.set_rrf_k(60);
      *hybrid.mutable_sparse_vector() = Query(i);
      hybrid.set_with_payload(true);
      pb::SearchResponse resp;
      ASSERT_TRUE(Search(hybrid, &resp).ok());
      // The two searches as the API answers them alone.
      pb::SearchRequest dense = SearchReq("c", v, 20);
      pb::SearchResponse d, s;
      ASSERT_TRUE(Search(dense, &d).ok());
      pb::SearchRequest sparse;
      sparse.set_collection("c");
      sparse.set_limit(20);
      *sparse.mutable_sparse_vector() = Query(i);
      ASSERT_TRUE(Search(sparse, &s).ok());
      const std::vector<Neighbor> dh = Hits(d), sh = Hits(s);
      const std::vector<Neighbor> want = FuseRanked(
          {{&dh, true}, {&sh, false}},
          fusion == pb::FUSION_RRF ? Fusion::kRrf : Fusion::kDbsf, 7, 60);
      ASSERT_EQ(resp.points_size(), 5);
      for (int j = 0; j < 5; ++j) {
        EXPECT_EQ(resp.points(j).id(), want[j + 2].id) << j;
        EXPECT_EQ(resp.points(j).score(), want[j + 2].score) << j;
        EXPECT_EQ(resp.points(j).payload(),
                  "{\"i\":" + std::to_string(want[j + 2].id) + "}");
      }
      EXPECT_EQ(resp.plan().kind(), d.plan().kind() + "+sparse");
    }
  }
}

TEST_F(RpcSparseTest, BatchMixesKindsAndUpdateVectorsKeepsOrReplaces) {
  pb::SearchBatchRequest batch;
  batch.set_collection("c");
  const std::vector<float> v = dbtest::VectorFor(7, 0, kDim);
  *batch.add_searches() = SearchReq("c", v, 4);
  pb::SearchRequest* sp = batch.add_searches();
  sp->set_collection("c");
  sp->set_limit(4);
  *sp->mutable_sparse_vector() = Query(3);
  pb::SearchRequest* hy = batch.add_searches();
  *hy = SearchReq("c", v, 4);
  *hy->mutable_sparse_vector() = Query(3);
  pb::SearchBatchResponse br;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(ts_.points().SearchBatch(&ctx, batch, &br).ok());
  }
  ASSERT_EQ(br.results_size(), 3);
  pb::SearchResponse alone;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(Search(batch.searches(i), &alone).ok());
    ASSERT_EQ(br.results(i).points_size(), alone.points_size()) << i;
    for (int j = 0; j < alone.points_size(); ++j) {
      EXPECT_EQ(br.results(i).points(j).id(), alone.points(j).id());
      EXPECT_EQ(br.results(i).points(j).score(), alone.points(j).score());
    }
  }
  // Point 1 keeps its sparse vector, point 2 gets {39: 10}.
  pb::UpdateVectorsRequest up;
  up.set_collection("c");
  for (uint64_t id : {1, 2}) {
    pb::PointVector* p = up.add_points();
    p->set_id(id);
    const std::vector<float> nv = dbtest::VectorFor(id, 5, kDim);
    p->mutable_vector()->Add(nv.begin(), nv.end());
  }
  up.mutable_points(1)->mutable_sparse_vector()->add_indices(39);
  up.mutable_points(1)->mutable_sparse_vector()->add_values(10);
  pb::UpdateVectorsResponse ur;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(ts_.points().UpdateVectors(&ctx, up, &ur).ok());
  }
  pb::SearchRequest r;
  r.set_collection("c");
  r.set_limit(1);
  r.mutable_sparse_vector()->add_indices(39);
  r.mutable_sparse_vector()->add_values(1);
  pb::SearchResponse resp;
  ASSERT_TRUE(Search(r, &resp).ok());
  ASSERT_EQ(resp.points_size(), 1);
  EXPECT_EQ(resp.points(0).id(), 2u);
  EXPECT_EQ(resp.points(0).score(), 10.0f);
  *r.mutable_sparse_vector() = SparseOf(1);
  ASSERT_TRUE(Search(r, &resp).ok());
  EXPECT_EQ(resp.points(0).id(), 1u);
}

TEST_F(RpcSparseTest, IdfWeighsTheQueryByTheCollectionsCounts) {
  // The test's own counts: 225 points hold a sparse vector (id % 4 != 0).
  std::map<uint32_t, uint64_t> holding;
  uint64_t points = 0;
  for (uint64_t id = 0; id < kPoints; ++id) {
    if (id % 4 == 0) continue;
    ++points;
    const pb::SparseVector v = SparseOf(id);
    for (uint32_t t : v.indices()) ++holding[t];
  }
  for (uint64_t i = 0; i < 10; ++i) {
    pb::SearchRequest idf;
    idf.set_collection("c");
    idf.set_limit(6);
    *idf.mutable_sparse_vector() = Query(i);
    idf.set_sparse_idf(true);
    pb::SparseVector weighted = Query(i);
    for (int j = 0; j < weighted.indices_size(); ++j) {
      const double n = static_cast<double>(holding[weighted.indices(j)]);
      weighted.set_values(
          j,
          weighted.values(j) *
              static_cast<float>(std::log(
                  1.0 + (static_cast<double>(points) - n + 0.5) / (n + 0.5))));
    }
    pb::SearchResponse got;
    ASSERT_TRUE(Search(idf, &got).ok());
    const std::vector<Neighbor> want = BruteForce(weighted, 6);
    ASSERT_EQ(got.points_size(), static_cast<int>(want.size()));
    for (size_t j = 0; j < want.size(); ++j) {
      EXPECT_EQ(got.points(j).id(), want[j].id) << "query " << i;
      EXPECT_EQ(got.points(j).score(), want[j].score) << "query " << i;
    }
  }
}

TEST_F(RpcSparseTest, Errors) {
  auto expect = [&](const pb::SearchRequest& r, grpc::StatusCode code,
                    const std::string& part) {
    pb::SearchResponse resp;
    grpc::Status s = Search(r, &resp);
    EXPECT_EQ(s.error_code(), code) << s.error_message();
    EXPECT_NE(s.error_message().find(part), std::string::npos)
        << s.error_message();
  };
  const std::vector<float> v = dbtest::VectorFor(1, 0, kDim);
  pb::SearchRequest r;
  r.set_collection("c");
  r.set_limit(3);
  r.mutable_sparse_vector()->add_indices(4);
  r.mutable_sparse_vector()->add_indices(4);
  r.mutable_sparse_vector()->add_values(1);
  r.mutable_sparse_vector()->add_values(2);
  expect(r, grpc::INVALID_ARGUMENT, "sparse query holds index 4 twice");
  r.mutable_sparse_vector()->mutable_indices()->RemoveLast();
  expect(r, grpc::INVALID_ARGUMENT, "1 indices and 2 values");
  r.mutable_sparse_vector()->mutable_values()->RemoveLast();
  r.set_fusion(pb::FUSION_DBSF);
  expect(r, grpc::INVALID_ARGUMENT, "apply to a hybrid search");
  r.set_fusion(pb::FUSION_RRF);
  r.add_positive_ids(3);
  expect(r, grpc::INVALID_ARGUMENT, "does not go with a search by example");
  r.clear_positive_ids();
  r.mutable_vector()->Add(v.begin(), v.end());
  r.set_prefetch_limit(2);
  expect(r, grpc::INVALID_ARGUMENT, "prefetch_limit 2 must be in [offset");
  r.set_prefetch_limit(0);
  r.set_rrf_k(0);
  expect(r, grpc::INVALID_ARGUMENT, "rrf_k must be finite and > 0");
  r.clear_rrf_k();
  pb::SearchRequest idf_alone = SearchReq("c", v, 3);
  idf_alone.set_sparse_idf(true);
  expect(idf_alone, grpc::INVALID_ARGUMENT, "sparse_idf goes with");
  pb::SearchResponse ok;
  EXPECT_TRUE(Search(r, &ok).ok());

  pb::UpsertRequest up = UpsertReq("c", 500, 2, kDim);
  up.mutable_points(1)->mutable_sparse_vector()->add_indices(1);
  pb::UpsertResponse ur;
  grpc::ClientContext ctx;
  grpc::Status s = ts_.points().Upsert(&ctx, up, &ur);
  EXPECT_EQ(s.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("point 1 (id 501): sparse vector has 1 "
                                   "indices and 0 values"),
            std::string::npos)
      << s.error_message();
}

}  // namespace
}  // namespace tqdb
