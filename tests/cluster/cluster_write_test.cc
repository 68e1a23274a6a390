// The cluster's write path end to end: real `tqdb serve --cluster` nodes
// over a real etcd and a three-server NATS JetStream cluster. Writes are
// acknowledged after the log's PubAck with their sequences; every replica
// applies them exactly once, across a kill -9 of a node during ingest; the
// data directories, opened after the nodes stop, hold exactly what was
// acknowledged on exactly `replicas` nodes per shard.
#include <signal.h>

#include <atomic>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "db/db.h"
#include "gtest/gtest.h"
#include "quant/random.h"
#include "rpc/cluster/cluster_keys.h"
#include "tests/cluster/cluster_test_util.h"
#include "tests/cluster/read_after.h"
#include "tests/cluster/tqdb_cluster.h"

namespace tqdb {
namespace {

using testing_util::Merge;
using testing_util::TqdbClusterOptions;

constexpr uint32_t kDim = 16;

std::vector<float> VectorOf(uint64_t id, uint64_t version) {
  Rng rng(id * 7919 + version * 104729 + 1);
  std::vector<float> v(kDim);
  for (float& x : v) x = static_cast<float>(rng.Gaussian());
  return v;
}

// What the cluster must hold: id -> version (payload "v<version>", a JSON
// string).
using Model = std::map<uint64_t, uint64_t>;

v1::UpsertRequest UpsertOf(const std::string& collection, uint64_t first,
                           uint64_t n, uint64_t version) {
  v1::UpsertRequest req;
  req.set_collection(collection);
  for (uint64_t id = first; id < first + n; ++id) {
    v1::Point* p = req.add_points();
    p->set_id(id);
    const std::vector<float> v = VectorOf(id, version);
    p->mutable_vector()->Add(v.begin(), v.end());
    p->set_payload(absl::StrCat("\"v", version, "\""));
  }
  return req;
}

class ClusterWriteTest : public testing_util::TqdbClusterTest {
 protected:
  void Create(const std::string& name, uint32_t shards, uint32_t replicas) {
    v1::CreateCollectionRequest req = testing_util::CollectionRequest(
        name, kDim, v1::METRIC_L2, shards, replicas);
    req.mutable_ivf()->set_train_threshold(500);  // shards train meanwhile
    v1::CollectionInfo info;
    ASSERT_NO_FATAL_FAILURE(CreateCollection(req, &info));
    EXPECT_EQ(info.shards(), shards);
    EXPECT_EQ(info.replicas(), replicas);
    shards_ = shards;
    replicas_ = replicas;
  }

  // Stops the nodes and checks every data directory: each shard on exactly
  // replicas_ nodes, each copy holding exactly the model's points of that
  // shard, with their vectors and payloads.
  void CheckDataDirs(const std::string& name, const Model& model) {
    cluster_->StopNodes();
    std::map<uint32_t, int> copies;
    for (int i = 0; i < cluster_->size(); ++i) {
      DatabaseOptions o;
      o.background_training = false;
      o.create_if_missing = false;
      auto db = Database::Open(cluster_->data_dir(i), o);
      ASSERT_TRUE(db.ok()) << db.status();
      for (const std::string& local : (*db)->ListCollections()) {
        auto parsed = cluster::ParseLocalName(local);
        ASSERT_TRUE(parsed.has_value()) << local;
        const uint32_t shard = parsed->shard;
        ++copies[shard];
        auto c = *(*db)->GetCollection(local);
        std::vector<uint64_t> ids;
        for (const auto& [id, version] : model) {
          if (cluster::ShardOf(id, shards_) == shard) ids.push_back(id);
        }
        ASSERT_EQ(c->Count(), ids.size())
            << "node " << i + 1 << " shard " << shard << " (" << name << ")";
        auto got = c->Get(ids, true, true);
        ASSERT_TRUE(got.ok()) << got.status();
        ASSERT_EQ(got->size(), ids.size());
        for (const Record& r : *got) {
          const uint64_t version = model.at(r.id);
          ASSERT_EQ(r.payload, absl::StrCat("\"v", version, "\""))
              << "id " << r.id;
          ASSERT_EQ(r.vector, VectorOf(r.id, version)) << "id " << r.id;
        }
      }
    }
    for (uint32_t s = 0; s < shards_; ++s) {
      EXPECT_EQ(copies[s], static_cast<int>(replicas_)) << "shard " << s;
    }
  }

