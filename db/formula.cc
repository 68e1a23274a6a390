#include "db/formula.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "db/datetime.h"
#include "db/json_path.h"
#include "db/payload_match.h"
#include "db/query.h"
#include "quant/status_macros.h"

namespace tqdb {

namespace {

using Kind = FormulaExpr::Kind;

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kConstant:
      return "constant";
    case Kind::kVariable:
      return "variable";
    case Kind::kCondition:
      return "condition";
    case Kind::kGeoDistance:
      return "geo_distance";
    case Kind::kDatetime:
      return "datetime";
    case Kind::kDatetimeKey:
      return "datetime_key";
    case Kind::kMult:
      return "mult";
    case Kind::kSum:
      return "sum";
    case Kind::kNeg:
      return "neg";
    case Kind::kAbs:
      return "abs";
    case Kind::kSqrt:
      return "sqrt";
    case Kind::kExp:
      return "exp";
    case Kind::kLog10:
      return "log10";
    case Kind::kLn:
      return "ln";
    case Kind::kDiv:
      return "div";
    case Kind::kPow:
      return "pow";
    case Kind::kExpDecay:
      return "exp_decay";
    case Kind::kGaussDecay:
      return "gauss_decay";
    case Kind::kLinDecay:
      return "lin_decay";
  }
  return "?";
}

bool IsDecay(Kind k) {
  return k == Kind::kExpDecay || k == Kind::kGaussDecay || k == Kind::kLinDecay;
}

// How many operands a kind takes: -1 any number (at least one), -2 one or
// two (a decay's x and optional target).
int Arity(Kind k) {
  switch (k) {
    case Kind::kConstant:
    case Kind::kVariable:
    case Kind::kCondition:
    case Kind::kGeoDistance:
    case Kind::kDatetime:
    case Kind::kDatetimeKey:
      return 0;
    case Kind::kMult:
    case Kind::kSum:
      return -1;
    case Kind::kDiv:
    case Kind::kPow:
      return 2;
    case Kind::kExpDecay:
    case Kind::kGaussDecay:
    case Kind::kLinDecay:
      return -2;
    default:
      return 1;
  }
}

absl::Status Invalid(const std::string& at, const std::string& why) {
  return absl::InvalidArgumentError(at.empty() ? why
                                               : absl::StrCat(at, ": ", why));
}

}  // namespace

struct FormulaNode {
  Kind kind = Kind::kConstant;
  double value = 0;    // a constant, a datetime's seconds, a decay's lambda
  bool score = false;  // kVariable: "$score"
  std::string key;
  std::unique_ptr<JsonPath> path;
  std::unique_ptr<PayloadMatcher> matcher;
  GeoPoint origin;
  std::optional<double> by_zero_default;
  std::vector<FormulaNode> args;
};

ScoreFormula::ScoreFormula() = default;
ScoreFormula::ScoreFormula(ScoreFormula&&) noexcept = default;
ScoreFormula& ScoreFormula::operator=(ScoreFormula&&) noexcept = default;
ScoreFormula::~ScoreFormula() = default;

namespace {

// What a payload key is read as, for its default's check.
enum class Use { kNumber, kGeo, kDatetime };

struct Compiler {
  size_t nodes = 0;
  std::map<std::string, Use> uses;

  absl::Status Key(const std::string& key, Use use, const std::string& at,
                   std::unique_ptr<JsonPath>* path) {
    absl::StatusOr<JsonPath> p = JsonPath::Parse(key);
    if (!p.ok()) return Invalid(at, std::string(p.status().message()));
    *path = std::make_unique<JsonPath>(*std::move(p));
    const auto [it, added] = uses.emplace(key, use);
    if (!added && it->second != use) {
      return Invalid(at, absl::StrCat("key '", key,
                                      "' is read both as a number, a geo "
                                      "point or a datetime; use one"));
    }
    return absl::OkStatus();
  }

