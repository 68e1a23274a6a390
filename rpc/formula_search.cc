#include "rpc/formula_search.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "quant/status_macros.h"
#include "rpc/convert.h"
#include "rpc/filter_convert.h"
#include "rpc/hybrid_search.h"
#include "rpc/payload_selection.h"

namespace tqdb {
namespace {

namespace pb = ::tqdb::v1;
using Kind = FormulaExpr::Kind;

absl::Status Empty(const std::string& at) {
  return absl::InvalidArgumentError(absl::StrCat(at, ": expression is empty"));
}

absl::StatusOr<FormulaExpr> FromExpr(const pb::Expression& in,
                                     const std::string& at, int depth);

absl::Status Arg(const pb::Expression& in, const std::string& at, int depth,
                 FormulaExpr* parent) {
  TQ_ASSIGN_OR_RETURN(FormulaExpr e, FromExpr(in, at, depth + 1));
  parent->args.push_back(std::move(e));
  return absl::OkStatus();
}

absl::Status Decay(const pb::DecayExpression& in, const std::string& at,
                   int depth, FormulaExpr* e) {
  if (!in.has_x()) return Empty(at + ".x");
  TQ_RETURN_IF_ERROR(Arg(in.x(), at + ".x", depth, e));
  if (in.has_target()) {
    TQ_RETURN_IF_ERROR(Arg(in.target(), at + ".target", depth, e));
  }
  if (in.has_scale()) e->scale = in.scale();
  if (in.has_midpoint()) e->midpoint = in.midpoint();
  return absl::OkStatus();
}

absl::StatusOr<FormulaExpr> FromExpr(const pb::Expression& in,
                                     const std::string& at, int depth) {
  // (Protobuf's parser stops at 100 levels; Compile at kMaxFormulaDepth.)
  if (depth > kMaxFormulaDepth) {
    return absl::InvalidArgumentError(
        absl::StrCat(at, ": nested deeper than ", kMaxFormulaDepth));
  }
  FormulaExpr e;
  auto unary = [&](Kind k, const pb::Expression& x,
                   const char* name) -> absl::StatusOr<FormulaExpr> {
    e.kind = k;
    TQ_RETURN_IF_ERROR(Arg(x, absl::StrCat(at, ".", name), depth, &e));
    return e;
  };
  auto list = [&](Kind k, const pb::Expressions& xs,
                  const char* name) -> absl::StatusOr<FormulaExpr> {
    e.kind = k;
    for (int i = 0; i < xs.expressions_size(); ++i) {
      TQ_RETURN_IF_ERROR(Arg(xs.expressions(i),
                             absl::StrCat(at, ".", name, "[", i, "]"), depth,
                             &e));
    }
    return e;
  };
  switch (in.expression_one_of_case()) {
    case pb::Expression::kConstant:
      e.kind = Kind::kConstant;
      e.value = in.constant();
      return e;
    case pb::Expression::kVariable:
      e.kind = Kind::kVariable;
      e.key = in.variable();
      return e;
    case pb::Expression::kCondition: {
      pb::Filter f;
      *f.add_must() = in.condition();
      absl::StatusOr<Filter> filter = FromProto(f);
      if (!filter.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(at, ".condition: ", filter.status().message()));
      }
      e.kind = Kind::kCondition;
      e.condition = std::make_shared<const Filter>(*std::move(filter));
      return e;
    }
    case pb::Expression::kGeoDistance:
      e.kind = Kind::kGeoDistance;
      e.origin = {in.geo_distance().origin().lon(),
                  in.geo_distance().origin().lat()};
      e.key = in.geo_distance().to();
      return e;
    case pb::Expression::kDatetime:
      e.kind = Kind::kDatetime;
      e.text = in.datetime();
      return e;
    case pb::Expression::kDatetimeKey:
      e.kind = Kind::kDatetimeKey;
      e.key = in.datetime_key();
      return e;
    case pb::Expression::kMult:
      return list(Kind::kMult, in.mult(), "mult");
    case pb::Expression::kSum:
      return list(Kind::kSum, in.sum(), "sum");
    case pb::Expression::kNeg:
      return unary(Kind::kNeg, in.neg(), "neg");
    case pb::Expression::kAbs:
      return unary(Kind::kAbs, in.abs(), "abs");
    case pb::Expression::kSqrt:
      return unary(Kind::kSqrt, in.sqrt(), "sqrt");
    case pb::Expression::kExp:
      return unary(Kind::kExp, in.exp(), "exp");
    case pb::Expression::kLog10:
      return unary(Kind::kLog10, in.log10(), "log10");
    case pb::Expression::kLn:
      return unary(Kind::kLn, in.ln(), "ln");
    case pb::Expression::kDiv: {
      const std::string here = at + ".div";
      e.kind = Kind::kDiv;
      if (!in.div().has_left()) return Empty(here + ".left");
      if (!in.div().has_right()) return Empty(here + ".right");
      TQ_RETURN_IF_ERROR(Arg(in.div().left(), here + ".left", depth, &e));
      TQ_RETURN_IF_ERROR(Arg(in.div().right(), here + ".right", depth, &e));
      if (in.div().has_by_zero_default()) {
        e.by_zero_default = in.div().by_zero_default();
      }
      return e;
    }
    case pb::Expression::kPow: {
      const std::string here = at + ".pow";
      e.kind = Kind::kPow;
      if (!in.pow().has_base()) return Empty(here + ".base");
      if (!in.pow().has_exponent()) return Empty(here + ".exponent");
      TQ_RETURN_IF_ERROR(Arg(in.pow().base(), here + ".base", depth, &e));
      TQ_RETURN_IF_ERROR(
          Arg(in.pow().exponent(), here + ".exponent", depth, &e));
      return e;
    }
    case pb::Expression::kExpDecay:
      e.kind = Kind::kExpDecay;
      TQ_RETURN_IF_ERROR(Decay(in.exp_decay(), at + ".exp_decay", depth, &e));
      return e;
    case pb::Expression::kGaussDecay:
      e.kind = Kind::kGaussDecay;
      TQ_RETURN_IF_ERROR(
          Decay(in.gauss_decay(), at + ".gauss_decay", depth, &e));
      return e;
    case pb::Expression::kLinDecay:
      e.kind = Kind::kLinDecay;
      TQ_RETURN_IF_ERROR(Decay(in.lin_decay(), at + ".lin_decay", depth, &e));
      return e;
    case pb::Expression::EXPRESSION_ONE_OF_NOT_SET:
      break;
  }
  return Empty(at);
}

void ToDecay(const FormulaExpr& in, pb::DecayExpression* out);

void ToExpr(const FormulaExpr& in, pb::Expression* out) {
  auto args = [&](pb::Expressions* xs) {
    for (const FormulaExpr& a : in.args) ToExpr(a, xs->add_expressions());
  };
  switch (in.kind) {
    case Kind::kConstant:
      out->set_constant(in.value);
      return;
    case Kind::kVariable:
      out->set_variable(in.key);
      return;
    case Kind::kCondition: {
      pb::Filter f;
      if (in.condition != nullptr) ToProto(*in.condition, &f);
      if (f.must_size() == 1 && f.should_size() == 0 &&
          f.must_not_size() == 0 && f.min_should() == 0) {
        *out->mutable_condition() = f.must(0);
      } else {
        *out->mutable_condition()->mutable_filter() = f;
      }
      return;
    }
    case Kind::kGeoDistance:
      out->mutable_geo_distance()->mutable_origin()->set_lon(in.origin.lon);
      out->mutable_geo_distance()->mutable_origin()->set_lat(in.origin.lat);
      out->mutable_geo_distance()->set_to(in.key);
      return;
    case Kind::kDatetime:
      out->set_datetime(in.text);
      return;
    case Kind::kDatetimeKey:
      out->set_datetime_key(in.key);
      return;
    case Kind::kMult:
      return args(out->mutable_mult());
    case Kind::kSum:
      return args(out->mutable_sum());
    case Kind::kDiv:
      if (in.args.size() > 0)
        ToExpr(in.args[0], out->mutable_div()->mutable_left());
      if (in.args.size() > 1) {
        ToExpr(in.args[1], out->mutable_div()->mutable_right());
      }
      if (in.by_zero_default.has_value()) {
        out->mutable_div()->set_by_zero_default(*in.by_zero_default);
      }
      return;
    case Kind::kPow:
      if (in.args.size() > 0)
        ToExpr(in.args[0], out->mutable_pow()->mutable_base());
      if (in.args.size() > 1) {
        ToExpr(in.args[1], out->mutable_pow()->mutable_exponent());
      }
      return;
    case Kind::kExpDecay:
      return ToDecay(in, out->mutable_exp_decay());
    case Kind::kGaussDecay:
      return ToDecay(in, out->mutable_gauss_decay());
    case Kind::kLinDecay:
      return ToDecay(in, out->mutable_lin_decay());
    default:
      break;
  }
  // The unary operators.
  pb::Expression* x = in.kind == Kind::kNeg     ? out->mutable_neg()
                      : in.kind == Kind::kAbs   ? out->mutable_abs()
                      : in.kind == Kind::kSqrt  ? out->mutable_sqrt()
                      : in.kind == Kind::kExp   ? out->mutable_exp()
                      : in.kind == Kind::kLog10 ? out->mutable_log10()
                                                : out->mutable_ln();
  if (!in.args.empty()) ToExpr(in.args[0], x);
}

void ToDecay(const FormulaExpr& in, pb::DecayExpression* out) {
  if (in.args.size() > 0) ToExpr(in.args[0], out->mutable_x());
  if (in.args.size() > 1) ToExpr(in.args[1], out->mutable_target());
  if (in.scale.has_value()) out->set_scale(*in.scale);
  if (in.midpoint.has_value()) out->set_midpoint(*in.midpoint);
}

}  // namespace

