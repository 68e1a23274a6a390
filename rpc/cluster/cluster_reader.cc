#include "rpc/cluster/cluster_reader.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "db/sparse_index.h"
#include "quant/status_macros.h"
#include "rpc/cluster/cluster_keys.h"
#include "rpc/cluster/cluster_node.h"
#include "rpc/cluster/fan_out.h"
#include "rpc/cluster/log_names.h"
#include "rpc/cluster/read_method.h"
#include "rpc/convert.h"
#include "rpc/formula_search.h"
#include "rpc/hybrid_search.h"

namespace tqdb {
namespace cluster {
namespace {

namespace cpb = ::tqdb::cluster::v1;
namespace pb = ::tqdb::v1;
using fan_out::Fan;
using fan_out::Route;
using read_method::Async;
using read_method::PlanRead;
using read_method::Readable;
using read_method::ReadMethod;
using read_method::ReadPlan;
using read_method::Target;

}  // namespace

absl::StatusOr<ReadConsistency> ConsistencyOf(
    pb::Consistency consistency,
    const google::protobuf::RepeatedPtrField<pb::ShardSequence>& read_after) {
  ReadConsistency out;
  switch (consistency) {
    case pb::CONSISTENCY_UNSPECIFIED:
    case pb::CONSISTENCY_EVENTUAL:
      break;
    case pb::CONSISTENCY_READ_YOUR_WRITES:
      out.read_your_writes = true;
      if (read_after.empty()) {
        return absl::InvalidArgumentError(
            "consistency READ_YOUR_WRITES needs read_after: the sequences "
            "your writes returned");
      }
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("unknown consistency ", static_cast<int>(consistency)));
  }
  for (const pb::ShardSequence& s : read_after) {
    uint64_t& v = out.read_after[s.shard()];
    v = std::max(v, s.sequence());
  }
  return out;
}

ClusterReader::ClusterReader(ClusterNode* node) : node_(node) {}

ClusterReader::~ClusterReader() = default;

cpb::Shards::Stub* ClusterReader::Stub(const std::string& address) {
  absl::MutexLock lock(&mu_);
  auto& stub = stubs_[address];
  if (!stub) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(-1);
    args.SetMaxSendMessageSize(-1);
    // A node that comes back is tried again soon.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
    const std::string& pem = node_->options().peer_tls_root_pem;
    std::shared_ptr<grpc::ChannelCredentials> creds;
    if (pem.empty()) {
      creds = grpc::InsecureChannelCredentials();
    } else {
      grpc::SslCredentialsOptions ssl;
      ssl.pem_root_certs = pem;
      creds = grpc::SslCredentials(ssl);
    }
    stub =
        cpb::Shards::NewStub(grpc::CreateCustomChannel(address, creds, args));
  }
  return stub.get();
}

void ClusterReader::AddAuth(grpc::ClientContext* context) const {
  const std::string& key = node_->options().peer_api_key;
  if (!key.empty()) context->AddMetadata("authorization", "Bearer " + key);
}

namespace {

// The shards' plans of one search as one (cluster_reader.h).
void MergePlans(const std::vector<const pb::SearchResponse*>& parts,
                pb::SearchResponse* out) {
  std::set<std::string> kinds, unindexed;
  pb::SearchPlan* plan = out->mutable_plan();
  for (const pb::SearchResponse* r : parts) {
    out->set_nprobe_used(std::max(out->nprobe_used(), r->nprobe_used()));
    kinds.insert(r->plan().kind());
    plan->set_matches(plan->matches() + r->plan().matches());
    plan->set_lists_probed(plan->lists_probed() + r->plan().lists_probed());
    plan->set_scored(plan->scored() + r->plan().scored());
    plan->set_filter_ms(std::max(plan->filter_ms(), r->plan().filter_ms()));
    unindexed.insert(r->unindexed_fields().begin(),
                     r->unindexed_fields().end());
  }
  plan->set_kind(absl::StrJoin(kinds, "+"));
  for (const std::string& f : unindexed) out->add_unindexed_fields(f);
}

// The collection's payload indexes over the shards: ready on every shard,
// points and memory summed.
void MergeIndexes(const std::vector<const pb::CollectionInfo*>& shards,
                  pb::CollectionInfo* out) {
  std::map<std::string, pb::PayloadIndexInfo> by_field;
  std::map<std::string, size_t> seen;
  for (const pb::CollectionInfo* s : shards) {
    for (const pb::PayloadIndexInfo& f : s->payload_indexes()) {
      auto [it, added] = by_field.emplace(f.field(), f);
      ++seen[f.field()];
      if (added) continue;
      it->second.set_ready(it->second.ready() && f.ready());
      it->second.set_points(it->second.points() + f.points());
      it->second.set_memory_bytes(it->second.memory_bytes() + f.memory_bytes());
    }
  }
  out->clear_payload_indexes();
  for (auto& [field, f] : by_field) {
    // A shard without it (not applied there yet): not ready.
    if (seen[field] < shards.size()) f.set_ready(false);
    *out->add_payload_indexes() = std::move(f);
  }
}

}  // namespace

