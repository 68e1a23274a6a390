// rpc/cluster's etcd client, watch, lease keeper and leader election against
// a real etcd (Debian's etcd-server) started on free loopback ports.
#include "rpc/cluster/etcd_client.h"

#include <atomic>
#include <csignal>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "rpc/cluster/etcd_watch.h"
#include "rpc/cluster/leader_election.h"
#include "rpc/cluster/lease_keeper.h"
#include "tests/cluster/cluster_test_util.h"
#include "tests/cluster/service_processes.h"

namespace tqdb {
namespace cluster {
namespace {

using testing_util::Eventually;

class EtcdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    auto etcd = testing_util::EtcdServer::Start(dir_.path() + "/etcd");
    ASSERT_TRUE(etcd.ok()) << etcd.status();
    etcd_ = std::move(*etcd);
    client_ = Connect();
    ASSERT_NE(client_, nullptr);
  }

  std::unique_ptr<EtcdClient> Connect() {
    EtcdOptions o;
    o.endpoints = {etcd_->endpoint()};
    o.timeout = absl::Seconds(2);
    auto c = EtcdClient::Connect(o);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }

  testing_util::TempDir dir_;
  std::unique_ptr<testing_util::EtcdServer> etcd_;
  std::unique_ptr<EtcdClient> client_;
};

TEST(EtcdConnectTest, UnreachableIsUnavailableNamingTheAddress) {
  const int port = testing_util::FreeLoopbackPort();
  EtcdOptions o;
  o.endpoints = {absl::StrCat("127.0.0.1:", port)};
  o.timeout = absl::Milliseconds(500);
  const absl::Time start = absl::Now();
  auto c = EtcdClient::Connect(o);
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(absl::IsUnavailable(c.status()) ||
              absl::IsDeadlineExceeded(c.status()))
      << c.status();
  EXPECT_NE(c.status().message().find(o.endpoints[0]), std::string::npos)
      << c.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  EXPECT_TRUE(absl::IsInvalidArgument(EtcdClient::Connect({}).status()));
}

// A client that first contacts an etcd still starting waits for it
// within its timeout instead of failing on the first refused connection
// (a node started with its cluster, tools/cluster.sh up).
TEST_F(EtcdTest, ConnectWaitsForAnEtcdStartingWithinTheTimeout) {
  client_.reset();
  etcd_->process().Stop();
  EtcdOptions o;
  o.endpoints = {etcd_->endpoint()};
  o.timeout = absl::Seconds(20);
  absl::StatusOr<std::unique_ptr<EtcdClient>> c =
      absl::UnavailableError("not run");
  absl::Duration waited;
  // (etcd is started from this thread: a child dies with the thread that
  // spawned it.)
  std::thread connect([&] {
    const absl::Time start = absl::Now();
    c = EtcdClient::Connect(o);
    waited = absl::Now() - start;
  });
  absl::SleepFor(absl::Milliseconds(800));
  ASSERT_TRUE(etcd_->Restart().ok());
  connect.join();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_GE(waited, absl::Milliseconds(800));
  auto put = (*c)->Put("tqdb/after_start", "1");
  EXPECT_TRUE(put.ok()) << put.status();
}

TEST_F(EtcdTest, PutGetPrefixDelete) {
  EXPECT_FALSE(client_->server_version().empty());
  auto missing = client_->Get("tqdb/a");
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_FALSE(missing->has_value());

  auto r1 = client_->Put("tqdb/a", "1");
  ASSERT_TRUE(r1.ok()) << r1.status();
  auto r2 = client_->Put("tqdb/b", "2");
  ASSERT_TRUE(r2.ok());
  EXPECT_GT(*r2, *r1);
  ASSERT_TRUE(client_->Put("tqdc", "outside").ok());
  ASSERT_TRUE(client_->Put("tqdb/a", "one").ok());

  auto a = client_->Get("tqdb/a");
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((*a)->value, "one");
  EXPECT_EQ((*a)->create_revision, *r1);
  EXPECT_GT((*a)->mod_revision, *r2);
  EXPECT_EQ((*a)->version, 2);

  auto all = client_->GetPrefix("tqdb/");
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->kvs.size(), 2u);
  EXPECT_EQ(all->kvs[0].key, "tqdb/a");
  EXPECT_EQ(all->kvs[1].key, "tqdb/b");
  EXPECT_FALSE(all->more);
  auto limited = client_->GetPrefix("tqdb/", 1);
  ASSERT_TRUE(limited.ok());
  EXPECT_EQ(limited->kvs.size(), 1u);
  EXPECT_EQ(limited->count, 2);
  EXPECT_TRUE(limited->more);

