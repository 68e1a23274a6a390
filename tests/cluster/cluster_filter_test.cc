// Filters through a cluster (real tqdb nodes, etcd, NATS): a filtered exact
// search, count, facet counts and scroll (by id and ordered by a field) over
// the shards equal one database's over the same points; a filter's delete,
// payload updates and field indexes go through the log to every shard and
// report what one database reports; bad filters are named before anything
// enters the log; payload selectors apply once; a snapshot of the cluster
// holds what one database holds; an alias names the collection on every node.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "db/db.h"
#include "db/filter.h"
#include "db/payload_select.h"
#include "gtest/gtest.h"
#include "rpc/convert.h"
#include "rpc/filter_convert.h"
#include "tests/cluster/cluster_test_util.h"
#include "tests/cluster/read_after.h"
#include "tests/cluster/tqdb_cluster.h"
#include "tests/test_util.h"
#include "tqdb/v1/collections.grpc.pb.h"
#include "tqdb/v1/points.grpc.pb.h"
#include "tqdb/v1/snapshots.grpc.pb.h"

namespace tqdb {
namespace {

using testing_util::Merge;
using testing_util::ReadAfter;
using testing_util::TempDir;

using ClusterFilterTest = testing_util::TqdbClusterTest;

TEST_F(ClusterFilterTest, FiltersAnswerAsASingleDatabase) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  constexpr uint32_t kDim = 8;
  constexpr uint64_t kPoints = 3000;
  ASSERT_NO_FATAL_FAILURE(Create("docs", kDim, v1::METRIC_L2, 6));
  const std::vector<float> x =
      testing_util::RandomUnitVectors(kPoints, kDim, 5);
  auto payload = [](uint64_t id) {
    return absl::StrCat(
        "{\"tenant\":\"t", id % 7, "\",\"n\":", id % 100, ",\"tags\":[\"a",
        id % 3, "\"],\"loc\":{\"lon\":", 0.01 * static_cast<double>(id % 50),
        ",\"lat\":", 0.01 * static_cast<double>(id / 50), "}}");
  };
  // The reference: one database in process, the same points and index.
  TempDir single;
  auto db = Database::Open(single.path(), DatabaseOptions());
  ASSERT_TRUE(db.ok()) << db.status();
  CollectionConfig cfg;
  cfg.name = "docs";
  cfg.dim = kDim;
  cfg.metric = Metric::kL2;
  ASSERT_TRUE((*db)->CreateCollection(cfg).ok());
  auto coll = *(*db)->GetCollection("docs");
  std::map<uint32_t, uint64_t> written;
  {
    std::vector<Point> pts;
    v1::UpsertRequest req;
    req.set_collection("docs");
    for (uint64_t id = 0; id < kPoints; ++id) {
      pts.push_back({id,
                     std::vector<float>(x.begin() + id * kDim,
                                        x.begin() + (id + 1) * kDim),
                     payload(id)});
      v1::Point* p = req.add_points();
      p->set_id(id);
      p->mutable_vector()->Add(x.begin() + id * kDim,
                               x.begin() + (id + 1) * kDim);
      p->set_payload(payload(id));
    }
    ASSERT_TRUE(coll->Upsert(pts, false).ok());
    grpc::ClientContext ctx;
    v1::UpsertResponse resp;
    grpc::Status s = cluster_->Points(0)->Upsert(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    Merge(resp.sequences(), &written);
  }
  // A payload index made through `node`, through the log to every shard
  // (wait: ready on all).
  auto create_index = [&](int node, const std::string& field,
                          v1::FieldType type, v1::PayloadIndexInfo* info) {
    v1::CreateFieldIndexRequest req;
    req.set_collection("docs");
    req.set_field(field);
    req.set_type(type);
    req.set_wait(true);
    grpc::ClientContext ctx;
    return cluster_->Collections(node)->CreateFieldIndex(&ctx, req, info);
  };
  // An index on tenant.
  ASSERT_TRUE(coll->CreateFieldIndex("tenant", FieldType::kKeyword, true).ok());
  {
    v1::PayloadIndexInfo info;
    grpc::Status s = create_index(1, "tenant", v1::FIELD_TYPE_KEYWORD, &info);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_TRUE(info.ready());
    EXPECT_EQ(info.points(), kPoints);
    // Another type: as one database.
    s = create_index(2, "tenant", v1::FIELD_TYPE_INTEGER, &info);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS)
        << s.error_message();
  }
  // tenant t3 (indexed) and n < 50 (evaluated on the payloads).
  v1::Filter filter;
  {
    v1::Condition* c = filter.add_must();
    c->mutable_field()->set_key("tenant");
    c->mutable_field()->mutable_match()->mutable_value()->set_keyword("t3");
    v1::Condition* r = filter.add_must();
    r->mutable_field()->set_key("n");
    r->mutable_field()->mutable_range()->set_lt(50);
  }
  auto converted = FromProto(filter);
  ASSERT_TRUE(converted.ok()) << converted.status();
  const auto f = std::make_shared<const Filter>(*converted);

