#include "tools/cli/exposure.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace tqdb {
namespace {

bool IsLoopback(const std::string& listen) {
  std::string host = listen.substr(0, listen.rfind(':'));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

}  // namespace

std::string ExposureWarning(const std::string& flag, const std::string& listen,
                            bool api_key, bool tls) {
  if (IsLoopback(listen) || (api_key && tls)) return "";
  std::string w = absl::StrCat("warning: --", flag, " ", listen,
                               " is reachable from other hosts");
  if (!api_key) {
    absl::StrAppend(&w,
                    ", with no API key: anyone who reaches it can read, "
                    "write and delete every collection (--api-key-file F)");
  }
  if (!tls) {
    absl::StrAppend(&w, api_key ? ", and" : ";",
                    " with no TLS: ", api_key ? "the API key and " : "",
                    "the data cross the network in clear text (--tls-cert C "
                    "--tls-key K)");
  }
  return w;
}

}  // namespace tqdb