  absl::Status Build(const FormulaExpr& e, const std::string& at, int depth,
                     FormulaNode* out);
};

absl::Status Compiler::Build(const FormulaExpr& e, const std::string& at,
                             int depth, FormulaNode* out) {
  if (depth > kMaxFormulaDepth) {
    return Invalid(at, absl::StrCat("nested deeper than ", kMaxFormulaDepth));
  }
  if (++nodes > kMaxFormulaNodes) {
    return Invalid(at, absl::StrCat("more than ", kMaxFormulaNodes,
                                    " expressions in the formula"));
  }
  out->kind = e.kind;
  const std::string here =
      at.empty() ? KindName(e.kind) : absl::StrCat(at, ".", KindName(e.kind));
  const int arity = Arity(e.kind);
  const size_t n = e.args.size();
  if ((arity >= 0 && n != static_cast<size_t>(arity)) ||
      (arity == -1 && n == 0) || (arity == -2 && (n < 1 || n > 2))) {
    return Invalid(
        here, arity == -1
                  ? "needs at least one expression"
                  : absl::StrCat("takes ",
                                 arity == -2 ? "1 or 2" : absl::StrCat(arity),
                                 " expressions, not ", n));
  }
  switch (e.kind) {
    case Kind::kConstant:
      if (!std::isfinite(e.value)) {
        return Invalid(at,
                       absl::StrCat("constant ", e.value, " is not finite"));
      }
      out->value = e.value;
      break;
    case Kind::kVariable:
      if (e.key == kScoreVariable) {
        out->score = true;
        break;
      }
      out->key = e.key;
      TQ_RETURN_IF_ERROR(Key(e.key, Use::kNumber, at, &out->path));
      break;
    case Kind::kCondition: {
      if (e.condition == nullptr) return Invalid(at, "condition is empty");
      absl::Status s = dbimpl::CheckFilter(
          *e.condition, [](const std::string&, FieldType*) { return false; });
      if (!s.ok()) return Invalid(at, std::string(s.message()));
      absl::StatusOr<PayloadMatcher> m = PayloadMatcher::Compile(*e.condition);
      if (!m.ok()) return Invalid(at, std::string(m.status().message()));
      out->matcher = std::make_unique<PayloadMatcher>(*std::move(m));
      break;
    }
    case Kind::kGeoDistance: {
      absl::Status s = CheckGeoPoint(e.origin);
      if (!s.ok()) {
        return Invalid(absl::StrCat(here, ".origin"), std::string(s.message()));
      }
      out->origin = e.origin;
      out->key = e.key;
      TQ_RETURN_IF_ERROR(Key(e.key, Use::kGeo, here + ".to", &out->path));
      break;
    }
    case Kind::kDatetime: {
      const std::optional<int64_t> micros = ParseDatetime(e.text);
      if (!micros.has_value()) {
        return Invalid(
            here, absl::StrCat("'", e.text, "' is not an RFC 3339 datetime"));
      }
      out->value = static_cast<double>(*micros) / 1e6;
      break;
    }
    case Kind::kDatetimeKey:
      out->key = e.key;
      TQ_RETURN_IF_ERROR(Key(e.key, Use::kDatetime, here, &out->path));
      break;
    case Kind::kDiv:
      if (e.by_zero_default.has_value() && !std::isfinite(*e.by_zero_default)) {
        return Invalid(here + ".by_zero_default", "is not finite");
      }
      out->by_zero_default = e.by_zero_default;
      break;
    default:
      break;
  }
  if (IsDecay(e.kind)) {
    const double scale = e.scale.value_or(1.0);
    const double mid = e.midpoint.value_or(0.5);
    if (!(scale > 0) || !std::isfinite(scale)) {
      return Invalid(here + ".scale", absl::StrCat(scale, " is not above 0"));
    }
    const bool lin = e.kind == Kind::kLinDecay;
    if (!(mid > 0 || (lin && mid == 0)) || !(mid < 1)) {
      return Invalid(
          here + ".midpoint",
          absl::StrCat(mid, " is out of ", lin ? "[0, 1)" : "(0, 1)"));
    }
    out->value = lin                           ? (1 - mid) / scale
                 : e.kind == Kind::kGaussDecay ? std::log(mid) / (scale * scale)
                                               : std::log(mid) / scale;
  }
  out->args.resize(n);
  for (size_t i = 0; i < n; ++i) {
    std::string sub;
    if (e.kind == Kind::kMult || e.kind == Kind::kSum) {
      sub = absl::StrCat(here, "[", i, "]");
    } else if (e.kind == Kind::kDiv) {
      sub = absl::StrCat(here, i == 0 ? ".left" : ".right");
    } else if (e.kind == Kind::kPow) {
      sub = absl::StrCat(here, i == 0 ? ".base" : ".exponent");
    } else if (IsDecay(e.kind)) {
      sub = absl::StrCat(here, i == 0 ? ".x" : ".target");
    } else {
      sub = here;
    }
    TQ_RETURN_IF_ERROR(Build(e.args[i], sub, depth + 1, &out->args[i]));
  }
  return absl::OkStatus();
}

// Evaluation. Errors are rare: their text is built only when one occurs.
struct Evaluator {
  const std::map<std::string, nlohmann::json>& defaults;
  float score;
  uint64_t id;
  const nlohmann::json* payload;
  std::vector<const nlohmann::json*> found;

