// Filters over gRPC: tqdb.v1.Filter <-> db's Filter (rpc/filter_convert.h), and
// against a real server: payload indexes, filtered Search (with its plan),
// SearchBatch, Count, Facet, Scroll (by id and ordered), delete by filter,
// payload updates; bad filters are INVALID_ARGUMENT naming their place, write
// nothing, and the server goes on serving; unindexed filters are logged, once a
// minute.
#include <algorithm>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "db/filter_json.h"
#include "gtest/gtest.h"
#include "rpc/convert.h"
#include "rpc/filter_convert.h"
#include "tests/rpc/rpc_test_util.h"

namespace tqdb {
namespace {

using rpctest::CreateReq;
using rpctest::SearchReq;
using rpctest::TestServer;
namespace pb = ::tqdb::v1;

Filter F(const std::string& text) {
  auto f = ParseFilterJson(text);
  EXPECT_TRUE(f.ok()) << f.status();
  return f.ok() ? *f : Filter();
}

pb::Filter P(const std::string& text) {
  pb::Filter out;
  ToProto(F(text), &out);
  return out;
}

TEST(FilterConvert, RoundTripsEveryCondition) {
  const std::string text =
      R"({"must": [{"key": "a", "match": {"value": "x"}},
                   {"key": "b", "match": {"value": -3}},
                   {"key": "c", "match": {"value": false}},
                   {"key": "d", "match": {"any": ["p", "q"]}},
                   {"key": "e", "match": {"except": [1, 2]}},
                   {"key": "f", "range": {"gt": 1.5, "lte": 9}},
                   {"is_empty": {"key": "g"}}, {"is_null": {"key": "h"}},
                   {"has_id": [4, 5]},
                   {"key": "j", "geo_radius": {"center": {"lon": 1,
                                                          "lat": 2},
                                               "radius": 30.5}},
                   {"key": "j", "geo_bounding_box": {
                      "top_left": {"lon": 170, "lat": 3},
                      "bottom_right": {"lon": -170, "lat": -3}}},
                   {"key": "j", "geo_polygon": {
                      "exterior": {"points": [{"lon": 0, "lat": 0},
                        {"lon": 1, "lat": 0}, {"lon": 1, "lat": 1},
                        {"lon": 0, "lat": 0}]},
                      "interiors": [{"points": [{"lon": 0.5, "lat": 0.1},
                        {"lon": 0.6, "lat": 0.1}, {"lon": 0.6, "lat": 0.2},
                        {"lon": 0.5, "lat": 0.1}]}]}},
                   {"key": "k", "values_count": {"gt": 1, "lte": 3}},
                   {"nested": {"key": "l", "filter": {"must": [
                       {"key": "m", "match": {"value": 2}}]}}}],
          "should": [{"must_not": [{"key": "i", "match": {"except": []}}]}],
          "min_should": 1})";
  const Filter f = F(text);
  pb::Filter proto;
  ToProto(f, &proto);
  auto back = FromProto(proto);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(FilterToJson(*back), FilterToJson(f));
  for (FieldType t : {FieldType::kKeyword, FieldType::kInteger,
                      FieldType::kFloat, FieldType::kBool, FieldType::kText,
                      FieldType::kDatetime, FieldType::kGeo}) {
    EXPECT_EQ(*FieldTypeFromProto(FieldTypeToProto(t)), t);
  }
  EXPECT_FALSE(FieldTypeFromProto(pb::FIELD_TYPE_UNSPECIFIED).ok());
  // An empty filter is no filter.
  auto none = OptionalFilter(true, pb::Filter());
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, nullptr);
}

