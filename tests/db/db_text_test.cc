// Full-text conditions (match.text, match.text_any) and text payload
// indexes: the tokenizer's rules (db/text_words.h), and counts, scrolls and
// filtered searches against the matches the test takes from the payloads
// it wrote, evaluated on the payloads (no index), through the index, and
// point by point (a condition checked against a small candidate set);
// after deletes, payload updates and a reopen; and the errors.
#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "db/db.h"
#include "db/filter_json.h"
#include "db/text_words.h"
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
using Words = std::vector<std::string>;

constexpr uint32_t kDim = 8;

constexpr auto F = dbtest::ParsedFilter;

TEST(TextWordsTest, RunsOfLettersAndDigitsCaseFolded) {
  EXPECT_EQ(TextWords("Hello, World! hello"), (Words{"hello", "world"}));
  EXPECT_EQ(TextWords("snake_case-and.dots/x2 3D"),
            (Words{"3d", "and", "case", "dots", "snake", "x2"}));
  EXPECT_EQ(TextWords(""), Words{});
  EXPECT_EQ(TextWords("  ,;!? \t\n"), Words{});
  std::vector<std::string> ordered;
  AppendTextWords("b a b", &ordered);
  EXPECT_EQ(ordered, (Words{"b", "a", "b"}));
}

TEST(TextWordsTest, LettersOfOtherScriptsAndTheirCase) {
  // (This file is UTF-8, as the strings below.)
  // Latin-1, Latin Extended-A, Greek (tonos, final sigma), Cyrillic.
  EXPECT_EQ(TextWords("Ærø Café ÉCOLE"), (Words{"café", "ærø", "école"}));
  EXPECT_EQ(TextWords("ŁÓDŹ"), Words{"łódź"});
  EXPECT_EQ(TextWords("ΣΟΦΊΑ"), Words{"σοφία"});
  EXPECT_EQ(TextWords("οδος"), TextWords("ΟΔΟΣ"));
  EXPECT_EQ(TextWords("Москва Ё"), (Words{"москва", "ё"}));
  // The German sharp s has no one-letter capital: kept.
  EXPECT_EQ(TextWords("Straße"), Words{"straße"});
  // CJK: a run is one word; the ideographic full stop separates.
  EXPECT_EQ(TextWords("東京タワー。大阪"), (Words{"大阪", "東京タワー"}));
}

TEST(TextWordsTest, PunctuationSymbolsAndBadBytesSeparate) {
  // Em dash, curly quotes, ellipsis, times, euro, middle dot, no-break
  // space, an emoji.
  EXPECT_EQ(TextWords("a—b “c” d…e x×y €5 f·g\u00A0h fire🔥water"),
            (Words{"5", "a", "b", "c", "d", "e", "f", "fire", "g", "h", "water",
                   "x", "y"}));
  // Not UTF-8: a stray byte, a truncated sequence, an overlong encoding of
  // '/', a surrogate.
  EXPECT_EQ(TextWords("ab\xFF"
                      "cd e\xC3"),
            (Words{"ab", "cd", "e"}));
  EXPECT_EQ(TextWords("x\xC0\xAFy z\xED\xA0\x80w"),
            (Words{"w", "x", "y", "z"}));
}

TEST(TextWordsTest, LongWordsKeepTheirFirstBytes) {
  EXPECT_EQ(TextWords(std::string(300, 'a')),
            Words{std::string(kMaxWordBytes, 'a')});
  std::string e_acute, e_acute_kept;
  for (int i = 0; i < 100; ++i) e_acute += "É";  // 2 bytes
  for (size_t i = 0; i < kMaxWordBytes / 2; ++i) e_acute_kept += "é";
  EXPECT_EQ(TextWords(e_acute), Words{e_acute_kept});
  std::string east, east_kept;  // 3 bytes: whole characters only
  for (int i = 0; i < 50; ++i) east += "東";
  for (size_t i = 0; i < kMaxWordBytes / 3; ++i) east_kept += "東";
  EXPECT_EQ(TextWords(east), Words{east_kept});
  // The same cut in a query: a longer word matches the stored one.
  EXPECT_EQ(TextWords(std::string(200, 'a') + " b"),
            (Words{std::string(kMaxWordBytes, 'a'), "b"}));
}

