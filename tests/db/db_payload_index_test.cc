// Payload indexes and filtered search through the database: JSON payloads
// on upsert, filtered search plans (k results whenever k points match,
// recall against the exact search over the matching rows), index builds
// over a full collection while writes go on, persistence and migration of a
// format version 1 directory, payload updates, deletes by filter, and
// internal ids that are never mistaken for one another while reused.
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "db/db.h"
#include "db/filter_json.h"
#include "db/format.h"
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

// Two search threads: the filtered plans run over the pool.
constexpr uint32_t kThreads = 2;

constexpr auto F = dbtest::ParsedFilter;

// Clustered unit vectors: point i is in cluster i % clusters; the payload
// says the cluster (correlated with the vector) and a uniform bucket.
std::vector<Point> Clustered(size_t n, uint32_t d, size_t clusters) {
  Rng rng(11);
  std::vector<std::vector<float>> centers;
  for (size_t c = 0; c < clusters; ++c) centers.push_back(VectorFor(c, 99, d));
  std::vector<Point> pts(n);
  for (size_t i = 0; i < n; ++i) {
    const size_t c = i % clusters;
    pts[i].id = i;
    pts[i].vector.resize(d);
    double norm = 0;
    for (uint32_t j = 0; j < d; ++j) {
      pts[i].vector[j] =
          centers[c][j] + 0.08f * static_cast<float>(rng.Gaussian());
      norm += double{pts[i].vector[j]} * pts[i].vector[j];
    }
    for (float& x : pts[i].vector) x /= static_cast<float>(std::sqrt(norm));
    pts[i].payload = json{{"cluster", static_cast<int64_t>(c)},
                          {"bucket", static_cast<int64_t>(rng.Uniform(1000))}}
                         .dump();
  }
  return pts;
}

TEST(PayloadJson, ANonJsonPayloadRejectsItsBatch) {
  TempDir tmp;
  auto db = OpenManual(tmp.path(), kThreads);
  auto c = CreateIp(db.get(), "c", 4);
  std::vector<Point> pts = {{1, VectorFor(1, 0, 4), R"({"a": 1})"},
                            {7, VectorFor(7, 0, 4), "{\"a\": nope}"},
                            {8, VectorFor(8, 0, 4), "[1, \"x\", null]"}};
  absl::Status s = c->Upsert(pts, true);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(s.message()),
            "point 1 (id 7): payload is not valid JSON (parse error at line "
            "1, column 8: syntax error while parsing value - invalid literal; "
            "last read: '\"a\": no'); batch rejected");
  EXPECT_EQ(c->Count(), 0u);
  pts.erase(pts.begin() + 1);
  EXPECT_TRUE(c->Upsert(pts, true).ok());  // any JSON value is a payload
  // A payload that is not an object matches no field condition.
  auto r =
      c->Count(*F(R"({"must_not": [{"key": "a", "match": {"value": 1}}]})"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->count, 1u);
}

