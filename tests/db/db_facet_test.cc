// Facet counts (Collection::Facet) against counts taken from the payloads
// the test wrote: keyword (single values, arrays with repeats), integer and
// bool fields; with filters on indexed and unindexed fields; after deletes,
// payload updates and a reopen; the order and the cut; the merge of counts
// over disjoint parts (db/facet.h); and the errors.
#include <algorithm>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "db/db.h"
#include "db/facet.h"
#include "db/filter_json.h"
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

constexpr uint32_t kDim = 8;

constexpr auto F = dbtest::ParsedFilter;

// Payloads with a keyword field "tags" (absent, null, a string, or an
// array with repeats), an integer "n" (absent, a number or an array), a
// bool "flag" and an unindexed "shard" (id % 3).
json RandomPayload(uint64_t id, Rng* rng) {
  const char* words[] = {"red", "green", "blue", "teal", "gold", "plum"};
  json p = {{"shard", static_cast<int64_t>(id % 3)}};
  switch (rng->Uniform(4)) {
    case 0:
      break;
    case 1:
      p["tags"] = nullptr;
      break;
    case 2:
      p["tags"] = words[rng->Uniform(6)];
      break;
    default: {
      json a = json::array();
      const size_t n = 1 + rng->Uniform(4);
      for (size_t i = 0; i < n; ++i) a.push_back(words[rng->Uniform(6)]);
      p["tags"] = a;
    }
  }
  if (rng->Uniform(5) != 0) {
    if (rng->Uniform(4) == 0) {
      p["n"] = json::array({static_cast<int64_t>(rng->Uniform(5)) - 2,
                            static_cast<int64_t>(rng->Uniform(5)) - 2});
    } else {
      p["n"] = static_cast<int64_t>(rng->Uniform(5)) - 2;
    }
  }
  if (rng->Uniform(3) != 0) p["flag"] = rng->Uniform(2) == 1;
  return p;
}

// The points holding each value of `key` among `payloads` whose point
// passes `keep`, from the JSON itself.
template <typename Keep>
std::map<std::string, uint64_t> Expected(
    const std::map<uint64_t, json>& payloads, const std::string& key,
    Keep keep) {
  std::map<std::string, uint64_t> out;
  for (const auto& [id, p] : payloads) {
    if (!keep(id, p) || !p.contains(key)) continue;
    const json& v = p[key];
    std::set<std::string> values;
    for (const json& x : v.is_array() ? v : json::array({v})) {
      if (!x.is_null()) values.insert(x.dump());
    }
    for (const std::string& s : values) ++out[s];
  }
  return out;
}

std::map<std::string, uint64_t> AsMap(const std::vector<FacetHit>& hits) {
  std::map<std::string, uint64_t> out;
  for (const FacetHit& h : hits) {
    std::string v;
    switch (h.type) {
      case FieldType::kKeyword:
        v = json(h.keyword).dump();
        break;
      case FieldType::kInteger:
        v = json(h.integer).dump();
        break;
      default:
        v = h.integer ? "true" : "false";
    }
    EXPECT_TRUE(out.emplace(v, h.count).second) << "twice: " << v;
  }
  return out;
}

FacetResult FacetOf(Collection* c, const std::string& key,
                    std::shared_ptr<const Filter> filter, size_t limit) {
  FacetOptions o;
  o.key = key;
  o.filter = std::move(filter);
  o.limit = limit;
  auto r = c->Facet(o);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : FacetResult();
}

void ExpectOrdered(const std::vector<FacetHit>& hits) {
  for (size_t i = 1; i < hits.size(); ++i) {
    EXPECT_TRUE(FacetHitBefore(hits[i - 1], hits[i])) << i;
  }
}

class FacetTest : public dbtest::PayloadCollectionTest {
 protected:
  FacetTest() : PayloadCollectionTest(kDim, 5) {}

  void SetUp() override {
    PayloadCollectionTest::SetUp();
    ASSERT_TRUE(c_->CreateFieldIndex("tags", FieldType::kKeyword, true).ok());
    ASSERT_TRUE(c_->CreateFieldIndex("n", FieldType::kInteger, true).ok());
    ASSERT_TRUE(c_->CreateFieldIndex("flag", FieldType::kBool, true).ok());
    Write(0, 600);
  }

  json PayloadFor(uint64_t id, Rng* rng) override {
    return RandomPayload(id, rng);
  }

  // Every field, no filter and two filters, every value (limit 0).
  void CheckAll() {
    for (const char* key : {"tags", "n", "flag"}) {
      SCOPED_TRACE(key);
      auto all = [](uint64_t, const json&) { return true; };
      FacetResult r = FacetOf(c_.get(), key, nullptr, 0);
      EXPECT_EQ(AsMap(r.hits), Expected(payloads_, key, all));
      ExpectOrdered(r.hits);
      // An indexed condition.
      r = FacetOf(c_.get(), key,
                  F(R"({"must": [{"key": "n", "range": {"gte": 0}}]})"), 0);
      EXPECT_EQ(AsMap(r.hits),
                Expected(payloads_, key, [](uint64_t, const json& p) {
                  if (!p.contains("n")) return false;
                  for (const json& x :
                       p["n"].is_array() ? p["n"] : json::array({p["n"]})) {
                    if (x.get<int64_t>() >= 0) return true;
                  }
                  return false;
                }));
      EXPECT_TRUE(r.unindexed_fields.empty());
      // An unindexed one (decided on the payloads), and a has_id.
      r = FacetOf(c_.get(), key,
                  F(R"({"must": [{"key": "shard", "match": {"value": 1}}],
                        "must_not": [{"has_id": [1, 4, 7, 10]}]})"),
                  0);
      EXPECT_EQ(AsMap(r.hits),
                Expected(payloads_, key, [](uint64_t id, const json& p) {
                  return p["shard"] == 1 && id != 1 && id != 4 && id != 7 &&
                         id != 10;
                }));
      EXPECT_EQ(r.unindexed_fields, std::vector<std::string>{"shard"});
      // Fewer points than values: counted point by point.
      r = FacetOf(c_.get(), key, F(R"({"must": [{"has_id": [20, 21, 22]}]})"),
                  0);
      EXPECT_EQ(AsMap(r.hits),
                Expected(payloads_, key, [](uint64_t id, const json&) {
                  return id >= 20 && id <= 22;
                }));
    }
  }
};