// Titles of a few words from a small vocabulary, in varied case with
// punctuation: a string, an array of strings (with a number among them),
// null, a number, or absent. "the" is in most titles.
json RandomPayload(uint64_t id, Rng* rng) {
  const char* vocab[] = {"Red",  "green", "BLUE", "teal", "gold",
                         "plum", "Fox",   "dog",  "the",  "the"};
  const char* seps[] = {" ", ", ", "! ", " - ", "_", "."};
  auto title = [&]() {
    std::string t;
    const size_t n = 1 + rng->Uniform(5);
    for (size_t i = 0; i < n; ++i) {
      if (i > 0) t += seps[rng->Uniform(6)];
      t += vocab[rng->Uniform(10)];
    }
    return t;
  };
  json p = {{"shard", static_cast<int64_t>(id % 3)}};
  switch (rng->Uniform(8)) {
    case 0:
      break;
    case 1:
      p["title"] = nullptr;
      break;
    case 2:
      p["title"] = 7;
      break;
    case 3:
      p["title"] = json::array({title(), 5, title()});
      break;
    default:
      p["title"] = title();
  }
  return p;
}

// The words of a payload's title, cut by the test's own rule (its texts are
// ASCII): lowercase runs of letters and digits.
std::set<std::string> TitleWords(const json& p) {
  std::set<std::string> out;
  if (!p.contains("title")) return out;
  const json& t = p["title"];
  for (const json& x : t.is_array() ? t : json::array({t})) {
    if (!x.is_string()) continue;
    std::string w;
    for (char ch : x.get<std::string>() + " ") {
      if (std::isalnum(static_cast<unsigned char>(ch))) {
        w += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      } else if (!w.empty()) {
        out.insert(w);
        w.clear();
      }
    }
  }
  return out;
}

class TextFilterTest : public dbtest::PayloadCollectionTest {
 protected:
  TextFilterTest() : PayloadCollectionTest(kDim, 11) {}

  void SetUp() override {
    PayloadCollectionTest::SetUp();
    Write(0, 500);
  }

  json PayloadFor(uint64_t id, Rng* rng) override {
    return RandomPayload(id, rng);
  }

  // Ids of the points whose payload `keep` accepts.
  template <typename Keep>
  std::vector<uint64_t> Expected(Keep keep) const {
    std::vector<uint64_t> out;
    for (const auto& [id, p] : payloads_) {
      if (keep(id, TitleWords(p))) out.push_back(id);
    }
    return out;
  }

