// Ordered scrolls (ScrollOptions::order_by): every page of a scroll by an
// integer, a float or a datetime field (RFC 3339 at several offsets, as
// microseconds), both directions, with and without a filter,
// equals the (value, id) list the test builds from the payloads it wrote:
// a point once per distinct value, none without; the cursor of each page
// (next_order_value, next_offset) starts the next exactly; errors.
#include <algorithm>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "db/datetime.h"
#include "db/db.h"
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
using Entries = std::vector<std::pair<double, uint64_t>>;

constexpr uint32_t kDim = 4;
constexpr auto F = dbtest::ParsedFilter;

class OrderedScrollTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = OpenManual(tmp_.path(), 2);
    c_ = CreateIp(db_.get(), "c", kDim);
    ASSERT_TRUE(c_->CreateFieldIndex("t", FieldType::kInteger, true).ok());
    ASSERT_TRUE(c_->CreateFieldIndex("p", FieldType::kFloat, true).ok());
    ASSERT_TRUE(c_->CreateFieldIndex("k", FieldType::kKeyword, true).ok());
    ASSERT_TRUE(c_->CreateFieldIndex("d", FieldType::kDatetime, true).ok());
    // A stamp `hours` after 2024-03-01 UTC, in UTC or written at +02:00.
    const int64_t base = *ParseDatetime("2024-03-01T00:00:00Z");
    auto stamp = [&](int64_t hours, bool shifted) {
      constexpr int64_t kHour = 3600000000;
      if (!shifted) return FormatDatetime(base + hours * kHour);
      std::string text = FormatDatetime(base + (hours + 2) * kHour);
      text.pop_back();  // the Z
      return text + "+02:00";
    };
    Rng rng(3);
    std::vector<Point> pts;
    for (uint64_t id = 0; id < points_; ++id) {
      json p = {{"shard", static_cast<int64_t>(id % 3)}, {"k", "x"}};
      const int64_t t = static_cast<int64_t>(rng.Uniform(40)) - 20;
      switch (rng.Uniform(5)) {
        case 0:
          break;  // no t
        case 1:   // several values, one repeated
          p["t"] = json::array({t, t + 7, t});
          break;
        default:
          p["t"] = t;
      }
      p["p"] = rng.Uniform(4) == 0
                   ? json(static_cast<int64_t>(t))
                   : json(static_cast<double>(rng.Uniform(1000)) / 8.0);
      if (rng.Uniform(6) != 0) {
        p["d"] = rng.Uniform(3) == 0
                     ? json::array({stamp(t, true), stamp(t + 30, false)})
                     : json(stamp(t, id % 2 == 1));
      }
      payloads_[id] = p;
      pts.push_back({id, VectorFor(id, 0, kDim), p.dump()});
    }
    ASSERT_TRUE(c_->Upsert(pts, true).ok());
  }

  // (value, id) of the payloads' distinct values of `key` for points that
  // pass `keep`, in the order asked.
  template <typename Keep>
  Entries Expected(const std::string& key, bool descending, Keep keep) const {
    Entries out;
    for (const auto& [id, p] : payloads_) {
      if (!keep(id, p) || !p.contains(key)) continue;
      std::set<double> values;
      const json& v = p[key];
      for (const json& x : v.is_array() ? v : json::array({v})) {
        values.insert(x.is_string() ? static_cast<double>(
                                          *ParseDatetime(x.get<std::string>()))
                                    : x.get<double>());
      }
      for (double x : values) out.emplace_back(x, id);
    }
    std::sort(out.begin(), out.end(), [&](const auto& a, const auto& b) {
      if (a.first != b.first) {
        return descending ? a.first > b.first : a.first < b.first;
      }
      return a.second < b.second;
    });
    return out;
  }

  // Every page of `limit`, each from the last one's cursor.
  Entries AllPages(ScrollOptions o) const {
    Entries got;
    for (int pages = 0; pages < 1000; ++pages) {
      auto page = c_->Scroll(o);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      EXPECT_LE(page->points.size(), o.limit);
      for (const Record& r : page->points) {
        got.emplace_back(r.order_value, r.id);
        EXPECT_EQ(json::parse(r.payload), payloads_.at(r.id)) << r.id;
      }
      if (!page->has_next) break;
      EXPECT_EQ(page->points.size(), o.limit);
      o.order_by->start_from = page->next_order_value;
      o.offset = page->next_offset;
    }
    return got;
  }

  uint64_t points_ = 500;
  TempDir tmp_;
  std::unique_ptr<Database> db_;
  std::shared_ptr<Collection> c_;
  std::map<uint64_t, json> payloads_;
};

