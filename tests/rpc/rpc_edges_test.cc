// Edges of the gRPC API that users met (issue 17), against an in-process
// server over a real loopback channel: a zero query under cosine, nprobe
// above nlist (clamped, reported), echoed input, concurrent create and drop
// of one name, a busy port.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/rpc/rpc_test_util.h"

namespace tqdb {
namespace {

using namespace rpctest;  // NOLINT
using dbtest::VectorFor;

constexpr uint32_t kDim = 16;

class RpcEdgesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ClientContext ctx;
    pb::CollectionInfo info;
    auto req = CreateReq("c", kDim, pb::METRIC_COSINE);
    req.mutable_ivf()->set_nlist(4);
    ASSERT_TRUE(ts_.collections().Create(&ctx, req, &info).ok());
    grpc::ClientContext uctx;
    pb::UpsertResponse uresp;
    ASSERT_TRUE(
        ts_.points().Upsert(&uctx, UpsertReq("c", 0, 400, kDim), &uresp).ok());
  }

  void Train() {
    grpc::ClientContext ctx;
    pb::TrainCollectionRequest req;
    req.set_name("c");
    pb::CollectionInfo info;
    ASSERT_TRUE(ts_.collections().Train(&ctx, req, &info).ok());
    ASSERT_EQ(info.nlist(), 4u);
  }

  grpc::Status Create(const pb::CreateCollectionRequest& req,
                      pb::CollectionInfo* info) {
    grpc::ClientContext ctx;
    return ts_.collections().Create(&ctx, req, info);
  }

  grpc::Status Search(const pb::SearchRequest& req, pb::SearchResponse* resp) {
    grpc::ClientContext ctx;
    return ts_.points().Search(&ctx, req, resp);
  }

  TestServer ts_;
};

