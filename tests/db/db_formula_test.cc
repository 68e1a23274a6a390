// Score formulas (db/formula.h) and their JSON syntax (db/formula_json.h):
// each operator's value against the formula written out here, defaults,
// and every error.
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "db/formula.h"
#include "db/formula_json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tqdb {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;

// The formula `expr` (JSON syntax) with `defaults`, for a point of id 7
// scoring `score` with `payload`.
absl::StatusOr<float> Eval(const std::string& expr, float score,
                           const json& payload,
                           const json& defaults = json::object()) {
  absl::StatusOr<Formula> f = FormulaFromJson(
      json{{"formula", json::parse(expr)}, {"defaults", defaults}});
  if (!f.ok()) return f.status();
  absl::StatusOr<ScoreFormula> s = ScoreFormula::Compile(*f);
  if (!s.ok()) return s.status();
  return s->Evaluate(score, 7, payload.is_null() ? nullptr : &payload);
}

float Value(const std::string& expr, float score, const json& payload,
            const json& defaults = json::object()) {
  absl::StatusOr<float> v = Eval(expr, score, payload, defaults);
  EXPECT_TRUE(v.ok()) << expr << ": " << v.status();
  return v.value_or(NAN);
}

std::string Error(const std::string& expr, const json& payload = json(),
                  const json& defaults = json::object()) {
  absl::StatusOr<float> v = Eval(expr, 0.5f, payload, defaults);
  EXPECT_FALSE(v.ok()) << expr;
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument) << expr;
  return std::string(v.status().message());
}

TEST(FormulaTest, Arithmetic) {
  const json p = {{"pop", 4},
                  {"neg", -2.5},
                  {"one", {3}},
                  {"doc", {{"rank", 10}}},
                  {"tag", "h1"}};
  EXPECT_FLOAT_EQ(Value("\"$score\"", 0.25f, p), 0.25f);
  EXPECT_FLOAT_EQ(Value("2.5", 0, p), 2.5f);
  EXPECT_FLOAT_EQ(Value("\"pop\"", 0, p), 4);
  EXPECT_FLOAT_EQ(Value("\"one\"", 0, p), 3);  // an array of one number
  EXPECT_FLOAT_EQ(Value("\"doc.rank\"", 0, p), 10);
  EXPECT_FLOAT_EQ(
      Value(R"({"sum": ["$score", {"mult": [0.5, "pop"]}, -1]})", 0.25f, p),
      0.25f + 2 - 1);
  EXPECT_FLOAT_EQ(Value(R"({"neg": "pop"})", 0, p), -4);
  EXPECT_FLOAT_EQ(Value(R"({"abs": "neg"})", 0, p), 2.5f);
  EXPECT_FLOAT_EQ(Value(R"({"sqrt": "pop"})", 0, p), 2);
  EXPECT_FLOAT_EQ(Value(R"({"exp": 1})", 0, p), std::exp(1.0f));
  EXPECT_FLOAT_EQ(Value(R"({"log10": 1000})", 0, p), 3);
  EXPECT_FLOAT_EQ(Value(R"({"ln": "pop"})", 0, p), std::log(4.0f));
  EXPECT_FLOAT_EQ(Value(R"({"div": {"left": "pop", "right": 8}})", 0, p), 0.5f);
  EXPECT_FLOAT_EQ(
      Value(R"({"div": {"left": 1, "right": 0, "by_zero_default": 9}})", 0, p),
      9);
  // A zero numerator is 0 whatever the denominator.
  EXPECT_FLOAT_EQ(Value(R"({"div": {"left": 0, "right": 0}})", 0, p), 0);
  EXPECT_FLOAT_EQ(Value(R"({"pow": {"base": "pop", "exponent": 1.5}})", 0, p),
                  8);
  // A zero factor ends a product: later factors are not read.
  EXPECT_FLOAT_EQ(Value(R"({"mult": [0, "missing"]})", 0, p), 0);
}

