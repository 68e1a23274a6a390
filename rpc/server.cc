// The gRPC server (contract: rpc/server.h): credentials, the services
// (rpc/{collections,points,snapshots}_service.h over one ServiceContext),
// health checks, reflection, shutdown.
#include "rpc/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "quant/status_macros.h"
#include "rpc/collections_service.h"
#include "rpc/http_gateway.h"
#include "rpc/metrics.h"
#include "rpc/metrics_endpoint.h"
#include "rpc/metrics_interceptor.h"
#include "rpc/points_service.h"
#include "rpc/service_context.h"
#include "rpc/snapshots_service.h"

namespace tqdb {
namespace {

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(
    const ServerOptions& o) {
  if (o.tls_cert_pem.empty() && o.tls_key_pem.empty()) {
    return grpc::InsecureServerCredentials();
  }
  if (o.tls_cert_pem.empty() || o.tls_key_pem.empty()) {
    return absl::InvalidArgumentError(
        "TLS needs both a certificate and a private key");
  }
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({o.tls_key_pem, o.tls_cert_pem});
  return grpc::SslServerCredentials(ssl);
}

// Why gRPC could not bind `listen` (it does not say): binds a socket there
// the way gRPC does (SO_REUSEADDR, no SO_REUSEPORT) and names the error.
std::string WhyNot(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return "not a host:port";
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints = {};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* ai = nullptr;
  const int gai = getaddrinfo(host.empty() ? nullptr : host.c_str(),
                              listen.substr(colon + 1).c_str(), &hints, &ai);
  if (gai != 0) {
    return absl::StrCat("not a valid host:port (", gai_strerror(gai), ")");
  }
  int err = 0;
  for (addrinfo* a = ai; a != nullptr && err != EADDRINUSE; a = a->ai_next) {
    const int fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd < 0) continue;
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, a->ai_addr, a->ai_addrlen) != 0) err = errno;
    close(fd);
  }
  freeaddrinfo(ai);
  if (err == EADDRINUSE) return "address in use (is another server there?)";
  if (err != 0) return std::strerror(err);
  return "gRPC could not bind it";
}

class ServerImpl final : public Server {
 public:
  ServerImpl(Database* db, const ServerOptions& options)
      : metrics_(options.metrics_listen.empty()
                     ? nullptr
                     : std::make_unique<Metrics>(db)),
        context_(db, options, metrics_.get()),
        snapshots_(&context_, SnapshotDir(options, *db)) {
    if (options.services) {
      NodeServices node = options.services(&context_);
      collections_ = std::move(node.collections);
      points_ = std::move(node.points);
      node_snapshots_ = std::move(node.snapshots);
      more_ = std::move(node.more);
    } else {
      collections_ = std::make_unique<CollectionsService>(&context_);
      points_ = std::make_unique<PointsService>(&context_);
    }
  }

  ~ServerImpl() override { Shutdown(absl::ZeroDuration()); }

  absl::Status Init() {
    const ServerOptions& o = context_.options();
    TQ_ASSIGN_OR_RETURN(auto creds, Credentials(o));
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    grpc::ServerBuilder b;
    // gRPC sets SO_REUSEPORT by default: a second server on a busy port
    // would start and take half of the connections. One server a port.
    b.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    b.AddListeningPort(o.listen, creds, &port_);
    b.SetMaxReceiveMessageSize(
        static_cast<int>(std::min<size_t>(o.max_receive_bytes, INT32_MAX)));
    b.RegisterService(collections_.get());
    b.RegisterService(points_.get());
    if (node_snapshots_) {
      b.RegisterService(node_snapshots_.get());
    } else {
      b.RegisterService(&snapshots_);
    }
    for (const auto& service : more_) b.RegisterService(service.get());
    if (metrics_) {
      std::vector<std::unique_ptr<
          grpc::experimental::ServerInterceptorFactoryInterface>>
          interceptors;
      interceptors.push_back(
          std::make_unique<MetricsInterceptorFactory>(metrics_.get()));
      b.experimental().SetInterceptorCreators(std::move(interceptors));
    }
    server_ = b.BuildAndStart();
    if (!server_ || port_ == 0) {
      server_.reset();
      return absl::UnavailableError(
          absl::StrCat("cannot listen on ", o.listen, ": ", WhyNot(o.listen)));
    }
    grpc::HealthCheckServiceInterface* h = server_->GetHealthCheckService();
    if (h != nullptr) {
      for (const char* svc :
           {"tqdb.v1.Collections", "tqdb.v1.Points", "tqdb.v1.Snapshots"}) {
        h->SetServingStatus(svc, true);
      }
    }
    const std::string& l = o.listen;
    const size_t colon = l.rfind(':');
    address_ = absl::StrCat(l.substr(0, colon), ":", port_);
    return StartHttp();
  }

