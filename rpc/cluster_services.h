// The tqdb.v1 services of a cluster node (tqdb serve --cluster): the same
// API as a single server (proto/tqdb/v1/tqdb.proto), answered by the
// cluster (rpc/cluster/cluster_node.h) instead of the local database, so
// that clients work against any node unchanged. Plus tqdb.cluster.v1.Node,
// what the node holds.
//
// Collections: Create, List, Delete through etcd (any node); Get and List
// with counts summed over the shards; Train trains every replica. Points:
// Upsert, UpsertStream and Delete go through the collection's log and
// answer after JetStream's PubAck with the sequences written (replicas
// apply them after the call); `wait` is accepted and changes nothing (the
// log's quorum is the durability). Get, Count, Search and SearchBatch fan
// out over one replica per shard (rpc/cluster/cluster_reader.h), with the
// request's consistency. tqdb.cluster.v1.Shards answers other nodes' reads
// of this node's replicas.
#ifndef TQDB_RPC_CLUSTER_SERVICES_H_
#define TQDB_RPC_CLUSTER_SERVICES_H_

#include <grpcpp/grpcpp.h>

#include "rpc/cluster/cluster_node.h"
#include "rpc/service_context.h"
#include "tqdb/cluster/v1/cluster.grpc.pb.h"
#include "tqdb/v1/tqdb.grpc.pb.h"

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
  grpc::Status Search(grpc::ServerContext* ctx, const v1::SearchRequest* req,
                      v1::SearchResponse* resp) override;
  grpc::Status SearchBatch(grpc::ServerContext* ctx,
                           const v1::SearchBatchRequest* req,
                           v1::SearchBatchResponse* resp) override;

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
                     const tqdb::cluster::v1::ShardsRequest* req,
                     tqdb::cluster::v1::ShardCountResponse* resp) override;
  grpc::Status Get(grpc::ServerContext* ctx,
                   const tqdb::cluster::v1::ShardGetRequest* req,
                   v1::GetPointsResponse* resp) override;
  grpc::Status Info(grpc::ServerContext* ctx,
                    const tqdb::cluster::v1::ShardsRequest* req,
                    tqdb::cluster::v1::ShardInfoResponse* resp) override;
  grpc::Status Train(grpc::ServerContext* ctx,
                     const tqdb::cluster::v1::ShardTrainRequest* req,
                     tqdb::cluster::v1::ShardInfoResponse* resp) override;

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

 private:
  const ServiceContext* const context_;
  cluster::ClusterNode* const node_;
};

}  // namespace tqdb

#endif  // TQDB_RPC_CLUSTER_SERVICES_H_
