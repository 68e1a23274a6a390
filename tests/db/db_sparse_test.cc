// Sparse vectors (db/sparse_index.h, Collection::SearchSparse) and the
// fusion of ranked lists (db/fusion.h): exact dot-product top-k against the
// test's own brute force, with filters, across upserts that replace or drop
// a point's sparse vector, UpdateVectors that keeps it, deletes, training,
// a reopen and a migration from format version 2; the rules of a sparse
// vector; RRF and DBSF by their formulas.
#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "db/db.h"
#include "db/format.h"
#include "db/fusion.h"
#include "db/sparse_index.h"
#include "gtest/gtest.h"
#include "tests/db/db_test_util.h"

namespace tqdb {
namespace {

using dbtest::OpenManual;
using dbtest::ParsedFilter;
using dbtest::TempDir;
using dbtest::VectorFor;

constexpr uint32_t kDim = 8;
constexpr uint32_t kVocabulary = 60;

// A deterministic sparse vector of (id, version): 1-12 distinct terms of
// a 60-term vocabulary, in no particular order, weights in (0, 2].
SparseVector SparseFor(uint64_t id, uint64_t version) {
  uint64_t s = id * 2654435761ull + version * 40503ull + 1;
  auto next = [&] {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  };
  const size_t n = 1 + next() % 12;
  std::vector<uint32_t> terms;
  while (terms.size() < n) {
    const uint32_t t = static_cast<uint32_t>(next() % kVocabulary);
    if (std::find(terms.begin(), terms.end(), t) == terms.end()) {
      terms.push_back(t);
    }
  }
  SparseVector v;
  for (uint32_t t : terms) {
    v.indices.push_back(t);
    v.values.push_back(static_cast<float>(1 + next() % 200) / 100.0f);
  }
  return v;
}

SparseVector Sorted(SparseVector v) {
  EXPECT_TRUE(CheckSparseVector("v", &v).ok());
  return v;
}

// The test's own answer: every point sharing a term with the query, by
// the dot product summed in the query's index order, as the index sums.
std::vector<Neighbor> BruteForce(const std::map<uint64_t, SparseVector>& pts,
                                 const SparseVector& query, size_t k,
                                 const std::function<bool(uint64_t)>& keep) {
  const SparseVector q = Sorted(query);
  std::vector<Neighbor> all;
  for (const auto& [id, v] : pts) {
    if (keep && !keep(id)) continue;
    float dot = 0;
    bool shared = false;
    for (size_t j = 0; j < q.indices.size(); ++j) {
      const auto at =
          std::lower_bound(v.indices.begin(), v.indices.end(), q.indices[j]);
      if (at == v.indices.end() || *at != q.indices[j]) continue;
      dot += q.values[j] * v.values[at - v.indices.begin()];
      shared = true;
    }
    if (shared) all.push_back({id, dot});
  }
  std::sort(all.begin(), all.end(), [](const Neighbor& a, const Neighbor& b) {
    return a.score != b.score ? a.score > b.score : a.id < b.id;
  });
  if (all.size() > k) all.resize(k);
  return all;
}

void ExpectSame(const std::vector<Neighbor>& got,
                const std::vector<Neighbor>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].id, want[i].id) << "rank " << i;
    EXPECT_EQ(got[i].score, want[i].score) << "rank " << i;
  }
}