TEST(FilterConvert, WhatOnlyTheProtoCanGetWrongIsNamed) {
  auto err = [](const pb::Filter& f) {
    auto r = FromProto(f);
    EXPECT_FALSE(r.ok());
    return std::string(r.status().message());
  };
  pb::Filter f;
  f.add_must();
  EXPECT_EQ(err(f),
            "must[0]: empty condition (set field, is_empty, is_null, has_id, "
            "filter or nested)");
  f.Clear();
  f.add_should();
  f.add_should()->mutable_field()->set_key("a");
  EXPECT_EQ(err(f).substr(0, 9), "should[0]");
  f.Clear();
  f.add_must_not()->mutable_filter()->add_must()->mutable_field()->set_key("a");
  EXPECT_EQ(err(f),
            "must_not[0].must[0]: a field condition needs exactly one of "
            "match, range, datetime_range, geo_bounding_box, geo_radius, "
            "geo_polygon, values_count");
  f.Clear();
  pb::FieldCondition* fc = f.add_must()->mutable_field();
  fc->set_key("a");
  fc->mutable_match()->mutable_any()->add_keywords("x");
  fc->mutable_match()->mutable_any()->add_integers(1);
  EXPECT_EQ(err(f), "must[0].match.any: holds both keywords and integers");
  fc->mutable_match()->mutable_value();
  EXPECT_EQ(err(f),
            "must[0].match.value: expected a keyword, an integer or a bool");
}

class RpcFilterTest : public ::testing::Test {
 protected:
  RpcFilterTest() : server_(Options()) {
    grpc::ClientContext ctx;
    pb::CollectionInfo info;
    auto req = CreateReq("c", 8, pb::METRIC_IP);
    req.mutable_ivf()->set_nlist(16);
    EXPECT_TRUE(server_.collections().Create(&ctx, req, &info).ok());
    Upsert(2000, [](uint64_t id) {
      return nlohmann::json{{"color", id % 4 == 0 ? "red" : "blue"},
                            {"n", static_cast<int64_t>(id)}};
    });
    grpc::ClientContext tctx;
    pb::TrainCollectionRequest tr;
    tr.set_name("c");
    EXPECT_TRUE(server_.collections().Train(&tctx, tr, &info).ok());
  }

  ServerOptions Options() {
    ServerOptions o;
    o.log = [this](const std::string& line) {
      std::lock_guard<std::mutex> l(log_mu_);
      log_.push_back(line);
    };
    return o;
  }

  // Points 0 .. n - 1 of collection c with payload_of(id).
  void Upsert(uint64_t n,
              const std::function<nlohmann::json(uint64_t)>& payload_of) {
    pb::UpsertRequest up;
    up.set_collection("c");
    for (uint64_t id = 0; id < n; ++id) {
      pb::Point* p = up.add_points();
      p->set_id(id);
      const auto v = dbtest::VectorFor(id, 0, 8);
      p->mutable_vector()->Add(v.begin(), v.end());
      p->set_payload(payload_of(id).dump());
    }
    grpc::ClientContext ctx;
    pb::UpsertResponse ur;
    const grpc::Status s = server_.points().Upsert(&ctx, up, &ur);
    EXPECT_TRUE(s.ok()) << s.error_message();
  }

  // A payload index on `field` of collection c, built before it returns.
  pb::PayloadIndexInfo Index(const std::string& field, pb::FieldType type) {
    pb::CreateFieldIndexRequest ci;
    ci.set_collection("c");
    ci.set_field(field);
    ci.set_type(type);
    ci.set_wait(true);
    pb::PayloadIndexInfo pi;
    grpc::ClientContext ctx;
    const grpc::Status s =
        server_.collections().CreateFieldIndex(&ctx, ci, &pi);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return pi;
  }

  // Points of collection c matching `filter` (the gRPC form) in *n.
  grpc::Status CountOf(const pb::Filter& filter, uint64_t* n) {
    pb::CountRequest req;
    req.set_collection("c");
    *req.mutable_filter() = filter;
    pb::CountResponse resp;
    grpc::ClientContext ctx;
    const grpc::Status s = server_.points().Count(&ctx, req, &resp);
    *n = resp.count();
    return s;
  }
  uint64_t Count(const pb::Filter& filter) {
    uint64_t n = 0;
    const grpc::Status s = CountOf(filter, &n);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return n;
  }

