// PayloadSelector over gRPC (with_payload include / exclude) against a real
// server: Search, SearchBatch, Get, Scroll and search groups return the
// selected parts of each payload, equal to the test's own reading of the
// payloads it wrote; a bad selector is INVALID_ARGUMENT naming the field,
// and the server goes on serving.
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/rpc/rpc_test_util.h"

namespace tqdb {
namespace {

using rpctest::CreateReq;
using rpctest::TestServer;
namespace pb = ::tqdb::v1;
using ojson = nlohmann::ordered_json;

constexpr uint32_t kDim = 8;
constexpr uint64_t kPoints = 300;

// "title", "meta" {lang, n, tags}, "chunks" [{text, at}] (0-2 of them).
ojson PayloadOf(uint64_t id) {
  ojson chunks = ojson::array();
  for (uint64_t i = 0; i < id % 3; ++i) {
    chunks.push_back({{"text", "chunk " + std::to_string(i)}, {"at", i * 10}});
  }
  return {{"title", "doc " + std::to_string(id)},
          {"meta",
           {{"lang", id % 2 == 0 ? "en" : "de"},
            {"n", id},
            {"tags", ojson::array({"t" + std::to_string(id % 5), "all"})}}},
          {"chunks", chunks}};
}

class RpcPayloadSelectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ClientContext ctx;
    pb::CollectionInfo info;
    ASSERT_TRUE(server_.collections()
                    .Create(&ctx, CreateReq("c", kDim, pb::METRIC_IP), &info)
                    .ok());
    pb::UpsertRequest up;
    up.set_collection("c");
    for (uint64_t id = 0; id < kPoints; ++id) {
      pb::Point* p = up.add_points();
      p->set_id(id);
      const auto v = dbtest::VectorFor(id, 0, kDim);
      p->mutable_vector()->Add(v.begin(), v.end());
      p->set_payload(PayloadOf(id).dump());
    }
    grpc::ClientContext uctx;
    pb::UpsertResponse ur;
    const grpc::Status s = server_.points().Upsert(&uctx, up, &ur);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  static pb::SearchRequest Search(uint64_t like, uint32_t limit) {
    pb::SearchRequest q;
    q.set_collection("c");
    const auto v = dbtest::VectorFor(like, 0, kDim);
    q.mutable_vector()->Add(v.begin(), v.end());
    q.set_limit(limit);
    q.set_with_payload(true);
    return q;
  }

  static void Select(pb::PayloadSelector* s,
                     const std::vector<std::string>& include,
                     const std::vector<std::string>& exclude) {
    for (const std::string& p : include) s->add_include(p);
    for (const std::string& p : exclude) s->add_exclude(p);
  }

  // Each point's payload must be `want(id)`; returns the points checked.
  static size_t Expect(
      const google::protobuf::RepeatedPtrField<pb::ScoredPoint>& points,
      const std::function<ojson(uint64_t)>& want) {
    for (const pb::ScoredPoint& p : points) {
      const ojson got = ojson::parse(p.payload(), nullptr, false);
      EXPECT_EQ(got, want(p.id())) << "point " << p.id() << ": " << p.payload();
    }
    return static_cast<size_t>(points.size());
  }

