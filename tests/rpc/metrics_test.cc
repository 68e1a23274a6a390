// tqdb serve's metrics (rpc/metrics.h): after real gRPC and REST traffic,
// /metrics counts each call by method, code and transport, the search and
// ingest work, and reports the collections, RocksDB and the process; every
// series is tqdb_*; with an API key a scrape needs it unless metrics_open.
#include <httplib.h>

#include <map>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/rpc/rpc_test_util.h"

namespace tqdb {
namespace {

using rpctest::CreateReq;
using rpctest::SearchReq;
using rpctest::TestServer;
using rpctest::UpsertReq;
namespace pb = ::tqdb::v1;

ServerOptions WithMetrics(ServerOptions so = ServerOptions()) {
  so.metrics_listen = "127.0.0.1:0";
  so.http_listen = "127.0.0.1:0";
  return so;
}

// "name{labels}" -> value, for the sample lines of a scrape.
std::map<std::string, double> Samples(const std::string& text) {
  std::map<std::string, double> out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    const size_t sp = line.rfind(' ');
    double v = 0;
    if (sp == absl::string_view::npos ||
        !absl::SimpleAtod(line.substr(sp + 1), &v)) {
      ADD_FAILURE() << "malformed sample line: " << line;
      continue;
    }
    out[std::string(line.substr(0, sp))] = v;
  }
  return out;
}

TEST(MetricsTest, CountsCallsWorkAndState) {
  TestServer ts(WithMetrics());
  ASSERT_GT(ts.server()->metrics_port(), 0);
  {
    grpc::ClientContext ctx;
    pb::CollectionInfo info;
    pb::CreateCollectionRequest cr = CreateReq("docs", 16, pb::METRIC_COSINE);
    cr.mutable_ivf()->set_nlist(8);
    ASSERT_TRUE(ts.collections().Create(&ctx, cr, &info).ok());
  }
  for (int b = 0; b < 3; ++b) {
    grpc::ClientContext ctx;
    pb::UpsertResponse r;
    ASSERT_TRUE(
        ts.points().Upsert(&ctx, UpsertReq("docs", b * 200, 200, 16), &r).ok());
  }
  {
    grpc::ClientContext ctx;
    pb::TrainCollectionRequest tr;
    tr.set_name("docs");
    pb::CollectionInfo info;
    ASSERT_TRUE(ts.collections().Train(&ctx, tr, &info).ok());
  }
  for (int i = 0; i < 4; ++i) {
    grpc::ClientContext ctx;
    pb::SearchRequest sr = SearchReq("docs", dbtest::VectorFor(i, 0, 16), 5);
    sr.mutable_params()->set_nprobe(2);
    sr.mutable_params()->set_rescore(true);
    sr.mutable_params()->set_oversampling(2);
    pb::SearchResponse r;
    ASSERT_TRUE(ts.points().Search(&ctx, sr, &r).ok());
  }
  {
    grpc::ClientContext ctx;
    pb::SearchResponse r;
    EXPECT_FALSE(ts.points()
                     .Search(&ctx, SearchReq("docs", {1, 2}, 5), &r)
                     .ok());  // wrong dimension
  }
  httplib::Client rest("127.0.0.1", ts.server()->http_port());
  auto rr =
      rest.Post("/collections/docs/points/count", "{}", "application/json");
  ASSERT_TRUE(rr);
  ASSERT_EQ(rr->status, 200);

  httplib::Client http("127.0.0.1", ts.server()->metrics_port());
  auto r = http.Get("/metrics");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_TRUE(absl::StartsWith(r->get_header_value("Content-Type"),
                               "text/plain; version=0.0.4"));
  const std::map<std::string, double> s = Samples(r->body);
  for (const auto& [name, v] : s) {
    EXPECT_TRUE(absl::StartsWith(name, "tqdb_")) << name;
  }
  auto at = [&](const std::string& key) {
    auto it = s.find(key);
    EXPECT_NE(it, s.end()) << key << " missing in\n" << r->body;
    return it == s.end() ? -1.0 : it->second;
  };
  EXPECT_EQ(at("tqdb_rpc_requests_total{code=\"OK\",method=\"tqdb.v1.Points/"
               "Search\",transport=\"grpc\"}"),
            4);
  EXPECT_EQ(at("tqdb_rpc_requests_total{code=\"INVALID_ARGUMENT\",method="
               "\"tqdb.v1.Points/Search\",transport=\"grpc\"}"),
            1);
  EXPECT_EQ(at("tqdb_rpc_requests_total{code=\"OK\",method=\"tqdb.v1.Points/"
               "Count\",transport=\"http\"}"),
            1);
  EXPECT_EQ(at("tqdb_rpc_duration_seconds_count{code=\"OK\",method=\"tqdb.v1."
               "Points/Upsert\",transport=\"grpc\"}"),
            3);
  EXPECT_EQ(at("tqdb_rpc_duration_seconds_bucket{code=\"OK\",method=\"tqdb."
               "v1.Points/Upsert\",transport=\"grpc\",le=\"+Inf\"}"),
            3);
  EXPECT_EQ(at("tqdb_ingest_points_total"), 600);
  EXPECT_EQ(at("tqdb_ingest_batches_total"), 3);
  EXPECT_GT(at("tqdb_ingest_bytes_total"), 600 * 16 * 4);
  EXPECT_EQ(at("tqdb_search_requests_total"), 4);
  EXPECT_EQ(at("tqdb_search_queries_total"), 4);
  EXPECT_EQ(at("tqdb_search_lists_probed_total"), 8);
  EXPECT_EQ(at("tqdb_search_lists_skipped_total"), 0);  // probe_sigmas off
  EXPECT_GT(at("tqdb_search_codes_scanned_total"), 0);
  EXPECT_EQ(at("tqdb_search_rescored_total"), 40);
  EXPECT_EQ(at("tqdb_collection_points{collection=\"docs\"}"), 600);
  EXPECT_EQ(at("tqdb_collection_trained{collection=\"docs\"}"), 1);
  EXPECT_EQ(at("tqdb_collection_nlist{collection=\"docs\"}"), 8);
  EXPECT_GT(at("tqdb_collection_index_memory_bytes{collection=\"docs\"}"), 0);
  EXPECT_GT(at("tqdb_collection_disk_bytes{collection=\"docs\"}"), 0);
  EXPECT_GE(at("tqdb_collection_list_imbalance{collection=\"docs\"}"), 1);
  EXPECT_GT(at("tqdb_rocksdb_block_cache_capacity_bytes"), 0);
  EXPECT_GE(at("tqdb_rocksdb_wal_syncs_total"), 1);
  EXPECT_EQ(at("tqdb_storage_errors_total"), 0);
  EXPECT_EQ(at("tqdb_storage_recoveries_total"), 0);
  EXPECT_EQ(at("tqdb_storage_reopens_total"), 0);
  EXPECT_EQ(at("tqdb_storage_writes_stopped"), 0);
  EXPECT_GT(at("tqdb_process_resident_memory_bytes"), 1 << 20);
  EXPECT_GT(at("tqdb_memory_used_bytes"), 0);
  // Other paths are not served.
  r = http.Get("/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

TEST(MetricsTest, WithAnApiKeyScrapesNeedItUnlessOpen) {
  ServerOptions so = WithMetrics();
  so.api_key = "k3y";
  {
    TestServer ts(so);
    httplib::Client http("127.0.0.1", ts.server()->metrics_port());
    auto r = http.Get("/metrics");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
    EXPECT_TRUE(absl::StartsWith(r->body, "UNAUTHENTICATED")) << r->body;
    r = http.Get("/metrics", {{"Authorization", "Bearer nope"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
    r = http.Get("/metrics", {{"Authorization", "Bearer k3y"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    r = http.Get("/metrics", {{"api-key", "k3y"}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
  so.metrics_open = true;
  TestServer ts(so);
  httplib::Client http("127.0.0.1", ts.server()->metrics_port());
  auto r = http.Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(absl::StrContains(r->body, "tqdb_process_resident_memory_bytes"));
}

TEST(MetricsTest, OffByDefault) {
  TestServer ts;
  EXPECT_EQ(ts.server()->metrics_port(), 0);
  EXPECT_EQ(ts.server()->http_port(), 0);
}

}  // namespace
}  // namespace tqdb