TEST(SparseVectorRules, SortsAndRejects) {
  SparseVector v{{9, 2, 5}, {0.9f, 0.2f, 0.5f}};
  ASSERT_TRUE(CheckSparseVector("sparse vector", &v).ok());
  EXPECT_EQ(v.indices, (std::vector<uint32_t>{2, 5, 9}));
  EXPECT_EQ(v.values, (std::vector<float>{0.2f, 0.5f, 0.9f}));
  SparseVector twice{{3, 1, 3}, {1, 1, 1}};
  absl::Status s = CheckSparseVector("sparse vector", &twice);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(s.message(), "index 3 twice")) << s;
  SparseVector uneven{{1, 2}, {1}};
  s = CheckSparseVector("sparse query", &uneven);
  EXPECT_TRUE(
      absl::StrContains(s.message(), "sparse query has 2 indices and 1 values"))
      << s;
  SparseVector nan{{4, 7}, {1, std::nanf("")}};
  s = CheckSparseVector("sparse vector", &nan);
  EXPECT_TRUE(absl::StrContains(s.message(), "non-finite value at index 7"))
      << s;
  SparseVector big;
  for (uint32_t i = 0; i <= kMaxSparseNonZeros; ++i) {
    big.indices.push_back(i);
    big.values.push_back(1);
  }
  EXPECT_EQ(CheckSparseVector("sparse vector", &big).code(),
            absl::StatusCode::kInvalidArgument);

  const SparseVector a = Sorted(SparseFor(3, 0));
  SparseVector back;
  ASSERT_TRUE(DecodeSparseVector(EncodeSparseVector(a), &back));
  EXPECT_EQ(back, a);
  std::string enc = EncodeSparseVector(a);
  EXPECT_FALSE(DecodeSparseVector(enc.substr(0, enc.size() - 1), &back));
  const SparseVector unordered{{5, 2}, {1, 1}};
  EXPECT_FALSE(DecodeSparseVector(EncodeSparseVector(unordered), &back));
}

// Points replaced and removed until their dead postings are compacted
// away (and the slots renumbered): searches and statistics as a brute
// force over what stands.
TEST(SparseIndexTest, ReplacementsAndRemovalsCompactAway) {
  SparseIndex index;
  std::map<uint64_t, SparseVector> truth;
  auto set = [&](uint64_t first, uint64_t n, uint64_t version) {
    std::vector<uint64_t> ids;
    std::vector<SparseVector> vs;
    for (uint64_t id = first; id < first + n; ++id) {
      ids.push_back(id);
      vs.push_back(Sorted(SparseFor(id, version)));
      truth[id] = vs.back();
    }
    std::vector<const SparseVector*> ptrs;
    for (const SparseVector& v : vs) ptrs.push_back(&v);
    index.Set(ids, ptrs);
  };
  auto check = [&](const std::string& when) {
    SCOPED_TRACE(when);
    EXPECT_EQ(index.points(), truth.size());
    for (uint64_t q = 0; q < 20; ++q) {
      const SparseVector query = Sorted(SparseFor(7000 + q, 0));
      std::vector<Neighbor> got;
      ASSERT_TRUE(
          index.Search(query, 10, nullptr, nullptr, &got, nullptr).ok());
      ExpectSame(got, BruteForce(truth, query, 10, nullptr));
      const SparseTermStats st = index.Stats(query.indices);
      EXPECT_EQ(st.points, truth.size());
      for (size_t j = 0; j < query.indices.size(); ++j) {
        uint64_t holding = 0;
        for (const auto& [id, v] : truth) {
          holding += std::binary_search(v.indices.begin(), v.indices.end(),
                                        query.indices[j]);
        }
        EXPECT_EQ(st.holding[j], holding) << "term " << query.indices[j];
      }
    }
  };
  set(0, 3000, 0);
  check("set");
  const size_t first_memory = index.memory_bytes();
  // Every point replaced, five times: dead postings are dropped once they
  // outnumber the live ones, so memory stays within about twice the live
  // postings' (without compaction it would grow to six times).
  for (uint64_t version = 1; version <= 5; ++version) {
    set(0, 3000, version);
    check(absl::StrCat("replaced ", version, " times"));
    EXPECT_LT(index.memory_bytes(), first_memory * 5 / 2);
  }
  std::vector<uint64_t> gone;
  for (uint64_t id = 0; id < 3000; id += 2) {
    gone.push_back(id);
    truth.erase(id);
  }
  index.Remove(gone);
  index.Remove({1, 3});
  truth.erase(1);
  truth.erase(3);
  check("half removed");
  set(5000, 10, 0);
  check("added after");
}

class DbSparse : public ::testing::TestWithParam<bool> {};

