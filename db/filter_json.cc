#include "db/filter_json.h"

#include <algorithm>
#include <iterator>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "db/json_path.h"
#include "db/query.h"
#include "quant/status_macros.h"

namespace tqdb {
namespace {

using json = nlohmann::json;

absl::Status Bad(const std::string& at, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat(at.empty() ? "filter" : at, ": ", why));
}

// The bound of a Range or DatetimeRange that operator k sets, or null.
template <typename Bounds>
auto BoundOf(const std::string& k, Bounds* r) -> decltype(&r->gt) {
  return k == "gt"    ? &r->gt
         : k == "gte" ? &r->gte
         : k == "lt"  ? &r->lt
         : k == "lte" ? &r->lte
                      : nullptr;
}

std::string Join(const std::string& at, absl::string_view key) {
  return at.empty() ? std::string(key) : absl::StrCat(at, ".", key);
}

absl::Status Expected(const std::string& at, absl::string_view what,
                      const json& got) {
  return Bad(at, absl::StrCat("expected ", what, ", got ", JsonTypeName(got)));
}

class Parser {
 public:
  absl::StatusOr<Filter> ParseFilter(const json& j, const std::string& at,
                                     int depth) {
    if (!j.is_object()) return Expected(at, "a filter object", j);
    if (depth > dbimpl::kMaxFilterDepth) {
      return Bad(at, absl::StrCat("filter nested deeper than ",
                                  dbimpl::kMaxFilterDepth));
    }
    Filter f;
    for (const auto& [key, value] : j.items()) {
      const std::string here = Join(at, key);
      if (key == "must" || key == "should" || key == "must_not") {
        std::vector<Condition>* out = key == "must"     ? &f.must
                                      : key == "should" ? &f.should
                                                        : &f.must_not;
        if (value.is_null()) continue;
        if (value.is_object()) {  // one condition
          TQ_ASSIGN_OR_RETURN(Condition c,
                              ParseCondition(value, here + "[0]", depth));
          out->push_back(std::move(c));
          continue;
        }
        if (!value.is_array()) {
          return Expected(here, "a list of conditions", value);
        }
        for (size_t i = 0; i < value.size(); ++i) {
          TQ_ASSIGN_OR_RETURN(
              Condition c,
              ParseCondition(value[i], absl::StrCat(here, "[", i, "]"), depth));
          out->push_back(std::move(c));
        }
      } else if (key == "min_should") {
        if (value.is_null()) continue;
        if (value.is_number_unsigned()) {
          f.min_should = static_cast<uint32_t>(
              std::min<uint64_t>(value.get<uint64_t>(), UINT32_MAX));
          continue;
        }
        if (!value.is_object()) {
          return Expected(here, "a count or {\"conditions\", \"min_count\"}",
                          value);
        }
        // Qdrant's form: its own nested filter, added to must.
        json nested = json::object();
        for (const auto& [k, v] : value.items()) {
          if (k == "conditions") {
            nested["should"] = v;
          } else if (k == "min_count") {
            nested["min_should"] = v;
          } else {
            return Bad(Join(here, k), "unknown key (conditions, min_count)");
          }
        }
        TQ_ASSIGN_OR_RETURN(Filter n, ParseFilter(nested, here, depth + 1));
        f.must.push_back(Condition::Nested(std::move(n)));
      } else {
        return Bad(here, "unknown key (must, should, must_not, min_should)");
      }
    }
    return f;
  }

 private:
  absl::StatusOr<std::string> Key(const json& j, const std::string& at) {
    if (!j.is_string()) return Expected(at, "a string", j);
    return j.get<std::string>();
  }

