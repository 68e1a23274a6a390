// Filters (db/filter.h): the JSON syntax and its errors, the query rules,
// and the evaluation over payload indexes against the reference semantics
// (db/payload_match.h evaluated on every stored payload) on random
// payloads and random filters, with and without indexes; Count and Scroll.
#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "db/db.h"
#include "db/filter_json.h"
#include "db/payload_match.h"
#include "gtest/gtest.h"
#include "quant/random.h"
#include "tests/db/db_test_util.h"

namespace tqdb {
namespace {

using dbtest::CreateIp;
using dbtest::OpenManual;
using dbtest::TempDir;
using dbtest::VectorFor;
using json = nlohmann::json;

Filter F(const std::string& text) {
  auto f = ParseFilterJson(text);
  EXPECT_TRUE(f.ok()) << text << ": " << f.status();
  return f.ok() ? *f : Filter();
}

std::string Error(const std::string& text) {
  auto f = ParseFilterJson(text);
  return f.ok() ? "ok" : std::string(f.status().message());
}

// ------------------------------------------------------------- JSON syntax

TEST(FilterJson, ParsesQdrantSyntaxAndPrintsItBack) {
  const std::string text =
      R"({"must": [{"key": "section", "match": {"value": "libs"}},
                   {"key": "size", "range": {"lt": 1000, "gte": null}},
                   {"key": "n", "match": {"value": 7}},
                   {"key": "ok", "match": {"value": true}},
                   {"is_empty": {"key": "a.b"}}, {"is_null": {"key": "c"}},
                   {"has_id": [1, 2, 3]},
                   {"should": [{"key": "t", "match": {"except": [1, 2]}}]}],
          "must_not": {"key": "tags", "match": {"any": ["role::doc"]}},
          "should": [], "min_should": 0})";
  const Filter f = F(text);
  ASSERT_EQ(f.must.size(), 8u);
  EXPECT_EQ(f.must[0].kind, Condition::Kind::kMatch);
  EXPECT_EQ(f.must[0].keyword, "libs");
  EXPECT_EQ(f.must[1].kind, Condition::Kind::kRange);
  EXPECT_EQ(*f.must[1].range.lt, 1000);
  EXPECT_FALSE(f.must[1].range.gte.has_value());
  EXPECT_EQ(f.must[2].value_type, Condition::ValueType::kInteger);
  EXPECT_EQ(f.must[2].integer, 7);
  EXPECT_EQ(f.must[3].value_type, Condition::ValueType::kBool);
  EXPECT_EQ(f.must[4].kind, Condition::Kind::kIsEmpty);
  EXPECT_EQ(f.must[4].key, "a.b");
  EXPECT_EQ(f.must[6].ids, (std::vector<uint64_t>{1, 2, 3}));
  ASSERT_EQ(f.must[7].kind, Condition::Kind::kFilter);
  EXPECT_EQ(f.must[7].filter->should[0].kind, Condition::Kind::kMatchExcept);
  EXPECT_EQ(f.must[7].filter->should[0].integers, (std::vector<int64_t>{1, 2}));
  ASSERT_EQ(f.must_not.size(), 1u);  // one condition instead of a list
  EXPECT_EQ(f.must_not[0].keywords, (std::vector<std::string>{"role::doc"}));
  // Printed and parsed again: the same filter.
  const json printed = FilterToJson(f);
  EXPECT_EQ(FilterToJson(F(printed.dump())), printed);
  // Qdrant's min_should object becomes a nested filter in must.
  const Filter m = F(R"({"min_should": {"conditions": [
      {"key": "a", "match": {"value": 1}}, {"key": "b", "match": {"value": 2}},
      {"key": "c", "match": {"value": 3}}], "min_count": 2}})");
  ASSERT_EQ(m.must.size(), 1u);
  EXPECT_EQ(m.must[0].filter->should.size(), 3u);
  EXPECT_EQ(m.must[0].filter->min_should, 2u);
}