absl::StatusOr<Formula> FromProto(const pb::Formula& in) {
  Formula f;
  if (!in.has_expression()) return Empty("formula.expression");
  TQ_ASSIGN_OR_RETURN(f.expression, FromExpr(in.expression(), "formula", 0));
  for (const auto& [key, value] : in.defaults()) {
    std::string text;
    if (!google::protobuf::util::MessageToJsonString(value, &text).ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("formula.defaults['", key, "'] is not a JSON value"));
    }
    f.defaults[key] = nlohmann::json::parse(text, nullptr, false);
  }
  return f;
}

void ToProto(const Formula& in, pb::Formula* out) {
  ToExpr(in.expression, out->mutable_expression());
  for (const auto& [key, value] : in.defaults) {
    google::protobuf::Value v;
    if (google::protobuf::util::JsonStringToMessage(value.dump(), &v).ok()) {
      (*out->mutable_defaults())[key] = std::move(v);
    }
  }
}

absl::StatusOr<pb::SearchResponse> SearchByFormula(
    const pb::SearchRequest& q,
    const std::function<
        absl::StatusOr<pb::SearchResponse>(const pb::SearchRequest&)>& search) {
  TQ_ASSIGN_OR_RETURN(const Formula formula, FromProto(q.formula()));
  TQ_ASSIGN_OR_RETURN(const ScoreFormula scorer,
                      ScoreFormula::Compile(formula));
  pb::SearchRequest plain = q;
  plain.clear_formula();
  plain.clear_score_threshold();
  plain.clear_payload_selector();
  plain.set_with_payload(true);
  plain.set_offset(0);
  plain.set_limit(static_cast<uint32_t>(PrefetchOf(q)));
  if (!IsHybrid(q)) plain.clear_prefetch_limit();
  TQ_ASSIGN_OR_RETURN(pb::SearchResponse r, search(plain));
  // Each point's formula value, then the page of the best.
  google::protobuf::RepeatedPtrField<pb::ScoredPoint> points;
  points.Swap(r.mutable_points());
  std::vector<std::pair<float, int>> order;
  order.reserve(points.size());
  for (int i = 0; i < points.size(); ++i) {
    const pb::ScoredPoint& p = points[i];
    const nlohmann::json payload =
        p.payload().empty()
            ? nlohmann::json(nlohmann::json::value_t::discarded)
            : nlohmann::json::parse(p.payload(), nullptr, false);
    TQ_ASSIGN_OR_RETURN(
        const float score,
        scorer.Evaluate(p.score(), p.id(),
                        payload.is_discarded() ? nullptr : &payload));
    order.emplace_back(score, i);
  }
  std::sort(order.begin(), order.end(), [&](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first > b.first;
    return points[a.second].id() < points[b.second].id();
  });
  pb::SearchResponse out = std::move(r);
  const size_t end = std::min(order.size(), size_t{q.offset()} + q.limit());
  for (size_t i = q.offset(); i < end; ++i) {
    if (q.has_score_threshold() && order[i].first < q.score_threshold()) break;
    pb::ScoredPoint* p = out.add_points();
    *p = std::move(points[order[i].second]);
    p->set_score(order[i].first);
    if (!q.with_payload()) p->clear_payload();
  }
  if (q.with_payload() && q.has_payload_selector()) {
    TQ_RETURN_IF_ERROR(
        SelectPayloads(q.payload_selector(), out.mutable_points()));
  }
  return out;
}

}  // namespace tqdb
