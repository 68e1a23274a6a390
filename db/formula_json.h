// The textual form of a score formula (db/formula.h): Qdrant's JSON syntax
// of a formula query, which users already write, for the REST API, the CLI
// (`tqdb search --formula`) and the Python client's dicts:
//
//   {"formula": {"sum": ["$score", {"mult": [0.5, {"key": "tag", "match":
//                 {"any": ["h1", "h2"]}}]}]},
//    "defaults": {"popularity": 0}}
//
// An expression is a number, a string ("$score" or a payload key), or an
// object of one of: mult, sum (lists), neg, abs, sqrt, exp, log10, ln (an
// expression), div {left, right, by_zero_default}, pow {base, exponent},
// geo_distance {origin: {lat, lon}, to: key}, datetime (a string),
// datetime_key (a key), exp_decay / gauss_decay / lin_decay {x, target,
// scale, midpoint}; any other object is a filter condition (db/filter_json.h:
// {"key": ..., "match": ...}, has_id, is_empty, a nested filter, ...).
//
// Errors: InvalidArgument naming the place, "formula.sum[1].div: expected
// an object, got a number", for unknown keys, wrong types, and "$score[N]"
// (scores of several prefetches: tqdb's search has one score a point).
// db/formula.h's Compile checks the rest.
#ifndef TQDB_DB_FORMULA_JSON_H_
#define TQDB_DB_FORMULA_JSON_H_

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "db/formula.h"

namespace tqdb {

// {"formula": expression, "defaults": {key: value, ...}} (defaults
// optional).
absl::StatusOr<Formula> FormulaFromJson(const nlohmann::json& json);
absl::StatusOr<Formula> ParseFormulaJson(absl::string_view text);
// An expression alone.
absl::StatusOr<FormulaExpr> FormulaExprFromJson(const nlohmann::json& json);

}  // namespace tqdb

#endif  // TQDB_DB_FORMULA_JSON_H_