TEST(FilteredSearch, FullPagesRecallAndPlans) {
  TempDir tmp;
  auto db = OpenManual(tmp.path(), kThreads);
  const uint32_t d = 32;
  auto c = CreateIp(db.get(), "c", d, 64);
  const auto pts = Clustered(6000, d, 30);
  ASSERT_TRUE(c->CreateFieldIndex("cluster", FieldType::kInteger, true).ok());
  ASSERT_TRUE(c->CreateFieldIndex("bucket", FieldType::kInteger, true).ok());
  // Untrained: exact over the matches in memory.
  ASSERT_TRUE(
      c->Upsert(std::vector<Point>(pts.begin(), pts.begin() + 500), false)
          .ok());
  QueryOptions o;
  o.k = 10;
  SearchInfo info;
  o.info = &info;
  o.filter = F(R"({"must": [{"key": "cluster", "match": {"value": 3}}]})");
  auto r = c->Search(pts[0].vector, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(info.plan, "filtered-flat");
  EXPECT_EQ(r->size(), 10u);  // 17 points of cluster 3 among the first 500
  for (const Neighbor& nb : *r) EXPECT_EQ(nb.id % 30, 3u);
  ASSERT_TRUE(
      c->Upsert(std::vector<Point>(pts.begin() + 500, pts.end()), false).ok());
  ASSERT_TRUE(c->Train().ok());

  // Exact top 10 of the matching rows.
  auto truth = [&](const std::vector<float>& q, auto&& match) {
    std::vector<Point> rows;
    for (const Point& p : pts) {
      if (match(p)) rows.push_back(p);
    }
    return dbtest::BruteForce(rows, q, Metric::kInnerProduct, 10);
  };
  struct Case {
    std::string filter;
    std::function<bool(const Point&)> match;
    uint64_t matches;
  };
  const std::vector<Case> cases = {
      // Correlated with the vectors: one cluster (0.3% of the lists).
      {R"({"must": [{"key": "cluster", "match": {"value": 7}}]})",
       [](const Point& p) { return p.id % 30 == 7; }, 200},
      // Correlated, half the collection.
      {R"({"must": [{"key": "cluster", "range": {"lt": 15}}]})",
       [](const Point& p) { return p.id % 30 < 15; }, 3000},
      // Uncorrelated, 2% and 30%.
      {R"({"must": [{"key": "bucket", "range": {"lt": 20}}]})",
       [](const Point& p) {
         return json::parse(p.payload)["bucket"].get<int>() < 20;
       },
       0},
      {R"({"must": [{"key": "bucket", "range": {"gte": 700}}]})",
       [](const Point& p) {
         return json::parse(p.payload)["bucket"].get<int>() >= 700;
       },
       0}};
  std::set<std::string> plans;
  for (const Case& cs : cases) {
    o.filter = F(cs.filter);
    o.nprobe = 4;
    o.rescore = true;
    double hits = 0;
    int queries = 0;
    for (size_t qi = 1; qi < pts.size(); qi += 397) {
      const auto want = truth(pts[qi].vector, cs.match);
      auto got = c->Search(pts[qi].vector, o);
      ASSERT_TRUE(got.ok()) << got.status();
      ASSERT_EQ(got->size(), 10u) << cs.filter;  // a full page, always
      std::set<uint64_t> w(want.begin(), want.end());
      for (const Neighbor& nb : *got) {
        ASSERT_TRUE(cs.match(pts[nb.id])) << cs.filter;
        hits += w.count(nb.id);
      }
      ++queries;
      EXPECT_TRUE(info.filtered);
      if (cs.matches) {
        EXPECT_EQ(info.matches, cs.matches);
      }
      plans.insert(info.plan);
    }
    EXPECT_GE(hits / (10.0 * queries), 0.9) << cs.filter;
  }
  EXPECT_TRUE(plans.count("filtered-matches")) << "the 200-point cluster";
  EXPECT_TRUE(plans.count("filtered-ivf")) << "half the collection";
  // Exact, and no match at all.
  o.exact = true;
  o.filter = F(R"({"must": [{"key": "cluster", "match": {"value": 4}}]})");
  r = c->Search(pts[4].vector, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(info.plan, "filtered-exact");
  ASSERT_FALSE(r->empty());
  EXPECT_EQ((*r)[0].id, 4u);
  o.exact = false;
  o.filter = F(R"({"must": [{"key": "cluster", "match": {"value": 31}}]})");
  r = c->Search(pts[4].vector, o);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
  EXPECT_EQ(info.plan, "filtered-none");
  // A batch shares the filter; each query has its plan.
  std::vector<float> qs;
  for (size_t i = 0; i < 8; ++i) {
    qs.insert(qs.end(), pts[i].vector.begin(), pts[i].vector.end());
  }
  std::vector<SearchInfo> infos(8);
  o.info = infos.data();
  o.filter = F(R"({"must": [{"key": "cluster", "match": {"any": [1, 2]}}]})");
  auto batch = c->SearchBatch(qs, o);
  ASSERT_TRUE(batch.ok()) << batch.status();
  for (size_t i = 0; i < 8; ++i) {
    ASSERT_EQ((*batch)[i].size(), 10u);
    for (const Neighbor& nb : (*batch)[i]) {
      EXPECT_TRUE(nb.id % 30 == 1 || nb.id % 30 == 2);
    }
    EXPECT_EQ(infos[i].matches, 400u);
  }
}

TEST(FieldIndexes, BuiltOverAFullCollectionWhileWritesGoOn) {
  TempDir tmp;
  auto db = OpenManual(tmp.path(), kThreads);
  auto c = CreateIp(db.get(), "c", 8);
  std::vector<Point> pts;
  for (uint64_t id = 0; id < 6000; ++id) {
    pts.push_back({id, VectorFor(id, 0, 8),
                   json{{"g", "g" + std::to_string(id % 5)}}.dump()});
  }
  ASSERT_TRUE(c->Upsert(pts, false).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> writes{0};
  std::thread writer([&] {
    Rng rng(3);
    while (!stop) {
      std::vector<Point> b;
      for (int i = 0; i < 50; ++i) {
        const uint64_t id = rng.Uniform(7000);
        b.push_back({id, VectorFor(id, 1, 8),
                     json{{"g", "g" + std::to_string(rng.Uniform(5))}}.dump()});
      }
      EXPECT_TRUE(c->Upsert(b, false).ok());
      std::vector<uint64_t> del = {rng.Uniform(7000)};
      EXPECT_TRUE(c->Delete(del, false).ok());
      ++writes;
    }
  });
  auto info = c->CreateFieldIndex("g", FieldType::kKeyword, /*wait=*/true);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_TRUE(info->ready);
  stop = true;
  writer.join();
  EXPECT_GT(writes.load(), 0);
  // The index answers exactly what the payloads say.
  auto check = [&](Collection* col) {
    std::vector<uint64_t> all;
    for (uint64_t id = 0; id < 7000; ++id) all.push_back(id);
    auto got = col->Get(all, false, true);
    ASSERT_TRUE(got.ok());
    for (int g = 0; g < 5; ++g) {
      size_t want = 0;
      for (const Record& r : *got) {
        want += json::parse(r.payload)["g"] == "g" + std::to_string(g);
      }
      auto n = col->Count(*F(R"({"must": [{"key": "g", "match": {"value": "g)" +
                             std::to_string(g) + R"("}}]})"));
      ASSERT_TRUE(n.ok());
      EXPECT_EQ(n->count, want) << "g" << g;
      EXPECT_TRUE(n->unindexed_fields.empty());
    }
  };
  check(c.get());
  // Same type again: fine; another type: refused; then reopen.
  EXPECT_TRUE(c->CreateFieldIndex("g", FieldType::kKeyword, true).ok());
  auto again = c->CreateFieldIndex("g", FieldType::kInteger, true);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  c.reset();
  ASSERT_TRUE(db->Close().ok());
  db = OpenManual(tmp.path(), kThreads);
  c = *db->GetCollection("c");
  auto ci = c->Info();
  ASSERT_TRUE(ci.ok());
  ASSERT_EQ(ci->field_indexes.size(), 1u);
  EXPECT_TRUE(ci->field_indexes[0].ready);
  check(c.get());
  // Deleted: its entries go, conditions read the payloads again.
  ASSERT_TRUE(c->DeleteFieldIndex("g").ok());
  EXPECT_EQ(c->DeleteFieldIndex("g").code(), absl::StatusCode::kNotFound);
  auto n =
      c->Count(*F(R"({"must": [{"key": "g", "match": {"value": "g1"}}]})"));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->unindexed_fields, (std::vector<std::string>{"g"}));
  c.reset();
  ASSERT_TRUE(db->Close().ok());
  db = OpenManual(tmp.path(), kThreads);
  c = *db->GetCollection("c");
  EXPECT_TRUE(c->Info()->field_indexes.empty());
}

