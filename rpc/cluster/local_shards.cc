// ClusterNode's reads of the replicas it holds: what the Shards service
// answers to the node that serves a client, and that node's own part.
#include <algorithm>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "quant/status_macros.h"
#include "rpc/cluster/cluster_keys.h"
#include "rpc/cluster/cluster_node.h"
#include "rpc/convert.h"
#include "rpc/filter_convert.h"
#include "rpc/hybrid_search.h"
#include "rpc/payload_selection.h"

namespace tqdb {
namespace cluster {
namespace {

namespace cpb = ::tqdb::cluster::v1;
namespace pb = ::tqdb::v1;

// Vectors and payloads of a shard's hits, when asked for.
absl::Status FillHits(const pb::SearchRequest& q, const Collection& c,
                      pb::SearchResponse* out) {
  return AttachRecords(c, q.with_vectors(), q.with_payload(),
                       q.payload_selector(), out->mutable_points());
}

// A replica the shard map gives this node may not run yet (the node just
// started, or the collection was just created): wait for the reconciler
// this long at most.
constexpr absl::Duration kReplicaStartWait = absl::Seconds(5);

bool Lists(const google::protobuf::RepeatedField<uint32_t>& ids,
           uint32_t node) {
  return std::find(ids.begin(), ids.end(), node) != ids.end();
}

}  // namespace

std::shared_ptr<ShardReplica> ClusterNode::AwaitReplica(
    const std::string& collection, int64_t uid, uint32_t shard,
    absl::Time deadline) const {
  // Only for a shard the map gives this node.
  {
    const std::shared_ptr<const ClusterState> state = view_->state();
    const cpb::ShardAssignment* a = state->FindShard(collection, uid, shard);
    if (a == nullptr || !Lists(a->replicas(), options_.node_id)) {
      return nullptr;
    }
  }
  absl::MutexLock lock(&mu_);
  auto running = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    auto it = replicas_.find({collection, shard});
    return stopping_ ||
           (it != replicas_.end() && it->second->spec().uid == uid);
  };
  mu_.AwaitWithDeadline(absl::Condition(&running), deadline);
  auto it = replicas_.find({collection, shard});
  return it == replicas_.end() ? nullptr : it->second;
}

bool ClusterNode::ReadyHere(const std::string& collection, int64_t uid,
                            uint32_t shard) const {
  const std::shared_ptr<const ClusterState> state = view_->state();
  const cpb::ShardAssignment* a = state->FindShard(collection, uid, shard);
  return a != nullptr && Lists(a->ready(), options_.node_id);
}

absl::StatusOr<std::vector<std::shared_ptr<ShardReplica>>>
ClusterNode::LocalReplicas(const cpb::ShardsRequest& target,
                           absl::Time deadline, bool reads) const {
  std::vector<std::shared_ptr<ShardReplica>> out;
  for (const cpb::ShardRef& ref : target.shards()) {
    std::shared_ptr<ShardReplica> r =
        AwaitReplica(target.collection(), target.uid(), ref.shard(),
                     std::min(deadline, absl::Now() + kReplicaStartWait));
    if (r == nullptr || r->spec().uid != target.uid()) {
      return absl::NotFoundError(absl::StrCat(
          "node ", options_.node_id, " holds no replica of shard ", ref.shard(),
          " of collection '", target.collection(), "'"));
    }
    // A reader routes to ready replicas only, but by its own copy of the
    // map: one stale by two changes (this replica removed, then added again
    // and still replaying its shard) would take a prefix of the shard for
    // all of it. An eventual read is answered only by a replica that has
    // once caught up (or that this node's map lists ready: it restarted
    // holding the shard); read-your-writes waits for its sequence instead,
    // which a replay reaches with everything before it.
    if (reads && ref.min_sequence() == 0 && !r->caught_up() &&
        !ReadyHere(target.collection(), target.uid(), ref.shard())) {
      return absl::UnavailableError(
          absl::StrCat("node ", options_.node_id, ": the replica of shard ",
                       ref.shard(), " of collection '", target.collection(),
                       "' is catching up (applied sequence ", r->applied(),
                       ") and not ready for reads"));
    }
    if (reads && r->rebuilding()) {
      return absl::UnavailableError(
          absl::StrCat("node ", options_.node_id, ": the replica of shard ",
                       ref.shard(), " of collection '", target.collection(),
                       "' is taking another replica's copy"));
    }
    if (ref.min_sequence() > r->applied() &&
        !r->AwaitApplied(ref.min_sequence(), deadline - absl::Now())) {
      return absl::DeadlineExceededError(absl::StrCat(
          "node ", options_.node_id, ": shard ", ref.shard(),
          " of collection '", target.collection(), "' has applied ",
          r->applied(), ", not yet ", ref.min_sequence()));
    }
    out.push_back(std::move(r));
  }
  return out;
}

absl::Status ClusterNode::LocalSearch(const cpb::ShardSearchRequest& req,
                                      absl::Time deadline,
                                      cpb::ShardSearchResponse* resp) const {
  TQ_ASSIGN_OR_RETURN(auto replicas,
                      LocalReplicas(req.target(), deadline, true));
  for (const auto& r : replicas) {
    const Collection& c = *r->local();
    cpb::ShardSearchResult* result = resp->add_shards();
    result->set_shard(r->spec().shard);
    for (const pb::SearchRequest& q : req.searches()) {
      QueryOptions o = FromProto(q);
      TQ_ASSIGN_OR_RETURN(o.filter, OptionalFilter(q.has_filter(), q.filter()));
      // Shards have nlists of their own: the database clamps nprobe to
      // each (nprobe_used says what each probed).
      o.cancelled = [deadline] { return absl::Now() >= deadline; };
      SearchInfo info;
      o.info = &info;
      TQ_ASSIGN_OR_RETURN(std::vector<Neighbor> hits, SearchLocal(c, q, o));
      pb::SearchResponse* out = result->add_results();
      for (const Neighbor& h : hits) ToProto(h, out->add_points());
      TQ_RETURN_IF_ERROR(FillHits(q, c, out));
      ToProto(info, out);
    }
  }
  return absl::OkStatus();
}

absl::Status ClusterNode::LocalSparseStats(
    const cpb::ShardSparseStatsRequest& req, absl::Time deadline,
    cpb::ShardSparseStatsResponse* resp) const {
  const std::vector<uint32_t> terms(req.terms().begin(), req.terms().end());
  TQ_ASSIGN_OR_RETURN(auto replicas,
                      LocalReplicas(req.target(), deadline, true));
  for (const auto& r : replicas) {
    TQ_ASSIGN_OR_RETURN(const SparseTermStats stats,
                        r->local()->SparseStats(terms));
    cpb::SparseStats* out = resp->add_shards();
    out->set_points(stats.points);
    out->mutable_holding()->Add(stats.holding.begin(), stats.holding.end());
  }
  return absl::OkStatus();
}

absl::Status ClusterNode::LocalCount(const cpb::ShardCountRequest& req,
                                     absl::Time deadline,
                                     cpb::ShardCountResponse* resp) const {
  TQ_ASSIGN_OR_RETURN(std::shared_ptr<const Filter> filter,
                      OptionalFilter(req.has_filter(), req.filter()));
  TQ_ASSIGN_OR_RETURN(auto replicas,
                      LocalReplicas(req.target(), deadline, true));
  std::set<std::string> unindexed;
  for (const auto& r : replicas) {
    if (filter == nullptr) {
      resp->add_counts(r->local()->Count());
      continue;
    }
    TQ_ASSIGN_OR_RETURN(CountResult n, r->local()->Count(*filter));
    resp->add_counts(n.count);
    unindexed.insert(n.unindexed_fields.begin(), n.unindexed_fields.end());
  }
  for (const std::string& f : unindexed) resp->add_unindexed_fields(f);
  return absl::OkStatus();
}

absl::Status ClusterNode::LocalFacet(const cpb::ShardFacetRequest& req,
                                     absl::Time deadline,
                                     cpb::ShardFacetResponse* resp) const {
  const pb::FacetRequest& q = req.facet();
  FacetOptions o;
  o.key = q.key();
  TQ_ASSIGN_OR_RETURN(o.filter, OptionalFilter(q.has_filter(), q.filter()));
  o.limit = 0;  // every value: the caller's sum is exact only over all
  TQ_ASSIGN_OR_RETURN(auto replicas,
                      LocalReplicas(req.target(), deadline, true));
  for (const auto& r : replicas) {
    TQ_ASSIGN_OR_RETURN(FacetResult got, r->local()->Facet(o));
    pb::FacetResponse* out = resp->add_shards();
    for (const FacetHit& h : got.hits) ToProto(h, out->add_hits());
    for (const std::string& f : got.unindexed_fields) {
      out->add_unindexed_fields(f);
    }
  }
  return absl::OkStatus();
}

absl::Status ClusterNode::LocalScroll(const cpb::ShardScrollRequest& req,
                                      absl::Time deadline,
                                      cpb::ShardScrollResponse* resp) const {
  TQ_ASSIGN_OR_RETURN(const ScrollOptions o, FromProto(req.scroll()));
  TQ_ASSIGN_OR_RETURN(auto replicas,
                      LocalReplicas(req.target(), deadline, true));
  for (const auto& r : replicas) {
    TQ_ASSIGN_OR_RETURN(ScrollPage page, r->local()->Scroll(o));
    pb::ScrollResponse* shard = resp->add_shards();
    ToProto(std::move(page), o.order_by.has_value(), shard);
    TQ_RETURN_IF_ERROR(SelectPayloads(req.scroll().payload_selector(),
                                      shard->mutable_points()));
  }
  return absl::OkStatus();
}

absl::Status ClusterNode::LocalWriteResults(
    const cpb::ShardsRequest& req, absl::Time deadline,
    cpb::ShardWriteResultsResponse* resp) const {
  TQ_ASSIGN_OR_RETURN(auto replicas, LocalReplicas(req, deadline, false));
  for (size_t i = 0; i < replicas.size(); ++i) {
    TQ_ASSIGN_OR_RETURN(*resp->add_results(),
                        replicas[i]->WriteResult(
                            req.shards(static_cast<int>(i)).min_sequence()));
  }
  return absl::OkStatus();
}

absl::Status ClusterNode::LocalGet(const cpb::ShardGetRequest& req,
                                   absl::Time deadline,
                                   pb::GetPointsResponse* resp) const {
  TQ_ASSIGN_OR_RETURN(auto replicas,
                      LocalReplicas(req.target(), deadline, true));
  const std::shared_ptr<const ClusterState> state = view_->state();
  const CollectionEntry* entry = state->Find(req.target().collection());
  if (entry == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("collection '", req.target().collection(), "' not found"));
  }
  const uint32_t shards = entry->record.shards();
  for (const auto& r : replicas) {
    std::vector<uint64_t> ids;
    for (uint64_t id : req.ids()) {
      if (ShardOf(id, shards) == r->spec().shard) ids.push_back(id);
    }
    TQ_ASSIGN_OR_RETURN(
        std::vector<Record> recs,
        r->local()->Get(ids, req.with_vectors(), req.with_payload()));
    for (Record& rec : recs) ToProto(std::move(rec), resp->add_points());
  }
  return absl::OkStatus();
}

