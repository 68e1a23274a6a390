// A shard replica (rpc/cluster/shard_replica.h) applying its shard's log
// from a real three-server NATS JetStream into a database whose disk fills
// up (tests/db/fault_fs.h: the real file system, failing writes with ENOSPC
// on command). The rule a single server follows (writes fail cleanly, reads
// go on, writes resume by themselves when space returns, nothing
// acknowledged is lost) becomes, for a replica: the entry that meets the
// full disk is neither skipped nor acknowledged; the replica retries it
// and, once space returns, applies it and everything after it, each entry
// exactly once.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "db/db.h"
#include "gtest/gtest.h"
#include "rpc/cluster/jetstream.h"
#include "rpc/cluster/log_names.h"
#include "rpc/cluster/pull_consumer.h"
#include "rpc/cluster/shard_replica.h"
#include "rpc/convert.h"
#include "tests/cluster/cluster_test_util.h"
#include "tests/cluster/service_processes.h"
#include "tests/db/db_test_util.h"
#include "tests/db/fault_fs.h"
#include "tqdb/cluster/v1/cluster.pb.h"

namespace tqdb {
namespace cluster {
namespace {

using dbtest::FaultFs;
using testing_util::Eventually;

constexpr uint32_t kDim = 8;
constexpr int64_t kUid = 7;
constexpr uint32_t kShard = 0;
constexpr uint32_t kNodeId = 1;

class ShardReplicaFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    auto log = testing_util::JetStreamCluster::Start(dir_.path() + "/nats", 3);
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = std::move(*log);
    const StreamConfig docs =
        testing_util::JetStreamCluster::CollectionStream("docs", 3);
    ASSERT_TRUE(log_.js->EnsureStream(docs).ok());

    fs_ = std::make_shared<FaultFs>();
    DatabaseOptions o;
    o.file_system = fs_;
    o.background_training = false;
    auto db = Database::Open(dir_.path() + "/db", o);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    CollectionConfig cfg;
    cfg.name = "docs-s0";
    cfg.dim = kDim;
    cfg.metric = Metric::kL2;
    ASSERT_TRUE(db_->CreateCollection(cfg).ok());
    local_ = *db_->GetCollection("docs-s0");
  }

  void TearDown() override {
    fs_->Clear();
    local_.reset();
    if (db_) db_->Close().IgnoreError();
  }

  // Appends a log entry to the shard's subject; its stream sequence.
  uint64_t Publish(tqdb::cluster::v1::LogEntry entry) {
    entry.set_collection_uid(kUid);
    auto ack = log_.js->Publish(
        ShardSubject("docs", kShard), entry.SerializeAsString(),
        absl::StrCat("m", ++published_), absl::Seconds(30));
    EXPECT_TRUE(ack.ok()) << ack.status();
    return ack.ok() ? ack->sequence : 0;
  }
  uint64_t PublishUpsert(uint64_t first, size_t n) {
    tqdb::cluster::v1::LogEntry e;
    for (Point& p : dbtest::MakePoints(first, n, kDim)) {
      ToProto(std::move(p), e.mutable_upsert()->add_points());
    }
    return Publish(std::move(e));
  }
  uint64_t PublishDelete(uint64_t first, size_t n) {
    tqdb::cluster::v1::LogEntry e;
    for (uint64_t id = first; id < first + n; ++id) {
      e.mutable_delete_()->add_ids(id);
    }
    return Publish(std::move(e));
  }

  size_t Present(uint64_t first, size_t n) {
    std::vector<uint64_t> ids;
    for (uint64_t id = first; id < first + n; ++id) ids.push_back(id);
    auto got = local_->Get(ids, false, false);
    EXPECT_TRUE(got.ok()) << got.status();
    return got.ok() ? got->size() : 0;
  }

  // The durable consumer's acknowledged floor (0 while a new session
  // replaces the consumer).
  uint64_t AckFloor() {
    auto st = PullConsumer::Lookup(log_.js.get(), StreamName("docs"),
                                   ConsumerName(kNodeId, kShard));
    return st.ok() && st->has_value() ? (*st)->ack_floor : 0;
  }