TEST_P(DbSparse, ExactTopKThroughWritesTrainingAndReopen) {
  const bool trained = GetParam();
  TempDir dir;
  std::map<uint64_t, SparseVector> truth;  // sorted, as stored
  auto db = OpenManual(dir.sub("db"));
  CollectionConfig cfg;
  cfg.name = "c";
  cfg.dim = kDim;
  cfg.metric = Metric::kL2;
  cfg.nlist = 4;
  ASSERT_TRUE(db->CreateCollection(cfg).ok());
  auto c = *db->GetCollection("c");
  // 300 points; every third without a sparse vector. Payload {"g": id % 5}.
  std::vector<Point> pts;
  for (uint64_t id = 0; id < 300; ++id) {
    Point p{id, VectorFor(id, 0, kDim),
            "{\"g\": " + std::to_string(id % 5) + "}"};
    if (id % 3 != 0) {
      p.sparse = SparseFor(id, 0);
      truth[id] = Sorted(p.sparse);
    }
    pts.push_back(std::move(p));
  }
  ASSERT_TRUE(c->Upsert(pts, true).ok());
  ASSERT_TRUE(c->CreateFieldIndex("g", FieldType::kInteger, true).ok());
  if (trained) {
    ASSERT_TRUE(c->Train().ok());
  }
  // Upserts replace: points 1..29 step 4 lose theirs, 3..30 step 3 (none
  // before) get one, 2..29 step 7 get a new one.
  auto payload = [](uint64_t id) {
    return "{\"g\": " + std::to_string(id % 5) + "}";
  };
  std::vector<Point> again;
  for (uint64_t id = 1; id < 30; id += 4) {
    again.push_back({id, VectorFor(id, 1, kDim), payload(id)});
    truth.erase(id);
  }
  for (uint64_t id = 3; id <= 30; id += 3) {
    Point p{id, VectorFor(id, 1, kDim), payload(id)};
    p.sparse = SparseFor(id, 1);
    truth[id] = Sorted(p.sparse);
    again.push_back(std::move(p));
  }
  ASSERT_TRUE(c->Upsert(again, true).ok());
  // UpdateVectors keeps a sparse vector it is not given, replaces one it is.
  std::vector<Point> update{{40, VectorFor(40, 2, kDim), ""},
                            {41, VectorFor(41, 2, kDim), ""}};
  update[1].sparse = SparseFor(41, 2);
  truth[41] = Sorted(update[1].sparse);
  ASSERT_TRUE(c->UpdateVectors(update, true).ok());
  // Deletes drop them.
  ASSERT_TRUE(c->Delete({50, 52, 53}, true).ok());
  truth.erase(50);
  truth.erase(52);
  truth.erase(53);

  auto check = [&](const std::shared_ptr<Collection>& col) {
    auto info = col->Info();
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->sparse_points, truth.size());
    EXPECT_GT(info->sparse_memory_bytes, 0u);
    for (uint64_t qid = 0; qid < 40; ++qid) {
      SCOPED_TRACE(::testing::Message() << "query " << qid);
      const SparseVector q = SparseFor(1000 + qid, 0);
      QueryOptions o;
      o.k = 10;
      SearchInfo si;
      o.info = &si;
      auto got = col->SearchSparse(q, o);
      ASSERT_TRUE(got.ok()) << got.status();
      ExpectSame(*got, BruteForce(truth, q, 10, nullptr));
      EXPECT_EQ(si.plan, "sparse");
      // Filtered by the indexed field, and by an id filter beside it.
      o.filter =
          ParsedFilter(R"({"must": [{"key": "g", "match": {"value": 2}}]})");
      o.id_filter = [](uint64_t id) { return id % 2 == 0; };
      got = col->SearchSparse(q, o);
      ASSERT_TRUE(got.ok()) << got.status();
      ExpectSame(*got, BruteForce(truth, q, 10, [](uint64_t id) {
        return id % 5 == 2 && id % 2 == 0;
      }));
      EXPECT_EQ(si.plan, "filtered-sparse");
      EXPECT_EQ(si.matches, 59u);  // 52 was deleted
    }
    // Get returns them (sorted) with the vectors, none without.
    auto got = col->Get({3, 5, 6, 40, 41, 1}, true, false);
    ASSERT_TRUE(got.ok());
    ASSERT_EQ(got->size(), 6u);
    for (const Record& r : *got) {
      const auto t = truth.find(r.id);
      EXPECT_EQ(r.sparse, t == truth.end() ? SparseVector() : t->second)
          << "point " << r.id;
    }
    got = col->Get({5}, false, true);
    ASSERT_TRUE(got.ok());
    EXPECT_TRUE((*got)[0].sparse.empty());
  };
  check(c);
  c.reset();
  ASSERT_TRUE(db->Close().ok());
  db = OpenManual(dir.sub("db"));
  c = *db->GetCollection("c");
  check(c);
}

