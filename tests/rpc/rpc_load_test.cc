// Load over a real loopback channel: 8 clients search while one client
// streams upserts (30 s by default; TQDB_LOAD_SECONDS overrides). Zero
// errors, and results stay correct: every acknowledged point is findable by
// exact search, during the run and after it.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "quant/random.h"
#include "tests/rpc/rpc_test_util.h"

namespace tqdb {
namespace {

using namespace rpctest;  // NOLINT
using dbtest::VectorFor;

constexpr uint32_t kDim = 64;
constexpr size_t kBatch = 250;

double LoadSeconds() {
  const char* e = std::getenv("TQDB_LOAD_SECONDS");
  return e ? std::atof(e) : 30.0;
}

TEST(RpcLoadTest, EightSearchersAndAStreamingWriter) {
  // Background training on: the first training happens under load.
  TestServer ts(ServerOptions(), DatabaseOptions(), true);
  {
    grpc::ClientContext ctx;
    pb::CollectionInfo info;
    auto r = CreateReq("load", kDim, pb::METRIC_COSINE);
    r.mutable_ivf()->set_nlist(32);
    r.mutable_ivf()->set_train_threshold(4000);
    ASSERT_TRUE(ts.collections().Create(&ctx, r, &info).ok());
  }
  // Ids below `acked` are acknowledged (their stream finished OK).
  std::atomic<uint64_t> acked{0};
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> searches{0}, exact_checks{0}, errors{0};
  std::vector<std::string> first_errors(9);

  std::thread writer([&] {
    uint64_t next = 0;
    while (!stop.load()) {
      grpc::ClientContext ctx;
      pb::UpsertResponse resp;
      auto w = ts.points().UpsertStream(&ctx, &resp);
      for (int b = 0; b < 4; ++b) {
        w->Write(UpsertReq("load", next + b * kBatch, kBatch, kDim));
      }
      w->WritesDone();
      const grpc::Status s = w->Finish();
      if (!s.ok() || resp.upserted() != 4 * kBatch) {
        if (errors.fetch_add(1) == 0) first_errors[8] = s.error_message();
        return;
      }
      next += 4 * kBatch;
      acked.store(next);
      // Paced: the test is about concurrency, not ingest speed, and the
      // exact checks scan everything stored.
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  while (acked.load() == 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));

  std::vector<std::thread> readers;
  for (int t = 0; t < 8; ++t) {
    readers.emplace_back([&, t] {
      Rng rng(1000 + t);
      auto fail = [&](const std::string& why) {
        errors.fetch_add(1);
        if (first_errors[t].empty()) first_errors[t] = why;
      };
      while (!stop.load()) {
        const uint64_t n = acked.load();
        const uint64_t id = rng.Uniform(n);
        const bool exact = (searches.load() % 8) == 0;
        pb::SearchRequest r =
            SearchReq("load", VectorFor(id, 0, kDim), exact ? 1 : 10);
        r.mutable_params()->set_exact(exact);
        r.mutable_params()->set_nprobe(exact ? 0 : 8);
        grpc::ClientContext ctx;
        pb::SearchResponse resp;
        const grpc::Status s = ts.points().Search(&ctx, r, &resp);
        searches.fetch_add(1);
        if (!s.ok()) {
          fail(std::to_string(s.error_code()) + ": " + s.error_message());
          continue;
        }
        if (exact) {
          exact_checks.fetch_add(1);
          if (resp.points_size() != 1 || resp.points(0).id() != id) {
            fail("acknowledged point " + std::to_string(id) +
                 " not found by exact search");
          }
          continue;
        }
        if (resp.points_size() == 0 || resp.points_size() > 10) {
          fail("approximate search returned " +
               std::to_string(resp.points_size()) + " points");
        }
        for (int i = 1; i < resp.points_size(); ++i) {
          if (resp.points(i - 1).score() < resp.points(i).score()) {
            fail("scores out of order");
          }
        }
      }
    });
  }
  std::this_thread::sleep_for(
      std::chrono::milliseconds(static_cast<int64_t>(LoadSeconds() * 1000)));
  stop.store(true);
  writer.join();
  for (auto& r : readers) r.join();
  for (const std::string& e : first_errors) EXPECT_TRUE(e.empty()) << e;
  EXPECT_EQ(errors.load(), 0u);

  const uint64_t n = acked.load();
  std::printf(
      "load: %llu points acknowledged, %llu searches (%llu exact "
      "checks) in %.0f s\n",
      static_cast<unsigned long long>(n),
      static_cast<unsigned long long>(searches.load()),
      static_cast<unsigned long long>(exact_checks.load()), LoadSeconds());
  EXPECT_GT(searches.load(), 100u);
  EXPECT_GE(n, 4000u);

  // Every acknowledged point is stored...
  for (uint64_t first = 0; first < n; first += 5000) {
    grpc::ClientContext ctx;
    pb::GetPointsRequest g;
    g.set_collection("load");
    for (uint64_t id = first; id < std::min(n, first + 5000); ++id)
      g.add_ids(id);
    pb::GetPointsResponse resp;
    ASSERT_TRUE(ts.points().Get(&ctx, g, &resp).ok());
    ASSERT_EQ(static_cast<uint64_t>(resp.points_size()),
              std::min<uint64_t>(5000, n - first));
  }
  // ... and findable by exact search (a sample) and by the index.
  grpc::ClientContext ctx;
  pb::GetCollectionRequest gc;
  gc.set_name("load");
  pb::CollectionInfo info;
  ASSERT_TRUE(ts.collections().Get(&ctx, gc, &info).ok());
  EXPECT_TRUE(info.trained());
  EXPECT_GE(info.count(), n);
  Rng rng(7);
  int found_by_index = 0;
  for (int i = 0; i < 100; ++i) {
    const uint64_t id = rng.Uniform(n);
    for (bool exact : {true, false}) {
      pb::SearchRequest r = SearchReq("load", VectorFor(id, 0, kDim), 10);
      r.mutable_params()->set_exact(exact);
      r.mutable_params()->set_nprobe(32);
      grpc::ClientContext c2;
      pb::SearchResponse resp;
      ASSERT_TRUE(ts.points().Search(&c2, r, &resp).ok());
      if (exact) {
        ASSERT_EQ(resp.points(0).id(), id);
      } else {
        for (const auto& p : resp.points()) found_by_index += p.id() == id;
      }
    }
  }
  // Full probe at 4 bits: the point itself is in its own top 10.
  EXPECT_GE(found_by_index, 97);
}

}  // namespace
}  // namespace tqdb