  auto count = [&](const v1::Filter* which, int node) -> v1::CountResponse {
    v1::CountRequest req;
    req.set_collection("docs");
    if (which != nullptr) *req.mutable_filter() = *which;
    ReadAfter(written, &req);
    grpc::ClientContext ctx;
    v1::CountResponse resp;
    grpc::Status s = cluster_->Points(node)->Count(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  };
  {
    auto want = coll->Count(*f);
    ASSERT_TRUE(want.ok()) << want.status();
    ASSERT_GT(want->count, 0u);
    const v1::CountResponse got = count(&filter, 1);
    EXPECT_EQ(got.count(), want->count);
    ASSERT_EQ(got.unindexed_fields_size(), 1);
    EXPECT_EQ(got.unindexed_fields(0), "n");
    EXPECT_EQ(count(nullptr, 2).count(), kPoints);
  }
  // Facet counts through the cluster: one database's (tenants hold 428 or
  // 429 points, spread over every shard: the cut needs complete counts).
  for (const bool filtered : {false, true}) {
    v1::FacetRequest req;
    req.set_collection("docs");
    req.set_key("tenant");
    req.set_limit(4);
    if (filtered) *req.mutable_filter() = filter;
    ReadAfter(written, &req);
    grpc::ClientContext ctx;
    v1::FacetResponse got;
    grpc::Status s = cluster_->Points(2)->Facet(&ctx, req, &got);
    ASSERT_TRUE(s.ok()) << s.error_message();
    FacetOptions o;
    o.key = "tenant";
    o.limit = 4;
    if (filtered) o.filter = f;
    auto want = coll->Facet(o);
    ASSERT_TRUE(want.ok()) << want.status();
    ASSERT_EQ(got.hits_size(), static_cast<int>(want->hits.size()));
    for (int i = 0; i < got.hits_size(); ++i) {
      EXPECT_EQ(got.hits(i).keyword(), want->hits[i].keyword) << i;
      EXPECT_EQ(got.hits(i).count(), want->hits[i].count) << i;
    }
    EXPECT_EQ(got.unindexed_fields_size(), filtered ? 1 : 0);
    // A field without an index: every replica's answer, the caller's.
    req.set_key("n");
    grpc::ClientContext ctx2;
    s = cluster_->Points(0)->Facet(&ctx2, req, &got);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
        << s.error_message();
  }
  // An index of `type` on `field` made through node `via` and the log; a
  // count of `filter` through the next node as one database's with the same
  // index (*counted), then the index dropped on both (the snapshot below
  // holds the tenant index alone).
  auto indexed_count = [&](const std::string& field, FieldType type,
                           v1::FieldType proto_type, const v1::Filter& filter,
                           int via, uint64_t* counted) {
    ASSERT_TRUE(coll->CreateFieldIndex(field, type, true).ok());
    v1::PayloadIndexInfo info;
    grpc::Status s = create_index(via, field, proto_type, &info);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(info.type(), proto_type);
    *counted = coll->Count(*FromProto(filter))->count;
    const v1::CountResponse got = count(&filter, (via + 1) % 3);
    EXPECT_EQ(got.count(), *counted);
    EXPECT_EQ(got.unindexed_fields_size(), 0);
    ASSERT_TRUE(coll->DeleteFieldIndex(field).ok());
    v1::DeleteFieldIndexRequest drop;
    drop.set_collection("docs");
    drop.set_field(field);
    grpc::ClientContext ctx;
    v1::DeleteFieldIndexResponse dropped;
    s = cluster_->Collections((via + 2) % 3)
            ->DeleteFieldIndex(&ctx, drop, &dropped);
    ASSERT_TRUE(s.ok()) << s.error_message();
  };
  // A full-text count and a geo radius count.
  {
    v1::Filter text;
    v1::FieldCondition* fc = text.add_must()->mutable_field();
    fc->set_key("tags");
    fc->mutable_match()->set_text_any("A1, a2");
    uint64_t counted = 0;
    ASSERT_NO_FATAL_FAILURE(indexed_count(
        "tags", FieldType::kText, v1::FIELD_TYPE_TEXT, text, 0, &counted));
    EXPECT_EQ(counted, 2000u);
    v1::Filter geo;
    fc = geo.add_must()->mutable_field();
    fc->set_key("loc");
    fc->mutable_geo_radius()->mutable_center()->set_lon(0.2);
    fc->mutable_geo_radius()->mutable_center()->set_lat(0.3);
    fc->mutable_geo_radius()->set_radius(5000);
    ASSERT_NO_FATAL_FAILURE(indexed_count(
        "loc", FieldType::kGeo, v1::FIELD_TYPE_GEO, geo, 1, &counted));
    EXPECT_GT(counted, 50u);
  }
  // Payload selectors apply once, whichever node or shard answers.
  v1::PayloadSelector selected;
  for (const char* path : {"tenant", "loc.lat"}) selected.add_include(path);
  selected.add_exclude("loc");
  auto selector = PayloadSelector::Make({"tenant", "loc.lat"}, {"loc"});
  ASSERT_TRUE(selector.ok()) << selector.status();
  // Filtered exact search, 100 queries.
  {
    v1::SearchBatchRequest req;
    req.set_collection("docs");
    ReadAfter(written, &req);
    for (int q = 0; q < 100; ++q) {
      v1::SearchRequest* s = req.add_searches();
      s->mutable_vector()->Add(x.begin() + q * kDim,
                               x.begin() + (q + 1) * kDim);
      s->set_limit(10);
      s->mutable_params()->set_exact(true);
      *s->mutable_filter() = filter;
      if (q % 2 == 1) {
        s->set_with_payload(true);
        *s->mutable_payload_selector() = selected;
      }
    }
    grpc::ClientContext ctx;
    v1::SearchBatchResponse resp;
    grpc::Status s = cluster_->Points(2)->SearchBatch(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(resp.results_size(), 100);
    QueryOptions o;
    o.k = 10;
    o.exact = true;
    o.filter = f;
    for (int q = 0; q < 100; ++q) {
      auto want =
          coll->Search(absl::MakeConstSpan(x.data() + q * kDim, kDim), o);
      ASSERT_TRUE(want.ok()) << want.status();
      const v1::SearchResponse& got = resp.results(q);
      ASSERT_EQ(got.points_size(), static_cast<int>(want->size()));
      for (size_t r = 0; r < want->size(); ++r) {
        EXPECT_EQ(got.points(r).id(), (*want)[r].id) << "query " << q;
        EXPECT_NEAR(got.points(r).score(), (*want)[r].score, 1e-5f);
        EXPECT_EQ(got.points(r).payload(),
                  q % 2 == 1 ? selector->Apply(payload((*want)[r].id)) : "");
      }
      EXPECT_EQ(got.plan().matches(), coll->Count(*f)->count);
    }
  }
  // Search groups through the cluster: those of one database's whole exact
  // ranking (the first `limit` values met, the first group_size hits each),
  // by tenant (strings) and, within the filter, by n (integers).
  for (const bool by_tenant : {true, false}) {
    const uint32_t limit = by_tenant ? 3 : 5, size = by_tenant ? 4 : 3;
    v1::SearchRequest req;
    req.set_collection("docs");
    ReadAfter(written, &req);
    req.mutable_vector()->Add(x.begin() + 7 * kDim, x.begin() + 8 * kDim);
    req.set_limit(limit);
    req.set_group_by(by_tenant ? "tenant" : "n");
    req.set_group_size(size);
    req.mutable_params()->set_exact(true);
    if (!by_tenant) *req.mutable_filter() = filter;
    grpc::ClientContext ctx;
    v1::SearchResponse got;
    grpc::Status s = cluster_->Points(1)->Search(&ctx, req, &got);
    ASSERT_TRUE(s.ok()) << s.error_message();
    QueryOptions o;
    o.k = kPoints;
    o.exact = true;
    if (!by_tenant) o.filter = f;
    auto ranked =
        coll->Search(absl::MakeConstSpan(x.data() + 7 * kDim, kDim), o);
    ASSERT_TRUE(ranked.ok()) << ranked.status();
    std::vector<uint64_t> ids;
    for (const Neighbor& h : *ranked) ids.push_back(h.id);
    const auto want =
        testing_util::GroupsOfRanking(ids, limit, size, [&](uint64_t id) {
          return std::vector<std::string>{by_tenant ? absl::StrCat("t", id % 7)
                                                    : absl::StrCat(id % 100)};
        });
    ASSERT_EQ(got.groups_size(), static_cast<int>(want.size()));
    for (size_t g = 0; g < want.size(); ++g) {
      const v1::PointGroup& pg = got.groups(static_cast<int>(g));
      EXPECT_EQ(by_tenant ? pg.keyword() : absl::StrCat(pg.integer()),
                want[g].first);
      ASSERT_EQ(pg.hits_size(), static_cast<int>(want[g].second.size()));
      for (int h = 0; h < pg.hits_size(); ++h) {
        EXPECT_EQ(pg.hits(h).id(), want[g].second[h])
            << "group " << g << " hit " << h;
      }
    }
  }
  // Scroll, every page of 37, as one database pages it.
  {
    ScrollOptions so;
    so.filter = f;
    so.limit = 37;
    so.with_payload = true;
    std::optional<uint64_t> offset;
    int pages = 0;
    for (;;) {
      so.offset = offset.value_or(0);
      auto want = coll->Scroll(so);
      ASSERT_TRUE(want.ok()) << want.status();
      v1::ScrollRequest req;
      req.set_collection("docs");
      *req.mutable_filter() = filter;
      req.set_limit(37);
      req.set_with_payload(true);
      if (pages % 2 == 1) *req.mutable_payload_selector() = selected;
      if (offset) req.set_offset(*offset);
      ReadAfter(written, &req);
      grpc::ClientContext ctx;
      v1::ScrollResponse got;
      grpc::Status s = cluster_->Points(pages % 3)->Scroll(&ctx, req, &got);
      ASSERT_TRUE(s.ok()) << s.error_message();
      ASSERT_EQ(got.points_size(), static_cast<int>(want->points.size()));
      for (size_t i = 0; i < want->points.size(); ++i) {
        EXPECT_EQ(got.points(i).id(), want->points[i].id);
        EXPECT_EQ(got.points(i).payload(),
                  pages % 2 == 1 ? selector->Apply(want->points[i].payload)
                                 : want->points[i].payload);
      }
      ASSERT_EQ(got.has_next_page_offset(), want->has_next);
      ++pages;
      if (!want->has_next) break;
      EXPECT_EQ(got.next_page_offset(), want->next_offset);
      offset = want->next_offset;
    }
    EXPECT_GT(pages, 1);
  }
  // Writes by filter: the points changed, as one database counts them.
  v1::Filter t1;
  {
    v1::Condition* c = t1.add_must();
    c->mutable_field()->set_key("tenant");
    c->mutable_field()->mutable_match()->mutable_value()->set_keyword("t1");
  }
  PointSelector t1_sel;
  t1_sel.filter = std::make_shared<const Filter>(*FromProto(t1));
  {
    auto want = coll->SetPayload(t1_sel, "{\"flag\":true}", false);
    ASSERT_TRUE(want.ok()) << want.status();
    v1::SetPayloadRequest req;
    req.set_collection("docs");
    req.set_payload("{\"flag\":true}");
    *req.mutable_filter() = t1;
    grpc::ClientContext ctx;
    v1::PayloadUpdateResponse resp;
    grpc::Status s = cluster_->Points(0)->SetPayload(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.updated(), *want);
    Merge(resp.sequences(), &written);
  }
  {
    auto want = coll->DeletePayloadKeys(PointSelector{{1, 8, 2999, 5000}, {}},
                                        {"n"}, false);
    ASSERT_TRUE(want.ok()) << want.status();
    v1::DeletePayloadKeysRequest req;
    req.set_collection("docs");
    req.add_keys("n");
    for (uint64_t id : {1, 8, 2999, 5000}) req.add_ids(id);
    grpc::ClientContext ctx;
    v1::PayloadUpdateResponse resp;
    grpc::Status s = cluster_->Points(1)->DeletePayloadKeys(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.updated(), *want);
    Merge(resp.sequences(), &written);
  }
  {
    v1::Filter t2;
    v1::Condition* c = t2.add_must();
    c->mutable_field()->set_key("tenant");
    c->mutable_field()->mutable_match()->mutable_value()->set_keyword("t2");
    PointSelector sel;
    sel.filter = std::make_shared<const Filter>(*FromProto(t2));
    auto want = coll->DeletePoints(sel, false);
    ASSERT_TRUE(want.ok()) << want.status();
    ASSERT_GT(*want, 0u);
    v1::DeletePointsRequest req;
    req.set_collection("docs");
    *req.mutable_filter() = t2;
    grpc::ClientContext ctx;
    v1::DeletePointsResponse resp;
    grpc::Status s = cluster_->Points(2)->Delete(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.deleted(), *want);
    Merge(resp.sequences(), &written);
  }
  // After the writes: every point's payload as one database has it.
  EXPECT_EQ(count(nullptr, 0).count(), coll->Count());
  {
    v1::Filter flagged;
    v1::Condition* c = flagged.add_must();
    c->mutable_field()->set_key("flag");
    c->mutable_field()->mutable_match()->mutable_value()->set_boolean(true);
    EXPECT_EQ(count(&flagged, 1).count(),
              coll->Count(*FromProto(flagged))->count);
    v1::GetPointsRequest req;
    req.set_collection("docs");
    for (uint64_t id = 0; id < kPoints; ++id) req.add_ids(id);
    req.set_with_payload(true);
    ReadAfter(written, &req);
    std::vector<uint64_t> ids(kPoints);
    for (uint64_t id = 0; id < kPoints; ++id) ids[id] = id;
    auto want = coll->Get(ids, false, true);
    ASSERT_TRUE(want.ok());
    for (const bool select : {false, true}) {  // (the node applies it)
      if (select) *req.mutable_payload_selector() = selected;
      grpc::ClientContext ctx;
      v1::GetPointsResponse got;
      grpc::Status s = cluster_->Points(select ? 0 : 2)->Get(&ctx, req, &got);
      ASSERT_TRUE(s.ok()) << s.error_message();
      ASSERT_EQ(got.points_size(), static_cast<int>(want->size()));
      for (size_t i = 0; i < want->size(); ++i) {
        const std::string& p = (*want)[i].payload;
        EXPECT_EQ(got.points(i).payload(), select ? selector->Apply(p) : p)
            << "id " << (*want)[i].id;
      }
    }
  }
  // Ordered by n (an integer index made now, through the log), largest
  // first: every page through the cluster is one database's page, cursor
  // included (ties of n span the shards).
  ASSERT_TRUE(coll->CreateFieldIndex("n", FieldType::kInteger, true).ok());
  {
    v1::PayloadIndexInfo info;
    grpc::Status s = create_index(0, "n", v1::FIELD_TYPE_INTEGER, &info);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  {
    ScrollOptions so;
    so.limit = 250;
    so.with_payload = false;
    so.order_by = OrderBy{"n", true, std::nullopt};
    int pages = 0;
    for (;;) {
      auto want = coll->Scroll(so);
      ASSERT_TRUE(want.ok()) << want.status();
      v1::ScrollRequest req;
      req.set_collection("docs");
      ToProto(so, &req);
      ReadAfter(written, &req);
      grpc::ClientContext ctx;
      v1::ScrollResponse got;
      grpc::Status s = cluster_->Points(pages % 3)->Scroll(&ctx, req, &got);
      ASSERT_TRUE(s.ok()) << s.error_message();
      ASSERT_EQ(got.points_size(), static_cast<int>(want->points.size()));
      for (size_t i = 0; i < want->points.size(); ++i) {
        EXPECT_EQ(got.points(i).id(), want->points[i].id) << i;
        EXPECT_EQ(got.points(i).order_value(), want->points[i].order_value);
      }
      ASSERT_EQ(got.has_next_page_offset(), want->has_next);
      ++pages;
      if (!want->has_next) break;
      EXPECT_EQ(got.next_page_offset(), want->next_offset);
      EXPECT_EQ(got.next_order_value(), want->next_order_value);
      so.offset = want->next_offset;
      so.order_by->start_from = want->next_order_value;
    }
    EXPECT_GT(pages, 5);
    // Dropped again (the snapshot below holds the tenant index alone).
    ASSERT_TRUE(coll->DeleteFieldIndex("n").ok());
    v1::DeleteFieldIndexRequest drop;
    drop.set_collection("docs");
    drop.set_field("n");
    grpc::ClientContext ctx;
    v1::DeleteFieldIndexResponse dropped;
    grpc::Status s =
        cluster_->Collections(2)->DeleteFieldIndex(&ctx, drop, &dropped);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  // Bad requests: named, and nothing enters the log.
  {
    v1::CountRequest req;
    req.set_collection("docs");
    req.mutable_filter()->add_must()->mutable_field()->set_key("n");
    grpc::ClientContext ctx;
    v1::CountResponse resp;
    grpc::Status s = cluster_->Points(0)->Count(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("must[0]"), std::string::npos)
        << s.error_message();
    v1::SetPayloadRequest set;
    set.set_collection("docs");
    set.set_payload("[1]");
    set.add_ids(1);
    grpc::ClientContext ctx2;
    v1::PayloadUpdateResponse resp2;
    s = cluster_->Points(0)->SetPayload(&ctx2, set, &resp2);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  // An alias made through node 1 names the collection on every node:
  // counted through node 2, moved away and back, refused as a collection
  // name; the drop at the end of this test deletes it.
  {
    auto update = [&](int node, std::vector<v1::AliasOperation> ops) {
      v1::UpdateAliasesRequest r;
      for (auto& op : ops) *r.add_actions() = std::move(op);
      grpc::ClientContext ctx;
      v1::UpdateAliasesResponse resp;
      return cluster_->Collections(node)->UpdateAliases(&ctx, r, &resp);
    };
    v1::AliasOperation create;
    create.mutable_create_alias()->set_alias("current");
    create.mutable_create_alias()->set_collection("docs");
    grpc::Status s = update(0, {create});
    ASSERT_TRUE(s.ok()) << s.error_message();
    v1::CountRequest req;
    req.set_collection("current");
    ReadAfter(written, &req);
    v1::CountResponse n;
    testing_util::Eventually(absl::Seconds(10), [&] {
      grpc::ClientContext ctx;
      return cluster_->Points(1)->Count(&ctx, req, &n).ok();
    });
    EXPECT_EQ(n.count(), coll->Count());
    grpc::ClientContext ctx2;
    v1::ListAliasesResponse list;
    ASSERT_TRUE(cluster_->Collections(0)
                    ->ListAliases(&ctx2, v1::ListAliasesRequest(), &list)
                    .ok());
    ASSERT_EQ(list.aliases_size(), 1);
    EXPECT_EQ(list.aliases(0).collection(), "docs");
    v1::AliasOperation again = create;
    s = update(0, {again});
    EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS)
        << s.error_message();
    v1::AliasOperation del;
    del.mutable_delete_alias()->set_alias("current");
    s = update(0, {del, create});  // moved (here: to the same collection)
    EXPECT_TRUE(s.ok()) << s.error_message();
    v1::CreateCollectionRequest taken =
        testing_util::CollectionRequest("current", kDim, v1::METRIC_L2, 2);
    grpc::ClientContext ctx3;
    v1::CollectionInfo info;
    s = cluster_->Collections(0)->Create(&ctx3, taken, &info);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS)
        << s.error_message();
    v1::DeleteCollectionRequest drop;
    drop.set_name("current");
    grpc::ClientContext ctx4;
    v1::DeleteCollectionResponse dropped;
    s = cluster_->Collections(0)->Delete(&ctx4, drop, &dropped);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << s.error_message();
  }
  // A snapshot through node 3, asked right after the writes, holds every
  // acknowledged one: the points (vectors, payloads) and the index of one
  // database, in a directory a single server restores. Listed and deleted
  // on that node (a node's own directory); an unknown collection is
  // NOT_FOUND.
  {
    auto snapshots = v1::Snapshots::NewStub(grpc::CreateChannel(
        cluster_->address(2), grpc::InsecureChannelCredentials()));
    v1::CreateSnapshotRequest req;
    req.set_collection("docs");
    grpc::ClientContext ctx;
    v1::SnapshotDescription made;
    grpc::Status s = snapshots->Create(&ctx, req, &made);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(made.collection(), "docs");
    EXPECT_GT(made.size_bytes(), 0u);
    TempDir restored;
    const std::string copy = restored.path() + "/db";
    ASSERT_TRUE(Database::RestoreSnapshot(made.path(), copy).ok());
    auto back = Database::Open(copy, DatabaseOptions());
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ((*back)->ListCollections(), std::vector<std::string>{"docs"});
    auto got = (*back)->GetCollection("docs");
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ((*got)->config().dim, kDim);
    EXPECT_EQ((*got)->config().metric, Metric::kL2);
    EXPECT_EQ((*got)->Count(), coll->Count());
    std::vector<uint64_t> ids(kPoints);
    for (uint64_t id = 0; id < kPoints; ++id) ids[id] = id;
    auto want = coll->Get(ids, true, true);
    auto have = (*got)->Get(ids, true, true);
    ASSERT_TRUE(want.ok() && have.ok());
    ASSERT_EQ(have->size(), want->size());
    for (size_t i = 0; i < want->size(); ++i) {
      ASSERT_EQ((*have)[i].id, (*want)[i].id);
      EXPECT_EQ((*have)[i].vector, (*want)[i].vector) << "id " << (*want)[i].id;
      EXPECT_EQ((*have)[i].payload, (*want)[i].payload)
          << "id " << (*want)[i].id;
    }
    auto info = (*got)->Info();
    ASSERT_TRUE(info.ok());
    ASSERT_EQ(info->field_indexes.size(), 1u);
    EXPECT_EQ(info->field_indexes[0].field, "tenant");
    EXPECT_EQ(info->field_indexes[0].type, FieldType::kKeyword);
    EXPECT_TRUE(info->field_indexes[0].ready);
    ASSERT_TRUE((*back)->Close().ok());

    auto listed = [&](int node) {
      auto stub = v1::Snapshots::NewStub(grpc::CreateChannel(
          cluster_->address(node), grpc::InsecureChannelCredentials()));
      grpc::ClientContext c;
      v1::ListSnapshotsResponse resp;
      grpc::Status st = stub->List(&c, v1::ListSnapshotsRequest(), &resp);
      EXPECT_TRUE(st.ok()) << st.error_message();
      std::vector<std::string> names;
      for (const auto& d : resp.snapshots()) names.push_back(d.name());
      return names;
    };
    EXPECT_EQ(listed(2), std::vector<std::string>{made.name()});
    EXPECT_TRUE(listed(0).empty());
    v1::DeleteSnapshotRequest del;
    del.set_name(made.name());
    grpc::ClientContext ctx2;
    v1::DeleteSnapshotResponse deleted;
    s = snapshots->Delete(&ctx2, del, &deleted);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_TRUE(listed(2).empty());
    grpc::ClientContext ctx3;
    s = snapshots->Delete(&ctx3, del, &deleted);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);

    // By the alias: a snapshot of its collection, under the collection's
    // name.
    req.set_collection("current");
    grpc::ClientContext ctx5;
    s = snapshots->Create(&ctx5, req, &made);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(made.collection(), "docs");
    del.set_name(made.name());
    grpc::ClientContext ctx6;
    EXPECT_TRUE(snapshots->Delete(&ctx6, del, &deleted).ok());

    req.set_collection("nope");
    grpc::ClientContext ctx4;
    s = snapshots->Create(&ctx4, req, &made);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
    EXPECT_TRUE(listed(2).empty());
  }
  // The index dropped on every shard; dropping it again is NOT_FOUND.
  {
    v1::DeleteFieldIndexRequest req;
    req.set_collection("docs");
    req.set_field("tenant");
    grpc::ClientContext ctx;
    v1::DeleteFieldIndexResponse resp;
    grpc::Status s =
        cluster_->Collections(0)->DeleteFieldIndex(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    grpc::ClientContext ctx2;
    s = cluster_->Collections(1)->DeleteFieldIndex(&ctx2, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
    v1::GetCollectionRequest get;
    get.set_name("docs");
    grpc::ClientContext ctx3;
    v1::CollectionInfo info;
    s = cluster_->Collections(2)->Get(&ctx3, get, &info);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(info.payload_indexes_size(), 0);
  }
  // Dropping the collection deletes its alias (in the same transaction).
  {
    v1::DeleteCollectionRequest drop;
    drop.set_name("docs");
    grpc::ClientContext ctx;
    v1::DeleteCollectionResponse dropped;
    grpc::Status s = cluster_->Collections(1)->Delete(&ctx, drop, &dropped);
    ASSERT_TRUE(s.ok()) << s.error_message();
    grpc::ClientContext ctx2;
    v1::ListAliasesResponse list;
    s = cluster_->Collections(1)->ListAliases(&ctx2, v1::ListAliasesRequest(),
                                              &list);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(list.aliases_size(), 0);
  }
}

}  // namespace
}  // namespace tqdb