  uint64_t Count(const std::string& filter) {
    pb::CountRequest req;
    req.set_collection("c");
    if (!filter.empty()) *req.mutable_filter() = P(filter);
    pb::CountResponse resp;
    grpc::ClientContext ctx;
    const grpc::Status s = server_.points().Count(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.count();
  }

  TestServer server_;
  std::mutex log_mu_;
  std::vector<std::string> log_;
};

const char kRed[] =
    R"({"must": [{"key": "color", "match": {"value": "red"}}]})";

TEST_F(RpcFilterTest, IndexesSearchCountAndTheLog) {
  // Unindexed first: answered from the payloads, reported and logged once.
  for (int i = 0; i < 3; ++i) {
    pb::CountRequest req;
    req.set_collection("c");
    *req.mutable_filter() = P(kRed);
    pb::CountResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(server_.points().Count(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.count(), 500u);
    ASSERT_EQ(resp.unindexed_fields_size(), 1);
    EXPECT_EQ(resp.unindexed_fields(0), "color");
  }
  {
    std::lock_guard<std::mutex> l(log_mu_);
    ASSERT_EQ(log_.size(), 1u);  // once a minute
    EXPECT_NE(log_[0].find("collection 'c': a count filter on field(s) "
                           "without a payload index (color)"),
              std::string::npos)
        << log_[0];
  }
  const pb::PayloadIndexInfo pi = Index("color", pb::FIELD_TYPE_KEYWORD);
  EXPECT_TRUE(pi.ready());
  EXPECT_EQ(pi.points(), 2000u);
  EXPECT_GT(pi.memory_bytes(), 0u);
  grpc::ClientContext gctx;
  pb::GetCollectionRequest gr;
  gr.set_name("c");
  pb::CollectionInfo info;
  ASSERT_TRUE(server_.collections().Get(&gctx, gr, &info).ok());
  ASSERT_EQ(info.payload_indexes_size(), 1);
  EXPECT_EQ(info.payload_indexes(0).type(), pb::FIELD_TYPE_KEYWORD);

  auto search = SearchReq("c", dbtest::VectorFor(3, 0, 8), 10);
  *search.mutable_filter() = P(kRed);
  search.set_with_payload(true);
  pb::SearchResponse sr;
  grpc::ClientContext sctx;
  ASSERT_TRUE(server_.points().Search(&sctx, search, &sr).ok());
  ASSERT_EQ(sr.points_size(), 10);
  for (const auto& p : sr.points()) {
    EXPECT_EQ(p.id() % 4, 0u);
    EXPECT_NE(p.payload().find("red"), std::string::npos);
  }
  EXPECT_EQ(sr.plan().matches(), 500u);
  EXPECT_TRUE(sr.plan().kind() == "filtered-ivf" ||
              sr.plan().kind() == "filtered-matches")
      << sr.plan().kind();
  EXPECT_EQ(sr.unindexed_fields_size(), 0);
  // A batch with the filter (one evaluation) and one without.
  pb::SearchBatchRequest br;
  br.set_collection("c");
  for (int i = 0; i < 4; ++i) *br.add_searches() = search;
  pb::SearchBatchResponse bresp;
  grpc::ClientContext bctx;
  ASSERT_TRUE(server_.points().SearchBatch(&bctx, br, &bresp).ok());
  for (const auto& r : bresp.results()) {
    EXPECT_EQ(r.points_size(), 10);
    EXPECT_EQ(r.plan().matches(), 500u);
  }
  br.mutable_searches(2)->clear_filter();
  grpc::ClientContext bctx2;
  ASSERT_TRUE(server_.points().SearchBatch(&bctx2, br, &bresp).ok());
  EXPECT_EQ(bresp.results(2).plan().kind(), "ivf");
  EXPECT_EQ(bresp.results(3).plan().matches(), 500u);
  EXPECT_EQ(Count(R"({"must": [{"key": "n", "range": {"lt": 10}}]})"), 10u);
}

TEST_F(RpcFilterTest, FacetCounts) {
  auto facet = [&](const std::string& key, const std::string& filter,
                   uint32_t limit, pb::FacetResponse* resp) {
    pb::FacetRequest req;
    req.set_collection("c");
    req.set_key(key);
    if (!filter.empty()) *req.mutable_filter() = P(filter);
    req.set_limit(limit);
    grpc::ClientContext ctx;
    return server_.points().Facet(&ctx, req, resp);
  };
  auto text = [](const pb::FacetResponse& r) {
    std::string out;
    for (const pb::FacetHit& h : r.hits()) {
      out += (h.has_keyword() ? h.keyword() : std::to_string(h.integer())) +
             ":" + std::to_string(h.count()) + " ";
    }
    return out;
  };
  pb::FacetResponse r;
  grpc::Status s = facet("color", "", 0, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(),
            "field 'color' has no payload index; facet counts need a "
            "keyword, integer or bool one: create one first");
  Index("color", pb::FIELD_TYPE_KEYWORD);
  Index("n", pb::FIELD_TYPE_INTEGER);
  ASSERT_TRUE(facet("color", "", 0, &r).ok());
  EXPECT_EQ(text(r), "blue:1500 red:500 ");
  r.Clear();
  ASSERT_TRUE(
      facet("color", R"({"must": [{"key": "n", "range": {"lt": 10}}]})", 0, &r)
          .ok());
  EXPECT_EQ(text(r), "blue:7 red:3 ");
  r.Clear();
  ASSERT_TRUE(facet("color", kRed, 1, &r).ok());
  EXPECT_EQ(text(r), "red:500 ");
  r.Clear();
  // Ties: ascending values; the limit cuts.
  ASSERT_TRUE(
      facet("n", R"({"must": [{"key": "n", "range": {"gte": 5}}]})", 3, &r)
          .ok());
  EXPECT_EQ(text(r), "5:1 6:1 7:1 ");

  EXPECT_EQ(facet("", "", 0, &r).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  s = facet("color", "", 100000, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "limit 100000 exceeds the maximum 10000");
  s = facet("color", R"({"must": [{"key": "n", "match": {"value": "x"}}]})", 0,
            &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << s.error_message();
  pb::FacetRequest req;
  req.set_collection("nope");
  req.set_key("color");
  grpc::ClientContext ctx;
  EXPECT_EQ(server_.points().Facet(&ctx, req, &r).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(RpcFilterTest, FullTextConditions) {
  const char kRedText[] =
      R"({"must": [{"key": "color", "match": {"text": "RED!"}}]})";
  const char kAnyText[] =
      R"({"must": [{"key": "color", "match": {"text_any": "red, blue"}}]})";
  // On the payloads, then through a text index: the same counts.
  EXPECT_EQ(Count(kRedText), 500u);
  EXPECT_EQ(Count(kAnyText), 2000u);
  const pb::PayloadIndexInfo info = Index("color", pb::FIELD_TYPE_TEXT);
  EXPECT_EQ(info.type(), pb::FIELD_TYPE_TEXT);
  EXPECT_EQ(info.points(), 2000u);
  EXPECT_EQ(Count(kRedText), 500u);
  EXPECT_EQ(Count(kAnyText), 2000u);
  EXPECT_EQ(
      Count(R"({"must": [{"key": "color", "match": {"text": "red blue"}}]})"),
      0u);
  // A search returns matches only.
  pb::SearchRequest sr;
  sr.set_collection("c");
  sr.set_limit(20);
  const auto q = dbtest::VectorFor(7, 0, 8);
  sr.mutable_vector()->Add(q.begin(), q.end());
  *sr.mutable_filter() = P(kRedText);
  pb::SearchResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(server_.points().Search(&ctx, sr, &resp).ok());
  ASSERT_EQ(resp.points_size(), 20);
  for (const pb::ScoredPoint& p : resp.points()) EXPECT_EQ(p.id() % 4, 0u);
  // Errors name the place.
  auto error_of = [&](const std::string& filter) {
    pb::CountRequest req;
    req.set_collection("c");
    *req.mutable_filter() = P(filter);
    pb::CountResponse r;
    grpc::ClientContext cctx;
    return server_.points().Count(&cctx, req, &r);
  };
  grpc::Status s =
      error_of(R"({"must": [{"key": "color", "match": {"value": "red"}}]})");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(),
            "must[0].match.value: field 'color' has a text index: a text "
            "index answers match text and text_any");
  s = error_of(R"({"must": [{"key": "n", "match": {"text": "..."}}]})");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(),
            "must[0].match.text: the text has no words (runs of letters or "
            "digits)");
}

TEST_F(RpcFilterTest, DatetimeRanges) {
  // Stamps: a day apart from 2024-01-01 (n = day), in UTC or at +02:00.
  Upsert(60, [](uint64_t id) {
    const int day = 1 + static_cast<int>(id % 30);
    return nlohmann::json{
        {"at", absl::StrFormat(id % 2 ? "2024-01-%02dT00:00:00Z"
                                      : "2024-01-%02dT02:00+02:00",
                               day)}};
  });
  // Days 10 to 19 (ids 9..18 and 39..48), on the payloads, then indexed;
  // the gRPC form (datetime_range) and the JSON one ("range" of strings).
  pb::Filter f;
  pb::FieldCondition* fc = f.add_must()->mutable_field();
  fc->set_key("at");
  fc->mutable_datetime_range()->set_gte("2024-01-10");
  fc->mutable_datetime_range()->set_lt("2024-01-20T01:00:00+01:00");
  const char kJson[] =
      R"({"must": [{"key": "at", "range": {"gte": "2024-01-10",
                                           "lt": "2024-01-20T00:00Z"}}]})";
  EXPECT_EQ(Count(f), 20u);
  EXPECT_EQ(Count(P(kJson)), 20u);
  EXPECT_EQ(Index("at", pb::FIELD_TYPE_DATETIME).points(), 60u);
  EXPECT_EQ(Count(f), 20u);
  EXPECT_EQ(Count(P(kJson)), 20u);
  fc->mutable_datetime_range()->set_gte("2024-01-32");
  uint64_t n;
  const grpc::Status s = CountOf(f, &n);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(),
            "must[0].datetime_range.gte: expected an RFC 3339 datetime "
            "(2024-03-01T12:00:00Z), got '2024-01-32'");
  // Ordered by the index, latest first, from a datetime (day 20: ids 19
  // and 49, then day 19); order values are microseconds since 1970.
  pb::ScrollRequest req;
  req.set_collection("c");
  req.set_limit(3);
  req.mutable_order_by()->set_key("at");
  req.mutable_order_by()->set_descending(true);
  req.mutable_order_by()->set_start_from_datetime("2024-01-20T01:00+01:00");
  pb::ScrollResponse r;
  grpc::ClientContext sctx;
  ASSERT_TRUE(server_.points().Scroll(&sctx, req, &r).ok());
  ASSERT_EQ(r.points_size(), 3);
  EXPECT_EQ(
      r.points(0).id() * 10000 + r.points(1).id() * 100 + r.points(2).id(),
      194918u);
  EXPECT_EQ(r.points(0).order_value(), 1705708800e6);  // 2024-01-20
  EXPECT_EQ(r.next_page_offset(), 48u);
  req.mutable_order_by()->set_start_from_datetime("yesterday");
  grpc::ClientContext bctx;
  EXPECT_EQ(server_.points().Scroll(&bctx, req, &r).error_message(),
            "order_by.start_from_datetime: 'yesterday' is not an RFC 3339 "
            "datetime (2024-03-01T12:00:00Z)");
}

