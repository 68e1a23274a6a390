// Numeric payload indexes (db/numeric_index.h through db/field_index.h)
// against a brute-force reference: ranges and matches over enough points to
// split buckets and build the coarse layer, with repeated values (pure
// buckets), points holding several values, updates, removals and values
// drifting upwards (the layer rebuilt); estimates never below the truth;
// per-point checks agreeing with the bitmaps.
#include "db/field_index.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "db/filter_eval.h"
#include "db/id_map.h"
#include "db/json_path.h"
#include "gtest/gtest.h"
#include "quant/random.h"

namespace tqdb {
namespace dbimpl {
namespace {

// The values of every point, as the index should hold them.
using Reference = std::map<uint32_t, std::vector<double>>;

FieldValues ValuesOf(const std::vector<double>& v, FieldType type) {
  FieldValues out;
  out.present = !v.empty();
  for (double x : v) {
    if (type == FieldType::kInteger) {
      out.integers.push_back(static_cast<int64_t>(x));
    } else {
      out.floats.push_back(x);
    }
  }
  std::sort(out.integers.begin(), out.integers.end());
  out.integers.erase(std::unique(out.integers.begin(), out.integers.end()),
                     out.integers.end());
  std::sort(out.floats.begin(), out.floats.end());
  out.floats.erase(std::unique(out.floats.begin(), out.floats.end()),
                   out.floats.end());
  return out;
}

class NumericFieldTest : public ::testing::TestWithParam<FieldType> {
 protected:
  NumericFieldTest()
      : index_("x", *JsonPath::Parse("x"), GetParam()), rng_(1234) {}

  double Draw() {
    const uint64_t kind = rng_.Uniform(10);
    if (kind < 3) return static_cast<double>(rng_.Uniform(5)) * 1000;  // few
    if (kind < 4) return -static_cast<double>(rng_.Uniform(1000000));
    double v = static_cast<double>(rng_.Uniform(1u << 30));
    if (GetParam() == FieldType::kFloat) v += rng_.Uniform(1000) / 1000.0;
    return v;
  }
  void Put(uint32_t iid, std::vector<double> v) {
    index_.Set(iid, ValuesOf(v, GetParam()));
    if (v.empty()) {
      ref_.erase(iid);
    } else {
      ref_[iid] = std::move(v);
    }
  }
  std::vector<double> Several() {
    std::vector<double> v = {Draw()};
    if (rng_.Uniform(20) == 0) {  // 5%: two or three values
      for (uint64_t i = 0, n = 1 + rng_.Uniform(2); i < n; ++i) {
        v.push_back(Draw());
      }
    }
    return v;
  }

  // The index against the reference on one range.
  void Expect(double lo, double hi, const std::string& what) {
    Condition c;
    c.kind = Condition::Kind::kRange;
    c.key = "x";
    c.range.gte = lo;
    c.range.lte = hi;
    std::vector<uint32_t> want;
    uint64_t pairs = 0;
    for (const auto& [iid, values] : ref_) {
      bool in = false;
      for (double x : values) {
        const bool hit = x >= lo && x <= hi;
        in |= hit;
        pairs += hit;
      }
      if (in) want.push_back(iid);
    }
    Roaring live;
    for (const auto& [iid, v] : ref_) live.add(iid);
    const Roaring got = index_.Evaluate(c, live);
    std::vector<uint32_t> have;
    for (uint32_t iid : got) have.push_back(iid);
    ASSERT_EQ(have, want) << what << " [" << lo << ", " << hi << "]";
    EXPECT_GE(index_.Estimate(c, live.cardinality()), want.size()) << what;
    EXPECT_LE(index_.Estimate(c, live.cardinality()), pairs) << what;
    const FieldIndex::Prepared p = index_.Prepare(c);
    for (int i = 0; i < 50; ++i) {
      const uint32_t iid = static_cast<uint32_t>(rng_.Uniform(universe_));
      if (!live.contains(iid)) continue;
      EXPECT_EQ(index_.Check(iid, p), got.contains(iid)) << what << " " << iid;
    }
  }
  void Queries(const std::string& what) {
    std::vector<double> all;
    for (const auto& [iid, v] : ref_) all.insert(all.end(), v.begin(), v.end());
    std::sort(all.begin(), all.end());
    ASSERT_FALSE(all.empty());
    for (int q = 0; q < 60; ++q) {
      // Bounds at values held (inclusive edges), between them, and past
      // both ends; every width from one value to everything.
      double a = all[rng_.Uniform(all.size())];
      double b = all[rng_.Uniform(all.size())];
      if (a > b) std::swap(a, b);
      switch (q % 6) {
        case 0:
          b = a;  // one value
          break;
        case 1:
          a -= 0.5;
          b += 0.5;
          break;
        case 2:
          a = all.front() - 1;
          break;
        case 3:
          b = all.back() + 1;
          break;
        case 4:
          a = all.front();
          b = all.back();
          break;
        default:
          break;
      }
      Expect(a, b, what);
      if (HasFailure()) return;
    }
    Expect(1, 0, what + " (empty)");
  }

