// The gRPC server (rpc/server.h) in process, over a real loopback channel:
// every RPC, every error code, authentication, deadlines, snapshots and
// health.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/rpc/rpc_test_util.h"
#include "tests/test_util.h"

namespace tqdb {
namespace {

using namespace rpctest;  // NOLINT
using dbtest::VectorFor;

#define EXPECT_CODE(status, code)                         \
  do {                                                    \
    const grpc::Status _s = (status);                     \
    EXPECT_EQ(_s.error_code(), grpc::StatusCode::code)    \
        << _s.error_code() << ": " << _s.error_message(); \
  } while (0)

TEST(RpcTest, CollectionsLifecycle) {
  TestServer ts;
  pb::CollectionInfo info;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(
        ts.collections()
            .Create(&ctx, CreateReq("docs", 32, pb::METRIC_COSINE), &info)
            .ok());
    EXPECT_EQ(info.name(), "docs");
    EXPECT_EQ(info.dim(), 32u);
    EXPECT_EQ(info.count(), 0u);
    EXPECT_FALSE(info.trained());
    EXPECT_TRUE(info.store_vectors());  // absent = true
    EXPECT_EQ(info.quantizer().method(), pb::METHOD_RENORM);
    EXPECT_EQ(info.quantizer().bits(), 4u);
  }
  {
    grpc::ClientContext ctx;
    EXPECT_CODE(ts.collections().Create(
                    &ctx, CreateReq("docs", 32, pb::METRIC_COSINE), &info),
                ALREADY_EXISTS);
  }
  {
    grpc::ClientContext ctx;
    EXPECT_CODE(ts.collections().Create(
                    &ctx, CreateReq("bad name!", 32, pb::METRIC_COSINE), &info),
                INVALID_ARGUMENT);
  }
  {
    grpc::ClientContext ctx;
    EXPECT_CODE(ts.collections().Create(
                    &ctx, CreateReq("zero", 0, pb::METRIC_COSINE), &info),
                INVALID_ARGUMENT);
  }
  {
    grpc::ClientContext ctx;
    auto r = CreateReq("weird", 8, static_cast<pb::Metric>(9));
    const grpc::Status s = ts.collections().Create(&ctx, r, &info);
    EXPECT_CODE(s, INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("metric"), std::string::npos);
  }
  {
    grpc::ClientContext ctx;
    auto r = CreateReq("bits", 8, pb::METRIC_IP);
    r.mutable_quantizer()->set_bits(9);
    EXPECT_CODE(ts.collections().Create(&ctx, r, &info), INVALID_ARGUMENT);
  }
  {
    grpc::ClientContext ctx;
    auto r = CreateReq("l2pq", 16, pb::METRIC_L2);
    r.mutable_quantizer()->set_method(pb::METHOD_PQ);
    r.set_store_vectors(false);
    ASSERT_TRUE(ts.collections().Create(&ctx, r, &info).ok());
    EXPECT_FALSE(info.store_vectors());
    EXPECT_EQ(info.metric(), pb::METRIC_L2);
    EXPECT_EQ(info.quantizer().method(), pb::METHOD_PQ);
  }
  {
    grpc::ClientContext ctx;
    pb::GetCollectionRequest r;
    r.set_name("nope");
    const grpc::Status s = ts.collections().Get(&ctx, r, &info);
    EXPECT_CODE(s, NOT_FOUND);
    EXPECT_NE(s.error_message().find("nope"), std::string::npos);
  }
  {
    grpc::ClientContext ctx;
    pb::ListCollectionsResponse list;
    ASSERT_TRUE(
        ts.collections().List(&ctx, pb::ListCollectionsRequest(), &list).ok());
    ASSERT_EQ(list.collections_size(), 2);
    EXPECT_EQ(list.collections(0).name(), "docs");
    EXPECT_EQ(list.collections(1).name(), "l2pq");
  }
  {
    grpc::ClientContext ctx;
    pb::DeleteCollectionRequest r;
    r.set_name("docs");
    pb::DeleteCollectionResponse resp;
    ASSERT_TRUE(ts.collections().Delete(&ctx, r, &resp).ok());
    grpc::ClientContext ctx2;
    EXPECT_CODE(ts.collections().Delete(&ctx2, r, &resp), NOT_FOUND);
  }
}

class RpcPointsTest : public ::testing::Test {
 protected:
  static constexpr uint32_t kDim = 24;
  void SetUp() override {
    grpc::ClientContext ctx;
    pb::CollectionInfo info;
    auto r = CreateReq("c", kDim, pb::METRIC_COSINE);
    r.mutable_ivf()->set_nlist(8);
    ASSERT_TRUE(ts_.collections().Create(&ctx, r, &info).ok());
  }
  uint64_t Count() {
    grpc::ClientContext ctx;
    pb::CountRequest r;
    r.set_collection("c");
    pb::CountResponse resp;
    EXPECT_TRUE(ts_.points().Count(&ctx, r, &resp).ok());
    return resp.count();
  }
  grpc::Status Upsert(const pb::UpsertRequest& r) {
    grpc::ClientContext ctx;
    pb::UpsertResponse resp;
    return ts_.points().Upsert(&ctx, r, &resp);
  }
  grpc::Status Search(const pb::SearchRequest& r, pb::SearchResponse* resp) {
    grpc::ClientContext ctx;
    return ts_.points().Search(&ctx, r, resp);
  }
  void Train() {
    grpc::ClientContext ctx;
    pb::TrainCollectionRequest r;
    r.set_name("c");
    pb::CollectionInfo info;
    ASSERT_TRUE(ts_.collections().Train(&ctx, r, &info).ok());
    ASSERT_TRUE(info.trained());
    ASSERT_EQ(info.nlist(), 8u);
  }
  TestServer ts_;
};

TEST_F(RpcPointsTest, UpsertSearchGetDelete) {
  {
    grpc::ClientContext ctx;
    pb::UpsertResponse resp;
    ASSERT_TRUE(
        ts_.points().Upsert(&ctx, UpsertReq("c", 0, 600, kDim), &resp).ok());
    EXPECT_EQ(resp.upserted(), 600u);
    EXPECT_EQ(resp.batches(), 1u);
  }
  EXPECT_EQ(Count(), 600u);
  for (bool trained : {false, true}) {
    SCOPED_TRACE(trained ? "trained" : "untrained");
    if (trained) Train();
    pb::SearchRequest r = SearchReq("c", VectorFor(42, 0, kDim), 5);
    r.mutable_params()->set_nprobe(8);
    r.set_with_payload(true);
    r.set_with_vectors(true);
    pb::SearchResponse resp;
    ASSERT_TRUE(Search(r, &resp).ok());
    ASSERT_EQ(resp.points_size(), 5);
    EXPECT_EQ(resp.points(0).id(), 42u);
    EXPECT_EQ(resp.points(0).payload(), "{\"i\":42}");
    ASSERT_EQ(resp.points(0).vector_size(), static_cast<int>(kDim));
    EXPECT_FLOAT_EQ(resp.points(0).vector(3), VectorFor(42, 0, kDim)[3]);
    EXPECT_GE(resp.time_ms(), 0.0);
    for (int i = 1; i < resp.points_size(); ++i) {
      EXPECT_GE(resp.points(i - 1).score(), resp.points(i).score());
    }
    // score_threshold keeps only the self match (cosine 1 vs random ~0).
    r.set_score_threshold(0.9f);
    r.set_with_vectors(false);
    r.mutable_params()->set_exact(true);
    ASSERT_TRUE(Search(r, &resp).ok());
    ASSERT_EQ(resp.points_size(), 1);
    EXPECT_EQ(resp.points(0).id(), 42u);
    EXPECT_NEAR(resp.points(0).score(), 1.0f, 1e-4);
    EXPECT_EQ(resp.points(0).vector_size(), 0);
    // offset: the page after the best `offset` of the same search; offset
    // + limit over --max-limit is INVALID_ARGUMENT.
    r.clear_score_threshold();
    r.set_limit(10);
    pb::SearchResponse ten;
    ASSERT_TRUE(Search(r, &ten).ok());
    ASSERT_EQ(ten.points_size(), 10);
    r.set_limit(4);
    r.set_offset(6);
    ASSERT_TRUE(Search(r, &resp).ok());
    ASSERT_EQ(resp.points_size(), 4);
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(resp.points(i).id(), ten.points(6 + i).id());
    }
    r.set_offset(10000);
    EXPECT_EQ(Search(r, &resp).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
    r.set_offset(0);
    r.set_limit(5);
    // Rescore with oversampling.
    r.mutable_params()->set_exact(false);
    r.mutable_params()->set_rescore(true);
    r.mutable_params()->set_oversampling(3);
    ASSERT_TRUE(Search(r, &resp).ok());
    EXPECT_EQ(resp.points(0).id(), 42u);
  }
  {
    grpc::ClientContext ctx;
    pb::GetPointsRequest r;
    r.set_collection("c");
    r.add_ids(7);
    r.add_ids(100000);  // missing: skipped
    r.add_ids(3);
    r.set_with_payload(true);
    pb::GetPointsResponse resp;
    ASSERT_TRUE(ts_.points().Get(&ctx, r, &resp).ok());
    ASSERT_EQ(resp.points_size(), 2);
    EXPECT_EQ(resp.points(0).id(), 7u);
    EXPECT_EQ(resp.points(1).id(), 3u);
    EXPECT_EQ(resp.points(1).payload(), "{\"i\":3}");
    EXPECT_EQ(resp.points(1).vector_size(), 0);
  }
  {
    grpc::ClientContext ctx;
    pb::DeletePointsRequest r;
    r.set_collection("c");
    r.add_ids(42);
    r.add_ids(43);
    r.add_ids(99999);
    r.set_wait(true);
    pb::DeletePointsResponse resp;
    ASSERT_TRUE(ts_.points().Delete(&ctx, r, &resp).ok());
    EXPECT_EQ(resp.deleted(), 2u);
  }
  EXPECT_EQ(Count(), 598u);
  pb::SearchRequest r = SearchReq("c", VectorFor(42, 0, kDim), 3);
  r.mutable_params()->set_exact(true);
  pb::SearchResponse resp;
  ASSERT_TRUE(Search(r, &resp).ok());
  for (const auto& p : resp.points()) EXPECT_NE(p.id(), 42u);
}

// Aliases over gRPC: points written and searched through an alias reach
// its collection; a bad request is INVALID_ARGUMENT, nothing applied.
TEST_F(RpcPointsTest, AliasesNameTheirCollection) {
  auto update = [&](std::vector<pb::AliasOperation> ops) {
    pb::UpdateAliasesRequest r;
    for (auto& op : ops) *r.add_actions() = std::move(op);
    grpc::ClientContext ctx;
    pb::UpdateAliasesResponse resp;
    return ts_.collections().UpdateAliases(&ctx, r, &resp);
  };
  pb::AliasOperation create;
  create.mutable_create_alias()->set_alias("docs");
  create.mutable_create_alias()->set_collection("c");
  ASSERT_TRUE(update({create}).ok());
  ASSERT_TRUE(Upsert(UpsertReq("docs", 0, 50, kDim)).ok());
  EXPECT_EQ(Count(), 50u);
  pb::SearchRequest r = SearchReq("docs", VectorFor(7, 0, kDim), 1);
  r.mutable_params()->set_exact(true);
  pb::SearchResponse resp;
  ASSERT_TRUE(Search(r, &resp).ok());
  ASSERT_EQ(resp.points_size(), 1);
  EXPECT_EQ(resp.points(0).id(), 7u);
  {
    grpc::ClientContext ctx;
    pb::ListAliasesResponse list;
    ASSERT_TRUE(ts_.collections()
                    .ListAliases(&ctx, pb::ListAliasesRequest(), &list)
                    .ok());
    ASSERT_EQ(list.aliases_size(), 1);
    EXPECT_EQ(list.aliases(0).alias(), "docs");
    EXPECT_EQ(list.aliases(0).collection(), "c");
  }
  EXPECT_CODE(update({}), INVALID_ARGUMENT);
  EXPECT_CODE(update({pb::AliasOperation()}), INVALID_ARGUMENT);
  pb::AliasOperation del;
  del.mutable_delete_alias()->set_alias("docs");
  EXPECT_CODE(update({del, del}), NOT_FOUND);  // the second: gone
  {
    grpc::ClientContext ctx;
    pb::ListAliasesRequest lr;
    lr.set_collection("c");
    pb::ListAliasesResponse list;
    ASSERT_TRUE(ts_.collections().ListAliases(&ctx, lr, &list).ok());
    EXPECT_EQ(list.aliases_size(), 1);  // all or none: still there
  }
  ASSERT_TRUE(update({del}).ok());
  pb::SearchResponse gone;
  EXPECT_CODE(Search(r, &gone), NOT_FOUND);
}

TEST_F(RpcPointsTest, BadPointsRejectTheWholeBatch) {
  ASSERT_TRUE(Upsert(UpsertReq("c", 0, 10, kDim)).ok());
  {
    pb::UpsertRequest r = UpsertReq("c", 100, 20, kDim);
    r.mutable_points(7)->mutable_vector()->RemoveLast();
    const grpc::Status s = Upsert(r);
    EXPECT_CODE(s, INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("point 7"), std::string::npos)
        << s.error_message();
  }
  {
    pb::UpsertRequest r = UpsertReq("c", 100, 20, kDim);
    r.mutable_points(3)->set_vector(5, std::numeric_limits<float>::quiet_NaN());
    const grpc::Status s = Upsert(r);
    EXPECT_CODE(s, INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("NaN"), std::string::npos)
        << s.error_message();
  }
  {
    pb::UpsertRequest r = UpsertReq("c", 100, 20, kDim);
    r.mutable_points(19)->set_vector(0, std::numeric_limits<float>::infinity());
    EXPECT_CODE(Upsert(r), INVALID_ARGUMENT);
  }
  {
    pb::UpsertRequest r;
    r.set_collection("c");
    const grpc::Status s = Upsert(r);
    EXPECT_CODE(s, INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("no points"), std::string::npos);
  }
  EXPECT_CODE(Upsert(UpsertReq("missing", 0, 2, kDim)), NOT_FOUND);
  EXPECT_CODE(Upsert(UpsertReq("", 0, 2, kDim)), INVALID_ARGUMENT);
  // Nothing of the rejected batches is stored.
  EXPECT_EQ(Count(), 10u);
}

TEST_F(RpcPointsTest, SearchErrors) {
  ASSERT_TRUE(Upsert(UpsertReq("c", 0, 400, kDim)).ok());
  pb::SearchResponse resp;
  auto good = [&] { return SearchReq("c", VectorFor(1, 0, kDim), 10); };
  {
    pb::SearchRequest r = good();
    r.clear_vector();
    const grpc::Status s = Search(r, &resp);
    EXPECT_CODE(s, INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("empty"), std::string::npos);
  }
  {
    pb::SearchRequest r = good();
    r.mutable_vector()->Add(1.0f);
    const grpc::Status s = Search(r, &resp);
    EXPECT_CODE(s, INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("25 dimensions"), std::string::npos)
        << s.error_message();
  }
  {
    pb::SearchRequest r = good();
    r.set_vector(2, std::nanf(""));
    const grpc::Status s = Search(r, &resp);
    EXPECT_CODE(s, INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("coordinate 2 is NaN"), std::string::npos)
        << s.error_message();
  }
  {
    // The last coordinate, and the first of two bad ones.
    pb::SearchRequest r = good();
    r.set_vector(kDim - 1, -std::numeric_limits<float>::infinity());
    grpc::Status s = Search(r, &resp);
    EXPECT_CODE(s, INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find(
                  absl::StrCat("coordinate ", kDim - 1, " is infinite")),
              std::string::npos)
        << s.error_message();
    r.set_vector(7, std::numeric_limits<float>::infinity());
    s = Search(r, &resp);
    EXPECT_NE(s.error_message().find("coordinate 7 is infinite"),
              std::string::npos)
        << s.error_message();
    // Largest finite values pass.
    r = good();
    r.set_vector(0, std::numeric_limits<float>::max());
    r.set_vector(1, -std::numeric_limits<float>::max());
    EXPECT_TRUE(Search(r, &resp).ok());
  }
  {
    pb::SearchRequest r = good();
    r.set_limit(0);
    EXPECT_CODE(Search(r, &resp), INVALID_ARGUMENT);
    r.set_limit(10001);
    const grpc::Status s = Search(r, &resp);
    EXPECT_CODE(s, INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("10000"), std::string::npos);
  }
  {
    pb::SearchRequest r = good();
    r.mutable_params()->set_oversampling(0.5f);
    EXPECT_CODE(Search(r, &resp), INVALID_ARGUMENT);
  }
  for (float ps : {-1.0f, std::nanf(""), 1e6f}) {
    pb::SearchRequest r = good();
    r.mutable_params()->set_probe_sigmas(ps);
    const grpc::Status s = Search(r, &resp);
    EXPECT_CODE(s, INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("probe_sigmas"), std::string::npos);
  }
  {
    pb::SearchRequest r = good();
    r.set_collection("other");
    EXPECT_CODE(Search(r, &resp), NOT_FOUND);
  }
  Train();
  {
    pb::SearchRequest r = good();
    r.mutable_params()->set_nprobe(9);  // nlist is 8: clamped
    ASSERT_TRUE(Search(r, &resp).ok());
    EXPECT_EQ(resp.nprobe_used(), 8u);
    r.mutable_params()->set_nprobe(3);
    ASSERT_TRUE(Search(r, &resp).ok());
    EXPECT_EQ(resp.nprobe_used(), 3u);
  }
}

TEST_F(RpcPointsTest, SearchBatch) {
  ASSERT_TRUE(Upsert(UpsertReq("c", 0, 500, kDim)).ok());
  Train();
  pb::SearchBatchRequest req;
  req.set_collection("c");
  for (uint64_t id : {5, 17, 300}) {
    pb::SearchRequest* s = req.add_searches();
    *s = SearchReq("", VectorFor(id, 0, kDim), 4);
    s->mutable_params()->set_nprobe(8);
  }
  {
    grpc::ClientContext ctx;
    pb::SearchBatchResponse resp;
    ASSERT_TRUE(ts_.points().SearchBatch(&ctx, req, &resp).ok());
    ASSERT_EQ(resp.results_size(), 3);
    EXPECT_EQ(resp.results(0).points(0).id(), 5u);
    EXPECT_EQ(resp.results(1).points(0).id(), 17u);
    EXPECT_EQ(resp.results(2).points(0).id(), 300u);
  }
  // Different params per search take the per-search path.
  req.mutable_searches(1)->set_limit(2);
  req.mutable_searches(1)->mutable_params()->set_exact(true);
  req.mutable_searches(2)->set_with_payload(true);
  {
    grpc::ClientContext ctx;
    pb::SearchBatchResponse resp;
    ASSERT_TRUE(ts_.points().SearchBatch(&ctx, req, &resp).ok());
    ASSERT_EQ(resp.results(1).points_size(), 2);
    EXPECT_EQ(resp.results(1).points(0).id(), 17u);
    EXPECT_EQ(resp.results(2).points(0).payload(), "{\"i\":300}");
  }
  req.mutable_searches(2)->mutable_vector()->RemoveLast();
  {
    grpc::ClientContext ctx;
    pb::SearchBatchResponse resp;
    const grpc::Status s = ts_.points().SearchBatch(&ctx, req, &resp);
    EXPECT_CODE(s, INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("search 2"), std::string::npos);
  }
  req.mutable_searches(2)->mutable_vector()->Add(0.5f);
  req.mutable_searches(1)->set_vector(3, std::nanf(""));
  {
    grpc::ClientContext ctx;
    pb::SearchBatchResponse resp;
    const grpc::Status s = ts_.points().SearchBatch(&ctx, req, &resp);
    EXPECT_CODE(s, INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("search 1: vector coordinate 3 is NaN"),
              std::string::npos)
        << s.error_message();
  }
  {
    grpc::ClientContext ctx;
    pb::SearchBatchRequest empty;
    empty.set_collection("c");
    pb::SearchBatchResponse resp;
    EXPECT_CODE(ts_.points().SearchBatch(&ctx, empty, &resp), INVALID_ARGUMENT);
  }
}

// Search by example over gRPC: positive_ids and negative_ids reach the
// database (db_examples_test checks the query it makes), alone and in a
// batch, with their errors' codes.
TEST_F(RpcPointsTest, SearchByExample) {
  ASSERT_TRUE(Upsert(UpsertReq("c", 0, 500, kDim)).ok());
  Train();
  pb::SearchRequest like;
  like.set_collection("c");
  like.set_limit(5);
  like.mutable_params()->set_exact(true);
  like.add_positive_ids(17);
  pb::SearchResponse got;
  ASSERT_TRUE(Search(like, &got).ok());
  // One positive example of a cosine collection: its own vector's search,
  // itself left out.
  pb::SearchRequest near = SearchReq("c", VectorFor(17, 0, kDim), 6);
  near.mutable_params()->set_exact(true);
  pb::SearchResponse want;
  ASSERT_TRUE(Search(near, &want).ok());
  ASSERT_EQ(want.points(0).id(), 17u);
  ASSERT_EQ(got.points_size(), 5);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(got.points(i).id(), want.points(i + 1).id()) << i;
  }
  like.add_negative_ids(want.points(1).id());
  pb::SearchResponse steered;
  ASSERT_TRUE(Search(like, &steered).ok());
  for (const pb::ScoredPoint& p : steered.points()) {
    EXPECT_NE(p.id(), 17u);
    EXPECT_NE(p.id(), want.points(1).id());
  }
  // In a batch, beside a search by vector.
  pb::SearchBatchRequest batch;
  batch.set_collection("c");
  *batch.add_searches() = SearchReq("", VectorFor(5, 0, kDim), 5);
  *batch.add_searches() = like;
  batch.mutable_searches(1)->clear_collection();
  {
    grpc::ClientContext ctx;
    pb::SearchBatchResponse resp;
    ASSERT_TRUE(ts_.points().SearchBatch(&ctx, batch, &resp).ok());
    ASSERT_EQ(resp.results_size(), 2);
    EXPECT_EQ(resp.results(0).points(0).id(), 5u);
    ASSERT_EQ(resp.results(1).points_size(), steered.points_size());
    for (int i = 0; i < steered.points_size(); ++i) {
      EXPECT_EQ(resp.results(1).points(i).id(), steered.points(i).id());
    }
  }
  pb::SearchRequest missing = like;
  missing.add_positive_ids(99999);
  pb::SearchResponse none;
  grpc::Status s = Search(missing, &none);
  EXPECT_CODE(s, NOT_FOUND);
  EXPECT_NE(s.error_message().find("positive example 99999"), std::string::npos)
      << s.error_message();
  pb::SearchRequest both = like;
  const std::vector<float> v5 = VectorFor(5, 0, kDim);
  both.mutable_vector()->Add(v5.begin(), v5.end());
  s = Search(both, &none);
  EXPECT_CODE(s, INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("not both"), std::string::npos)
      << s.error_message();
}

