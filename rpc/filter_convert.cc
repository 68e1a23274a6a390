#include "rpc/filter_convert.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "quant/status_macros.h"

namespace tqdb {
namespace {

namespace pb = ::tqdb::v1;

absl::Status Bad(const std::string& at, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(at, ": ", why));
}

absl::StatusOr<Filter> FilterFrom(const pb::Filter& in, const std::string& at);

// The bounds of a pb::Range or pb::DatetimeRange into a Range or
// DatetimeRange, and back.
template <typename Proto, typename Bounds>
Bounds BoundsFrom(const Proto& r) {
  Bounds out;
  if (r.has_gt()) out.gt = r.gt();
  if (r.has_gte()) out.gte = r.gte();
  if (r.has_lt()) out.lt = r.lt();
  if (r.has_lte()) out.lte = r.lte();
  return out;
}

template <typename Bounds, typename Proto>
void BoundsTo(const Bounds& r, Proto* out) {
  if (r.gt) out->set_gt(*r.gt);
  if (r.gte) out->set_gte(*r.gte);
  if (r.lt) out->set_lt(*r.lt);
  if (r.lte) out->set_lte(*r.lte);
}

absl::StatusOr<GeoPoint> PointFrom(bool has, const pb::GeoPoint& p,
                                   const std::string& at) {
  if (!has) return Bad(at, "missing");
  return GeoPoint{p.lon(), p.lat()};
}

std::vector<GeoPoint> RingFrom(const pb::GeoLineString& r) {
  std::vector<GeoPoint> out;
  for (const pb::GeoPoint& p : r.points()) out.push_back({p.lon(), p.lat()});
  return out;
}

absl::StatusOr<Condition> GeoFrom(const pb::FieldCondition& f,
                                  const std::string& at) {
  std::string where;
  absl::StatusOr<Condition> c;
  if (f.has_geo_radius()) {
    where = at + ".geo_radius";
    const pb::GeoRadius& r = f.geo_radius();
    TQ_ASSIGN_OR_RETURN(GeoPoint center, PointFrom(r.has_center(), r.center(),
                                                   where + ".center"));
    c = Condition::InGeoRadius(f.key(), {center, r.radius()});
  } else if (f.has_geo_bounding_box()) {
    where = at + ".geo_bounding_box";
    const pb::GeoBoundingBox& b = f.geo_bounding_box();
    TQ_ASSIGN_OR_RETURN(GeoPoint tl, PointFrom(b.has_top_left(), b.top_left(),
                                               where + ".top_left"));
    TQ_ASSIGN_OR_RETURN(GeoPoint br,
                        PointFrom(b.has_bottom_right(), b.bottom_right(),
                                  where + ".bottom_right"));
    c = Condition::InGeoBox(f.key(), {tl, br});
  } else {
    where = at + ".geo_polygon";
    GeoPolygon p;
    p.exterior = RingFrom(f.geo_polygon().exterior());
    for (const pb::GeoLineString& r : f.geo_polygon().interiors()) {
      p.interiors.push_back(RingFrom(r));
    }
    c = Condition::InGeoPolygon(f.key(), std::move(p));
  }
  if (!c.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ".", c.status().message()));
  }
  return c;
}

void PointTo(const GeoPoint& p, pb::GeoPoint* out) {
  out->set_lon(p.lon);
  out->set_lat(p.lat);
}

void RingTo(const std::vector<GeoPoint>& ring, pb::GeoLineString* out) {
  for (const GeoPoint& p : ring) PointTo(p, out->add_points());
}

