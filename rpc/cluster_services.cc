#include "rpc/cluster_services.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "quant/status_macros.h"
#include "rpc/cluster/cluster_reader.h"
#include "rpc/convert.h"
#include "rpc/validate.h"

namespace tqdb {
namespace {

namespace pb = ::tqdb::v1;
namespace cpb = ::tqdb::cluster::v1;

using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// The call's deadline; a minute for a call without one (internal calls
// always carry one).
absl::Time DeadlineOf(const grpc::ServerContextBase* ctx) {
  const auto d = ctx->deadline();
  if (d >= std::chrono::system_clock::now() + std::chrono::hours(24 * 365)) {
    return absl::Now() + absl::Minutes(1);
  }
  return absl::FromChrono(d);
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

}  // namespace

// --- Collections ---

grpc::Status ClusterCollectionsService::Create(
    grpc::ServerContext* ctx, const pb::CreateCollectionRequest* req,
    pb::CollectionInfo* resp) {
  return context_->Call(ctx, [&]() -> absl::Status {
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

// --- Points ---

grpc::Status ClusterPointsService::Upsert(grpc::ServerContext* ctx,
                                          const pb::UpsertRequest* req,
                                          pb::UpsertResponse* resp) {
  const auto t0 = Clock::now();
  return context_->Call(ctx, [&]() -> absl::Status {
    TQ_RETURN_IF_ERROR(ValidateCollectionName(req->collection()));
    TQ_RETURN_IF_ERROR(ValidateUpsert(*req));
    const std::vector<Point> points = FromProto(req->points());
    TQ_ASSIGN_OR_RETURN(std::vector<pb::ShardSequence> seqs,
                        node_->Upsert(req->collection(), points));
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

grpc::Status ClusterPointsService::UpsertStream(
    grpc::ServerContext* ctx, grpc::ServerReader<pb::UpsertRequest>* reader,
    pb::UpsertResponse* resp) {
  const auto t0 = Clock::now();
  return context_->Call(ctx, [&]() -> absl::Status {
    pb::UpsertRequest req;
    uint64_t batches = 0, points_done = 0;
    std::map<uint32_t, uint64_t> seqs;
    // As a single server words it; the batch that failed may be in the
    // log in part (retry it).
    auto fail = [&](const absl::Status& s) {
      const absl::Status in_batch = WithContext(s, "batch ", batches);
      return absl::Status(
          in_batch.code(),
          absl::StrCat(in_batch.message(), " (", batches, " batches, ",
                       points_done, " points before it were stored)"));
    };
    std::string name;
    while (reader->Read(&req)) {
      if (ctx->IsCancelled()) {
        return fail(absl::CancelledError("stream cancelled"));
      }
      if (name.empty() || req.collection() != name) {
        if (absl::Status s = ValidateCollectionName(req.collection());
            !s.ok()) {
          return fail(s);
        }
        name = req.collection();
      }
      if (absl::Status s = ValidateUpsert(req); !s.ok()) return fail(s);
      const std::vector<Point> points = FromProto(req.points());
      auto written = node_->Upsert(name, points);
      if (!written.ok()) return fail(written.status());
      Merge(*written, &seqs);
      if (Metrics* m = context_->metrics()) {
        m->RecordIngest(points.size(), req.ByteSizeLong());
      }
      ++batches;
      points_done += points.size();
    }
    resp->set_upserted(points_done);
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
    return absl::OkStatus();
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
    TQ_ASSIGN_OR_RETURN(uint64_t n, node_->reader()->Count(req->collection(), c,
                                                           DeadlineOf(ctx)));
    resp->set_count(n);
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
    TQ_ASSIGN_OR_RETURN(
        cluster::ReadConsistency c,
        cluster::ConsistencyOf(req->consistency(), req->read_after()));
    TQ_ASSIGN_OR_RETURN(
        std::vector<pb::SearchResponse> out,
        node_->reader()->Search(req->collection(), {req}, c, DeadlineOf(ctx)));
    *resp = std::move(out[0]);
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
    for (const pb::SearchRequest& q : req->searches()) searches.push_back(&q);
    TQ_ASSIGN_OR_RETURN(std::vector<pb::SearchResponse> out,
                        node_->reader()->Search(req->collection(), searches, c,
                                                DeadlineOf(ctx)));
    for (pb::SearchResponse& r : out) *resp->add_results() = std::move(r);
    resp->set_time_ms(MsSince(t0));
    return absl::OkStatus();
  });
}

// --- Shards (other nodes' reads of this node's replicas) ---

grpc::Status ClusterShardsService::Search(grpc::ServerContext* ctx,
                                          const cpb::ShardSearchRequest* req,
                                          cpb::ShardSearchResponse* resp) {
  return context_->Call(
      ctx, [&] { return node_->LocalSearch(*req, DeadlineOf(ctx), resp); });
}

grpc::Status ClusterShardsService::Count(grpc::ServerContext* ctx,
                                         const cpb::ShardsRequest* req,
                                         cpb::ShardCountResponse* resp) {
  return context_->Call(
      ctx, [&] { return node_->LocalCount(*req, DeadlineOf(ctx), resp); });
}

grpc::Status ClusterShardsService::Get(grpc::ServerContext* ctx,
                                       const cpb::ShardGetRequest* req,
                                       pb::GetPointsResponse* resp) {
  return context_->Call(
      ctx, [&] { return node_->LocalGet(*req, DeadlineOf(ctx), resp); });
}

grpc::Status ClusterShardsService::Info(grpc::ServerContext* ctx,
                                        const cpb::ShardsRequest* req,
                                        cpb::ShardInfoResponse* resp) {
  return context_->Call(
      ctx, [&] { return node_->LocalInfo(*req, DeadlineOf(ctx), resp); });
}

grpc::Status ClusterShardsService::Train(grpc::ServerContext* ctx,
                                         const cpb::ShardTrainRequest* req,
                                         cpb::ShardInfoResponse* resp) {
  return context_->Call(
      ctx, [&] { return node_->LocalTrain(*req, DeadlineOf(ctx), resp); });
}

// --- Node ---

grpc::Status ClusterNodeService::Status(grpc::ServerContext* ctx,
                                        const cpb::NodeStatusRequest* /*req*/,
                                        cpb::NodeStatusResponse* resp) {
  return context_->Call(ctx, [&]() -> absl::Status {
    node_->Status(resp);
    return absl::OkStatus();
  });
}

}  // namespace tqdb