  absl::StatusOr<Condition> ParseCondition(const json& j, const std::string& at,
                                           int depth) {
    if (!j.is_object()) return Expected(at, "a condition object", j);
    if (j.contains("key")) return ParseField(j, at);
    if (j.size() == 1) {
      const auto it = j.begin();
      const std::string here = Join(at, it.key());
      if (it.key() == "is_empty" || it.key() == "is_null") {
        if (!it->is_object()) return Expected(here, "{\"key\": ...}", *it);
        std::string key;
        for (const auto& [k, v] : it->items()) {
          if (k != "key") return Bad(Join(here, k), "unknown key (key)");
          TQ_ASSIGN_OR_RETURN(key, Key(v, here + ".key"));
        }
        if (key.empty()) return Bad(here + ".key", "missing");
        return it.key() == "is_empty" ? Condition::IsEmpty(key)
                                      : Condition::IsNull(key);
      }
      if (it.key() == "nested") {
        if (!it->is_object()) {
          return Expected(here, "{\"key\": ..., \"filter\": {...}}", *it);
        }
        std::string key;
        const json* filter = nullptr;
        for (const auto& [k, v] : it->items()) {
          if (k == "key") {
            TQ_ASSIGN_OR_RETURN(key, Key(v, here + ".key"));
          } else if (k == "filter") {
            filter = &v;
          } else {
            return Bad(Join(here, k), "unknown key (key, filter)");
          }
        }
        if (key.empty()) return Bad(here + ".key", "missing");
        if (filter == nullptr) return Bad(here + ".filter", "missing");
        TQ_ASSIGN_OR_RETURN(Filter f,
                            ParseFilter(*filter, here + ".filter", depth + 1));
        return Condition::AnyElement(std::move(key), std::move(f));
      }
      if (it.key() == "has_id") {
        if (!it->is_array()) return Expected(here, "a list of ids", *it);
        std::vector<uint64_t> ids;
        ids.reserve(it->size());
        for (size_t i = 0; i < it->size(); ++i) {
          const json& v = (*it)[i];
          if (!v.is_number_unsigned() &&
              !(v.is_number_integer() && v.get<int64_t>() >= 0)) {
            return Expected(absl::StrCat(here, "[", i, "]"),
                            "a non-negative integer id", v);
          }
          ids.push_back(v.get<uint64_t>());
        }
        return Condition::HasId(std::move(ids));
      }
    }
    bool clause = false;
    for (const auto& [k, v] : j.items()) {
      if (k == "must" || k == "should" || k == "must_not" ||
          k == "min_should") {
        clause = true;
      } else {
        return Bad(Join(at, k),
                   "unknown operator (a condition is key + match, range, a "
                   "geo shape or values_count, is_empty, is_null, has_id, "
                   "nested, or a filter of must / should / must_not)");
      }
    }
    if (!clause) return Bad(at, "empty condition");
    TQ_ASSIGN_OR_RETURN(Filter nested, ParseFilter(j, at, depth + 1));
    return Condition::Nested(std::move(nested));
  }

  absl::StatusOr<Condition> ParseField(const json& j, const std::string& at) {
    TQ_ASSIGN_OR_RETURN(const std::string key, Key(j["key"], at + ".key"));
    static constexpr const char* kOperators[] = {
        "match",       "range",       "geo_radius", "geo_bounding_box",
        "geo_polygon", "values_count"};
    const json* op = nullptr;
    std::string name;
    for (const auto& [k, v] : j.items()) {
      if (k == "key") continue;
      if (std::find(std::begin(kOperators), std::end(kOperators), k) ==
          std::end(kOperators)) {
        return Bad(Join(at, k),
                   "unknown operator (match, range, geo_radius, "
                   "geo_bounding_box, geo_polygon, values_count)");
      }
      if (op != nullptr) {
        return Bad(at, absl::StrCat("a field condition takes one operator, "
                                    "got ",
                                    name, " and ", k));
      }
      op = &v;
      name = k;
    }
    if (op == nullptr) {
      return Bad(at,
                 "a field condition needs one of match, range, geo_radius, "
                 "geo_bounding_box, geo_polygon, values_count");
    }
    const std::string here = Join(at, name);
    if (name == "range") return ParseRange(key, *op, here);
    if (name == "match") return ParseMatch(key, *op, here);
    if (name == "values_count") return ParseValuesCount(key, *op, here);
    return ParseGeo(key, name, *op, here);
  }

  absl::StatusOr<GeoPoint> ParsePoint(const json& j, const std::string& at) {
    if (!j.is_object()) return Expected(at, "{\"lon\": .., \"lat\": ..}", j);
    GeoPoint p;
    bool lon = false, lat = false;
    for (const auto& [k, v] : j.items()) {
      if (k != "lon" && k != "lat") {
        return Bad(Join(at, k), "unknown key (lon, lat)");
      }
      if (!v.is_number()) return Expected(Join(at, k), "a number", v);
      (k == "lon" ? p.lon : p.lat) = v.get<double>();
      (k == "lon" ? lon : lat) = true;
    }
    if (!lon || !lat) return Bad(at, lon ? "lat missing" : "lon missing");
    return p;
  }

  absl::StatusOr<std::vector<GeoPoint>> ParseRing(const json& j,
                                                  const std::string& at) {
    if (!j.is_object()) return Expected(at, "{\"points\": [...]}", j);
    std::vector<GeoPoint> ring;
    for (const auto& [k, v] : j.items()) {
      if (k != "points") return Bad(Join(at, k), "unknown key (points)");
      if (!v.is_array()) return Expected(Join(at, k), "a list of points", v);
      for (size_t i = 0; i < v.size(); ++i) {
        TQ_ASSIGN_OR_RETURN(
            GeoPoint p, ParsePoint(v[i], absl::StrCat(at, ".points[", i, "]")));
        ring.push_back(p);
      }
    }
    return ring;
  }

