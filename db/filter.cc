#include "db/filter.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "db/datetime.h"
#include "db/text_words.h"
#include "quant/status_macros.h"

namespace tqdb {

const char* FieldTypeName(FieldType t) {
  switch (t) {
    case FieldType::kKeyword:
      return "keyword";
    case FieldType::kInteger:
      return "integer";
    case FieldType::kFloat:
      return "float";
    case FieldType::kBool:
      return "bool";
    case FieldType::kText:
      return "text";
    case FieldType::kDatetime:
      return "datetime";
    case FieldType::kGeo:
      return "geo";
  }
  return "unknown";
}

bool IsFieldType(FieldType t) {
  return static_cast<uint32_t>(t) <= static_cast<uint32_t>(FieldType::kGeo);
}

absl::StatusOr<FieldType> ParseFieldType(absl::string_view name) {
  for (FieldType t : {FieldType::kKeyword, FieldType::kInteger,
                      FieldType::kFloat, FieldType::kBool, FieldType::kText,
                      FieldType::kDatetime, FieldType::kGeo}) {
    if (name == FieldTypeName(t)) return t;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown field index type '", name,
                   "' (keyword, integer, float, bool, text, datetime or geo)"));
}

namespace {

Condition Field(Condition::Kind kind, std::string key) {
  Condition c;
  c.kind = kind;
  c.key = std::move(key);
  return c;
}

}  // namespace

Condition Condition::Keyword(std::string key, std::string value) {
  Condition c = Field(Kind::kMatch, std::move(key));
  c.value_type = ValueType::kKeyword;
  c.keyword = std::move(value);
  return c;
}

Condition Condition::Integer(std::string key, int64_t value) {
  Condition c = Field(Kind::kMatch, std::move(key));
  c.value_type = ValueType::kInteger;
  c.integer = value;
  return c;
}

Condition Condition::Bool(std::string key, bool value) {
  Condition c = Field(Kind::kMatch, std::move(key));
  c.value_type = ValueType::kBool;
  c.boolean = value;
  return c;
}

Condition Condition::AnyKeyword(std::string key, std::vector<std::string> v) {
  Condition c = Field(Kind::kMatchAny, std::move(key));
  c.keywords = std::move(v);
  return c;
}

Condition Condition::AnyInteger(std::string key, std::vector<int64_t> v) {
  Condition c = Field(Kind::kMatchAny, std::move(key));
  c.value_type = ValueType::kInteger;
  c.integers = std::move(v);
  return c;
}

Condition Condition::ExceptKeyword(std::string key,
                                   std::vector<std::string> v) {
  Condition c = Field(Kind::kMatchExcept, std::move(key));
  c.keywords = std::move(v);
  return c;
}

Condition Condition::ExceptInteger(std::string key, std::vector<int64_t> v) {
  Condition c = Field(Kind::kMatchExcept, std::move(key));
  c.value_type = ValueType::kInteger;
  c.integers = std::move(v);
  return c;
}

Condition Condition::InRange(std::string key, Range r) {
  Condition c = Field(Kind::kRange, std::move(key));
  c.range = r;
  return c;
}

absl::StatusOr<Condition> Condition::InDatetimeRange(std::string key,
                                                     DatetimeRange r) {
  r.lo = std::numeric_limits<int64_t>::min();
  r.hi = std::numeric_limits<int64_t>::max();
  for (const auto& [name, bound] :
       {std::make_pair("gt", &r.gt), std::make_pair("gte", &r.gte),
        std::make_pair("lt", &r.lt), std::make_pair("lte", &r.lte)}) {
    if (!bound->has_value()) continue;
    const std::optional<int64_t> t = ParseDatetime(**bound);
    if (!t) {
      return absl::InvalidArgumentError(absl::StrCat(
          name, ": expected an RFC 3339 datetime (2024-03-01T12:00:00Z), got '",
          **bound, "'"));
    }
    // (Parsed datetimes lie within years 0-9999: +-1 cannot overflow.)
    const bool lower = name[0] == 'g';  // gt, gte
    const bool inclusive = name[2] == 'e';
    if (lower) {
      r.lo = std::max(r.lo, inclusive ? *t : *t + 1);
    } else {
      r.hi = std::min(r.hi, inclusive ? *t : *t - 1);
    }
  }
  Condition c = Field(Kind::kDatetimeRange, std::move(key));
  c.datetimes = std::move(r);
  return c;
}