  // The REST gateway and the metrics endpoint, after the gRPC server (the
  // gateway calls it in process).
  absl::Status StartHttp() {
    const ServerOptions& o = context_.options();
    if (metrics_) {
      TQ_ASSIGN_OR_RETURN(metrics_endpoint_,
                          MetricsEndpoint::Start(
                              o.metrics_listen, o.metrics_open ? "" : o.api_key,
                              metrics_.get()));
    }
    if (!o.http_listen.empty()) {
      HttpGatewayOptions ho;
      ho.listen = o.http_listen;
      ho.max_body_bytes = o.max_receive_bytes;
      ho.tls_cert_pem = o.tls_cert_pem;
      ho.tls_key_pem = o.tls_key_pem;
      ho.bench_svg = o.bench_svg;
      grpc::ChannelArguments args;
      args.SetMaxReceiveMessageSize(-1);
      args.SetMaxSendMessageSize(-1);
      TQ_ASSIGN_OR_RETURN(
          http_, HttpGateway::Start(server_->InProcessChannel(args), ho));
    }
    return absl::OkStatus();
  }

  int http_port() const override { return http_ ? http_->port() : 0; }
  int metrics_port() const override {
    return metrics_endpoint_ ? metrics_endpoint_->port() : 0;
  }

  int port() const override { return port_; }
  std::string address() const override { return address_; }

  void Shutdown(absl::Duration grace) override {
    absl::MutexLock l(&shutdown_mu_);
    if (!server_ || shut_down_) return;
    // No new REST calls; those in flight finish with the gRPC calls.
    if (http_) http_->Stop();
    if (grpc::HealthCheckServiceInterface* h =
            server_->GetHealthCheckService()) {
      h->SetServingStatus(false);
    }
    server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
    shut_down_ = true;
  }

  void Wait() override {
    if (server_) server_->Wait();
  }

 private:
  // Declared first: the services and the server use them until destroyed.
  std::unique_ptr<Metrics> metrics_;
  ServiceContext context_;
  // A single server's, or a cluster node's (ServerOptions::cluster).
  std::unique_ptr<grpc::Service> collections_;
  std::unique_ptr<grpc::Service> points_;
  std::unique_ptr<grpc::Service> node_snapshots_;  // ServerOptions::services
  std::vector<std::unique_ptr<grpc::Service>> more_;
  SnapshotsService snapshots_;
  // Set by Init, before the server is shared.
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::string address_;
  absl::Mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
  std::unique_ptr<HttpGateway> http_;
  std::unique_ptr<MetricsEndpoint> metrics_endpoint_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Server>> Server::Start(
    Database* db, const ServerOptions& options) {
  if (db == nullptr) {
    return absl::InvalidArgumentError("Server::Start: no database");
  }
  if (options.max_limit == 0) {
    return absl::InvalidArgumentError("max_limit must be >= 1");
  }
  auto s = std::make_unique<ServerImpl>(db, options);
  TQ_RETURN_IF_ERROR(s->Init());
  return std::unique_ptr<Server>(std::move(s));
}

}  // namespace tqdb
