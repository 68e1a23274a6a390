#include "rpc/auth.h"

namespace tqdb {

ApiKeyAuth::ApiKeyAuth(const std::string& api_key) {
  if (!api_key.empty()) expected_ = "Bearer " + api_key;
}

absl::Status ApiKeyAuth::Check(const grpc::ServerContextBase& ctx) const {
  if (expected_.empty()) return absl::OkStatus();
  const auto& md = ctx.client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) {
    return absl::UnauthenticatedError(
        "missing 'authorization: Bearer <key>' metadata (the server "
        "requires an API key)");
  }
  const grpc::string_ref got = it->second;
  unsigned char diff = got.size() == expected_.size() ? 0 : 1;
  for (size_t i = 0; i < expected_.size(); ++i) {
    const unsigned char g =
        i < got.size() ? static_cast<unsigned char>(got.data()[i]) : 0;
    diff |= g ^ static_cast<unsigned char>(expected_[i]);
  }
  if (diff != 0) return absl::UnauthenticatedError("invalid API key");
  return absl::OkStatus();
}

}  // namespace tqdb