TEST(FilterJson, ErrorsNameThePlaceInTheFilter) {
  EXPECT_EQ(Error(R"({"must": [{"key": "a", "match": {"value": 1}},
                              {"key": "b", "match": {"value": 1}},
                              {"key": "c", "range": {"gt": true}}]})"),
            "must[2].range.gt: expected a number, got a bool");
  EXPECT_EQ(Error(R"({"must": [{"key": "c", "range": {"gt": "x"}}]})"),
            "must[0].range.gt: expected an RFC 3339 datetime "
            "(2024-03-01T12:00:00Z), got 'x'");
  EXPECT_EQ(Error(R"({"must": [{"key": "a", "match": {"phrase": "x"}}]})"),
            "must[0].match.phrase: unknown operator 'phrase' (value, any, "
            "except, text, text_any)");
  EXPECT_EQ(Error(R"({"must": [{"key": "a", "match": {"text": ["x"]}}]})"),
            "must[0].match.text: expected a string, got an array");
  EXPECT_EQ(Error(R"({"should": [{"key": "a", "geo_distance": {}}]})"),
            "should[0].geo_distance: unknown operator (match, range, "
            "geo_radius, geo_bounding_box, geo_polygon, values_count)");
  EXPECT_EQ(Error(R"({"should": [{"key": "a", "geo_radius": {}}]})"),
            "should[0].geo_radius: center missing");
  EXPECT_EQ(Error(R"({"must": [{"key": "a", "match": {"value": 1.5}}]})"),
            "must[0].match.value: expected a string, an integer or a bool, "
            "got a number");
  EXPECT_EQ(Error(R"({"must": [{"key": "a", "match": {"any": ["x", 2]}}]})"),
            "must[0].match.any[1]: expected a string like the values before "
            "it, got an integer");
  EXPECT_EQ(Error(R"({"must": [{"has_id": [1, -2]}]})"),
            "must[0].has_id[1]: expected a non-negative integer id, got an "
            "integer");
  EXPECT_EQ(Error(R"({"must": [{"nest": {}}]})"),
            "must[0].nest: unknown operator (a condition is key + match, "
            "range, a geo shape or values_count, is_empty, is_null, has_id, "
            "nested, or a filter of must / should / must_not)");
  EXPECT_EQ(Error(R"({"must": [{"nested": {"key": "a"}}]})"),
            "must[0].nested.filter: missing");
  EXPECT_EQ(Error(R"({"must": [{"nested": {"key": "a", "filter": {"must":
                   [{"key": "b", "range": {"gt": "x"}}]}}}]})"),
            "must[0].nested.filter.must[0].range.gt: expected an RFC 3339 "
            "datetime (2024-03-01T12:00:00Z), got 'x'");
  EXPECT_EQ(Error(R"({"muts": []})"),
            "muts: unknown key (must, should, must_not, min_should)");
  EXPECT_EQ(Error(R"({"must": [{"key": "a", "match": {"value": 1},
                               "range": {"gt": 1}}]})"),
            "must[0]: a field condition takes one operator, got match and "
            "range");
  EXPECT_EQ(Error(R"({"must": [{"key": "a"}]})"),
            "must[0]: a field condition needs one of match, range, "
            "geo_radius, geo_bounding_box, geo_polygon, values_count");
  EXPECT_EQ(Error(R"({"must": [)"),
            "filter is not valid JSON: parse error at line 1, column 11: "
            "syntax error while parsing value - unexpected end of input; "
            "expected '[', '{', or a literal");
  std::string deep = R"({"key": "a", "match": {"value": 1}})";
  for (int i = 0; i < 17; ++i) deep = R"({"must": [)" + deep + "]}";
  EXPECT_EQ(Error(deep).substr(Error(deep).find(':')),
            ": filter nested deeper than 16");
}

// -------------------------------------------------------------- query rules

