// The REST gateway (rpc/http_gateway.h) against a real server on loopback:
// every route answers what the same gRPC call answers, errors carry the
// gRPC code name with the right HTTP status, bad input never stops the
// server, the API key and TLS apply as over gRPC.
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <httplib.h>

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/escaping.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "rpc/http_routes.h"
#include "tests/rpc/rpc_test_util.h"

namespace tqdb {
namespace {

using rpctest::CreateReq;
using rpctest::MakeSelfSignedCert;
using rpctest::SearchReq;
using rpctest::SelfSignedCert;
using rpctest::TestServer;
using rpctest::UpsertReq;
namespace pb = ::tqdb::v1;

ServerOptions WithHttp(ServerOptions so = ServerOptions()) {
  so.http_listen = "127.0.0.1:0";
  return so;
}

std::string Json(const google::protobuf::Message& m) {
  std::string s;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(m, &s).ok());
  return s;
}

template <typename M>
M Parse(const std::string& json) {
  M m;
  const auto s = google::protobuf::util::JsonStringToMessage(json, &m);
  EXPECT_TRUE(s.ok()) << s.message() << " in " << json;
  return m;
}

// The error body's code, checking the shape.
std::string ErrorCode(const httplib::Result& r) {
  if (!r) return "no response";
  const nlohmann::json j = nlohmann::json::parse(r->body, nullptr, false);
  if (!j.is_object() || !j.contains("error") || !j["error"].contains("code") ||
      !j["error"].contains("message") ||
      j["error"]["message"].get<std::string>().empty()) {
    return "malformed error body: " + r->body;
  }
  return j["error"]["code"].get<std::string>();
}

class HttpGatewayTest : public ::testing::Test {
 protected:
  HttpGatewayTest() : ts_(WithHttp()), http_("127.0.0.1", port()) {}
  int port() { return ts_.server()->http_port(); }

