// The tqdb.v1 services of a cluster node (tqdb serve --cluster): the same
// API as a single server (proto/tqdb/v1/), answered by the
// cluster (rpc/cluster/cluster_node.h) instead of the local database, so
// that clients work against any node unchanged. Plus tqdb.cluster.v1.Node,
// what the node holds.
//
// Collections: Create, List, Delete through etcd (any node); Get and List
// with counts summed over the shards; Train trains every replica;
// CreateFieldIndex and DeleteFieldIndex go through the log to every shard
// and answer once one replica of each applied them (wait: once the index
// is ready on every shard). Points: Upsert, UpsertStream and Delete by ids
// go through the collection's log and answer after JetStream's PubAck
// with the sequences written (replicas apply them after the call); `wait`
// is accepted and changes nothing (the log's quorum is the durability).
// Delete by filter, SetPayload, OverwritePayload and DeletePayloadKeys go
// through the log too and answer, with the points changed, once one
// replica of each shard applied them (ClusterNode::Update). Get, Count,
// Scroll, Search and SearchBatch fan out over one replica per shard
// (rpc/cluster/cluster_reader.h), with the request's consistency, filters
// included. tqdb.cluster.v1.Shards answers other nodes' reads of this
// node's replicas. Snapshots: Create copies every shard from one ready
// replica into a single server's snapshot in this node's snapshot
// directory (ClusterNode::Snapshot); List and Delete are that directory's,
// as on a single server (rpc/snapshots_service.h). Aliases live in etcd
// (ClusterNode::UpdateAliases); every call resolves one through the view
// (ClusterState::Find). Node: Status, and
// Drain (a node's replicas moved to the others before it leaves).
#ifndef TQDB_RPC_CLUSTER_SERVICES_H_
#define TQDB_RPC_CLUSTER_SERVICES_H_

#include <grpcpp/grpcpp.h>

#include <functional>

#include "rpc/cluster/cluster_node.h"
#include "rpc/server.h"
#include "rpc/service_context.h"
#include "rpc/snapshots_service.h"
#include "tqdb/cluster/v1/cluster.grpc.pb.h"
#include "tqdb/v1/collections.grpc.pb.h"
#include "tqdb/v1/points.grpc.pb.h"
#include "tqdb/v1/snapshots.grpc.pb.h"

namespace tqdb {

class ClusterCollectionsService final : public v1::Collections::Service {
 public:
  ClusterCollectionsService(const ServiceContext* context,
                            cluster::ClusterNode* node)
      : context_(context), node_(node) {}

  grpc::Status Create(grpc::ServerContext* ctx,
                      const v1::CreateCollectionRequest* req,
                      v1::CollectionInfo* resp) override;
  grpc::Status Get(grpc::ServerContext* ctx,
                   const v1::GetCollectionRequest* req,
                   v1::CollectionInfo* resp) override;
  grpc::Status List(grpc::ServerContext* ctx,
                    const v1::ListCollectionsRequest* req,
                    v1::ListCollectionsResponse* resp) override;
  grpc::Status Delete(grpc::ServerContext* ctx,
                      const v1::DeleteCollectionRequest* req,
                      v1::DeleteCollectionResponse* resp) override;
  grpc::Status Train(grpc::ServerContext* ctx,
                     const v1::TrainCollectionRequest* req,
                     v1::CollectionInfo* resp) override;
  grpc::Status CreateFieldIndex(grpc::ServerContext* ctx,
                                const v1::CreateFieldIndexRequest* req,
                                v1::PayloadIndexInfo* resp) override;
  grpc::Status DeleteFieldIndex(grpc::ServerContext* ctx,
                                const v1::DeleteFieldIndexRequest* req,
                                v1::DeleteFieldIndexResponse* resp) override;
  grpc::Status UpdateAliases(grpc::ServerContext* ctx,
                             const v1::UpdateAliasesRequest* req,
                             v1::UpdateAliasesResponse* resp) override;
  grpc::Status ListAliases(grpc::ServerContext* ctx,
                           const v1::ListAliasesRequest* req,
                           v1::ListAliasesResponse* resp) override;

 private:
  const ServiceContext* const context_;
  cluster::ClusterNode* const node_;
};

class ClusterPointsService final : public v1::Points::Service {
 public:
  ClusterPointsService(const ServiceContext* context,
                       cluster::ClusterNode* node)
      : context_(context), node_(node) {}

