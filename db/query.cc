#include "db/query.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "db/json_path.h"
#include "quant/finite.h"
#include "quant/status_macros.h"

namespace tqdb {
namespace dbimpl {

absl::Status CheckQueryDim(size_t coordinates, const CollectionConfig& c) {
  if (coordinates == 0) return absl::InvalidArgumentError("vector is empty");
  if (coordinates != c.dim) {
    return absl::InvalidArgumentError(absl::StrCat("vector has ", coordinates,
                                                   " dimensions, collection '",
                                                   c.name, "' has ", c.dim));
  }
  return absl::OkStatus();
}

absl::Status CheckBatchDim(size_t floats, uint32_t dim) {
  if (floats % dim != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "queries hold ", floats, " floats, not a multiple of dim ", dim));
  }
  return absl::OkStatus();
}

absl::Status CheckQuery(const float* q, uint32_t dim, const QueryOptions& o) {
  if (o.k == 0) return absl::InvalidArgumentError("k must be >= 1");
  if (o.rescore && !(o.oversampling >= 1.0f)) {
    return absl::InvalidArgumentError(
        absl::StrCat("oversampling must be >= 1, got ", o.oversampling));
  }
  if (!(o.probe_sigmas >= 0.0f && o.probe_sigmas <= 1000.0f)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "probe_sigmas must be in [0, 1000], got ", o.probe_sigmas));
  }
  if (const std::ptrdiff_t j = FirstNonFinite(q, dim); j >= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("vector coordinate ", j, " is ",
                     std::isnan(q[j]) ? "NaN" : "infinite"));
  }
  return absl::OkStatus();
}

absl::Status CheckQueryDirection(const float* q, const CollectionConfig& c) {
  if (c.metric != Metric::kCosine) return absl::OkStatus();
  for (uint32_t j = 0; j < c.dim; ++j) {
    if (q[j] != 0.0f) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      "vector is zero: a zero vector has no direction (metric cosine)");
}

absl::Status CheckTrainedQuery(const QueryOptions& o,
                               const CollectionConfig& c) {
  if ((o.exact || o.rescore) && !c.store_vectors) {
    return absl::FailedPreconditionError(
        absl::StrCat("collection '", c.name,
                     "' does not store vectors "
                     "(store_vectors = false): no exact search or rescoring"));
  }
  return absl::OkStatus();
}

namespace {

class FilterChecker {
 public:
  explicit FilterChecker(
      const std::function<bool(const std::string&, FieldType*)>& index_type)
      : index_type_(index_type) {}

  absl::Status Filter(const tqdb::Filter& f, const std::string& at, int depth) {
    if (depth > kMaxFilterDepth) {
      return Bad(at.empty() ? std::string("filter") : at,
                 absl::StrCat("filter nested deeper than ", kMaxFilterDepth));
    }
    const std::string dot = at.empty() ? "" : at + ".";
    for (const auto& [name, group] :
         {std::make_pair("must", &f.must), std::make_pair("should", &f.should),
          std::make_pair("must_not", &f.must_not)}) {
      for (size_t i = 0; i < group->size(); ++i) {
        TQ_RETURN_IF_ERROR(Condition(
            (*group)[i], absl::StrCat(dot, name, "[", i, "]"), depth));
      }
    }
    if (f.min_should > f.should.size() && !f.should.empty()) {
      return Bad(dot + "min_should",
                 absl::StrCat(f.min_should, " exceeds the ", f.should.size(),
                              " should conditions"));
    }
    return absl::OkStatus();
  }

 private:
  static absl::Status Bad(const std::string& at, absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(at, ": ", why));
  }

  absl::Status Count(size_t n, const std::string& at) {
    values_ += n;
    if (values_ > kMaxFilterValues) {
      return Bad(at, absl::StrCat("the filter has more than ", kMaxFilterValues,
                                  " values"));
    }
    return absl::OkStatus();
  }

