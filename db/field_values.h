// What a payload index keeps of one point: the values of its field, of the
// index's type, read from the payload by the field's path (db/json_path.h),
// plus whether the field is empty or null there (is_empty / is_null).
//
// Thread-compatible: plain values.
#ifndef TQDB_DB_FIELD_VALUES_H_
#define TQDB_DB_FIELD_VALUES_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "db/filter.h"
#include "db/json_path.h"

namespace tqdb {

struct FieldValues {
  bool present = false;  // not is_empty: a value other than null and []
  bool null = false;     // is_null
  // Of the index's type only, sorted, without repeats.
  std::vector<std::string> keywords;  // kKeyword; kText: the words
  std::vector<int64_t> integers;      // kInteger; kDatetime: microseconds
  std::vector<double> floats;         // kFloat (integers as doubles too)
  std::vector<uint8_t> bools;         // kBool: 0, 1 or both
  std::vector<GeoPoint> geo;          // kGeo

  bool operator==(const FieldValues& o) const {
    return present == o.present && null == o.null && keywords == o.keywords &&
           integers == o.integers && floats == o.floats && bools == o.bools &&
           geo == o.geo;
  }
  bool has_values() const {
    return !keywords.empty() || !integers.empty() || !floats.empty() ||
           !bools.empty() || !geo.empty();
  }
};

// The values of `path` of type `type` in `payload` (nullptr: no payload, or
// one that is not JSON: nothing present).
FieldValues ExtractField(const nlohmann::json* payload, const JsonPath& path,
                         FieldType type);

// Parses and validates a payload, keeping of it only the members of the
// top-level object named in `keep` (sorted): what the payload indexes read
// (the rest is validated, not built). *out: an object of those members, or
// null when the payload is valid JSON but not an object. False (and *out
// unspecified) when it is not valid JSON.
bool ParseMembers(absl::string_view payload,
                  const std::vector<std::string>& keep, nlohmann::json* out);

// is_empty / is_null of the values a path reached (JsonPath::Resolve).
bool ValuesEmpty(const std::vector<const nlohmann::json*>& values);
bool ValuesNull(const std::vector<const nlohmann::json*>& values);

}  // namespace tqdb

#endif  // TQDB_DB_FIELD_VALUES_H_