  void CreateAndFill(const std::string& name, size_t n, uint32_t dim) {
    auto r = http_.Put("/collections/" + name,
                       Json(CreateReq(name, dim, pb::METRIC_COSINE)),
                       "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    pb::UpsertRequest up = UpsertReq(name, 1, n, dim);
    up.clear_collection();  // from the path
    up.set_wait(true);
    r = http_.Put("/collections/" + name + "/points", Json(up),
                  "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(Parse<pb::UpsertResponse>(r->body).upserted(), n);
  }

  TestServer ts_;
  httplib::Client http_;
};

TEST_F(HttpGatewayTest, EveryRouteAnswersWhatGrpcAnswers) {
  ASSERT_GT(port(), 0);
  CreateAndFill("docs", 300, 16);
  // Search: same points and scores as the gRPC call.
  const std::vector<float> q = dbtest::VectorFor(7, 0, 16);
  pb::SearchRequest sr = SearchReq("docs", q, 5);
  sr.set_with_payload(true);
  pb::SearchResponse grpc_resp;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(ts_.points().Search(&ctx, sr, &grpc_resp).ok());
  }
  sr.clear_collection();
  auto r = http_.Post("/collections/docs/points/search", Json(sr),
                      "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  pb::SearchResponse http_resp = Parse<pb::SearchResponse>(r->body);
  ASSERT_EQ(http_resp.points_size(), 5);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(http_resp.points(i).id(), grpc_resp.points(i).id());
    EXPECT_EQ(http_resp.points(i).score(), grpc_resp.points(i).score());
    EXPECT_EQ(http_resp.points(i).payload(), grpc_resp.points(i).payload());
  }
  EXPECT_EQ(http_resp.points(0).id(), 7u);
  // snake_case field names and defaults printed; untrained: exact, no list
  // probed.
  EXPECT_NE(r->body.find("\"time_ms\""), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("\"nprobe_used\":0"), std::string::npos) << r->body;

  // Batch.
  pb::SearchBatchRequest br;
  for (uint64_t id : {3, 9}) {
    *br.add_searches() = SearchReq("", dbtest::VectorFor(id, 0, 16), 2);
  }
  r = http_.Post("/collections/docs/points/search/batch", Json(br),
                 "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto batch = Parse<pb::SearchBatchResponse>(r->body);
  ASSERT_EQ(batch.results_size(), 2);
  EXPECT_EQ(batch.results(0).points(0).id(), 3u);
  EXPECT_EQ(batch.results(1).points(0).id(), 9u);

  // Get by id in the path, query parameters.
  r = http_.Get("/collections/docs/points/12?with_payload=true");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto got = Parse<pb::GetPointsResponse>(r->body);
  ASSERT_EQ(got.points_size(), 1);
  EXPECT_EQ(got.points(0).payload(), "{\"i\":12}");
  // Get by ids in the body.
  r = http_.Post("/collections/docs/points",
                 R"({"ids": [1, "2", 999], "with_vectors": true})",
                 "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  got = Parse<pb::GetPointsResponse>(r->body);
  ASSERT_EQ(got.points_size(), 2);
  EXPECT_EQ(got.points(1).vector_size(), 16);

  // Count, delete, count.
  r = http_.Post("/collections/docs/points/count", "{}", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(Parse<pb::CountResponse>(r->body).count(), 300u);
  r = http_.Post("/collections/docs/points/delete",
                 R"({"ids": [1, 2, 3], "wait": true})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(Parse<pb::DeletePointsResponse>(r->body).deleted(), 3u);
  r = http_.Post("/collections/docs/points/count", "", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(Parse<pb::CountResponse>(r->body).count(), 297u);

  // Collections: get, list, train.
  r = http_.Get("/collections/docs");
  ASSERT_TRUE(r);
  auto info = Parse<pb::CollectionInfo>(r->body);
  EXPECT_EQ(info.count(), 297u);
  EXPECT_GT(info.memory().bytes(), 0u);
  EXPECT_EQ(info.memory().total_bytes(), info.memory().bytes());
  r = http_.Post("/collections/docs/train", "{}", "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  info = Parse<pb::CollectionInfo>(r->body);
  EXPECT_TRUE(info.trained());
  EXPECT_GT(info.lists().size_histogram_size(), 0);
  EXPECT_GT(info.memory().index_bytes(), 0u);
  // Trained: nprobe above nlist is clamped, and the answer says so.
  sr.mutable_params()->set_nprobe(100000);
  r = http_.Post("/collections/docs/points/search", Json(sr),
                 "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(Parse<pb::SearchResponse>(r->body).nprobe_used(), info.nlist());
  EXPECT_GT(info.nlist(), 0u);
  r = http_.Get("/collections");
  ASSERT_TRUE(r);
  auto list = Parse<pb::ListCollectionsResponse>(r->body);
  ASSERT_EQ(list.collections_size(), 1);
  EXPECT_EQ(list.collections(0).name(), "docs");

  // Snapshots.
  r = http_.Post("/collections/docs/snapshots", "", "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(Parse<pb::SnapshotDescription>(r->body).collection(), "docs");
  const std::string snap = Parse<pb::SnapshotDescription>(r->body).name();
  r = http_.Get("/snapshots");
  ASSERT_TRUE(r);
  EXPECT_EQ(Parse<pb::ListSnapshotsResponse>(r->body).snapshots_size(), 1);
  r = http_.Delete("/snapshots/" + snap);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  r = http_.Get("/snapshots");
  ASSERT_TRUE(r);
  EXPECT_EQ(Parse<pb::ListSnapshotsResponse>(r->body).snapshots_size(), 0);
  r = http_.Delete("/snapshots/" + snap);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404) << r->body;
  EXPECT_EQ(ErrorCode(r), "NOT_FOUND");

  // Delete the collection.
  r = http_.Delete("/collections/docs");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  r = http_.Get("/collections/docs");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(ErrorCode(r), "NOT_FOUND");
}

// Filters in Qdrant's JSON syntax on search, count, scroll and delete,
// payload updates, field indexes: each the gRPC call's answer.
TEST_F(HttpGatewayTest, FiltersPayloadUpdatesAndFieldIndexes) {
  CreateAndFill("f", 300, 16);  // payloads {"i": id}, ids 1..300
  auto post = [&](const std::string& path, const std::string& body) {
    auto r = http_.Post(path, body, "application/json");
    EXPECT_TRUE(r);
    return r;
  };
  auto r = http_.Put("/collections/f/index",
                     R"({"field": "i", "type": "FIELD_TYPE_INTEGER",
                         "wait": true})",
                     "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto index = Parse<pb::PayloadIndexInfo>(r->body);
  EXPECT_EQ(index.field(), "i");
  EXPECT_TRUE(index.ready());
  EXPECT_EQ(index.points(), 300u);

  const std::string below100 =
      R"({"must": [{"key": "i", "range": {"lt": 100}}]})";
  // Count: Qdrant's syntax and the JSON mapping agree with gRPC.
  pb::CountRequest cr;
  cr.set_collection("f");
  pb::FieldCondition* fc = cr.mutable_filter()->add_must()->mutable_field();
  fc->set_key("i");
  fc->mutable_range()->set_lt(100);
  pb::CountResponse grpc_count;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(ts_.points().Count(&ctx, cr, &grpc_count).ok());
  }
  EXPECT_EQ(grpc_count.count(), 99u);
  r = post("/collections/f/points/count", R"({"filter": )" + below100 + "}");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(Parse<pb::CountResponse>(r->body).count(), 99u);
  cr.clear_collection();
  r = post("/collections/f/points/count", Json(cr));
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(Parse<pb::CountResponse>(r->body).count(), 99u);

  // Facet (Qdrant's path): the values of "i" below 100, two of them.
  r = post("/collections/f/facet",
           R"({"key": "i", "limit": 2, "filter": )" + below100 + "}");
  ASSERT_EQ(r->status, 200) << r->body;
  auto facet = Parse<pb::FacetResponse>(r->body);
  ASSERT_EQ(facet.hits_size(), 2) << r->body;
  EXPECT_EQ(facet.hits(0).integer(), 1);
  EXPECT_EQ(facet.hits(1).integer(), 2);
  EXPECT_EQ(facet.hits(0).count(), 1u);
  r = post("/collections/f/facet", R"({"key": "nothing"})");
  EXPECT_EQ(r->status, 400) << r->body;

  // Search: the gRPC call's hits and plan; every hit matches.
  pb::SearchRequest sr = SearchReq("f", dbtest::VectorFor(150, 0, 16), 5);
  *sr.mutable_filter() = cr.filter();
  pb::SearchResponse grpc_hits;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(ts_.points().Search(&ctx, sr, &grpc_hits).ok());
  }
  nlohmann::json body = nlohmann::json::parse(Json(sr));
  body.erase("collection");
  body["filter"] = nlohmann::json::parse(below100);
  r = post("/collections/f/points/search", body.dump());
  ASSERT_EQ(r->status, 200) << r->body;
  auto hits = Parse<pb::SearchResponse>(r->body);
  ASSERT_EQ(hits.points_size(), 5);
  for (int i = 0; i < 5; ++i) {
    EXPECT_LT(hits.points(i).id(), 100u);
    EXPECT_EQ(hits.points(i).id(), grpc_hits.points(i).id());
  }
  EXPECT_EQ(hits.plan().kind(), grpc_hits.plan().kind());
  EXPECT_EQ(hits.plan().matches(), 99u);
  // A batch: each search its filter.
  r = post("/collections/f/points/search/batch",
           R"({"searches": [{"vector": )" + body["vector"].dump() +
               R"(, "limit": 3, "filter": {"must": [{"key": "i", "match":
               {"any": [7, 8, 9]}}]}}]})");
  ASSERT_EQ(r->status, 200) << r->body;
  auto batch = Parse<pb::SearchBatchResponse>(r->body);
  ASSERT_EQ(batch.results_size(), 1);
  ASSERT_EQ(batch.results(0).points_size(), 3);
  for (const auto& p : batch.results(0).points()) {
    EXPECT_TRUE(p.id() >= 7 && p.id() <= 9) << p.id();
  }

