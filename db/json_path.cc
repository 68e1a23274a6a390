#include "db/json_path.h"

#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tqdb {

absl::StatusOr<JsonPath> JsonPath::Parse(absl::string_view text) {
  auto bad = [&](absl::string_view why, size_t at) {
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed path '", text, "': ", why, " at byte ", at + 1));
  };
  if (text.empty()) {
    return absl::InvalidArgumentError("malformed path '': empty");
  }
  if (text.size() > kMaxPathBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed path: ", text.size(), " bytes, more than ", kMaxPathBytes));
  }
  JsonPath p;
  p.text_ = std::string(text);
  size_t i = 0;
  const size_t n = text.size();
  for (;;) {
    Step step;
    if (i < n && text[i] == '"') {
      const size_t close = text.find('"', i + 1);
      if (close == absl::string_view::npos) return bad("unclosed quote", i);
      if (close == i + 1) return bad("empty quoted name", i);
      for (size_t j = i + 1; j < close; ++j) {
        if (static_cast<unsigned char>(text[j]) < 0x20) {
          return bad("control character", j);
        }
      }
      step.name = std::string(text.substr(i + 1, close - i - 1));
      i = close + 1;
    } else {
      const size_t start = i;
      while (i < n && text[i] != '.' && text[i] != '[') {
        const unsigned char c = static_cast<unsigned char>(text[i]);
        if (c < 0x20) return bad("control character", i);
        if (c == ']' || c == '"') {
          return bad(absl::StrCat("unexpected '", std::string(1, text[i]), "'"),
                     i);
        }
        ++i;
      }
      if (i == start) return bad("empty key", i);
      step.name = std::string(text.substr(start, i - start));
    }
    while (i < n && text[i] == '[') {
      const size_t close = text.find(']', i);
      if (close == absl::string_view::npos) return bad("unclosed '['", i);
      const absl::string_view inside = text.substr(i + 1, close - i - 1);
      if (inside.empty()) {
        step.index.push_back(-1);
      } else {
        int64_t v = 0;
        for (char c : inside) {
          if (c < '0' || c > '9' || v > (int64_t{1} << 40)) {
            return bad("array index must be [] or [N]", i);
          }
          v = v * 10 + (c - '0');
        }
        step.index.push_back(v);
      }
      i = close + 1;
    }
    p.steps_.push_back(std::move(step));
    if (i == n) break;
    if (text[i] != '.') return bad("expected '.' or '['", i);
    ++i;
    if (i == n) return bad("empty key", i);
  }
  return p;
}

std::vector<std::string> JsonPath::Members() const {
  std::vector<std::string> out;
  for (const Step& s : steps_) {
    if (!s.index.empty()) return {};
    out.push_back(s.name);
  }
  return out;
}

std::vector<std::string> JsonPath::MembersThroughArrays() const {
  std::vector<std::string> out;
  for (const Step& s : steps_) {
    for (const int64_t i : s.index) {
      if (i >= 0) return {};
    }
    out.push_back(s.name);
  }
  return out;
}

void JsonPath::Resolve(const nlohmann::json& doc,
                       std::vector<const nlohmann::json*>* out) const {
  Walk(doc, 0, 0, out);
}

// At step `step`: bracket 0 means the name is still to be looked up;
// bracket b > 0 means brackets [0, b) of the step are applied.
void JsonPath::Walk(const nlohmann::json& v, size_t step, size_t bracket,
                    std::vector<const nlohmann::json*>* out) const {
  if (step == steps_.size()) {
    out->push_back(&v);
    return;
  }
  const Step& s = steps_[step];
  if (bracket == 0) {
    if (v.is_array()) {  // implicit: search the elements
      for (const auto& e : v) Walk(e, step, 0, out);
      return;
    }
    if (!v.is_object()) return;
    auto it = v.find(s.name);
    if (it == v.end()) return;
    if (s.index.empty()) {
      Walk(*it, step + 1, 0, out);
    } else {
      Walk(*it, step, 1, out);
    }
    return;
  }
  if (!v.is_array()) return;
  const int64_t idx = s.index[bracket - 1];
  const bool last = bracket == s.index.size();
  auto next = [&](const nlohmann::json& e) {
    if (last) {
      Walk(e, step + 1, 0, out);
    } else {
      Walk(e, step, bracket + 1, out);
    }
  };
  if (idx < 0) {
    for (const auto& e : v) next(e);
  } else if (static_cast<uint64_t>(idx) < v.size()) {
    next(v[static_cast<size_t>(idx)]);
  }
}

const char* JsonTypeName(const nlohmann::json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a bool";
  if (v.is_number_integer() || v.is_number_unsigned()) return "an integer";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  return "an object";
}

bool AsInt64(const nlohmann::json& v, int64_t* out) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return false;
    }
    *out = static_cast<int64_t>(u);
    return true;
  }
  if (v.is_number_integer()) {
    *out = v.get<int64_t>();
    return true;
  }
  return false;
}

}  // namespace tqdb