INSTANTIATE_TEST_SUITE_P(TrainedOrNot, DbSparse, ::testing::Bool());

TEST(DbSparseErrors, BadVectorsWriteNothingAndQueriesAreChecked) {
  TempDir dir;
  auto db = OpenManual(dir.sub("db"));
  auto c = dbtest::CreateIp(db.get(), "c", kDim);
  Point good{1, VectorFor(1, 0, kDim), ""};
  good.sparse = SparseVector{{4}, {1}};
  Point bad{2, VectorFor(2, 0, kDim), ""};
  bad.sparse = SparseVector{{7, 7}, {1, 2}};
  absl::Status s = c->Upsert({good, bad}, true);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(
      s.message(), "point 1 (id 2): sparse vector holds index 7 twice"))
      << s;
  EXPECT_EQ(c->Count(), 0u);
  ASSERT_TRUE(c->Upsert({good}, true).ok());
  QueryOptions o;
  auto r = c->SearchSparse(SparseVector(), o);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(r.status().message(), "sparse query is empty"));
  r = c->SearchSparse(SparseVector{{1, 2}, {1}}, o);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  o.examples.positive = {1};
  r = c->SearchSparse(SparseVector{{4}, {1}}, o);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  o.examples = SearchExamples();
  o.k = 0;
  r = c->SearchSparse(SparseVector{{4}, {1}}, o);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  // A term no point holds: nothing, not an error.
  o.k = 5;
  r = c->SearchSparse(SparseVector{{5}, {1}}, o);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
  r = c->SearchSparse(SparseVector{{4, 5}, {2, 1}}, o);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].id, 1u);
  EXPECT_EQ((*r)[0].score, 2.0f);
}

TEST(DbSparseFormat, AVersion2DirectoryGetsTheSparseFamily) {
  TempDir tmp;
  {
    auto db = OpenManual(tmp.path());
    auto c = dbtest::CreateIp(db.get(), "c", kDim);
    ASSERT_TRUE(c->Upsert({{5, VectorFor(5, 0, kDim), ""}}, true).ok());
    ASSERT_TRUE(db->Close().ok());
  }
  // A version 2 directory: no sparse family, version 2.
  ASSERT_NO_FATAL_FAILURE(
      dbtest::MakeOlderFormat(tmp.path(), dbformat::kSparseCf, 2));
  {
    auto db = OpenManual(tmp.path());
    ASSERT_NE(db, nullptr);
    auto c = *db->GetCollection("c");
    EXPECT_EQ(c->Count(), 1u);
    Point p{6, VectorFor(6, 0, kDim), ""};
    p.sparse = SparseVector{{11}, {0.5f}};
    ASSERT_TRUE(c->Upsert({p}, true).ok());
    ASSERT_TRUE(db->Close().ok());
  }
  auto db = OpenManual(tmp.path());
  ASSERT_NE(db, nullptr);
  auto c = *db->GetCollection("c");
  auto r = c->SearchSparse(SparseVector{{11}, {2}}, QueryOptions());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].id, 6u);
  EXPECT_EQ((*r)[0].score, 1.0f);
}