TEST_F(RpcFilterTest, GeoConditionsAndValuesCount) {
  // Points on the equator 0.01 degrees (1,112 m) apart eastwards from lon
  // 0, the odd ones with a second point at lat 10; "tags": id % 3 values.
  Upsert(60, [](uint64_t id) {
    nlohmann::json at = {{"lon", 0.01 * static_cast<double>(id)}, {"lat", 0}};
    nlohmann::json p = {{"loc", at}, {"tags", nlohmann::json::array()}};
    if (id % 2) p["loc"] = {at, {{"lon", 0}, {"lat", 10}}};
    for (uint64_t i = 0; i < id % 3; ++i) p["tags"].push_back(i);
    return p;
  });
  pb::Filter radius;  // the gRPC form: within 5 km of (0, 0): ids 0..4
  pb::FieldCondition* fc = radius.add_must()->mutable_field();
  fc->set_key("loc");
  fc->mutable_geo_radius()->mutable_center()->set_lon(0);
  fc->mutable_geo_radius()->set_radius(5000);
  const char kBox[] =  // ids 10..19 (not the odd ones' (0, 10): lon 0)
      R"({"must": [{"key": "loc", "geo_bounding_box": {
            "top_left": {"lon": 0.095, "lat": 11},
            "bottom_right": {"lon": 0.195, "lat": -1}}}]})";
  const char kPolygon[] =  // lat 10 (the odd ids) but not ids 10..59's own
      R"({"must": [{"key": "loc", "geo_polygon": {"exterior": {"points": [
            {"lon": -1, "lat": -1}, {"lon": 1, "lat": -1}, {"lon": 1, "lat": 11},
            {"lon": -1, "lat": 11}, {"lon": -1, "lat": -1}]}, "interiors": [
            {"points": [{"lon": 0.095, "lat": -0.5}, {"lon": 2, "lat": -0.5},
            {"lon": 2, "lat": 0.5}, {"lon": 0.095, "lat": 0.5},
            {"lon": 0.095, "lat": -0.5}]}]}}]})";
  const char kTwoTags[] =
      R"({"must": [{"key": "tags", "values_count": {"gte": 2}}]})";
  for (int indexed = 0; indexed < 2; ++indexed) {
    EXPECT_EQ(Count(radius), 5u) << indexed;
    EXPECT_EQ(Count(P(kBox)), 10u) << indexed;
    EXPECT_EQ(Count(P(kPolygon)), 10u + 25u) << indexed;
    EXPECT_EQ(Count(P(kTwoTags)), 20u) << indexed;
    if (!indexed) {
      EXPECT_EQ(Index("loc", pb::FIELD_TYPE_GEO).points(), 60u);
    }
  }
  // A ring that is not closed, placed.
  pb::Filter bad = P(kPolygon);
  bad.mutable_must(0)
      ->mutable_field()
      ->mutable_geo_polygon()
      ->mutable_exterior()
      ->mutable_points(4)
      ->set_lon(-0.5);
  uint64_t n;
  const grpc::Status s = CountOf(bad, &n);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(),
            "must[0].geo_polygon.exterior: the first and the last points must "
            "be the same (a closed ring)");
}

