// The balancer's rules (PlanShardMap, rpc/cluster/balancer.h) pass by pass
// over shard maps, and the drain key in the cluster's view: plain
// functions, no services.
#include "rpc/cluster/balancer.h"

#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "rpc/cluster/cluster_keys.h"
#include "rpc/cluster/cluster_view.h"
#include "tqdb/cluster/v1/cluster.pb.h"

namespace tqdb {
namespace {

namespace cpb = ::tqdb::cluster::v1;
using cluster::PlanShardMap;

// Shards as lists of (replicas, ready) node ids.
cpb::ShardMap MapOf(
    const std::vector<std::pair<std::vector<uint32_t>, std::vector<uint32_t>>>&
        shards) {
  cpb::ShardMap map;
  for (const auto& [replicas, ready] : shards) {
    cpb::ShardAssignment* a = map.add_shards();
    for (uint32_t n : replicas) a->add_replicas(n);
    for (uint32_t n : ready) a->add_ready(n);
  }
  return map;
}

std::map<uint32_t, int> LoadOf(const cpb::ShardMap& map,
                               const std::set<uint32_t>& live) {
  std::map<uint32_t, int> load;
  for (uint32_t n : live) load[n] = 0;
  for (const auto& a : map.shards()) {
    for (uint32_t n : a.replicas()) ++load[n];
  }
  return load;
}

bool Holds(const cpb::ShardAssignment& a, uint32_t node) {
  for (uint32_t n : a.replicas()) {
    if (n == node) return true;
  }
  return false;
}

// Every replica the map lists turns ready (their catch-up done).
void AllReady(cpb::ShardMap* map) {
  for (auto& a : *map->mutable_shards()) {
    a.clear_ready();
    for (uint32_t n : a.replicas()) a.add_ready(n);
  }
}

// Passes (each followed by the catch-up of what it added) until nothing
// changes; the final map.
cpb::ShardMap Settle(cpb::ShardMap map, uint32_t replicas,
                     const std::set<uint32_t>& live,
                     const std::set<uint32_t>& draining, int* passes) {
  for (*passes = 0; *passes < 100; ++*passes) {
    std::map<uint32_t, int> load = LoadOf(map, live);
    std::vector<std::pair<uint32_t, uint32_t>> removed;
    std::optional<cpb::ShardMap> next =
        PlanShardMap(map, replicas, live, live, draining, &load, &removed);
    if (!next) break;
    map = *next;
    AllReady(&map);
  }
  return map;
}

TEST(BalancerPlanTest, ADrainedNodesReplicasMoveAndLeaveOnlyOnceReady) {
  const std::set<uint32_t> live = {1, 2, 3, 4};
  // Node 4 holds nothing yet; node 3 is drained.
  cpb::ShardMap map = MapOf(
      {{{1, 2}, {1, 2}}, {{2, 3}, {2, 3}}, {{3, 1}, {3, 1}}, {{1, 2}, {1, 2}}});
  std::map<uint32_t, int> load = LoadOf(map, live);
  std::vector<std::pair<uint32_t, uint32_t>> removed;
  auto first = PlanShardMap(map, 2, live, live, {3}, &load, &removed);
  ASSERT_TRUE(first.has_value());
  // Shards 1 and 2 get a replacement on a node not drained; node 3 stays
  // in them (and serves) while the replacements catch up.
  EXPECT_TRUE(removed.empty());
  for (int s : {1, 2}) {
    const auto& a = first->shards(s);
    EXPECT_EQ(a.replicas_size(), 3) << a.ShortDebugString();
    EXPECT_TRUE(Holds(a, 3)) << a.ShortDebugString();
    EXPECT_EQ(a.ready_size(), 2) << a.ShortDebugString();
  }
  EXPECT_EQ(first->shards(0).ShortDebugString(),
            map.shards(0).ShortDebugString());
  // Still catching up: nothing more to do.
  load = LoadOf(*first, live);
  removed.clear();
  EXPECT_FALSE(
      PlanShardMap(*first, 2, live, live, {3}, &load, &removed).has_value());
  // Caught up: node 3 leaves both shards.
  cpb::ShardMap caught_up = *first;
  AllReady(&caught_up);
  load = LoadOf(caught_up, live);
  removed.clear();
  auto second = PlanShardMap(caught_up, 2, live, live, {3}, &load, &removed);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(removed,
            (std::vector<std::pair<uint32_t, uint32_t>>{{1, 3}, {2, 3}}));
  for (const auto& a : second->shards()) {
    EXPECT_FALSE(Holds(a, 3)) << a.ShortDebugString();
    EXPECT_EQ(a.replicas_size(), 2) << a.ShortDebugString();
  }
  // Settled without node 3, the others within one shard of each other.
  int passes = 0;
  const cpb::ShardMap settled = Settle(*second, 2, live, {3}, &passes);
  const std::map<uint32_t, int> final_load = LoadOf(settled, live);
  EXPECT_EQ(final_load.at(3), 0);
  int lo = 1 << 20, hi = 0;
  for (uint32_t n : {1, 2, 4}) {
    lo = std::min(lo, final_load.at(n));
    hi = std::max(hi, final_load.at(n));
  }
  EXPECT_LE(hi - lo, 1) << settled.ShortDebugString();
}

TEST(BalancerPlanTest, ADrainWithTooFewOtherNodesKeepsTheReplicas) {
  // Two live nodes, two replicas a shard: draining node 2 leaves no node
  // to hold the second replica, so nothing moves and nothing is removed.
  const std::set<uint32_t> live = {1, 2};
  const cpb::ShardMap map = MapOf({{{1, 2}, {1, 2}}, {{2, 1}, {2, 1}}});
  int passes = 0;
  const cpb::ShardMap settled = Settle(map, 2, live, {2}, &passes);
  EXPECT_EQ(passes, 0);
  EXPECT_EQ(settled.ShortDebugString(), map.ShortDebugString());
}

TEST(BalancerPlanTest, ADrainingNodeGetsNoShareAndGetsItBackWhenItEnds) {
  // Node 3 joins empty while drained: the loads of 1 and 2 (3 each) would
  // otherwise move a shard to it.
  const std::set<uint32_t> live = {1, 2, 3};
  const cpb::ShardMap map =
      MapOf({{{1, 2}, {1, 2}}, {{2, 1}, {2, 1}}, {{1, 2}, {1, 2}}});
  int passes = 0;
  cpb::ShardMap settled = Settle(map, 2, live, {3}, &passes);
  EXPECT_EQ(passes, 0);
  // The drain ends: node 3 gets its share (2 of the 6 replicas).
  settled = Settle(settled, 2, live, {}, &passes);
  EXPECT_GT(passes, 0);
  const std::map<uint32_t, int> load = LoadOf(settled, live);
  EXPECT_EQ(load.at(3), 2) << settled.ShortDebugString();
  for (const auto& a : settled.shards()) EXPECT_EQ(a.replicas_size(), 2);
}

TEST(BalancerPlanTest, AGoneDrainingNodeIsReplacedAtOnce) {
  // Node 3 is drained and gone (not present): its replica is replaced and
  // removed as a gone node's is.
  const std::set<uint32_t> live = {1, 2};
  const cpb::ShardMap map = MapOf({{{1, 3}, {1, 3}}});
  std::map<uint32_t, int> load = LoadOf(map, live);
  std::vector<std::pair<uint32_t, uint32_t>> removed;
  auto plan = PlanShardMap(map, 2, live, live, {3}, &load, &removed);
  ASSERT_TRUE(plan.has_value());
  EXPECT_TRUE(Holds(plan->shards(0), 2)) << plan->ShortDebugString();
  AllReady(&*plan);  // node 2 caught up
  int passes = 0;
  const cpb::ShardMap settled = Settle(*plan, 2, live, {3}, &passes);
  EXPECT_FALSE(Holds(settled.shards(0), 3)) << settled.ShortDebugString();
  EXPECT_EQ(settled.shards(0).replicas_size(), 2);
}

TEST(ClusterViewTest, TheDrainKeyIsInTheState) {
  cluster::ClusterState state;
  cluster::WatchEvent put;
  put.type = cluster::WatchEvent::Type::kPut;
  put.kv.key = cluster::DrainKey(3);
  put.kv.value = R"({"requestedUnixMs": "1700000000000"})";
  put.kv.mod_revision = 7;
  cluster::ApplyToState(put, &state);
  ASSERT_EQ(state.draining.count(3), 1u);
  EXPECT_EQ(state.draining.at(3).requested_unix_ms(), 1700000000000);
  // A value that does not parse is shown, not applied.
  cluster::WatchEvent bad = put;
  bad.kv.key = cluster::DrainKey(4);
  bad.kv.value = "{not json";
  cluster::ApplyToState(bad, &state);
  EXPECT_EQ(state.draining.count(4), 0u);
  EXPECT_EQ(state.bad_values.count(cluster::DrainKey(4)), 1u);
  cluster::WatchEvent del = put;
  del.type = cluster::WatchEvent::Type::kDelete;
  cluster::ApplyToState(del, &state);
  EXPECT_EQ(state.draining.count(3), 0u);
}

}  // namespace
}  // namespace tqdb
