// libFuzzer entry point: db/payload_select.h's PayloadSelector over any
// bytes. The input: selector paths, one a line ("-" first: an exclude
// path), then an empty line, then the payload. Whatever the bytes, Apply
// returns (no crash, no sanitizer report); for a payload that is a JSON
// object the selection is JSON too, and a selector of includes alone or of
// excludes alone changes nothing when applied again.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "db/payload_select.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  const size_t split = in.find("\n\n");
  if (split == std::string::npos) return 0;
  std::vector<std::string> include, exclude;
  for (absl::string_view line :
       absl::StrSplit(absl::string_view(in).substr(0, split), '\n')) {
    if (line.empty()) continue;
    if (line[0] == '-') {
      exclude.emplace_back(line.substr(1));
    } else {
      include.emplace_back(line);
    }
  }
  auto selector = tqdb::PayloadSelector::Make(include, exclude);
  if (!selector.ok()) return 0;
  const std::string payload = in.substr(split + 2);
  const std::string out = selector->Apply(payload);
  const nlohmann::json doc = nlohmann::json::parse(payload, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return 0;
  if (nlohmann::json::parse(out, nullptr, false).is_discarded()) {
    __builtin_trap();  // a JSON object's selection is not JSON
  }
  if ((include.empty() || exclude.empty()) && selector->Apply(out) != out) {
    __builtin_trap();  // a second application changed it
  }
  return 0;
}