  absl::StatusOr<Condition> ParseGeo(const std::string& key,
                                     const std::string& name, const json& j,
                                     const std::string& at) {
    if (!j.is_object()) return Expected(at, "an object", j);
    absl::StatusOr<Condition> c;
    if (name == "geo_radius") {
      GeoRadius r;
      bool center = false, radius = false;
      for (const auto& [k, v] : j.items()) {
        if (k == "center") {
          TQ_ASSIGN_OR_RETURN(r.center, ParsePoint(v, Join(at, k)));
          center = true;
        } else if (k == "radius") {
          if (!v.is_number()) return Expected(Join(at, k), "meters", v);
          r.meters = v.get<double>();
          radius = true;
        } else {
          return Bad(Join(at, k), "unknown key (center, radius)");
        }
      }
      if (!center || !radius) {
        return Bad(at, center ? "radius missing" : "center missing");
      }
      c = Condition::InGeoRadius(key, r);
    } else if (name == "geo_bounding_box") {
      GeoBox b;
      bool tl = false, br = false;
      for (const auto& [k, v] : j.items()) {
        if (k == "top_left") {
          TQ_ASSIGN_OR_RETURN(b.top_left, ParsePoint(v, Join(at, k)));
          tl = true;
        } else if (k == "bottom_right") {
          TQ_ASSIGN_OR_RETURN(b.bottom_right, ParsePoint(v, Join(at, k)));
          br = true;
        } else {
          return Bad(Join(at, k), "unknown key (top_left, bottom_right)");
        }
      }
      if (!tl || !br) {
        return Bad(at, tl ? "bottom_right missing" : "top_left missing");
      }
      c = Condition::InGeoBox(key, b);
    } else {
      GeoPolygon p;
      for (const auto& [k, v] : j.items()) {
        if (k == "exterior") {
          TQ_ASSIGN_OR_RETURN(p.exterior, ParseRing(v, Join(at, k)));
        } else if (k == "interiors") {
          if (v.is_null()) continue;
          if (!v.is_array()) return Expected(Join(at, k), "a list of rings", v);
          for (size_t i = 0; i < v.size(); ++i) {
            TQ_ASSIGN_OR_RETURN(
                std::vector<GeoPoint> ring,
                ParseRing(v[i], absl::StrCat(at, ".interiors[", i, "]")));
            p.interiors.push_back(std::move(ring));
          }
        } else {
          return Bad(Join(at, k), "unknown key (exterior, interiors)");
        }
      }
      c = Condition::InGeoPolygon(key, std::move(p));
    }
    if (!c.ok()) {  // "center.lat: ...", placed
      return absl::InvalidArgumentError(
          absl::StrCat(at, ".", c.status().message()));
    }
    return c;
  }

  absl::StatusOr<Condition> ParseValuesCount(const std::string& key,
                                             const json& j,
                                             const std::string& at) {
    if (!j.is_object()) return Expected(at, "an object", j);
    CountRange r;
    for (const auto& [k, v] : j.items()) {
      std::optional<uint64_t>* bound = BoundOf(k, &r);
      if (bound == nullptr) {
        return Bad(Join(at, k), "unknown operator (gt, gte, lt, lte)");
      }
      if (v.is_null()) continue;
      if (!v.is_number_unsigned() &&
          !(v.is_number_integer() && v.get<int64_t>() >= 0)) {
        return Expected(Join(at, k), "a count (an integer >= 0)", v);
      }
      *bound = v.get<uint64_t>();
    }
    return Condition::ValuesCount(key, r);
  }

  absl::StatusOr<Condition> ParseRange(const std::string& key, const json& j,
                                       const std::string& at) {
    if (!j.is_object()) return Expected(at, "an object", j);
    // Strings: a range of datetimes (Qdrant's syntax has one "range").
    bool datetimes = false;
    for (const auto& [k, v] : j.items()) datetimes |= v.is_string();
    if (datetimes) return ParseDatetimeRange(key, j, at);
    Range r;
    for (const auto& [k, v] : j.items()) {
      std::optional<double>* bound = BoundOf(k, &r);
      if (bound == nullptr) {
        return Bad(Join(at, k), "unknown operator (gt, gte, lt, lte)");
      }
      if (v.is_null()) continue;
      if (!v.is_number()) return Expected(Join(at, k), "a number", v);
      *bound = v.get<double>();
    }
    return Condition::InRange(key, r);
  }