  absl::Status Error(const std::string& why) const {
    return absl::InvalidArgumentError(
        absl::StrCat("formula: point ", id, ": ", why));
  }

  // The value at the node's key: the payload's one value there (an array
  // of one element counts as it), else the default. nullptr and *status
  // set when there is none or several.
  const nlohmann::json* Value(const FormulaNode& n, absl::Status* status) {
    found.clear();
    if (payload != nullptr) n.path->Resolve(*payload, &found);
    const nlohmann::json* one = nullptr;
    size_t count = 0;
    ForEachScalar(found, [&](const nlohmann::json& v) {
      if (v.is_null()) return;
      one = &v;
      ++count;
    });
    // A geo point is an object: ForEachScalar yields it whole.
    if (count == 1) return one;
    if (count > 1) {
      *status = Error(absl::StrCat("'", n.key, "' holds ", count,
                                   " values in its payload, not one"));
      return nullptr;
    }
    const auto d = defaults.find(n.key);
    if (d != defaults.end()) return &d->second;
    *status = Error(absl::StrCat("'", n.key,
                                 "' has no value in its payload nor in the "
                                 "formula's defaults"));
    return nullptr;
  }

  absl::StatusOr<double> Finite(double v, const FormulaNode& n, double a,
                                double b = 0) const {
    if (std::isfinite(v)) return v;
    const char* name = KindName(n.kind);
    return Error(n.kind == Kind::kDiv ? absl::StrCat(a, " / ", b, " = ", v)
                 : n.kind == Kind::kPow
                     ? absl::StrCat(a, " ^ ", b, " = ", v)
                     : absl::StrCat(name, "(", a, ") = ", v));
  }