TEST(FilterRules, InvalidFiltersAreRefusedNamingThePath) {
  TempDir tmp;
  auto db = OpenManual(tmp.path());
  auto c = CreateIp(db.get(), "c", 4);
  ASSERT_TRUE(c->CreateFieldIndex("section", FieldType::kKeyword, true).ok());
  ASSERT_TRUE(c->CreateFieldIndex("size", FieldType::kInteger, true).ok());
  ASSERT_TRUE(c->CreateFieldIndex("w", FieldType::kFloat, true).ok());
  auto err = [&](const std::string& text) {
    auto r = c->Count(F(text));
    EXPECT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(r.status().message());
  };
  EXPECT_EQ(err(R"({"must": [{"key": "x", "match": {"value": 1}},
                             {"key": "section", "match": {"value": 5}}]})"),
            "must[1].match.value: field 'section' has a keyword index: "
            "expected a string");
  EXPECT_EQ(err(R"({"must": [{"key": "section", "range": {"gt": 5}}]})"),
            "must[0].range: field 'section' has a keyword index: range needs "
            "an integer or float index");
  EXPECT_EQ(err(R"({"should": [{"key": "size", "match": {"any": ["a"]}}]})"),
            "should[0].match.any: field 'size' has an integer index: expected "
            "integers");
  EXPECT_EQ(err(R"({"must": [{"key": "w", "match": {"value": 1}}]})"),
            "must[0].match.value: field 'w' has a float index: match needs a "
            "keyword, integer or bool index (a float index answers ranges)");
  EXPECT_EQ(err(R"({"must": [{"key": "a..b", "match": {"value": 1}}]})"),
            "must[0].key: malformed path 'a..b': empty key at byte 3");
  EXPECT_EQ(err(R"({"must_not": [{"is_null": {"key": "a["}}]})"),
            "must_not[0].is_null.key: malformed path 'a[': unclosed '[' at "
            "byte 2");
  EXPECT_EQ(err(R"({"must": [{"key": "size", "range": {}}]})"),
            "must[0].range: needs at least one of gt, gte, lt, lte");
  EXPECT_EQ(err(R"({"should": [{"key": "a", "match": {"value": 1}}],
                    "min_should": 2})"),
            "min_should: 2 exceeds the 1 should conditions");
  std::vector<int64_t> many(1001);
  Filter big;
  big.must.push_back(Condition::AnyInteger("size", many));
  auto r = c->Count(big);
  EXPECT_EQ(r.status().message(),
            "must[0].match.any: the filter has more than 1000 values");
  Filter deep;
  deep.must.push_back(Condition::Keyword("section", "x"));
  for (int i = 0; i < 16; ++i) {
    Filter up;
    up.must.push_back(Condition::Nested(deep));
    deep = up;
  }
  r = c->Count(deep);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("filter nested deeper than 16"),
            absl::string_view::npos)
      << r.status();
}

// ------------------------------------------- evaluation against the oracle

// A random payload with keyword, integer, float, bool, nested and array
// fields (each sometimes missing, null, empty or of another type).
std::string RandomPayload(Rng* rng) {
  const uint64_t form = rng->Uniform(40);
  if (form == 0) return "";
  if (form == 1) return "[1, 2]";
  if (form == 2) return "\"text\"";
  if (form == 3) return "{}";
  const char* words[] = {"a", "b", "c", "d", "e"};
  auto word = [&] { return std::string(words[rng->Uniform(5)]); };
  json p = json::object();
  const uint64_t s = rng->Uniform(20);
  if (s < 12) {
    p["s"] = word();
  } else if (s < 15) {
    json arr = json::array();
    for (uint64_t i = rng->Uniform(4); i > 0; --i) arr.push_back(word());
    p["s"] = arr;
  } else if (s == 15) {
    p["s"] = nullptr;
  } else if (s == 16) {
    p["s"] = 3;  // another type
  }
  const uint64_t n = rng->Uniform(20);
  if (n < 13) {
    p["n"] = static_cast<int64_t>(rng->Uniform(101)) - 50;
  } else if (n < 16) {
    p["n"] = {static_cast<int64_t>(rng->Uniform(101)) - 50,
              static_cast<int64_t>(rng->Uniform(101)) - 50};
  } else if (n == 16) {
    p["n"] = "12";
  }
  const uint64_t f = rng->Uniform(10);
  if (f < 6) {
    p["f"] = (static_cast<double>(rng->Uniform(2001)) - 1000) / 100;
  } else if (f < 8) {
    p["f"] = static_cast<int64_t>(rng->Uniform(21)) - 10;
  }
  const uint64_t b = rng->Uniform(10);
  if (b < 7) {
    p["b"] = rng->Uniform(2) == 1;
  } else if (b == 7) {
    p["b"] = {true, false};
  }
  const uint64_t t = rng->Uniform(10);
  if (t < 6) {
    json arr = json::array();
    for (uint64_t i = rng->Uniform(3); i > 0; --i) arr.push_back(word());
    p["t"] = arr;
  } else if (t == 6) {
    p["t"] = {nullptr};
  }
  const uint64_t o = rng->Uniform(10);
  auto obj = [&] {
    return json{{"x", word()}, {"y", static_cast<int64_t>(rng->Uniform(11))}};
  };
  if (o < 5) {
    p["o"] = obj();
  } else if (o < 8) {
    p["o"] = {obj(), obj()};
  }
  return p.dump();
}