TEST(FieldIndexes, AVersionOneDirectoryIsMigrated) {
  TempDir tmp;
  {
    auto db = OpenManual(tmp.path(), kThreads);
    auto c = CreateIp(db.get(), "c", 4);
    ASSERT_TRUE(
        c->Upsert({{5, VectorFor(5, 0, 4), R"({"k": "v"})"}}, true).ok());
    ASSERT_TRUE(db->Close().ok());
  }
  // A version 1 directory: no payload_index family, version 1.
  ASSERT_NO_FATAL_FAILURE(
      dbtest::MakeOlderFormat(tmp.path(), dbformat::kPayloadIndexCf, 1));
  auto db = OpenManual(tmp.path(), kThreads);
  ASSERT_NE(db, nullptr);
  auto c = *db->GetCollection("c");
  EXPECT_EQ(c->Count(), 1u);
  auto info = c->CreateFieldIndex("k", FieldType::kKeyword, true);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->points, 1u);
  c.reset();
  ASSERT_TRUE(db->Close().ok());
  db = OpenManual(tmp.path(),
                  kThreads);  // version 2 now, the index back from storage
  c = *db->GetCollection("c");
  auto n = c->Count(*F(R"({"must": [{"key": "k", "match": {"value": "v"}}]})"));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->count, 1u);
  EXPECT_TRUE(n->unindexed_fields.empty());
}

