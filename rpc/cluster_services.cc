#include "rpc/cluster_services.h"

#include <algorithm>
#include <chrono>
#include <future>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "db/json_path.h"
#include "quant/echo.h"
#include "quant/status_macros.h"
#include "rpc/cluster/cluster_reader.h"
#include "rpc/convert.h"
#include "rpc/filter_convert.h"
#include "rpc/payload_selection.h"
#include "rpc/search_groups.h"
#include "rpc/validate.h"

namespace tqdb {
namespace {

namespace pb = ::tqdb::v1;
namespace cpb = ::tqdb::cluster::v1;

using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// The highest sequence per shard over several writes, sorted by shard.
void Merge(const std::vector<pb::ShardSequence>& add,
           std::map<uint32_t, uint64_t>* into) {
  for (const pb::ShardSequence& s : add) {
    uint64_t& v = (*into)[s.shard()];
    v = std::max(v, s.sequence());
  }
}

template <typename Response>
void SetSequences(const std::map<uint32_t, uint64_t>& seqs, Response* resp) {
  for (const auto& [shard, sequence] : seqs) {
    pb::ShardSequence* s = resp->add_sequences();
    s->set_shard(shard);
    s->set_sequence(sequence);
  }
}

// A filter's own errors, before anything enters the log.
absl::Status CheckFilter(bool has, const pb::Filter& filter) {
  return OptionalFilter(has, filter).status();
}

// What the database checks before a payload update writes anything
// (db/collection_payload.cc), checked before the update enters the log.
absl::Status CheckPayloadObject(const std::string& payload) {
  const nlohmann::json j = nlohmann::json::parse(payload, nullptr, false);
  if (j.is_discarded()) {
    return absl::InvalidArgumentError("payload is not valid JSON");
  }
  if (!j.is_object()) {
    return absl::InvalidArgumentError("payload is not a JSON object");
  }
  return absl::OkStatus();
}

absl::Status CheckPayloadKeys(const pb::DeletePayloadKeysRequest& req) {
  for (int i = 0; i < req.keys_size(); ++i) {
    auto p = JsonPath::Parse(req.keys(i));
    TQ_RETURN_IF_ERROR(p.status()) << "keys[" << i << "]";
    if (p->Members().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "keys[", i, "]: '", EchoInput(req.keys(i)),
          "': array steps ([] or [N]) are not supported in payload keys"));
    }
  }
  return absl::OkStatus();
}

// A payload update through the log (ClusterNode::Update).
template <typename Request>
absl::Status UpdatePayload(cluster::ClusterNode* node, const Request& req,
                           Request* (cpb::LogEntry::*op)(), absl::Time deadline,
                           pb::PayloadUpdateResponse* resp) {
  TQ_RETURN_IF_ERROR(CheckFilter(req.has_filter(), req.filter()));
  cpb::LogEntry entry;
  Request* r = (entry.*op)();
  *r = req;
  r->clear_collection();
  r->clear_wait();
  TQ_ASSIGN_OR_RETURN(
      cluster::ClusterNode::UpdateResult done,
      node->Update(req.collection(), std::move(entry), deadline));
  resp->set_updated(done.changed);
  for (pb::ShardSequence& s : done.sequences) {
    *resp->add_sequences() = std::move(s);
  }
  return absl::OkStatus();
}

}  // namespace

// --- Collections ---

grpc::Status ClusterCollectionsService::Create(
    grpc::ServerContext* ctx, const pb::CreateCollectionRequest* req,
    pb::CollectionInfo* resp) {
  return context_->Call(ctx, [&]() -> absl::Status {
    TQ_RETURN_IF_ERROR(ValidateCreateCollection(*req));
    TQ_ASSIGN_OR_RETURN(*resp, node_->CreateCollection(*req));
    return absl::OkStatus();
  });
}

