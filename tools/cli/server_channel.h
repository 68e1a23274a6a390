// How the CLI reaches a tqdb server (--server HOST:PORT): a gRPC channel
// with the API key and TLS the client flags give, checked to answer, for
// the remote backend (backend.h) and for the calls of other services
// (tqdb cluster: the cluster's Node service).
#ifndef TQDB_TOOLS_CLI_SERVER_CHANNEL_H_
#define TQDB_TOOLS_CLI_SERVER_CHANNEL_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace tqdb {

// TLS to the server: on when ca_pem is set.
struct TlsClientOptions {
  std::string ca_pem;       // PEM roots that sign the server's certificate
  std::string server_name;  // the name to check it for; "" = the host
};

struct ServerChannel {
  std::string address;
  bool tls = false;
  std::shared_ptr<grpc::Channel> channel;
  std::string authorization;  // "Bearer <key>", or "" for none

  // A call's context, carrying the authorization.
  std::unique_ptr<grpc::ClientContext> Context() const;
};

// A server at host:port. api_key: "" = none (TQDB_API_KEY in the
// environment is used when empty). Checks that the server answers (within
// 5 s): Unavailable otherwise, saying whether nothing listens there, a
// plaintext client met a server that may serve TLS (--tls-ca), or the TLS
// handshake failed (--tls-ca, --tls-server-name), with gRPC's reason.
absl::StatusOr<ServerChannel> ConnectServer(const std::string& address,
                                            const std::string& api_key,
                                            const TlsClientOptions& tls = {});

}  // namespace tqdb

#endif  // TQDB_TOOLS_CLI_SERVER_CHANNEL_H_
