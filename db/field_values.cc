#include "db/field_values.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "db/datetime.h"
#include "db/text_words.h"

namespace tqdb {

bool ValuesEmpty(const std::vector<const nlohmann::json*>& values) {
  for (const nlohmann::json* v : values) {
    if (v->is_null()) continue;
    if (v->is_array() && v->empty()) continue;
    return false;
  }
  return true;
}

bool ValuesNull(const std::vector<const nlohmann::json*>& values) {
  for (const nlohmann::json* v : values) {
    if (v->is_null()) return true;
    if (v->is_array()) {
      for (const auto& e : *v) {
        if (e.is_null()) return true;
      }
    }
  }
  return false;
}

namespace {

using json = nlohmann::json;

// SAX events of a payload: members of the top-level object named in `keep`
// are built (by nlohmann's own DOM builder, fed their events), the rest
// only validated.
class MemberParser final : public nlohmann::json_sax<json> {
 public:
  MemberParser(const std::vector<std::string>& keep, json* out)
      : keep_(keep), out_(out) {}

  bool null() override {
    return Value([](Dom& d) { return d.null(); });
  }
  bool boolean(bool v) override {
    return Value([&](Dom& d) { return d.boolean(v); });
  }
  bool number_integer(number_integer_t v) override {
    return Value([&](Dom& d) { return d.number_integer(v); });
  }
  bool number_unsigned(number_unsigned_t v) override {
    return Value([&](Dom& d) { return d.number_unsigned(v); });
  }
  bool number_float(number_float_t v, const string_t& s) override {
    return Value([&](Dom& d) { return d.number_float(v, s); });
  }
  bool string(string_t& v) override {
    return Value([&](Dom& d) { return d.string(v); });
  }
  bool binary(binary_t& v) override {
    return Value([&](Dom& d) { return d.binary(v); });
  }
  bool start_object(std::size_t n) override {
    if (depth_++ == 0) {
      *out_ = json::object();
      return true;
    }
    return dom_ ? dom_->start_object(n) : true;
  }
  bool end_object() override {
    return End([](Dom& d) { return d.end_object(); });
  }
  bool start_array(std::size_t n) override {
    if (depth_++ == 0) return true;  // a top-level array: nothing kept
    return dom_ ? dom_->start_array(n) : true;
  }
  bool end_array() override {
    return End([](Dom& d) { return d.end_array(); });
  }
  bool key(string_t& k) override {
    if (depth_ == 1) {
      if (out_->is_object() &&
          std::binary_search(keep_.begin(), keep_.end(), k)) {
        dom_ = std::make_unique<Dom>((*out_)[k], false);
      }
      return true;
    }
    return dom_ ? dom_->key(k) : true;
  }
  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  using Dom = nlohmann::detail::json_sax_dom_parser<json>;
  // A scalar: into the member being built; at depth 1 it is the member.
  template <typename F>
  bool Value(F&& f) {
    if (!dom_) return true;
    const bool ok = f(*dom_);
    if (depth_ == 1) dom_.reset();
    return ok;
  }
  template <typename F>
  bool End(F&& f) {
    --depth_;
    if (!dom_) return true;
    const bool ok = f(*dom_);
    if (depth_ == 1) dom_.reset();
    return ok;
  }

  const std::vector<std::string>& keep_;
  json* const out_;
  int depth_ = 0;
  std::unique_ptr<Dom> dom_;  // the kept member being built
};

template <typename T>
void SortUnique(std::vector<T>* v) {
  std::sort(v->begin(), v->end());
  v->erase(std::unique(v->begin(), v->end()), v->end());
}

}  // namespace

bool ParseMembers(absl::string_view payload,
                  const std::vector<std::string>& keep, nlohmann::json* out) {
  *out = nullptr;
  MemberParser parser(keep, out);
  return json::sax_parse(payload.begin(), payload.end(), &parser);
}

FieldValues ExtractField(const nlohmann::json* payload, const JsonPath& path,
                         FieldType type) {
  FieldValues out;
  if (payload == nullptr || !payload->is_object()) return out;
  std::vector<const nlohmann::json*> found;
  path.Resolve(*payload, &found);
  if (found.empty()) return out;
  out.present = !ValuesEmpty(found);
  out.null = ValuesNull(found);
  ForEachScalar(found, [&](const nlohmann::json& v) {
    switch (type) {
      case FieldType::kKeyword:
        if (v.is_string()) out.keywords.push_back(v.get<std::string>());
        break;
      case FieldType::kInteger: {
        int64_t i;
        if (AsInt64(v, &i)) out.integers.push_back(i);
        break;
      }
      case FieldType::kFloat:
        if (v.is_number()) out.floats.push_back(v.get<double>());
        break;
      case FieldType::kBool:
        if (v.is_boolean()) out.bools.push_back(v.get<bool>() ? 1 : 0);
        break;
      case FieldType::kDatetime:
        if (v.is_string()) {
          const std::optional<int64_t> t =
              ParseDatetime(v.get_ref<const std::string&>());
          if (t) out.integers.push_back(*t);
        }
        break;
      case FieldType::kText:
        if (v.is_string()) {
          AppendTextWords(v.get_ref<const std::string&>(), &out.keywords);
        }
        break;
      case FieldType::kGeo: {
        GeoPoint p;
        if (ParseGeoPoint(v, &p)) out.geo.push_back(p);
        break;
      }
    }
  });
  SortUnique(&out.keywords);
  SortUnique(&out.integers);
  SortUnique(&out.floats);
  SortUnique(&out.bools);
  SortUnique(&out.geo);
  return out;
}

}  // namespace tqdb