  absl::StatusOr<Condition> ParseDatetimeRange(const std::string& key,
                                               const json& j,
                                               const std::string& at) {
    DatetimeRange r;
    for (const auto& [k, v] : j.items()) {
      std::optional<std::string>* bound = BoundOf(k, &r);
      if (bound == nullptr) {
        return Bad(Join(at, k), "unknown operator (gt, gte, lt, lte)");
      }
      if (v.is_null()) continue;
      if (!v.is_string()) {
        return Expected(Join(at, k), "a datetime string like the others", v);
      }
      *bound = v.get<std::string>();
    }
    auto c = Condition::InDatetimeRange(key, std::move(r));
    if (!c.ok()) {  // "gte: expected ...", placed
      return absl::InvalidArgumentError(
          absl::StrCat(at, ".", c.status().message()));
    }
    return c;
  }

  absl::StatusOr<Condition> ParseMatch(const std::string& key, const json& j,
                                       const std::string& at) {
    if (!j.is_object() || j.size() != 1) {
      return Bad(at,
                 "expected an object with one of value, any, except, text, "
                 "text_any");
    }
    const auto it = j.begin();
    const std::string here = Join(at, it.key());
    const json& v = *it;
    if (it.key() == "value") {
      if (v.is_string()) return Condition::Keyword(key, v.get<std::string>());
      if (v.is_boolean()) return Condition::Bool(key, v.get<bool>());
      int64_t i;
      if (AsInt64(v, &i)) return Condition::Integer(key, i);
      return Expected(here, "a string, an integer or a bool", v);
    }
    if (it.key() == "text" || it.key() == "text_any") {
      if (!v.is_string()) return Expected(here, "a string", v);
      return it.key() == "text" ? Condition::Text(key, v.get<std::string>())
                                : Condition::TextAny(key, v.get<std::string>());
    }
    if (it.key() != "any" && it.key() != "except") {
      return Bad(here, absl::StrCat("unknown operator '", it.key(),
                                    "' (value, any, except, text, text_any)"));
    }
    if (!v.is_array()) return Expected(here, "a list", v);
    const bool integers = !v.empty() && !v[0].is_string();
    std::vector<std::string> words;
    std::vector<int64_t> ints;
    for (size_t i = 0; i < v.size(); ++i) {
      const std::string ei = absl::StrCat(here, "[", i, "]");
      if (integers) {
        int64_t x;
        if (!AsInt64(v[i], &x)) {
          return Expected(ei,
                          i == 0 ? "a string or an integer"
                                 : "an integer like the values before it",
                          v[i]);
        }
        ints.push_back(x);
      } else {
        if (!v[i].is_string()) {
          return Expected(ei, "a string like the values before it", v[i]);
        }
        words.push_back(v[i].get<std::string>());
      }
    }
    if (it.key() == "any") {
      return integers ? Condition::AnyInteger(key, std::move(ints))
                      : Condition::AnyKeyword(key, std::move(words));
    }
    return integers ? Condition::ExceptInteger(key, std::move(ints))
                    : Condition::ExceptKeyword(key, std::move(words));
  }
};

json PointJson(const GeoPoint& p) { return {{"lon", p.lon}, {"lat", p.lat}}; }

json RingJson(const std::vector<GeoPoint>& ring) {
  json points = json::array();
  for (const GeoPoint& p : ring) points.push_back(PointJson(p));
  return {{"points", std::move(points)}};
}

json ConditionToJson(const Condition& c) {
  using Kind = Condition::Kind;
  using VT = Condition::ValueType;
  auto list = [&]() -> json {
    if (c.value_type == VT::kInteger) return c.integers;
    return c.keywords;
  };
  switch (c.kind) {
    case Kind::kMatch: {
      json v = c.value_type == VT::kKeyword   ? json(c.keyword)
               : c.value_type == VT::kInteger ? json(c.integer)
                                              : json(c.boolean);
      return {{"key", c.key}, {"match", {{"value", v}}}};
    }
    case Kind::kMatchAny:
      return {{"key", c.key}, {"match", {{"any", list()}}}};
    case Kind::kMatchExcept:
      return {{"key", c.key}, {"match", {{"except", list()}}}};
    case Kind::kMatchText:
      return {{"key", c.key}, {"match", {{"text", c.text}}}};
    case Kind::kMatchTextAny:
      return {{"key", c.key}, {"match", {{"text_any", c.text}}}};
    case Kind::kRange: {
      json r = json::object();
      if (c.range.gt) r["gt"] = *c.range.gt;
      if (c.range.gte) r["gte"] = *c.range.gte;
      if (c.range.lt) r["lt"] = *c.range.lt;
      if (c.range.lte) r["lte"] = *c.range.lte;
      return {{"key", c.key}, {"range", r}};
    }
    case Kind::kDatetimeRange: {
      json r = json::object();
      if (c.datetimes.gt) r["gt"] = *c.datetimes.gt;
      if (c.datetimes.gte) r["gte"] = *c.datetimes.gte;
      if (c.datetimes.lt) r["lt"] = *c.datetimes.lt;
      if (c.datetimes.lte) r["lte"] = *c.datetimes.lte;
      return {{"key", c.key}, {"range", r}};
    }
    case Kind::kGeoRadius:
      return {{"key", c.key},
              {"geo_radius",
               {{"center", PointJson(c.geo_radius.center)},
                {"radius", c.geo_radius.meters}}}};
    case Kind::kGeoBox:
      return {{"key", c.key},
              {"geo_bounding_box",
               {{"top_left", PointJson(c.geo_box.top_left)},
                {"bottom_right", PointJson(c.geo_box.bottom_right)}}}};
    case Kind::kGeoPolygon: {
      json p = {{"exterior", RingJson(c.geo_polygon->exterior)}};
      if (!c.geo_polygon->interiors.empty()) {
        json rings = json::array();
        for (const auto& r : c.geo_polygon->interiors) {
          rings.push_back(RingJson(r));
        }
        p["interiors"] = std::move(rings);
      }
      return {{"key", c.key}, {"geo_polygon", std::move(p)}};
    }
    case Kind::kValuesCount: {
      json r = json::object();
      if (c.values_count.gt) r["gt"] = *c.values_count.gt;
      if (c.values_count.gte) r["gte"] = *c.values_count.gte;
      if (c.values_count.lt) r["lt"] = *c.values_count.lt;
      if (c.values_count.lte) r["lte"] = *c.values_count.lte;
      return {{"key", c.key}, {"values_count", r}};
    }
    case Kind::kIsEmpty:
      return {{"is_empty", {{"key", c.key}}}};
    case Kind::kIsNull:
      return {{"is_null", {{"key", c.key}}}};
    case Kind::kHasId:
      return {{"has_id", c.ids}};
    case Kind::kFilter:
      return FilterToJson(*c.filter);
    case Kind::kAnyElement:
      return {
          {"nested", {{"key", c.key}, {"filter", FilterToJson(*c.filter)}}}};
  }
  return json::object();
}

}  // namespace