absl::StatusOr<std::vector<pb::SearchResponse>> ClusterReader::Search(
    const std::string& collection,
    const std::vector<const pb::SearchRequest*>& searches,
    const ReadConsistency& consistency, absl::Time deadline) {
  TQ_ASSIGN_OR_RETURN(const ReadPlan plan,
                      PlanRead(node_, collection, consistency, &round_robin_));
  TQ_ASSIGN_OR_RETURN(CollectionConfig config,
                      FromProto(plan.entry->record.config()));
  auto numbered = [&](size_t i) {
    return searches.size() > 1 ? absl::StrCat("search ", i) : std::string();
  };
  // Searches by example, resolved (`resolved` keeps their requests; a
  // best_score search comes back answered).
  std::vector<const pb::SearchRequest*> queries = searches;
  std::vector<ResolvedSearch> resolved(searches.size());
  std::vector<pb::SearchResponse> out(searches.size());
  std::vector<size_t> fanned;  // the searches the shards answer
  std::vector<pb::SearchRequest> weighted(searches.size());  // sparse_idf
  for (size_t i = 0; i < searches.size(); ++i) {
    if (searches[i]->has_formula()) {
      // The merged plain search's points (with payloads), rescored here.
      absl::StatusOr<pb::SearchResponse> r = SearchByFormula(
          *searches[i],
          [&](const pb::SearchRequest& plain)
              -> absl::StatusOr<pb::SearchResponse> {
            TQ_ASSIGN_OR_RETURN(
                std::vector<pb::SearchResponse> one,
                Search(collection, {&plain}, consistency, deadline));
            return std::move(one[0]);
          });
      if (!r.ok()) return WithContext(r.status(), numbered(i));
      out[i] = *std::move(r);
      continue;
    }
    SparseVector v;
    bool idf = false;
    if (HasSparse(*searches[i])) {
      absl::StatusOr<SparseVector> sv =
          SparseQueryOf(config, *searches[i], &idf);
      if (!sv.ok()) return WithContext(sv.status(), numbered(i));
      v = *std::move(sv);
      absl::Status st = CheckSparseVector("sparse query", &v);
      if (!st.ok()) return WithContext(st, numbered(i));
    }
    if (idf) {
      absl::StatusOr<pb::SearchRequest> w = WeighByIdf(
          collection, *searches[i], std::move(v), consistency, deadline);
      if (!w.ok()) return WithContext(w.status(), numbered(i));
      weighted[i] = *std::move(w);
      queries[i] = &weighted[i];
    }
    const pb::SearchRequest& q = *queries[i];
    if (IsHybrid(q)) {
      absl::StatusOr<pb::SearchResponse> r =
          SearchHybrid(collection, config, q, consistency, deadline);
      if (!r.ok()) return WithContext(r.status(), numbered(i));
      out[i] = *std::move(r);
      continue;
    }
    if (IsByExample(q)) {
      absl::StatusOr<ResolvedSearch> r =
          ResolveExamples(collection, config, q, consistency, deadline);
      if (!r.ok()) return WithContext(r.status(), numbered(i));
      resolved[i] = *std::move(r);
      if (resolved[i].answer.has_value()) {
        out[i] = *std::move(resolved[i].answer);
        continue;
      }
      queries[i] = &resolved[i].request;
    }
    fanned.push_back(i);
  }
  if (fanned.empty()) return out;
  for (size_t i : fanned) {
    const int n = queries[i]->vector_size();
    if (n != static_cast<int>(config.dim) && !HasSparse(*queries[i])) {
      return absl::InvalidArgumentError(absl::StrCat(
          searches.size() > 1 ? absl::StrCat("search ", i, ": ") : "",
          "vector has ", n, " dimensions, collection '", collection, "' has ",
          config.dim));
    }
  }
  const auto m = ReadMethod(
      node_,
      [&](const std::vector<cpb::ShardRef>& refs) {
        cpb::ShardSearchRequest req;
        *req.mutable_target() = Target(*plan.entry, refs);
        for (size_t i : fanned) {
          pb::SearchRequest* s = req.add_searches();
          *s = *queries[i];
          s->clear_collection();
          s->clear_score_threshold();
          s->clear_read_after();
        }
        return req;
      },
      &Async::Search, &ClusterNode::LocalSearch,
      &cpb::ShardSearchResponse::shards);
  TQ_ASSIGN_OR_RETURN(
      auto per_route,
      Fan(node_, this, *plan.state, "search '" + collection + "'", plan.routes,
          m, deadline, &hedges_, true));
  // The best `limit` of the union past the first `offset`, ties by id; then
  // the threshold. (Sparse searches score dot products: higher is better.)
  for (size_t j = 0; j < fanned.size(); ++j) {
    const size_t q = fanned[j];
    const bool l2 = config.metric == Metric::kL2 && !HasSparse(*queries[q]);
    std::vector<const pb::ScoredPoint*> all;
    std::vector<const pb::SearchResponse*> parts;
    for (const auto& [route, result] : per_route) {
      if (j >= static_cast<size_t>(result.results_size())) {
        return absl::InternalError(absl::StrCat(
            "shard ", result.shard(), " answered ", result.results_size(),
            " searches of ", fanned.size()));
      }
      parts.push_back(&result.results(j));
      for (const pb::ScoredPoint& p : result.results(j).points()) {
        all.push_back(&p);
      }
    }
    MergePlans(parts, &out[q]);
    std::sort(all.begin(), all.end(),
              [l2](const pb::ScoredPoint* a, const pb::ScoredPoint* b) {
                if (a->score() != b->score()) {
                  return l2 ? a->score() < b->score() : a->score() > b->score();
                }
                return a->id() < b->id();
              });
    const pb::SearchRequest& req = *queries[q];
    // The scores as the request's strategy gives them (sum_scores maps
    // the search's), and their order for the threshold.
    const ResolvedSearch& map = resolved[q];
    const bool lower_better = LowerIsBetter(*searches[q], config.metric);
    // Each shard answered its best offset + limit (FromProto's k).
    const size_t k =
        std::min<size_t>(size_t{req.offset()} + req.limit(), all.size());
    for (size_t i = req.offset(); i < k; ++i) {
      const pb::ScoredPoint& p = *all[i];
      const float score = static_cast<float>(map.scale * p.score() + map.shift);
      if (req.has_score_threshold() &&
          (lower_better ? score > req.score_threshold()
                        : score < req.score_threshold())) {
        break;
      }
      pb::ScoredPoint* kept = out[q].add_points();
      *kept = p;
      kept->set_score(score);
    }
  }
  return out;
}