TEST_F(FacetTest, CountsEqualThePayloads) { CheckAll(); }

TEST_F(FacetTest, CountsFollowDeletesUpdatesAndAReopen) {
  PointSelector drop;
  drop.filter = F(R"({"must": [{"key": "tags", "match": {"value": "plum"}}]})");
  auto deleted = c_->DeletePoints(drop, true);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_GT(*deleted, 0u);
  for (auto it = payloads_.begin(); it != payloads_.end();) {
    const json& t = it->second.contains("tags") ? it->second["tags"] : json();
    const bool plum =
        t == "plum" ||
        (t.is_array() && std::count(t.begin(), t.end(), "plum") > 0);
    it = plum ? payloads_.erase(it) : std::next(it);
  }
  ASSERT_TRUE(c_->Delete({2, 3, 5}, true).ok());
  payloads_.erase(2);
  payloads_.erase(3);
  payloads_.erase(5);
  PointSelector some;
  some.ids = {10, 11, 12, 13};
  const json patch = {{"tags", json::array({"new", "new", "red"})},
                      {"flag", true}};
  ASSERT_TRUE(c_->SetPayload(some, patch.dump(), true).ok());
  for (uint64_t id : some.ids) {
    if (!payloads_.count(id)) continue;  // deleted above: not set
    payloads_[id]["tags"] = patch["tags"];
    payloads_[id]["flag"] = true;
  }
  Write(600, 200);  // values again, in freed internal ids
  CheckAll();

  ASSERT_NO_FATAL_FAILURE(Reopen());
  CheckAll();
}

TEST_F(FacetTest, TheCutKeepsTheMostFrequentThenTheSmallestValues) {
  FacetResult all = FacetOf(c_.get(), "tags", nullptr, 0);
  ASSERT_GE(all.hits.size(), 4u);
  FacetResult top = FacetOf(c_.get(), "tags", nullptr, 3);
  ASSERT_EQ(top.hits.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(top.hits[i].keyword, all.hits[i].keyword);
    EXPECT_EQ(top.hits[i].count, all.hits[i].count);
  }
  // Ties: the smaller value first.
  std::vector<FacetHit> tied(3);
  tied[0].keyword = "b";
  tied[1].keyword = "a";
  tied[2].keyword = "c";
  for (FacetHit& h : tied) h.count = 4;
  tied[2].count = 5;
  TopFacetHits(2, &tied);
  ASSERT_EQ(tied.size(), 2u);
  EXPECT_EQ(tied[0].keyword, "c");
  EXPECT_EQ(tied[1].keyword, "a");
  // No matching point: no values.
  FacetResult none =
      FacetOf(c_.get(), "n", F(R"({"must": [{"has_id": [100000]}]})"), 10);
  EXPECT_TRUE(none.hits.empty());
}

TEST_F(FacetTest, MergingDisjointPartsEqualsTheWhole) {
  // The parts of a cluster: the points of each shard value, complete.
  std::vector<std::vector<FacetHit>> parts;
  for (int s = 0; s < 3; ++s) {
    parts.push_back(
        FacetOf(c_.get(), "tags",
                F(R"({"must": [{"key": "shard", "match": {"value": )" +
                  std::to_string(s) + "}}]}"),
                0)
            .hits);
  }
  const std::vector<FacetHit> whole =
      FacetOf(c_.get(), "tags", nullptr, 0).hits;
  EXPECT_EQ(AsMap(MergeFacetHits(parts, 0)), AsMap(whole));
  const std::vector<FacetHit> top2 = MergeFacetHits(parts, 2);
  ASSERT_EQ(top2.size(), 2u);
  EXPECT_EQ(top2[0].keyword, whole[0].keyword);
  EXPECT_EQ(top2[1].keyword, whole[1].keyword);
}

TEST_F(FacetTest, ErrorsNameTheField) {
  FacetOptions o;
  o.key = "shard";
  auto r = c_->Facet(o);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(r.status().message(),
            "field 'shard' has no payload index; facet counts need a "
            "keyword, integer or bool one: create one first");
  ASSERT_TRUE(c_->CreateFieldIndex("shard", FieldType::kFloat, true).ok());
  r = c_->Facet(o);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(r.status().message(),
            "field 'shard' has a float index; facet counts need a keyword, "
            "integer or bool one");
  o.key = "tags";
  o.filter = F(R"({"must": [{"key": "n", "match": {"value": "x"}}]})");
  r = c_->Facet(o);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument)
      << r.status();
  ASSERT_TRUE(db_->DropCollection("c").ok());
  o.filter = nullptr;
  EXPECT_EQ(c_->Facet(o).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace tqdb