  absl::StatusOr<double> Eval(const FormulaNode& n) {
    switch (n.kind) {
      case Kind::kConstant:
      case Kind::kDatetime:
        return n.value;
      case Kind::kVariable: {
        if (n.score) return double{score};
        absl::Status s;
        const nlohmann::json* v = Value(n, &s);
        if (v == nullptr) return s;
        if (!v->is_number()) {
          return Error(
              absl::StrCat("'", n.key, "' is not a number: ", v->dump()));
        }
        return v->get<double>();
      }
      case Kind::kCondition:
        return n.matcher->Matches(payload, id) ? 1.0 : 0.0;
      case Kind::kGeoDistance: {
        absl::Status s;
        const nlohmann::json* v = Value(n, &s);
        if (v == nullptr) return s;
        GeoPoint p;
        if (!ParseGeoPoint(*v, &p)) {
          return Error(
              absl::StrCat("'", n.key, "' is not a geo point: ", v->dump()));
        }
        return HaversineMeters(n.origin, p);
      }
      case Kind::kDatetimeKey: {
        absl::Status s;
        const nlohmann::json* v = Value(n, &s);
        if (v == nullptr) return s;
        std::optional<int64_t> micros;
        if (v->is_string()) micros = ParseDatetime(v->get<std::string>());
        if (!micros.has_value()) {
          return Error(absl::StrCat(
              "'", n.key, "' is not an RFC 3339 datetime: ", v->dump()));
        }
        return static_cast<double>(*micros) / 1e6;
      }
      case Kind::kMult: {
        double product = 1;
        for (const auto& a : n.args) {
          absl::StatusOr<double> v = Eval(a);
          if (!v.ok()) return v;
          if (*v == 0) return 0.0;  // (the rest need not be read)
          product *= *v;
        }
        return product;
      }
      case Kind::kSum: {
        double sum = 0;
        for (const auto& a : n.args) {
          absl::StatusOr<double> v = Eval(a);
          if (!v.ok()) return v;
          sum += *v;
        }
        return sum;
      }
      case Kind::kDiv: {
        absl::StatusOr<double> l = Eval(n.args[0]);
        if (!l.ok() || *l == 0) return l;
        absl::StatusOr<double> r = Eval(n.args[1]);
        if (!r.ok()) return r;
        if (*r == 0 && n.by_zero_default.has_value()) return *n.by_zero_default;
        return Finite(*l / *r, n, *l, *r);
      }
      case Kind::kPow: {
        absl::StatusOr<double> b = Eval(n.args[0]);
        if (!b.ok()) return b;
        absl::StatusOr<double> e = Eval(n.args[1]);
        if (!e.ok()) return e;
        return Finite(std::pow(*b, *e), n, *b, *e);
      }
      default:
        break;
    }
    absl::StatusOr<double> x = Eval(n.args[0]);
    if (!x.ok()) return x;
    if (IsDecay(n.kind)) {
      double target = 0;
      if (n.args.size() > 1) {
        absl::StatusOr<double> t = Eval(n.args[1]);
        if (!t.ok()) return t;
        target = *t;
      }
      const double diff = *x - target;
      if (n.kind == Kind::kLinDecay) {
        return std::max(0.0, 1 - n.value * std::fabs(diff));
      }
      return std::exp(n.value * (n.kind == Kind::kGaussDecay
                                     ? diff * diff
                                     : std::fabs(diff)));
    }
    switch (n.kind) {
      case Kind::kNeg:
        return -*x;
      case Kind::kAbs:
        return std::fabs(*x);
      case Kind::kSqrt:
        return Finite(std::sqrt(*x), n, *x);
      case Kind::kExp:
        return Finite(std::exp(*x), n, *x);
      case Kind::kLog10:
        return Finite(std::log10(*x), n, *x);
      case Kind::kLn:
        return Finite(std::log(*x), n, *x);
      default:
        return absl::InternalError(
            absl::StrCat("formula node ", KindName(n.kind), " not evaluated"));
    }
  }
};

}  // namespace

absl::StatusOr<ScoreFormula> ScoreFormula::Compile(const Formula& formula) {
  ScoreFormula f;
  f.root_ = std::make_unique<FormulaNode>();
  Compiler c;
  TQ_RETURN_IF_ERROR(c.Build(formula.expression, "", 0, f.root_.get()));
  for (const auto& [key, value] : formula.defaults) {
    const std::string at = absl::StrCat("defaults['", key, "']");
    const auto use = c.uses.find(key);
    if (key == kScoreVariable || use == c.uses.end()) continue;
    GeoPoint p;
    if (use->second == Use::kNumber && !value.is_number()) {
      return Invalid(at, absl::StrCat("expected a number, not ", value.dump()));
    }
    if (use->second == Use::kGeo && !ParseGeoPoint(value, &p)) {
      return Invalid(at, absl::StrCat("expected a geo point {\"lon\": x, "
                                      "\"lat\": y} in range, not ",
                                      value.dump()));
    }
    if (use->second == Use::kDatetime &&
        !(value.is_string() &&
          ParseDatetime(value.get<std::string>()).has_value())) {
      return Invalid(at, absl::StrCat("expected an RFC 3339 datetime, not ",
                                      value.dump()));
    }
  }
  f.defaults_ = formula.defaults;
  return f;
}

absl::StatusOr<float> ScoreFormula::Evaluate(
    float score, uint64_t id, const nlohmann::json* payload) const {
  Evaluator e{defaults_, score, id, payload, {}};
  absl::StatusOr<double> v = e.Eval(*root_);
  if (!v.ok()) return v.status();
  const float out = static_cast<float>(*v);
  if (!std::isfinite(out)) {
    return e.Error(
        absl::StrCat("the formula's value ", *v, " is out of a float's range"));
  }
  return out;
}

}  // namespace tqdb
