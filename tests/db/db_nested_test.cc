// Qdrant's nested object filter ({"nested": {"key": K, "filter": F}}):
// some element of the array at K matches all of F, against the test's own
// reading of the payloads it wrote, beside the flat "K[].x" conditions
// (which two elements may meet), with payload indexes on the collection
// (whose fields the element's keys are not), after a reopen; and errors.
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "db/filter_json.h"
#include "gtest/gtest.h"
#include "tests/db/db_test_util.h"

namespace tqdb {
namespace {

using json = nlohmann::json;

constexpr uint32_t kDim = 8;
const char* const kFoods[] = {"meat", "fish", "rice", "kale"};

struct Dish {
  std::string food;
  bool likes;
  int64_t grams;
};

class NestedFilterTest : public dbtest::PayloadCollectionTest {
 protected:
  NestedFilterTest() : PayloadCollectionTest(kDim, 29) {}

  void SetUp() override {
    PayloadCollectionTest::SetUp();
    Write(0, 600);
  }

  // "diet": 0-4 dishes (sometimes a non-object among them, or no array);
  // "food": a top-level integer, unrelated to the dishes' "food".
  json PayloadFor(uint64_t id, Rng* rng) override {
    std::vector<Dish>& mine = diets_[id];
    mine.clear();
    json p = {{"food", static_cast<int64_t>(id % 7)}};
    const uint64_t n = rng->Uniform(6);
    if (n == 5) {  // an object, not an array: no elements
      p["diet"] = {{"food", "tofu"}, {"likes", true}, {"grams", 100}};
      return p;
    }
    p["diet"] = json::array();
    for (uint64_t i = 0; i < n; ++i) {
      Dish d{kFoods[rng->Uniform(4)], rng->Uniform(2) == 1,
             static_cast<int64_t>(rng->Uniform(400))};
      p["diet"].push_back(
          {{"food", d.food}, {"likes", d.likes}, {"grams", d.grams}});
      mine.push_back(d);
    }
    if (rng->Uniform(4) == 0) p["diet"].push_back("not a dish");
    return p;
  }

  template <typename Pred>
  std::vector<uint64_t> Where(Pred pred) const {
    std::vector<uint64_t> ids;
    for (const auto& [id, dishes] : diets_) {
      if (pred(dishes)) ids.push_back(id);
    }
    return ids;
  }

  void CheckAll() {
    for (const char* food : kFoods) {
      // One dish both of that food and liked, and above 100 g unless not.
      const std::string liked = absl::StrCat(
          R"({"nested": {"key": "diet", "filter": {"must": [{"key": "food",
              "match": {"value": ")",
          food, R"("}}, {"key": "likes", "match": {"value": true}}],
              "must_not": [{"key": "grams", "range": {"lte": 100}}]}}})");
      const auto want = Where([&](const std::vector<Dish>& ds) {
        for (const Dish& d : ds) {
          if (d.food == food && d.likes && d.grams > 100) return true;
        }
        return false;
      });
      ExpectMatches(liked, want);
      // The flat conditions may meet in two dishes: more matches.
      const std::string flat = absl::StrCat(
          R"({"must": [{"key": "diet[].food", "match": {"value": ")", food,
          R"("}}, {"key": "diet[].likes", "match": {"value": true}}]})");
      const auto loose = Where([&](const std::vector<Dish>& ds) {
        bool f = false, l = false;
        for (const Dish& d : ds) {
          f |= d.food == food;
          l |= d.likes;
        }
        return f && l;
      });
      EXPECT_EQ(Matches(flat), loose) << flat;
      EXPECT_LT(want.size(), loose.size()) << food;
      EXPECT_GT(want.size(), 10u) << food;
    }
    // Beside other conditions, and under must_not.
    ExpectMatches(
        R"({"must_not": [{"nested": {"key": "diet", "filter": {"should": [
            {"key": "likes", "match": {"value": false}}]}}}]})",
        Where([](const std::vector<Dish>& ds) {
          for (const Dish& d : ds) {
            if (!d.likes) return false;
          }
          return true;
        }));
  }

  std::map<uint64_t, std::vector<Dish>> diets_;
};

TEST_F(NestedFilterTest, OneElementMeetsTheWholeFilter) {
  CheckAll();
  // A top-level "food" integer index and a keyword index on the dishes'
  // foods: the element's "food" is neither.
  ASSERT_TRUE(c_->CreateFieldIndex("food", FieldType::kInteger, true).ok());
  ASSERT_TRUE(
      c_->CreateFieldIndex("diet[].food", FieldType::kKeyword, true).ok());
  CheckAll();
  Write(550, 100);
  ASSERT_NO_FATAL_FAILURE(Reopen());
  CheckAll();
}

TEST_F(NestedFilterTest, Errors) {
  auto error_of = [&](const std::string& filter) {
    auto f = ParseFilterJson(filter);
    if (!f.ok()) return f.status();
    return c_->Count(*f).status();
  };
  absl::Status s = error_of(
      R"({"must": [{"nested": {"key": "diet", "filter": {"must": [
          {"has_id": [1]}]}}}]})");
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_EQ(s.message(),
            "must[0].nested.filter.must[0].has_id: has_id names points, not "
            "elements: put it beside the nested condition");
  s = error_of(R"({"must": [{"nested": {"key": "diet..x", "filter": {}}}]})");
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_EQ(s.message().substr(0, 20), "must[0].nested.key: ");
  s = error_of(R"({"should": [{"nested": {"filter": {}}}]})");
  EXPECT_EQ(s.message(), "should[0].nested.key: missing");
  // The JSON form reads back.
  const std::string text =
      R"({"must":[{"nested":{"filter":{"must":[{"key":"food","match":)"
      R"({"value":"meat"}}]},"key":"diet"}}]})";
  auto f = ParseFilterJson(text);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(FilterToJson(*f).dump(), text);
}

}  // namespace
}  // namespace tqdb