// A batch whose searches differ (limits, probes, exact, by example) runs
// them side by side on the server's threads: each result is that search's
// own, in the batch's order, and the first failing search (by its place in
// the batch, not by which thread failed first) names the error.
TEST_F(RpcPointsTest, MixedBatchAnswersEachSearchAsAlone) {
  ASSERT_TRUE(Upsert(UpsertReq("c", 0, 500, kDim)).ok());
  Train();
  pb::SearchBatchRequest batch;
  batch.set_collection("c");
  for (int i = 0; i < 40; ++i) {
    pb::SearchRequest q;
    if (i % 5 == 4) {
      q.set_limit(3);
      q.add_positive_ids(7 * i);
    } else {
      q = SearchReq("", VectorFor(11 * i, 0, kDim), 1 + i % 10);
      q.mutable_params()->set_nprobe(1 + i % 7);
      q.mutable_params()->set_exact(i % 3 == 0);
    }
    q.set_with_payload(i % 2 == 0);
    *batch.add_searches() = q;
  }
  grpc::ClientContext ctx;
  pb::SearchBatchResponse resp;
  const grpc::Status bs = ts_.points().SearchBatch(&ctx, batch, &resp);
  ASSERT_TRUE(bs.ok()) << bs.error_message();
  ASSERT_EQ(resp.results_size(), 40);
  for (int i = 0; i < 40; ++i) {
    pb::SearchRequest alone = batch.searches(i);
    alone.set_collection("c");
    pb::SearchResponse want;
    ASSERT_TRUE(Search(alone, &want).ok()) << i;
    const pb::SearchResponse& got = resp.results(i);
    ASSERT_EQ(got.points_size(), want.points_size()) << i;
    for (int j = 0; j < want.points_size(); ++j) {
      EXPECT_EQ(got.points(j).id(), want.points(j).id()) << i << " " << j;
      EXPECT_EQ(got.points(j).score(), want.points(j).score()) << i;
      EXPECT_EQ(got.points(j).payload(), want.points(j).payload()) << i;
    }
    EXPECT_EQ(got.nprobe_used(), want.nprobe_used()) << i;
  }
  // Two searches fail (examples that do not exist): the first names it.
  batch.mutable_searches(24)->add_positive_ids(99999);
  batch.mutable_searches(9)->add_positive_ids(88888);
  grpc::ClientContext ctx2;
  const grpc::Status s = ts_.points().SearchBatch(&ctx2, batch, &resp);
  EXPECT_CODE(s, NOT_FOUND);
  EXPECT_NE(s.error_message().find("search 9: "), std::string::npos)
      << s.error_message();
  EXPECT_NE(s.error_message().find("88888"), std::string::npos)
      << s.error_message();
}