  grpc::Status Upsert(grpc::ServerContext* ctx, const v1::UpsertRequest* req,
                      v1::UpsertResponse* resp) override;
  grpc::Status UpdateVectors(grpc::ServerContext* ctx,
                             const v1::UpdateVectorsRequest* req,
                             v1::UpdateVectorsResponse* resp) override;
  grpc::Status UpsertStream(grpc::ServerContext* ctx,
                            grpc::ServerReader<v1::UpsertRequest>* reader,
                            v1::UpsertResponse* resp) override;
  grpc::Status Delete(grpc::ServerContext* ctx,
                      const v1::DeletePointsRequest* req,
                      v1::DeletePointsResponse* resp) override;
  grpc::Status Get(grpc::ServerContext* ctx, const v1::GetPointsRequest* req,
                   v1::GetPointsResponse* resp) override;
  grpc::Status Count(grpc::ServerContext* ctx, const v1::CountRequest* req,
                     v1::CountResponse* resp) override;
  grpc::Status Facet(grpc::ServerContext* ctx, const v1::FacetRequest* req,
                     v1::FacetResponse* resp) override;
  grpc::Status Search(grpc::ServerContext* ctx, const v1::SearchRequest* req,
                      v1::SearchResponse* resp) override;
  grpc::Status SearchBatch(grpc::ServerContext* ctx,
                           const v1::SearchBatchRequest* req,
                           v1::SearchBatchResponse* resp) override;
  grpc::Status Scroll(grpc::ServerContext* ctx, const v1::ScrollRequest* req,
                      v1::ScrollResponse* resp) override;
  grpc::Status SetPayload(grpc::ServerContext* ctx,
                          const v1::SetPayloadRequest* req,
                          v1::PayloadUpdateResponse* resp) override;
  grpc::Status OverwritePayload(grpc::ServerContext* ctx,
                                const v1::SetPayloadRequest* req,
                                v1::PayloadUpdateResponse* resp) override;
  grpc::Status DeletePayloadKeys(grpc::ServerContext* ctx,
                                 const v1::DeletePayloadKeysRequest* req,
                                 v1::PayloadUpdateResponse* resp) override;

 private:
  const ServiceContext* const context_;
  cluster::ClusterNode* const node_;
};

class ClusterShardsService final : public tqdb::cluster::v1::Shards::Service {
 public:
  ClusterShardsService(const ServiceContext* context,
                       cluster::ClusterNode* node)
      : context_(context), node_(node) {}

  grpc::Status Search(grpc::ServerContext* ctx,
                      const tqdb::cluster::v1::ShardSearchRequest* req,
                      tqdb::cluster::v1::ShardSearchResponse* resp) override;
  grpc::Status Count(grpc::ServerContext* ctx,
                     const tqdb::cluster::v1::ShardCountRequest* req,
                     tqdb::cluster::v1::ShardCountResponse* resp) override;
  grpc::Status SparseStats(
      grpc::ServerContext* ctx,
      const tqdb::cluster::v1::ShardSparseStatsRequest* req,
      tqdb::cluster::v1::ShardSparseStatsResponse* resp) override;
  grpc::Status Facet(grpc::ServerContext* ctx,
                     const tqdb::cluster::v1::ShardFacetRequest* req,
                     tqdb::cluster::v1::ShardFacetResponse* resp) override;
  grpc::Status Scroll(grpc::ServerContext* ctx,
                      const tqdb::cluster::v1::ShardScrollRequest* req,
                      tqdb::cluster::v1::ShardScrollResponse* resp) override;
  grpc::Status WriteResults(
      grpc::ServerContext* ctx, const tqdb::cluster::v1::ShardsRequest* req,
      tqdb::cluster::v1::ShardWriteResultsResponse* resp) override;
  grpc::Status Get(grpc::ServerContext* ctx,
                   const tqdb::cluster::v1::ShardGetRequest* req,
                   v1::GetPointsResponse* resp) override;
  grpc::Status Info(grpc::ServerContext* ctx,
                    const tqdb::cluster::v1::ShardsRequest* req,
                    tqdb::cluster::v1::ShardInfoResponse* resp) override;
  grpc::Status Train(grpc::ServerContext* ctx,
                     const tqdb::cluster::v1::ShardTrainRequest* req,
                     tqdb::cluster::v1::ShardInfoResponse* resp) override;
  grpc::Status Copy(
      grpc::ServerContext* ctx, const tqdb::cluster::v1::ShardCopyRequest* req,
      grpc::ServerWriter<tqdb::cluster::v1::ShardCopyChunk>* writer) override;

 private:
  const ServiceContext* const context_;
  cluster::ClusterNode* const node_;
};

class ClusterNodeService final : public tqdb::cluster::v1::Node::Service {
 public:
  ClusterNodeService(const ServiceContext* context, cluster::ClusterNode* node)
      : context_(context), node_(node) {}

  grpc::Status Status(grpc::ServerContext* ctx,
                      const tqdb::cluster::v1::NodeStatusRequest* req,
                      tqdb::cluster::v1::NodeStatusResponse* resp) override;
  grpc::Status Drain(grpc::ServerContext* ctx,
                     const tqdb::cluster::v1::DrainRequest* req,
                     tqdb::cluster::v1::DrainResponse* resp) override;

 private:
  const ServiceContext* const context_;
  cluster::ClusterNode* const node_;
};

// The services of a cluster node over `node` (not owned, outlives the
// server), for ServerOptions::services: Collections, Points and Snapshots
// replaced, tqdb.cluster.v1.Node and Shards added.
std::function<NodeServices(const ServiceContext*)> ClusterServices(
    cluster::ClusterNode* node);

}  // namespace tqdb

#endif  // TQDB_RPC_CLUSTER_SERVICES_H_