grpc::Status ClusterCollectionsService::Get(grpc::ServerContext* ctx,
                                            const pb::GetCollectionRequest* req,
                                            pb::CollectionInfo* resp) {
  return context_->Call(ctx, [&]() -> absl::Status {
    TQ_RETURN_IF_ERROR(ValidateCollectionName(req->name()));
    TQ_ASSIGN_OR_RETURN(*resp,
                        node_->reader()->Info(req->name(), DeadlineOf(ctx)));
    return absl::OkStatus();
  });
}

grpc::Status ClusterCollectionsService::List(
    grpc::ServerContext* ctx, const pb::ListCollectionsRequest* /*req*/,
    pb::ListCollectionsResponse* resp) {
  return context_->Call(ctx, [&]() -> absl::Status {
    for (const std::string& name : node_->ListCollections()) {
      auto info = node_->reader()->Info(name, DeadlineOf(ctx));
      if (absl::IsNotFound(info.status())) continue;  // dropped meanwhile
      TQ_RETURN_IF_ERROR(info.status());
      *resp->add_collections() = *std::move(info);
    }
    return absl::OkStatus();
  });
}

grpc::Status ClusterCollectionsService::Delete(
    grpc::ServerContext* ctx, const pb::DeleteCollectionRequest* req,
    pb::DeleteCollectionResponse* /*resp*/) {
  return context_->Call(ctx, [&]() -> absl::Status {
    TQ_RETURN_IF_ERROR(ValidateCollectionName(req->name()));
    return node_->DropCollection(req->name());
  });
}

grpc::Status ClusterCollectionsService::Train(
    grpc::ServerContext* ctx, const pb::TrainCollectionRequest* req,
    pb::CollectionInfo* resp) {
  return context_->Call(ctx, [&]() -> absl::Status {
    TQ_RETURN_IF_ERROR(ValidateCollectionName(req->name()));
    TQ_ASSIGN_OR_RETURN(
        *resp,
        node_->reader()->Train(req->name(), req->retrain(), DeadlineOf(ctx)));
    return absl::OkStatus();
  });
}