TEST(DbSparseIdf, StatsCountTheHoldersAndIdfIsQdrants) {
  TempDir dir;
  auto db = OpenManual(dir.sub("db"));
  auto c = dbtest::CreateIp(db.get(), "c", kDim);
  // Term 1 in 3 points, term 2 in 1, term 3 in none; point 4 has none.
  std::vector<Point> pts;
  for (uint64_t id = 0; id < 5; ++id) {
    pts.push_back({id, VectorFor(id, 0, kDim), ""});
  }
  pts[0].sparse = SparseVector{{1, 2}, {1, 1}};
  pts[1].sparse = SparseVector{{1}, {2}};
  pts[2].sparse = SparseVector{{1}, {3}};
  pts[3].sparse = SparseVector{{7}, {1}};
  ASSERT_TRUE(c->Upsert(pts, true).ok());
  auto stats = c->SparseStats({1, 2, 3});
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(stats->points, 4u);
  EXPECT_EQ(stats->holding, (std::vector<uint64_t>{3, 1, 0}));
  SparseVector q{{1, 2, 3}, {1, 1, 1}};
  ApplyIdf(*stats, &q);
  EXPECT_FLOAT_EQ(q.values[0], std::log(1 + (4 - 3 + 0.5) / (3 + 0.5)));
  EXPECT_FLOAT_EQ(q.values[1], std::log(1 + (4 - 1 + 0.5) / (1 + 0.5)));
  EXPECT_FLOAT_EQ(q.values[2], std::log(1 + (4 + 0.5) / 0.5));
  // The rare term now outweighs the common one: point 0 (both) first, then
  // the common term's holders by weight.
  auto hits = c->SearchSparse(q, QueryOptions());
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ(dbtest::Ids(*hits), (std::vector<uint64_t>{0, 2, 1}));
}

TEST(Fusion, RrfAndDbsfByTheirFormulas) {
  const std::vector<Neighbor> dense{{1, 0.9f}, {2, 0.8f}, {3, 0.1f}};
  const std::vector<Neighbor> sparse{{3, 7.0f}, {4, 5.0f}};
  auto rrf = FuseRanked({{&dense, false}, {&sparse, false}}, Fusion::kRrf, 10);
  // 3: 1/(2+2) + 1/(2+0) = 0.75; 1: 1/2; 4: 1/3; 2: 1/3 (2 before 4).
  ASSERT_EQ(rrf.size(), 4u);
  EXPECT_EQ(dbtest::Ids(rrf), (std::vector<uint64_t>{3, 1, 2, 4}));
  EXPECT_FLOAT_EQ(rrf[0].score, 0.75f);
  EXPECT_FLOAT_EQ(rrf[1].score, 0.5f);
  EXPECT_FLOAT_EQ(rrf[2].score, 1.0f / 3);
  auto rrf60 =
      FuseRanked({{&dense, false}, {&sparse, false}}, Fusion::kRrf, 2, 60);
  ASSERT_EQ(rrf60.size(), 2u);
  EXPECT_FLOAT_EQ(rrf60[0].score, 1.0f / 62 + 1.0f / 60);
  // DBSF: dense mean 0.6, sd sqrt(0.14/3); sparse mean 6, sd 1.
  auto dbsf =
      FuseRanked({{&dense, false}, {&sparse, false}}, Fusion::kDbsf, 10);
  const double sd = std::sqrt(((0.3 * 0.3) + (0.2 * 0.2) + (0.5 * 0.5)) / 3);
  auto norm = [&](double s, double mean, double sdev) {
    return (s - (mean - 3 * sdev)) / (6 * sdev);
  };
  std::map<uint64_t, double> want{{1, norm(0.9, 0.6, sd)},
                                  {2, norm(0.8, 0.6, sd)},
                                  {3, norm(0.1, 0.6, sd) + norm(7, 6, 1)},
                                  {4, norm(5, 6, 1)}};
  ASSERT_EQ(dbsf.size(), 4u);
  for (const Neighbor& n : dbsf) {
    EXPECT_NEAR(n.score, want[n.id], 1e-6) << "point " << n.id;
  }
  EXPECT_EQ(dbsf[0].id, 3u);
  // Distances: the smallest is the best.
  const std::vector<Neighbor> l2{{8, 0.5f}, {9, 2.5f}};
  auto d = FuseRanked({{&l2, true}}, Fusion::kDbsf, 10);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].id, 8u);
  EXPECT_NEAR(d[0].score, 4.0 / 6, 1e-6);
  const std::vector<Neighbor> one{{5, 3.0f}};
  d = FuseRanked({{&one, false}}, Fusion::kDbsf, 10);
  EXPECT_FLOAT_EQ(d[0].score, 0.5f);
}

}  // namespace
}  // namespace tqdb
