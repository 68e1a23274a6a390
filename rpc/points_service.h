// tqdb.v1.Points: Upsert, UpsertStream, Get, Delete, Count, Facet, Scroll and
// the payload updates on gRPC's sync API; Search and SearchBatch on its
// callback API (the handler runs on the
// thread that read the request, with no hand-off to a sync-server thread;
// the search runs inline: CPU work of milliseconds, parallel across the
// database's threads for a batch), request and response on one protobuf
// arena per call.
#ifndef TQDB_RPC_POINTS_SERVICE_H_
#define TQDB_RPC_POINTS_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "rpc/service_context.h"
#include "tqdb/v1/points.grpc.pb.h"

namespace tqdb {

// Request and response of one call on one protobuf arena: a batch of 32
// searches parses into 33 messages and answers with 352, which would
// otherwise be as many heap allocations (and frees) per call.
template <typename Req, typename Resp>
class ArenaAllocator final : public grpc::MessageAllocator<Req, Resp> {
 public:
  grpc::MessageHolder<Req, Resp>* AllocateMessages() override {
    return new Holder();
  }

 private:
  class Holder final : public grpc::MessageHolder<Req, Resp> {
   public:
    Holder() : arena_(Options()) {
      this->set_request(google::protobuf::Arena::CreateMessage<Req>(&arena_));
      this->set_response(google::protobuf::Arena::CreateMessage<Resp>(&arena_));
    }
    void Release() override { delete this; }

   private:
    static google::protobuf::ArenaOptions Options() {
      google::protobuf::ArenaOptions o;
      o.start_block_size = 16 << 10;
      o.max_block_size = 256 << 10;
      return o;
    }
    google::protobuf::Arena arena_;
  };
};

class PointsService final
    : public v1::Points::WithCallbackMethod_Search<
          v1::Points::WithCallbackMethod_SearchBatch<v1::Points::Service>> {
 public:
  explicit PointsService(const ServiceContext* context);

  grpc::Status Upsert(grpc::ServerContext* ctx, const v1::UpsertRequest* req,
                      v1::UpsertResponse* resp) override;
  grpc::Status UpsertStream(grpc::ServerContext* ctx,
                            grpc::ServerReader<v1::UpsertRequest>* reader,
                            v1::UpsertResponse* resp) override;
  grpc::Status UpdateVectors(grpc::ServerContext* ctx,
                             const v1::UpdateVectorsRequest* req,
                             v1::UpdateVectorsResponse* resp) override;
  grpc::Status Get(grpc::ServerContext* ctx, const v1::GetPointsRequest* req,
                   v1::GetPointsResponse* resp) override;
  grpc::Status Delete(grpc::ServerContext* ctx,
                      const v1::DeletePointsRequest* req,
                      v1::DeletePointsResponse* resp) override;
  grpc::Status Count(grpc::ServerContext* ctx, const v1::CountRequest* req,
                     v1::CountResponse* resp) override;
  grpc::Status Facet(grpc::ServerContext* ctx, const v1::FacetRequest* req,
                     v1::FacetResponse* resp) override;
  grpc::ServerUnaryReactor* Search(grpc::CallbackServerContext* ctx,
                                   const v1::SearchRequest* req,
                                   v1::SearchResponse* resp) override;
  grpc::ServerUnaryReactor* SearchBatch(grpc::CallbackServerContext* ctx,
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
  grpc::Status DoSearch(grpc::ServerContextBase* ctx,
                        const v1::SearchRequest* req,
                        v1::SearchResponse* resp) const;
  grpc::Status DoSearchBatch(grpc::ServerContextBase* ctx,
                             const v1::SearchBatchRequest* req,
                             v1::SearchBatchResponse* resp) const;

  const ServiceContext* const context_;
  ArenaAllocator<v1::SearchRequest, v1::SearchResponse> search_alloc_;
  ArenaAllocator<v1::SearchBatchRequest, v1::SearchBatchResponse> batch_alloc_;
};

}  // namespace tqdb

#endif  // TQDB_RPC_POINTS_SERVICE_H_
