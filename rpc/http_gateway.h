// tqdb's REST API and dashboard over HTTP(S) (Debian's cpp-httplib): each
// route of rpc/http_routes.h becomes a call of the gRPC server itself,
// through an in-process channel, so that a REST call runs exactly the gRPC
// service's code (validation, authentication, limits, metrics) and answers
// its response message in protobuf's JSON mapping.
//
// Authentication: `Authorization: Bearer <key>` is passed on as the gRPC
// metadata, `api-key: <key>` as `authorization: Bearer <key>`; the gRPC
// server checks it. The dashboard's static files (rpc/dashboard/) need no
// key: the page asks for one when the API answers 401.
//
// Errors: {"error": {"code": "NOT_FOUND", "message": "..."}} with the HTTP
// status of the gRPC code (grpc-gateway's mapping: INVALID_ARGUMENT,
// FAILED_PRECONDITION, OUT_OF_RANGE 400; UNAUTHENTICATED 401;
// PERMISSION_DENIED 403; NOT_FOUND 404; ALREADY_EXISTS, ABORTED 409;
// RESOURCE_EXHAUSTED 429; CANCELLED 499; UNIMPLEMENTED 501; UNAVAILABLE
// 503; DEADLINE_EXCEEDED 504; others 500), and for what HTTP itself
// refuses: an unknown path 404 NOT_FOUND, a method the path does not take
// 405 UNIMPLEMENTED (with Allow), a body over the limit 413
// RESOURCE_EXHAUSTED, malformed JSON 400 INVALID_ARGUMENT. No exception
// escapes; the server keeps serving.
#ifndef TQDB_RPC_HTTP_GATEWAY_H_
#define TQDB_RPC_HTTP_GATEWAY_H_

#include <grpcpp/channel.h>

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace tqdb {

struct HttpGatewayOptions {
  // host:port (port 0: any free port).
  std::string listen;
  // Largest request body (413 above).
  size_t max_body_bytes = size_t{64} << 20;
  // PEM contents; both set: HTTPS.
  std::string tls_cert_pem;
  std::string tls_key_pem;
  // The SVG the dashboard shows as the last benchmark ("" or a missing
  // file: none).
  std::string bench_svg;
};

// "host:port" or "[v6]:port" (port 0..65535), as both HTTP servers take
// them. InvalidArgument otherwise.
absl::Status SplitHostPort(const std::string& listen, std::string* host,
                           int* port);

// Binds `server` to `listen` (port 0: any free one) without SO_REUSEPORT
// (httplib's default), so that a second server on a busy port fails instead
// of sharing it; returns the port, or Unavailable naming `what`.
absl::StatusOr<int> BindHttp(httplib::Server* server, const std::string& listen,
                             const char* what);

class HttpGateway {
 public:
  // Serves in background threads. `channel` reaches the tqdb.v1 services
  // (grpc::Server::InProcessChannel). Unavailable when `listen` cannot be
  // bound, InvalidArgument for bad TLS material.
  static absl::StatusOr<std::unique_ptr<HttpGateway>> Start(
      std::shared_ptr<grpc::Channel> channel,
      const HttpGatewayOptions& options);
  // Stops (Stop()).
  virtual ~HttpGateway() = default;
  virtual int port() const = 0;
  // Stops accepting requests and waits for the listening thread.
  // Idempotent.
  virtual void Stop() = 0;
};

}  // namespace tqdb

#endif  // TQDB_RPC_HTTP_GATEWAY_H_
