#include "db/field_index.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace tqdb {
namespace dbimpl {

namespace {

// Adds a point's numbers to the forward values and the sorted index, each
// distinct value once (a payload array may repeat a value).
template <typename T>
void AddNumbers(const std::vector<T>& xs, uint32_t iid, ForwardValues<T>* fwd,
                NumericIndex<T>* sorted) {
  for (T x : xs) {
    bool have = false;
    fwd->ForEach(iid, [&](T y) { have |= y == x; });
    if (have) continue;
    fwd->Add(iid, x);
    sorted->Add(x, iid);
  }
}

// The union of parts (none: empty).
Roaring UnionOf(std::vector<const Roaring*> parts) {
  if (parts.empty()) return Roaring();
  if (parts.size() == 1) return *parts[0];
  return Roaring::fastunion(parts.size(), parts.data());
}

}  // namespace

// ------------------------------------------------------------- the index

FieldIndex::FieldIndex(std::string field, JsonPath path, FieldType type)
    : field_(std::move(field)),
      path_(std::move(path)),
      type_(type),
      ints_(&fwd_int_),
      floats_(&fwd_float_) {}

int64_t FieldIndex::Vid(const std::string& v) const {
  auto it = dict_.find(v);
  if (it == dict_.end()) return -1;
  return it->second;
}

uint32_t FieldIndex::AddVid(const std::string& v) {
  auto [it, inserted] = dict_.try_emplace(v, 0);
  if (!inserted) return it->second;
  uint32_t vid;
  if (!free_vids_.empty()) {
    vid = free_vids_.back();
    free_vids_.pop_back();
    words_[vid] = v;
  } else {
    vid = static_cast<uint32_t>(words_.size());
    words_.push_back(v);
    postings_.emplace_back();
  }
  it->second = vid;
  return vid;
}

FieldValues FieldIndex::Get(uint32_t iid) const {
  FieldValues v;
  v.present = present_.contains(iid);
  v.null = null_.contains(iid);
  switch (type_) {
    case FieldType::kKeyword:
    case FieldType::kText:
      fwd_vid_.ForEach(
          iid, [&](uint32_t vid) { v.keywords.push_back(words_[vid]); });
      std::sort(v.keywords.begin(), v.keywords.end());
      break;
    case FieldType::kInteger:
    case FieldType::kDatetime:
      fwd_int_.ForEach(iid, [&](int64_t x) { v.integers.push_back(x); });
      std::sort(v.integers.begin(), v.integers.end());
      break;
    case FieldType::kFloat:
      fwd_float_.ForEach(iid, [&](double x) { v.floats.push_back(x); });
      std::sort(v.floats.begin(), v.floats.end());
      break;
    case FieldType::kBool:
      if (false_.contains(iid)) v.bools.push_back(0);
      if (true_.contains(iid)) v.bools.push_back(1);
      break;
    case FieldType::kGeo:
      fwd_geo_.ForEach(iid, [&](const GeoPoint& p) { v.geo.push_back(p); });
      std::sort(v.geo.begin(), v.geo.end());
      break;
  }
  return v;
}

void FieldIndex::RemoveValues(uint32_t iid) {
  switch (type_) {
    case FieldType::kKeyword:
    case FieldType::kText:
      fwd_vid_.ForEach(iid, [&](uint32_t vid) {
        postings_[vid].remove(iid);
        if (postings_[vid].isEmpty()) {
          dict_.erase(words_[vid]);
          words_[vid].clear();
          free_vids_.push_back(vid);
        }
      });
      fwd_vid_.Clear(iid);
      break;
    case FieldType::kInteger:
    case FieldType::kDatetime:
      ints_.Erase(iid);
      fwd_int_.Clear(iid);
      break;
    case FieldType::kFloat:
      floats_.Erase(iid);
      fwd_float_.Clear(iid);
      break;
    case FieldType::kBool:
      true_.remove(iid);
      false_.remove(iid);
      break;
    case FieldType::kGeo:
      ints_.Erase(iid);
      fwd_int_.Clear(iid);
      fwd_geo_.Clear(iid);
      break;
  }
  typed_.remove(iid);
  multi_.remove(iid);
}

void FieldIndex::AddValues(uint32_t iid, const FieldValues& v) {
  switch (type_) {
    case FieldType::kKeyword:
    case FieldType::kText:
      for (const std::string& w : v.keywords) {
        const uint32_t vid = AddVid(w);
        if (postings_[vid].addChecked(iid)) fwd_vid_.Add(iid, vid);
      }
      break;
    case FieldType::kInteger:
    case FieldType::kDatetime:
      AddNumbers(v.integers, iid, &fwd_int_, &ints_);
      break;
    case FieldType::kFloat:
      AddNumbers(v.floats, iid, &fwd_float_, &floats_);
      break;
    case FieldType::kBool:
      for (uint8_t b : v.bools) (b ? true_ : false_).add(iid);
      break;
    case FieldType::kGeo: {
      std::vector<int64_t> cells;
      for (const GeoPoint& p : v.geo) {
        bool have = false;
        fwd_geo_.ForEach(iid, [&](const GeoPoint& q) { have |= q == p; });
        if (have) continue;
        fwd_geo_.Add(iid, p);
        cells.push_back(GeoCellKey(p));
      }
      AddNumbers(cells, iid, &fwd_int_, &ints_);
      break;
    }
  }
  UpdateMulti(iid);
}

void FieldIndex::UpdateMulti(uint32_t iid) {
  size_t n = 0;
  switch (type_) {
    case FieldType::kKeyword:
    case FieldType::kText:
      n = fwd_vid_.Count(iid);
      break;
    case FieldType::kInteger:
    case FieldType::kDatetime:
    case FieldType::kGeo:  // (several cells: several values to the index)
      n = fwd_int_.Count(iid);
      break;
    case FieldType::kFloat:
      n = fwd_float_.Count(iid);
      break;
    case FieldType::kBool:
      n = size_t{true_.contains(iid)} + size_t{false_.contains(iid)};
      break;
  }
  if (n > 0) typed_.add(iid);
  if (n > 1) multi_.add(iid);
}

void FieldIndex::Set(uint32_t iid, const FieldValues& v) {
  if (typed_.contains(iid)) RemoveValues(iid);  // else it holds none
  if (v.present) {
    present_.add(iid);
  } else {
    present_.remove(iid);
  }
  if (v.null) {
    null_.add(iid);
  } else {
    null_.remove(iid);
  }
  AddValues(iid, v);
}

void FieldIndex::Merge(uint32_t iid, const FieldValues& v) {
  if (v.present) present_.add(iid);
  if (v.null) null_.add(iid);
  AddValues(iid, v);
}

// ---------------------------------------------------------------- queries

Roaring FieldIndex::AnyOf(const Condition& c) const {
  using Kind = Condition::Kind;
  std::vector<const Roaring*> parts;
  if (type_ == FieldType::kKeyword || type_ == FieldType::kText) {
    auto add = [&](const std::string& w) {
      const int64_t vid = Vid(w);
      if (vid >= 0) parts.push_back(&postings_[vid]);
    };
    if (c.kind == Kind::kMatch) {
      add(c.keyword);
    } else {
      for (const std::string& w : c.keywords) add(w);
    }
  } else if (type_ == FieldType::kInteger) {
    std::vector<std::pair<int64_t, int64_t>> values;
    if (c.kind == Kind::kMatch) {
      values.emplace_back(c.integer, c.integer);
    } else {
      for (int64_t x : c.integers) values.emplace_back(x, x);
    }
    return InRanges(values);
  } else if (type_ == FieldType::kBool) {
    parts.push_back(c.boolean ? &true_ : &false_);
  }
  return UnionOf(parts);
}

Roaring FieldIndex::InRanges(
    const std::vector<std::pair<int64_t, int64_t>>& ranges) const {
  std::vector<Roaring> owned;
  owned.reserve(ranges.size());
  for (const auto& [lo, hi] : ranges)
    owned.push_back(ints_.Range(lo, hi, multi_));
  std::vector<const Roaring*> parts;
  for (const Roaring& r : owned) parts.push_back(&r);
  return UnionOf(parts);
}

// A point with one value: in the result iff that value is not listed; a
// point with several: iff one of them is not.
Roaring FieldIndex::Except(const Condition& c) const {
  Condition any = c;
  any.kind = Condition::Kind::kMatchAny;
  const Roaring listed = AnyOf(any);
  Roaring out = typed_ - listed;
  const Roaring check = multi_ & listed;
  for (uint32_t iid : check) {
    bool outside = false;
    if (type_ == FieldType::kKeyword) {
      fwd_vid_.ForEach(iid, [&](uint32_t vid) {
        outside |= std::find(c.keywords.begin(), c.keywords.end(),
                             words_[vid]) == c.keywords.end();
      });
    } else {
      fwd_int_.ForEach(iid, [&](int64_t x) {
        outside |= std::find(c.integers.begin(), c.integers.end(), x) ==
                   c.integers.end();
      });
    }
    if (outside) out.add(iid);
  }
  return out;
}

Roaring FieldIndex::AllWords(const Condition& c) const {
  std::vector<const Roaring*> parts;
  for (const std::string& w : c.keywords) {
    const int64_t vid = Vid(w);
    if (vid < 0) return Roaring();
    parts.push_back(&postings_[vid]);
  }
  if (parts.empty()) return Roaring();
  // The rarest word first: every intersection after it is at most its size.
  std::sort(parts.begin(), parts.end(), [](const Roaring* a, const Roaring* b) {
    return a->cardinality() < b->cardinality();
  });
  Roaring out = *parts[0];
  for (size_t i = 1; i < parts.size() && !out.isEmpty(); ++i) out &= *parts[i];
  return out;
}

bool FieldIndex::Answers(const Condition& c) const {
  using Kind = Condition::Kind;
  using VT = Condition::ValueType;
  switch (c.kind) {
    case Kind::kIsEmpty:
    case Kind::kIsNull:
      return true;
    case Kind::kMatch:
    case Kind::kMatchAny:
    case Kind::kMatchExcept:
      switch (c.value_type) {
        case VT::kKeyword:
          return type_ == FieldType::kKeyword;
        case VT::kInteger:
          return type_ == FieldType::kInteger;
        case VT::kBool:
          return type_ == FieldType::kBool && c.kind == Kind::kMatch;
      }
      return false;
    case Kind::kRange:
      return type_ == FieldType::kInteger || type_ == FieldType::kFloat;
    case Kind::kMatchText:
    case Kind::kMatchTextAny:
      return type_ == FieldType::kText;
    case Kind::kDatetimeRange:
      return type_ == FieldType::kDatetime;
    case Kind::kGeoRadius:
    case Kind::kGeoBox:
    case Kind::kGeoPolygon:
      return type_ == FieldType::kGeo;
    default:
      return false;
  }
}

GeoKeyRanges FieldIndex::CoverOf(const Condition& c) {
  switch (c.kind) {
    case Condition::Kind::kGeoRadius:
      return GeoCover(c.geo_radius);
    case Condition::Kind::kGeoBox:
      return GeoCover(c.geo_box);
    case Condition::Kind::kGeoPolygon:
      return c.geo_polygon == nullptr ? GeoKeyRanges()
                                      : GeoCover(*c.geo_polygon);
    default:
      return {};
  }
}

Roaring FieldIndex::InShape(const Condition& c) const {
  const Roaring near = InRanges(CoverOf(c));
  // The cells hold the shape and some of its surroundings: each point in
  // them is checked.
  Roaring out;
  for (uint32_t iid : near) {
    if (fwd_geo_.Any(iid,
                     [&](const GeoPoint& p) { return InGeoShape(c, p); })) {
      out.add(iid);
    }
  }
  return out;
}

Roaring FieldIndex::Evaluate(const Condition& c, const Roaring& live) const {
  using Kind = Condition::Kind;
  switch (c.kind) {
    case Kind::kIsEmpty:
      return live - present_;
    case Kind::kIsNull:
      return null_;
    case Kind::kMatch:
    case Kind::kMatchAny:
    case Kind::kMatchTextAny:
      return AnyOf(c);
    case Kind::kMatchText:
      return AllWords(c);
    case Kind::kMatchExcept:
      return Except(c);
    case Kind::kRange:
    case Kind::kDatetimeRange: {
      const Prepared p = Prepare(c);
      return type_ == FieldType::kFloat ? floats_.Range(p.flo, p.fhi, multi_)
                                        : ints_.Range(p.ilo, p.ihi, multi_);
    }
    case Kind::kGeoRadius:
    case Kind::kGeoBox:
    case Kind::kGeoPolygon:
      return InShape(c);
    default:
      return Roaring();
  }
}

uint64_t FieldIndex::Estimate(const Condition& c, uint64_t live) const {
  using Kind = Condition::Kind;
  switch (c.kind) {
    case Kind::kIsEmpty:
      return live - std::min(live, present_.cardinality());
    case Kind::kIsNull:
      return null_.cardinality();
    case Kind::kMatchExcept:
      return typed_.cardinality();
    case Kind::kMatchText: {
      uint64_t n = live;
      for (const std::string& w : c.keywords) {
        const int64_t vid = Vid(w);
        n = std::min(n, vid < 0 ? 0 : postings_[vid].cardinality());
      }
      return c.keywords.empty() ? 0 : n;
    }
    case Kind::kMatch:
    case Kind::kMatchAny:
    case Kind::kMatchTextAny: {
      uint64_t n = 0;
      if (type_ == FieldType::kKeyword || type_ == FieldType::kText) {
        auto add = [&](const std::string& w) {
          const int64_t vid = Vid(w);
          if (vid >= 0) n += postings_[vid].cardinality();
        };
        if (c.kind == Kind::kMatch) {
          add(c.keyword);
        } else {
          for (const std::string& w : c.keywords) add(w);
        }
      } else if (type_ == FieldType::kInteger) {
        if (c.kind == Kind::kMatch) {
          n = ints_.CountEntries(c.integer, c.integer);
        } else {
          for (int64_t x : c.integers) n += ints_.CountEntries(x, x);
        }
      } else if (type_ == FieldType::kBool) {
        n = (c.boolean ? true_ : false_).cardinality();
      }
      return std::min(n, live);
    }
    case Kind::kRange:
    case Kind::kDatetimeRange: {
      const Prepared p = Prepare(c);
      return std::min(type_ == FieldType::kFloat
                          ? floats_.CountEntries(p.flo, p.fhi)
                          : ints_.CountEntries(p.ilo, p.ihi),
                      live);
    }
    case Kind::kGeoRadius:
    case Kind::kGeoBox:
    case Kind::kGeoPolygon: {
      uint64_t n = 0;
      for (const auto& [lo, hi] : CoverOf(c)) n += ints_.CountEntries(lo, hi);
      return std::min(n, live);
    }
    default:
      return live;
  }
}

FieldIndex::Prepared FieldIndex::Prepare(const Condition& c) const {
  using Kind = Condition::Kind;
  Prepared p;
  p.cond = &c;
  if (type_ == FieldType::kKeyword || type_ == FieldType::kText) {
    auto add = [&](const std::string& w) {
      const int64_t vid = Vid(w);
      if (vid >= 0) {
        p.vids.push_back(static_cast<uint32_t>(vid));
      } else {
        p.unknown_word = true;
      }
    };
    if (c.kind == Kind::kMatch) {
      add(c.keyword);
    } else if (c.kind != Kind::kRange) {
      for (const std::string& w : c.keywords) add(w);
    }
    std::sort(p.vids.begin(), p.vids.end());
  } else if (c.kind == Kind::kRange && type_ == FieldType::kInteger) {
    IntegerBounds(c.range, &p.ilo, &p.ihi);
  } else if (c.kind == Kind::kDatetimeRange) {
    p.ilo = c.datetimes.lo;
    p.ihi = c.datetimes.hi;
  } else if (c.kind == Kind::kRange && type_ == FieldType::kFloat) {
    FloatBounds(c.range, &p.flo, &p.fhi);
  }
  return p;
}

bool FieldIndex::Check(uint32_t iid, const Prepared& p) const {
  using Kind = Condition::Kind;
  const Condition& c = *p.cond;
  auto listed_vid = [&](uint32_t vid) {
    return std::binary_search(p.vids.begin(), p.vids.end(), vid);
  };
  auto listed_int = [&](int64_t x) {
    if (c.kind == Kind::kMatch) return x == c.integer;
    return std::find(c.integers.begin(), c.integers.end(), x) !=
           c.integers.end();
  };
  switch (c.kind) {
    case Kind::kIsEmpty:
      return !present_.contains(iid);
    case Kind::kIsNull:
      return null_.contains(iid);
    case Kind::kMatch:
    case Kind::kMatchAny:
      switch (type_) {
        case FieldType::kKeyword:
          return fwd_vid_.Any(iid, listed_vid);
        case FieldType::kInteger:
          return fwd_int_.Any(iid, listed_int);
        case FieldType::kBool:
          return (c.boolean ? true_ : false_).contains(iid);
        default:
          return false;
      }
    case Kind::kMatchTextAny:
      return fwd_vid_.Any(iid, listed_vid);
    case Kind::kMatchText: {
      // A point's words are distinct: all are there when as many of its
      // words are listed as the text has.
      if (p.unknown_word || p.vids.empty()) return false;
      size_t n = 0;
      fwd_vid_.ForEach(iid, [&](uint32_t v) { n += listed_vid(v); });
      return n == p.vids.size();
    }
    case Kind::kMatchExcept:
      if (type_ == FieldType::kKeyword) {
        return fwd_vid_.Any(iid, [&](uint32_t v) { return !listed_vid(v); });
      }
      if (type_ == FieldType::kInteger) {
        return fwd_int_.Any(iid, [&](int64_t x) { return !listed_int(x); });
      }
      return false;
    case Kind::kRange:
    case Kind::kDatetimeRange:
      if (type_ == FieldType::kFloat) {
        return fwd_float_.Any(
            iid, [&](double x) { return x >= p.flo && x <= p.fhi; });
      }
      return fwd_int_.Any(iid,
                          [&](int64_t x) { return x >= p.ilo && x <= p.ihi; });
    case Kind::kGeoRadius:
    case Kind::kGeoBox:
    case Kind::kGeoPolygon:
      return fwd_geo_.Any(iid,
                          [&](const GeoPoint& g) { return InGeoShape(c, g); });
    default:
      return false;
  }
}

std::vector<FacetHit> FieldIndex::Facet(const Roaring* among) const {
  std::vector<FacetHit> out;
  auto hit = [&](FieldType type, uint64_t count) -> FacetHit& {
    out.emplace_back();
    out.back().type = type;
    out.back().count = count;
    return out.back();
  };
  switch (type_) {
    case FieldType::kKeyword: {
      std::vector<uint64_t> counts(words_.size(), 0);
      if (among == nullptr) {
        for (size_t vid = 0; vid < postings_.size(); ++vid) {
          counts[vid] = postings_[vid].cardinality();
        }
      } else if (among->cardinality() < words_.size()) {
        // Fewer points than values: read each point's values.
        for (uint32_t iid : *among) {
          fwd_vid_.ForEach(iid, [&](uint32_t vid) { ++counts[vid]; });
        }
      } else {
        for (size_t vid = 0; vid < postings_.size(); ++vid) {
          if (!postings_[vid].isEmpty()) {
            counts[vid] = postings_[vid].and_cardinality(*among);
          }
        }
      }
      for (size_t vid = 0; vid < counts.size(); ++vid) {
        if (counts[vid] > 0) hit(type_, counts[vid]).keyword = words_[vid];
      }
      break;
    }
    case FieldType::kInteger: {
      absl::flat_hash_map<int64_t, uint64_t> counts;
      const Roaring points = among == nullptr ? typed_ : typed_ & *among;
      for (uint32_t iid : points) {
        fwd_int_.ForEach(iid, [&](int64_t v) { ++counts[v]; });
      }
      for (const auto& [v, n] : counts) hit(type_, n).integer = v;
      break;
    }
    case FieldType::kBool: {
      const uint64_t f = among == nullptr ? false_.cardinality()
                                          : false_.and_cardinality(*among);
      const uint64_t t = among == nullptr ? true_.cardinality()
                                          : true_.and_cardinality(*among);
      if (f > 0) hit(type_, f).integer = 0;
      if (t > 0) hit(type_, t).integer = 1;
      break;
    }
    case FieldType::kFloat:
    case FieldType::kText:
    case FieldType::kDatetime:
    case FieldType::kGeo:
      break;
  }
  return out;
}

std::vector<std::pair<double, uint32_t>> FieldIndex::Numbers(
    const Roaring* among) const {
  std::vector<std::pair<double, uint32_t>> out;
  const bool ints =
      type_ == FieldType::kInteger || type_ == FieldType::kDatetime;
  if (!ints && type_ != FieldType::kFloat) return out;
  const Roaring points = among == nullptr ? typed_ : typed_ & *among;
  out.reserve(points.cardinality());
  for (uint32_t iid : points) {
    if (ints) {
      fwd_int_.ForEach(iid, [&](int64_t v) {
        out.emplace_back(static_cast<double>(v), iid);
      });
    } else {
      fwd_float_.ForEach(iid, [&](double v) { out.emplace_back(v, iid); });
    }
  }
  return out;
}

void FieldIndex::WalkNumbers(bool descending, std::optional<double> from,
                             const Roaring* among,
                             const PairsVisitor& f) const {
  if (type_ == FieldType::kFloat) {
    floats_.WalkBuckets(descending, from, among, f);
    return;
  }
  if (type_ != FieldType::kInteger && type_ != FieldType::kDatetime) return;
  // The integer bucket that holds the first value at or past `from` is at
  // or after the one holding floor(from) (ascending) and is the one
  // holding it (descending); the caller's cursor drops what precedes.
  std::optional<int64_t> start;
  if (from) {
    constexpr double kMax = 9.2e18;
    start = *from >= kMax    ? std::numeric_limits<int64_t>::max()
            : *from <= -kMax ? std::numeric_limits<int64_t>::min()
                             : static_cast<int64_t>(std::floor(*from));
  }
  std::vector<std::pair<double, uint32_t>> pairs;
  ints_.WalkBuckets(descending, start, among,
                    [&](const std::vector<std::pair<int64_t, uint32_t>>& in) {
                      pairs.clear();
                      for (const auto& [v, iid] : in) {
                        pairs.emplace_back(static_cast<double>(v), iid);
                      }
                      return f(pairs);
                    });
}

size_t FieldIndex::MemoryBytes() const {
  size_t bytes = present_.getSizeInBytes(false) + null_.getSizeInBytes(false) +
                 typed_.getSizeInBytes(false) + multi_.getSizeInBytes(false);
  switch (type_) {
    case FieldType::kKeyword:
    case FieldType::kText:
      for (const Roaring& p : postings_) {
        bytes += sizeof(Roaring) + p.getSizeInBytes(false);
      }
      for (const std::string& w : words_) bytes += sizeof(w) + w.capacity();
      bytes += dict_.capacity() * (sizeof(std::string) + sizeof(uint32_t));
      bytes += fwd_vid_.MemoryBytes();
      break;
    case FieldType::kInteger:
    case FieldType::kDatetime:
      bytes += ints_.MemoryBytes() + fwd_int_.MemoryBytes();
      break;
    case FieldType::kFloat:
      bytes += floats_.MemoryBytes() + fwd_float_.MemoryBytes();
      break;
    case FieldType::kBool:
      bytes += true_.getSizeInBytes(false) + false_.getSizeInBytes(false);
      break;
    case FieldType::kGeo:
      bytes +=
          ints_.MemoryBytes() + fwd_int_.MemoryBytes() + fwd_geo_.MemoryBytes();
      break;
  }
  return bytes;
}

}  // namespace dbimpl
}  // namespace tqdb
