// A gRPC server interceptor that counts every finished call in Metrics
// (rpc/metrics.h): method, status code, transport and latency, whatever
// the service and API (sync or callback) and whether the call came over the
// network or from the REST gateway (rpc/http_gateway.h, which marks its
// calls with the metadata `x-tqdb-transport: http`).
#ifndef TQDB_RPC_METRICS_INTERCEPTOR_H_
#define TQDB_RPC_METRICS_INTERCEPTOR_H_

#include <grpcpp/support/server_interceptor.h>

#include "rpc/metrics.h"

namespace tqdb {

// The metadata key the REST gateway sets ("http"); absent = "grpc".
inline constexpr char kTransportMetadata[] = "x-tqdb-transport";

class MetricsInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  // `metrics` is not owned and must outlive the server.
  explicit MetricsInterceptorFactory(Metrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  Metrics* const metrics_;
};

}  // namespace tqdb

#endif  // TQDB_RPC_METRICS_INTERCEPTOR_H_