  TestServer server_;
};

// The test's own readings of PayloadOf.
ojson TitleAndN(uint64_t id) {
  const ojson full = PayloadOf(id);
  return {{"title", full["title"]}, {"meta", {{"n", full["meta"]["n"]}}}};
}
ojson WithoutChunksAndLang(uint64_t id) {
  ojson p = PayloadOf(id);
  p.erase("chunks");
  p["meta"].erase("lang");
  return p;
}
ojson ChunkTexts(uint64_t id) {
  ojson texts = ojson::array();
  const ojson full = PayloadOf(id);
  for (const ojson& c : full["chunks"]) {
    texts.push_back({{"text", c["text"]}});
  }
  return texts.empty() ? ojson::object() : ojson{{"chunks", texts}};
}

TEST_F(RpcPayloadSelectTest, SearchBatchGetScrollAndGroups) {
  // Search: include, exclude; arrays of objects element by element.
  pb::SearchRequest q = Search(7, 20);
  Select(q.mutable_payload_selector(), {"title", "meta.n"}, {});
  pb::SearchResponse r;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(server_.points().Search(&ctx, q, &r).ok());
  }
  EXPECT_EQ(Expect(r.points(), TitleAndN), 20u);
  q.clear_payload_selector();
  Select(q.mutable_payload_selector(), {}, {"chunks", "meta.lang"});
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(server_.points().Search(&ctx, q, &r).ok());
  }
  EXPECT_EQ(Expect(r.points(), WithoutChunksAndLang), 20u);

  // SearchBatch: each search's own selector.
  pb::SearchBatchRequest batch;
  batch.set_collection("c");
  *batch.add_searches() = Search(3, 10);
  Select(batch.mutable_searches(0)->mutable_payload_selector(), {"chunks.text"},
         {});
  *batch.add_searches() = Search(4, 10);
  Select(batch.mutable_searches(1)->mutable_payload_selector(),
         {"title", "meta"}, {"meta.lang", "meta.tags"});
  pb::SearchBatchResponse br;
  {
    grpc::ClientContext ctx;
    const grpc::Status s = server_.points().SearchBatch(&ctx, batch, &br);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  ASSERT_EQ(br.results_size(), 2);
  EXPECT_EQ(Expect(br.results(0).points(), ChunkTexts), 10u);
  EXPECT_EQ(Expect(br.results(1).points(), TitleAndN), 10u);

  // Get.
  pb::GetPointsRequest g;
  g.set_collection("c");
  for (uint64_t id : {0, 1, 2, 299}) g.add_ids(id);
  g.set_with_payload(true);
  Select(g.mutable_payload_selector(), {"meta.tags"}, {});
  pb::GetPointsResponse gr;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(server_.points().Get(&ctx, g, &gr).ok());
  }
  EXPECT_EQ(
      Expect(
          gr.points(),
          [](uint64_t id) {
            return ojson{{"meta", {{"tags", PayloadOf(id)["meta"]["tags"]}}}};
          }),
      4u);

  // Scroll, every page.
  pb::ScrollRequest sc;
  sc.set_collection("c");
  sc.set_limit(64);
  sc.set_with_payload(true);
  Select(sc.mutable_payload_selector(), {"title", "meta", "chunks"},
         {"meta.lang", "chunks"});
  size_t scrolled = 0;
  for (;;) {
    pb::ScrollResponse page;
    grpc::ClientContext ctx;
    ASSERT_TRUE(server_.points().Scroll(&ctx, sc, &page).ok());
    scrolled += Expect(page.points(), WithoutChunksAndLang);
    if (!page.has_next_page_offset()) break;
    sc.set_offset(page.next_page_offset());
  }
  EXPECT_EQ(scrolled, kPoints);

  // Groups: keyed by a member the selector leaves out of the hits.
  pb::SearchRequest gq = Search(9, 2);
  gq.set_group_by("meta.lang");
  gq.set_group_size(3);
  Select(gq.mutable_payload_selector(), {"title"}, {});
  pb::SearchResponse grp;
  {
    grpc::ClientContext ctx;
    const grpc::Status s = server_.points().Search(&ctx, gq, &grp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  ASSERT_EQ(grp.groups_size(), 2);
  for (const pb::PointGroup& group : grp.groups()) {
    EXPECT_EQ(group.hits_size(), 3);
    for (const pb::ScoredPoint& h : group.hits()) {
      EXPECT_EQ(PayloadOf(h.id())["meta"]["lang"], group.keyword());
    }
    Expect(group.hits(), [](uint64_t id) {
      return ojson{{"title", PayloadOf(id)["title"]}};
    });
  }

  // A selector naming nothing a payload holds: {}.
  pb::SearchRequest none = Search(1, 3);
  Select(none.mutable_payload_selector(), {"absent", "title.deeper"}, {});
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(server_.points().Search(&ctx, none, &r).ok());
  }
  EXPECT_EQ(Expect(r.points(), [](uint64_t) { return ojson::object(); }), 3u);
}

TEST_F(RpcPayloadSelectTest, BadSelectorsAreInvalidArgument) {
  auto search = [&](const pb::SearchRequest& q) {
    grpc::ClientContext ctx;
    pb::SearchResponse r;
    return server_.points().Search(&ctx, q, &r);
  };
  auto expect = [](const grpc::Status& s, const std::string& message) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(s.error_message(), message);
  };
  pb::SearchRequest q = Search(1, 5);
  Select(q.mutable_payload_selector(), {"title", "a..b"}, {});
  expect(search(q),
         "payload_selector.include[1]: malformed path 'a..b': empty key at "
         "byte 3");
  q.clear_payload_selector();
  Select(q.mutable_payload_selector(), {}, {"chunks[0].text"});
  expect(search(q),
         "payload_selector.exclude[0]: 'chunks[0].text': a selector walks "
         "every element of an array ([]), it takes no element index [N]");
  q.clear_payload_selector();
  Select(q.mutable_payload_selector(), {"title"}, {});
  q.set_with_payload(false);
  const std::string no_payload =
      "payload_selector needs with_payload: it selects parts of the payloads "
      "a read returns";
  expect(search(q), no_payload);
  // In a batch, named by its search.
  pb::SearchBatchRequest batch;
  batch.set_collection("c");
  *batch.add_searches() = Search(1, 5);
  *batch.add_searches() = q;
  {
    grpc::ClientContext ctx;
    pb::SearchBatchResponse br;
    expect(server_.points().SearchBatch(&ctx, batch, &br),
           "search 1: " + no_payload);
  }
  pb::GetPointsRequest g;
  g.set_collection("c");
  g.add_ids(1);
  Select(g.mutable_payload_selector(), {"title"}, {});
  {
    grpc::ClientContext ctx;
    pb::GetPointsResponse gr;
    expect(server_.points().Get(&ctx, g, &gr), no_payload);
  }
  pb::ScrollRequest sc;
  sc.set_collection("c");
  sc.set_with_payload(true);
  for (int i = 0; i <= 256; ++i)
    sc.mutable_payload_selector()->add_include("a");
  {
    grpc::ClientContext ctx;
    pb::ScrollResponse page;
    expect(server_.points().Scroll(&ctx, sc, &page),
           "payload_selector: a payload selector takes at most 256 paths, "
           "got 257");
  }
  // Still serving, payloads whole without a selector.
  pb::SearchResponse r;
  grpc::ClientContext ctx;
  ASSERT_TRUE(server_.points().Search(&ctx, Search(2, 4), &r).ok());
  EXPECT_EQ(Expect(r.points(), PayloadOf), 4u);
}

}  // namespace
}  // namespace tqdb
