// tqdb's gRPC server: the tqdb.v1 services (proto/tqdb/v1/) over a
// db::Database, plus the standard grpc.health.v1.Health service and server
// reflection.
//
//   auto db = Database::Open(dir, DatabaseOptions());
//   ServerOptions o;
//   o.listen = "127.0.0.1:0";  // any free port
//   auto server = Server::Start(db->get(), o);
//   ... (*server)->port() ...
//   (*server)->Shutdown(absl::Seconds(30));
//   (*db)->Close();
//
// Errors: every handler turns absl::Status from db/ into the gRPC status with
// the same code and message (the codes are numerically identical); no C++
// exception escapes a handler (one that would becomes INTERNAL). Requests are
// converted by rpc/convert.h; the API's own rules (rpc/validate.h: limit 0
// or above ServerOptions::max_limit, oversampling, empty batches) and
// unknown enum values are INVALID_ARGUMENT before the database is called,
// which checks the rest once (db/query.h: wrong dimension, empty vector,
// NaN/Inf, a zero vector under cosine; nprobe > nlist is clamped, and
// SearchResponse.nprobe_used says what was probed). Batches over
// the database's max_batch are RESOURCE_EXHAUSTED; a bad point rejects its
// whole batch and nothing of it is stored.
//
// Authentication: with a non-empty api_key every call of the tqdb.v1
// services must carry the metadata `authorization: Bearer <api_key>`, else
// UNAUTHENTICATED. Health checks and reflection (which describes the schema,
// no data) stay open so that load balancers and tools work.
//
// REST, dashboard and metrics (optional, ServerOptions): an HTTP gateway
// that calls these services in process (rpc/http_gateway.h, routes in
// rpc/http_routes.h) and a Prometheus endpoint (rpc/metrics.h) fed by a
// server interceptor that sees every call (rpc/metrics_interceptor.h).
//
// Deadlines and cancellation: long scans poll ServerContext::IsCancelled()
// and stop with DEADLINE_EXCEEDED (deadline passed) or CANCELLED.
//
// Thread-safety: calls are served concurrently by gRPC's thread pool;
// searches run in parallel with each other and with ingest (db/ is
// thread-safe). Shutdown() may be called from any thread, once calls to
// Start returned; the Database must outlive the Server.
#ifndef TQDB_RPC_SERVER_H_
#define TQDB_RPC_SERVER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "db/db.h"

namespace grpc {
class Service;
}  // namespace grpc

namespace tqdb {

class ServiceContext;  // rpc/service_context.h

// The services a node serves instead of a single server's Collections,
// Points and Snapshots, and besides them (a cluster node's:
// rpc/cluster_services.h ClusterServices). Kept out of tqdb_rpc so that a
// single server, and the tests of one, do not build the cluster.
struct NodeServices {
  std::unique_ptr<grpc::Service> collections;
  std::unique_ptr<grpc::Service> points;
  std::unique_ptr<grpc::Service> snapshots;
  std::vector<std::unique_ptr<grpc::Service>> more;
};

struct ServerOptions {
  // host:port; port 0 picks a free port (see Server::port()). Loopback by
  // default: exposing the server is an explicit choice.
  std::string listen = "127.0.0.1:7700";
  // Non-empty: required as `authorization: Bearer <api_key>`.
  std::string api_key;
  // PEM contents (not paths). Both set: TLS; both empty: plaintext.
  std::string tls_cert_pem;
  std::string tls_key_pem;
  // Largest request message accepted (gRPC's default is 4 MiB).
  size_t max_receive_bytes = size_t{64} << 20;
  // Largest `limit` of a search.
  uint32_t max_limit = 10000;
  // Largest number of searches in one SearchBatch.
  uint32_t max_batch_searches = 10000;
  // Threads a SearchBatch whose searches differ (limits, filters, sparse,
  // formulas) runs them on (0 = one a core). A batch of like searches runs
  // on the database's threads (DbOptions::threads) in one call.
  uint32_t search_threads = 0;
  // Where Snapshots.Create writes; "" = <database dir>/snapshots.
  std::string snapshot_dir;
  // Operational messages (a filter on fields without a payload index, at
  // most once a minute per collection and fields); empty = one line each
  // on stderr. Must be thread-safe.
  std::function<void(const std::string&)> log;
  // REST API and dashboard (rpc/http_gateway.h) on this host:port, with
  // the same API key and TLS; "" = off.
  std::string http_listen;
  // The SVG of the last benchmark, shown by the dashboard ("" = none).
  std::string bench_svg;
  // Prometheus metrics (rpc/metrics.h) at http://<metrics_listen>/metrics;
  // "" = off. With an api_key, scrapes need it too unless metrics_open.
  std::string metrics_listen;
  bool metrics_open = false;
  // A cluster node (tqdb serve --cluster): its services, made over the
  // server's context (rpc/cluster_services.h ClusterServices). Empty: a
  // single server.
  std::function<NodeServices(const ServiceContext*)> services;
};

class Server {
 public:
  // Binds and starts serving. InvalidArgument for bad options (unreadable
  // TLS material, half a TLS pair), Unavailable when the address cannot be
  // bound, saying why ("address in use": one server a port, SO_REUSEPORT
  // is off). `db` is not owned.
  static absl::StatusOr<std::unique_ptr<Server>> Start(
      Database* db, const ServerOptions& options);

  // Shuts down (with a zero grace period) if still running.
  virtual ~Server() = default;

  // The bound port and "host:port" actually listened on.
  virtual int port() const = 0;
  virtual std::string address() const = 0;
  // The REST and metrics ports (0 when off).
  virtual int http_port() const = 0;
  virtual int metrics_port() const = 0;

  // Stops accepting calls, lets calls in flight finish for up to `grace`,
  // then cancels the rest. Idempotent. The caller then closes the database.
  virtual void Shutdown(absl::Duration grace) = 0;
  // Blocks until Shutdown() has completed.
  virtual void Wait() = 0;
};

}  // namespace tqdb

#endif  // TQDB_RPC_SERVER_H_
