// ClusterReader's sparse searches that need the whole collection
// (rpc/cluster/cluster_reader.h). WeighByIdf: a term's IDF counts the
// points of every shard, so the node sums the shards' statistics and
// weighs the query before the shards search. SearchHybrid: fusion needs
// each search's ranking over all points, so the shards answer the dense
// and the sparse search separately, each is merged over the shards, and
// the node fuses the two merged lists.
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "db/sparse_index.h"
#include "quant/status_macros.h"
#include "rpc/cluster/cluster_node.h"
#include "rpc/cluster/cluster_reader.h"
#include "rpc/cluster/fan_out.h"
#include "rpc/cluster/read_method.h"
#include "rpc/convert.h"
#include "rpc/hybrid_search.h"

namespace tqdb {
namespace cluster {

namespace pb = ::tqdb::v1;
namespace cpb = ::tqdb::cluster::v1;
using fan_out::Fan;
using read_method::Async;
using read_method::PlanRead;
using read_method::ReadMethod;
using read_method::ReadPlan;
using read_method::Target;

absl::StatusOr<pb::SearchRequest> ClusterReader::WeighByIdf(
    const std::string& collection, const pb::SearchRequest& search,
    SparseVector query, const ReadConsistency& consistency,
    absl::Time deadline) {
  TQ_ASSIGN_OR_RETURN(const ReadPlan plan,
                      PlanRead(node_, collection, consistency, &round_robin_));
  const auto m = ReadMethod(
      node_,
      [&](const std::vector<cpb::ShardRef>& refs) {
        cpb::ShardSparseStatsRequest req;
        *req.mutable_target() = Target(*plan.entry, refs);
        req.mutable_terms()->Add(query.indices.begin(), query.indices.end());
        return req;
      },
      &Async::SparseStats, &ClusterNode::LocalSparseStats,
      &cpb::ShardSparseStatsResponse::shards);
  TQ_ASSIGN_OR_RETURN(
      auto per_route,
      Fan(node_, this, *plan.state, "sparse statistics of '" + collection + "'",
          plan.routes, m, deadline, &hedges_, true));
  SparseTermStats stats;
  stats.holding.assign(query.indices.size(), 0);
  for (const auto& [route, shard] : per_route) {
    if (static_cast<size_t>(shard.holding_size()) != query.indices.size()) {
      return absl::InternalError(
          absl::StrCat("a shard answered ", shard.holding_size(), " terms of ",
                       query.indices.size()));
    }
    stats.points += shard.points();
    for (int j = 0; j < shard.holding_size(); ++j) {
      stats.holding[j] += shard.holding(j);
    }
  }
  ApplyIdf(stats, &query);
  pb::SearchRequest out = search;
  out.clear_sparse_idf();
  out.clear_text();
  out.clear_sparse_vector();
  ToProto(query, out.mutable_sparse_vector());
  return out;
}

absl::StatusOr<pb::SearchResponse> ClusterReader::SearchHybrid(
    const std::string& collection, const CollectionConfig& config,
    const pb::SearchRequest& search, const ReadConsistency& consistency,
    absl::Time deadline) {
  pb::SearchRequest dense = search;
  dense.clear_sparse_vector();
  dense.clear_fusion();
  dense.clear_rrf_k();
  dense.clear_prefetch_limit();
  dense.clear_score_threshold();
  dense.set_offset(0);
  dense.set_limit(static_cast<uint32_t>(PrefetchOf(search)));
  pb::SearchRequest sparse = dense;
  sparse.clear_vector();
  *sparse.mutable_sparse_vector() = search.sparse_vector();
  TQ_ASSIGN_OR_RETURN(
      std::vector<pb::SearchResponse> both,
      Search(collection, {&dense, &sparse}, consistency, deadline));
  std::vector<Neighbor> ranked[2];
  std::unordered_map<uint64_t, const pb::ScoredPoint*> points;
  for (int k = 0; k < 2; ++k) {
    for (const pb::ScoredPoint& p : both[k].points()) {
      ranked[k].push_back({p.id(), p.score()});
      points.emplace(p.id(), &p);
    }
  }
  const std::vector<Neighbor> fused =
      FuseHybrid(search, config.metric, ranked[0], ranked[1]);
  pb::SearchResponse out;
  out.set_nprobe_used(both[0].nprobe_used());
  *out.mutable_plan() = both[0].plan();
  out.mutable_plan()->set_kind(absl::StrCat(both[0].plan().kind(), "+sparse"));
  out.mutable_plan()->set_scored(both[0].plan().scored() +
                                 both[1].plan().scored());
  *out.mutable_unindexed_fields() = both[0].unindexed_fields();
  for (size_t i = search.offset(); i < fused.size(); ++i) {
    if (search.has_score_threshold() &&
        fused[i].score < search.score_threshold()) {
      break;
    }
    pb::ScoredPoint* p = out.add_points();
    *p = *points.at(fused[i].id);
    p->set_score(fused[i].score);
  }
  return out;
}

}  // namespace cluster
}  // namespace tqdb
