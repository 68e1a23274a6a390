// The balancer and catch-up end to end (real tqdb nodes, etcd, NATS): a
// node gone for good has its shards re-replicated on the others (the new
// replicas replay their shards' subjects, then turn ready), and a node that
// joins gets its share of the shards moved to it; counts and data stay
// exact throughout.
#include <signal.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "db/db.h"
#include "gtest/gtest.h"
#include "rpc/cluster/cluster_keys.h"
#include "rpc/cluster/etcd_client.h"
#include "tests/cluster/cluster_test_util.h"
#include "tests/cluster/tqdb_cluster.h"
#include "tests/test_util.h"
#include "tqdb/cluster/v1/cluster.grpc.pb.h"
#include "tqdb/cluster/v1/cluster.pb.h"

namespace tqdb {
namespace {

using testing_util::Eventually;
using testing_util::TqdbClusterOptions;

constexpr uint32_t kDim = 8;

class ClusterBalanceTest : public testing_util::TqdbClusterTest {
 protected:
  void StartCluster(TqdbClusterOptions o) {
    o.extra_flags = {"--replace-after", "2"};
    ASSERT_NO_FATAL_FAILURE(TqdbClusterTest::StartCluster(o));
    cluster::EtcdOptions eo;
    eo.endpoints = {cluster_->etcd().endpoint()};
    auto etcd = cluster::EtcdClient::Connect(eo);
    ASSERT_TRUE(etcd.ok()) << etcd.status();
    etcd_ = std::move(*etcd);
  }

  void CreateAndIngest(uint32_t shards, uint64_t n) {
    ASSERT_NO_FATAL_FAILURE(Create("docs", kDim, v1::METRIC_L2, shards));
    x_ = testing_util::RandomUnitVectors(n, kDim, 5);
    for (uint64_t b = 0; b < n; b += 1000) {
      v1::UpsertRequest up;
      up.set_collection("docs");
      for (uint64_t id = b; id < std::min(n, b + 1000); ++id) {
        v1::Point* p = up.add_points();
        p->set_id(id);
        p->mutable_vector()->Add(x_.begin() + id * kDim,
                                 x_.begin() + (id + 1) * kDim);
      }
      grpc::ClientContext uctx;
      v1::UpsertResponse resp;
      grpc::Status s = cluster_->Points(0)->Upsert(&uctx, up, &resp);
      ASSERT_TRUE(s.ok()) << s.error_message();
      for (const auto& seq : resp.sequences()) {
        written_[seq.shard()] = std::max(written_[seq.shard()], seq.sequence());
      }
    }
    n_ = n;
  }

  tqdb::cluster::v1::ShardMap Map() {
    tqdb::cluster::v1::ShardMap map;
    auto kv = etcd_->Get(cluster::ShardMapKey("docs"));
    EXPECT_TRUE(kv.ok() && kv->has_value());
    if (kv.ok() && kv->has_value()) {
      EXPECT_TRUE(cluster::FromJson((*kv)->value, &map, "map").ok());
    }
    return map;
  }

  // Every shard on exactly 2 replicas, both ready, all among `nodes`, and
  // the loads within one of each other.
  bool Settled(const std::vector<uint32_t>& nodes, std::string* why) {
    const auto map = Map();
    std::map<uint32_t, int> load;
    for (uint32_t n : nodes) load[n] = 0;
    for (int s = 0; s < map.shards_size(); ++s) {
      const auto& a = map.shards(s);
      if (a.replicas_size() != 2 || a.ready_size() != 2) {
        *why = absl::StrCat("shard ", s, ": ", a.ShortDebugString());
        return false;
      }
      for (uint32_t n : a.replicas()) {
        if (!load.count(n)) {
          *why = absl::StrCat("shard ", s, " on node ", n);
          return false;
        }
        ++load[n];
      }
    }
    int lo = 1 << 30, hi = 0;
    for (const auto& [n, l] : load) {
      lo = std::min(lo, l);
      hi = std::max(hi, l);
    }
    *why = absl::StrCat("loads from ", lo, " to ", hi);
    return hi - lo <= 1;
  }