absl::StatusOr<pb::CountResponse> ClusterReader::Count(
    const std::string& collection, const pb::Filter* filter,
    const ReadConsistency& consistency, absl::Time deadline) {
  TQ_ASSIGN_OR_RETURN(const ReadPlan plan,
                      PlanRead(node_, collection, consistency, &round_robin_));
  struct ShardCount {
    uint64_t count = 0;
    std::vector<std::string> unindexed;
  };
  const auto m = ReadMethod<ShardCount>(
      node_,
      [&](const std::vector<cpb::ShardRef>& refs) {
        cpb::ShardCountRequest req;
        *req.mutable_target() = Target(*plan.entry, refs);
        if (filter != nullptr) *req.mutable_filter() = *filter;
        return req;
      },
      &Async::Count, &ClusterNode::LocalCount,
      [](cpb::ShardCountResponse* resp, const std::vector<uint32_t>& shards)
          -> absl::StatusOr<std::vector<ShardCount>> {
        if (static_cast<size_t>(resp->counts_size()) != shards.size()) {
          return absl::InternalError("counts do not match the shards asked");
        }
        std::vector<ShardCount> out(shards.size());
        for (size_t i = 0; i < shards.size(); ++i) {
          out[i].count = resp->counts(static_cast<int>(i));
          // The node's fields (one filter, one answer for its shards).
          out[i].unindexed.assign(resp->unindexed_fields().begin(),
                                  resp->unindexed_fields().end());
        }
        return out;
      });
  TQ_ASSIGN_OR_RETURN(
      auto per_route,
      Fan(node_, this, *plan.state, "count '" + collection + "'", plan.routes,
          m, deadline, &hedges_, true));
  uint64_t total = 0;
  std::set<std::string> unindexed;
  for (const auto& [route, shard] : per_route) {
    total += shard.count;
    unindexed.insert(shard.unindexed.begin(), shard.unindexed.end());
  }
  pb::CountResponse out;
  out.set_count(total);
  for (const std::string& f : unindexed) out.add_unindexed_fields(f);
  return out;
}