// A random condition on the generator's fields, of each field's type.
Condition RandomCondition(Rng* rng, int depth, uint64_t max_id);

Filter RandomFilter(Rng* rng, int depth, uint64_t max_id) {
  Filter f;
  for (auto* group : {&f.must, &f.should, &f.must_not}) {
    for (uint64_t i = rng->Uniform(depth == 0 ? 3 : 2); i > 0; --i) {
      group->push_back(RandomCondition(rng, depth, max_id));
    }
  }
  if (f.should.size() > 1 && rng->Uniform(3) == 0) {
    f.min_should = 1 + static_cast<uint32_t>(rng->Uniform(f.should.size()));
  }
  return f;
}

Condition RandomCondition(Rng* rng, int depth, uint64_t max_id) {
  const char* words[] = {"a", "b", "c", "d", "e", "zz"};
  auto word = [&] { return std::string(words[rng->Uniform(6)]); };
  auto words_list = [&] {
    std::vector<std::string> w;
    for (uint64_t i = rng->Uniform(3) + 1; i > 0; --i) w.push_back(word());
    return w;
  };
  auto ints_list = [&](int64_t lo, int64_t n) {
    std::vector<int64_t> v;
    for (uint64_t i = rng->Uniform(3) + 1; i > 0; --i) {
      v.push_back(lo + static_cast<int64_t>(rng->Uniform(n)));
    }
    return v;
  };
  auto range = [&](double lo, double width) {
    Range r;
    const double a = lo + rng->Uniform(1000) * width / 1000;
    const double b = a + rng->Uniform(1000) * width / 2000;
    switch (rng->Uniform(4)) {
      case 0:
        r.gt = a;
        break;
      case 1:
        r.gte = a;
        r.lt = b;
        break;
      case 2:
        r.lte = b;
        break;
      default:
        r.gt = a;
        r.lte = b;
        break;
    }
    return r;
  };
  const char* keyword_keys[] = {"s", "t", "o.x", "o[].x"};
  switch (rng->Uniform(depth >= 2 ? 11 : 12)) {
    case 0:
      return Condition::Keyword(keyword_keys[rng->Uniform(4)], word());
    case 1:
      return Condition::AnyKeyword(keyword_keys[rng->Uniform(4)], words_list());
    case 2:
      return Condition::ExceptKeyword(keyword_keys[rng->Uniform(4)],
                                      words_list());
    case 3:
      return Condition::Integer("n",
                                static_cast<int64_t>(rng->Uniform(101)) - 50);
    case 4:
      return rng->Uniform(2)
                 ? Condition::AnyInteger("n", ints_list(-50, 101))
                 : Condition::ExceptInteger("o.y", ints_list(0, 11));
    case 5:
      return Condition::InRange("n", range(-60, 120));
    case 6:
      return Condition::InRange(rng->Uniform(2) ? "f" : "o.y", range(-12, 24));
    case 7:
      return Condition::Bool("b", rng->Uniform(2) == 1);
    case 8: {
      const char* keys[] = {"s", "n", "t", "o", "o.x", "missing"};
      return Condition::IsEmpty(keys[rng->Uniform(6)]);
    }
    case 9: {
      const char* keys[] = {"s", "t", "b", "o.x"};
      return Condition::IsNull(keys[rng->Uniform(4)]);
    }
    case 10: {
      std::vector<uint64_t> ids;
      for (uint64_t i = rng->Uniform(30) + 1; i > 0; --i) {
        ids.push_back(rng->Uniform(max_id + 5));
      }
      return Condition::HasId(ids);
    }
    default:
      return Condition::Nested(RandomFilter(rng, depth + 1, max_id));
  }
}