// The recommend strategies over gRPC on an l2 collection (db_recommend_test
// checks their results): with one positive example, best_score ranks as
// the example's own search and scores f(-squared distance), sum_scores
// scores minus the squared distance; higher is better, so a threshold
// keeps the scores at least it; the errors.
TEST_F(RpcPointsTest, RecommendStrategies) {
  {
    grpc::ClientContext ctx;
    pb::CollectionInfo info;
    ASSERT_TRUE(ts_.collections()
                    .Create(&ctx, CreateReq("l2", kDim, pb::METRIC_L2), &info)
                    .ok());
  }
  ASSERT_TRUE(Upsert(UpsertReq("l2", 0, 300, kDim)).ok());
  pb::SearchRequest near = SearchReq("l2", VectorFor(17, 0, kDim), 6);
  near.mutable_params()->set_exact(true);
  pb::SearchResponse want;
  ASSERT_TRUE(Search(near, &want).ok());
  ASSERT_EQ(want.points(0).id(), 17u);
  auto f = [](double s) { return 0.5 * (s / (1 + std::fabs(s)) + 1); };
  for (pb::RecommendStrategy strategy :
       {pb::RECOMMEND_STRATEGY_BEST_SCORE, pb::RECOMMEND_STRATEGY_SUM_SCORES}) {
    pb::SearchRequest like;
    like.set_collection("l2");
    like.set_limit(5);
    like.mutable_params()->set_exact(true);
    like.add_positive_ids(17);
    like.set_strategy(strategy);
    pb::SearchResponse got;
    ASSERT_TRUE(Search(like, &got).ok());
    ASSERT_EQ(got.points_size(), 5);
    for (int i = 0; i < 5; ++i) {
      const pb::ScoredPoint& w = want.points(i + 1);
      EXPECT_EQ(got.points(i).id(), w.id()) << i;
      const double score = strategy == pb::RECOMMEND_STRATEGY_BEST_SCORE
                               ? f(-w.score())
                               : -w.score();
      EXPECT_NEAR(got.points(i).score(), score, 1e-4 * (1 + std::fabs(score)))
          << i;
      if (i > 0) {
        EXPECT_LT(got.points(i).score(), got.points(i - 1).score());
      }
    }
    like.set_score_threshold(got.points(2).score());
    pb::SearchResponse cut;
    ASSERT_TRUE(Search(like, &cut).ok());
    EXPECT_EQ(cut.points_size(), 3);
  }
  pb::SearchResponse none;
  pb::SearchRequest plain = near;
  plain.set_strategy(pb::RECOMMEND_STRATEGY_BEST_SCORE);
  grpc::Status s = Search(plain, &none);
  EXPECT_CODE(s, INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("strategy applies to a search by example"),
            std::string::npos)
      << s.error_message();
  pb::SearchRequest bad;
  bad.set_collection("l2");
  bad.set_limit(5);
  bad.add_positive_ids(17);
  bad.set_strategy(static_cast<pb::RecommendStrategy>(7));
  s = Search(bad, &none);
  EXPECT_CODE(s, INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("strategy 7 is not a RecommendStrategy"),
            std::string::npos)
      << s.error_message();
  bad.set_strategy(pb::RECOMMEND_STRATEGY_SUM_SCORES);
  bad.add_negative_ids(18);
  s = Search(bad, &none);
  EXPECT_CODE(s, INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("more positive than negative ids"),
            std::string::npos)
      << s.error_message();
  bad.clear_positive_ids();
  bad.set_strategy(pb::RECOMMEND_STRATEGY_BEST_SCORE);
  s = Search(bad, &none);
  EXPECT_CODE(s, INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("needs a positive id on an l2 collection"),
            std::string::npos)
      << s.error_message();
  // The server serves on.
  ASSERT_TRUE(Search(near, &none).ok());
}