TEST(FormulaTest, ConditionsGeoAndDatetimes) {
  const json p = {{"tag", "h1"},
                  {"loc", {{"lon", 13.4}, {"lat", 52.5}}},
                  {"at", "2024-03-01T00:00:10Z"}};
  EXPECT_FLOAT_EQ(
      Value(R"({"key": "tag", "match": {"any": ["h1", "h2"]}})", 0, p), 1);
  EXPECT_FLOAT_EQ(Value(R"({"key": "tag", "match": {"value": "h3"}})", 0, p),
                  0);
  EXPECT_FLOAT_EQ(Value(R"({"has_id": [7]})", 0, p), 1);
  EXPECT_FLOAT_EQ(Value(R"({"must_not": [{"has_id": [7]}]})", 0, p), 0);
  // Berlin to Paris, ~878 km.
  const float d = Value(
      R"({"geo_distance": {"origin": {"lat": 48.8566, "lon": 2.3522},
                           "to": "loc"}})",
      0, p);
  EXPECT_NEAR(d, 878e3, 5e3);
  EXPECT_FLOAT_EQ(Value(R"({"datetime_key": "at"})", 0, p), 1709251210.0f);
  EXPECT_FLOAT_EQ(Value(R"({"sum": [{"datetime_key": "at"},
                        {"neg": {"datetime": "2024-03-01T00:00:00Z"}}]})",
                        0, p),
                  10);
}