// The oracle: every stored point's payload through PayloadMatcher.
std::set<uint64_t> Oracle(const std::vector<Record>& points, const Filter& f) {
  auto m = PayloadMatcher::Compile(f);
  EXPECT_TRUE(m.ok());
  std::set<uint64_t> out;
  for (const Record& r : points) {
    const json j =
        r.payload.empty() ? json() : json::parse(r.payload, nullptr, false);
    const bool none = r.payload.empty() || j.is_discarded();
    if (m->Matches(none ? nullptr : &j, r.id)) out.insert(r.id);
  }
  return out;
}

std::set<uint64_t> ScrollAll(Collection* c, const Filter& f, uint32_t page) {
  std::set<uint64_t> out;
  ScrollOptions o;
  o.filter = std::make_shared<const Filter>(f);
  o.limit = page;
  o.with_payload = false;
  uint64_t last = 0;
  bool first = true;
  for (;;) {
    auto p = c->Scroll(o);
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) break;
    for (const Record& r : p->points) {
      EXPECT_TRUE(first || r.id > last) << "not in id order";
      first = false;
      last = r.id;
      out.insert(r.id);
    }
    if (!p->has_next) break;
    EXPECT_EQ(p->points.size(), page);
    o.offset = p->next_offset;
  }
  return out;
}