  // Every query, against the test's own matches.
  void CheckAll() {
    auto has = [](const std::set<std::string>& w, const char* x) {
      return w.count(x) > 0;
    };
    struct Case {
      const char* filter;
      std::function<bool(uint64_t, const std::set<std::string>&)> keep;
    };
    const std::vector<Case> cases = {
        {R"({"must": [{"key": "title", "match": {"text": "red"}}]})",
         [&](uint64_t, const auto& w) { return has(w, "red"); }},
        // Case and punctuation in the query do not matter; every word must
        // be there.
        {R"({"must": [{"key": "title", "match": {"text": "BLUE, fox!"}}]})",
         [&](uint64_t, const auto& w) {
           return has(w, "blue") && has(w, "fox");
         }},
        {R"({"must": [{"key": "title",
                       "match": {"text": "gold plum dog"}}]})",
         [&](uint64_t, const auto& w) {
           return has(w, "gold") && has(w, "plum") && has(w, "dog");
         }},
        // A word no title holds until a test writes it: nothing, or
        // (text_any) the other words.
        {R"({"must": [{"key": "title", "match": {"text": "red zebra"}}]})",
         [&](uint64_t, const auto& w) {
           return has(w, "red") && has(w, "zebra");
         }},
        {R"({"must": [{"key": "title",
                       "match": {"text_any": "zebra teal Gold"}}]})",
         [&](uint64_t, const auto& w) {
           return has(w, "zebra") || has(w, "teal") || has(w, "gold");
         }},
        // In must_not and should, and beside an unindexed condition.
        {R"({"must_not": [{"key": "title", "match": {"text": "the"}}]})",
         [&](uint64_t, const auto& w) { return !has(w, "the"); }},
        {R"({"should": [{"key": "title", "match": {"text": "fox dog"}},
                        {"key": "title", "match": {"text": "teal"}}],
             "must": [{"key": "shard", "match": {"value": 2}}]})",
         [&](uint64_t id, const auto& w) {
           return id % 3 == 2 &&
                  ((has(w, "fox") && has(w, "dog")) || has(w, "teal"));
         }},
    };
    for (const Case& c : cases) {
      SCOPED_TRACE(c.filter);
      const std::vector<uint64_t> want = Expected(c.keep);
      EXPECT_EQ(Matches(c.filter), want);
      // A filtered search returns matches only, as many as asked.
      QueryOptions q;
      q.k = 10;
      q.filter = F(c.filter);
      auto got = c_->Search(VectorFor(1000, 0, kDim), q);
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(got->size(), std::min<size_t>(10, want.size()));
      for (const Neighbor& n : *got) {
        EXPECT_TRUE(std::binary_search(want.begin(), want.end(), n.id)) << n.id;
      }
    }
    // One candidate (a has_id): a text condition whose estimate is more
    // than kCheckRatio times that is checked point by point, from the
    // index's per-point words.
    for (uint64_t id = 0; id < 120; ++id) {
      const auto w = payloads_.count(id) ? TitleWords(payloads_.at(id))
                                         : std::set<std::string>();
      const bool alive = payloads_.count(id) > 0;
      for (const auto& [text, want] :
           {std::make_pair(R"("text": "the red")",
                           alive && has(w, "the") && has(w, "red")),
            std::make_pair(R"("text_any": "plum fox")",
                           alive && (has(w, "plum") || has(w, "fox")))}) {
        const std::string filter =
            absl::StrCat(R"({"must": [{"has_id": [)", id,
                         R"(]}, {"key": "title", "match": {)", text, "}}]}");
        auto count = c_->Count(*F(filter));
        ASSERT_TRUE(count.ok()) << count.status();
        EXPECT_EQ(count->count, want ? 1u : 0u) << filter;
      }
    }
  }
};

TEST_F(TextFilterTest, WithoutAnIndexTheWordsOfThePayloads) {
  CheckAll();
  auto count = c_->Count(
      *F(R"({"must": [{"key": "title", "match": {"text": "red"}}]})"));
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(count->unindexed_fields, std::vector<std::string>{"title"});
}

TEST_F(TextFilterTest, ATextIndexAnswersTheSame) {
  auto info = c_->CreateFieldIndex("title", FieldType::kText, true);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->type, FieldType::kText);
  EXPECT_GT(info->points, 0u);
  CheckAll();
  auto count = c_->Count(
      *F(R"({"must": [{"key": "title", "match": {"text": "red"}}]})"));
  ASSERT_TRUE(count.ok());
  EXPECT_TRUE(count->unindexed_fields.empty());
}

