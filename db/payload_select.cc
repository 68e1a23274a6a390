#include "db/payload_select.h"

#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/str_cat.h"
#include "db/json_path.h"

namespace tqdb {

namespace {

// The selector reads the stored bytes (valid JSON, checked on write) with
// a scanner that only finds where values start and end: kept values are
// copied as stored, and no payload is parsed into a tree or printed from
// one (whose recursion would follow the payload's nesting).
constexpr size_t kNpos = absl::string_view::npos;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

size_t SkipSpace(absl::string_view s, size_t i) {
  while (i < s.size() && IsSpace(s[i])) ++i;
  return i;
}

// One past the closing quote of the string opening at s[i].
size_t StringEnd(absl::string_view s, size_t i) {
  for (size_t j = i + 1; j < s.size(); ++j) {
    if (s[j] == '\\') {
      ++j;
    } else if (s[j] == '"') {
      return j + 1;
    }
  }
  return kNpos;
}

// One past the value starting at s[i].
size_t ValueEnd(absl::string_view s, size_t i) {
  if (i >= s.size()) return kNpos;
  const char c = s[i];
  if (c == '"') return StringEnd(s, i);
  if (c == '{' || c == '[') {
    size_t depth = 0;
    for (size_t j = i; j < s.size(); ++j) {
      const char d = s[j];
      if (d == '"') {
        j = StringEnd(s, j);
        if (j == kNpos) return kNpos;
        --j;
      } else if (d == '{' || d == '[') {
        ++depth;
      } else if (d == '}' || d == ']') {
        if (--depth == 0) return j + 1;
      }
    }
    return kNpos;
  }
  size_t j = i;
  while (j < s.size() && !IsSpace(s[j]) && s[j] != ',' && s[j] != '}' &&
         s[j] != ']') {
    ++j;
  }
  return j == i ? kNpos : j;
}

// A member of an object (its key with the quotes, as stored) or an element
// of an array (no key).
struct Item {
  absl::string_view key;
  absl::string_view value;
};

// The items of the object or array v (exactly its bytes); false if v is
// not well formed.
bool ItemsOf(absl::string_view v, std::vector<Item>* out) {
  const bool object = v.front() == '{';
  const char close = object ? '}' : ']';
  size_t i = SkipSpace(v, 1);
  if (i < v.size() && v[i] == close) return i + 1 == v.size();
  for (;;) {
    Item item;
    if (object) {
      if (i >= v.size() || v[i] != '"') return false;
      const size_t end = StringEnd(v, i);
      if (end == kNpos) return false;
      item.key = v.substr(i, end - i);
      i = SkipSpace(v, end);
      if (i >= v.size() || v[i] != ':') return false;
      i = SkipSpace(v, i + 1);
    }
    const size_t end = ValueEnd(v, i);
    if (end == kNpos) return false;
    item.value = v.substr(i, end - i);
    out->push_back(item);
    i = SkipSpace(v, end);
    if (i >= v.size()) return false;
    if (v[i] == ',') {
      i = SkipSpace(v, i + 1);
      continue;
    }
    return v[i] == close && i + 1 == v.size();
  }
}

// A member's name: its key without the quotes, escapes decoded.
std::string NameOf(absl::string_view key) {
  const absl::string_view inner = key.substr(1, key.size() - 2);
  if (inner.find('\\') == kNpos) return std::string(inner);
  const nlohmann::json j = nlohmann::json::parse(key, nullptr, false);
  return j.is_string() ? j.get<std::string>() : std::string(inner);
}

bool IsContainer(absl::string_view v) {
  return !v.empty() && (v.front() == '{' || v.front() == '[');
}

}  // namespace

PayloadSelector::PayloadSelector() = default;

absl::Status PayloadSelector::Insert(Node* root,
                                     const std::vector<std::string>& paths,
                                     absl::string_view lists,
                                     absl::string_view which) {
  for (size_t i = 0; i < paths.size(); ++i) {
    const std::string where = absl::StrCat(lists, which, "[", i, "]: ");
    auto path = JsonPath::Parse(paths[i]);
    if (!path.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, path.status().message()));
    }
    const std::vector<std::string> names = path->MembersThroughArrays();
    if (names.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "'", paths[i],
                       "': a selector walks every element of an array ([]), "
                       "it takes no element index [N]"));
    }
    Node* n = root;
    bool covered = false;
    for (const std::string& name : names) {
      if (n->whole) {
        covered = true;
        break;
      }
      n = &n->children[name];
    }
    if (!covered) {
      n->whole = true;
      n->children.clear();
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<PayloadSelector> PayloadSelector::Make(
    const std::vector<std::string>& include,
    const std::vector<std::string>& exclude, Source source) {
  if (include.size() + exclude.size() > kMaxSelectorPaths) {
    return absl::InvalidArgumentError(absl::StrCat(
        source.whole, "a payload selector takes at most ", kMaxSelectorPaths,
        " paths, got ", include.size() + exclude.size()));
  }
  PayloadSelector s;
  if (!include.empty()) {
    auto root = std::make_shared<Node>();
    if (absl::Status st = Insert(root.get(), include, source.lists, "include");
        !st.ok()) {
      return st;
    }
    s.include_ = std::move(root);
  }
  if (!exclude.empty()) {
    auto root = std::make_shared<Node>();
    if (absl::Status st = Insert(root.get(), exclude, source.lists, "exclude");
        !st.ok()) {
      return st;
    }
    s.exclude_ = std::move(root);
  }
  return s;
}

bool PayloadSelector::IncludeOf(absl::string_view v, const Node& node,
                                size_t arrays, std::string* out) {
  if (!IsContainer(v)) return false;
  const bool object = v.front() == '{';
  if (!object && arrays >= kMaxArrayNesting) return false;
  std::vector<Item> items;
  if (!ItemsOf(v, &items)) return false;
  std::string body;
  for (const Item& item : items) {
    std::string part;
    if (object) {
      const auto child = node.children.find(NameOf(item.key));
      if (child == node.children.end()) continue;
      if (child->second.whole) {
        part = std::string(item.value);
      } else if (!IncludeOf(item.value, child->second, arrays, &part)) {
        continue;
      }
      part = absl::StrCat(item.key, ":", part);
    } else if (!IncludeOf(item.value, node, arrays + 1, &part)) {
      continue;
    }
    if (!body.empty()) body += ',';
    body += part;
  }
  if (body.empty()) return false;
  *out = object ? absl::StrCat("{", body, "}") : absl::StrCat("[", body, "]");
  return true;
}

std::string PayloadSelector::ExcludeOf(absl::string_view v, const Node& node,
                                       size_t arrays) {
  if (!IsContainer(v)) return std::string(v);
  const bool object = v.front() == '{';
  if (!object && arrays >= kMaxArrayNesting) return std::string(v);
  std::vector<Item> items;
  if (!ItemsOf(v, &items)) return std::string(v);
  std::string body;
  for (const Item& item : items) {
    std::string part;
    if (object) {
      const auto child = node.children.find(NameOf(item.key));
      if (child == node.children.end()) {
        part = absl::StrCat(item.key, ":", item.value);
      } else if (child->second.whole) {
        continue;
      } else {
        part = absl::StrCat(item.key, ":",
                            ExcludeOf(item.value, child->second, arrays));
      }
    } else {
      part = ExcludeOf(item.value, node, arrays + 1);
    }
    if (!body.empty()) body += ',';
    body += part;
  }
  return object ? absl::StrCat("{", body, "}") : absl::StrCat("[", body, "]");
}

std::string PayloadSelector::Apply(absl::string_view payload) const {
  if (selects_all() || payload.empty()) return std::string(payload);
  size_t first = SkipSpace(payload, 0), last = payload.size();
  while (last > first && IsSpace(payload[last - 1])) --last;
  const absl::string_view v = payload.substr(first, last - first);
  const bool object = !v.empty() && v.front() == '{';
  std::string out;
  if (include_ != nullptr) {
    if (!object) return "";
    if (!IncludeOf(v, *include_, 0, &out)) out = "{}";
  } else {
    out = std::string(v);
  }
  if (exclude_ != nullptr && object) out = ExcludeOf(out, *exclude_, 0);
  return out;
}

}  // namespace tqdb
