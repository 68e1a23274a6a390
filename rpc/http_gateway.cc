#include "rpc/http_gateway.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <httplib.h>
#include <openssl/pem.h>

#include <chrono>
#include <exception>
#include <fstream>
#include <sstream>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "quant/status_macros.h"
#include "rpc/dashboard_assets.h"
#include "rpc/http_routes.h"
#include "rpc/metrics.h"
#include "rpc/metrics_interceptor.h"
#include "rpc/service_context.h"

namespace tqdb {
namespace {

namespace gp = ::google::protobuf;
using Stub = grpc::TemplatedGenericStub<gp::Message, gp::Message>;

int HttpStatus(grpc::StatusCode c) {
  switch (c) {
    case grpc::StatusCode::OK:
      return 200;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::OUT_OF_RANGE:
      return 400;
    case grpc::StatusCode::UNAUTHENTICATED:
      return 401;
    case grpc::StatusCode::PERMISSION_DENIED:
      return 403;
    case grpc::StatusCode::NOT_FOUND:
      return 404;
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::ABORTED:
      return 409;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return 429;
    case grpc::StatusCode::CANCELLED:
      return 499;
    case grpc::StatusCode::UNIMPLEMENTED:
      return 501;
    case grpc::StatusCode::UNAVAILABLE:
      return 503;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return 504;
    default:
      return 500;
  }
}

// {"error": {"code": "...", "message": "..."}}, escaped as JSON strings.
std::string ErrorJson(const char* code, absl::string_view message) {
  std::string m;
  for (unsigned char ch : message) {
    switch (ch) {
      case '"':
        m += "\\\"";
        break;
      case '\\':
        m += "\\\\";
        break;
      case '\n':
        m += "\\n";
        break;
      default:
        if (ch < 0x20) {
          absl::StrAppend(&m, "\\u00", absl::Hex(ch, absl::kZeroPad2));
        } else {
          m.push_back(static_cast<char>(ch));
        }
    }
  }
  return absl::StrCat("{\"error\": {\"code\": \"", code, "\", \"message\": \"",
                      m, "\"}}\n");
}

void SendError(httplib::Response& res, int http, const char* code,
               absl::string_view message) {
  res.status = http;
  res.set_content(ErrorJson(code, message), "application/json");
}

void SendStatus(httplib::Response& res, const grpc::Status& s) {
  SendError(res, HttpStatus(s.error_code()), GrpcCodeName(s.error_code()),
            s.error_message());
}

// Whether the server marked the call's error as a full disk.
bool IsDiskFullTrailer(const grpc::ClientContext& ctx) {
  const auto& trailers = ctx.GetServerTrailingMetadata();
  auto [lo, hi] = trailers.equal_range(kErrorTrailer);
  for (auto it = lo; it != hi; ++it) {
    if (it->second == kDiskFullError) return true;
  }
  return false;
}

const char* ContentType(absl::string_view name) {
  if (absl::EndsWith(name, ".html")) return "text/html; charset=utf-8";
  if (absl::EndsWith(name, ".js")) return "text/javascript; charset=utf-8";
  if (absl::EndsWith(name, ".css")) return "text/css; charset=utf-8";
  if (absl::EndsWith(name, ".svg")) return "image/svg+xml";
  return "application/octet-stream";
}

}  // namespace

absl::Status SplitHostPort(const std::string& listen, std::string* host,
                           int* port) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(listen.substr(colon + 1), port) || *port < 0 ||
      *port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", listen, "' is not host:port"));
  }
  *host = listen.substr(0, colon);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  if (host->empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", listen, "' has no host (say 127.0.0.1:PORT)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> BindHttp(httplib::Server* server, const std::string& listen,
                             const char* what) {
  std::string host;
  int port = 0;
  TQ_RETURN_IF_ERROR(SplitHostPort(listen, &host, &port)) << what;
  server->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  int bound = 0;
  if (port == 0) {
    bound = server->bind_to_any_port(host);
  } else if (server->bind_to_port(host, port)) {
    bound = port;
  }
  if (bound <= 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve ", what, " on ", listen,
                     " (address in use, or not a valid host:port)"));
  }
  return bound;
}