  uint32_t shards_ = 0, replicas_ = 0;
};

TEST_F(ClusterWriteTest, WritesReachEveryReplicaExactlyOnce) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  ASSERT_NO_FATAL_FAILURE(Create("docs", 8, 2));
  Model model;
  std::map<uint32_t, uint64_t> written;
  // 4,000 points from two nodes, then updates of 500 and deletes of 500.
  for (int b = 0; b < 20; ++b) {
    grpc::ClientContext ctx;
    v1::UpsertResponse resp;
    auto req = UpsertOf("docs", b * 200, 200, 0);
    grpc::Status s = cluster_->Points(b % 2)->Upsert(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.upserted(), 200u);
    EXPECT_EQ(resp.sequences_size(), 8);  // 200 ids reach all 8 shards
    Merge(resp.sequences(), &written);
    for (int i = 0; i < 200; ++i) model[b * 200 + i] = 0;
  }
  {
    grpc::ClientContext ctx;
    v1::UpsertResponse resp;
    grpc::Status s = cluster_->Points(2)->Upsert(
        &ctx, UpsertOf("docs", 1000, 500, 1), &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    Merge(resp.sequences(), &written);
    for (int i = 1000; i < 1500; ++i) model[i] = 1;
  }
  {
    grpc::ClientContext ctx;
    v1::DeletePointsRequest req;
    req.set_collection("docs");
    for (uint64_t id = 3000; id < 3500; ++id) req.add_ids(id);
    req.add_ids(999999);  // unknown: ignored
    v1::DeletePointsResponse resp;
    grpc::Status s = cluster_->Points(1)->Delete(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    Merge(resp.sequences(), &written);
    for (uint64_t id = 3000; id < 3500; ++id) model.erase(id);
  }
  // Sequences grow with each write of a shard.
  for (const auto& [shard, seq] : written) EXPECT_GT(seq, 0u);
  std::string why;
  ASSERT_TRUE(testing_util::AwaitApplied(*cluster_, {0, 1, 2}, "docs", written,
                                         2, absl::Seconds(30), &why))
      << why;
  CheckDataDirs("docs", model);
}

// UpsertStream writes its batches to the log in groups: a later batch's
// point still wins over an earlier one's, and a bad batch fails as on a
// single server, after every batch before it is stored.
TEST_F(ClusterWriteTest, StreamedBatchesKeepTheirOrder) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  ASSERT_NO_FATAL_FAILURE(Create("docs", 4, 2));
  Model model;
  std::map<uint32_t, uint64_t> written;
  {
    // 25 batches of 1,000 (3 groups at --max-batch 10000); batches 20-24
    // rewrite the ids of batches 0-4.
    grpc::ClientContext ctx;
    v1::UpsertResponse resp;
    auto stream = cluster_->Points(0)->UpsertStream(&ctx, &resp);
    for (uint64_t b = 0; b < 25; ++b) {
      ASSERT_TRUE(stream->Write(UpsertOf("docs", (b % 20) * 1000, 1000, b)));
      for (uint64_t id = (b % 20) * 1000; id < (b % 20 + 1) * 1000; ++id) {
        model[id] = b;
      }
    }
    ASSERT_TRUE(stream->WritesDone());
    grpc::Status s = stream->Finish();
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.upserted(), 25000u);
    EXPECT_EQ(resp.batches(), 25u);
    EXPECT_EQ(resp.sequences_size(), 4);
    Merge(resp.sequences(), &written);
  }
  {
    // Batch 3 holds a NaN: batches 0-2 are stored, 3 and 4 are not.
    grpc::ClientContext ctx;
    v1::UpsertResponse resp;
    auto stream = cluster_->Points(1)->UpsertStream(&ctx, &resp);
    for (uint64_t b = 0; b < 5; ++b) {
      auto req = UpsertOf("docs", 20000 + b * 1000, 1000, 0);
      if (b == 3) req.mutable_points(7)->set_vector(2, std::nanf(""));
      if (!stream->Write(req)) break;
      if (b < 3) {
        for (uint64_t id = 20000 + b * 1000; id < 21000 + b * 1000; ++id) {
          model[id] = 0;
        }
      }
    }
    stream->WritesDone();
    grpc::Status s = stream->Finish();
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("batch 3"), std::string::npos)
        << s.error_message();
    EXPECT_NE(s.error_message().find("NaN"), std::string::npos)
        << s.error_message();
    EXPECT_NE(s.error_message().find(
                  "(3 batches, 3000 points before it were stored)"),
              std::string::npos)
        << s.error_message();
  }
  {
    // A write after both streams: its sequences cover every shard.
    grpc::ClientContext ctx;
    v1::UpsertResponse resp;
    grpc::Status s = cluster_->Points(2)->Upsert(
        &ctx, UpsertOf("docs", 30000, 100, 1), &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    Merge(resp.sequences(), &written);
    for (uint64_t id = 30000; id < 30100; ++id) model[id] = 1;
  }
  std::string why;
  ASSERT_TRUE(testing_util::AwaitApplied(*cluster_, {0, 1, 2}, "docs", written,
                                         2, absl::Seconds(60), &why))
      << why;
  CheckDataDirs("docs", model);
}

TEST_F(ClusterWriteTest, KillNineOfANodeDuringIngestLosesNothing) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  ASSERT_NO_FATAL_FAILURE(Create("docs", 6, 2));
  // A client ingests 30,000 points in batches of 300, round-robin over the
  // nodes, retrying a failed batch on the next node until acknowledged.
  constexpr int kBatches = 100, kBatch = 300;
  std::atomic<int> acknowledged{0};
  std::map<uint32_t, uint64_t> written;
  std::atomic<int> retries{0};
  std::thread client([&] {
    for (int b = 0; b < kBatches; ++b) {
      const auto req = UpsertOf("docs", b * kBatch, kBatch, 0);
      for (int attempt = 0;; ++attempt) {
        grpc::ClientContext ctx;
        ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
        v1::UpsertResponse resp;
        grpc::Status s =
            cluster_->Points((b + attempt) % 3)->Upsert(&ctx, req, &resp);
        if (s.ok()) {
          Merge(resp.sequences(), &written);
          break;
        }
        ++retries;
        ASSERT_LT(attempt, 20) << s.error_message();
        absl::SleepFor(absl::Milliseconds(50));
      }
      ++acknowledged;
    }
  });
  ASSERT_TRUE(testing_util::Eventually(
      absl::Seconds(60), [&] { return acknowledged >= kBatches * 3 / 10; }));
  cluster_->node(1).Signal(SIGKILL);
  ASSERT_TRUE(testing_util::Eventually(
      absl::Seconds(60), [&] { return acknowledged >= kBatches * 6 / 10; }));
  {
    const absl::Status restarted = cluster_->RestartNode(1);
    ASSERT_TRUE(restarted.ok()) << restarted;
  }
  client.join();
  ASSERT_EQ(acknowledged.load(), kBatches);
  Model model;
  for (uint64_t id = 0; id < kBatches * kBatch; ++id) model[id] = 0;
  std::string why;
  ASSERT_TRUE(testing_util::AwaitApplied(*cluster_, {0, 1, 2}, "docs", written,
                                         2, absl::Seconds(60), &why))
      << why;
  CheckDataDirs("docs", model);
}