// UpdateVectors over gRPC (db_update_vectors_test checks the database): a
// new vector, the payload kept; NOT_FOUND for a point not held; no points
// is INVALID_ARGUMENT.
TEST_F(RpcPointsTest, UpdateVectorsKeepsPayloads) {
  ASSERT_TRUE(Upsert(UpsertReq("c", 0, 50, kDim)).ok());
  pb::UpdateVectorsRequest req;
  req.set_collection("c");
  const std::vector<float> v = VectorFor(3, 9, kDim);
  pb::PointVector* p = req.add_points();
  p->set_id(3);
  p->mutable_vector()->Add(v.begin(), v.end());
  pb::UpdateVectorsResponse resp;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(ts_.points().UpdateVectors(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.updated(), 1u);
  }
  pb::GetPointsRequest get;
  get.set_collection("c");
  get.add_ids(3);
  get.set_with_vectors(true);
  get.set_with_payload(true);
  pb::GetPointsResponse got;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(ts_.points().Get(&ctx, get, &got).ok());
  }
  ASSERT_EQ(got.points_size(), 1);
  EXPECT_EQ(std::vector<float>(got.points(0).vector().begin(),
                               got.points(0).vector().end()),
            v);
  EXPECT_FALSE(got.points(0).payload().empty());
  req.mutable_points(0)->set_id(5000);
  {
    grpc::ClientContext ctx;
    grpc::Status s = ts_.points().UpdateVectors(&ctx, req, &resp);
    EXPECT_CODE(s, NOT_FOUND);
    EXPECT_NE(s.error_message().find("point 5000"), std::string::npos)
        << s.error_message();
  }
  req.clear_points();
  {
    grpc::ClientContext ctx;
    grpc::Status s = ts_.points().UpdateVectors(&ctx, req, &resp);
    EXPECT_CODE(s, INVALID_ARGUMENT);
  }
}