absl::StatusOr<pb::ScrollResponse> ClusterReader::Scroll(
    const pb::ScrollRequest& request, const ReadConsistency& consistency,
    absl::Time deadline) {
  const std::string& collection = request.collection();
  TQ_ASSIGN_OR_RETURN(const ReadPlan plan,
                      PlanRead(node_, collection, consistency, &round_robin_));
  const auto m = ReadMethod(
      node_,
      [&](const std::vector<cpb::ShardRef>& refs) {
        cpb::ShardScrollRequest req;
        *req.mutable_target() = Target(*plan.entry, refs);
        *req.mutable_scroll() = request;
        req.mutable_scroll()->clear_collection();
        req.mutable_scroll()->clear_read_after();
        return req;
      },
      &Async::Scroll, &ClusterNode::LocalScroll,
      &cpb::ShardScrollResponse::shards);
  TQ_ASSIGN_OR_RETURN(
      auto per_route,
      Fan(node_, this, *plan.state, "scroll '" + collection + "'", plan.routes,
          m, deadline, &hedges_, true));
  const size_t limit = request.limit() == 0 ? 10 : request.limit();
  // Where a point (or a page's cursor) is listed: by id, or by order_by's
  // value, then id.
  const bool ordered = request.has_order_by();
  const bool descending = ordered && request.order_by().descending();
  struct Place {
    double value = 0;
    uint64_t id = 0;
  };
  auto before = [descending](const Place& a, const Place& b) {
    if (a.value != b.value) {
      return descending ? a.value > b.value : a.value < b.value;
    }
    return a.id < b.id;
  };
  auto place = [ordered](const pb::ScoredPoint& p) {
    return Place{ordered ? p.order_value() : 0.0, p.id()};
  };
  std::vector<const pb::ScoredPoint*> all;
  std::set<std::string> unindexed;
  std::optional<Place> next;  // the first place no page answered
  for (const auto& [route, page] : per_route) {
    for (const pb::ScoredPoint& p : page.points()) all.push_back(&p);
    if (page.has_next_page_offset()) {
      const Place cursor{ordered ? page.next_order_value() : 0.0,
                         page.next_page_offset()};
      if (!next || before(cursor, *next)) next = cursor;
    }
    unindexed.insert(page.unindexed_fields().begin(),
                     page.unindexed_fields().end());
  }
  std::sort(all.begin(), all.end(),
            [&](const pb::ScoredPoint* a, const pb::ScoredPoint* b) {
              return before(place(*a), place(*b));
            });
  pb::ScrollResponse out;
  for (size_t i = 0; i < all.size(); ++i) {
    if (i < limit) {
      *out.add_points() = *all[i];
      continue;
    }
    if (!next || before(place(*all[i]), *next)) next = place(*all[i]);
    break;
  }
  if (next) {
    out.set_next_page_offset(next->id);
    if (ordered) out.set_next_order_value(next->value);
  }
  for (const std::string& f : unindexed) out.add_unindexed_fields(f);
  return out;
}

