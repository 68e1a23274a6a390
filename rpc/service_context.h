// What the tqdb.v1 services share: the database, the server's options,
// authentication and the barrier that turns a handler's status (and any
// exception) into the call's gRPC status.
#ifndef TQDB_RPC_SERVICE_CONTEXT_H_
#define TQDB_RPC_SERVICE_CONTEXT_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "db/db.h"
#include "rpc/auth.h"
#include "rpc/metrics.h"
#include "rpc/server.h"

namespace tqdb {

// Trailing metadata of a call that failed because the disk is full
// (RESOURCE_EXHAUSTED, db's IsDiskFull): "tqdb-error: disk-full", so that a
// client can tell it from the other RESOURCE_EXHAUSTED errors (limits) by
// more than the message; the REST gateway answers it 507.
inline constexpr char kErrorTrailer[] = "tqdb-error";
inline constexpr char kDiskFullError[] = "disk-full";

// The call's deadline; a minute for a call without one (internal calls
// always carry one).
absl::Time DeadlineOf(const grpc::ServerContextBase* ctx);

class ServiceContext {
 public:
  // `metrics` (optional, not owned) counts search and ingest work.
  ServiceContext(Database* db, ServerOptions options,
                 Metrics* metrics = nullptr);

  Database* db() const { return db_; }
  const ServerOptions& options() const { return options_; }
  Metrics* metrics() const { return metrics_; }

  // Runs `body` after authentication and returns its status as the call's:
  // Cancelled becomes DEADLINE_EXCEEDED or CANCELLED by what the call saw,
  // an exception RESOURCE_EXHAUSTED (out of memory) or INTERNAL; a message
  // over 1 KB is cut there (with "..."); a full disk adds kErrorTrailer.
  grpc::Status Call(grpc::ServerContextBase* ctx,
                    const std::function<absl::Status()>& body) const;

  // The collection a request names (InvalidArgument for an empty name).
  absl::StatusOr<std::shared_ptr<Collection>> GetCollection(
      const std::string& name) const;

  // Logs that a filter of `what` (search, count, ...) on `collection` read
  // payloads for `fields` (no payload index): once a minute per collection
  // and fields, with how many such calls were not logged.
  void LogUnindexed(const std::string& collection, const char* what,
                    const std::vector<std::string>& fields) const;

 private:
  Database* const db_;
  const ServerOptions options_;
  const ApiKeyAuth auth_;
  struct Throttle {
    std::chrono::steady_clock::time_point last;
    uint64_t suppressed = 0;
  };
  mutable absl::Mutex log_mu_;
  mutable std::map<std::string, Throttle> logged_ ABSL_GUARDED_BY(log_mu_);
  Metrics* const metrics_;
};

}  // namespace tqdb

#endif  // TQDB_RPC_SERVICE_CONTEXT_H_
