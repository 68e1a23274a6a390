// ClusterReader::Facet (rpc/cluster/cluster_reader.h): facet counts over a
// cluster's shards. Each shard answers every value it holds (a value below
// one shard's cut can be in the cluster's top), so the sum is exact.
#include <set>
#include <string>
#include <vector>

#include "db/facet.h"
#include "quant/status_macros.h"
#include "rpc/cluster/read_method.h"
#include "rpc/convert.h"

namespace tqdb {
namespace cluster {

namespace cpb = ::tqdb::cluster::v1;
namespace pb = ::tqdb::v1;

absl::StatusOr<pb::FacetResponse> ClusterReader::Facet(
    const pb::FacetRequest& request, const ReadConsistency& consistency,
    absl::Time deadline) {
  const std::string& collection = request.collection();
  TQ_ASSIGN_OR_RETURN(
      const read_method::ReadPlan plan,
      read_method::PlanRead(node_, collection, consistency, &round_robin_));
  const auto m = read_method::ReadMethod(
      node_,
      [&](const std::vector<cpb::ShardRef>& refs) {
        cpb::ShardFacetRequest req;
        *req.mutable_target() = read_method::Target(*plan.entry, refs);
        *req.mutable_facet() = request;
        req.mutable_facet()->clear_collection();
        req.mutable_facet()->clear_read_after();
        return req;
      },
      &read_method::Async::Facet, &ClusterNode::LocalFacet,
      &cpb::ShardFacetResponse::shards);
  TQ_ASSIGN_OR_RETURN(
      auto per_route,
      fan_out::Fan(node_, this, *plan.state, "facet '" + collection + "'",
                   plan.routes, m, deadline, &hedges_, true));
  std::vector<std::vector<FacetHit>> parts;
  std::set<std::string> unindexed;
  for (const auto& [route, shard] : per_route) {
    parts.emplace_back();
    for (const pb::FacetHit& h : shard.hits()) {
      parts.back().push_back(FromProto(h));
    }
    unindexed.insert(shard.unindexed_fields().begin(),
                     shard.unindexed_fields().end());
  }
  pb::FacetResponse out;
  const size_t limit = request.limit() == 0 ? 10 : request.limit();
  for (const FacetHit& h : MergeFacetHits(parts, limit)) {
    ToProto(h, out.add_hits());
  }
  for (const std::string& f : unindexed) out.add_unindexed_fields(f);
  return out;
}

}  // namespace cluster
}  // namespace tqdb