absl::Status ClusterNode::LocalInfo(const cpb::ShardsRequest& req,
                                    absl::Time deadline,
                                    cpb::ShardInfoResponse* resp) const {
  TQ_ASSIGN_OR_RETURN(auto replicas, LocalReplicas(req, deadline, true));
  for (const auto& r : replicas) {
    TQ_ASSIGN_OR_RETURN(CollectionInfo info, r->local()->Info());
    ToProto(info, resp->add_shards());
  }
  return absl::OkStatus();
}

absl::Status ClusterNode::LocalTrain(const cpb::ShardTrainRequest& req,
                                     absl::Time deadline,
                                     cpb::ShardInfoResponse* resp) const {
  // Train asks every replica, each past the shard's last write.
  TQ_ASSIGN_OR_RETURN(auto replicas,
                      LocalReplicas(req.target(), deadline, false));
  for (const auto& r : replicas) {
    Collection& c = *r->local();
    absl::Status s = req.retrain() ? c.Retrain() : c.Train();
    // An empty shard has nothing to train on: it answers untrained.
    if (!s.ok() && !(absl::IsFailedPrecondition(s) && c.Count() == 0)) {
      return WithContext(s, "shard ", r->spec().shard);
    }
    TQ_ASSIGN_OR_RETURN(CollectionInfo info, c.Info());
    ToProto(info, resp->add_shards());
  }
  return absl::OkStatus();
}

}  // namespace cluster
}  // namespace tqdb