TEST_F(OrderedScrollTest, PagesFollowTheValuesThenTheIds) {
  auto all = [](uint64_t, const json&) { return true; };
  auto shard1 = [](uint64_t, const json& p) { return p["shard"] == 1; };
  for (const char* key : {"t", "p", "d"}) {
    for (const bool descending : {false, true}) {
      for (const bool filtered : {false, true}) {
        SCOPED_TRACE(::testing::Message() << key << " descending " << descending
                                          << " filtered " << filtered);
        ScrollOptions o;
        o.limit = 37;
        o.order_by = OrderBy{key, descending, std::nullopt};
        if (filtered) {
          o.filter =
              F(R"({"must": [{"key": "shard", "match": {"value": 1}}]})");
        }
        const Entries want = filtered ? Expected(key, descending, shard1)
                                      : Expected(key, descending, all);
        ASSERT_GT(want.size(), 100u);
        EXPECT_EQ(AllPages(o), want);
      }
    }
  }
}

TEST_F(OrderedScrollTest, AValueStartsThePageAndDeletesLeaveIt) {
  ScrollOptions o;
  o.limit = 5;
  o.order_by = OrderBy{"t", false, 3.5};  // the first value >= 3.5: 4
  auto page = c_->Scroll(o);
  ASSERT_TRUE(page.ok()) << page.status();
  const Entries want =
      Expected("t", false, [](uint64_t, const json&) { return true; });
  auto first = std::find_if(want.begin(), want.end(),
                            [](const auto& e) { return e.first >= 3.5; });
  ASSERT_NE(first, want.end());
  ASSERT_EQ(page->points.size(), 5u);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(page->points[i].order_value, first[i].first);
    EXPECT_EQ(page->points[i].id, first[i].second);
  }
  // Deleted points leave the order.
  std::vector<uint64_t> gone;
  for (size_t i = 0; i < 5; ++i) gone.push_back(first[i].second);
  ASSERT_TRUE(c_->Delete(gone, true).ok());
  for (uint64_t id : gone) payloads_.erase(id);
  o.order_by->start_from.reset();
  o.limit = 1000;
  EXPECT_EQ(AllPages(o),
            Expected("t", false, [](uint64_t, const json&) { return true; }));
}

// Enough points that the sorted structures hold many buckets (mixed ones
// split past 1,024 pairs for "p", pure ones a value for "t" and "d"): pages
// read bucket by bucket from the cursor, and, under a filter keeping few
// points, from the matches' sorted values.
class ManyBucketsTest : public OrderedScrollTest {
 protected:
  ManyBucketsTest() { points_ = 6000; }
};

TEST_F(ManyBucketsTest, PagesOfTheWalkAndOfTheSort) {
  std::set<uint64_t> few;
  std::string ids;
  for (uint64_t id = 7; id < points_; id += 150) {
    few.insert(id);
    absl::StrAppend(&ids, ids.empty() ? "" : ", ", id);
  }
  auto all = [](uint64_t, const json&) { return true; };
  auto shard1 = [](uint64_t, const json& p) { return p["shard"] == 1; };
  auto in_few = [&](uint64_t id, const json&) { return few.count(id) > 0; };
  for (const char* key : {"t", "p", "d"}) {
    for (const bool descending : {false, true}) {
      for (int filter = 0; filter < 3; ++filter) {
        SCOPED_TRACE(::testing::Message() << key << " descending " << descending
                                          << " filter " << filter);
        ScrollOptions o;
        o.limit = 37;
        o.order_by = OrderBy{key, descending, std::nullopt};
        Entries want;
        if (filter == 0) {
          want = Expected(key, descending, all);
        } else if (filter == 1) {
          o.filter =
              F(R"({"must": [{"key": "shard", "match": {"value": 1}}]})");
          want = Expected(key, descending, shard1);
        } else {
          o.filter = F(absl::StrCat(R"({"must": [{"has_id": [)", ids, "]}]}"));
          want = Expected(key, descending, in_few);
        }
        ASSERT_GT(want.size(), filter == 2 ? 20u : 1000u);
        EXPECT_EQ(AllPages(o), want);
        // A page from a value inside the list (the middle entry's).
        const auto& mid = want[want.size() / 2];
        o.order_by->start_from = mid.first;
        o.offset = mid.second;
        auto page = c_->Scroll(o);
        ASSERT_TRUE(page.ok()) << page.status();
        ASSERT_FALSE(page->points.empty());
        EXPECT_EQ(page->points[0].id, mid.second);
        EXPECT_EQ(page->points[0].order_value, mid.first);
      }
    }
  }
}

TEST_F(OrderedScrollTest, ErrorsNameTheField) {
  ScrollOptions o;
  o.order_by = OrderBy{"shard", false, std::nullopt};
  auto r = c_->Scroll(o);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(r.status().message(),
            "field 'shard' has no payload index; order_by needs an integer, "
            "float or datetime one: create one first");
  o.order_by->key = "k";
  r = c_->Scroll(o);
  EXPECT_EQ(r.status().message(),
            "field 'k' has a keyword index; order_by needs an integer, float "
            "or datetime one");
  o.order_by->key = "";
  EXPECT_EQ(c_->Scroll(o).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tqdb
