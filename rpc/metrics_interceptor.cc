#include "rpc/metrics_interceptor.h"

#include <grpcpp/server_context.h>

#include <chrono>
#include <string>

#include "absl/strings/string_view.h"

namespace tqdb {
namespace {

using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::InterceptorBatchMethods;

class MetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  MetricsInterceptor(Metrics* metrics, grpc::experimental::ServerRpcInfo* info)
      : metrics_(metrics),
        info_(info),
        start_(std::chrono::steady_clock::now()) {
    absl::string_view m = info->method() != nullptr ? info->method() : "";
    if (!m.empty() && m[0] == '/') m.remove_prefix(1);
    method_ = std::string(m);
  }

  void Intercept(InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      const auto& md = info_->server_context()->client_metadata();
      auto it = md.find(kTransportMetadata);
      if (it != md.end() && it->second == "http") transport_ = "http";
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::Status s = methods->GetSendStatus();
      const double seconds = std::chrono::duration<double>(
                                 std::chrono::steady_clock::now() - start_)
                                 .count();
      try {
        metrics_->RecordCall(method_, s.error_code(), transport_, seconds);
      } catch (...) {
        // Counting never fails a call.
      }
    }
    methods->Proceed();
  }

 private:
  Metrics* const metrics_;
  grpc::experimental::ServerRpcInfo* const info_;
  const std::chrono::steady_clock::time_point start_;
  std::string method_;
  const char* transport_ = "grpc";
};

}  // namespace

grpc::experimental::Interceptor*
MetricsInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new MetricsInterceptor(metrics_, info);
}

}  // namespace tqdb
