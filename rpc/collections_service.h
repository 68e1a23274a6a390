// tqdb.v1.Collections: Create, Get, List, Delete, Train, CreateFieldIndex,
// DeleteFieldIndex.
#ifndef TQDB_RPC_COLLECTIONS_SERVICE_H_
#define TQDB_RPC_COLLECTIONS_SERVICE_H_

#include "rpc/service_context.h"
#include "tqdb/v1/collections.grpc.pb.h"

namespace tqdb {

class CollectionsService final : public v1::Collections::Service {
 public:
  explicit CollectionsService(const ServiceContext* context)
      : context_(context) {}

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
};

}  // namespace tqdb

#endif  // TQDB_RPC_COLLECTIONS_SERVICE_H_