// Upsert rejects a zero vector under cosine (it has no direction); a search
// with one is rejected the same way instead of returning arbitrary ids with
// score 0.
TEST_F(RpcEdgesTest, ZeroQueryUnderCosineIsInvalid) {
  for (bool trained : {false, true}) {
    SCOPED_TRACE(trained ? "trained" : "untrained");
    if (trained) Train();
    pb::SearchResponse resp;
    const grpc::Status s =
        Search(SearchReq("c", std::vector<float>(kDim, 0.0f), 5), &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << s.error_message() << " (" << resp.points_size() << " hits)";
    EXPECT_NE(s.error_message().find("zero"), std::string::npos)
        << s.error_message();
    pb::SearchBatchRequest batch;
    batch.set_collection("c");
    *batch.add_searches() = SearchReq("", VectorFor(1, 0, kDim), 5);
    *batch.add_searches() = SearchReq("", std::vector<float>(kDim, 0.0f), 5);
    grpc::ClientContext ctx;
    pb::SearchBatchResponse bresp;
    const grpc::Status bs = ts_.points().SearchBatch(&ctx, batch, &bresp);
    EXPECT_EQ(bs.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << bs.error_message();
    EXPECT_NE(bs.error_message().find("query 1"), std::string::npos)
        << bs.error_message();
  }
}

// nprobe above the collection's nlist (the CLI's default 16 on a small
// collection; a fixed nprobe while retraining changes nlist) is clamped, as
// in process, and the response says what was used.
TEST_F(RpcEdgesTest, NprobeAboveNlistIsClampedAndReported) {
  pb::SearchResponse resp;
  pb::SearchRequest req = SearchReq("c", VectorFor(7, 0, kDim), 3);
  req.mutable_params()->set_nprobe(16);
  ASSERT_TRUE(Search(req, &resp).ok());  // untrained: exact
  EXPECT_EQ(resp.points(0).id(), 7u);
  EXPECT_EQ(resp.nprobe_used(), 0u);
  Train();
  for (uint32_t nprobe : {16u, 5u, 4u, 2u}) {
    req.mutable_params()->set_nprobe(nprobe);
    resp.Clear();
    const grpc::Status s = Search(req, &resp);
    ASSERT_TRUE(s.ok()) << "nprobe " << nprobe << ": " << s.error_message();
    EXPECT_EQ(resp.points(0).id(), 7u);
    EXPECT_EQ(resp.nprobe_used(), std::min(nprobe, 4u));
  }
  req.mutable_params()->set_nprobe(0);  // the default, 16: clamped
  ASSERT_TRUE(Search(req, &resp).ok());
  EXPECT_EQ(resp.nprobe_used(), 4u);
  req.mutable_params()->set_exact(true);
  ASSERT_TRUE(Search(req, &resp).ok());
  EXPECT_EQ(resp.nprobe_used(), 0u);
  req.mutable_params()->set_exact(false);
  pb::SearchBatchRequest batch;
  batch.set_collection("c");
  *batch.add_searches() = req;
  batch.mutable_searches(0)->mutable_params()->set_nprobe(100);
  batch.mutable_searches(0)->clear_collection();
  grpc::ClientContext ctx;
  pb::SearchBatchResponse bresp;
  const grpc::Status bs = ts_.points().SearchBatch(&ctx, batch, &bresp);
  ASSERT_TRUE(bs.ok()) << bs.error_message();
  ASSERT_EQ(bresp.results_size(), 1);
  EXPECT_EQ(bresp.results(0).nprobe_used(), 4u);
  // Per-search params (the batch's other path) report each search's own.
  *batch.add_searches() = batch.searches(0);
  batch.mutable_searches(1)->mutable_params()->set_nprobe(2);
  grpc::ClientContext ctx2;
  bresp.Clear();
  ASSERT_TRUE(ts_.points().SearchBatch(&ctx2, batch, &bresp).ok());
  ASSERT_EQ(bresp.results_size(), 2);
  EXPECT_EQ(bresp.results(0).nprobe_used(), 4u);
  EXPECT_EQ(bresp.results(1).nprobe_used(), 2u);
}

// Collections.Create and Delete of one name from several clients at once: a
// create answers OK (with the new collection's info) or ALREADY_EXISTS, a
// delete OK or NOT_FOUND; a successful create is never reported NOT_FOUND
// "was dropped".
TEST_F(RpcEdgesTest, CreateRacingDeleteOfOneName) {
  // Under a sanitizer each round costs ~10x; 100 rounds still race.
  constexpr int kThreads = 3, kRounds = dbtest::RacingRounds(300);
  std::atomic<int> creating{kThreads}, created{0}, unexpected{0};
  std::mutex mu;
  std::string first;
  auto note = [&](const grpc::Status& s) {
    std::lock_guard<std::mutex> l(mu);
    if (unexpected++ == 0) first = s.error_message();
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) {
        grpc::ClientContext ctx;
        pb::CollectionInfo info;
        const grpc::Status s = ts_.collections().Create(
            &ctx, CreateReq("x", kDim, pb::METRIC_L2), &info);
        if (s.ok()) {
          ++created;
          if (info.name() != "x") note(s);
        } else if (s.error_code() != grpc::StatusCode::ALREADY_EXISTS) {
          note(s);
        }
      }
      --creating;
    });
    threads.emplace_back([&] {
      while (creating > 0) {
        grpc::ClientContext ctx;
        pb::DeleteCollectionRequest req;
        req.set_name("x");
        pb::DeleteCollectionResponse resp;
        const grpc::Status s = ts_.collections().Delete(&ctx, req, &resp);
        if (!s.ok() && s.error_code() != grpc::StatusCode::NOT_FOUND) note(s);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(unexpected.load(), 0) << "first: " << first;
  EXPECT_GT(created.load(), 0);
}

// User input echoed in an error is capped: a 10,000-character collection
// name used to come back as a 1 MB grpc-message (the name echoed in nested
// contexts), which the client saw as RESOURCE_EXHAUSTED instead of the error.
TEST_F(RpcEdgesTest, EchoedInputIsCapped) {
  const std::string name(10000, 'n');
  auto expect_capped = [&](const grpc::Status& s, grpc::StatusCode code,
                           const char* what) {
    SCOPED_TRACE(what);
    EXPECT_EQ(s.error_code(), code) << s.error_message().substr(0, 200);
    EXPECT_LT(s.error_message().size(), 400u);
    EXPECT_NE(s.error_message().find("nnnn..."), std::string::npos)
        << s.error_message().substr(0, 200);
  };
  {
    grpc::ClientContext ctx;
    pb::GetCollectionRequest req;
    req.set_name(name);
    pb::CollectionInfo info;
    expect_capped(ts_.collections().Get(&ctx, req, &info),
                  grpc::StatusCode::NOT_FOUND, "Get");
  }
  {
    grpc::ClientContext ctx;
    pb::CollectionInfo info;
    expect_capped(ts_.collections().Create(
                      &ctx, CreateReq(name, kDim, pb::METRIC_L2), &info),
                  grpc::StatusCode::INVALID_ARGUMENT, "Create");
  }
  {
    grpc::ClientContext ctx;
    pb::UpsertResponse resp;
    expect_capped(ts_.points().Upsert(&ctx, UpsertReq(name, 0, 1, kDim), &resp),
                  grpc::StatusCode::NOT_FOUND, "Upsert");
  }
  {
    pb::SearchResponse resp;
    expect_capped(Search(SearchReq(name, VectorFor(1, 0, kDim), 1), &resp),
                  grpc::StatusCode::NOT_FOUND, "Search");
  }
  {
    pb::SearchBatchRequest batch;
    batch.set_collection("c");
    *batch.add_searches() = SearchReq(name, VectorFor(1, 0, kDim), 1);
    grpc::ClientContext ctx;
    pb::SearchBatchResponse resp;
    expect_capped(ts_.points().SearchBatch(&ctx, batch, &resp),
                  grpc::StatusCode::INVALID_ARGUMENT, "SearchBatch");
  }
  {
    grpc::ClientContext ctx;
    pb::CreateSnapshotRequest req;
    req.set_collection(name);
    pb::SnapshotDescription resp;
    expect_capped(ts_.snapshots().Create(&ctx, req, &resp),
                  grpc::StatusCode::NOT_FOUND, "Snapshots.Create");
  }
  {
    // A long stream: the batch label and the count stay short too.
    grpc::ClientContext ctx;
    pb::UpsertResponse resp;
    auto writer = ts_.points().UpsertStream(&ctx, &resp);
    writer->Write(UpsertReq(name, 0, 1, kDim));
    writer->WritesDone();
    expect_capped(writer->Finish(), grpc::StatusCode::NOT_FOUND,
                  "UpsertStream");
  }
}

// The prefix sharing: an unknown enum number is refused at the API's
// boundary; a collection reports what it was created with, unspecified as
// AUTO.
TEST_F(RpcEdgesTest, PrefixSharingIsValidatedAndReported) {
  pb::CollectionInfo info;
  auto req = CreateReq("ps", kDim, pb::METRIC_IP);
  req.set_prefix_sharing(static_cast<pb::PrefixSharing>(9));
  grpc::Status s = Create(req, &info);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("prefix_sharing 9"), std::string::npos)
      << s.error_message();
  req.set_prefix_sharing(pb::PREFIX_SHARING_ALWAYS);
  ASSERT_TRUE(Create(req, &info).ok());
  EXPECT_EQ(info.prefix_sharing(), pb::PREFIX_SHARING_ALWAYS);
  {
    grpc::ClientContext ctx;
    pb::GetCollectionRequest g;
    g.set_name("ps");
    ASSERT_TRUE(ts_.collections().Get(&ctx, g, &info).ok());
    EXPECT_EQ(info.prefix_sharing(), pb::PREFIX_SHARING_ALWAYS);
  }
  ASSERT_TRUE(Create(CreateReq("ps2", kDim, pb::METRIC_IP), &info).ok());
  EXPECT_EQ(info.prefix_sharing(), pb::PREFIX_SHARING_AUTO);
}

// The pca weighting: an unknown enum number is refused at the API's
// boundary, ON for another method by the database; a collection reports
// what it was created with (unspecified as AUTO) and, untrained, no codec.
TEST_F(RpcEdgesTest, PcaWeightingIsValidatedAndReported) {
  pb::CollectionInfo info;
  auto req = CreateReq("pw", kDim, pb::METRIC_IP);
  req.set_pca_weighting(static_cast<pb::PcaWeighting>(9));
  grpc::Status s = Create(req, &info);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("pca_weighting 9"), std::string::npos)
      << s.error_message();
  req.set_pca_weighting(pb::PCA_WEIGHTING_ON);
  s = Create(req, &info);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("applies to method pca only"),
            std::string::npos)
      << s.error_message();
  req.mutable_quantizer()->set_method(pb::METHOD_PCA);
  ASSERT_TRUE(Create(req, &info).ok());
  EXPECT_EQ(info.pca_weighting(), pb::PCA_WEIGHTING_ON);
  EXPECT_EQ(info.codec(), "");
  {
    grpc::ClientContext ctx;
    pb::GetCollectionRequest g;
    g.set_name("pw");
    ASSERT_TRUE(ts_.collections().Get(&ctx, g, &info).ok());
    EXPECT_EQ(info.pca_weighting(), pb::PCA_WEIGHTING_ON);
  }
  ASSERT_TRUE(Create(CreateReq("pw2", kDim, pb::METRIC_IP), &info).ok());
  EXPECT_EQ(info.pca_weighting(), pb::PCA_WEIGHTING_AUTO);
}