absl::StatusOr<std::vector<cpb::ShardWriteResult>> ClusterReader::WriteResults(
    const std::string& collection,
    const std::vector<pb::ShardSequence>& written, absl::Time deadline) {
  ReadConsistency consistency;
  consistency.read_your_writes = true;
  for (const pb::ShardSequence& w : written) {
    consistency.read_after[w.shard()] = w.sequence();
  }
  TQ_ASSIGN_OR_RETURN(const ReadPlan plan,
                      PlanRead(node_, collection, consistency, &round_robin_));
  std::vector<Route> routes;
  for (const pb::ShardSequence& w : written) {
    for (const Route& r : plan.routes) {
      if (r.shard == w.shard()) routes.push_back(r);
    }
  }
  const auto m = ReadMethod(
      node_,
      [&](const std::vector<cpb::ShardRef>& refs) {
        return Target(*plan.entry, refs);
      },
      &Async::WriteResults, &ClusterNode::LocalWriteResults,
      &cpb::ShardWriteResultsResponse::results);
  TQ_ASSIGN_OR_RETURN(auto per_route,
                      Fan(node_, this, *plan.state,
                          "results of a write to '" + collection + "'", routes,
                          m, deadline, &hedges_, true));
  std::vector<cpb::ShardWriteResult> out;
  for (size_t i = 0; i < routes.size(); ++i) {
    auto it = per_route.find(i);
    if (it == per_route.end()) {
      return absl::InternalError(
          absl::StrCat("no result for shard ", routes[i].shard));
    }
    out.push_back(it->second);
  }
  return out;
}

absl::StatusOr<pb::GetPointsResponse> ClusterReader::Get(
    const std::string& collection, const std::vector<uint64_t>& ids,
    bool with_vectors, bool with_payload, const ReadConsistency& consistency,
    absl::Time deadline) {
  TQ_ASSIGN_OR_RETURN(const ReadPlan plan,
                      PlanRead(node_, collection, consistency, &round_robin_));
  // Only the shards the ids fall in.
  const uint32_t shards = plan.entry->record.shards();
  std::map<uint32_t, std::vector<uint64_t>> by_shard;
  for (uint64_t id : ids) by_shard[ShardOf(id, shards)].push_back(id);
  std::vector<Route> routes;
  for (const Route& r : plan.routes) {
    if (by_shard.count(r.shard)) routes.push_back(r);
  }
  using Points = std::vector<pb::ScoredPoint>;
  const auto m = ReadMethod<Points>(
      node_,
      [&](const std::vector<cpb::ShardRef>& refs) {
        cpb::ShardGetRequest req;
        *req.mutable_target() = Target(*plan.entry, refs);
        for (const auto& ref : refs) {
          for (uint64_t id : by_shard[ref.shard()]) req.add_ids(id);
        }
        req.set_with_vectors(with_vectors);
        req.set_with_payload(with_payload);
        return req;
      },
      &Async::Get, &ClusterNode::LocalGet,
      [shards](pb::GetPointsResponse* resp, const std::vector<uint32_t>& asked)
          -> absl::StatusOr<std::vector<Points>> {
        std::vector<Points> out(asked.size());
        for (pb::ScoredPoint& p : *resp->mutable_points()) {
          const uint32_t s = ShardOf(p.id(), shards);
          auto it = std::find(asked.begin(), asked.end(), s);
          if (it == asked.end()) continue;
          out[it - asked.begin()].push_back(std::move(p));
        }
        return out;
      });
  TQ_ASSIGN_OR_RETURN(auto per_route, Fan(node_, this, *plan.state,
                                          "get from '" + collection + "'",
                                          routes, m, deadline, &hedges_, true));
  std::unordered_map<uint64_t, pb::ScoredPoint*> found;
  for (auto& [route, points] : per_route) {
    for (pb::ScoredPoint& p : points) found[p.id()] = &p;
  }
  pb::GetPointsResponse out;
  for (uint64_t id : ids) {
    auto it = found.find(id);
    if (it != found.end()) *out.add_points() = *it->second;
  }
  return out;
}

