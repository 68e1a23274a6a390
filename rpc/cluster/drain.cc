// ClusterNode's drain of a node (Node.Drain): the operator's request that a
// node hold no replica, kept in etcd (tqdb/drain/<id>) and carried out by
// the balancer (balancer.h, rules 1-3).
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "quant/status_macros.h"
#include "rpc/cluster/cluster_keys.h"
#include "rpc/cluster/cluster_node.h"

namespace tqdb {
namespace cluster {
namespace {

namespace cpb = ::tqdb::cluster::v1;

// How long a drain waits for this node's view to show its own write.
constexpr absl::Duration kViewWait = absl::Seconds(5);

}  // namespace

absl::StatusOr<cpb::DrainResponse> ClusterNode::Drain(uint32_t node_id,
                                                      bool cancel) {
  const uint32_t id = node_id == 0 ? options_.node_id : node_id;
  std::shared_ptr<const ClusterState> state = view_->state();
  if (!state->nodes.count(id) && !state->draining.count(id) &&
      MappedReplicas(*state, id) == 0) {
    std::vector<uint32_t> nodes;
    for (const auto& [n, record] : state->nodes) nodes.push_back(n);
    return absl::NotFoundError(absl::StrCat(
        "node ", id, " is neither registered nor holds a replica (live nodes: ",
        absl::StrJoin(nodes, ", "), ")"));
  }
  int64_t revision = 0;
  if (cancel) {
    TQ_RETURN_IF_ERROR(etcd_->Delete(DrainKey(id)).status())
        << "ending the drain of node " << id;
    // (Delete gives no revision: the store's, read after it.)
    TQ_ASSIGN_OR_RETURN(RangeResult now, etcd_->GetPrefix(DrainKey(id), 1));
    revision = now.revision;
  } else {
    // The nodes left to hold the replicas: live, not being drained, not
    // this one. Each collection needs `replicas` of them.
    std::vector<uint32_t> targets;
    for (const auto& [n, record] : state->nodes) {
      if (n != id && !state->draining.count(n)) targets.push_back(n);
    }
    for (const auto& [name, entry] : state->collections) {
      if (entry.record.replicas() > targets.size()) {
        return absl::FailedPreconditionError(
            absl::StrCat("draining node ", id, " would leave ", targets.size(),
                         " node(s) (", absl::StrJoin(targets, ", "),
                         ") neither draining nor gone, and collection '", name,
                         "' keeps ", entry.record.replicas(),
                         " replicas of each shard: start another node first"));
      }
    }
    cpb::DrainRecord record;
    record.set_requested_unix_ms(absl::ToUnixMillis(absl::Now()));
    // Only if absent: a drain asked again keeps its first request time.
    absl::StatusOr<CasResult> cas =
        etcd_->CompareAndSwap(DrainKey(id), ToJson(record), 0);
    if (!cas.ok()) return WithContext(cas.status(), "draining node ", id);
    revision = cas->revision;
  }
  // This node's view, so that the answer (and the next Status) shows it.
  view_->AwaitRevision(revision, kViewWait);
  state = view_->state();
  cpb::DrainResponse out;
  out.set_node_id(id);
  out.set_draining(state->draining.count(id) > 0);
  out.set_mapped_replicas(MappedReplicas(*state, id));
  return out;
}

}  // namespace cluster
}  // namespace tqdb
