// A full disk seen by the server's clients (issue 17, item 1, over the API):
// over gRPC a write fails with RESOURCE_EXHAUSTED and the trailer
// "tqdb-error: disk-full", over REST with 507 Insufficient Storage (not the
// 429 of a limit), searches go on, and writes resume by themselves once the
// disk has space. The fault is injected at the storage boundary
// (tests/db/fault_fs.h, a wrapper around the real file system).
#include <httplib.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "rpc/service_context.h"
#include "tests/db/fault_fs.h"
#include "tests/rpc/rpc_test_util.h"

namespace tqdb {
namespace {

using dbtest::FaultFs;
using rpctest::CreateReq;
using rpctest::SearchReq;
using rpctest::TestServer;
using rpctest::UpsertReq;
namespace pb = ::tqdb::v1;

constexpr uint32_t kDim = 8;

DatabaseOptions WithFs(std::shared_ptr<FaultFs> fs, size_t memory_limit = 0) {
  DatabaseOptions o;
  o.file_system = std::move(fs);
  o.memory_limit_bytes = memory_limit;
  return o;
}

ServerOptions WithHttp() {
  ServerOptions so;
  so.http_listen = "127.0.0.1:0";
  return so;
}

// The body of a REST upsert of points first .. first + n - 1.
std::string UpsertJson(uint64_t first, size_t n) {
  std::string s = R"({"wait": true, "points": [)";
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) s += ", ";
    s += "{\"id\": " + std::to_string(first + i) + ", \"vector\": [";
    const std::vector<float> v = dbtest::VectorFor(first + i, 0, kDim);
    for (uint32_t j = 0; j < kDim; ++j) {
      s += (j ? ", " : "") + std::to_string(v[j]);
    }
    s += "]}";
  }
  return s + "]}";
}

// The value of trailer `key` of a finished call, "" if absent.
std::string Trailer(const grpc::ClientContext& ctx, const std::string& key) {
  const auto& t = ctx.GetServerTrailingMetadata();
  auto it = t.find(key);
  return it == t.end() ? "" : std::string(it->second.data(), it->second.size());
}

TEST(RpcFaultTest, FullDiskIsResourceExhaustedOverGrpcAnd507OverRest) {
  auto fs = std::make_shared<FaultFs>();
  TestServer ts(WithHttp(), WithFs(fs));
  httplib::Client http("127.0.0.1", ts.server()->http_port());
  {
    grpc::ClientContext ctx;
    pb::CollectionInfo info;
    ASSERT_TRUE(ts.collections()
                    .Create(&ctx, CreateReq("c", kDim, pb::METRIC_L2), &info)
                    .ok());
  }
  pb::UpsertRequest first = UpsertReq("c", 0, 50, kDim);
  first.set_wait(true);
  {
    grpc::ClientContext ctx;
    pb::UpsertResponse resp;
    ASSERT_TRUE(ts.points().Upsert(&ctx, first, &resp).ok());
  }

  fs->Fail(FaultFs::kWrite, FaultFs::NoSpace());
  // gRPC: RESOURCE_EXHAUSTED saying the disk is full, marked by the trailer.
  pb::UpsertRequest more = UpsertReq("c", 100, 50, kDim);
  more.set_wait(true);
  {
    grpc::ClientContext ctx;
    pb::UpsertResponse resp;
    const grpc::Status s = ts.points().Upsert(&ctx, more, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_NE(s.error_message().find("the disk is full"), std::string::npos)
        << s.error_message();
    EXPECT_EQ(Trailer(ctx, kErrorTrailer), kDiskFullError);
  }
  // REST: 507 with the same code and message.
  auto r = http.Put("/collections/c/points", UpsertJson(200, 10),
                    "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 507) << r->body;
  EXPECT_NE(r->body.find("\"RESOURCE_EXHAUSTED\""), std::string::npos)
      << r->body;
  EXPECT_NE(r->body.find("the disk is full"), std::string::npos) << r->body;
  // Reads go on, over both.
  {
    grpc::ClientContext ctx;
    pb::SearchResponse resp;
    ASSERT_TRUE(ts.points()
                    .Search(&ctx,
                            SearchReq("c", dbtest::VectorFor(7, 0, kDim), 1),
                            &resp)
                    .ok());
    ASSERT_EQ(resp.points_size(), 1);
    EXPECT_EQ(resp.points(0).id(), 7u);
  }
  r = http.Post("/collections/c/points/count", "{}", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->body, "{\"count\":\"50\",\"unindexed_fields\":[]}");
  EXPECT_GT(fs->injected(), 0u);

  // Space returns: writes resume by themselves (no restart).
  fs->Clear();
  const auto until =
      std::chrono::steady_clock::now() + std::chrono::seconds(30);
  int status = 0;
  while (std::chrono::steady_clock::now() < until) {
    r = http.Put("/collections/c/points", UpsertJson(200, 10),
                 "application/json");
    ASSERT_TRUE(r);
    status = r->status;
    if (status == 200) break;
    EXPECT_EQ(status, 507) << r->body;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(status, 200) << "writes did not resume: " << r->body;
  r = http.Post("/collections/c/points/count", "{}", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "{\"count\":\"60\",\"unindexed_fields\":[]}");
}

// The memory limit is also RESOURCE_EXHAUSTED, but a limit: 429 over REST
// and no disk-full trailer.
TEST(RpcFaultTest, MemoryLimitIsNotADiskFull) {
  TestServer ts(WithHttp(), WithFs(std::make_shared<FaultFs>(), 4096));
  httplib::Client http("127.0.0.1", ts.server()->http_port());
  auto r = http.Put("/collections/c", R"({"dim": 8})", "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  r = http.Put("/collections/c/points", UpsertJson(0, 500), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429) << r->body;
  EXPECT_NE(r->body.find("\"RESOURCE_EXHAUSTED\""), std::string::npos)
      << r->body;
  grpc::ClientContext ctx;
  pb::UpsertResponse resp;
  pb::UpsertRequest up = UpsertReq("c", 0, 500, kDim);
  const grpc::Status s = ts.points().Upsert(&ctx, up, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(Trailer(ctx, kErrorTrailer), "");
}

}  // namespace
}  // namespace tqdb
