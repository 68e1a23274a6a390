// PayloadSelector (db/payload_select.h): cases by hand, stored bytes kept,
// errors, deep payloads, and random payloads and selectors against a
// reference written on parsed trees (nlohmann::ordered_json).
#include "db/payload_select.h"

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace tqdb {
namespace {

using ojson = nlohmann::ordered_json;

std::string Select(const std::string& payload,
                   const std::vector<std::string>& include,
                   const std::vector<std::string>& exclude = {}) {
  auto s = PayloadSelector::Make(include, exclude);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? s->Apply(payload) : "<error>";
}

TEST(PayloadSelectTest, IncludeAndExcludeByHand) {
  const std::string p =
      R"({"a": {"b": 1, "c": 2}, "d": 3, "e": [{"b": 4, "x": 5}, 6, {"x": 7},)"
      R"( [{"b": 8}]], "f": null})";
  EXPECT_EQ(Select(p, {"d"}), R"({"d":3})");
  EXPECT_EQ(Select(p, {"a.b"}), R"({"a":{"b":1}})");
  EXPECT_EQ(Select(p, {"a.b", "d"}), R"({"a":{"b":1},"d":3})");
  // Members come in stored order, whatever the selector's.
  EXPECT_EQ(Select(p, {"d", "a.c"}), R"({"a":{"c":2},"d":3})");
  // Arrays walked element by element; elements keeping nothing left out.
  EXPECT_EQ(Select(p, {"e.b"}), R"({"e":[{"b":4},[{"b":8}]]})");
  EXPECT_EQ(Select(p, {"e[].b"}), Select(p, {"e.b"}));
  EXPECT_EQ(Select(p, {"e.b", "e.x"}),
            R"({"e":[{"b":4,"x":5},{"x":7},[{"b":8}]]})");
  // A path that ends at a member keeps it whole; deeper paths add nothing.
  EXPECT_EQ(Select(p, {"a", "a.b"}), R"({"a":{"b": 1, "c": 2}})");
  EXPECT_EQ(Select(p, {"a.b", "a"}), R"({"a":{"b": 1, "c": 2}})");
  EXPECT_EQ(Select(p, {"f"}), R"({"f":null})");
  // Nothing selected: an empty object; a scalar where an object was
  // expected holds nothing.
  EXPECT_EQ(Select(p, {"zz"}), "{}");
  EXPECT_EQ(Select(p, {"d.b"}), "{}");
  // Exclude.
  EXPECT_EQ(
      Select(p, {}, {"a"}),
      R"({"d":3,"e":[{"b": 4, "x": 5}, 6, {"x": 7}, [{"b": 8}]],"f":null})");
  EXPECT_EQ(Select(p, {}, {"e.b", "a.c", "f"}),
            R"({"a":{"b":1},"d":3,"e":[{"x":5},6,{"x":7},[{}]]})");
  // Include, then exclude.
  EXPECT_EQ(Select(p, {"a", "d"}, {"a.b"}), R"({"a":{"c":2},"d":3})");
  // Payloads that are not objects; no payload.
  EXPECT_EQ(Select("[1, 2]", {"a"}), "");
  EXPECT_EQ(Select("\"text\"", {}, {"a"}), "\"text\"");
  EXPECT_EQ(Select("", {"a"}), "");
  EXPECT_EQ(Select("", {}, {"a"}), "");
  // No selector: every payload as stored.
  PayloadSelector all;
  EXPECT_TRUE(all.selects_all());
  EXPECT_EQ(all.Apply(p), p);
}

TEST(PayloadSelectTest, StoredBytesKeptAndKeysDecoded) {
  // Numbers, escapes and spacing inside a kept value stay as stored.
  const std::string p =
      "{ \"n\" : 1.50 , \"big\": 123456789012345678901234567890, \"s\": "
      "\"\\u00e9t\\u00e9 \\\"q\\\"\", \"o\": {\"k\" :  [1 ,2]}, "
      "\"a\\u002eb\": 7, \"a\": {\"b\": 8}, \"x\\\"y\": 9}";
  EXPECT_EQ(Select(p, {"n", "big"}),
            "{\"n\":1.50,\"big\":123456789012345678901234567890}");
  EXPECT_EQ(Select(p, {"s"}), "{\"s\":\"\\u00e9t\\u00e9 \\\"q\\\"\"}");
  EXPECT_EQ(Select(p, {"o"}), "{\"o\":{\"k\" :  [1 ,2]}}");
  // A key with an escaped dot is member "a.b": a quoted path names it, a
  // dotted one walks into member a.
  EXPECT_EQ(Select(p, {"\"a.b\""}), "{\"a\\u002eb\":7}");
  EXPECT_EQ(Select(p, {"a.b"}), "{\"a\":{\"b\":8}}");
  EXPECT_EQ(Select(p, {}, {"\"a.b\"", "n", "big", "s", "o", "a"}),
            "{\"x\\\"y\":9}");
}

TEST(PayloadSelectTest, Errors) {
  auto bad = [](const std::vector<std::string>& include,
                const std::vector<std::string>& exclude) {
    auto s = PayloadSelector::Make(include, exclude);
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(s.status().message());
  };
  EXPECT_EQ(bad({"a", "b..c"}, {}),
            "include[1]: malformed path 'b..c': empty key at byte 3");
  EXPECT_EQ(bad({}, {"a[2].b"}),
            "exclude[0]: 'a[2].b': a selector walks every element of an array "
            "([]), it takes no element index [N]");
  EXPECT_EQ(bad({}, {""}), "exclude[0]: malformed path '': empty");
  std::vector<std::string> many(kMaxSelectorPaths + 1, "a");
  EXPECT_EQ(bad(many, {}),
            absl::StrCat("a payload selector takes at most ", kMaxSelectorPaths,
                         " paths, got ", kMaxSelectorPaths + 1));
}

TEST(PayloadSelectTest, DeepPayloadsCostTheSelectorsDepth) {
  // 200,000 nested arrays: the walk stops kMaxArrayNesting arrays deep
  // (include: nothing there; exclude: kept as stored).
  const size_t depth = 200000;
  const std::string deep =
      std::string(depth, '[') + "{\"b\": 1}" + std::string(depth, ']');
  const std::string p = absl::StrCat("{\"a\": ", deep, ", \"c\": 2}");
  EXPECT_EQ(Select(p, {"a.b", "c"}), "{\"c\":2}");
  EXPECT_EQ(Select(p, {}, {"a.b"}), absl::StrCat("{\"a\":", deep, ",\"c\":2}"));
  EXPECT_EQ(Select(p, {"a"}), absl::StrCat("{\"a\":", deep, "}"));
  // Within the limit, arrays of arrays are walked.
  const std::string shallow = std::string(kMaxArrayNesting, '[') +
                              "{\"b\": 1, \"x\": 0}" +
                              std::string(kMaxArrayNesting, ']');
  EXPECT_EQ(Select(absl::StrCat("{\"a\": ", shallow, "}"), {"a.b"}),
            absl::StrCat("{\"a\":", std::string(kMaxArrayNesting, '['),
                         "{\"b\":1}", std::string(kMaxArrayNesting, ']'), "}"));
}

// The reference: the same rules on parsed trees.
struct Trie {
  bool whole = false;
  std::map<std::string, Trie> children;
};
void Add(Trie* t, const std::vector<std::string>& names) {
  for (const std::string& n : names) {
    if (t->whole) return;
    t = &t->children[n];
  }
  t->whole = true;
  t->children.clear();
}
bool RefInclude(const ojson& v, const Trie& t, size_t arrays, ojson* out) {
  if (v.is_object()) {
    ojson o = ojson::object();
    for (auto it = v.begin(); it != v.end(); ++it) {
      auto c = t.children.find(it.key());
      if (c == t.children.end()) continue;
      ojson part;
      if (c->second.whole) {
        o[it.key()] = it.value();
      } else if (RefInclude(it.value(), c->second, arrays, &part)) {
        o[it.key()] = part;
      }
    }
    if (o.empty()) return false;
    *out = o;
    return true;
  }
  if (v.is_array() && arrays < kMaxArrayNesting) {
    ojson a = ojson::array();
    for (const ojson& e : v) {
      ojson part;
      if (RefInclude(e, t, arrays + 1, &part)) a.push_back(part);
    }
    if (a.empty()) return false;
    *out = a;
    return true;
  }
  return false;
}
ojson RefExclude(const ojson& v, const Trie& t, size_t arrays) {
  if (v.is_object()) {
    ojson o = ojson::object();
    for (auto it = v.begin(); it != v.end(); ++it) {
      auto c = t.children.find(it.key());
      if (c == t.children.end()) {
        o[it.key()] = it.value();
      } else if (!c->second.whole) {
        o[it.key()] = RefExclude(it.value(), c->second, arrays);
      }
    }
    return o;
  }
  if (v.is_array() && arrays < kMaxArrayNesting) {
    ojson a = ojson::array();
    for (const ojson& e : v) a.push_back(RefExclude(e, t, arrays + 1));
    return a;
  }
  return v;
}

TEST(PayloadSelectTest, RandomPayloadsAgainstTrees) {
  std::mt19937 rng(71);
  const char* const names[] = {"a", "b", "c", "d"};
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  std::function<ojson(int)> value = [&](int depth) -> ojson {
    const size_t kind = depth >= 4 ? pick(3) : pick(6);
    if (kind == 0) return static_cast<int>(pick(100));
    if (kind == 1) return std::string(1 + pick(3), 'x');
    if (kind == 2) return nullptr;
    if (kind == 3) {
      ojson a = ojson::array();
      for (size_t i = pick(4); i > 0; --i) a.push_back(value(depth + 1));
      return a;
    }
    ojson o = ojson::object();
    for (size_t i = pick(4); i > 0; --i) o[names[pick(4)]] = value(depth + 1);
    return o;
  };
  auto path = [&](std::vector<std::string>* members) {
    std::string text;
    for (size_t i = 1 + pick(3); i > 0; --i) {
      members->push_back(names[pick(4)]);
      absl::StrAppend(&text, text.empty() ? "" : ".", members->back(),
                      pick(4) == 0 ? "[]" : "");
    }
    return text;
  };
  size_t nonempty = 0;
  for (int round = 0; round < 3000; ++round) {
    ojson doc = ojson::object();
    for (size_t i = 1 + pick(4); i > 0; --i) doc[names[pick(4)]] = value(1);
    std::vector<std::string> include, exclude;
    Trie inc, exc;
    for (size_t i = pick(3); i > 0; --i) {
      std::vector<std::string> m;
      include.push_back(path(&m));
      Add(&inc, m);
    }
    for (size_t i = pick(3); i > 0; --i) {
      std::vector<std::string> m;
      exclude.push_back(path(&m));
      Add(&exc, m);
    }
    ojson want = doc;
    if (!include.empty() && !RefInclude(doc, inc, 0, &want)) {
      want = ojson::object();
    }
    if (!exclude.empty()) want = RefExclude(want, exc, 0);
    // Stored with spacing (dump(1)) and without.
    for (const std::string& stored : {doc.dump(), doc.dump(1)}) {
      const std::string got = Select(stored, include, exclude);
      const ojson parsed = ojson::parse(got, nullptr, false);
      ASSERT_FALSE(parsed.is_discarded()) << got;
      ASSERT_EQ(parsed, want)
          << "payload " << stored << " include " << ojson(include)
          << " exclude " << ojson(exclude);
    }
    if (!want.empty() && want != doc) ++nonempty;
  }
  EXPECT_GT(nonempty, 400u);  // a proper, non-empty part in many rounds
}

}  // namespace
}  // namespace tqdb
