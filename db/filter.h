// A filter on the points of a collection: conditions on their JSON payloads
// (by dotted path) and ids, combined by must / should / must_not clauses,
// nested to any depth (Qdrant's filter model). The textual form is Qdrant's
// JSON syntax (db/filter_json.h), the gRPC form tqdb.v1.Filter
// (rpc/filter_convert.h); the rules a filter must meet are checked once, by
// the database (db/query.h), and it is evaluated over the payload indexes
// (db/payload_index.h) or, for fields without one, over the payloads
// themselves (db/payload_match.h).
//
// Semantics (Qdrant's):
//  - A point matches a filter when it matches every `must` condition, none
//    of the `must_not` ones, and at least max(1, min_should) of the `should`
//    ones when there are any. An empty filter matches every point.
//  - A field condition looks up its key in the payload (a JSON object):
//    "a.b" is member b of member a; arrays met on the way are searched
//    element by element ("a[].b" says so explicitly, "a[2].b" picks one
//    element). A payload that is not a JSON object matches no field
//    condition.
//  - The value found may be an array: a condition holds when any element
//    satisfies it. Values of another type than the condition's are ignored
//    (match "5" does not match the number 5).
//  - match.value: equal to a keyword (string), integer or bool.
//    match.any: equal to one of the keywords (integers).
//    match.except: some value of the list's type is not in the list (a
//    point without such a value does not match; combine must_not and
//    match.any to also keep those).
//    range: some number (integer or float) within gt / gte / lt / lte.
//    range of datetimes (bounds RFC 3339 strings, db/datetime.h): some
//    string of the field is a datetime within them (offsets taken into
//    account, to the microsecond).
//    match.text: the field's strings hold every word of the text (words
//    as db/text_words.h cuts them: runs of letters and digits, case
//    folded; the words of all the field's strings count together, an
//    array's elements included). match.text_any: some word of the text.
//    geo_radius, geo_bounding_box, geo_polygon: some geo point of the
//    field ({"lon": .., "lat": ..}) lies in the shape (db/geo.h).
//    values_count: the number of values found (an array counts its
//    elements, null none, anything else one; several values found, as
//    "a[].b" finds them, add up) within gt / gte / lt / lte.
//    nested (Qdrant's nested object filter): some element (an object) of
//    an array at the key matches the filter, its conditions' keys read in
//    that element: "the same element" where "a[].x" and "a[].y" could be
//    met by two (has_id is refused inside; no payload index answers it).
//    is_empty: the key is absent, null or [] (every value found is).
//    is_null: a value found is null (or an array holding null).
//    has_id: the point's id is one of the ids.
// Thread-compatible: plain values.
#ifndef TQDB_DB_FILTER_H_
#define TQDB_DB_FILTER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "db/geo.h"

namespace tqdb {

// The type of a payload index (Collection::CreateFieldIndex): which values
// of the field it holds and which conditions it answers.
enum class FieldType : uint32_t {
  kKeyword = 0,   // strings: match value / any / except
  kInteger = 1,   // integers: match value / any / except, range
  kFloat = 2,     // numbers (integers too): range
  kBool = 3,      // booleans: match value
  kText = 4,      // the words of strings (full text): match text / text_any
  kDatetime = 5,  // RFC 3339 strings: range of datetimes
  kGeo = 6,       // {"lon", "lat"} objects: geo radius / box / polygon
};
const char* FieldTypeName(FieldType t);  // "keyword", "integer", ...
// Whether t is one of the types above (a value read from outside).
bool IsFieldType(FieldType t);
// InvalidArgument for anything else.
absl::StatusOr<FieldType> ParseFieldType(absl::string_view name);

struct Filter;

struct Range {
  std::optional<double> gt, gte, lt, lte;
};

// Bounds as given (RFC 3339 strings), and as microseconds since the epoch:
// the inclusive [lo, hi] they allow (lo > hi: none).
struct DatetimeRange {
  std::optional<std::string> gt, gte, lt, lte;
  int64_t lo = 0, hi = -1;
};

// Bounds of a count of values (at least one set).
struct CountRange {
  std::optional<uint64_t> gt, gte, lt, lte;
  bool Holds(uint64_t n) const {
    return (!gt || n > *gt) && (!gte || n >= *gte) && (!lt || n < *lt) &&
           (!lte || n <= *lte);
  }
};

struct Condition {
  enum class Kind {
    kMatch,          // key, value_*
    kMatchAny,       // key, keywords or integers
    kMatchExcept,    // key, keywords or integers
    kRange,          // key, range
    kDatetimeRange,  // key, datetimes
    kIsEmpty,        // key
    kIsNull,         // key
    kMatchText,      // key, text, keywords = its words
    kMatchTextAny,   // key, text, keywords = its words
    kGeoRadius,      // key, geo_radius
    kGeoBox,         // key, geo_box
    kGeoPolygon,     // key, geo_polygon
    kValuesCount,    // key, values_count
    kAnyElement,     // key, filter (on each element of the arrays at key)
    kHasId,          // ids
    kFilter,         // filter
  };
  // What a match compares with.
  enum class ValueType { kKeyword, kInteger, kBool };