absl::StatusOr<Condition> ConditionFrom(const pb::Condition& in,
                                        const std::string& at) {
  switch (in.condition_one_of_case()) {
    case pb::Condition::kField: {
      const pb::FieldCondition& f = in.field();
      if (int{f.has_match()} + int{f.has_range()} +
              int{f.has_datetime_range()} + int{f.has_geo_bounding_box()} +
              int{f.has_geo_radius()} + int{f.has_geo_polygon()} +
              int{f.has_values_count()} !=
          1) {
        return Bad(at,
                   "a field condition needs exactly one of match, range, "
                   "datetime_range, geo_bounding_box, geo_radius, "
                   "geo_polygon, values_count");
      }
      if (f.has_values_count()) {
        return Condition::ValuesCount(
            f.key(), BoundsFrom<pb::ValuesCount, CountRange>(f.values_count()));
      }
      if (f.has_geo_bounding_box() || f.has_geo_radius() ||
          f.has_geo_polygon()) {
        return GeoFrom(f, at);
      }
      if (f.has_datetime_range()) {
        auto c = Condition::InDatetimeRange(
            f.key(),
            BoundsFrom<pb::DatetimeRange, DatetimeRange>(f.datetime_range()));
        if (!c.ok()) {
          return absl::InvalidArgumentError(
              absl::StrCat(at, ".datetime_range.", c.status().message()));
        }
        return c;
      }
      if (f.has_range()) {
        return Condition::InRange(f.key(),
                                  BoundsFrom<pb::Range, Range>(f.range()));
      }
      const pb::Match& m = f.match();
      switch (m.match_value_case()) {
        case pb::Match::kValue: {
          const pb::MatchValue& v = m.value();
          switch (v.kind_case()) {
            case pb::MatchValue::kKeyword:
              return Condition::Keyword(f.key(), v.keyword());
            case pb::MatchValue::kInteger:
              return Condition::Integer(f.key(), v.integer());
            case pb::MatchValue::kBoolean:
              return Condition::Bool(f.key(), v.boolean());
            default:
              return Bad(at + ".match.value",
                         "expected a keyword, an integer or a bool");
          }
        }
        case pb::Match::kAny:
        case pb::Match::kExcept: {
          const bool any = m.match_value_case() == pb::Match::kAny;
          const pb::MatchValues& v = any ? m.any() : m.except();
          const std::string where = at + (any ? ".match.any" : ".match.except");
          if (v.keywords_size() > 0 && v.integers_size() > 0) {
            return Bad(where, "holds both keywords and integers");
          }
          if (v.integers_size() > 0) {
            std::vector<int64_t> ints(v.integers().begin(), v.integers().end());
            return any ? Condition::AnyInteger(f.key(), std::move(ints))
                       : Condition::ExceptInteger(f.key(), std::move(ints));
          }
          std::vector<std::string> words(v.keywords().begin(),
                                         v.keywords().end());
          return any ? Condition::AnyKeyword(f.key(), std::move(words))
                     : Condition::ExceptKeyword(f.key(), std::move(words));
        }
        case pb::Match::kText:
          return Condition::Text(f.key(), m.text());
        case pb::Match::kTextAny:
          return Condition::TextAny(f.key(), m.text_any());
        default:
          return Bad(at + ".match",
                     "expected one of value, any, except, text, text_any");
      }
    }
    case pb::Condition::kIsEmpty:
      return Condition::IsEmpty(in.is_empty().key());
    case pb::Condition::kIsNull:
      return Condition::IsNull(in.is_null().key());
    case pb::Condition::kHasId:
      return Condition::HasId(std::vector<uint64_t>(
          in.has_id().has_id().begin(), in.has_id().has_id().end()));
    case pb::Condition::kFilter: {
      TQ_ASSIGN_OR_RETURN(Filter nested, FilterFrom(in.filter(), at));
      return Condition::Nested(std::move(nested));
    }
    case pb::Condition::kNested: {
      if (in.nested().key().empty()) return Bad(at + ".nested.key", "missing");
      TQ_ASSIGN_OR_RETURN(Filter elements, FilterFrom(in.nested().filter(),
                                                      at + ".nested.filter"));
      return Condition::AnyElement(in.nested().key(), std::move(elements));
    }
    default:
      return Bad(at,
                 "empty condition (set field, is_empty, is_null, has_id, "
                 "filter or nested)");
  }
}

absl::StatusOr<Filter> FilterFrom(const pb::Filter& in, const std::string& at) {
  Filter f;
  f.min_should = in.min_should();
  const std::string dot = at.empty() ? "" : at + ".";
  for (const auto& [name, from, to] :
       {std::make_tuple("must", &in.must(), &f.must),
        std::make_tuple("should", &in.should(), &f.should),
        std::make_tuple("must_not", &in.must_not(), &f.must_not)}) {
    for (int i = 0; i < from->size(); ++i) {
      TQ_ASSIGN_OR_RETURN(
          Condition c,
          ConditionFrom((*from)[i], absl::StrCat(dot, name, "[", i, "]")));
      to->push_back(std::move(c));
    }
  }
  return f;
}