TEST_F(RpcFilterTest, OrderedScroll) {
  auto scroll = [&](const std::string& filter, bool descending,
                    std::optional<double> start_from,
                    std::optional<uint64_t> offset, pb::ScrollResponse* resp) {
    pb::ScrollRequest req;
    req.set_collection("c");
    req.set_limit(3);
    if (!filter.empty()) *req.mutable_filter() = P(filter);
    req.mutable_order_by()->set_key("n");
    req.mutable_order_by()->set_descending(descending);
    if (start_from) req.mutable_order_by()->set_start_from(*start_from);
    if (offset) req.set_offset(*offset);
    grpc::ClientContext ctx;
    return server_.points().Scroll(&ctx, req, resp);
  };
  auto text = [](const pb::ScrollResponse& r) {
    std::string out;
    for (const pb::ScoredPoint& p : r.points()) {
      out += std::to_string(p.id()) + "@" +
             std::to_string(static_cast<int>(p.order_value())) + " ";
    }
    if (r.has_next_page_offset()) {
      out += "next " + std::to_string(r.next_page_offset()) + "@" +
             std::to_string(static_cast<int>(r.next_order_value()));
    }
    return out;
  };
  pb::ScrollResponse r;
  grpc::Status s = scroll("", true, std::nullopt, std::nullopt, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(),
            "field 'n' has no payload index; order_by needs an integer, "
            "float or datetime one: create one first");
  Index("n", pb::FIELD_TYPE_INTEGER);
  ASSERT_TRUE(scroll("", true, std::nullopt, std::nullopt, &r).ok());
  EXPECT_EQ(text(r), "1999@1999 1998@1998 1997@1997 next 1996@1996");
  r.Clear();
  // The red points (id % 4 == 0, read from the payloads) from n = 10, then
  // from the first page's cursor.
  ASSERT_TRUE(scroll(kRed, false, 10, std::nullopt, &r).ok());
  EXPECT_EQ(text(r), "12@12 16@16 20@20 next 24@24");
  EXPECT_EQ(r.unindexed_fields_size(), 1);
  const double from = r.next_order_value();
  const uint64_t offset = r.next_page_offset();
  r.Clear();
  ASSERT_TRUE(scroll(kRed, false, from, offset, &r).ok());
  EXPECT_EQ(text(r), "24@24 28@28 32@32 next 36@36");
  // The id order has no order values.
  pb::ScrollRequest plain;
  plain.set_collection("c");
  plain.set_limit(1);
  grpc::ClientContext pctx;
  ASSERT_TRUE(server_.points().Scroll(&pctx, plain, &r).ok());
  EXPECT_FALSE(r.points(0).has_order_value());
  EXPECT_FALSE(r.has_next_order_value());

  s = scroll("", false, std::nullopt, 5, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(),
            "offset with order_by needs order_by.start_from (a page's "
            "next_order_value and next_page_offset start the next)");
  pb::ScrollRequest no_key;
  no_key.set_collection("c");
  no_key.mutable_order_by()->set_descending(true);
  grpc::ClientContext kctx;
  EXPECT_EQ(server_.points().Scroll(&kctx, no_key, &r).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(RpcFilterTest, BadFiltersAreInvalidArgumentAndWriteNothing) {
  Index("n", pb::FIELD_TYPE_INTEGER);
  auto expect = [](const grpc::Status& s, const std::string& message) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(s.error_message(), message);
  };
  // Search: the index's type.
  auto search = SearchReq("c", dbtest::VectorFor(3, 0, 8), 10);
  *search.mutable_filter() =
      P(R"({"must": [{"key": "color", "match": {"value": "red"}},
                     {"key": "n", "match": {"value": "7"}}]})");
  pb::SearchResponse sr;
  grpc::ClientContext sctx;
  expect(server_.points().Search(&sctx, search, &sr),
         "must[1].match.value: field 'n' has an integer index: expected an "
         "integer");
  // Delete by a bad filter: nothing deleted.
  pb::DeletePointsRequest del;
  del.set_collection("c");
  *del.mutable_filter() = P(R"({"must": [{"key": "n", "range": {}}]})");
  pb::DeletePointsResponse dr;
  grpc::ClientContext dctx;
  expect(server_.points().Delete(&dctx, del, &dr),
         "must[0].range: needs at least one of gt, gte, lt, lte");
  del.add_ids(1);
  grpc::ClientContext dctx2;
  expect(server_.points().Delete(&dctx2, del, &dr),
         "delete by ids or by a filter, not both");
  // A payload update with a malformed key: nothing written.
  pb::SetPayloadRequest sp;
  sp.set_collection("c");
  sp.set_payload(R"({"color": "green"})");
  *sp.mutable_filter() =
      P(R"({"must": [{"key": "a..b", "match": {"value": 1}}]})");
  pb::PayloadUpdateResponse ur;
  grpc::ClientContext pctx;
  expect(server_.points().SetPayload(&pctx, sp, &ur),
         "must[0].key: malformed path 'a..b': empty key at byte 3");
  EXPECT_EQ(Count(""), 2000u);
  EXPECT_EQ(
      Count(R"({"must": [{"key": "color", "match": {"value": "green"}}]})"),
      0u);
  // Nested too deep: the proto converts, the database refuses.
  pb::Filter deep;
  pb::Filter* at = &deep;
  for (int i = 0; i < 20; ++i) at = at->add_must()->mutable_filter();
  at->add_must()->mutable_has_id()->add_has_id(1);
  pb::CountRequest cr;
  cr.set_collection("c");
  *cr.mutable_filter() = deep;
  pb::CountResponse cresp;
  grpc::ClientContext cctx;
  const grpc::Status cs = server_.points().Count(&cctx, cr, &cresp);
  EXPECT_EQ(cs.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(cs.error_message().find("filter nested deeper than 16"),
            std::string::npos);
  // Still serving.
  EXPECT_EQ(Count(R"({"must": [{"key": "n", "range": {"gte": 1990}}]})"), 10u);
}