TEST(FormulaTest, Decays) {
  const json p = {{"x", 7}};
  // Each decay is 1 at the target and `midpoint` at target +- scale.
  for (const char* kind : {"exp_decay", "gauss_decay", "lin_decay"}) {
    const std::string at = std::string(R"({")") + kind + R"(": {"x": )";
    EXPECT_FLOAT_EQ(Value(at + R"("x", "target": 7, "scale": 3}})", 0, p), 1)
        << kind;
    EXPECT_FLOAT_EQ(
        Value(at + R"("x", "target": 4, "scale": 3, "midpoint": 0.2}})", 0, p),
        0.2f)
        << kind;
    EXPECT_FLOAT_EQ(Value(at + R"("x", "target": 10, "scale": 3}})", 0, p),
                    0.5f)
        << kind;
  }
  // Defaults: target 0, scale 1, midpoint 0.5.
  EXPECT_FLOAT_EQ(Value(R"({"exp_decay": {"x": 2}})", 0, p), 0.25f);
  EXPECT_FLOAT_EQ(Value(R"({"gauss_decay": {"x": 2}})", 0, p),
                  std::pow(0.5f, 4.0f));
  EXPECT_FLOAT_EQ(Value(R"({"lin_decay": {"x": 1.5}})", 0, p), 0.25f);
  EXPECT_FLOAT_EQ(Value(R"({"lin_decay": {"x": 3}})", 0, p), 0);
  EXPECT_FLOAT_EQ(Value(R"({"lin_decay": {"x": 0.5, "midpoint": 0}})", 0, p),
                  0.5f);
}

TEST(FormulaTest, Defaults) {
  const json none = json::object();
  EXPECT_FLOAT_EQ(Value("\"pop\"", 0, none, {{"pop", 2}}), 2);
  EXPECT_FLOAT_EQ(Value("\"pop\"", 0, json(), {{"pop", 2}}), 2);  // no payload
  EXPECT_FLOAT_EQ(Value("\"pop\"", 0, {{"pop", 5}}, {{"pop", 2}}), 5);
  EXPECT_FLOAT_EQ(Value("\"pop\"", 0, {{"pop", nullptr}}, {{"pop", 2}}), 2);
  EXPECT_FLOAT_EQ(
      Value(R"({"geo_distance": {"origin": {"lat": 1, "lon": 2}, "to": "g"}})",
            0, none, {{"g", {{"lat", 1}, {"lon", 2}}}}),
      0);
  EXPECT_FLOAT_EQ(Value(R"({"datetime_key": "t"})", 0, none,
                        {{"t", "1970-01-01T00:01:00Z"}}),
                  60);
  // A default for a key the formula does not read is ignored.
  EXPECT_FLOAT_EQ(Value("1", 0, none, {{"other", "x"}}), 1);
}

TEST(FormulaTest, EvaluationErrorsNameThePoint) {
  EXPECT_THAT(Error("\"pop\"", json::object()),
              HasSubstr("formula: point 7: 'pop' has no value in its payload "
                        "nor in the formula's defaults"));
  EXPECT_THAT(Error("\"pop\"", {{"pop", "high"}}),
              HasSubstr("point 7: 'pop' is not a number: \"high\""));
  EXPECT_THAT(Error("\"pop\"", {{"pop", {1, 2}}}),
              HasSubstr("'pop' holds 2 values in its payload, not one"));
  EXPECT_THAT(Error(R"({"sqrt": -4})"), HasSubstr("sqrt(-4) = "));
  EXPECT_THAT(Error(R"({"ln": 0})"), HasSubstr("ln(0) = -inf"));
  EXPECT_THAT(Error(R"({"div": {"left": 1, "right": 0}})"),
              HasSubstr("1 / 0 = inf"));
  EXPECT_THAT(Error(R"({"pow": {"base": 10, "exponent": 400}})"),
              HasSubstr("10 ^ 400 = inf"));
  EXPECT_THAT(Error(R"({"exp": 100})"), HasSubstr("out of a float's range"));
  EXPECT_THAT(Error(R"({"datetime_key": "t"})", {{"t", "yesterday"}}),
              HasSubstr("'t' is not an RFC 3339 datetime: \"yesterday\""));
  EXPECT_THAT(
      Error(R"({"geo_distance": {"origin": {"lat": 1, "lon": 2}, "to": "g"}})",
            {{"g", {{"lat", 100}, {"lon", 2}}}}),
      HasSubstr("'g' is not a geo point"));
}

TEST(FormulaTest, CompileErrorsNameThePlace) {
  EXPECT_THAT(Error(R"({"sum": []})"),
              HasSubstr("sum: needs at least one expression"));
  EXPECT_THAT(Error(R"({"sum": [1, {"div": {"left": 1}}]})"),
              HasSubstr("formula.sum[1].div: needs left and right"));
  EXPECT_THAT(Error(R"({"mult": [1, "a..b"]})"),
              HasSubstr("malformed path 'a..b'"));
  EXPECT_THAT(Error(R"("$score[1]")"),
              HasSubstr("the one score variable is \"$score\""));
  EXPECT_THAT(Error(R"({"exp_decay": {"x": 1, "scale": 0}})"),
              HasSubstr("exp_decay.scale: 0 is not above 0"));
  EXPECT_THAT(Error(R"({"gauss_decay": {"x": 1, "midpoint": 1}})"),
              HasSubstr("gauss_decay.midpoint: 1 is out of (0, 1)"));
  EXPECT_THAT(Error(R"({"exp_decay": {"x": 1, "midpoint": 0}})"),
              HasSubstr("exp_decay.midpoint: 0 is out of (0, 1)"));
  EXPECT_THAT(Error(R"({"lin_decay": {"x": 1, "speed": 2}})"),
              HasSubstr("lin_decay: unknown member 'speed'"));
  EXPECT_THAT(Error(R"({"datetime": "soon"})"),
              HasSubstr("'soon' is not an RFC 3339 datetime"));
  EXPECT_THAT(Error(R"({"geo_distance": {"origin": {"lat": 91, "lon": 0},
                                         "to": "g"}})"),
              HasSubstr("geo_distance.origin: lat: 91 is out of -90..90"));
  EXPECT_THAT(Error(R"({"key": "tag", "match": {"nope": 1}})"),
              HasSubstr("not an expression nor a condition"));
  EXPECT_THAT(Error("true"), HasSubstr("expected a number, a string or an "
                                       "expression object, got a bool"));
  EXPECT_THAT(Error("\"pop\"", json(), {{"pop", "x"}}),
              HasSubstr("defaults['pop']: expected a number"));
  EXPECT_THAT(Error(R"({"datetime_key": "t"})", json(), {{"t", 5}}),
              HasSubstr("defaults['t']: expected an RFC 3339 datetime, not 5"));
  EXPECT_THAT(Error(R"({"sum": ["t", {"datetime_key": "t"}]})"),
              HasSubstr("key 't' is read both as"));
  std::string deep = "1";
  for (int i = 0; i < kMaxFormulaDepth + 2; ++i) {
    deep = R"({"neg": )" + deep + "}";
  }
  EXPECT_THAT(Error(deep), HasSubstr("nested deeper than"));
  json wide = json::array();
  for (size_t i = 0; i < kMaxFormulaNodes; ++i) wide.push_back(1);
  EXPECT_THAT(Error(json{{"sum", wide}}.dump()),
              HasSubstr("more than 1000 expressions"));
  EXPECT_THAT(std::string(ParseFormulaJson("{").status().message()),
              HasSubstr("not valid JSON"));
  EXPECT_THAT(
      std::string(ParseFormulaJson(R"({"defaults": {}})").status().message()),
      HasSubstr("needs formula"));
}

}  // namespace
}  // namespace tqdb
