// Score boosting (Qdrant's formula query, 1.14): a search's best points
// rescored by an expression over their score and payload, e.g. the score
// plus 0.5 where a tag matches, times a decay of the distance to the user
// or of the age of a date:
//
//   {"sum": ["$score", {"mult": [0.5, {"key": "tag",
//                                      "match": {"any": ["h1", "h2"]}}]},
//            {"gauss_decay": {"x": {"geo_distance": {"origin": {"lat": 52.5,
//                                   "lon": 13.4}, "to": "location"}},
//                             "scale": 5000}}]}
//
// Expressions (the JSON syntax of db/formula_json.h names them so):
//   a number; "$score" (the point's search score); a payload key (as
//   filters name it: its number, or the one number of an array of one);
//   a filter condition (1 where it holds, else 0); geo_distance (meters from
//   origin to the geo point at key `to`); datetime (an RFC 3339 constant)
//   and datetime_key (the RFC 3339 string at a key), both in seconds since
//   the epoch; mult, sum (of any number of expressions); neg, abs, sqrt,
//   exp, log10, ln; div (left / right; by_zero_default where right is 0);
//   pow (base, exponent); exp_decay, gauss_decay, lin_decay of x around
//   target (default 0) with scale (> 0, default 1) and midpoint (the decay
//   at |x - target| = scale, in (0, 1) and for lin_decay [0, 1), default
//   0.5):
//     exp:   exp(ln(midpoint) / scale * |x - target|)
//     gauss: exp(ln(midpoint) / scale^2 * (x - target)^2)
//     lin:   max(0, 1 - (1 - midpoint) / scale * |x - target|)
//
// Defaults: a value per payload key (a number, a geo point or a datetime
// string, as the key's use needs) taken where a point has none ("$score"
// always has the point's score).
//
// Errors: Compile: InvalidArgument naming the place ("sum[1].div.right: ...")
// for an empty sum or mult, a non-finite constant, a malformed key or
// datetime, a bad condition or origin, scale <= 0 or a midpoint out of
// range, nesting deeper than kMaxFormulaDepth or more than kMaxFormulaNodes
// nodes, a default of the wrong type. Evaluate: InvalidArgument naming the
// point for a variable with no value there nor default, a value of the
// wrong type, and a non-finite result (sqrt of a negative, ln of 0, a
// division by 0 without by_zero_default, a score past float's range).
//
// Thread-safety: a ScoreFormula is immutable after Compile; Evaluate may
// run concurrently.
#ifndef TQDB_DB_FORMULA_H_
#define TQDB_DB_FORMULA_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "db/filter.h"
#include "db/geo.h"

namespace tqdb {

constexpr int kMaxFormulaDepth = 32;
constexpr size_t kMaxFormulaNodes = 1000;

// The variable that names a point's search score.
inline constexpr char kScoreVariable[] = "$score";

struct FormulaExpr {
  enum class Kind {
    kConstant,     // value
    kVariable,     // key ("$score" or a payload key)
    kCondition,    // condition (a filter of one condition, or more)
    kGeoDistance,  // origin, key
    kDatetime,     // text (RFC 3339)
    kDatetimeKey,  // key
    kMult,         // args
    kSum,          // args
    kNeg,          // args[0]
    kAbs,
    kSqrt,
    kExp,
    kLog10,
    kLn,
    kDiv,       // args[0] / args[1], by_zero_default
    kPow,       // args[0] ^ args[1]
    kExpDecay,  // x = args[0], target = args[1] if present; scale, midpoint
    kGaussDecay,
    kLinDecay,
  };
  Kind kind = Kind::kConstant;
  double value = 0;
  std::string key;
  std::string text;
  std::shared_ptr<const Filter> condition;
  GeoPoint origin;
  std::vector<FormulaExpr> args;
  std::optional<double> by_zero_default;
  std::optional<double> scale;     // decays: unset = 1
  std::optional<double> midpoint;  // decays: unset = 0.5
};

struct Formula {
  FormulaExpr expression;
  // Payload key (or "$score") -> the value used where a point has none.
  std::map<std::string, nlohmann::json> defaults;
};

struct FormulaNode;  // the compiled expression (db/formula.cc)

class ScoreFormula {
 public:
  ScoreFormula(ScoreFormula&&) noexcept;
  ScoreFormula& operator=(ScoreFormula&&) noexcept;
  ~ScoreFormula();

  static absl::StatusOr<ScoreFormula> Compile(const Formula& formula);

  // The formula for a point of id `id` whose search scored `score`, with
  // `payload` (nullptr: none, or not JSON). InvalidArgument as above,
  // naming the point by `id`.
  absl::StatusOr<float> Evaluate(float score, uint64_t id,
                                 const nlohmann::json* payload) const;

 private:
  ScoreFormula();
  std::unique_ptr<FormulaNode> root_;
  std::map<std::string, nlohmann::json> defaults_;
};

}  // namespace tqdb

#endif  // TQDB_DB_FORMULA_H_
