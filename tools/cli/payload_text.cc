#include "tools/cli/payload_text.h"

#include <cstdint>
#include <cstdio>

namespace tqdb {
namespace {

constexpr char kReplacement[] = "\xef\xbf\xbd";  // U+FFFD

// Length of the valid UTF-8 sequence at s[i], or 0 if there is none.
size_t SequenceLength(absl::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<uint8_t>(s[i + k]); };
  const uint8_t c = b(0);
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(k) & 0x3F);
  }
  static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return n;
}

}  // namespace

std::string ValidUtf8(absl::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) {
    const size_t n = SequenceLength(bytes, i);
    if (n == 0) {
      out += kReplacement;
      ++i;
    } else {
      out.append(bytes.data() + i, n);
      i += n;
    }
  }
  return out;
}

nlohmann::json PayloadJson(absl::string_view payload) {
  if (payload.empty()) return nullptr;
  // The parser rejects invalid UTF-8 inside strings: such a payload is not
  // JSON and comes back as a string.
  nlohmann::json j = nlohmann::json::parse(payload.begin(), payload.end(),
                                           nullptr, /*allow_exceptions=*/false);
  if (!j.is_discarded()) return j;
  return ValidUtf8(payload);
}

std::string PayloadCell(absl::string_view payload, size_t max_chars) {
  const std::string text = ValidUtf8(payload);
  std::string out;
  size_t chars = 0;
  size_t cut_at = std::string::npos;  // out's size after max_chars - 3 chars
  for (size_t i = 0; i < text.size();) {
    const size_t n = SequenceLength(text, i);  // valid: >= 1
    std::string piece;
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (n == 1 && (c < 0x20 || c == 0x7F)) {
      if (c == '\n') {
        piece = "\\n";
      } else if (c == '\t') {
        piece = "\\t";
      } else if (c == '\r') {
        piece = "\\r";
      } else {
        char buf[8];
        snprintf(buf, sizeof(buf), "\\x%02x", c);
        piece = buf;
      }
    } else {
      piece.assign(text.data() + i, n);
    }
    i += n;
    if (max_chars >= 3 && chars == max_chars - 3) cut_at = out.size();
    out += piece;
    if (++chars > max_chars) {
      out.resize(cut_at == std::string::npos ? 0 : cut_at);
      out += "...";
      return out;
    }
  }
  return out;
}

std::string DumpJson(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace tqdb
