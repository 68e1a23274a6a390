// The textual form of a filter: Qdrant's JSON filter syntax, which users
// already write (`tqdb search --filter`, `tqdb scroll`, the server's log):
//
//   {"must": [{"key": "section", "match": {"value": "libs"}},
//             {"key": "installed_size_kb", "range": {"lt": 1000}}],
//    "should": [...], "must_not": [{"key": "tags",
//                                   "match": {"any": ["role::doc"]}}],
//    "min_should": 1}
//
// Conditions: {"key": K, "match": {"value": V}} (V a string, integer or
// bool), {"key": K, "match": {"any": [...]}}, {"key": K, "match":
// {"except": [...]}} (strings or integers), {"key": K, "match": {"text":
// "words"}} and {"key": K, "match": {"text_any": "words"}} (full text,
// db/text_words.h), {"key": K, "range": {"gt": x,
// "gte": x, "lt": x, "lte": x}} (numbers, null = unset), {"is_empty":
// {"key": K}}, {"is_null": {"key": K}}, {"has_id": [ids]}, or a nested
// filter object. A clause may be one condition instead of a list.
// min_should is a count, or Qdrant's {"conditions": [...], "min_count": n}
// (then its own nested filter, added to must).
//
// Errors: InvalidArgument naming the place in the JSON,
// "must[2].range.gt: expected a number", for unknown keys and operators,
// wrong types and nesting deeper than kMaxFilterDepth (db/query.h checks
// the rest, once, where a filter enters the database).
#ifndef TQDB_DB_FILTER_JSON_H_
#define TQDB_DB_FILTER_JSON_H_

#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "db/filter.h"

namespace tqdb {

absl::StatusOr<Filter> ParseFilterJson(absl::string_view text);
absl::StatusOr<Filter> FilterFromJson(const nlohmann::json& json);

// The JSON of a filter (ParseFilterJson reads it back to an equal filter).
nlohmann::json FilterToJson(const Filter& filter);

}  // namespace tqdb

#endif  // TQDB_DB_FILTER_JSON_H_