// Search groups: the groups are those of the whole exact ranking (the
// first `limit` values met, the first `group_size` hits of each), whether
// the first search was deep enough or had to go deeper; keyword, integer
// and array values; a point without the key joins no group; the errors.
TEST_F(RpcPointsTest, SearchGroups) {
  constexpr uint64_t kPoints = 400;
  // doc: "d" + id % 9 (absent when id % 10 == 0); part: id % 40; tags: two
  // of four.
  auto doc = [](uint64_t id) { return absl::StrCat("d", id % 9); };
  pb::UpsertRequest up = UpsertReq("c", 0, kPoints, kDim);
  for (pb::Point& p : *up.mutable_points()) {
    const uint64_t id = p.id();
    p.set_payload(id % 10 == 0
                      ? absl::StrCat("{\"part\":", id % 40, "}")
                      : absl::StrCat("{\"doc\":\"", doc(id),
                                     "\",\"part\":", id % 40, ",\"tags\":[\"t",
                                     id % 4, "\",\"t", (id + 1) % 4, "\"]}"));
  }
  up.set_wait(true);
  ASSERT_TRUE(Upsert(up).ok());
  Train();
  const std::vector<float> q = VectorFor(123, 0, kDim);
  pb::SearchRequest all = SearchReq("c", q, kPoints);
  all.mutable_params()->set_exact(true);
  pb::SearchResponse ranked;
  ASSERT_TRUE(Search(all, &ranked).ok());
  ASSERT_EQ(ranked.points_size(), static_cast<int>(kPoints));
  std::vector<uint64_t> ids;
  for (const pb::ScoredPoint& p : ranked.points()) ids.push_back(p.id());
  auto expected =
      [&](size_t limit, size_t size,
          const std::function<std::vector<std::string>(uint64_t)>& values) {
        return testing_util::GroupsOfRanking(ids, limit, size, values);
      };
  auto grouped = [&](const std::string& key, uint32_t limit, uint32_t size,
                     pb::SearchResponse* resp) {
    pb::SearchRequest r = SearchReq("c", q, limit);
    r.mutable_params()->set_exact(true);
    r.set_group_by(key);
    r.set_group_size(size);
    r.set_with_payload(true);
    return Search(r, resp);
  };
  auto check = [&](const pb::SearchResponse& got, const auto& want,
                   bool integer, const std::string& what) {
    EXPECT_EQ(got.points_size(), 0) << what;
    ASSERT_EQ(got.groups_size(), static_cast<int>(want.size())) << what;
    for (size_t g = 0; g < want.size(); ++g) {
      const pb::PointGroup& pg = got.groups(static_cast<int>(g));
      EXPECT_EQ(integer ? absl::StrCat(pg.integer()) : pg.keyword(),
                want[g].first)
          << what << " group " << g;
      ASSERT_EQ(pg.hits_size(), static_cast<int>(want[g].second.size()))
          << what << " group " << g;
      for (int h = 0; h < pg.hits_size(); ++h) {
        EXPECT_EQ(pg.hits(h).id(), want[g].second[h])
            << what << " group " << g << " hit " << h;
      }
    }
  };
  auto no_key = [](uint64_t) { return std::vector<std::string>(); };
  // 3 of 9 docs, 4 hits each: the first search (64 deep) is enough.
  pb::SearchResponse got;
  ASSERT_TRUE(grouped("doc", 3, 4, &got).ok());
  check(got,
        expected(3, 4,
                 [&](uint64_t id) {
                   return id % 10 == 0 ? std::vector<std::string>()
                                       : std::vector<std::string>{doc(id)};
                 }),
        false, "doc");
  EXPECT_EQ(got.groups(0).hits(0).payload().empty(), false);
  // Parts of 10 points: the best 2 whole (the first search, 80 deep, falls
  // short; deeper ones follow), and 12 of 8 each.
  auto part = [](uint64_t id) {
    return std::vector<std::string>{absl::StrCat(id % 40)};
  };
  ASSERT_TRUE(grouped("part", 2, 10, &got).ok());
  check(got, expected(2, 10, part), true, "part 2 x 10");
  ASSERT_TRUE(grouped("part", 12, 8, &got).ok());
  check(got, expected(12, 8, part), true, "part 12 x 8");
  // Arrays: a point joins the group of each of its tags.
  ASSERT_TRUE(grouped("tags", 4, 5, &got).ok());
  check(got,
        expected(4, 5,
                 [](uint64_t id) {
                   if (id % 10 == 0) return std::vector<std::string>();
                   return std::vector<std::string>{
                       absl::StrCat("t", id % 4),
                       absl::StrCat("t", (id + 1) % 4)};
                 }),
        false, "tags");
  // A key no point has: no groups.
  ASSERT_TRUE(grouped("nothing", 3, 2, &got).ok());
  check(got, expected(3, 2, no_key), false, "nothing");
  // Without payloads in the answer.
  {
    pb::SearchRequest r = SearchReq("c", q, 2);
    r.set_group_by("doc");
    r.set_with_payload(false);
    ASSERT_TRUE(Search(r, &got).ok());
    ASSERT_EQ(got.groups_size(), 2);
    EXPECT_TRUE(got.groups(0).hits(0).payload().empty());
  }
  // Errors.
  pb::SearchRequest bad = SearchReq("c", q, 3);
  bad.set_group_by("doc");
  bad.set_offset(1);
  EXPECT_CODE(Search(bad, &got), INVALID_ARGUMENT);
  bad.set_offset(0);
  bad.set_group_by("a..b");
  EXPECT_CODE(Search(bad, &got), INVALID_ARGUMENT);
  bad.set_group_by("doc");
  bad.set_limit(5000);
  bad.set_group_size(3);
  grpc::Status st = Search(bad, &got);
  EXPECT_CODE(st, INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("limit 5000 x group_size 3"),
            std::string::npos)
      << st.error_message();
  pb::SearchRequest size_alone = SearchReq("c", q, 3);
  size_alone.set_group_size(2);
  EXPECT_CODE(Search(size_alone, &got), INVALID_ARGUMENT);
  pb::SearchBatchRequest batch;
  batch.set_collection("c");
  *batch.add_searches() = SearchReq("", q, 3);
  batch.mutable_searches(0)->set_group_by("doc");
  grpc::ClientContext ctx;
  pb::SearchBatchResponse bresp;
  st = ts_.points().SearchBatch(&ctx, batch, &bresp);
  EXPECT_CODE(st, INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("one search a call"), std::string::npos)
      << st.error_message();
}

