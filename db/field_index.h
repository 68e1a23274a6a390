// One payload index: the values of one field (a JSON path) of a
// collection's points, of one type (keyword, integer, float, bool), as
// compressed bitmaps of internal ids (CRoaring):
//  - keyword: a dictionary value -> bitmap;
//  - text: the same, of the words of the field's strings (db/text_words.h);
//  - integer, float: the bucketed sorted structure of db/numeric_index.h;
//  - datetime: the integer one, of microseconds (db/datetime.h);
//  - geo: the integer one, of the points' cell keys (db/geo.h), and the
//    points themselves: a shape's cover unites cells, then each point
//    found is checked against the shape;
//  - bool: a bitmap for true, one for false;
// plus, for every type, the bitmaps of points whose field is non-empty
// (is_empty) and null (is_null), of points with a value of the type and
// with several, and the values of each point (db/forward_values.h), which
// updates remove, per-point checks and the numeric index read.
//
// Thread-compatible: the owner (PayloadIndex) locks around it.
#ifndef TQDB_DB_FIELD_INDEX_H_
#define TQDB_DB_FIELD_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "db/db.h"
#include "db/field_values.h"
#include "db/filter.h"
#include "db/forward_values.h"
#include "db/json_path.h"
#include "db/numeric_index.h"
#include "db/range_bounds.h"
#include "roaring/roaring.hh"

namespace tqdb {
namespace dbimpl {

class FieldIndex {
 public:
  FieldIndex(std::string field, JsonPath path, FieldType type);

  const std::string& field() const { return field_; }
  const JsonPath& path() const { return path_; }
  FieldType type() const { return type_; }

  // The point's values now (empty if it has none).
  FieldValues Get(uint32_t iid) const;
  // Replaces the point's values.
  void Set(uint32_t iid, const FieldValues& v);
  // Adds values (and the present / null flags) to those of the point: the
  // entries of the point read back from storage one at a time.
  void Merge(uint32_t iid, const FieldValues& v);
  void Clear(uint32_t iid) { Set(iid, FieldValues()); }

  // Whether this index answers the condition (of its type: is_empty and
  // is_null any index; match value, any and except of strings a keyword
  // one, of integers an integer one, of a bool a bool one; range an integer
  // or float one; text and text_any a text one; geo shapes a geo one;
  // values_count none). db/query.h refuses the
  // others where a filter comes in; an index made after that check is
  // passed over (the condition is read from the payloads).
  bool Answers(const Condition& c) const;
  // The points among `live` that satisfy a condition on this field (one it
  // Answers).
  Roaring Evaluate(const Condition& c, const Roaring& live) const;
  // An upper bound of Evaluate(c).cardinality(), cheap (no bitmap built).
  uint64_t Estimate(const Condition& c, uint64_t live) const;
  // A condition compiled for per-point checks against this index (keywords
  // as dictionary ids, bounds computed once).
  struct Prepared {
    const Condition* cond = nullptr;
    std::vector<uint32_t> vids;  // keyword match / any / except, text words;
                                 // sorted
    bool unknown_word = false;   // one of them is in no point
    int64_t ilo = 0, ihi = -1;   // integer or datetime range
    double flo = 0, fhi = -1;    // float range
  };
  Prepared Prepare(const Condition& c) const;
  // Whether point iid satisfies the condition (iid live; p from Prepare on
  // this index, which has not changed since).
  bool Check(uint32_t iid, const Prepared& p) const;

  // For a keyword, integer or bool index: each value held by a point of
  // `among` (nullptr: every point), with the number of those points, in no
  // order; nothing for a float index.
  std::vector<FacetHit> Facet(const Roaring* among) const;

  // For an integer, float or datetime index: (value, point) for each
  // value of each point of `among` (nullptr: every point), in no order;
  // nothing for another type.
  std::vector<std::pair<double, uint32_t>> Numbers(const Roaring* among) const;
  // The same pairs a bucket of the sorted structure at a time, in value
  // order from `from` (NumericIndex::WalkBuckets): f(pairs) returns false
  // to stop.
  using PairsVisitor =
      std::function<bool(const std::vector<std::pair<double, uint32_t>>&)>;
  void WalkNumbers(bool descending, std::optional<double> from,
                   const Roaring* among, const PairsVisitor& f) const;

  // Points whose field is not empty.
  uint64_t points() const { return present_.cardinality(); }
  // Points holding a value of the index's type.
  uint64_t typed_points() const { return typed_.cardinality(); }
  // Approximate bytes held.
  size_t MemoryBytes() const;

 private:
  // Keyword dictionary id of v, or -1.
  int64_t Vid(const std::string& v) const;
  uint32_t AddVid(const std::string& v);
  // Points with one of the values of c (match value / any).
  Roaring AnyOf(const Condition& c) const;
  // Points holding every word of c (match text).
  Roaring AllWords(const Condition& c) const;
  // Points with a geo point in the shape of c.
  Roaring InShape(const Condition& c) const;
  // Points with an integer (or cell key) in one of the [lo, hi] ranges.
  Roaring InRanges(
      const std::vector<std::pair<int64_t, int64_t>>& ranges) const;
  // The cover of c's shape (db/geo.h).
  static GeoKeyRanges CoverOf(const Condition& c);
  // Points with a value of the index's type outside those of c (except).
  Roaring Except(const Condition& c) const;
  void AddValues(uint32_t iid, const FieldValues& v);
  void RemoveValues(uint32_t iid);
  void UpdateMulti(uint32_t iid);

  const std::string field_;
  const JsonPath path_;
  const FieldType type_;

  Roaring present_, null_;
  Roaring typed_;  // points with a value of the type
  Roaring multi_;  // points with two or more

  // kKeyword, kText (words)
  absl::flat_hash_map<std::string, uint32_t> dict_;
  std::vector<std::string> words_;  // by dictionary id
  std::vector<Roaring> postings_;   // by dictionary id
  std::vector<uint32_t> free_vids_;
  ForwardValues<uint32_t> fwd_vid_;
  // kInteger, kDatetime; kGeo: cell keys
  NumericIndex<int64_t> ints_;
  ForwardValues<int64_t> fwd_int_;
  // kGeo
  ForwardValues<GeoPoint> fwd_geo_;
  // kFloat
  NumericIndex<double> floats_;
  ForwardValues<double> fwd_float_;
  // kBool
  Roaring true_, false_;
};

}  // namespace dbimpl
}  // namespace tqdb

#endif  // TQDB_DB_FIELD_INDEX_H_
