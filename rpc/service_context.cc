#include "rpc/service_context.h"

#include <chrono>
#include <exception>
#include <iostream>
#include <new>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "quant/status_macros.h"
#include "rpc/convert.h"
#include "rpc/validate.h"

namespace tqdb {

absl::Time DeadlineOf(const grpc::ServerContextBase* ctx) {
  const auto d = ctx->deadline();
  if (d >= std::chrono::system_clock::now() + std::chrono::hours(24 * 365)) {
    return absl::Now() + absl::Minutes(1);
  }
  return absl::FromChrono(d);
}

namespace {

// The longest error message a call returns: whatever a handler put in it, it
// stays far below gRPC's metadata limit (8 KB by default), which a longer
// grpc-message would break (the client then sees RESOURCE_EXHAUSTED
// instead of the error). User input in messages is capped where it is
// quoted (quant/echo.h); this is the backstop.
constexpr size_t kMaxMessage = 1024;

absl::Status Capped(const absl::Status& s) {
  if (s.message().size() <= kMaxMessage) return s;
  return WithMessage(s,
                     absl::StrCat(s.message().substr(0, kMaxMessage), "... (",
                                  s.message().size(), "-byte message cut)"));
}

}  // namespace

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
    const absl::Status s = Capped(body());
    if (IsDiskFull(s)) ctx->AddTrailingMetadata(kErrorTrailer, kDiskFullError);
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

void ServiceContext::LogUnindexed(
    const std::string& collection, const char* what,
    const std::vector<std::string>& fields) const {
  if (fields.empty()) return;
  const std::string key =
      absl::StrCat(collection, "\n", absl::StrJoin(fields, ","));
  const auto now = std::chrono::steady_clock::now();
  uint64_t suppressed = 0;
  {
    absl::MutexLock l(&log_mu_);
    Throttle& t = logged_[key];
    if (t.last.time_since_epoch().count() != 0 &&
        now - t.last < std::chrono::minutes(1)) {
      ++t.suppressed;
      return;
    }
    t.last = now;
    suppressed = t.suppressed;
    t.suppressed = 0;
  }
  std::string line = absl::StrCat(
      "tqdb: collection '", collection, "': a ", what,
      " filter on field(s) without a payload index (",
      absl::StrJoin(fields, ", "),
      ") reads payloads; create one with Collections.CreateFieldIndex "
      "(tqdb collections index ",
      collection, " FIELD TYPE)");
  if (suppressed > 0) {
    absl::StrAppend(&line, " [", suppressed,
                    " more such calls in the last minute]");
  }
  if (options_.log) {
    options_.log(line);
  } else {
    std::cerr << line << std::endl;
  }
}

}  // namespace tqdb