TEST_F(RpcPointsTest, UpsertStreamReportsWhatWasStored) {
  {
    grpc::ClientContext ctx;
    pb::UpsertResponse resp;
    auto w = ts_.points().UpsertStream(&ctx, &resp);
    for (int b = 0; b < 20; ++b) {
      ASSERT_TRUE(w->Write(UpsertReq("c", b * 100, 100, kDim)));
    }
    ASSERT_TRUE(w->WritesDone());
    ASSERT_TRUE(w->Finish().ok());
    EXPECT_EQ(resp.upserted(), 2000u);
    EXPECT_EQ(resp.batches(), 20u);
  }
  EXPECT_EQ(Count(), 2000u);
  {
    grpc::ClientContext ctx;
    pb::UpsertResponse resp;
    auto w = ts_.points().UpsertStream(&ctx, &resp);
    ASSERT_TRUE(w->Write(UpsertReq("c", 5000, 50, kDim)));
    ASSERT_TRUE(w->Write(UpsertReq("c", 5050, 50, kDim)));
    pb::UpsertRequest bad = UpsertReq("c", 5100, 50, kDim);
    bad.mutable_points(10)->set_vector(1, std::nanf(""));
    w->Write(bad);  // may fail once the server has closed the stream
    w->Write(UpsertReq("c", 5150, 50, kDim));
    w->WritesDone();
    const grpc::Status s = w->Finish();
    EXPECT_CODE(s, INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("batch 2"), std::string::npos)
        << s.error_message();
    EXPECT_NE(s.error_message().find("100 points before it were stored"),
              std::string::npos)
        << s.error_message();
  }
  EXPECT_EQ(Count(), 2100u);
}