void ConditionTo(const Condition& c, pb::Condition* out) {
  using Kind = Condition::Kind;
  using VT = Condition::ValueType;
  auto list = [&](pb::MatchValues* v) {
    if (c.value_type == VT::kInteger) {
      v->mutable_integers()->Add(c.integers.begin(), c.integers.end());
    } else {
      for (const std::string& w : c.keywords) v->add_keywords(w);
    }
  };
  switch (c.kind) {
    case Kind::kMatch: {
      pb::FieldCondition* f = out->mutable_field();
      f->set_key(c.key);
      pb::MatchValue* v = f->mutable_match()->mutable_value();
      if (c.value_type == VT::kKeyword) {
        v->set_keyword(c.keyword);
      } else if (c.value_type == VT::kInteger) {
        v->set_integer(c.integer);
      } else {
        v->set_boolean(c.boolean);
      }
      return;
    }
    case Kind::kMatchAny:
    case Kind::kMatchExcept: {
      pb::FieldCondition* f = out->mutable_field();
      f->set_key(c.key);
      list(c.kind == Kind::kMatchAny ? f->mutable_match()->mutable_any()
                                     : f->mutable_match()->mutable_except());
      return;
    }
    case Kind::kMatchText:
    case Kind::kMatchTextAny: {
      pb::FieldCondition* f = out->mutable_field();
      f->set_key(c.key);
      if (c.kind == Kind::kMatchText) {
        f->mutable_match()->set_text(c.text);
      } else {
        f->mutable_match()->set_text_any(c.text);
      }
      return;
    }
    case Kind::kRange: {
      pb::FieldCondition* f = out->mutable_field();
      f->set_key(c.key);
      BoundsTo(c.range, f->mutable_range());
      return;
    }
    case Kind::kDatetimeRange: {
      pb::FieldCondition* f = out->mutable_field();
      f->set_key(c.key);
      BoundsTo(c.datetimes, f->mutable_datetime_range());
      return;
    }
    case Kind::kGeoRadius: {
      pb::FieldCondition* f = out->mutable_field();
      f->set_key(c.key);
      PointTo(c.geo_radius.center, f->mutable_geo_radius()->mutable_center());
      f->mutable_geo_radius()->set_radius(c.geo_radius.meters);
      return;
    }
    case Kind::kGeoBox: {
      pb::FieldCondition* f = out->mutable_field();
      f->set_key(c.key);
      PointTo(c.geo_box.top_left,
              f->mutable_geo_bounding_box()->mutable_top_left());
      PointTo(c.geo_box.bottom_right,
              f->mutable_geo_bounding_box()->mutable_bottom_right());
      return;
    }
    case Kind::kGeoPolygon: {
      pb::FieldCondition* f = out->mutable_field();
      f->set_key(c.key);
      RingTo(c.geo_polygon->exterior,
             f->mutable_geo_polygon()->mutable_exterior());
      for (const auto& ring : c.geo_polygon->interiors) {
        RingTo(ring, f->mutable_geo_polygon()->add_interiors());
      }
      return;
    }
    case Kind::kValuesCount: {
      pb::FieldCondition* f = out->mutable_field();
      f->set_key(c.key);
      BoundsTo(c.values_count, f->mutable_values_count());
      return;
    }
    case Kind::kIsEmpty:
      out->mutable_is_empty()->set_key(c.key);
      return;
    case Kind::kIsNull:
      out->mutable_is_null()->set_key(c.key);
      return;
    case Kind::kHasId:
      out->mutable_has_id()->mutable_has_id()->Add(c.ids.begin(), c.ids.end());
      return;
    case Kind::kFilter:
      ToProto(*c.filter, out->mutable_filter());
      return;
    case Kind::kAnyElement:
      out->mutable_nested()->set_key(c.key);
      ToProto(*c.filter, out->mutable_nested()->mutable_filter());
      return;
  }
}

}  // namespace

absl::StatusOr<Filter> FromProto(const pb::Filter& in) {
  return FilterFrom(in, "");
}

void ToProto(const Filter& in, pb::Filter* out) {
  for (const Condition& c : in.must) ConditionTo(c, out->add_must());
  for (const Condition& c : in.should) ConditionTo(c, out->add_should());
  for (const Condition& c : in.must_not) ConditionTo(c, out->add_must_not());
  out->set_min_should(in.min_should);
}

absl::StatusOr<std::shared_ptr<const Filter>> OptionalFilter(
    bool has, const pb::Filter& in) {
  if (!has) return std::shared_ptr<const Filter>();
  TQ_ASSIGN_OR_RETURN(Filter f, FromProto(in));
  if (f.empty()) return std::shared_ptr<const Filter>();
  return std::make_shared<const Filter>(std::move(f));
}

absl::StatusOr<FieldType> FieldTypeFromProto(pb::FieldType t) {
  switch (t) {
    case pb::FIELD_TYPE_KEYWORD:
      return FieldType::kKeyword;
    case pb::FIELD_TYPE_INTEGER:
      return FieldType::kInteger;
    case pb::FIELD_TYPE_FLOAT:
      return FieldType::kFloat;
    case pb::FIELD_TYPE_BOOL:
      return FieldType::kBool;
    case pb::FIELD_TYPE_TEXT:
      return FieldType::kText;
    case pb::FIELD_TYPE_DATETIME:
      return FieldType::kDatetime;
    case pb::FIELD_TYPE_GEO:
      return FieldType::kGeo;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("type: unknown field index type ", static_cast<int>(t),
                       " (FIELD_TYPE_KEYWORD, _INTEGER, _FLOAT, _BOOL, _TEXT, "
                       "_DATETIME or _GEO)"));
  }
}

pb::FieldType FieldTypeToProto(FieldType t) {
  switch (t) {
    case FieldType::kKeyword:
      return pb::FIELD_TYPE_KEYWORD;
    case FieldType::kInteger:
      return pb::FIELD_TYPE_INTEGER;
    case FieldType::kFloat:
      return pb::FIELD_TYPE_FLOAT;
    case FieldType::kBool:
      return pb::FIELD_TYPE_BOOL;
    case FieldType::kText:
      return pb::FIELD_TYPE_TEXT;
    case FieldType::kDatetime:
      return pb::FIELD_TYPE_DATETIME;
    case FieldType::kGeo:
      return pb::FIELD_TYPE_GEO;
  }
  return pb::FIELD_TYPE_UNSPECIFIED;
}

}  // namespace tqdb