TEST_F(TextFilterTest, TheIndexFollowsWritesAndAReopen) {
  ASSERT_TRUE(c_->CreateFieldIndex("title", FieldType::kText, true).ok());
  // Points written after the index, deleted by a text filter and by id,
  // and given new titles.
  Write(500, 200);
  PointSelector drop;
  drop.filter =
      F(R"({"must": [{"key": "title", "match": {"text": "plum teal"}}]})");
  auto deleted = c_->DeletePoints(drop, true);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_GT(*deleted, 0u);
  for (auto it = payloads_.begin(); it != payloads_.end();) {
    const auto w = TitleWords(it->second);
    it = w.count("plum") && w.count("teal") ? payloads_.erase(it)
                                            : std::next(it);
  }
  ASSERT_TRUE(c_->Delete({20, 21, 22}, true).ok());
  for (uint64_t id : {20, 21, 22}) payloads_.erase(id);
  PointSelector some;
  some.ids = {30, 31, 32, 33};
  const json patch = {{"title", "Zebra crossing, RED light"}};
  ASSERT_TRUE(c_->SetPayload(some, patch.dump(), true).ok());
  for (uint64_t id : some.ids) {
    if (payloads_.count(id)) payloads_[id]["title"] = patch["title"];
  }
  CheckAll();
  EXPECT_EQ(
      Matches(R"({"must": [{"key": "title", "match": {"text": "zebra"}}]})"),
      Expected([](uint64_t, const auto& w) { return w.count("zebra") > 0; }));
  ASSERT_NO_FATAL_FAILURE(Reopen());
  CheckAll();
  EXPECT_EQ(
      Matches(R"({"must": [{"key": "title", "match": {"text": "zebra"}}]})"),
      Expected([](uint64_t, const auto& w) { return w.count("zebra") > 0; }));
}

TEST_F(TextFilterTest, Errors) {
  auto error_of = [&](const std::string& filter) {
    auto f = ParseFilterJson(filter);
    if (!f.ok()) return f.status();
    return c_->Count(*f).status();
  };
  // A text without words; not a string.
  absl::Status s =
      error_of(R"({"must": [{"key": "title", "match": {"text": " ,! "}}]})");
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find("must[0].match.text: the text has no words"),
            std::string::npos)
      << s;
  s = error_of(R"({"must": [{"key": "title", "match": {"text_any": 5}}]})");
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find("match.text_any: expected a string"),
            std::string::npos)
      << s;
  // A text index answers text conditions only; text conditions need one
  // (or none).
  ASSERT_TRUE(c_->CreateFieldIndex("title", FieldType::kText, true).ok());
  ASSERT_TRUE(c_->CreateFieldIndex("shard", FieldType::kInteger, true).ok());
  s = error_of(R"({"must": [{"key": "title", "match": {"value": "red"}}]})");
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find("field 'title' has a text index: a text index "
                             "answers match text and text_any"),
            std::string::npos)
      << s;
  s = error_of(R"({"must": [{"key": "shard", "match": {"text": "red"}}]})");
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find("match text needs a text index"),
            std::string::npos)
      << s;
  // No facet counts of words.
  FacetOptions facet;
  facet.key = "title";
  EXPECT_TRUE(absl::IsFailedPrecondition(c_->Facet(facet).status()));
  // The index keeps its type.
  EXPECT_TRUE(absl::IsAlreadyExists(
      c_->CreateFieldIndex("title", FieldType::kKeyword, true).status()));
  EXPECT_EQ(FieldTypeName(FieldType::kText), std::string("text"));
  EXPECT_EQ(*ParseFieldType("text"), FieldType::kText);
}

TEST(TextFilterJsonTest, RoundTrips) {
  const std::string text =
      R"({"must": [{"key": "a.b", "match": {"text": "Hello, World"}}],
          "should": [{"key": "c", "match": {"text_any": "x y"}}]})";
  auto f = ParseFilterJson(text);
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_EQ(f->must.size(), 1u);
  EXPECT_EQ(f->must[0].kind, Condition::Kind::kMatchText);
  EXPECT_EQ(f->must[0].text, "Hello, World");
  EXPECT_EQ(f->must[0].keywords, (Words{"hello", "world"}));
  EXPECT_EQ(f->should[0].kind, Condition::Kind::kMatchTextAny);
  auto back = FilterFromJson(FilterToJson(*f));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(FilterToJson(*back), FilterToJson(*f));
}

}  // namespace
}  // namespace tqdb