  auto deleted = client_->Delete("tqdb/a");
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 1);
  EXPECT_EQ(*client_->DeletePrefix("tqdb/"), 1);
  EXPECT_EQ(client_->GetPrefix("tqdb/")->kvs.size(), 0u);
  EXPECT_TRUE(client_->Get("tqdc")->has_value());

  // Keys are bytes: a prefix ending in 0xff still bounds its range.
  const std::string k("p\xff\xff", 3);
  ASSERT_TRUE(client_->Put(k + "x", "v").ok());
  ASSERT_TRUE(client_->Put("q", "v").ok());
  EXPECT_EQ(client_->GetPrefix(k)->kvs.size(), 1u);
  EXPECT_EQ(PrefixRangeEnd(k), "q");
  EXPECT_EQ(PrefixRangeEnd(std::string("\xff", 1)), std::string(1, '\0'));
}

TEST_F(EtcdTest, CompareAndSwapIsAtomic) {
  // 0: only if absent.
  auto created = client_->CompareAndSwap("tqdb/counter", "0", 0);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(created->swapped);
  auto again = client_->CompareAndSwap("tqdb/counter", "x", 0);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->swapped);
  ASSERT_TRUE(again->current.has_value());
  EXPECT_EQ(again->current->value, "0");

  // Four writers increment by read-modify-CAS: no update is lost.
  constexpr int kThreads = 4, kEach = 25;
  std::atomic<int> conflicts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach;) {
        auto kv = client_->Get("tqdb/counter");
        ASSERT_TRUE(kv.ok() && kv->has_value());
        int v = 0;
        ASSERT_TRUE(absl::SimpleAtoi((*kv)->value, &v));
        auto cas = client_->CompareAndSwap("tqdb/counter", absl::StrCat(v + 1),
                                           (*kv)->mod_revision);
        ASSERT_TRUE(cas.ok()) << cas.status();
        if (cas->swapped) {
          ++i;
        } else {
          ++conflicts;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ((*client_->Get("tqdb/counter"))->value,
            absl::StrCat(kThreads * kEach));

  // A Txn: both keys or neither.
  auto kv = *client_->Get("tqdb/counter");
  auto txn = client_->Txn(
      {Compare::ModRevision("tqdb/counter", Compare::Op::kEqual,
                            kv->mod_revision),
       Compare::Version("tqdb/other", Compare::Op::kEqual, 0)},
      {TxnOp::Put("tqdb/counter", "done"), TxnOp::Put("tqdb/other", "x"),
       TxnOp::Get("tqdb/", /*prefix=*/true)},
      {});
  ASSERT_TRUE(txn.ok()) << txn.status();
  EXPECT_TRUE(txn->succeeded);
  ASSERT_EQ(txn->results.size(), 3u);
  EXPECT_EQ(txn->results[2].kvs.size(), 2u);
  auto stale =
      client_->Txn({Compare::ModRevision("tqdb/counter", Compare::Op::kEqual,
                                         kv->mod_revision)},
                   {TxnOp::Delete("tqdb/", true)}, {TxnOp::Get("tqdb/other")});
  ASSERT_TRUE(stale.ok());
  EXPECT_FALSE(stale->succeeded);
  EXPECT_EQ(stale->results[0].kvs[0].value, "x");
  auto del = client_->CompareAndDelete("tqdb/other",
                                       stale->results[0].kvs[0].mod_revision);
  ASSERT_TRUE(del.ok());
  EXPECT_TRUE(del->swapped);
  EXPECT_FALSE(client_->Get("tqdb/other")->has_value());
}

TEST_F(EtcdTest, LeasesExpireUnlessKeptAlive) {
  // A lease nobody refreshes: its key vanishes after the TTL.
  auto lease = client_->GrantLease(absl::Seconds(2));
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_GE(lease->ttl, absl::Seconds(2));
  ASSERT_TRUE(client_->Put("tqdb/nodes/1", "a", lease->id).ok());
  EXPECT_EQ((*client_->Get("tqdb/nodes/1"))->lease, lease->id);
  EXPECT_TRUE(Eventually(absl::Seconds(6), [&] {
    return !client_->Get("tqdb/nodes/1")->has_value();
  }));
  EXPECT_TRUE(absl::IsNotFound(client_->KeepAliveOnce(lease->id).status()));

  // A kept one outlives three TTLs; destroying the keeper revokes it.
  auto keeper = LeaseKeeper::Grant(client_.get(), absl::Seconds(2));
  ASSERT_TRUE(keeper.ok()) << keeper.status();
  ASSERT_TRUE(client_->Put("tqdb/nodes/2", "b", (*keeper)->id()).ok());
  EXPECT_FALSE((*keeper)->AwaitLost(absl::Seconds(6)));
  EXPECT_TRUE(client_->Get("tqdb/nodes/2")->has_value());
  auto ttl = client_->TimeToLive((*keeper)->id());
  ASSERT_TRUE(ttl.ok());
  EXPECT_GT(*ttl, absl::ZeroDuration());
  keeper->reset();
  EXPECT_FALSE(client_->Get("tqdb/nodes/2")->has_value());

  // Revoked by someone else: the keeper notices and reports it.
  auto other = LeaseKeeper::Grant(client_.get(), absl::Seconds(2));
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(client_->RevokeLease((*other)->id()).ok());
  EXPECT_TRUE((*other)->AwaitLost(absl::Seconds(5)));
  EXPECT_TRUE(absl::IsNotFound((*other)->status())) << (*other)->status();
}

TEST_F(EtcdTest, LeaseIsLostWhenEtcdIsGoneForItsTtl) {
  auto keeper = LeaseKeeper::Grant(client_.get(), absl::Seconds(2));
  ASSERT_TRUE(keeper.ok());
  etcd_->process().Signal(SIGSTOP);  // a hung etcd: no answers, no errors
  EXPECT_TRUE((*keeper)->AwaitLost(absl::Seconds(5)));
  EXPECT_FALSE((*keeper)->status().ok());
  etcd_->process().Signal(SIGCONT);
}

TEST_F(EtcdTest, WatchDeliversEveryChangeInOrderAcrossAnEtcdRestart) {
  WatchOptions o;
  o.key = "tqdb/map/";
  o.prefix = true;
  auto watch = EtcdWatch::Start(client_.get(), o);
  ASSERT_TRUE(watch.ok()) << watch.status();
  ASSERT_TRUE(client_->Put("tqdb/map/a", "1").ok());
  ASSERT_TRUE(client_->Put("tqdb/other", "ignored").ok());
  ASSERT_TRUE(client_->Put("tqdb/map/a", "2").ok());
  ASSERT_TRUE(client_->Delete("tqdb/map/a").ok());

  std::vector<WatchEvent> seen;
  auto collect = [&](size_t n) {
    return Eventually(absl::Seconds(10), [&] {
      auto events = (*watch)->Next(absl::Milliseconds(100));
      EXPECT_TRUE(events.ok()) << events.status();
      if (events.ok()) seen.insert(seen.end(), events->begin(), events->end());
      return seen.size() >= n;
    });
  };
  ASSERT_TRUE(collect(3));
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].kv.value, "1");
  EXPECT_EQ(seen[1].kv.value, "2");
  EXPECT_EQ(seen[2].type, WatchEvent::Type::kDelete);
  EXPECT_EQ(seen[2].kv.key, "tqdb/map/a");
  EXPECT_LT(seen[0].kv.mod_revision, seen[1].kv.mod_revision);

  // etcd goes away; a change made while the watch reconnects is delivered
  // once it is back, exactly once.
  ASSERT_TRUE(etcd_->Restart().ok());
  ASSERT_TRUE(Eventually(absl::Seconds(10), [&] {
    return client_->Put("tqdb/map/b", "after").ok();
  }));
  seen.clear();
  ASSERT_TRUE(collect(1));
  absl::SleepFor(absl::Milliseconds(300));
  auto rest = (*watch)->Next(absl::Milliseconds(100));
  ASSERT_TRUE(rest.ok());
  seen.insert(seen.end(), rest->begin(), rest->end());
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].kv.value, "after");
  EXPECT_GE((*watch)->reconnects(), 1);

  // From a past revision: the history since.
  WatchOptions past = o;
  past.start_revision = 1;
  auto replay = EtcdWatch::Start(client_.get(), past);
  ASSERT_TRUE(replay.ok());
  seen.clear();
  watch = std::move(replay);
  ASSERT_TRUE(collect(4));
  EXPECT_EQ(seen.size(), 4u);
}

