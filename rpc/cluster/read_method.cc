#include "rpc/cluster/read_method.h"

#include <algorithm>

#include "absl/strings/str_join.h"
#include "quant/echo.h"
#include "quant/status_macros.h"

namespace tqdb {
namespace cluster {
namespace read_method {
namespace {

// Routes of a collection: each shard's ready replicas on live nodes, this
// node first, the others rotated by `spread` (load spreading).
absl::StatusOr<std::vector<Route>> Plan(const ClusterState& state,
                                        const CollectionEntry& entry,
                                        uint32_t self,
                                        const ReadConsistency& consistency,
                                        uint64_t spread) {
  std::vector<Route> routes;
  for (int s = 0; s < entry.map.shards_size(); ++s) {
    Route r;
    r.shard = static_cast<uint32_t>(s);
    auto it = consistency.read_after.find(r.shard);
    if (consistency.read_your_writes && it != consistency.read_after.end()) {
      r.min_sequence = it->second;
    }
    std::vector<uint32_t> others;
    bool has_self = false;
    for (uint32_t node : entry.map.shards(s).ready()) {
      if (!state.nodes.count(node)) continue;  // not alive
      if (node == self) {
        has_self = true;
      } else {
        others.push_back(node);
      }
    }
    if (!others.empty()) {
      std::rotate(others.begin(), others.begin() + (spread + s) % others.size(),
                  others.end());
    }
    if (has_self) r.candidates.push_back(self);
    r.candidates.insert(r.candidates.end(), others.begin(), others.end());
    if (r.candidates.empty()) {
      return absl::UnavailableError(absl::StrCat(
          "collection '", entry.name, "': shard ", s,
          " has no ready replica on a live node (replicas: ",
          absl::StrJoin(entry.map.shards(s).replicas(), ", "), ")"));
    }
    routes.push_back(std::move(r));
  }
  return routes;
}

}  // namespace

// The collection's entry and routes for a read.
absl::StatusOr<const CollectionEntry*> Readable(const ClusterState& state,
                                                const std::string& name) {
  const CollectionEntry* entry = state.Find(name);
  if (entry == nullptr ||
      entry->record.state() == cpb::CollectionRecord::STATE_DROPPING) {
    return absl::NotFoundError(
        absl::StrCat("collection '", EchoInput(name), "' not found"));
  }
  if (!entry->ready() || !entry->has_map) {
    return absl::UnavailableError(
        absl::StrCat("collection '", EchoInput(name), "' is being created"));
  }
  return entry;
}

cpb::ShardsRequest Target(const CollectionEntry& entry,
                          const std::vector<cpb::ShardRef>& refs) {
  cpb::ShardsRequest t;
  t.set_collection(entry.name);
  t.set_uid(entry.uid);
  for (const auto& r : refs) *t.add_shards() = r;
  return t;
}

absl::StatusOr<ReadPlan> PlanRead(ClusterNode* node,
                                  const std::string& collection,
                                  const ReadConsistency& consistency,
                                  std::atomic<uint64_t>* spread) {
  ReadPlan plan;
  plan.state = node->view()->state();
  TQ_ASSIGN_OR_RETURN(plan.entry, Readable(*plan.state, collection));
  TQ_ASSIGN_OR_RETURN(plan.routes,
                      Plan(*plan.state, *plan.entry, node->options().node_id,
                           consistency, (*spread)++));
  return plan;
}

}  // namespace read_method
}  // namespace cluster
}  // namespace tqdb
