#include "rpc/metrics_endpoint.h"

#include <httplib.h>
#include <prometheus/text_serializer.h>

#include <chrono>
#include <exception>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "quant/status_macros.h"
#include "rpc/auth.h"
#include "rpc/http_gateway.h"

namespace tqdb {
namespace {

class EndpointImpl final : public MetricsEndpoint {
 public:
  EndpointImpl(const std::string& api_key, const Metrics* metrics)
      : auth_(api_key), metrics_(metrics) {}
  ~EndpointImpl() override {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  absl::Status Init(const std::string& listen) {
    server_.Get(".*", [this](const httplib::Request& req,
                             httplib::Response& res) { Serve(req, res); });
    TQ_ASSIGN_OR_RETURN(port_,
                        BindHttp(&server_, listen, "metrics (--metrics)"));
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // Until it runs, httplib's stop() would not stop it.
    for (int i = 0; i < 5000 && !server_.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return absl::OkStatus();
  }

  int port() const override { return port_; }

 private:
  void Serve(const httplib::Request& req, httplib::Response& res) {
    try {
      if (req.path != "/metrics") {
        res.status = 404;
        res.set_content("NOT_FOUND: the metrics are at /metrics\n",
                        "text/plain");
        return;
      }
      const absl::Status a = auth_.CheckHttp(
          req.has_header("Authorization")
              ? req.get_header_value("Authorization").c_str()
              : nullptr,
          req.has_header("api-key") ? req.get_header_value("api-key").c_str()
                                    : nullptr);
      if (!a.ok()) {
        res.status = 401;
        res.set_header("WWW-Authenticate", "Bearer");
        res.set_content(absl::StrCat("UNAUTHENTICATED: ", a.message(),
                                     " (or serve with --metrics-open)\n"),
                        "text/plain");
        return;
      }
      std::vector<prometheus::MetricFamily> all =
          metrics_->registry()->Collect();
      std::vector<prometheus::MetricFamily> state =
          metrics_->state()->Collect();
      all.insert(all.end(), std::make_move_iterator(state.begin()),
                 std::make_move_iterator(state.end()));
      res.set_content(prometheus::TextSerializer().Serialize(all),
                      "text/plain; version=0.0.4; charset=utf-8");
    } catch (const std::exception& e) {
      res.status = 500;
      res.set_content(absl::StrCat("INTERNAL: ", e.what(), "\n"), "text/plain");
    }
  }

  const ApiKeyAuth auth_;
  const Metrics* const metrics_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(
    const std::string& listen, const std::string& api_key,
    const Metrics* metrics) {
  auto e = std::make_unique<EndpointImpl>(api_key, metrics);
  TQ_RETURN_IF_ERROR(e->Init(listen));
  return std::unique_ptr<MetricsEndpoint>(std::move(e));
}

}  // namespace tqdb