TEST_F(EtcdTest, ElectionHasOneLeaderAndFencesTheOldOne) {
  auto lease1 = LeaseKeeper::Grant(client_.get(), absl::Seconds(2));
  auto lease2 = LeaseKeeper::Grant(client_.get(), absl::Seconds(2));
  ASSERT_TRUE(lease1.ok() && lease2.ok());
  LeaderElection e1(client_.get(), "tqdb/leader", "node-1", (*lease1)->id());
  LeaderElection e2(client_.get(), "tqdb/leader", "node-2", (*lease2)->id());
  auto term1 = e1.Campaign(absl::Seconds(5));
  ASSERT_TRUE(term1.ok()) << term1.status();
  EXPECT_EQ(*e1.Campaign(absl::Seconds(1)), *term1);  // leads already

  // The second candidate waits; a short campaign times out naming the
  // leader.
  auto early = e2.Campaign(absl::Milliseconds(300));
  EXPECT_TRUE(absl::IsDeadlineExceeded(early.status())) << early.status();
  EXPECT_NE(early.status().message().find("node-1"), std::string::npos);

  std::atomic<int64_t> term2{0};
  std::thread campaign([&] {
    auto t = e2.Campaign(absl::Seconds(10));
    EXPECT_TRUE(t.ok()) << t.status();
    if (t.ok()) term2 = *t;
  });
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(term2.load(), 0);
  // A write fenced by the leader's term lands while it leads.
  auto fenced =
      client_->Txn({e1.IsLeader()}, {TxnOp::Put("tqdb/map", "1")}, {});
  ASSERT_TRUE(fenced.ok());
  EXPECT_TRUE(fenced->succeeded);

  // The leader dies (its lease is revoked): the other takes over in a later
  // term, and the old leader's fenced writes no longer land.
  const Compare old_guard = e1.IsLeader();
  ASSERT_TRUE((*lease1)->Revoke().ok());
  campaign.join();
  EXPECT_GT(term2.load(), *term1);
  auto leader = e2.Leader();
  ASSERT_TRUE(leader.ok() && leader->has_value());
  EXPECT_EQ((*leader)->value, "node-2");
  auto late = client_->Txn({old_guard}, {TxnOp::Put("tqdb/map", "stale")}, {});
  ASSERT_TRUE(late.ok());
  EXPECT_FALSE(late->succeeded);
  EXPECT_EQ((*client_->Get("tqdb/map"))->value, "1");

  ASSERT_TRUE(e2.Resign().ok());
  EXPECT_FALSE(e2.Leader()->has_value());
  EXPECT_TRUE(e2.Resign().ok());  // no longer leads: nothing to do
}

}  // namespace
}  // namespace cluster
}  // namespace tqdb