  Kind kind = Kind::kMatch;
  std::string key;
  ValueType value_type = ValueType::kKeyword;  // kMatch, kMatchAny/Except
  std::string keyword;                         // kMatch, kKeyword
  int64_t integer = 0;                         // kMatch, kInteger
  bool boolean = false;                        // kMatch, kBool
  std::vector<std::string> keywords;           // kMatchAny/Except, kKeyword;
                                               // kMatchText*: sorted words
  std::string text;                            // kMatchText*: as given
  std::vector<int64_t> integers;               // kMatchAny/Except, kInteger
  Range range;
  DatetimeRange datetimes;
  GeoRadius geo_radius;
  GeoBox geo_box;
  std::shared_ptr<const GeoPolygon> geo_polygon;
  CountRange values_count;
  std::vector<uint64_t> ids;             // kHasId
  std::shared_ptr<const Filter> filter;  // kFilter, kAnyElement

  static Condition Keyword(std::string key, std::string value);
  static Condition Integer(std::string key, int64_t value);
  static Condition Bool(std::string key, bool value);
  static Condition AnyKeyword(std::string key, std::vector<std::string> v);
  static Condition AnyInteger(std::string key, std::vector<int64_t> v);
  static Condition ExceptKeyword(std::string key, std::vector<std::string> v);
  static Condition ExceptInteger(std::string key, std::vector<int64_t> v);
  static Condition InRange(std::string key, Range r);
  // InvalidArgument naming the bound ("gte: ...") that is not a datetime.
  static absl::StatusOr<Condition> InDatetimeRange(std::string key,
                                                   DatetimeRange r);
  // The text's words are cut once, here (db/text_words.h).
  static Condition Text(std::string key, std::string text);
  static Condition TextAny(std::string key, std::string text);
  // InvalidArgument naming the part that is wrong ("center.lat: ...",
  // "radius: ...", "exterior: ..."), placed by the caller.
  static absl::StatusOr<Condition> InGeoRadius(std::string key, GeoRadius r);
  static absl::StatusOr<Condition> InGeoBox(std::string key, GeoBox b);
  static absl::StatusOr<Condition> InGeoPolygon(std::string key, GeoPolygon p);
  static Condition ValuesCount(std::string key, CountRange r);
  static Condition IsEmpty(std::string key);
  static Condition IsNull(std::string key);
  static Condition HasId(std::vector<uint64_t> ids);
  // Qdrant's "nested": some element of the arrays at key matches f.
  static Condition AnyElement(std::string key, Filter f);
  static Condition Nested(Filter f);
};

// Whether kind is kGeoRadius, kGeoBox or kGeoPolygon.
bool IsGeoCondition(Condition::Kind kind);
// For such a condition: whether p lies in its shape.
bool InGeoShape(const Condition& c, const GeoPoint& p);
// For such a condition: InvalidArgument naming what of its shape is out of
// range or malformed ("center.lat: ...", "radius: ...", "exterior: ..."),
// as the constructors above check it (and db/query.h again, for conditions
// built field by field).
absl::Status CheckGeoShape(const Condition& c);

struct Filter {
  std::vector<Condition> must, should, must_not;
  // With `should` conditions: at least this many must hold (0 = 1).
  uint32_t min_should = 0;

  bool empty() const {
    return must.empty() && should.empty() && must_not.empty();
  }
};

}  // namespace tqdb

#endif  // TQDB_DB_FILTER_H_