  // With the disk full: the replica meets it at entry `stuck`, says so,
  // retries, and neither applies nor acknowledges anything from `stuck` on;
  // reads of the collection go on.
  void ExpectHeldAt(ShardReplica& replica, uint64_t stuck, uint64_t count) {
    const int sessions = replica.sessions();
    ASSERT_TRUE(Eventually(absl::Seconds(30),
                           [&] {
                             return replica.sessions() >= sessions + 2 &&
                                    absl::StrContains(replica.last_error(),
                                                      "disk is full");
                           }))
        << "sessions " << replica.sessions() << ", last error '"
        << replica.last_error() << "'";
    EXPECT_GT(fs_->injected(), 0u);
    EXPECT_EQ(replica.applied(), stuck - 1);
    EXPECT_LT(AckFloor(), stuck);
    EXPECT_FALSE(absl::StrContains(replica.last_error(), "skipped"))
        << replica.last_error();
    EXPECT_EQ(local_->Count(), count);
    QueryOptions q;
    q.k = 1;
    auto hits = local_->Search(dbtest::VectorFor(300, 0, kDim), q);
    ASSERT_TRUE(hits.ok()) << hits.status();
    ASSERT_EQ(hits->size(), 1u);
    EXPECT_EQ((*hits)[0].id, 300u);
  }

  testing_util::TempDir dir_;
  testing_util::JetStreamCluster log_;
  std::shared_ptr<FaultFs> fs_;
  std::unique_ptr<Database> db_;
  std::shared_ptr<Collection> local_;
  int published_ = 0;
};

TEST_F(ShardReplicaFaultTest, FullDiskHoldsEntriesUntilSpaceReturns) {
  for (uint64_t first = 0; first < 500; first += 100) {
    PublishUpsert(first, 100);  // sequences 1..5: ids 0..499
  }
  ReplicaSpec spec;
  spec.collection = "docs";
  spec.uid = kUid;
  spec.shard = kShard;
  spec.node_id = kNodeId;
  ShardReplica replica(log_.js.get(), spec, local_);
  ASSERT_TRUE(replica.AwaitApplied(5, absl::Seconds(30)))
      << replica.last_error();
  EXPECT_EQ(local_->Count(), 500u);

  // The disk fills up; a delete comes first (it was once skipped as a
  // batch over the node's limit, both being RESOURCE_EXHAUSTED), then an
  // upsert.
  fs_->Fail(FaultFs::kWrite | FaultFs::kSync, FaultFs::NoSpace());
  ASSERT_EQ(PublishDelete(0, 50), 6u);
  ASSERT_EQ(PublishUpsert(500, 100), 7u);
  ASSERT_NO_FATAL_FAILURE(ExpectHeldAt(replica, 6, 500));
  fs_->Clear();
  ASSERT_TRUE(replica.AwaitApplied(7, absl::Seconds(60)))
      << replica.last_error();
  EXPECT_EQ(Present(0, 50), 0u);
  EXPECT_EQ(Present(500, 100), 100u);
  EXPECT_EQ(local_->Count(), 550u);

  // Again with an upsert first.
  fs_->Fail(FaultFs::kWrite | FaultFs::kSync, FaultFs::NoSpace());
  ASSERT_EQ(PublishUpsert(600, 100), 8u);
  ASSERT_EQ(PublishDelete(100, 50), 9u);
  ASSERT_NO_FATAL_FAILURE(ExpectHeldAt(replica, 8, 550));
  fs_->Clear();
  ASSERT_TRUE(replica.AwaitApplied(9, absl::Seconds(60)))
      << replica.last_error();
  EXPECT_EQ(Present(600, 100), 100u);
  EXPECT_EQ(Present(100, 50), 0u);
  EXPECT_EQ(local_->Count(), 600u);
  EXPECT_EQ(local_->applied_sequence(), 9u);
  // Nothing was skipped; the log is acknowledged through the last entry.
  EXPECT_EQ(replica.last_error(), "");
  EXPECT_TRUE(Eventually(absl::Seconds(10), [&] { return AckFloor() == 9u; }))
      << AckFloor();
}

}  // namespace
}  // namespace cluster
}  // namespace tqdb
