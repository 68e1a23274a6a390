// The cluster's balancer: one node at a time (etcd lease-based election on
// tqdb/balancer) keeps every shard on `replicas` live nodes and the shards
// spread evenly, by changing shard maps with a compare-and-swap fenced by
// its term (a replaced leader's change cannot land).
//
// A replica is added to a shard's `replicas` not ready; the node it lands
// on creates the local collection and replays the shard's subject from the
// start of the stream (its catch-up), then marks itself ready in the map
// once it has applied the subject's last sequence (ClusterNode). Only ready
// replicas serve reads. The balancer removes a replica only when the shard
// keeps `replicas` ready replicas on live nodes without it.
//
// Rules, per shard, one change per shard per pass (PlanShardMap). Targets
// are the live nodes not being drained (tqdb/drain/<id>, Node.Drain):
//  1. A node absent from tqdb/nodes for ClusterOptions::replace_after is
//     gone: while the shard has fewer than `replicas` replicas on present
//     nodes not being drained, add the least loaded target that lacks the
//     shard.
//  2. Replicas on gone or draining nodes, and replicas beyond `replicas`
//     (after a move), are removed once the shard has `replicas` ready
//     replicas on targets without them (beyond: the one on the most loaded
//     node). A draining node keeps serving its replicas until then.
//  3. A node that joins (or any imbalance of 2 or more shards between the
//     most and least loaded targets) gets a shard moved to it, one move in
//     flight per collection: added as rule 1 does, the surplus replica
//     removed by rule 2 once the new one is ready.
//
// Thread-safety: the balancer runs on its own thread; the destructor stops
// it (resigning).
#ifndef TQDB_RPC_CLUSTER_BALANCER_H_
#define TQDB_RPC_CLUSTER_BALANCER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "tqdb/cluster/v1/cluster.pb.h"

namespace tqdb {
namespace cluster {

class ClusterNode;

// One pass of the rules over a collection's map. `live`: registered nodes;
// `present`: live plus those absent for less than replace_after;
// `draining`: nodes being drained. `load`: replicas per node over every
// collection (updated for the changes made). Returns the new map, or
// nullopt when nothing changes; *removed gets the (shard, node) replicas
// taken out.
std::optional<tqdb::cluster::v1::ShardMap> PlanShardMap(
    const tqdb::cluster::v1::ShardMap& map, uint32_t replicas,
    const std::set<uint32_t>& live, const std::set<uint32_t>& present,
    const std::set<uint32_t>& draining, std::map<uint32_t, int>* load,
    std::vector<std::pair<uint32_t, uint32_t>>* removed);

class Balancer {
 public:
  explicit Balancer(ClusterNode* node);
  ~Balancer();
  Balancer(const Balancer&) = delete;
  Balancer& operator=(const Balancer&) = delete;

  bool leading() const;
  // Shard maps changed by this node as the leader.
  uint64_t changes() const;

 private:
  void Run();
  // As the leader in `term`: one pass over every collection.
  absl::Status Pass(int64_t term, const class LeaderElection& election);

  ClusterNode* const node_;
  std::thread thread_;
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool leading_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t changes_ ABSL_GUARDED_BY(mu_) = 0;
  // When each node was first seen absent (for replace_after).
  std::map<uint32_t, absl::Time> absent_since_;  // the thread's own
};

}  // namespace cluster
}  // namespace tqdb

#endif  // TQDB_RPC_CLUSTER_BALANCER_H_
