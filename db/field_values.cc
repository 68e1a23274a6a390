#include "db/field_values.h"

#include <algorithm>

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

template <typename T>
void SortUnique(std::vector<T>* v) {
  std::sort(v->begin(), v->end());
  v->erase(std::unique(v->begin(), v->end()), v->end());
}

}  // namespace

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
    }
  });
  SortUnique(&out.keywords);
  SortUnique(&out.integers);
  SortUnique(&out.floats);
  SortUnique(&out.bools);
  return out;
}

}  // namespace tqdb
