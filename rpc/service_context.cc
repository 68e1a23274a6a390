#include "rpc/service_context.h"

#include <chrono>
#include <exception>
#include <new>
#include <utility>

#include "absl/strings/str_cat.h"
#include "quant/status_macros.h"
#include "rpc/convert.h"
#include "rpc/validate.h"

namespace tqdb {

ServiceContext::ServiceContext(Database* db, ServerOptions options,
                               Metrics* metrics)
    : db_(db),
      options_(std::move(options)),
      auth_(options_.api_key),
      metrics_(metrics) {}

grpc::Status ServiceContext::Call(
    grpc::ServerContextBase* ctx,
    const std::function<absl::Status()>& body) const {
  try {
    if (absl::Status a = auth_.Check(*ctx); !a.ok()) return ToGrpc(a);
    absl::Status s = body();
    if (absl::IsCancelled(s)) {
      const bool past_deadline =
          ctx->deadline() <= std::chrono::system_clock::now();
      if (past_deadline || ctx->IsCancelled()) {
        return grpc::Status(past_deadline ? grpc::StatusCode::DEADLINE_EXCEEDED
                                          : grpc::StatusCode::CANCELLED,
                            std::string(s.message()));
      }
    }
    return ToGrpc(s);
  } catch (const std::bad_alloc&) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "out of memory serving the request");
  } catch (const std::exception& e) {
    return grpc::Status(grpc::StatusCode::INTERNAL,
                        absl::StrCat("internal error: ", e.what()));
  } catch (...) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "internal error");
  }
}

absl::StatusOr<std::shared_ptr<Collection>> ServiceContext::GetCollection(
    const std::string& name) const {
  TQ_RETURN_IF_ERROR(ValidateCollectionName(name));
  return db_->GetCollection(name);
}

}  // namespace tqdb