TEST(PayloadUpdates, SetOverwriteDeleteKeysAndDeleteByFilter) {
  TempDir tmp;
  auto db = OpenManual(tmp.path(), kThreads);
  auto c = CreateIp(db.get(), "c", 4);
  ASSERT_TRUE(c->CreateFieldIndex("color", FieldType::kKeyword, true).ok());
  ASSERT_TRUE(c->CreateFieldIndex("meta.n", FieldType::kInteger, true).ok());
  std::vector<Point> pts;
  for (uint64_t id = 1; id <= 10; ++id) {
    pts.push_back({id, VectorFor(id, 0, 4),
                   json{{"color", id % 2 ? "red" : "blue"},
                        {"meta", {{"n", static_cast<int64_t>(id)}}}}
                       .dump()});
  }
  pts.push_back({11, VectorFor(11, 0, 4), "\"not an object\""});
  ASSERT_TRUE(c->Upsert(pts, true).ok());
  auto count = [&](const std::string& f) {
    auto r = c->Count(*F(f));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->count : 0;
  };
  const std::string red =
      R"({"must": [{"key": "color", "match": {"value": "red"}}]})";
  const std::string green =
      R"({"must": [{"key": "color", "match": {"value": "green"}}]})";
  EXPECT_EQ(count(red), 5u);
  // Merge a key into the blue points (by filter).
  PointSelector blue;
  blue.filter =
      F(R"({"must": [{"key": "color", "match": {"value": "blue"}}]})");
  auto n = c->SetPayload(blue, R"({"color": "green", "extra": 1})", true);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 5u);
  EXPECT_EQ(count(green), 5u);
  EXPECT_EQ(count(R"({"must": [{"key": "meta.n", "range": {"gte": 9}}]})"), 2u);
  auto got = c->Get({2}, false, true);
  EXPECT_EQ(json::parse((*got)[0].payload),
            json::parse(R"({"color": "green", "extra": 1, "meta": {"n": 2}})"));
  // Merging into a payload that is not an object is refused.
  PointSelector eleven;
  eleven.ids = {11};
  EXPECT_EQ(c->SetPayload(eleven, R"({"a": 1})", true).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(c->SetPayload(eleven, R"([1])", true).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Overwrite by ids (unknown ids skipped), then delete a nested key.
  PointSelector some;
  some.ids = {1, 3, 999};
  n = c->OverwritePayload(some, R"({"color": "green", "meta": {"n": 50}})",
                          true);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 2u);
  EXPECT_EQ(count(red), 3u);
  EXPECT_EQ(count(green), 7u);
  n = c->DeletePayloadKeys(some, {"meta.n", "nothing"}, true);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 2u);
  EXPECT_EQ(count(R"({"must": [{"is_empty": {"key": "meta.n"}}]})"), 3u);
  EXPECT_EQ(c->DeletePayloadKeys(some, {"a[].b"}, true).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Delete by filter; by ids and filter at once is refused.
  PointSelector greens;
  greens.filter = F(green);
  auto del = c->DeletePoints(greens, true);
  ASSERT_TRUE(del.ok()) << del.status();
  EXPECT_EQ(*del, 7u);
  EXPECT_EQ(c->Count(), 4u);
  EXPECT_EQ(count(green), 0u);
  greens.ids = {5};
  EXPECT_EQ(c->DeletePoints(greens, true).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Reopened, the index entries match the payloads.
  c.reset();
  ASSERT_TRUE(db->Close().ok());
  db = OpenManual(tmp.path(), kThreads);
  c = *db->GetCollection("c");
  EXPECT_EQ(count(red), 3u);
  EXPECT_EQ(count(R"({"must": [{"key": "meta.n", "range": {"gte": 0}}]})"), 3u);
}

TEST(InternalIds, ReusedIdsNeverLetAnotherPointThroughAFilter) {
  TempDir tmp;
  auto db = OpenManual(tmp.path(), kThreads);
  const uint32_t d = 16;
  auto c = CreateIp(db.get(), "c", d, 8);
  ASSERT_TRUE(c->CreateFieldIndex("tag", FieldType::kKeyword, true).ok());
  std::vector<Point> base;
  for (uint64_t id = 0; id < 2000; ++id) {
    base.push_back({id, VectorFor(id, 0, d), R"({"tag": "other"})"});
  }
  ASSERT_TRUE(c->Upsert(base, false).ok());
  ASSERT_TRUE(c->Train().ok());
  // Points tagged "keep" come and go; the points that take their internal
  // ids are tagged "drop". A search for "keep" must never return one.
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> next{100000};
  std::thread writer([&] {
    while (!stop) {
      const uint64_t first = next.fetch_add(400);
      std::vector<Point> keep, drop;
      std::vector<uint64_t> ids;
      for (uint64_t i = 0; i < 200; ++i) {
        keep.push_back({first + i, VectorFor(i, 1, d), R"({"tag": "keep"})"});
        drop.push_back(
            {first + 200 + i, VectorFor(i, 1, d), R"({"tag": "drop"})"});
        ids.push_back(first + i);
      }
      EXPECT_TRUE(c->Upsert(keep, false).ok());
      EXPECT_TRUE(c->Delete(ids, false).ok());
      EXPECT_TRUE(c->Upsert(drop, false).ok());
    }
  });
  QueryOptions o;
  o.k = 20;
  o.nprobe = 8;
  o.filter = F(R"({"must": [{"key": "tag", "match": {"value": "keep"}}]})");
  int wrong = 0, searches = 0;
  // Until the writer has gone round 30 times (and at least 1,000 searches).
  for (int i = 0; i < 1000 || next.load() < 100000 + 30 * 400; ++i) {
    auto r = c->Search(VectorFor(i % 200, 1, d), o);
    ASSERT_TRUE(r.ok()) << r.status();
    for (const Neighbor& nb : *r) {
      // Keep points have ids first + [0, 200) of a 400-id block.
      wrong += nb.id < 100000 || (nb.id - 100000) % 400 >= 200;
    }
    ++searches;
  }
  stop = true;
  writer.join();
  EXPECT_EQ(wrong, 0) << "of " << searches << " searches";
  EXPECT_GE(next.load(), 100000u + 30 * 400u);
}

}  // namespace
}  // namespace tqdb
