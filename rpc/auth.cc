#include "rpc/auth.h"

#include <cstring>

#include "absl/strings/string_view.h"

namespace tqdb {

ApiKeyAuth::ApiKeyAuth(const std::string& api_key) {
  if (!api_key.empty()) expected_ = "Bearer " + api_key;
}

namespace {

// Constant time in the length of `expected`.
bool Equal(const char* got, size_t got_size, absl::string_view expected) {
  unsigned char diff = got_size == expected.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i) {
    const unsigned char g =
        i < got_size ? static_cast<unsigned char>(got[i]) : 0;
    diff |= g ^ static_cast<unsigned char>(expected[i]);
  }
  return diff == 0;
}

}  // namespace

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
  if (!Equal(got.data(), got.size(), expected_)) {
    return absl::UnauthenticatedError("invalid API key");
  }
  return absl::OkStatus();
}

absl::Status ApiKeyAuth::CheckHttp(const char* authorization,
                                   const char* api_key_header) const {
  if (expected_.empty()) return absl::OkStatus();
  if (authorization != nullptr) {
    if (Equal(authorization, strlen(authorization), expected_)) {
      return absl::OkStatus();
    }
  } else if (api_key_header != nullptr) {
    const absl::string_view key = absl::string_view(expected_).substr(7);
    if (Equal(api_key_header, strlen(api_key_header), key)) {
      return absl::OkStatus();
    }
  } else {
    return absl::UnauthenticatedError(
        "missing 'Authorization: Bearer <key>' or 'api-key: <key>' header "
        "(the server requires an API key)");
  }
  return absl::UnauthenticatedError("invalid API key");
}

}  // namespace tqdb
