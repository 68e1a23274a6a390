// The cluster services other nodes and operators call on a node
// (rpc/cluster_services.h): Shards, reads of this node's replicas for the
// node a client asked, and Node, its status and drain.
#include "quant/status_macros.h"
#include "rpc/cluster/cluster_node.h"
#include "rpc/cluster_services.h"

namespace tqdb {

namespace pb = ::tqdb::v1;
namespace cpb = ::tqdb::cluster::v1;

grpc::Status ClusterShardsService::Search(grpc::ServerContext* ctx,
                                          const cpb::ShardSearchRequest* req,
                                          cpb::ShardSearchResponse* resp) {
  return context_->Call(
      ctx, [&] { return node_->LocalSearch(*req, DeadlineOf(ctx), resp); });
}

grpc::Status ClusterShardsService::SparseStats(
    grpc::ServerContext* ctx, const cpb::ShardSparseStatsRequest* req,
    cpb::ShardSparseStatsResponse* resp) {
  return context_->Call(ctx, [&] {
    return node_->LocalSparseStats(*req, DeadlineOf(ctx), resp);
  });
}

grpc::Status ClusterShardsService::Count(grpc::ServerContext* ctx,
                                         const cpb::ShardCountRequest* req,
                                         cpb::ShardCountResponse* resp) {
  return context_->Call(
      ctx, [&] { return node_->LocalCount(*req, DeadlineOf(ctx), resp); });
}

grpc::Status ClusterShardsService::Facet(grpc::ServerContext* ctx,
                                         const cpb::ShardFacetRequest* req,
                                         cpb::ShardFacetResponse* resp) {
  return context_->Call(
      ctx, [&] { return node_->LocalFacet(*req, DeadlineOf(ctx), resp); });
}

grpc::Status ClusterShardsService::Scroll(grpc::ServerContext* ctx,
                                          const cpb::ShardScrollRequest* req,
                                          cpb::ShardScrollResponse* resp) {
  return context_->Call(
      ctx, [&] { return node_->LocalScroll(*req, DeadlineOf(ctx), resp); });
}

grpc::Status ClusterShardsService::WriteResults(
    grpc::ServerContext* ctx, const cpb::ShardsRequest* req,
    cpb::ShardWriteResultsResponse* resp) {
  return context_->Call(ctx, [&] {
    return node_->LocalWriteResults(*req, DeadlineOf(ctx), resp);
  });
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

grpc::Status ClusterShardsService::Copy(
    grpc::ServerContext* ctx, const cpb::ShardCopyRequest* req,
    grpc::ServerWriter<cpb::ShardCopyChunk>* writer) {
  return context_->Call(ctx, [&] {
    return node_->LocalCopy(
        *req, DeadlineOf(ctx),
        [&](const cpb::ShardCopyChunk& chunk) { return writer->Write(chunk); });
  });
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

grpc::Status ClusterNodeService::Drain(grpc::ServerContext* ctx,
                                       const cpb::DrainRequest* req,
                                       cpb::DrainResponse* resp) {
  return context_->Call(ctx, [&]() -> absl::Status {
    TQ_ASSIGN_OR_RETURN(*resp, node_->Drain(req->node_id(), req->cancel()));
    return absl::OkStatus();
  });
}

}  // namespace tqdb