TEST(FilterEval, IndexedAndUnindexedEvaluationMatchTheReference) {
  TempDir tmp;
  auto db = OpenManual(tmp.path());
  auto plain = CreateIp(db.get(), "plain", 4);
  auto indexed = CreateIp(db.get(), "indexed", 4);
  Rng rng(77);
  const uint64_t n = 1500;
  std::vector<Point> pts;
  for (uint64_t id = 0; id < n; ++id) {
    pts.push_back({id * 3 + 1, VectorFor(id, 0, 4), RandomPayload(&rng)});
  }
  // Half of the indexes exist before the points, half are built over them.
  ASSERT_TRUE(indexed->CreateFieldIndex("s", FieldType::kKeyword, true).ok());
  ASSERT_TRUE(indexed->CreateFieldIndex("n", FieldType::kInteger, true).ok());
  ASSERT_TRUE(indexed->CreateFieldIndex("b", FieldType::kBool, true).ok());
  ASSERT_TRUE(plain->Upsert(pts, false).ok());
  ASSERT_TRUE(indexed->Upsert(pts, false).ok());
  ASSERT_TRUE(indexed->CreateFieldIndex("f", FieldType::kFloat, true).ok());
  ASSERT_TRUE(indexed->CreateFieldIndex("t", FieldType::kKeyword, true).ok());
  ASSERT_TRUE(indexed->CreateFieldIndex("o.x", FieldType::kKeyword, true).ok());
  ASSERT_TRUE(indexed->CreateFieldIndex("o.y", FieldType::kInteger, true).ok());
  // Updates and deletes after the indexes: entries follow the payloads.
  std::vector<Point> upd;
  std::vector<uint64_t> del;
  for (uint64_t id = 0; id < n; id += 7) {
    upd.push_back({id * 3 + 1, VectorFor(id, 1, 4), RandomPayload(&rng)});
  }
  for (uint64_t id = 3; id < n; id += 11) del.push_back(id * 3 + 1);
  for (Collection* c : {plain.get(), indexed.get()}) {
    ASSERT_TRUE(c->Upsert(upd, false).ok());
    ASSERT_TRUE(c->Delete(del, false).ok());
  }
  std::vector<uint64_t> all;
  for (uint64_t id = 0; id < n; ++id) all.push_back(id * 3 + 1);
  auto stored = plain->Get(all, false, true);
  ASSERT_TRUE(stored.ok());

  auto info = indexed->Info();
  ASSERT_TRUE(info.ok());
  ASSERT_EQ(info->field_indexes.size(), 7u);
  for (const FieldIndexInfo& fi : info->field_indexes) {
    EXPECT_TRUE(fi.ready) << fi.field;
    EXPECT_GT(fi.points, 0u) << fi.field;
    EXPECT_GT(fi.memory_bytes, 0u) << fi.field;
  }
  size_t nonempty = 0, checked = 0;
  for (int round = 0; round < 300; ++round) {
    const Filter f = RandomFilter(&rng, 0, n * 3);
    const std::set<uint64_t> want = Oracle(*stored, f);
    for (Collection* c : {plain.get(), indexed.get()}) {
      auto count = c->Count(f);
      ASSERT_TRUE(count.ok())
          << count.status() << " " << FilterToJson(f).dump();
      ASSERT_EQ(count->count, want.size())
          << c->config().name << ": " << FilterToJson(f).dump();
      for (const std::string& key : count->unindexed_fields) {
        // Only the keys without an index of their own.
        if (c == indexed.get()) {
          EXPECT_TRUE(key == "o[].x" || key == "o" || key == "missing") << key;
        }
      }
    }
    if (round % 10 == 0) {
      EXPECT_EQ(ScrollAll(indexed.get(), f, 37), want);
      EXPECT_EQ(ScrollAll(plain.get(), f, 500), want);
    }
    nonempty += !want.empty() && want.size() < stored->size();
    ++checked;
  }
  EXPECT_GT(nonempty, checked / 3);  // the filters were selective
  // After a reopen the indexes (read back from storage) answer the same.
  indexed.reset();
  plain.reset();
  ASSERT_TRUE(db->Close().ok());
  db = OpenManual(tmp.path());
  indexed = *db->GetCollection("indexed");
  for (int round = 0; round < 100; ++round) {
    const Filter f = RandomFilter(&rng, 0, n * 3);
    auto count = indexed->Count(f);
    ASSERT_TRUE(count.ok());
    ASSERT_EQ(count->count, Oracle(*stored, f).size())
        << FilterToJson(f).dump();
  }
}

TEST(FilterEval, UnindexedFieldsAreReportedAndMixedWithIndexedOnes) {
  TempDir tmp;
  auto db = OpenManual(tmp.path());
  auto c = CreateIp(db.get(), "c", 4);
  ASSERT_TRUE(c->CreateFieldIndex("lang", FieldType::kKeyword, true).ok());
  std::vector<Point> pts;
  for (uint64_t id = 0; id < 300; ++id) {
    json p = {{"lang", id % 3 == 0 ? "en" : "de"},
              {"year", 2000 + static_cast<int64_t>(id % 20)}};
    pts.push_back({id, VectorFor(id, 0, 4), p.dump()});
  }
  ASSERT_TRUE(c->Upsert(pts, false).ok());
  auto r = c->Count(F(R"({"must": [{"key": "lang", "match": {"value": "en"}},
      {"key": "year", "range": {"gte": 2010}}]})"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->count, 50u);
  EXPECT_EQ(r->unindexed_fields, (std::vector<std::string>{"year"}));
  r = c->Count(F(R"({"should": [{"key": "lang", "match": {"value": "en"}},
      {"key": "year", "match": {"value": 2001}}]})"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->count, 100u + 10u);  // ids % 3 == 0, or % 20 == 1 (not both)
  r = c->Count(F(R"({"must_not": [{"key": "year", "range": {"lt": 2019}}]})"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->count, 15u);
}

}  // namespace
}  // namespace tqdb