namespace {

absl::StatusOr<std::unique_ptr<httplib::Server>> NewServer(
    const HttpGatewayOptions& o) {
  if (o.tls_cert_pem.empty() && o.tls_key_pem.empty()) {
    return std::make_unique<httplib::Server>();
  }
  if (o.tls_cert_pem.empty() || o.tls_key_pem.empty()) {
    return absl::InvalidArgumentError(
        "TLS needs both a certificate and a private key");
  }
  BIO* cb = BIO_new_mem_buf(o.tls_cert_pem.data(),
                            static_cast<int>(o.tls_cert_pem.size()));
  BIO* kb = BIO_new_mem_buf(o.tls_key_pem.data(),
                            static_cast<int>(o.tls_key_pem.size()));
  X509* cert = cb ? PEM_read_bio_X509(cb, nullptr, nullptr, nullptr) : nullptr;
  EVP_PKEY* key =
      kb ? PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(cb);
  BIO_free(kb);
  std::unique_ptr<httplib::Server> s;
  if (cert != nullptr && key != nullptr) {
    auto ssl = std::make_unique<httplib::SSLServer>(cert, key);
    if (ssl->is_valid()) s = std::move(ssl);
  }
  X509_free(cert);
  EVP_PKEY_free(key);
  if (!s) {
    return absl::InvalidArgumentError(
        "HTTPS: the certificate or the private key is not valid PEM, or they "
        "do not match");
  }
  return s;
}

class GatewayImpl final : public HttpGateway {
 public:
  GatewayImpl(std::shared_ptr<grpc::Channel> channel, HttpGatewayOptions o,
              std::unique_ptr<httplib::Server> server)
      : stub_(std::move(channel)),
        options_(std::move(o)),
        server_(std::move(server)) {}
  ~GatewayImpl() override { Stop(); }

