// Serves Metrics (rpc/metrics.h) at http://<listen>/metrics in Prometheus'
// text format (prometheus-cpp's Registry and TextSerializer). With a
// non-empty API key every scrape must carry `Authorization: Bearer <key>`
// (Prometheus: `authorization: {credentials_file: ...}`) or
// `api-key: <key>`, else 401; an empty key leaves /metrics open (tqdb serve
// --metrics-open).
//
// Not prometheus-cpp's pull Exposer: it adds series of its own
// (exposer_scrapes_total, ...) that cannot be removed or renamed, where
// every series here is tqdb_*, and it knows only Basic authentication.
#ifndef TQDB_RPC_METRICS_ENDPOINT_H_
#define TQDB_RPC_METRICS_ENDPOINT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "rpc/metrics.h"

namespace tqdb {

class MetricsEndpoint {
 public:
  // Unavailable when `listen` (host:port; port 0 = any free port) cannot be
  // bound. `metrics` must outlive the endpoint.
  static absl::StatusOr<std::unique_ptr<MetricsEndpoint>> Start(
      const std::string& listen, const std::string& api_key,
      const Metrics* metrics);
  // Stops serving (waits for the listening thread).
  virtual ~MetricsEndpoint() = default;
  // The bound port.
  virtual int port() const = 0;
};

}  // namespace tqdb

#endif  // TQDB_RPC_METRICS_ENDPOINT_H_