  // Scroll: pages in id order.
  r = post("/collections/f/points/scroll",
           R"({"filter": )" + below100 + R"(, "limit": 10, "offset": 40,
               "with_payload": true})");
  ASSERT_EQ(r->status, 200) << r->body;
  auto page = Parse<pb::ScrollResponse>(r->body);
  ASSERT_EQ(page.points_size(), 10);
  EXPECT_EQ(page.points(0).id(), 40u);
  EXPECT_EQ(page.points(9).payload(), "{\"i\":49}");
  EXPECT_EQ(page.next_page_offset(), 50u);

  // Payload updates (payload as base64, as every bytes field).
  r = post("/collections/f/points/payload",
           R"({"payload": ")" + absl::Base64Escape(R"({"tag": "x"})") +
               R"(", "ids": [5, 6], "wait": true})");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(Parse<pb::PayloadUpdateResponse>(r->body).updated(), 2u);
  r = http_.Put("/collections/f/points/payload",
                R"({"payload": ")" + absl::Base64Escape(R"({"i": 1000})") +
                    R"(", "ids": [5], "wait": true})",
                "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  r = http_.Get("/collections/f/points/5?with_payload=true");
  ASSERT_TRUE(r);
  EXPECT_EQ(Parse<pb::GetPointsResponse>(r->body).points(0).payload(),
            R"({"i": 1000})");  // as given
  // New vectors, payloads kept (Qdrant's PUT .../points/vectors).
  std::string ones = "[1";
  for (int j = 1; j < 16; ++j) ones += ", 1";
  ones += "]";
  r = http_.Put(
      "/collections/f/points/vectors",
      R"({"points": [{"id": 5, "vector": )" + ones + R"(}], "wait": true})",
      "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(Parse<pb::UpdateVectorsResponse>(r->body).updated(), 1u);
  r = http_.Get("/collections/f/points/5?with_payload=true&with_vectors=true");
  ASSERT_TRUE(r);
  {
    const auto got = Parse<pb::GetPointsResponse>(r->body);
    ASSERT_EQ(got.points_size(), 1);
    EXPECT_EQ(got.points(0).payload(), R"({"i": 1000})");
    ASSERT_EQ(got.points(0).vector_size(), 16);
    EXPECT_EQ(got.points(0).vector(15), 1.0f);
  }
  r = http_.Put("/collections/f/points/vectors",
                R"({"points": [{"id": 777777, "vector": )" + ones + "}]}",
                "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404) << r->body;
  EXPECT_NE(r->body.find("point 777777 is not in collection"),
            std::string::npos)
      << r->body;
  r = post("/collections/f/points/payload/delete",
           R"({"keys": ["tag"], "filter": {"must": [{"key": "tag", "match":
               {"value": "x"}}]}, "wait": true})");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(Parse<pb::PayloadUpdateResponse>(r->body).updated(), 1u);  // 6
  r = post(
      "/collections/f/points/count",
      R"({"filter": {"must": [{"key": "tag", "match": {"value": "x"}}]}})");
  ASSERT_EQ(r->status, 200) << r->body;
  auto count = Parse<pb::CountResponse>(r->body);
  EXPECT_EQ(count.count(), 0u);
  ASSERT_EQ(count.unindexed_fields_size(), 1);  // no index on "tag"
  EXPECT_EQ(count.unindexed_fields(0), "tag");

  // Full text (Qdrant's match.text) through a text index.
  r = post("/collections/f/points/payload",
           R"({"payload": ")" +
               absl::Base64Escape(R"({"note": "Hello, REST world!"})") +
               R"(", "ids": [7, 8, 9], "wait": true})");
  ASSERT_EQ(r->status, 200) << r->body;
  r = http_.Put("/collections/f/index",
                R"({"field": "note", "type": "FIELD_TYPE_TEXT", "wait": true})",
                "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(Parse<pb::PayloadIndexInfo>(r->body).type(), pb::FIELD_TYPE_TEXT);
  r = post("/collections/f/points/count",
           R"({"filter": {"must": [{"key": "note",
                                    "match": {"text": "world hello"}}]}})");
  ASSERT_EQ(r->status, 200) << r->body;
  count = Parse<pb::CountResponse>(r->body);
  EXPECT_EQ(count.count(), 3u);
  EXPECT_EQ(count.unindexed_fields_size(), 0);
  r = post(
      "/collections/f/points/count",
      R"({"filter": {"must": [{"key": "note", "match": {"text": "!"}}]}})");
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(r->body.find("the text has no words"), std::string::npos)
      << r->body;

  // Geo (Qdrant's geo_radius) through a geo index.
  r = post("/collections/f/points/payload",
           R"({"payload": ")" +
               absl::Base64Escape(R"({"where": {"lon": 13.4, "lat": 52.52}})") +
               R"(", "ids": [7, 8], "wait": true})");
  ASSERT_EQ(r->status, 200) << r->body;
  r = http_.Put("/collections/f/index",
                R"({"field": "where", "type": "FIELD_TYPE_GEO", "wait": true})",
                "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  r = post("/collections/f/points/count",
           R"({"filter": {"must": [{"key": "where", "geo_radius": {
                "center": {"lon": 13.41, "lat": 52.52}, "radius": 1000}}]}})");
  ASSERT_EQ(r->status, 200) << r->body;
  count = Parse<pb::CountResponse>(r->body);
  EXPECT_EQ(count.count(), 2u);
  EXPECT_EQ(count.unindexed_fields_size(), 0);
  r = post("/collections/f/points/count",
           R"({"filter": {"must": [{"key": "where", "geo_radius": {
                "center": {"lon": 13.41, "lat": 52.52}, "radius": 600}}]}})");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(Parse<pb::CountResponse>(r->body).count(), 0u);  // 677 m away
  r = post("/collections/f/points/count",
           R"({"filter": {"must": [{"key": "where", "geo_polygon": {
                "exterior": {"points": [{"lon": 0, "lat": 0}]}}}]}})");
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(r->body.find("filter.must[0].geo_polygon.exterior: a ring needs "
                         "at least 4 points, got 1"),
            std::string::npos)
      << r->body;

  // A payload selector (Qdrant's with_payload include / exclude).
  r = post("/collections/f/points",
           R"({"ids": ["7"], "with_payload": true,
               "payload_selector": {"include": ["where.lat", "absent"]}})");
  ASSERT_EQ(r->status, 200) << r->body;
  auto got = Parse<pb::GetPointsResponse>(r->body);
  ASSERT_EQ(got.points_size(), 1);
  EXPECT_EQ(got.points(0).payload(), R"({"where":{"lat":52.52}})");
  const std::string vector16 =
      R"("vector": [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])";
  r = post("/collections/f/points/search",
           "{" + vector16 + R"(, "limit": 3, "with_payload": true,
               "params": {"exact": true},
               "payload_selector": {"exclude": ["note", "where"]}})");
  ASSERT_EQ(r->status, 200) << r->body;
  const auto selected = Parse<pb::SearchResponse>(r->body);
  ASSERT_EQ(selected.points_size(), 3);
  for (const pb::ScoredPoint& p : selected.points()) {
    EXPECT_EQ(p.payload(), absl::StrCat(R"({"i":)", p.id(), "}"));
  }
  r = post("/collections/f/points/search", "{" + vector16 + R"(, "limit": 3,
               "payload_selector": {"include": ["i"]}})");
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(r->body.find("payload_selector needs with_payload"),
            std::string::npos)
      << r->body;

  // Delete by filter.
  r = post("/collections/f/points/delete",
           R"({"filter": {"must": [{"key": "i", "range": {"gte": 200}}]},
               "wait": true})");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(Parse<pb::DeletePointsResponse>(r->body).deleted(),
            102u);  // 200..300 and 5 (now 1000)
  r = post("/collections/f/points/count", "{}");
  EXPECT_EQ(Parse<pb::CountResponse>(r->body).count(), 198u);

  // A bad filter: 400 naming its place; nothing deleted.
  r = post("/collections/f/points/delete",
           R"({"filter": {"must": [{"key": "i", "range": {"gt": "x"}}]}})");
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_EQ(ErrorCode(r), "INVALID_ARGUMENT");
  EXPECT_NE(r->body.find("filter.must[0].range.gt"), std::string::npos)
      << r->body;
  r = post("/collections/f/points/count", "{}");
  EXPECT_EQ(Parse<pb::CountResponse>(r->body).count(), 198u);

  // Drop the indexes.
  for (const char* field : {"i", "note", "where"}) {
    r = http_.Delete(std::string("/collections/f/index/") + field);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
  }
  r = http_.Get("/collections/f");
  ASSERT_TRUE(r);
  EXPECT_EQ(Parse<pb::CollectionInfo>(r->body).payload_indexes_size(), 0);
}