TEST(RpcTest, ResourceLimits) {
  ServerOptions so;
  so.max_receive_bytes = 1 << 20;
  DatabaseOptions dbo;
  dbo.max_batch = 100;
  TestServer ts(so, dbo);
  pb::CollectionInfo info;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(ts.collections()
                    .Create(&ctx, CreateReq("c", 8, pb::METRIC_IP), &info)
                    .ok());
  }
  {
    grpc::ClientContext ctx;
    pb::UpsertResponse resp;
    const grpc::Status s =
        ts.points().Upsert(&ctx, UpsertReq("c", 0, 101, 8), &resp);
    EXPECT_CODE(s, RESOURCE_EXHAUSTED);
    EXPECT_NE(s.error_message().find("max_batch 100"), std::string::npos)
        << s.error_message();
  }
  {
    // Over the 1 MiB receive limit: gRPC itself refuses it.
    pb::UpsertRequest r = UpsertReq("c", 0, 10, 8);
    r.mutable_points(0)->set_payload(std::string(2 << 20, 'x'));
    grpc::ClientContext ctx;
    pb::UpsertResponse resp;
    EXPECT_CODE(ts.points().Upsert(&ctx, r, &resp), RESOURCE_EXHAUSTED);
  }
  // Still serving.
  grpc::ClientContext ctx;
  pb::UpsertResponse resp;
  EXPECT_TRUE(ts.points().Upsert(&ctx, UpsertReq("c", 0, 100, 8), &resp).ok());
}

TEST(RpcTest, ExactSearchWithoutStoredVectorsIsFailedPrecondition) {
  TestServer ts;
  pb::CollectionInfo info;
  auto r = CreateReq("c", 16, pb::METRIC_COSINE);
  r.set_store_vectors(false);
  r.mutable_ivf()->set_nlist(4);
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(ts.collections().Create(&ctx, r, &info).ok());
  }
  {
    grpc::ClientContext ctx;
    pb::UpsertResponse resp;
    ASSERT_TRUE(
        ts.points().Upsert(&ctx, UpsertReq("c", 0, 300, 16), &resp).ok());
  }
  {
    grpc::ClientContext ctx;
    pb::TrainCollectionRequest t;
    t.set_name("c");
    ASSERT_TRUE(ts.collections().Train(&ctx, t, &info).ok());
  }
  pb::SearchRequest s = SearchReq("c", VectorFor(3, 0, 16), 5);
  s.mutable_params()->set_exact(true);
  grpc::ClientContext ctx;
  pb::SearchResponse resp;
  const grpc::Status st = ts.points().Search(&ctx, s, &resp);
  EXPECT_CODE(st, FAILED_PRECONDITION);
  EXPECT_NE(st.error_message().find("store_vectors"), std::string::npos);
}