TEST_F(RpcFilterTest, ScrollPayloadUpdatesAndDeleteByFilter) {
  // Scroll every red point, 7 a page.
  std::set<uint64_t> seen;
  pb::ScrollRequest sc;
  sc.set_collection("c");
  *sc.mutable_filter() = P(kRed);
  sc.set_limit(7);
  sc.set_with_payload(true);
  for (;;) {
    pb::ScrollResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(server_.points().Scroll(&ctx, sc, &resp).ok());
    for (const auto& p : resp.points()) {
      EXPECT_TRUE(seen.insert(p.id()).second);
      EXPECT_EQ(p.id() % 4, 0u);
      EXPECT_FALSE(p.payload().empty());
    }
    if (!resp.has_next_page_offset()) break;
    EXPECT_EQ(resp.points_size(), 7);
    sc.set_offset(resp.next_page_offset());
  }
  EXPECT_EQ(seen.size(), 500u);
  // Without a filter: every point, in id order.
  sc.clear_filter();
  sc.clear_offset();
  sc.set_limit(1500);
  pb::ScrollResponse all;
  grpc::ClientContext actx;
  ASSERT_TRUE(server_.points().Scroll(&actx, sc, &all).ok());
  ASSERT_EQ(all.points_size(), 1500);
  EXPECT_EQ(all.points(1499).id(), 1499u);
  EXPECT_EQ(all.next_page_offset(), 1500u);
  // Set a key on the red points, overwrite one, delete a key.
  pb::SetPayloadRequest sp;
  sp.set_collection("c");
  sp.set_payload(R"({"color": "green"})");
  *sp.mutable_filter() = P(kRed);
  pb::PayloadUpdateResponse ur;
  grpc::ClientContext pctx;
  ASSERT_TRUE(server_.points().SetPayload(&pctx, sp, &ur).ok());
  EXPECT_EQ(ur.updated(), 500u);
  EXPECT_EQ(Count(kRed), 0u);
  pb::SetPayloadRequest ow;
  ow.set_collection("c");
  ow.set_payload(R"({"color": "red"})");
  ow.add_ids(1);
  ow.add_ids(5);
  grpc::ClientContext octx;
  ASSERT_TRUE(server_.points().OverwritePayload(&octx, ow, &ur).ok());
  EXPECT_EQ(ur.updated(), 2u);
  EXPECT_EQ(Count(kRed), 2u);
  pb::DeletePayloadKeysRequest dk;
  dk.set_collection("c");
  dk.add_keys("color");
  dk.add_ids(5);
  grpc::ClientContext kctx;
  ASSERT_TRUE(server_.points().DeletePayloadKeys(&kctx, dk, &ur).ok());
  EXPECT_EQ(ur.updated(), 1u);
  EXPECT_EQ(Count(kRed), 1u);
  // Delete by filter.
  pb::DeletePointsRequest del;
  del.set_collection("c");
  *del.mutable_filter() =
      P(R"({"must": [{"key": "color", "match": {"value": "green"}}]})");
  pb::DeletePointsResponse dr;
  grpc::ClientContext dctx;
  ASSERT_TRUE(server_.points().Delete(&dctx, del, &dr).ok());
  EXPECT_EQ(dr.deleted(), 500u);
  EXPECT_EQ(Count(""), 1500u);
}

}  // namespace
}  // namespace tqdb