TEST_F(ClusterWriteTest, BadInputAndOutagesGetClearErrors) {
  TqdbClusterOptions o;
  o.extra_flags = {"--write-timeout", "2"};
  ASSERT_NO_FATAL_FAILURE(StartCluster(o));
  ASSERT_NO_FATAL_FAILURE(Create("docs", 4, 2));
  auto upsert = [&](int node, const v1::UpsertRequest& req) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    v1::UpsertResponse resp;
    return cluster_->Points(node)->Upsert(&ctx, req, &resp);
  };
  grpc::Status s = upsert(0, UpsertOf("nope", 0, 1, 0));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  {
    // A name is echoed capped (quant/echo.h): a 10,000-character one comes
    // back as its first bytes and its length, on every route of a node.
    const std::string name(10000, 'n');
    std::vector<std::pair<std::string, grpc::Status>> got;
    got.emplace_back("upsert", upsert(1, UpsertOf(name, 0, 1, 0)));
    {
      v1::SearchRequest req;
      req.set_collection(name);
      req.add_vector(1.0f);
      req.set_limit(1);
      grpc::ClientContext ctx;
      v1::SearchResponse resp;
      got.emplace_back("search", cluster_->Points(0)->Search(&ctx, req, &resp));
    }
    {
      v1::CountRequest req;
      req.set_collection(name);
      grpc::ClientContext ctx;
      v1::CountResponse resp;
      got.emplace_back("count", cluster_->Points(2)->Count(&ctx, req, &resp));
    }
    {
      v1::GetCollectionRequest req;
      req.set_name(name);
      grpc::ClientContext ctx;
      v1::CollectionInfo resp;
      got.emplace_back("info", cluster_->Collections(1)->Get(&ctx, req, &resp));
    }
    {
      v1::DeleteCollectionRequest req;
      req.set_name(name);
      grpc::ClientContext ctx;
      v1::DeleteCollectionResponse resp;
      got.emplace_back("drop",
                       cluster_->Collections(0)->Delete(&ctx, req, &resp));
    }
    for (const auto& [call, st] : got) {
      EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND)
          << call << ": " << st.error_message().substr(0, 200);
      EXPECT_LT(st.error_message().size(), 300u) << call;
      EXPECT_NE(st.error_message().find("... (10000 bytes)"), std::string::npos)
          << call << ": " << st.error_message().substr(0, 200);
    }
  }
  auto bad = UpsertOf("docs", 0, 10, 0);
  bad.mutable_points(7)->add_vector(1.0f);
  s = upsert(1, bad);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("point 7 (id 7)"), std::string::npos)
      << s.error_message();
  {
    v1::CreateCollectionRequest req;
    req.set_name("docs");
    req.set_dim(kDim);
    grpc::ClientContext ctx;
    v1::CollectionInfo info;
    s = cluster_->Collections(2)->Create(&ctx, req, &info);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
    req.set_name("more");
    req.set_replicas(4);
    grpc::ClientContext ctx2;
    s = cluster_->Collections(2)->Create(&ctx2, req, &info);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_NE(s.error_message().find("replicas 4"), std::string::npos);
    req.set_replicas(0);
    req.set_shards(5000);
    grpc::ClientContext ctx3;
    s = cluster_->Collections(2)->Create(&ctx3, req, &info);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    // A rescoring source this build does not know is refused, as by a
    // single server (not read as raw).
    req.set_shards(0);
    req.set_refine(static_cast<v1::Refine>(9));
    grpc::ClientContext ctx4;
    s = cluster_->Collections(2)->Create(&ctx4, req, &info);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(s.error_message().find("refine"), std::string::npos)
        << s.error_message();
  }
  // etcd hung: writes go on (each node routes with its copy of the state).
  cluster_->etcd().process().Signal(SIGSTOP);
  s = upsert(0, UpsertOf("docs", 0, 50, 0));
  EXPECT_TRUE(s.ok()) << s.error_message();
  cluster_->etcd().process().Signal(SIGCONT);
  // Every NATS server hung: UNAVAILABLE within the write timeout, never a
  // silent drop; once they are back, writes work again by themselves.
  for (int i = 0; i < 3; ++i) cluster_->nats().server(i).Signal(SIGSTOP);
  const absl::Time t0 = absl::Now();
  s = upsert(1, UpsertOf("docs", 100, 50, 0));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_LT(absl::Now() - t0, absl::Seconds(10));
  // A node's status still answers, within its time for JetStream lookups
  // (not 5 s a replica: 2 s in all), each replica saying why its consumer
  // is unknown.
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(20));
    cluster::v1::NodeStatusResponse st;
    const absl::Time t1 = absl::Now();
    const grpc::Status status = cluster_->NodeStub(0)->Status(
        &ctx, cluster::v1::NodeStatusRequest(), &st);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_LT(absl::Now() - t1, absl::Seconds(5));
    ASSERT_GT(st.replicas_size(), 1);
    for (const auto& r : st.replicas()) {
      EXPECT_FALSE(r.consumer_error().empty()) << "shard " << r.shard();
    }
  }
  for (int i = 0; i < 3; ++i) cluster_->nats().server(i).Signal(SIGCONT);
  EXPECT_TRUE(testing_util::Eventually(absl::Seconds(30), [&] {
    return upsert(1, UpsertOf("docs", 100, 50, 0)).ok();
  }));
  // The collection goes away everywhere with a drop. Just after the outage
  // JetStream may still time out deleting the stream (seen: "delete stream
  // tqdb_docs: Timeout"); the drop then says to drop again, as an operator
  // would.
  {
    v1::DeleteCollectionRequest req;
    req.set_name("docs");
    v1::DeleteCollectionResponse resp;
    EXPECT_TRUE(testing_util::Eventually(absl::Seconds(30), [&] {
      grpc::ClientContext ctx;
      s = cluster_->Collections(1)->Delete(&ctx, req, &resp);
      // Done unless told to drop again (another failure: asserted below).
      return s.ok() ||
             s.error_message().find("drop it again") == std::string::npos;
    }));
    ASSERT_TRUE(s.ok()) << s.error_message();
    grpc::ClientContext ctx2;
    s = cluster_->Collections(1)->Delete(&ctx2, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  }
  EXPECT_TRUE(testing_util::Eventually(absl::Seconds(10), [&] {
    for (int i = 0; i < 3; ++i) {
      grpc::ClientContext ctx;
      cluster::v1::NodeStatusResponse st;
      if (!cluster_->NodeStub(i)
               ->Status(&ctx, cluster::v1::NodeStatusRequest(), &st)
               .ok() ||
          st.replicas_size() != 0) {
        return false;
      }
    }
    return true;
  }));
}

