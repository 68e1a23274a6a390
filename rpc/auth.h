// API-key authentication of the tqdb.v1 calls: each must carry the metadata
// `authorization: Bearer <key>` (health checks and reflection stay open;
// they are not routed through here).
#ifndef TQDB_RPC_AUTH_H_
#define TQDB_RPC_AUTH_H_

#include <grpcpp/server_context.h>

#include <string>

#include "absl/status/status.h"

namespace tqdb {

class ApiKeyAuth {
 public:
  // An empty key lets every call through.
  explicit ApiKeyAuth(const std::string& api_key);

  // OK, or Unauthenticated (missing metadata, wrong key). Compares in
  // constant time in the key's length. Thread-safe.
  absl::Status Check(const grpc::ServerContextBase& ctx) const;

  // The same key over HTTP (REST's /metrics): the header
  // `Authorization: Bearer <key>` or `api-key: <key>` (null: absent).
  absl::Status CheckHttp(const char* authorization,
                         const char* api_key_header) const;

 private:
  std::string expected_;  // "Bearer <key>", or empty
};

}  // namespace tqdb

#endif  // TQDB_RPC_AUTH_H_