// The rescoring source (refine): an unknown enum number is refused at the
// API's boundary (not read as raw), int8 / f32 without stored vectors by
// the database; a collection created with int8 reports it, and the bytes
// its codes take once trained, and searches with rescoring from them.
TEST_F(RpcEdgesTest, RefineIsValidatedAndReported) {
  pb::CollectionInfo info;
  auto req = CreateReq("r", kDim, pb::METRIC_IP);
  req.set_refine(static_cast<pb::Refine>(9));
  grpc::Status s = Create(req, &info);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("refine 9"), std::string::npos)
      << s.error_message();
  req.set_refine(pb::REFINE_INT8);
  req.set_store_vectors(false);
  s = Create(req, &info);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("needs store_vectors"), std::string::npos)
      << s.error_message();
  req.clear_store_vectors();
  req.mutable_ivf()->set_nlist(4);
  ASSERT_TRUE(Create(req, &info).ok());
  EXPECT_EQ(info.refine(), pb::REFINE_INT8);
  EXPECT_EQ(info.refine_bytes_per_vector(), 0u);  // untrained
  {
    grpc::ClientContext ctx;
    pb::UpsertResponse uresp;
    ASSERT_TRUE(
        ts_.points().Upsert(&ctx, UpsertReq("r", 0, 400, kDim), &uresp).ok());
  }
  {
    grpc::ClientContext ctx;
    pb::TrainCollectionRequest treq;
    treq.set_name("r");
    ASSERT_TRUE(ts_.collections().Train(&ctx, treq, &info).ok());
  }
  EXPECT_EQ(info.refine(), pb::REFINE_INT8);
  EXPECT_EQ(info.refine_bytes_per_vector(), kDim + 8);
  EXPECT_GE(info.memory().index_bytes_per_vector(), kDim + 8);
  // Unspecified reads as raw, reported as REFINE_RAW.
  pb::CollectionInfo raw;
  ASSERT_TRUE(Create(CreateReq("r2", kDim, pb::METRIC_IP), &raw).ok());
  EXPECT_EQ(raw.refine(), pb::REFINE_RAW);
  auto sreq = SearchReq("r", VectorFor(7, 0, kDim), 5);
  sreq.mutable_params()->set_rescore(true);
  pb::SearchResponse resp;
  ASSERT_TRUE(Search(sreq, &resp).ok());
  ASSERT_EQ(resp.points_size(), 5);
  EXPECT_EQ(resp.points(0).id(), 7u);  // the point itself
}