// A node down while retention (--stream-max-age) drops the entries it has
// not applied: on restart its replicas take the most advanced copy another
// replica holds (points and payload index), then apply the log after it;
// a replica whose shard had no entries meanwhile takes none.
TEST_F(ClusterWriteTest, AReplicaTheLogNoLongerCoversTakesAPeersCopy) {
  TqdbClusterOptions o;
  o.extra_flags = {"--stream-max-age", "3"};
  ASSERT_NO_FATAL_FAILURE(StartCluster(o));
  ASSERT_NO_FATAL_FAILURE(Create("docs", 2, 3));  // every node, every shard
  Model model;
  std::map<uint32_t, uint64_t> written;
  auto merge = [&](const auto& sequences) { Merge(sequences, &written); };
  auto upsert_ids = [&](int via, const std::vector<uint64_t>& ids,
                        uint64_t version) {
    v1::UpsertRequest req;
    for (uint64_t id : ids) {
      *req.add_points() = UpsertOf("docs", id, 1, version).points(0);
      model[id] = version;
    }
    req.set_collection("docs");
    grpc::ClientContext ctx;
    v1::UpsertResponse resp;
    grpc::Status s = cluster_->Points(via)->Upsert(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    merge(resp.sequences());
  };
  auto upsert = [&](int via, uint64_t first, uint64_t n, uint64_t version) {
    std::vector<uint64_t> ids;
    for (uint64_t id = first; id < first + n; ++id) ids.push_back(id);
    upsert_ids(via, ids, version);
  };
  // Node 3's replicas: each applied everything written, and took `copies`
  // copies (by shard) since the node started.
  auto expect_node3 = [&](const std::vector<uint32_t>& copies) {
    std::string why;
    ASSERT_TRUE(testing_util::AwaitApplied(*cluster_, {2}, "docs", written, 1,
                                           absl::Seconds(60), &why))
        << why;
    grpc::ClientContext ctx;
    cluster::v1::NodeStatusResponse st;
    grpc::Status s = cluster_->NodeStub(2)->Status(
        &ctx, cluster::v1::NodeStatusRequest(), &st);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(st.replicas_size(), 2);
    for (const auto& r : st.replicas()) {
      EXPECT_EQ(r.copies_taken(), copies[r.shard()]) << "shard " << r.shard();
      EXPECT_FALSE(r.taking_copy());
      EXPECT_EQ(r.last_error(), "") << "shard " << r.shard();
    }
  };
  ASSERT_NO_FATAL_FAILURE(upsert(0, 0, 600, 0));
  std::string why;
  ASSERT_TRUE(testing_util::AwaitApplied(*cluster_, {0, 1, 2}, "docs", written,
                                         3, absl::Seconds(30), &why))
      << why;
  cluster_->StopNode(2);
  // What node 3 misses: new points and new versions, deletes, an index.
  ASSERT_NO_FATAL_FAILURE(upsert(1, 300, 600, 1));
  {
    grpc::ClientContext ctx;
    v1::DeletePointsRequest req;
    req.set_collection("docs");
    for (uint64_t id = 0; id < 100; ++id) req.add_ids(id);
    v1::DeletePointsResponse resp;
    grpc::Status s = cluster_->Points(0)->Delete(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    merge(resp.sequences());
    for (uint64_t id = 0; id < 100; ++id) model.erase(id);
  }
  {
    grpc::ClientContext ctx;
    v1::CreateFieldIndexRequest req;
    req.set_collection("docs");
    req.set_field("tag");
    req.set_type(v1::FIELD_TYPE_KEYWORD);
    v1::PayloadIndexInfo info;
    grpc::Status s =
        cluster_->Collections(1)->CreateFieldIndex(&ctx, req, &info);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  ASSERT_TRUE(testing_util::AwaitApplied(*cluster_, {0, 1}, "docs", written, 2,
                                         absl::Seconds(30), &why))
      << why;
  // Every entry so far expires (3 s), then one more write.
  absl::SleepFor(absl::Seconds(4));
  ASSERT_NO_FATAL_FAILURE(upsert(0, 2000, 50, 2));
  {
    const absl::Status restarted = cluster_->RestartNode(2);
    ASSERT_TRUE(restarted.ok()) << restarted;
  }
  ASSERT_NO_FATAL_FAILURE(expect_node3({1, 1}));
  // Again, but only shard 0 written meanwhile: shard 1's replica finds the
  // log's start past it too but no other replica holding more, and takes
  // no copy.
  cluster_->StopNode(2);
  std::vector<uint64_t> shard0;
  for (uint64_t id = 3000; shard0.size() < 40; ++id) {
    if (cluster::ShardOf(id, 2) == 0) shard0.push_back(id);
  }
  ASSERT_NO_FATAL_FAILURE(upsert_ids(1, shard0, 3));
  ASSERT_TRUE(testing_util::AwaitApplied(*cluster_, {0, 1}, "docs", written, 2,
                                         absl::Seconds(30), &why))
      << why;
  absl::SleepFor(absl::Seconds(4));
  ASSERT_NO_FATAL_FAILURE(upsert_ids(0, {shard0[0]}, 4));
  {
    const absl::Status restarted = cluster_->RestartNode(2);
    ASSERT_TRUE(restarted.ok()) << restarted;
  }
  ASSERT_NO_FATAL_FAILURE(expect_node3({1, 0}));
  EXPECT_NE(
      cluster_->node(2).LogTail().find("shard 1: the stream's oldest entry is"),
      std::string::npos)
      << cluster_->node(2).LogTail();
  EXPECT_NE(cluster_->node(2).LogTail().find("no other replica holds more"),
            std::string::npos)
      << cluster_->node(2).LogTail();
  CheckDataDirs("docs", model);
  // Node 3's copies took the index made while it was down.
  DatabaseOptions dbo;
  dbo.background_training = false;
  dbo.create_if_missing = false;
  auto db = Database::Open(cluster_->data_dir(2), dbo);
  ASSERT_TRUE(db.ok()) << db.status();
  for (const std::string& local : (*db)->ListCollections()) {
    auto info = (*(*db)->GetCollection(local))->Info();
    ASSERT_TRUE(info.ok()) << info.status();
    ASSERT_EQ(info->field_indexes.size(), 1u) << local;
    EXPECT_EQ(info->field_indexes[0].field, "tag");
  }
}

TEST_F(ClusterWriteTest, StartFailuresNameWhatIsMissing) {
  TqdbClusterOptions o;
  o.nodes = 1;
  o.nats_servers = 2;
  o.stream_replicas = 1;
  ASSERT_NO_FATAL_FAILURE(StartCluster(o));
  // Runs `tqdb serve` with node 1's flags but these; returns its exit code
  // and output.
  auto run = [&](const std::map<std::string, std::string>& changes,
                 const std::string& name, std::string* out) {
    std::vector<std::string> argv = cluster_->NodeCommand(0);
    for (size_t i = 0; i + 1 < argv.size(); ++i) {
      auto it = changes.find(argv[i]);
      if (it != changes.end()) argv[i + 1] = it->second;
    }
    auto p = testing_util::ChildProcess::Spawn(argv, dir_.path() + "/" + name);
    EXPECT_TRUE(p.ok());
    EXPECT_TRUE((*p)->WaitExit(absl::Seconds(30))) << name;
    *out = (*p)->LogTail();
    return (*p)->exit_code();
  };
  const std::string dead =
      absl::StrCat("127.0.0.1:", testing_util::FreeLoopbackPort());
  std::string out;
  // Another process for the live node 1 (its own data and address):
  // refused, a usage error.
  EXPECT_EQ(run({{"--advertise", dead},
                 {"--listen", dead},
                 {"--data", dir_.path() + "/other"},
                 {"--port-file", dir_.path() + "/other.port"}},
                "taken.log", &out),
            2);
  EXPECT_NE(out.find("node id 1 is registered by " + cluster_->address(0)),
            std::string::npos)
      << out;
  cluster_->StopNodes();
  // etcd or NATS unreachable: exit 1 naming the address.
  EXPECT_EQ(run({{"--cluster", "etcd=" + dead}}, "etcd.log", &out), 1);
  EXPECT_NE(out.find("etcd at " + dead), std::string::npos) << out;
  EXPECT_EQ(run({{"--nats", "nats://" + dead}}, "nats.log", &out), 1);
  EXPECT_NE(out.find("nats://" + dead), std::string::npos) << out;
  // The data directory belongs to node 1.
  EXPECT_EQ(run({{"--node-id", "7"}}, "id.log", &out), 2);
  EXPECT_NE(out.find("holds the data of cluster node 1"), std::string::npos)
      << out;
  // A snapshot restored under a node would be collections the cluster does
  // not know: a usage error.
  {
    std::vector<std::string> argv = cluster_->NodeCommand(0);
    argv.insert(argv.end(), {"--restore", dir_.path() + "/snapshot"});
    auto p =
        testing_util::ChildProcess::Spawn(argv, dir_.path() + "/restore.log");
    ASSERT_TRUE(p.ok()) << p.status();
    ASSERT_TRUE((*p)->WaitExit(absl::Seconds(30)));
    EXPECT_EQ((*p)->exit_code(), 2);
    EXPECT_NE((*p)->LogTail().find("--restore does not apply to a cluster"),
              std::string::npos)
        << (*p)->LogTail();
  }
}

}  // namespace
}  // namespace tqdb
