#include "rpc/collections_service.h"

#include <string>
#include <vector>

#include "quant/status_macros.h"
#include "rpc/convert.h"
#include "rpc/filter_convert.h"
#include "rpc/validate.h"

namespace tqdb {

namespace pb = ::tqdb::v1;

grpc::Status CollectionsService::Create(grpc::ServerContext* ctx,
                                        const pb::CreateCollectionRequest* req,
                                        pb::CollectionInfo* resp) {
  return context_->Call(ctx, [&]() -> absl::Status {
    TQ_RETURN_IF_ERROR(ValidateCreateCollection(*req));
    TQ_ASSIGN_OR_RETURN(CollectionConfig c, FromProto(*req));
    TQ_ASSIGN_OR_RETURN(CollectionInfo info,
                        context_->db()->CreateCollection(c));
    ToProto(info, resp);
    return absl::OkStatus();
  });
}

grpc::Status CollectionsService::Get(grpc::ServerContext* ctx,
                                     const pb::GetCollectionRequest* req,
                                     pb::CollectionInfo* resp) {
  return context_->Call(ctx, [&]() -> absl::Status {
    TQ_ASSIGN_OR_RETURN(auto c, context_->GetCollection(req->name()));
    TQ_ASSIGN_OR_RETURN(CollectionInfo info, c->Info());
    ToProto(info, resp);
    return absl::OkStatus();
  });
}

grpc::Status CollectionsService::List(grpc::ServerContext* ctx,
                                      const pb::ListCollectionsRequest* /*req*/,
                                      pb::ListCollectionsResponse* resp) {
  return context_->Call(ctx, [&]() -> absl::Status {
    Database* db = context_->db();
    for (const std::string& name : db->ListCollections()) {
      auto c = db->GetCollection(name);
      if (absl::IsNotFound(c.status())) continue;  // dropped meanwhile
      TQ_RETURN_IF_ERROR(c.status());
      auto info = (*c)->Info();
      if (absl::IsNotFound(info.status())) continue;
      TQ_RETURN_IF_ERROR(info.status());
      ToProto(*info, resp->add_collections());
    }
    return absl::OkStatus();
  });
}

grpc::Status CollectionsService::Delete(
    grpc::ServerContext* ctx, const pb::DeleteCollectionRequest* req,
    pb::DeleteCollectionResponse* /*resp*/) {
  return context_->Call(ctx, [&]() -> absl::Status {
    TQ_RETURN_IF_ERROR(ValidateCollectionName(req->name()));
    return context_->db()->DropCollection(req->name());
  });
}

grpc::Status CollectionsService::Train(grpc::ServerContext* ctx,
                                       const pb::TrainCollectionRequest* req,
                                       pb::CollectionInfo* resp) {
  return context_->Call(ctx, [&]() -> absl::Status {
    TQ_ASSIGN_OR_RETURN(auto c, context_->GetCollection(req->name()));
    TQ_RETURN_IF_ERROR(req->retrain() ? c->Retrain() : c->Train());
    TQ_ASSIGN_OR_RETURN(CollectionInfo info, c->Info());
    ToProto(info, resp);
    return absl::OkStatus();
  });
}

grpc::Status CollectionsService::CreateFieldIndex(
    grpc::ServerContext* ctx, const pb::CreateFieldIndexRequest* req,
    pb::PayloadIndexInfo* resp) {
  return context_->Call(ctx, [&]() -> absl::Status {
    TQ_ASSIGN_OR_RETURN(auto c, context_->GetCollection(req->collection()));
    TQ_RETURN_IF_ERROR(ValidateFieldIndex(req->field()));
    TQ_ASSIGN_OR_RETURN(FieldType type, FieldTypeFromProto(req->type()));
    TQ_ASSIGN_OR_RETURN(FieldIndexInfo info,
                        c->CreateFieldIndex(req->field(), type, req->wait()));
    ToProto(info, resp);
    return absl::OkStatus();
  });
}

grpc::Status CollectionsService::DeleteFieldIndex(
    grpc::ServerContext* ctx, const pb::DeleteFieldIndexRequest* req,
    pb::DeleteFieldIndexResponse* /*resp*/) {
  return context_->Call(ctx, [&]() -> absl::Status {
    TQ_ASSIGN_OR_RETURN(auto c, context_->GetCollection(req->collection()));
    TQ_RETURN_IF_ERROR(ValidateFieldIndex(req->field()));
    return c->DeleteFieldIndex(req->field());
  });
}

grpc::Status CollectionsService::UpdateAliases(
    grpc::ServerContext* ctx, const pb::UpdateAliasesRequest* req,
    pb::UpdateAliasesResponse* /*resp*/) {
  return context_->Call(ctx, [&]() -> absl::Status {
    TQ_ASSIGN_OR_RETURN(std::vector<AliasChange> changes, FromProto(*req));
    return context_->db()->UpdateAliases(changes);
  });
}

grpc::Status CollectionsService::ListAliases(grpc::ServerContext* ctx,
                                             const pb::ListAliasesRequest* req,
                                             pb::ListAliasesResponse* resp) {
  return context_->Call(ctx, [&]() -> absl::Status {
    if (!req->collection().empty()) {
      // (NOT_FOUND for an unknown collection, as Get.)
      TQ_RETURN_IF_ERROR(context_->GetCollection(req->collection()).status());
    }
    ToProto(context_->db()->ListAliases(), req->collection(), resp);
    return absl::OkStatus();
  });
}

}  // namespace tqdb