// A second server on a port another one holds fails to start (it used to
// start and share the port through SO_REUSEPORT, clients' connections split
// between the two).
TEST(RpcPortTest, BusyPortFailsToStart) {
  TestServer first;
  dbtest::TempDir dir;
  auto db = Database::Open(dir.sub("db"), DatabaseOptions());
  ASSERT_TRUE(db.ok()) << db.status();
  ServerOptions so;
  so.listen = absl::StrCat("127.0.0.1:", first.server()->port());
  auto second = Server::Start(db->get(), so);
  ASSERT_FALSE(second.ok())
      << "a second server shares port " << first.server()->port();
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find("address in use"), std::string::npos)
      << second.status();
  EXPECT_NE(second.status().message().find(so.listen), std::string::npos)
      << second.status();
  // The first one serves on.
  grpc::ClientContext ctx;
  pb::CountResponse resp;
  pb::CountRequest req;
  req.set_collection("none");
  EXPECT_EQ(first.points().Count(&ctx, req, &resp).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE((*db)->Close().ok());
}

// Snapshots.Delete removes a snapshot Create made, and nothing else.
TEST_F(RpcEdgesTest, SnapshotsDelete) {
  pb::SnapshotDescription a, b;
  for (pb::SnapshotDescription* d : {&a, &b}) {
    grpc::ClientContext ctx;
    ASSERT_TRUE(
        ts_.snapshots().Create(&ctx, pb::CreateSnapshotRequest(), d).ok());
  }
  auto del = [&](const std::string& name) {
    grpc::ClientContext ctx;
    pb::DeleteSnapshotRequest req;
    req.set_name(name);
    pb::DeleteSnapshotResponse resp;
    return ts_.snapshots().Delete(&ctx, req, &resp);
  };
  ASSERT_TRUE(del(a.name()).ok());
  EXPECT_EQ(del(a.name()).error_code(), grpc::StatusCode::NOT_FOUND);
  for (const std::string bad : {"", ".", "..", "../db", "x/y"}) {
    EXPECT_EQ(del(bad).error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
  }
  // A directory there that is not a snapshot stays.
  const std::string other = ts_.dir().sub("db/snapshots/not-a-snapshot");
  ASSERT_TRUE(std::filesystem::create_directories(other));
  EXPECT_EQ(del("not-a-snapshot").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(std::filesystem::exists(other));
  grpc::ClientContext ctx;
  pb::ListSnapshotsResponse list;
  ASSERT_TRUE(
      ts_.snapshots().List(&ctx, pb::ListSnapshotsRequest(), &list).ok());
  ASSERT_EQ(list.snapshots_size(), 1);
  EXPECT_EQ(list.snapshots(0).name(), b.name());
  EXPECT_FALSE(std::filesystem::exists(a.path()));
  // The database is untouched.
  grpc::ClientContext cctx;
  pb::CountRequest creq;
  creq.set_collection("c");
  pb::CountResponse cresp;
  ASSERT_TRUE(ts_.points().Count(&cctx, creq, &cresp).ok());
  EXPECT_EQ(cresp.count(), 400u);
}

}  // namespace
}  // namespace tqdb