  FieldIndex index_;
  Rng rng_;
  Reference ref_;
  uint32_t universe_ = 0;
};

TEST_P(NumericFieldTest, RangesMatchTheReferenceThroughSplitsAndLayers) {
  // Below the layer's threshold, then past it (bins, their bitmaps).
  universe_ = 20000;
  for (uint32_t iid = 0; iid < universe_; ++iid) Put(iid, Several());
  Queries("20k points, buckets only");
  universe_ = 90000;
  for (uint32_t iid = 20000; iid < universe_; ++iid) Put(iid, Several());
  Queries("90k points, with the layer");
  // Updates and removals, in place (the layer kept, not rebuilt).
  for (int i = 0; i < 15000; ++i) {
    const uint32_t iid = static_cast<uint32_t>(rng_.Uniform(universe_));
    Put(iid, rng_.Uniform(3) == 0 ? std::vector<double>{} : Several());
  }
  Queries("after updates and removals");
  // Values drifting upwards (timestamps): one bin takes them all until
  // the layer is rebuilt.
  const double top = 2.0 * (1u << 30);
  for (uint32_t i = 0; i < 40000; ++i) {
    Put(universe_ + i, {top + i});
  }
  universe_ += 40000;
  Queries("after drifting values");
  // Most points gone: the layer dropped, buckets emptied.
  for (uint32_t iid = 0; iid < universe_; ++iid) {
    if (iid % 16 != 0) Put(iid, {});
  }
  Queries("after removing most points");
}

INSTANTIATE_TEST_SUITE_P(IntegerAndFloat, NumericFieldTest,
                         ::testing::Values(FieldType::kInteger,
                                           FieldType::kFloat),
                         [](const auto& info) {
                           return std::string(FieldTypeName(info.param));
                         });

// Which conditions each type of index answers; the others are read from
// the payloads (an index made after the filter was checked).
TEST(FieldIndexAnswers, ConditionsOfItsType) {
  const std::vector<std::pair<std::string, Condition>> conditions = {
      {"keyword", Condition::Keyword("f", "x")},
      {"any keywords", Condition::AnyKeyword("f", {"x"})},
      {"except keywords", Condition::ExceptKeyword("f", {"x"})},
      {"integer", Condition::Integer("f", 1)},
      {"any integers", Condition::AnyInteger("f", {1})},
      {"except integers", Condition::ExceptInteger("f", {1})},
      {"bool", Condition::Bool("f", true)},
      {"range", Condition::InRange("f", Range{1.0, {}, {}, {}})},
      {"text", Condition::Text("f", "x y")},
      {"text_any", Condition::TextAny("f", "x y")},
      {"datetime range", *Condition::InDatetimeRange(
                             "f", DatetimeRange{{}, "2024-01-01", {}, {}})},
      {"geo radius", *Condition::InGeoRadius("f", {{1, 2}, 10})},
      {"geo box", *Condition::InGeoBox("f", {{1, 2}, {3, 1}})},
      {"geo polygon",
       *Condition::InGeoPolygon("f", {{{0, 0}, {1, 0}, {1, 1}, {0, 0}}, {}})},
      {"values_count", Condition::ValuesCount("f", {1, {}, {}, {}})},
      {"is_empty", Condition::IsEmpty("f")},
      {"is_null", Condition::IsNull("f")},
  };
  const std::map<FieldType, std::set<std::string>> answers = {
      {FieldType::kKeyword, {"keyword", "any keywords", "except keywords"}},
      {FieldType::kInteger,
       {"integer", "any integers", "except integers", "range"}},
      {FieldType::kFloat, {"range"}},
      {FieldType::kBool, {"bool"}},
      {FieldType::kText, {"text", "text_any"}},
      {FieldType::kDatetime, {"datetime range"}},
      {FieldType::kGeo, {"geo radius", "geo box", "geo polygon"}},
  };
  for (const auto& [type, own] : answers) {
    FieldIndex index("f", *JsonPath::Parse("f"), type);
    for (const auto& [name, c] : conditions) {
      const bool want =
          own.count(name) > 0 || name == "is_empty" || name == "is_null";
      EXPECT_EQ(index.Answers(c), want) << FieldTypeName(type) << " " << name;
    }
  }
}

// A filter whose field has an index that does not answer its condition
// (made after the check): decided on the payloads, not by the index.
TEST(FieldIndexAnswers, AnIndexOfAnotherTypeIsPassedOver) {
  IdMap ids;
  Roaring live;
  FieldIndex keyword("title", *JsonPath::Parse("title"), FieldType::kKeyword);
  const std::vector<std::string> titles = {"red fox", "red", "blue fox"};
  for (uint64_t id = 0; id < titles.size(); ++id) {
    const uint32_t iid = ids.Assign(id);
    live.add(iid);
    const nlohmann::json p = {{"title", titles[id]}};
    keyword.Set(iid, ExtractField(&p, keyword.path(), FieldType::kKeyword));
  }
  ids.EndWrite();
  IndexView view{&ids, &live, [&](const std::string& field) {
                   return field == "title" ? &keyword : nullptr;
                 }};
  Filter f;
  f.must.push_back(Condition::Text("title", "red"));
  auto r = FilterResult::Evaluate(std::make_shared<const Filter>(f), view);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_FALSE(r->complete());
  EXPECT_EQ(r->unindexed_fields(), std::vector<std::string>{"title"});
  for (size_t i = 0; i < r->candidates().size(); ++i) {
    const nlohmann::json p = {{"title", titles[r->candidates()[i].second]}};
    r->Decide(i, &p);
  }
  r->Finish();
  EXPECT_EQ(r->ids().cardinality(), 2u);  // "red fox", "red"
  EXPECT_TRUE(r->ids().contains(ids.Find(0)));
  EXPECT_TRUE(r->ids().contains(ids.Find(1)));
}

}  // namespace
}  // namespace dbimpl
}  // namespace tqdb