grpc::Status ClusterCollectionsService::CreateFieldIndex(
    grpc::ServerContext* ctx, const pb::CreateFieldIndexRequest* req,
    pb::PayloadIndexInfo* resp) {
  return context_->Call(ctx, [&]() -> absl::Status {
    TQ_RETURN_IF_ERROR(ValidateCollectionName(req->collection()));
    TQ_RETURN_IF_ERROR(ValidateFieldIndex(req->field()));
    TQ_RETURN_IF_ERROR(FieldTypeFromProto(req->type()).status());
    TQ_RETURN_IF_ERROR(JsonPath::Parse(req->field()).status()) << "field";
    const absl::Time deadline = DeadlineOf(ctx);
    cpb::LogEntry entry;
    *entry.mutable_create_field_index() = *req;
    entry.mutable_create_field_index()->clear_collection();
    entry.mutable_create_field_index()->clear_wait();
    TQ_ASSIGN_OR_RETURN(
        cluster::ClusterNode::UpdateResult done,
        node_->Update(req->collection(), std::move(entry), deadline));
    // The index over the shards, from replicas that applied its creation;
    // with wait, once it is ready on all of them.
    cluster::ReadConsistency after;
    after.read_your_writes = true;
    for (const pb::ShardSequence& s : done.sequences) {
      after.read_after[s.shard()] = s.sequence();
    }
    for (;;) {
      TQ_ASSIGN_OR_RETURN(
          pb::CollectionInfo info,
          node_->reader()->Info(req->collection(), deadline, after));
      const pb::PayloadIndexInfo* found = nullptr;
      for (const pb::PayloadIndexInfo& f : info.payload_indexes()) {
        if (f.field() == req->field()) found = &f;
      }
      if (found == nullptr) {
        return absl::NotFoundError(absl::StrCat(
            "field '", EchoInput(req->field()),
            "' has no index in collection '", EchoInput(req->collection()),
            "' (deleted meanwhile)"));
      }
      if (!req->wait()) {
        *resp = *found;
        return absl::OkStatus();
      }
      // Ready on the replicas read, then on every replica: reads that need
      // the index (facet counts, order_by) may go to any of them.
      if (found->ready()) {
        TQ_ASSIGN_OR_RETURN(
            const bool everywhere,
            node_->reader()->IndexReadyOnEveryReplica(
                req->collection(), req->field(), after, deadline));
        if (everywhere) {
          *resp = *found;
          return absl::OkStatus();
        }
      }
      if (absl::Now() + absl::Milliseconds(100) >= deadline) {
        return absl::DeadlineExceededError(absl::StrCat(
            "the index of '", EchoInput(req->field()),
            "' is not ready on every replica yet (it is being built; "
            "CollectionInfo.payload_indexes says when)"));
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
  });
}

grpc::Status ClusterCollectionsService::DeleteFieldIndex(
    grpc::ServerContext* ctx, const pb::DeleteFieldIndexRequest* req,
    pb::DeleteFieldIndexResponse* /*resp*/) {
  return context_->Call(ctx, [&]() -> absl::Status {
    TQ_RETURN_IF_ERROR(ValidateCollectionName(req->collection()));
    TQ_RETURN_IF_ERROR(ValidateFieldIndex(req->field()));
    cpb::LogEntry entry;
    *entry.mutable_delete_field_index() = *req;
    entry.mutable_delete_field_index()->clear_collection();
    return node_->Update(req->collection(), std::move(entry), DeadlineOf(ctx))
        .status();
  });
}

grpc::Status ClusterCollectionsService::UpdateAliases(
    grpc::ServerContext* ctx, const pb::UpdateAliasesRequest* req,
    pb::UpdateAliasesResponse* /*resp*/) {
  return context_->Call(ctx, [&]() -> absl::Status {
    TQ_ASSIGN_OR_RETURN(std::vector<AliasChange> changes, FromProto(*req));
    for (size_t i = 0; i < changes.size(); ++i) {
      TQ_RETURN_IF_ERROR(ValidateCollectionName(changes[i].alias))
          << "alias change " << i;
    }
    return node_->UpdateAliases(changes);
  });
}

grpc::Status ClusterCollectionsService::ListAliases(
    grpc::ServerContext* ctx, const pb::ListAliasesRequest* req,
    pb::ListAliasesResponse* resp) {
  return context_->Call(ctx, [&]() -> absl::Status {
    if (!req->collection().empty()) {
      TQ_RETURN_IF_ERROR(node_->DescribeCollection(req->collection()).status());
    }
    ToProto(node_->ListAliases(), req->collection(), resp);
    return absl::OkStatus();
  });
}

// --- Points ---

grpc::Status ClusterPointsService::Upsert(grpc::ServerContext* ctx,
                                          const pb::UpsertRequest* req,
                                          pb::UpsertResponse* resp) {
  const auto t0 = Clock::now();
  return context_->Call(ctx, [&]() -> absl::Status {
    TQ_RETURN_IF_ERROR(ValidateCollectionName(req->collection()));
    TQ_RETURN_IF_ERROR(ValidateUpsert(*req));
    std::vector<Point> points = FromProto(req->points());
    TQ_RETURN_IF_ERROR(node_->CheckUpsert(req->collection(), &points));
    TQ_ASSIGN_OR_RETURN(
        std::vector<pb::ShardSequence> seqs,
        node_->Upsert(req->collection(), points, /*checked=*/true));
    if (Metrics* m = context_->metrics()) {
      m->RecordIngest(points.size(), req->ByteSizeLong());
    }
    resp->set_upserted(points.size());
    resp->set_batches(1);
    resp->set_time_ms(MsSince(t0));
    for (pb::ShardSequence& s : seqs) *resp->add_sequences() = std::move(s);
    return absl::OkStatus();
  });
}

grpc::Status ClusterPointsService::UpdateVectors(
    grpc::ServerContext* ctx, const pb::UpdateVectorsRequest* req,
    pb::UpdateVectorsResponse* resp) {
  return context_->Call(ctx, [&]() -> absl::Status {
    TQ_RETURN_IF_ERROR(ValidateCollectionName(req->collection()));
    TQ_RETURN_IF_ERROR(ValidateUpdateVectors(*req));
    // The vectors' checks before anything reaches the log; each replica
    // then finds the points it holds at the entry's place in the log.
    std::vector<Point> points = FromProto(req->points());
    TQ_RETURN_IF_ERROR(node_->CheckUpsert(req->collection(), &points));
    cpb::LogEntry entry;
    for (Point& p : points) {
      ToProto(std::move(p), entry.mutable_update_vectors()->add_points());
    }
    TQ_ASSIGN_OR_RETURN(
        cluster::ClusterNode::UpdateResult done,
        node_->Update(req->collection(), std::move(entry), DeadlineOf(ctx)));
    resp->set_updated(done.changed);
    for (pb::ShardSequence& s : done.sequences) {
      *resp->add_sequences() = std::move(s);
    }
    return absl::OkStatus();
  });
}

grpc::Status ClusterPointsService::UpsertStream(
    grpc::ServerContext* ctx, grpc::ServerReader<pb::UpsertRequest>* reader,
    pb::UpsertResponse* resp) {
  const auto t0 = Clock::now();
  return context_->Call(ctx, [&]() -> absl::Status {
    // The stream's batches go to the log in groups of up to max_batch
    // points (fewer, larger entries: one wait for PubAcks a group, not a
    // batch), and the next group is read and checked while the previous
    // one waits for its PubAcks. One group in flight at a time: the log
    // keeps the stream's order (a later batch's point wins).
    struct Group {
      std::string collection;
      std::vector<Point> points;
      uint64_t first_batch = 0;  // the stream's batch numbers it holds
      uint64_t batches = 0;
      uint64_t bytes = 0;  // of the requests (metrics)
    };
    const size_t max_points = node_->options().database.max_batch;
    uint64_t batches = 0, stored_batches = 0, stored_points = 0;
    std::map<uint32_t, uint64_t> seqs;
    // As a single server words it: the batch that failed (a group's first),
    // and what was stored before it; the group that failed may be in the
    // log in part (retry from it).
    auto fail = [&](const absl::Status& s, uint64_t batch) {
      const absl::Status in_batch = WithContext(s, "batch ", batch);
      return absl::Status(
          in_batch.code(),
          absl::StrCat(in_batch.message(), " (", stored_batches, " batches, ",
                       stored_points, " points before it were stored)"));
    };
    Group current, inflight;
    std::future<absl::StatusOr<std::vector<pb::ShardSequence>>> pending;
    // Waits for the group in flight.
    auto settle = [&]() -> absl::Status {
      if (!pending.valid()) return absl::OkStatus();
      absl::StatusOr<std::vector<pb::ShardSequence>> written = pending.get();
      if (!written.ok()) return fail(written.status(), inflight.first_batch);
      Merge(*written, &seqs);
      if (Metrics* m = context_->metrics()) {
        m->RecordIngest(inflight.points.size(), inflight.bytes);
      }
      stored_batches += inflight.batches;
      stored_points += inflight.points.size();
      return absl::OkStatus();
    };
    // Sends the current group once the one in flight is stored.
    auto launch = [&]() -> absl::Status {
      TQ_RETURN_IF_ERROR(settle());
      if (current.batches == 0) return absl::OkStatus();
      inflight = std::move(current);
      current = Group();
      pending = std::async(std::launch::async, [this, &inflight] {
        return node_->Upsert(inflight.collection, inflight.points,
                             /*checked=*/true);
      });
      return absl::OkStatus();
    };
    // A bad batch: the batches before it are stored first, as on a single
    // server.
    auto reject = [&](const absl::Status& s) -> absl::Status {
      TQ_RETURN_IF_ERROR(launch());
      TQ_RETURN_IF_ERROR(settle());
      return fail(s, batches);
    };
    pb::UpsertRequest req;
    std::string name;
    while (reader->Read(&req)) {
      if (ctx->IsCancelled()) {
        return reject(absl::CancelledError("stream cancelled"));
      }
      if (name.empty() || req.collection() != name) {
        if (absl::Status s = ValidateCollectionName(req.collection());
            !s.ok()) {
          return reject(s);
        }
        name = req.collection();
      }
      if (absl::Status s = ValidateUpsert(req); !s.ok()) return reject(s);
      std::vector<Point> points = FromProto(req.points());
      if (absl::Status s = node_->CheckUpsert(name, &points); !s.ok()) {
        return reject(s);
      }
      if (current.batches > 0 &&
          (current.collection != name ||
           current.points.size() + points.size() > max_points)) {
        TQ_RETURN_IF_ERROR(launch());
      }
      if (current.batches == 0) {
        current.collection = name;
        current.first_batch = batches;
      }
      current.points.insert(current.points.end(),
                            std::make_move_iterator(points.begin()),
                            std::make_move_iterator(points.end()));
      ++current.batches;
      current.bytes += req.ByteSizeLong();
      ++batches;
    }
    TQ_RETURN_IF_ERROR(launch());
    TQ_RETURN_IF_ERROR(settle());
    resp->set_upserted(stored_points);
    resp->set_batches(batches);
    resp->set_time_ms(MsSince(t0));
    SetSequences(seqs, resp);
    return absl::OkStatus();
  });
}

grpc::Status ClusterPointsService::Delete(grpc::ServerContext* ctx,
                                          const pb::DeletePointsRequest* req,
                                          pb::DeletePointsResponse* resp) {
  return context_->Call(ctx, [&]() -> absl::Status {
    TQ_RETURN_IF_ERROR(ValidateCollectionName(req->collection()));
    TQ_RETURN_IF_ERROR(ValidateDelete(*req));
    if (req->has_filter()) {
      TQ_RETURN_IF_ERROR(CheckFilter(true, req->filter()));
      cpb::LogEntry entry;
      *entry.mutable_delete_filter() = req->filter();
      TQ_ASSIGN_OR_RETURN(
          cluster::ClusterNode::UpdateResult done,
          node_->Update(req->collection(), std::move(entry), DeadlineOf(ctx)));
      resp->set_deleted(done.changed);
      for (pb::ShardSequence& s : done.sequences) {
        *resp->add_sequences() = std::move(s);
      }
      return absl::OkStatus();
    }
    std::vector<uint64_t> ids(req->ids().begin(), req->ids().end());
    TQ_ASSIGN_OR_RETURN(std::vector<pb::ShardSequence> seqs,
                        node_->Delete(req->collection(), ids));
    resp->set_deleted(ids.size());
    for (pb::ShardSequence& s : seqs) *resp->add_sequences() = std::move(s);
    return absl::OkStatus();
  });
}

grpc::Status ClusterPointsService::Get(grpc::ServerContext* ctx,
                                       const pb::GetPointsRequest* req,
                                       pb::GetPointsResponse* resp) {
  return context_->Call(ctx, [&]() -> absl::Status {
    TQ_RETURN_IF_ERROR(ValidateCollectionName(req->collection()));
    TQ_RETURN_IF_ERROR(ValidateGet(*req));
    TQ_ASSIGN_OR_RETURN(
        cluster::ReadConsistency c,
        cluster::ConsistencyOf(req->consistency(), req->read_after()));
    const std::vector<uint64_t> ids(req->ids().begin(), req->ids().end());
    TQ_ASSIGN_OR_RETURN(
        *resp, node_->reader()->Get(req->collection(), ids, req->with_vectors(),
                                    req->with_payload(), c, DeadlineOf(ctx)));
    return SelectPayloads(req->payload_selector(), resp->mutable_points());
  });
}

grpc::Status ClusterPointsService::Count(grpc::ServerContext* ctx,
                                         const pb::CountRequest* req,
                                         pb::CountResponse* resp) {
  return context_->Call(ctx, [&]() -> absl::Status {
    TQ_RETURN_IF_ERROR(ValidateCollectionName(req->collection()));
    TQ_ASSIGN_OR_RETURN(
        cluster::ReadConsistency c,
        cluster::ConsistencyOf(req->consistency(), req->read_after()));
    TQ_RETURN_IF_ERROR(CheckFilter(req->has_filter(), req->filter()));
    TQ_ASSIGN_OR_RETURN(*resp, node_->reader()->Count(
                                   req->collection(),
                                   req->has_filter() ? &req->filter() : nullptr,
                                   c, DeadlineOf(ctx)));
    return absl::OkStatus();
  });
}

grpc::Status ClusterPointsService::Facet(grpc::ServerContext* ctx,
                                         const pb::FacetRequest* req,
                                         pb::FacetResponse* resp) {
  return context_->Call(ctx, [&]() -> absl::Status {
    TQ_RETURN_IF_ERROR(ValidateCollectionName(req->collection()));
    TQ_RETURN_IF_ERROR(ValidateFacet(*req, context_->options()));
    TQ_RETURN_IF_ERROR(CheckFilter(req->has_filter(), req->filter()));
    TQ_ASSIGN_OR_RETURN(
        cluster::ReadConsistency c,
        cluster::ConsistencyOf(req->consistency(), req->read_after()));
    TQ_ASSIGN_OR_RETURN(*resp,
                        node_->reader()->Facet(*req, c, DeadlineOf(ctx)));
    return absl::OkStatus();
  });
}

grpc::Status ClusterPointsService::Search(grpc::ServerContext* ctx,
                                          const pb::SearchRequest* req,
                                          pb::SearchResponse* resp) {
  const auto t0 = Clock::now();
  return context_->Call(ctx, [&]() -> absl::Status {
    TQ_RETURN_IF_ERROR(ValidateCollectionName(req->collection()));
    TQ_RETURN_IF_ERROR(ValidateSearch(*req, context_->options()));
    TQ_RETURN_IF_ERROR(CheckFilter(req->has_filter(), req->filter()));
    TQ_ASSIGN_OR_RETURN(
        cluster::ReadConsistency c,
        cluster::ConsistencyOf(req->consistency(), req->read_after()));
    auto search =
        [&](const pb::SearchRequest& q) -> absl::StatusOr<pb::SearchResponse> {
      TQ_ASSIGN_OR_RETURN(
          std::vector<pb::SearchResponse> out,
          node_->reader()->Search(req->collection(), {&q}, c, DeadlineOf(ctx)));
      return std::move(out[0]);
    };
    if (req->group_by().empty()) {
      TQ_ASSIGN_OR_RETURN(*resp, search(*req));
    } else {
      TQ_RETURN_IF_ERROR(
          SearchGroups(*req, context_->options().max_limit, search, resp));
    }
    resp->set_time_ms(MsSince(t0));
    return absl::OkStatus();
  });
}

grpc::Status ClusterPointsService::SearchBatch(
    grpc::ServerContext* ctx, const pb::SearchBatchRequest* req,
    pb::SearchBatchResponse* resp) {
  const auto t0 = Clock::now();
  return context_->Call(ctx, [&]() -> absl::Status {
    TQ_RETURN_IF_ERROR(ValidateCollectionName(req->collection()));
    TQ_RETURN_IF_ERROR(ValidateSearchBatch(*req, context_->options()));
    TQ_ASSIGN_OR_RETURN(
        cluster::ReadConsistency c,
        cluster::ConsistencyOf(req->consistency(), req->read_after()));
    std::vector<const pb::SearchRequest*> searches;
    for (const pb::SearchRequest& q : req->searches()) {
      TQ_RETURN_IF_ERROR(CheckFilter(q.has_filter(), q.filter()))
          << "search " << searches.size();
      searches.push_back(&q);
    }
    TQ_ASSIGN_OR_RETURN(std::vector<pb::SearchResponse> out,
                        node_->reader()->Search(req->collection(), searches, c,
                                                DeadlineOf(ctx)));
    for (pb::SearchResponse& r : out) *resp->add_results() = std::move(r);
    resp->set_time_ms(MsSince(t0));
    return absl::OkStatus();
  });
}

grpc::Status ClusterPointsService::Scroll(grpc::ServerContext* ctx,
                                          const pb::ScrollRequest* req,
                                          pb::ScrollResponse* resp) {
  return context_->Call(ctx, [&]() -> absl::Status {
    TQ_RETURN_IF_ERROR(ValidateCollectionName(req->collection()));
    TQ_RETURN_IF_ERROR(ValidateScroll(*req, context_->options()));
    TQ_RETURN_IF_ERROR(CheckFilter(req->has_filter(), req->filter()));
    TQ_ASSIGN_OR_RETURN(
        cluster::ReadConsistency c,
        cluster::ConsistencyOf(req->consistency(), req->read_after()));
    TQ_ASSIGN_OR_RETURN(*resp,
                        node_->reader()->Scroll(*req, c, DeadlineOf(ctx)));
    return absl::OkStatus();
  });
}

grpc::Status ClusterPointsService::SetPayload(grpc::ServerContext* ctx,
                                              const pb::SetPayloadRequest* req,
                                              pb::PayloadUpdateResponse* resp) {
  return context_->Call(ctx, [&]() -> absl::Status {
    TQ_RETURN_IF_ERROR(ValidateCollectionName(req->collection()));
    TQ_RETURN_IF_ERROR(ValidateSetPayload(*req));
    TQ_RETURN_IF_ERROR(CheckPayloadObject(req->payload()));
    return UpdatePayload(node_, *req, &cpb::LogEntry::mutable_set_payload,
                         DeadlineOf(ctx), resp);
  });
}

grpc::Status ClusterPointsService::OverwritePayload(
    grpc::ServerContext* ctx, const pb::SetPayloadRequest* req,
    pb::PayloadUpdateResponse* resp) {
  return context_->Call(ctx, [&]() -> absl::Status {
    TQ_RETURN_IF_ERROR(ValidateCollectionName(req->collection()));
    TQ_RETURN_IF_ERROR(ValidateSetPayload(*req));
    TQ_RETURN_IF_ERROR(CheckPayloadObject(req->payload()));
    return UpdatePayload(node_, *req, &cpb::LogEntry::mutable_overwrite_payload,
                         DeadlineOf(ctx), resp);
  });
}

grpc::Status ClusterPointsService::DeletePayloadKeys(
    grpc::ServerContext* ctx, const pb::DeletePayloadKeysRequest* req,
    pb::PayloadUpdateResponse* resp) {
  return context_->Call(ctx, [&]() -> absl::Status {
    TQ_RETURN_IF_ERROR(ValidateCollectionName(req->collection()));
    TQ_RETURN_IF_ERROR(ValidateDeletePayloadKeys(*req));
    TQ_RETURN_IF_ERROR(CheckPayloadKeys(*req));
    return UpdatePayload(node_, *req,
                         &cpb::LogEntry::mutable_delete_payload_keys,
                         DeadlineOf(ctx), resp);
  });
}

std::function<NodeServices(const ServiceContext*)> ClusterServices(
    cluster::ClusterNode* node) {
  return [node](const ServiceContext* context) {
    NodeServices s;
    s.collections = std::make_unique<ClusterCollectionsService>(context, node);
    s.points = std::make_unique<ClusterPointsService>(context, node);
    s.snapshots = std::make_unique<SnapshotsService>(
        context, SnapshotDir(context->options(), *context->db()),
        [node](const std::string& target_dir, const std::string& collection) {
          return node->Snapshot(collection, target_dir);
        });
    s.more.push_back(std::make_unique<ClusterNodeService>(context, node));
    s.more.push_back(std::make_unique<ClusterShardsService>(context, node));
    return s;
  };
}

}  // namespace tqdb
