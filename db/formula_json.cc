#include "db/formula_json.h"

#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "db/filter_json.h"
#include "db/json_path.h"
#include "quant/status_macros.h"

namespace tqdb {
namespace {

using json = nlohmann::json;
using Kind = FormulaExpr::Kind;

absl::Status FormulaError(const std::string& at, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(at, ": ", why));
}

absl::Status ExpectedType(const std::string& at, absl::string_view what,
                          const json& got) {
  return FormulaError(
      at, absl::StrCat("expected ", what, ", got ", JsonTypeName(got)));
}

absl::StatusOr<double> Number(const json& j, const std::string& at) {
  if (!j.is_number()) return ExpectedType(at, "a number", j);
  return j.get<double>();
}

absl::StatusOr<std::string> String(const json& j, const std::string& at) {
  if (!j.is_string()) return ExpectedType(at, "a string", j);
  return j.get<std::string>();
}

// The operators whose operand is one expression.
bool UnaryKind(const std::string& name, Kind* k) {
  static const std::pair<const char*, Kind> kUnary[] = {
      {"neg", Kind::kNeg}, {"abs", Kind::kAbs},     {"sqrt", Kind::kSqrt},
      {"exp", Kind::kExp}, {"log10", Kind::kLog10}, {"ln", Kind::kLn}};
  for (const auto& [n, kind] : kUnary) {
    if (name == n) {
      *k = kind;
      return true;
    }
  }
  return false;
}

bool DecayKind(const std::string& name, Kind* k) {
  if (name == "exp_decay") *k = Kind::kExpDecay;
  if (name == "gauss_decay") *k = Kind::kGaussDecay;
  if (name == "lin_decay") *k = Kind::kLinDecay;
  return name == "exp_decay" || name == "gauss_decay" || name == "lin_decay";
}

// The members of an operator's object, each named once among `allowed`.
absl::Status CheckMembers(const json& j, const std::string& at,
                          std::initializer_list<const char*> allowed) {
  if (!j.is_object()) return ExpectedType(at, "an object", j);
  for (const auto& [key, value] : j.items()) {
    bool known = false;
    for (const char* a : allowed) known = known || key == a;
    if (!known)
      return FormulaError(at, absl::StrCat("unknown member '", key, "'"));
  }
  return absl::OkStatus();
}

absl::StatusOr<FormulaExpr> Parse(const json& j, const std::string& at,
                                  int depth);

absl::Status ParseInto(const json& j, const std::string& at, int depth,
                       FormulaExpr* parent) {
  TQ_ASSIGN_OR_RETURN(FormulaExpr e, Parse(j, at, depth + 1));
  parent->args.push_back(std::move(e));
  return absl::OkStatus();
}

absl::StatusOr<FormulaExpr> Parse(const json& j, const std::string& at,
                                  int depth) {
  if (depth > kMaxFormulaDepth) {
    return FormulaError(at,
                        absl::StrCat("nested deeper than ", kMaxFormulaDepth));
  }
  FormulaExpr e;
  if (j.is_number()) {
    e.kind = Kind::kConstant;
    e.value = j.get<double>();
    return e;
  }
  if (j.is_string()) {
    e.kind = Kind::kVariable;
    e.key = j.get<std::string>();
    if (absl::StartsWith(e.key, "$") && e.key != kScoreVariable) {
      return FormulaError(
          at, absl::StrCat("'", e.key,
                           "': the one score variable is \"$score\" "
                           "(a search has one score a point)"));
    }
    return e;
  }
  if (!j.is_object()) {
    return ExpectedType(at, "a number, a string or an expression object", j);
  }
  if (j.size() == 1) {
    const std::string name = j.begin().key();
    const json& v = j.begin().value();
    const std::string here = absl::StrCat(at, ".", name);
    Kind k;
    if (name == "mult" || name == "sum") {
      e.kind = name == "mult" ? Kind::kMult : Kind::kSum;
      if (!v.is_array()) return ExpectedType(here, "a list of expressions", v);
      for (size_t i = 0; i < v.size(); ++i) {
        TQ_RETURN_IF_ERROR(
            ParseInto(v[i], absl::StrCat(here, "[", i, "]"), depth, &e));
      }
      return e;
    }
    if (UnaryKind(name, &k)) {
      e.kind = k;
      TQ_RETURN_IF_ERROR(ParseInto(v, here, depth, &e));
      return e;
    }
    if (name == "div") {
      e.kind = Kind::kDiv;
      TQ_RETURN_IF_ERROR(
          CheckMembers(v, here, {"left", "right", "by_zero_default"}));
      if (!v.contains("left") || !v.contains("right")) {
        return FormulaError(here, "needs left and right");
      }
      TQ_RETURN_IF_ERROR(ParseInto(v["left"], here + ".left", depth, &e));
      TQ_RETURN_IF_ERROR(ParseInto(v["right"], here + ".right", depth, &e));
      if (v.contains("by_zero_default") && !v["by_zero_default"].is_null()) {
        TQ_ASSIGN_OR_RETURN(
            e.by_zero_default,
            Number(v["by_zero_default"], here + ".by_zero_default"));
      }
      return e;
    }
    if (name == "pow") {
      e.kind = Kind::kPow;
      TQ_RETURN_IF_ERROR(CheckMembers(v, here, {"base", "exponent"}));
      if (!v.contains("base") || !v.contains("exponent")) {
        return FormulaError(here, "needs base and exponent");
      }
      TQ_RETURN_IF_ERROR(ParseInto(v["base"], here + ".base", depth, &e));
      TQ_RETURN_IF_ERROR(
          ParseInto(v["exponent"], here + ".exponent", depth, &e));
      return e;
    }
    if (name == "geo_distance") {
      e.kind = Kind::kGeoDistance;
      TQ_RETURN_IF_ERROR(CheckMembers(v, here, {"origin", "to"}));
      if (!v.contains("origin") || !v.contains("to")) {
        return FormulaError(here, "needs origin and to");
      }
      const json& o = v["origin"];
      TQ_RETURN_IF_ERROR(CheckMembers(o, here + ".origin", {"lat", "lon"}));
      if (!o.contains("lat") || !o.contains("lon")) {
        return FormulaError(here + ".origin", "needs lat and lon");
      }
      TQ_ASSIGN_OR_RETURN(e.origin.lat, Number(o["lat"], here + ".origin.lat"));
      TQ_ASSIGN_OR_RETURN(e.origin.lon, Number(o["lon"], here + ".origin.lon"));
      TQ_ASSIGN_OR_RETURN(e.key, String(v["to"], here + ".to"));
      return e;
    }
    if (name == "datetime") {
      e.kind = Kind::kDatetime;
      TQ_ASSIGN_OR_RETURN(e.text, String(v, here));
      return e;
    }
    if (name == "datetime_key") {
      e.kind = Kind::kDatetimeKey;
      TQ_ASSIGN_OR_RETURN(e.key, String(v, here));
      return e;
    }
    if (DecayKind(name, &k)) {
      e.kind = k;
      TQ_RETURN_IF_ERROR(
          CheckMembers(v, here, {"x", "target", "scale", "midpoint"}));
      if (!v.contains("x")) return FormulaError(here, "needs x");
      TQ_RETURN_IF_ERROR(ParseInto(v["x"], here + ".x", depth, &e));
      if (v.contains("target") && !v["target"].is_null()) {
        TQ_RETURN_IF_ERROR(ParseInto(v["target"], here + ".target", depth, &e));
      }
      if (v.contains("scale") && !v["scale"].is_null()) {
        TQ_ASSIGN_OR_RETURN(e.scale, Number(v["scale"], here + ".scale"));
      }
      if (v.contains("midpoint") && !v["midpoint"].is_null()) {
        TQ_ASSIGN_OR_RETURN(e.midpoint,
                            Number(v["midpoint"], here + ".midpoint"));
      }
      return e;
    }
  }
  // Anything else is a condition.
  absl::StatusOr<Filter> f = FilterFromJson(json{{"must", json::array({j})}});
  if (!f.ok()) {
    std::string why(f.status().message());
    if (absl::StartsWith(why, "must[0]")) why = why.substr(7);
    if (absl::StartsWith(why, ".")) why = why.substr(1);
    return FormulaError(
        at, absl::StrCat("not an expression nor a condition: ", why));
  }
  e.kind = Kind::kCondition;
  e.condition = std::make_shared<const Filter>(*std::move(f));
  return e;
}

}  // namespace

absl::StatusOr<FormulaExpr> FormulaExprFromJson(const json& j) {
  return Parse(j, "formula", 0);
}

absl::StatusOr<Formula> FormulaFromJson(const json& j) {
  if (!j.is_object()) return ExpectedType("formula query", "an object", j);
  TQ_RETURN_IF_ERROR(CheckMembers(j, "formula query", {"formula", "defaults"}));
  if (!j.contains("formula"))
    return FormulaError("formula query", "needs formula");
  Formula f;
  TQ_ASSIGN_OR_RETURN(f.expression, FormulaExprFromJson(j["formula"]));
  if (j.contains("defaults") && !j["defaults"].is_null()) {
    const json& d = j["defaults"];
    if (!d.is_object()) return ExpectedType("defaults", "an object", d);
    for (const auto& [key, value] : d.items()) f.defaults[key] = value;
  }
  return f;
}

absl::StatusOr<Formula> ParseFormulaJson(absl::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) {
    return absl::InvalidArgumentError("formula query is not valid JSON");
  }
  return FormulaFromJson(j);
}

}  // namespace tqdb
