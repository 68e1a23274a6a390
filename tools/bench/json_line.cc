#include "tools/bench/json_line.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/bench/recall.h"

namespace tqdb {

std::string JsonEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += absl::StrFormat("\\u%04x", c);
    } else {
      out += c;
    }
  }
  return out;
}

std::string RecallAtJson(const double* recall1_at) {
  std::string at;
  for (int j = 0; j < kNumAt; ++j) {
    absl::StrAppend(&at, j ? "," : "", "\"", 1 << j,
                    "\":", absl::StrFormat("%.4f", recall1_at[j]));
  }
  return at;
}

}  // namespace tqdb