absl::StatusOr<Filter> FilterFromJson(const nlohmann::json& json) {
  return Parser().ParseFilter(json, "", 1);
}

absl::StatusOr<Filter> ParseFilterJson(absl::string_view text) {
  // Deeper nesting than a filter may have is refused before it is built
  // (the parser recurses).
  int depth = 0, max_depth = 0;
  bool in_string = false, escaped = false;
  for (char ch : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (ch == '\\') {
        escaped = true;
      } else if (ch == '"') {
        in_string = false;
      }
      continue;
    }
    if (ch == '"') in_string = true;
    if (ch == '{' || ch == '[') max_depth = std::max(max_depth, ++depth);
    if (ch == '}' || ch == ']') --depth;
  }
  // A filter level is at most 4 JSON levels ({ "must": [ { ... ).
  if (max_depth > 4 * (dbimpl::kMaxFilterDepth + 1) + 4) {
    return absl::InvalidArgumentError(
        absl::StrCat("filter: nested deeper than ", dbimpl::kMaxFilterDepth));
  }
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) {
    try {
      j = json::parse(text);
    } catch (const json::exception& e) {
      absl::string_view what = e.what();
      const size_t close = what.find("] ");
      if (close != absl::string_view::npos) what.remove_prefix(close + 2);
      return absl::InvalidArgumentError(
          absl::StrCat("filter is not valid JSON: ", what));
    }
  }
  return FilterFromJson(j);
}

json FilterToJson(const Filter& f) {
  json out = json::object();
  for (const auto& [name, group] :
       {std::make_pair("must", &f.must), std::make_pair("should", &f.should),
        std::make_pair("must_not", &f.must_not)}) {
    if (group->empty()) continue;
    json arr = json::array();
    for (const Condition& c : *group) arr.push_back(ConditionToJson(c));
    out[name] = std::move(arr);
  }
  if (f.min_should != 0) out["min_should"] = f.min_should;
  return out;
}

}  // namespace tqdb