TEST_F(HttpGatewayTest, BadInputGetsTheStatusAndCodeAndTheServerServesOn) {
  CreateAndFill("c", 10, 4);
  struct Case {
    const char* method;
    std::string path, body;
    int status;
    const char* code;
  };
  const std::vector<Case> cases = {
      {"POST", "/collections/c/points/search", R"({"vector": [1, 2)", 400,
       "INVALID_ARGUMENT"},
      {"POST", "/collections/c/points/search", "[1, 2, 3]", 400,
       "INVALID_ARGUMENT"},
      {"POST", "/collections/c/points/search", R"({"vectr": [1, 2, 3, 4]})",
       400, "INVALID_ARGUMENT"},
      {"POST", "/collections/c/points/search",
       R"({"vector": [1, 2, 3], "limit": 1})", 400, "INVALID_ARGUMENT"},
      {"POST", "/collections/c/points/search",
       R"({"vector": [1, 2, 3, 4], "limit": 0})", 400, "INVALID_ARGUMENT"},
      {"POST", "/collections/nope/points/search",
       R"({"vector": [1, 2, 3, 4], "limit": 1})", 404, "NOT_FOUND"},
      {"POST", "/collections/c/points/search",
       R"({"collection": "other", "vector": [1, 2, 3, 4], "limit": 1})", 400,
       "INVALID_ARGUMENT"},
      {"PUT", "/collections/c", R"({"dim": 4})", 409, "ALREADY_EXISTS"},
      {"GET", "/collections/c/points/abc", "", 400, "INVALID_ARGUMENT"},
      {"GET", "/collections/c/points/1?with_payload=maybe", "", 400,
       "INVALID_ARGUMENT"},
      {"GET", "/collections/c/points/1?colour=red", "", 400,
       "INVALID_ARGUMENT"},
      {"GET", "/no/such/path", "", 404, "NOT_FOUND"},
      {"GET", "/collections/c/points/search", "", 405, "UNIMPLEMENTED"},
      {"DELETE", "/collections/c/points/count", "", 405, "UNIMPLEMENTED"},
      {"PATCH", "/collections/c", "{}", 405, "UNIMPLEMENTED"},
      {"POST", "/dashboard/", "", 405, "UNIMPLEMENTED"},
      {"GET", "/dashboard/nope.js", "", 404, "NOT_FOUND"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.method) + " " + c.path + " " + c.body);
    httplib::Result r = c.method == std::string("GET") ? http_.Get(c.path)
                        : c.method == std::string("POST")
                            ? http_.Post(c.path, c.body, "application/json")
                        : c.method == std::string("PUT")
                            ? http_.Put(c.path, c.body, "application/json")
                        : c.method == std::string("PATCH")
                            ? http_.Patch(c.path, c.body, "application/json")
                            : http_.Delete(c.path);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, c.status) << r->body;
    EXPECT_EQ(ErrorCode(r), c.code);
    if (c.status == 405) {
      EXPECT_FALSE(r->get_header_value("Allow").empty());
    }
  }
  // Still serving, nothing changed.
  auto r = http_.Post("/collections/c/points/count", "{}", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(Parse<pb::CountResponse>(r->body).count(), 10u);
}