  uint64_t Count(int node) {
    v1::CountRequest req;
    req.set_collection("docs");
    req.set_consistency(v1::CONSISTENCY_READ_YOUR_WRITES);
    for (const auto& [shard, seq] : written_) {
      v1::ShardSequence* s = req.add_read_after();
      s->set_shard(shard);
      s->set_sequence(seq);
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    v1::CountResponse resp;
    grpc::Status s = cluster_->Points(node)->Count(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.count();
  }

  // Once the nodes dropped the replicas moved away (stopped, and their data
  // dropped: a replica leaves the status's replicas before its collection
  // is dropped) and every replica applied its shard's last write (a new
  // replica is listed while it catches up: once, node 3's copy of a shard
  // was stopped still empty), and stopped: each shard's copies on `nodes`
  // hold its points.
  void CheckDataDirs(const std::vector<int>& nodes, uint32_t shards) {
    int held = 0, stored = 0, behind = 0;
    EXPECT_TRUE(Eventually(
        absl::Seconds(20),
        [&] {
          held = 0;
          stored = 0;
          behind = 0;
          for (int i : nodes) {
            grpc::ClientContext ctx;
            tqdb::cluster::v1::NodeStatusResponse st;
            if (!cluster_->NodeStub(i)
                     ->Status(&ctx, tqdb::cluster::v1::NodeStatusRequest(), &st)
                     .ok()) {
              return false;
            }
            held += st.replicas_size();
            stored += st.local_collections_size();
            for (const auto& r : st.replicas()) {
              const auto w = written_.find(r.shard());
              if (w != written_.end() && r.applied_sequence() < w->second) {
                ++behind;
              }
            }
          }
          return held == static_cast<int>(2 * shards) &&
                 stored == static_cast<int>(2 * shards) && behind == 0;
        }))
        << held << " replicas held, " << stored << " stored, " << behind
        << " behind the last write";
    cluster_->StopNodes();
    std::map<uint32_t, int> copies;
    for (int i : nodes) {
      DatabaseOptions o;
      o.background_training = false;
      o.create_if_missing = false;
      auto db = Database::Open(cluster_->data_dir(i), o);
      ASSERT_TRUE(db.ok()) << db.status();
      for (const std::string& local : (*db)->ListCollections()) {
        auto parsed = cluster::ParseLocalName(local);
        ASSERT_TRUE(parsed.has_value());
        uint64_t expected = 0;
        for (uint64_t id = 0; id < n_; ++id) {
          expected += cluster::ShardOf(id, shards) == parsed->shard;
        }
        EXPECT_EQ((*(*db)->GetCollection(local))->Count(), expected)
            << "node " << i + 1 << " shard " << parsed->shard;
        ++copies[parsed->shard];
      }
    }
    for (uint32_t s = 0; s < shards; ++s) {
      EXPECT_EQ(copies[s], 2) << "shard " << s;
    }
  }

  std::unique_ptr<cluster::EtcdClient> etcd_;
  std::vector<float> x_;
  std::map<uint32_t, uint64_t> written_;
  uint64_t n_ = 0;
};

TEST_F(ClusterBalanceTest, AGoneNodesShardsAreReplicatedElsewhere) {
  TqdbClusterOptions o;
  o.nodes = 4;
  ASSERT_NO_FATAL_FAILURE(StartCluster(o));
  ASSERT_NO_FATAL_FAILURE(CreateAndIngest(8, 8000));
  std::string why;
  ASSERT_TRUE(Eventually(absl::Seconds(30), [&] {
    return Settled({1, 2, 3, 4}, &why);
  })) << why;
  cluster_->node(3).Signal(SIGKILL);  // node 4, for good
  EXPECT_TRUE(Eventually(absl::Seconds(60), [&] {
    return Settled({1, 2, 3}, &why);
  })) << why;
  EXPECT_EQ(Count(1), n_);
  // The new replicas hold every point (they replayed their shards' logs).
  CheckDataDirs({0, 1, 2}, 8);
}

TEST_F(ClusterBalanceTest, AJoiningNodeGetsItsShare) {
  TqdbClusterOptions o;
  o.nodes = 3;
  o.initial_nodes = 2;
  ASSERT_NO_FATAL_FAILURE(StartCluster(o));
  ASSERT_NO_FATAL_FAILURE(CreateAndIngest(6, 6000));
  auto record = etcd_->Get(cluster::CollectionKey("docs"));
  ASSERT_TRUE(record.ok() && record->has_value());
  const int64_t uid = (*record)->create_revision;
  auto shards = tqdb::cluster::v1::Shards::NewStub(grpc::CreateChannel(
      cluster_->address(2), grpc::InsecureChannelCredentials()));
  ASSERT_TRUE(cluster_->StartNode(2).ok());
  // While node 3 replays the shards moved to it, a reader whose map is
  // stale (one that listed node 3 ready, before a removal and this re-add)
  // would ask it for them: its eventual answers are whole shards or
  // refusals (Unavailable: the reader asks another replica), never a prefix.
  int asked = 0, refused = 0;
  std::string why;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  bool settled = false;
  while (!(settled = Settled({1, 2, 3}, &why)) && absl::Now() < deadline) {
    const auto map = Map();
    for (int s = 0; s < map.shards_size(); ++s) {
      const auto& a = map.shards(s);
      const auto has = [](const auto& ids, uint32_t n) {
        return std::find(ids.begin(), ids.end(), n) != ids.end();
      };
      if (!has(a.replicas(), 3) || has(a.ready(), 3)) continue;
      tqdb::cluster::v1::ShardCountRequest req;
      req.mutable_target()->set_collection("docs");
      req.mutable_target()->set_uid(uid);
      req.mutable_target()->add_shards()->set_shard(static_cast<uint32_t>(s));
      grpc::ClientContext ctx;
      ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
      tqdb::cluster::v1::ShardCountResponse resp;
      const grpc::Status st = shards->Count(&ctx, req, &resp);
      ++asked;
      if (!st.ok()) {
        EXPECT_TRUE(st.error_code() == grpc::StatusCode::UNAVAILABLE ||
                    st.error_code() == grpc::StatusCode::NOT_FOUND)
            << st.error_code() << ": " << st.error_message();
        ++refused;
        continue;
      }
      uint64_t expected = 0;
      for (uint64_t id = 0; id < n_; ++id) {
        expected += cluster::ShardOf(id, 6) == static_cast<uint32_t>(s);
      }
      ASSERT_EQ(resp.counts_size(), 1);
      EXPECT_EQ(resp.counts(0), expected) << "shard " << s << " catching up";
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_TRUE(settled) << why;
  std::cerr << "node 3 asked for shards it was catching up: " << asked
            << " times, refused " << refused << std::endl;
  EXPECT_EQ(Count(2), n_);
  // Exact search finds stored points through every node.
  for (uint64_t id : {1ull, 2500ull, 5999ull}) {
    ASSERT_NO_FATAL_FAILURE(testing_util::ExpectExactTopOne(
        *cluster_, id % 3, "docs", &x_[id * kDim], kDim, id));
  }
  CheckDataDirs({0, 1, 2}, 6);
}

TEST_F(ClusterBalanceTest, ADrainedNodeHandsItsShardsOver) {
  TqdbClusterOptions o;
  o.nodes = 3;
  ASSERT_NO_FATAL_FAILURE(StartCluster(o));
  ASSERT_NO_FATAL_FAILURE(CreateAndIngest(6, 6000));
  std::string why;
  ASSERT_TRUE(Eventually(absl::Seconds(30), [&] {
    return Settled({1, 2, 3}, &why);
  })) << why;
  auto node = cluster_->NodeStub(0);
  auto drain = [&](uint32_t id, bool cancel,
                   tqdb::cluster::v1::DrainResponse* resp) {
    tqdb::cluster::v1::DrainRequest req;
    req.set_node_id(id);
    req.set_cancel(cancel);
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    return node->Drain(&ctx, req, resp);
  };
  tqdb::cluster::v1::DrainResponse resp;
  grpc::Status s = drain(3, false, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(resp.draining());
  // 6 shards x 2 over 3 nodes: 4 (fewer only if the balancer was that
  // quick).
  EXPECT_LE(resp.mapped_replicas(), 4u);
  // Draining node 2 as well would leave node 1 alone for 2 replicas.
  s = drain(2, false, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << s.error_message();
  EXPECT_NE(s.error_message().find("'docs'"), std::string::npos)
      << s.error_message();
  s = drain(9, false, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  // A collection created meanwhile is placed on the other nodes only.
  ASSERT_NO_FATAL_FAILURE(Create("other", kDim, v1::METRIC_L2, 4));
  {
    auto kv = etcd_->Get(cluster::ShardMapKey("other"));
    ASSERT_TRUE(kv.ok() && kv->has_value());
    tqdb::cluster::v1::ShardMap other;
    ASSERT_TRUE(cluster::FromJson((*kv)->value, &other, "map").ok());
    for (const auto& a : other.shards()) {
      for (uint32_t n : a.replicas()) EXPECT_NE(n, 3u) << a.ShortDebugString();
    }
    // (Dropped: the loads Settled checks are those of "docs" alone.)
    grpc::ClientContext ctx;
    v1::DeleteCollectionRequest del;
    del.set_name("other");
    v1::DeleteCollectionResponse deleted;
    const grpc::Status ds =
        cluster_->Collections(0)->Delete(&ctx, del, &deleted);
    ASSERT_TRUE(ds.ok()) << ds.error_message();
  }
  // Node 3's shards move to nodes 1 and 2; every point stays readable.
  EXPECT_TRUE(Eventually(absl::Seconds(60), [&] {
    return Settled({1, 2}, &why);
  })) << why;
  ASSERT_TRUE(drain(3, false, &resp).ok());  // asked again: the same drain
  EXPECT_TRUE(resp.draining());
  EXPECT_EQ(resp.mapped_replicas(), 0u);
  // Node 3's status, once its view has the settled map (it follows etcd's
  // watch): drained, and nodes 1 and 2 hold every replica, all ready.
  tqdb::cluster::v1::NodeStatusResponse status;
  auto as_settled = [&] {
    grpc::ClientContext ctx;
    status.Clear();
    if (!cluster_->NodeStub(2)
             ->Status(&ctx, tqdb::cluster::v1::NodeStatusRequest(), &status)
             .ok() ||
        !status.draining() || status.mapped_replicas() != 0 ||
        status.nodes_size() != 3) {
      return false;
    }
    for (const auto& n : status.nodes()) {
      const uint32_t want = n.node_id() == 3 ? 0 : 6;
      if (!n.live() || n.draining() != (n.node_id() == 3) ||
          n.mapped_replicas() != want || n.ready_replicas() != want) {
        return false;
      }
    }
    return true;
  };
  EXPECT_TRUE(Eventually(absl::Seconds(10), as_settled))
      << status.ShortDebugString();
  EXPECT_EQ(Count(0), n_);
  EXPECT_EQ(Count(2), n_);  // a drained node still answers as a coordinator
  // The drain ends: node 3 gets its share again.
  s = drain(3, true, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(resp.draining());
  EXPECT_TRUE(Eventually(absl::Seconds(60), [&] {
    return Settled({1, 2, 3}, &why);
  })) << why;
  EXPECT_EQ(Count(1), n_);
}

}  // namespace
}  // namespace tqdb