absl::StatusOr<pb::CollectionInfo> ClusterReader::Info(
    const std::string& collection, absl::Time deadline,
    const ReadConsistency& consistency) {
  TQ_ASSIGN_OR_RETURN(const ReadPlan plan,
                      PlanRead(node_, collection, consistency, &round_robin_));
  const auto m = ReadMethod(
      node_,
      [&](const std::vector<cpb::ShardRef>& refs) {
        return Target(*plan.entry, refs);
      },
      &Async::Info, &ClusterNode::LocalInfo, &cpb::ShardInfoResponse::shards);
  TQ_ASSIGN_OR_RETURN(
      auto per_route,
      Fan(node_, this, *plan.state, "info of '" + collection + "'", plan.routes,
          m, deadline, &hedges_, true));
  TQ_ASSIGN_OR_RETURN(pb::CollectionInfo out,
                      node_->DescribeCollection(collection));
  bool all_trained = true;
  uint64_t live = 0, tombstones = 0;
  std::vector<const pb::CollectionInfo*> shard_infos;
  for (const auto& [route, shard] : per_route) {
    shard_infos.push_back(&shard);
    out.set_count(out.count() + shard.count());
    all_trained &= shard.trained();
    out.set_training(out.training() || shard.training());
    out.set_trained_count(out.trained_count() + shard.trained_count());
    out.set_disk_bytes(out.disk_bytes() + shard.disk_bytes());
    pb::MemoryUsage* mem = out.mutable_memory();
    mem->set_bytes(mem->bytes() + shard.memory().bytes());
    mem->set_index_bytes(mem->index_bytes() + shard.memory().index_bytes());
    mem->set_reserved_bytes(mem->reserved_bytes() +
                            shard.memory().reserved_bytes());
    mem->set_sparse_bytes(mem->sparse_bytes() + shard.memory().sparse_bytes());
    out.set_sparse_points(out.sparse_points() + shard.sparse_points());
    live += shard.lists().live();
    tombstones += shard.lists().tombstones();
    if (!shard.last_training_error().empty()) {
      out.set_last_training_error(absl::StrCat("shard ",
                                               plan.routes[route].shard, ": ",
                                               shard.last_training_error()));
    }
    if (plan.routes[route].shard == 0) {
      out.set_generation(shard.generation());
      out.set_nlist(shard.nlist());
      *out.mutable_lists() = shard.lists();
      out.set_bytes_per_vector(shard.bytes_per_vector());
      out.set_disk_bytes_per_vector(shard.disk_bytes_per_vector());
      out.set_retrain_recommended(shard.retrain_recommended());
      out.set_retrain_reason(shard.retrain_reason());
    }
  }
  MergeIndexes(shard_infos, &out);
  out.set_trained(all_trained);
  out.mutable_lists()->set_live(live);
  out.mutable_lists()->set_tombstones(tombstones);
  return out;
}

absl::StatusOr<pb::CollectionInfo> ClusterReader::Train(
    const std::string& collection, bool retrain, absl::Time deadline) {
  const std::shared_ptr<const ClusterState> state = node_->view()->state();
  TQ_ASSIGN_OR_RETURN(const CollectionEntry* entry,
                      Readable(*state, collection));
  // Every replica: one route per (shard, replica), no fallbacks. A replica
  // trains once it applied every write its shard held when Train was asked:
  // replicas apply the log at their own pace, and one behind would train on
  // fewer points (another nlist, other centroids) than its peers.
  std::vector<Route> routes;
  for (int s = 0; s < entry->map.shards_size(); ++s) {
    const uint32_t shard = static_cast<uint32_t>(s);
    absl::StatusOr<uint64_t> last = node_->jetstream()->LastSequence(
        StreamName(entry->name), ShardSubject(entry->name, shard));
    if (!last.ok()) {
      return WithContext(last.status(), "train '", collection, "' shard ",
                         shard);
    }
    for (uint32_t n : entry->map.shards(s).replicas()) {
      Route r;
      r.shard = shard;
      r.min_sequence = *last;
      r.candidates = {n};
      routes.push_back(r);
    }
  }
  const auto m = ReadMethod(
      node_,
      [&](const std::vector<cpb::ShardRef>& refs) {
        cpb::ShardTrainRequest req;
        *req.mutable_target() = Target(*entry, refs);
        req.set_retrain(retrain);
        return req;
      },
      &Async::Train, &ClusterNode::LocalTrain, &cpb::ShardInfoResponse::shards);
  TQ_RETURN_IF_ERROR(Fan(node_, this, *state, "train '" + collection + "'",
                         routes, m, deadline, &hedges_, false)
                         .status());
  return Info(collection, deadline);
}

}  // namespace cluster
}  // namespace tqdb
