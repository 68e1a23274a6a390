// ClusterReader::IndexReadyOnEveryReplica (rpc/cluster/cluster_reader.h):
// whether a payload index is ready on every replica, not only on the one
// of each shard a read asks, so that once a cluster's CreateFieldIndex
// with wait returns, reads that need the index (facet counts, order_by)
// find it wherever they go.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "quant/echo.h"
#include "quant/status_macros.h"
#include "rpc/cluster/read_method.h"

namespace tqdb {
namespace cluster {

namespace cpb = ::tqdb::cluster::v1;
namespace pb = ::tqdb::v1;

absl::StatusOr<bool> ClusterReader::IndexReadyOnEveryReplica(
    const std::string& collection, const std::string& field,
    const ReadConsistency& consistency, absl::Time deadline) {
  TQ_ASSIGN_OR_RETURN(
      const read_method::ReadPlan plan,
      read_method::PlanRead(node_, collection, consistency, &round_robin_));
  // A route per replica on a live node (a dead one is no reader).
  std::vector<fan_out::Route> routes;
  for (const fan_out::Route& shard : plan.routes) {
    for (uint32_t replica : shard.candidates) {
      fan_out::Route r;
      r.shard = shard.shard;
      r.min_sequence = shard.min_sequence;
      r.candidates = {replica};
      routes.push_back(std::move(r));
    }
  }
  const auto m = read_method::ReadMethod(
      node_,
      [&](const std::vector<cpb::ShardRef>& refs) {
        return read_method::Target(*plan.entry, refs);
      },
      &read_method::Async::Info, &ClusterNode::LocalInfo,
      &cpb::ShardInfoResponse::shards);
  TQ_ASSIGN_OR_RETURN(
      auto per_route,
      fan_out::Fan(node_, this, *plan.state,
                   "the index of '" + field + "' on every replica", routes, m,
                   deadline, &hedges_, /*hedge=*/false));
  bool ready = true;
  for (const auto& [route, info] : per_route) {
    const pb::PayloadIndexInfo* found = nullptr;
    for (const pb::PayloadIndexInfo& f : info.payload_indexes()) {
      if (f.field() == field) found = &f;
    }
    if (found == nullptr) {
      return absl::NotFoundError(
          absl::StrCat("field '", EchoInput(field), "' has no index on node ",
                       routes[route].candidates[0], "'s replica of shard ",
                       routes[route].shard, " of collection '",
                       EchoInput(collection), "' (deleted meanwhile)"));
    }
    ready &= found->ready();
  }
  return ready;
}

}  // namespace cluster
}  // namespace tqdb