  absl::Status Condition(const tqdb::Condition& c, const std::string& at,
                         int depth) {
    using Kind = tqdb::Condition::Kind;
    using VT = tqdb::Condition::ValueType;
    if (c.kind == Kind::kHasId) {
      if (in_elements_ > 0) {
        return Bad(at + ".has_id",
                   "has_id names points, not elements: put it beside the "
                   "nested condition");
      }
      return Count(c.ids.size(), at + ".has_id");
    }
    if (c.kind == Kind::kAnyElement) {
      const std::string where = at + ".nested";
      auto path = JsonPath::Parse(c.key);
      if (!path.ok()) return Bad(where + ".key", path.status().message());
      if (c.filter == nullptr) return Bad(where + ".filter", "missing");
      // The element's keys are its own: no payload index answers them.
      ++in_elements_;
      const absl::Status s = Filter(*c.filter, where + ".filter", depth + 1);
      --in_elements_;
      return s;
    }
    if (c.kind == Kind::kFilter) {
      if (c.filter == nullptr) return Bad(at, "empty nested filter");
      return Filter(*c.filter, at, depth + 1);
    }
    const char* op = c.kind == Kind::kIsEmpty  ? "is_empty"
                     : c.kind == Kind::kIsNull ? "is_null"
                     : c.kind == Kind::kRange || c.kind == Kind::kDatetimeRange
                         ? "range"
                     : c.kind == Kind::kGeoRadius   ? "geo_radius"
                     : c.kind == Kind::kGeoBox      ? "geo_bounding_box"
                     : c.kind == Kind::kGeoPolygon  ? "geo_polygon"
                     : c.kind == Kind::kValuesCount ? "values_count"
                                                    : "match";
    const bool flag = c.kind == Kind::kIsEmpty || c.kind == Kind::kIsNull;
    auto path = JsonPath::Parse(c.key);
    if (!path.ok()) {
      return Bad(flag ? absl::StrCat(at, ".", op, ".key") : at + ".key",
                 path.status().message());
    }
    if (flag) return absl::OkStatus();
    FieldType type;
    const bool indexed = in_elements_ == 0 && index_type_(c.key, &type);
    auto wrong = [&](const std::string& where, absl::string_view expected) {
      return Bad(
          where,
          absl::StrCat(
              "field '", c.key, "' has ",
              FieldTypeName(type) == std::string("integer") ? "an " : "a ",
              FieldTypeName(type), " index: ", expected));
    };
    if (c.kind == Kind::kRange) {
      const Range& r = c.range;
      if (!r.gt && !r.gte && !r.lt && !r.lte) {
        return Bad(at + ".range", "needs at least one of gt, gte, lt, lte");
      }
      for (const auto& [name, v] :
           {std::make_pair("gt", r.gt), std::make_pair("gte", r.gte),
            std::make_pair("lt", r.lt), std::make_pair("lte", r.lte)}) {
        if (v && !std::isfinite(*v)) {
          return Bad(absl::StrCat(at, ".range.", name),
                     "expected a finite number");
        }
      }
      if (indexed && type != FieldType::kInteger && type != FieldType::kFloat) {
        return wrong(at + ".range",
                     type == FieldType::kDatetime
                         ? "its ranges are of datetimes (RFC 3339 strings)"
                         : "range needs an integer or float index");
      }
      return Count(0, at);
    }
    if (c.kind == Kind::kValuesCount) {
      const CountRange& r = c.values_count;
      if (!r.gt && !r.gte && !r.lt && !r.lte) {
        return Bad(at + ".values_count",
                   "needs at least one of gt, gte, lt, lte");
      }
      return Count(0, at);  // (read from the payloads, whatever the index)
    }
    if (IsGeoCondition(c.kind)) {
      const std::string where = absl::StrCat(at, ".", op);
      if (absl::Status s = CheckGeoShape(c); !s.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ".", s.message()));
      }
      if (c.kind == Kind::kGeoPolygon) {
        size_t points = c.geo_polygon->exterior.size();
        for (const auto& ring : c.geo_polygon->interiors) points += ring.size();
        TQ_RETURN_IF_ERROR(Count(points, where));
      }
      if (indexed && type != FieldType::kGeo) {
        return wrong(where, "a geo condition needs a geo index (or none)");
      }
      return Count(0, at);
    }
    if (c.kind == Kind::kDatetimeRange) {
      const DatetimeRange& r = c.datetimes;
      if (!r.gt && !r.gte && !r.lt && !r.lte) {
        return Bad(at + ".range", "needs at least one of gt, gte, lt, lte");
      }
      if (indexed && type != FieldType::kDatetime) {
        return wrong(at + ".range",
                     "a range of datetimes needs a datetime index (or none)");
      }
      return Count(0, at);
    }
    if (c.kind == Kind::kMatchText || c.kind == Kind::kMatchTextAny) {
      const std::string where =
          at + (c.kind == Kind::kMatchText ? ".match.text" : ".match.text_any");
      if (c.keywords.empty()) {
        return Bad(where, "the text has no words (runs of letters or digits)");
      }
      TQ_RETURN_IF_ERROR(Count(c.keywords.size(), where));
      if (indexed && type != FieldType::kText) {
        return wrong(where, "match text needs a text index (or none)");
      }
      return absl::OkStatus();
    }
    if (c.kind == Kind::kMatch) {
      const std::string where = at + ".match.value";
      TQ_RETURN_IF_ERROR(Count(1, where));
      if (!indexed) return absl::OkStatus();
      if (c.value_type == VT::kKeyword && type != FieldType::kKeyword) {
        return wrong(where, MatchHint(type));
      }
      if (c.value_type == VT::kInteger && type != FieldType::kInteger) {
        return wrong(where, MatchHint(type));
      }
      if (c.value_type == VT::kBool && type != FieldType::kBool) {
        return wrong(where, MatchHint(type));
      }
      return absl::OkStatus();
    }
    // any / except
    const std::string where =
        at + (c.kind == Kind::kMatchAny ? ".match.any" : ".match.except");
    if (c.value_type == VT::kBool) {
      return Bad(where, "expected a list of strings or of integers");
    }
    TQ_RETURN_IF_ERROR(Count(
        c.value_type == VT::kInteger ? c.integers.size() : c.keywords.size(),
        where));
    if (!indexed) return absl::OkStatus();
    if ((c.value_type == VT::kKeyword && type != FieldType::kKeyword) ||
        (c.value_type == VT::kInteger && type != FieldType::kInteger)) {
      return wrong(where, type == FieldType::kKeyword   ? "expected strings"
                          : type == FieldType::kInteger ? "expected integers"
                          : type == FieldType::kText
                              ? "a text index answers match text and text_any"
                          : type == FieldType::kGeo
                              ? "a geo index answers geo shapes"
                              : "match any / except needs a keyword or "
                                "integer index");
    }
    return absl::OkStatus();
  }

  static const char* MatchHint(FieldType t) {
    switch (t) {
      case FieldType::kKeyword:
        return "expected a string";
      case FieldType::kInteger:
        return "expected an integer";
      case FieldType::kBool:
        return "expected a bool";
      case FieldType::kText:
        return "a text index answers match text and text_any";
      case FieldType::kDatetime:
        return "a datetime index answers ranges of datetimes";
      case FieldType::kGeo:
        return "a geo index answers geo_radius, geo_bounding_box and "
               "geo_polygon";
      case FieldType::kFloat:
        break;
    }
    return "match needs a keyword, integer or bool index (a float index "
           "answers ranges)";
  }

  const std::function<bool(const std::string&, FieldType*)>& index_type_;
  size_t values_ = 0;
  int in_elements_ = 0;  // nested conditions around the one checked
};

}  // namespace

absl::Status CheckFilter(
    const Filter& filter,
    const std::function<bool(const std::string&, FieldType*)>& index_type) {
  return FilterChecker(index_type).Filter(filter, "", 1);
}

}  // namespace dbimpl
}  // namespace tqdb