  absl::Status Init() {
    httplib::Server& s = *server_;
    s.set_payload_max_length(options_.max_body_bytes);
    s.set_keep_alive_timeout(30);
    auto handler = [this](const httplib::Request& req, httplib::Response& res) {
      Handle(req, res);
    };
    s.Get(".*", handler);
    s.Post(".*", handler);
    s.Put(".*", handler);
    s.Delete(".*", handler);
    s.Patch(".*", handler);
    s.Options(".*", handler);
    // What httplib refuses before a handler runs (a body over the limit,
    // a malformed request).
    s.set_error_handler(httplib::Server::HandlerWithResponse(
        [](const httplib::Request&, httplib::Response& res) {
          if (!res.body.empty())
            return httplib::Server::HandlerResponse::Unhandled;
          if (res.status == 413) {
            SendError(res, 413, "RESOURCE_EXHAUSTED",
                      "request body over the server's limit (tqdb serve "
                      "--max-receive-mb)");
          } else if (res.status == 404) {
            SendError(res, 404, "NOT_FOUND", "no such path");
          } else {
            SendError(
                res, res.status, "INVALID_ARGUMENT",
                absl::StrCat("malformed HTTP request (", res.status,
                             "): a bad request line or header, or a POST or "
                             "PUT without Content-Length (send a body: {} "
                             "for none)"));
          }
          return httplib::Server::HandlerResponse::Handled;
        }));
    s.set_exception_handler([](const httplib::Request&, httplib::Response& res,
                               std::exception_ptr) {
      SendError(res, 500, "INTERNAL", "internal error");
    });
    TQ_ASSIGN_OR_RETURN(port_, BindHttp(&s, options_.listen, "HTTP (--http)"));
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    // Until it runs, httplib's stop() would not stop it.
    for (int i = 0; i < 5000 && !server_->is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return absl::OkStatus();
  }

  int port() const override { return port_; }

  void Stop() override {
    absl::MutexLock l(&stop_mu_);
    if (stopped_) return;
    stopped_ = true;
    server_->stop();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Handle(const httplib::Request& req, httplib::Response& res) {
    try {
      if (req.path == "/" || req.path == "/dashboard") {
        res.set_redirect("/dashboard/");
        return;
      }
      if (absl::StartsWith(req.path, "/dashboard/")) {
        ServeDashboard(req, res);
        return;
      }
      CallRpc(req, res);
    } catch (const std::bad_alloc&) {
      SendError(res, 500, "RESOURCE_EXHAUSTED", "out of memory");
    } catch (const std::exception& e) {
      SendError(res, 500, "INTERNAL",
                absl::StrCat("internal error: ", e.what()));
    } catch (...) {
      SendError(res, 500, "INTERNAL", "internal error");
    }
  }

  void ServeDashboard(const httplib::Request& req, httplib::Response& res) {
    if (req.method != "GET" && req.method != "HEAD") {
      res.set_header("Allow", "GET");
      SendError(res, 405, "UNIMPLEMENTED",
                absl::StrCat("method ", req.method, " not allowed on ",
                             req.path, " (allowed: GET)"));
      return;
    }
    std::string name = req.path.substr(11);
    if (name.empty()) name = "index.html";
    if (name == "bench.svg") {
      std::ifstream f(options_.bench_svg, std::ios::binary);
      if (options_.bench_svg.empty() || !f) {
        SendError(res, 404, "NOT_FOUND",
                  "no benchmark chart (tqdb serve --bench-svg FILE)");
        return;
      }
      std::stringstream ss;
      ss << f.rdbuf();
      res.set_content(ss.str(), ContentType(name));
      return;
    }
    for (const Asset& a : DashboardAssets()) {
      if (name != a.name) continue;
      res.set_content(reinterpret_cast<const char*>(a.data), a.size,
                      ContentType(name));
      res.set_header("Cache-Control", "no-cache");
      return;
    }
    SendError(res, 404, "NOT_FOUND", absl::StrCat("no such file: ", req.path));
  }

  void CallRpc(const httplib::Request& req, httplib::Response& res) {
    std::string allowed;
    absl::StatusOr<RouteMatch> match =
        MatchRoute(req.method, req.path, &allowed);
    if (absl::IsNotFound(match.status())) {
      SendError(res, 404, "NOT_FOUND", match.status().message());
      return;
    }
    if (!match.ok()) {
      res.set_header("Allow", allowed);
      SendError(res, 405, "UNIMPLEMENTED", match.status().message());
      return;
    }
    // The query string only: httplib also puts the fields of a form body
    // (curl -d's default content type) into req.params.
    httplib::Params query;
    if (const size_t q = req.target.find('?'); q != std::string::npos) {
      httplib::detail::parse_query_text(req.target.substr(q + 1), query);
    }
    auto request = BuildRequest(*match, req.body, query);
    if (!request.ok()) {
      SendError(
          res,
          HttpStatus(static_cast<grpc::StatusCode>(request.status().code())),
          GrpcCodeName(static_cast<grpc::StatusCode>(request.status().code())),
          request.status().message());
      return;
    }
    auto response = NewResponse(*match->route);
    if (!response.ok()) {
      SendError(res, 500, "INTERNAL", response.status().message());
      return;
    }
    grpc::ClientContext ctx;
    ctx.AddMetadata(kTransportMetadata, "http");
    if (req.has_header("Authorization")) {
      ctx.AddMetadata("authorization", req.get_header_value("Authorization"));
    } else if (req.has_header("api-key")) {
      ctx.AddMetadata("authorization",
                      "Bearer " + req.get_header_value("api-key"));
    }
    grpc::Status status;
    absl::Notification done;
    stub_.UnaryCall(&ctx, absl::StrCat("/", match->route->rpc),
                    grpc::StubOptions(), request->get(), response->get(),
                    [&](grpc::Status s) {
                      status = std::move(s);
                      done.Notify();
                    });
    done.WaitForNotification();
    if (!status.ok()) {
      if (IsDiskFullTrailer(ctx)) {
        // Not 429 (a limit to retry later): the disk must get space.
        SendError(res, 507, GrpcCodeName(status.error_code()),
                  status.error_message());
        return;
      }
      SendStatus(res, status);
      return;
    }
    auto json = ToJson(**response);
    if (!json.ok()) {
      SendError(res, 500, "INTERNAL", json.status().message());
      return;
    }
    res.status = 200;
    res.set_content(*json, "application/json");
  }

  Stub stub_;
  const HttpGatewayOptions options_;
  std::unique_ptr<httplib::Server> server_;
  int port_ = 0;
  std::thread thread_;
  absl::Mutex stop_mu_;
  bool stopped_ ABSL_GUARDED_BY(stop_mu_) = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<HttpGateway>> HttpGateway::Start(
    std::shared_ptr<grpc::Channel> channel, const HttpGatewayOptions& options) {
  TQ_ASSIGN_OR_RETURN(std::unique_ptr<httplib::Server> server,
                      NewServer(options));
  auto g = std::make_unique<GatewayImpl>(std::move(channel), options,
                                         std::move(server));
  TQ_RETURN_IF_ERROR(g->Init());
  return std::unique_ptr<HttpGateway>(std::move(g));
}

}  // namespace tqdb