TEST(HttpGatewayLimitsTest, BodyOverTheLimitIs413) {
  ServerOptions so = WithHttp();
  so.max_receive_bytes = 64 << 10;
  TestServer ts(so);
  httplib::Client http("127.0.0.1", ts.server()->http_port());
  ASSERT_TRUE(http.Put("/collections/c", R"({"dim": 4})", "application/json"));
  std::string big = R"({"points": [)";
  for (int i = 0; i < 5000; ++i) {
    big += (i ? "," : "") + std::string(R"({"id": 1, "vector": [1, 2, 3, 4]})");
  }
  big += "]}";
  ASSERT_GT(big.size(), size_t{64} << 10);
  auto r = http.Put("/collections/c/points", big, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(ErrorCode(r), "RESOURCE_EXHAUSTED");
  r = http.Post("/collections/c/points/count", "{}", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(HttpGatewayAuthTest, SameKeyAsGrpcAsBearerOrApiKeyHeader) {
  ServerOptions so = WithHttp();
  so.api_key = "s3cret";
  TestServer ts(so);
  httplib::Client http("127.0.0.1", ts.server()->http_port());
  auto r = http.Get("/collections");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(ErrorCode(r), "UNAUTHENTICATED");
  r = http.Get("/collections", {{"Authorization", "Bearer wrong"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  r = http.Get("/collections", {{"Authorization", "Bearer s3cret"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  r = http.Get("/collections", {{"api-key", "s3cret"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  // The dashboard's page holds no data: served without the key.
  r = http.Get("/dashboard/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("<html"), std::string::npos);
}

TEST(HttpGatewayTlsTest, HttpsWithTheServersCertificate) {
  dbtest::TempDir certs;
  SelfSignedCert tls;
  ASSERT_TRUE(MakeSelfSignedCert(certs, &tls))
      << "openssl (tools/setup.sh) failed";
  ServerOptions so = WithHttp();
  so.tls_cert_pem = tls.cert_pem;
  so.tls_key_pem = tls.key_pem;
  TestServer ts(so);
  httplib::SSLClient https("127.0.0.1", ts.server()->http_port());
  https.set_ca_cert_path(tls.cert_path.c_str());
  https.enable_server_certificate_verification(true);
  auto r = https.Get("/collections");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 200) << r->body;
  // Plain HTTP to the HTTPS port gets nothing.
  httplib::Client plain("127.0.0.1", ts.server()->http_port());
  plain.set_read_timeout(5);
  auto p = plain.Get("/collections");
  EXPECT_TRUE(!p || p->status != 200);
}

TEST(HttpGatewayStartTest, BusyPortIsUnavailable) {
  TestServer first(WithHttp());
  ServerOptions so;
  so.listen = "127.0.0.1:0";
  so.http_listen = "127.0.0.1:" + std::to_string(first.server()->http_port());
  dbtest::TempDir dir;
  auto db = Database::Open(dir.sub("db"), DatabaseOptions());
  ASSERT_TRUE(db.ok());
  auto s = Server::Start(db->get(), so);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable) << s.status();
  so.http_listen = "no-port";
  s = Server::Start(db->get(), so);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument)
      << s.status();
}

TEST(HttpRoutesTest, EveryRouteNamesARealRpcAndItsPathFields) {
  for (const Route& r : Routes()) {
    SCOPED_TRACE(r.pattern);
    std::string allowed;
    std::string path = r.pattern;
    // Fill the segments with values their fields take.
    for (const char* f : {"{name}", "{collection}", "{field}"}) {
      if (size_t at = path.find(f); at != std::string::npos) {
        path.replace(at, strlen(f), "c");
      }
    }
    if (size_t at = path.find("{ids}"); at != std::string::npos) {
      path.replace(at, 5, "5");
    }
    auto m = MatchRoute(r.method, path, &allowed);
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_EQ(m->route, &r);
    auto req = BuildRequest(*m, "", {});
    ASSERT_TRUE(req.ok()) << req.status();
    EXPECT_TRUE(NewResponse(r).ok());
  }
}

}  // namespace
}  // namespace tqdb