Condition Condition::Text(std::string key, std::string text) {
  Condition c = Field(Kind::kMatchText, std::move(key));
  c.keywords = TextWords(text);
  c.text = std::move(text);
  return c;
}

Condition Condition::TextAny(std::string key, std::string text) {
  Condition c = Text(std::move(key), std::move(text));
  c.kind = Kind::kMatchTextAny;
  return c;
}

absl::Status CheckGeoShape(const Condition& c) {
  auto placed = [](absl::string_view at, const absl::Status& s) {
    return s.ok()
               ? s
               : absl::InvalidArgumentError(absl::StrCat(at, ".", s.message()));
  };
  switch (c.kind) {
    case Condition::Kind::kGeoRadius: {
      const GeoRadius& r = c.geo_radius;
      TQ_RETURN_IF_ERROR(placed("center", CheckGeoPoint(r.center)));
      if (!(r.meters >= 0) || !std::isfinite(r.meters)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "radius: expected a finite number of meters >= 0, got ", r.meters));
      }
      return absl::OkStatus();
    }
    case Condition::Kind::kGeoBox:
      TQ_RETURN_IF_ERROR(placed("top_left", CheckGeoPoint(c.geo_box.top_left)));
      return placed("bottom_right", CheckGeoPoint(c.geo_box.bottom_right));
    case Condition::Kind::kGeoPolygon:
      if (c.geo_polygon == nullptr) {
        return absl::InvalidArgumentError("exterior: missing");
      }
      return CheckGeoPolygon(*c.geo_polygon);
    default:
      return absl::OkStatus();
  }
}

absl::StatusOr<Condition> Condition::InGeoRadius(std::string key, GeoRadius r) {
  Condition c = Field(Kind::kGeoRadius, std::move(key));
  c.geo_radius = r;
  TQ_RETURN_IF_ERROR(CheckGeoShape(c));
  return c;
}

absl::StatusOr<Condition> Condition::InGeoBox(std::string key, GeoBox b) {
  Condition c = Field(Kind::kGeoBox, std::move(key));
  c.geo_box = b;
  TQ_RETURN_IF_ERROR(CheckGeoShape(c));
  return c;
}

absl::StatusOr<Condition> Condition::InGeoPolygon(std::string key,
                                                  GeoPolygon p) {
  Condition c = Field(Kind::kGeoPolygon, std::move(key));
  c.geo_polygon = std::make_shared<const GeoPolygon>(std::move(p));
  TQ_RETURN_IF_ERROR(CheckGeoShape(c));
  return c;
}

Condition Condition::ValuesCount(std::string key, CountRange r) {
  Condition c = Field(Kind::kValuesCount, std::move(key));
  c.values_count = r;
  return c;
}

bool IsGeoCondition(Condition::Kind kind) {
  return kind == Condition::Kind::kGeoRadius ||
         kind == Condition::Kind::kGeoBox ||
         kind == Condition::Kind::kGeoPolygon;
}

bool InGeoShape(const Condition& c, const GeoPoint& p) {
  switch (c.kind) {
    case Condition::Kind::kGeoRadius:
      return InGeoRadius(c.geo_radius, p);
    case Condition::Kind::kGeoBox:
      return InGeoBox(c.geo_box, p);
    case Condition::Kind::kGeoPolygon:
      return c.geo_polygon != nullptr && InGeoPolygon(*c.geo_polygon, p);
    default:
      return false;
  }
}

Condition Condition::IsEmpty(std::string key) {
  return Field(Kind::kIsEmpty, std::move(key));
}

Condition Condition::IsNull(std::string key) {
  return Field(Kind::kIsNull, std::move(key));
}

Condition Condition::HasId(std::vector<uint64_t> ids) {
  Condition c;
  c.kind = Kind::kHasId;
  c.ids = std::move(ids);
  return c;
}

Condition Condition::AnyElement(std::string key, Filter f) {
  Condition c = Field(Kind::kAnyElement, std::move(key));
  c.filter = std::make_shared<const Filter>(std::move(f));
  return c;
}

Condition Condition::Nested(Filter f) {
  Condition c;
  c.kind = Kind::kFilter;
  c.filter = std::make_shared<const Filter>(std::move(f));
  return c;
}

}  // namespace tqdb