TEST(RpcTest, ApiKey) {
  ServerOptions so;
  so.api_key = "s3cret";
  TestServer ts(so);
  pb::ListCollectionsResponse list;
  {
    grpc::ClientContext ctx;
    EXPECT_CODE(
        ts.collections().List(&ctx, pb::ListCollectionsRequest(), &list),
        UNAUTHENTICATED);
  }
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer wrong");
    EXPECT_CODE(
        ts.collections().List(&ctx, pb::ListCollectionsRequest(), &list),
        UNAUTHENTICATED);
  }
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer s3cret");
    EXPECT_TRUE(
        ts.collections().List(&ctx, pb::ListCollectionsRequest(), &list).ok());
  }
  {
    grpc::ClientContext ctx;
    pb::CountRequest r;
    r.set_collection("x");
    pb::CountResponse resp;
    EXPECT_CODE(ts.points().Count(&ctx, r, &resp), UNAUTHENTICATED);
  }
  // Health stays open.
  auto health = grpc::health::v1::Health::NewStub(ts.channel());
  grpc::ClientContext ctx;
  grpc::health::v1::HealthCheckResponse hr;
  ASSERT_TRUE(
      health->Check(&ctx, grpc::health::v1::HealthCheckRequest(), &hr).ok());
  EXPECT_EQ(hr.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST(RpcTest, Tls) {
  dbtest::TempDir certs;
  SelfSignedCert tls;
  ASSERT_TRUE(MakeSelfSignedCert(certs, &tls))
      << "openssl (tools/setup.sh) failed";
  ServerOptions so;
  so.tls_cert_pem = tls.cert_pem;
  so.tls_key_pem = tls.key_pem;
  TestServer ts(so);
  // A TLS client that trusts the certificate gets through...
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = so.tls_cert_pem;
  auto ch =
      grpc::CreateChannel(ts.server()->address(), grpc::SslCredentials(ssl));
  auto stub = pb::Collections::NewStub(ch);
  pb::ListCollectionsResponse list;
  {
    grpc::ClientContext ctx;
    EXPECT_TRUE(stub->List(&ctx, pb::ListCollectionsRequest(), &list).ok());
  }
  // ... a plaintext one does not.
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  EXPECT_CODE(ts.collections().List(&ctx, pb::ListCollectionsRequest(), &list),
              UNAVAILABLE);
  // Half a TLS pair is refused at start.
  ServerOptions half;
  half.tls_cert_pem = so.tls_cert_pem;
  auto db = Database::Open(certs.sub("db"), DatabaseOptions());
  ASSERT_TRUE(db.ok());
  auto bad = Server::Start(db->get(), half);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RpcTest, HealthAndReflection) {
  TestServer ts;
  auto health = grpc::health::v1::Health::NewStub(ts.channel());
  for (const char* svc : {"", "tqdb.v1.Points", "tqdb.v1.Collections"}) {
    grpc::ClientContext ctx;
    grpc::health::v1::HealthCheckRequest r;
    r.set_service(svc);
    grpc::health::v1::HealthCheckResponse hr;
    ASSERT_TRUE(health->Check(&ctx, r, &hr).ok()) << svc;
    EXPECT_EQ(hr.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  }
  {
    grpc::ClientContext ctx;
    grpc::health::v1::HealthCheckRequest r;
    r.set_service("no.such.Service");
    grpc::health::v1::HealthCheckResponse hr;
    EXPECT_CODE(health->Check(&ctx, r, &hr), NOT_FOUND);
  }
  // Reflection is checked by the Python black-box test
  // (tests/e2e/grpc_blackbox_test.py): libgrpc++_reflection's own message
  // definitions clash with client stubs generated here.
}

TEST(RpcTest, DeadlineStopsALongExactScan) {
  TestServer ts;
  constexpr uint32_t kDim = 256;
  pb::CollectionInfo info;
  {
    grpc::ClientContext ctx;
    auto r = CreateReq("big", kDim, pb::METRIC_IP);
    r.mutable_ivf()->set_nlist(16);
    ASSERT_TRUE(ts.collections().Create(&ctx, r, &info).ok());
  }
  // 40,000 points; 12,000 under a sanitizer, whose scan of them takes as
  // long (the deadline is 2 ms).
  const int batches = dbtest::kSanitized ? 6 : 20;
  for (int b = 0; b < batches; ++b) {
    grpc::ClientContext ctx;
    pb::UpsertResponse resp;
    ASSERT_TRUE(ts.points()
                    .Upsert(&ctx, UpsertReq("big", b * 2000, 2000, kDim), &resp)
                    .ok());
  }
  {
    grpc::ClientContext ctx;
    pb::TrainCollectionRequest t;
    t.set_name("big");
    ASSERT_TRUE(ts.collections().Train(&ctx, t, &info).ok());
  }
  pb::SearchRequest s = SearchReq("big", VectorFor(3, 0, kDim), 10);
  s.mutable_params()->set_exact(true);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::milliseconds(2));
  pb::SearchResponse resp;
  EXPECT_CODE(ts.points().Search(&ctx, s, &resp), DEADLINE_EXCEEDED);
  // The server keeps serving, and the same search completes without one.
  grpc::ClientContext ctx2;
  ASSERT_TRUE(ts.points().Search(&ctx2, s, &resp).ok());
  EXPECT_EQ(resp.points(0).id(), 3u);
}

TEST(RpcTest, Snapshots) {
  TestServer ts;
  pb::CollectionInfo info;
  for (const char* name : {"a", "b"}) {
    grpc::ClientContext ctx;
    ASSERT_TRUE(ts.collections()
                    .Create(&ctx, CreateReq(name, 8, pb::METRIC_IP), &info)
                    .ok());
    grpc::ClientContext ctx2;
    pb::UpsertResponse resp;
    ASSERT_TRUE(
        ts.points().Upsert(&ctx2, UpsertReq(name, 0, 30, 8), &resp).ok());
  }
  pb::SnapshotDescription only_a, all;
  {
    grpc::ClientContext ctx;
    pb::CreateSnapshotRequest r;
    r.set_collection("a");
    ASSERT_TRUE(ts.snapshots().Create(&ctx, r, &only_a).ok());
    EXPECT_EQ(only_a.collection(), "a");
    EXPECT_GT(only_a.size_bytes(), 0u);
    EXPECT_GT(only_a.creation_time(), 0);
  }
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(
        ts.snapshots().Create(&ctx, pb::CreateSnapshotRequest(), &all).ok());
    EXPECT_NE(all.name(), only_a.name());
  }
  {
    grpc::ClientContext ctx;
    pb::CreateSnapshotRequest r;
    r.set_collection("zzz");
    pb::SnapshotDescription d;
    EXPECT_CODE(ts.snapshots().Create(&ctx, r, &d), NOT_FOUND);
  }
  {
    grpc::ClientContext ctx;
    pb::ListSnapshotsResponse list;
    ASSERT_TRUE(
        ts.snapshots().List(&ctx, pb::ListSnapshotsRequest(), &list).ok());
    EXPECT_EQ(list.snapshots_size(), 2);
    grpc::ClientContext ctx2;
    pb::ListSnapshotsRequest r;
    r.set_collection("a");
    ASSERT_TRUE(ts.snapshots().List(&ctx2, r, &list).ok());
    ASSERT_EQ(list.snapshots_size(), 1);
    EXPECT_EQ(list.snapshots(0).name(), only_a.name());
  }
  // The snapshot restores as a database with only "a".
  DatabaseOptions o;
  o.create_if_missing = false;
  o.background_training = false;
  ASSERT_TRUE(
      Database::RestoreSnapshot(only_a.path(), ts.dir().sub("restored")).ok());
  auto snap = Database::Open(ts.dir().sub("restored"), o);
  ASSERT_TRUE(snap.ok()) << snap.status();
  EXPECT_EQ((*snap)->ListCollections(), std::vector<std::string>{"a"});
  EXPECT_EQ((*(*snap)->GetCollection("a"))->Count(), 30u);
}

TEST(RpcTest, ShutdownLetsCallsInFlightFinish) {
  auto ts = std::make_unique<TestServer>();
  constexpr uint32_t kDim = 128;
  pb::CollectionInfo info;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(ts->collections()
                    .Create(&ctx, CreateReq("c", kDim, pb::METRIC_IP), &info)
                    .ok());
  }
  // A stream that is still open when shutdown starts completes normally.
  grpc::ClientContext ctx;
  pb::UpsertResponse resp;
  auto w = ts->points().UpsertStream(&ctx, &resp);
  ASSERT_TRUE(w->Write(UpsertReq("c", 0, 100, kDim)));
  // Wait until the server is inside the call (the first batch is stored).
  auto c = *ts->db()->GetCollection("c");
  for (int i = 0; i < 500 && c->Count() < 100; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(c->Count(), 100u);
  std::thread stopper([&] { ts->server()->Shutdown(absl::Seconds(20)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_TRUE(w->Write(UpsertReq("c", 100, 100, kDim)));
  w->WritesDone();
  EXPECT_TRUE(w->Finish().ok());
  stopper.join();
  EXPECT_EQ(resp.upserted(), 200u);
  EXPECT_EQ(c->Count(), 200u);
}

}  // namespace
}  // namespace tqdb
