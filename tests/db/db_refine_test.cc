// db/: the rescoring source of a collection (CollectionConfig::refine):
// int8 / f32 codes held by the index instead of the stored vectors. Their
// recall against raw rescoring on a shared real set, their scores through
// upserts, deletes, retraining and reopen, settings validation and the
// collection record's version 2.
#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "db/db.h"
#include "db/format.h"
#include "gtest/gtest.h"
#include "tests/db/db_test_util.h"
#include "tests/test_util.h"

namespace tqdb {
namespace {

using dbtest::Ids;
using dbtest::MakePoints;
using dbtest::Recall10At10;
using dbtest::TempDir;
using dbtest::VectorFor;

std::unique_ptr<Database> OpenOrDie(const std::string& dir) {
  DatabaseOptions o;
  o.background_training = false;
  auto db = Database::Open(dir, o);
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? std::move(*db) : nullptr;
}

CollectionConfig Config(const std::string& name, uint32_t dim, Metric m,
                        RefineKind refine) {
  CollectionConfig c;
  c.name = name;
  c.dim = dim;
  c.metric = m;
  c.refine = refine;
  return c;
}

std::shared_ptr<Collection> Get(Database* db, const std::string& name) {
  auto c = db->GetCollection(name);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *c : nullptr;
}

// The goodness the index ranks by, in double, of query q and vector v.
double Goodness(const std::vector<float>& q, const std::vector<float>& v,
                Metric m) {
  double dot = 0, qn = 0, vn = 0, l2 = 0;
  for (size_t j = 0; j < q.size(); ++j) {
    dot += double{q[j]} * v[j];
    qn += double{q[j]} * q[j];
    vn += double{v[j]} * v[j];
    const double t = double{q[j]} - v[j];
    l2 += t * t;
  }
  if (m == Metric::kCosine) return dot / std::sqrt(qn * vn);
  if (m == Metric::kL2) return l2;  // a score, smaller is better
  return dot;
}

// How far an int8-rescored score may be from the exact one: |<q, x^> - <q,
// x>| <= ||q||_1 s / 2 with s = max |x_i| / 127 (index/refine_codes.h), on
// the prepared (unit for cosine) vectors; L2 also errs in ||x^||^2.
double Int8Bound(const std::vector<float>& q, const std::vector<float>& v,
                 Metric m) {
  std::vector<float> x = v, qq = q;
  if (m == Metric::kCosine) {
    double n = 0, nq = 0;
    for (float t : x) n += double{t} * t;
    for (float t : qq) nq += double{t} * t;
    for (float& t : x) t = static_cast<float>(t / std::sqrt(n));
    for (float& t : qq) t = static_cast<float>(t / std::sqrt(nq));
  }
  double amax = 0, q1 = 0, x1 = 0;
  for (float t : x) amax = std::max<double>(amax, std::fabs(t));
  for (float t : qq) q1 += std::fabs(t);
  for (float t : x) x1 += std::fabs(t);
  const double s = amax / 127, dim = static_cast<double>(x.size());
  double b = q1 * s / 2;
  // L2: 2 <q, e> and ||x^||^2 - ||x||^2 = <e, 2 x + e>, |e_i| <= s / 2.
  if (m == Metric::kL2) b = 2 * b + x1 * s + dim * s * s / 4;
  // Cosine divides by ||x^|| = 1 +- ||e|| (x at unit length).
  if (m == Metric::kCosine) b += std::sqrt(dim) * s / 2 * 1.01;
  // Float rounding of the sums beside the quantization error.
  return b + 1e-4 * (1 + std::fabs(Goodness(q, v, m)));
}

// use512 (5,000 base rows, 200 queries), renorm 2 bits, nlist 64, nprobe
// 16, rescoring 40 candidates: int8 codes keep the recall of rescoring from
// the raw vectors within 0.01 (their error is about ||q|| s / sqrt(12) a
// score, far below the gaps between neighbours); f32 gives the raw
// rescore's results exactly (same candidates, same vectors, same kernel).
TEST(DbRefine, RefineRecallOnUse512) {
  const std::string root = testing_util::SharedDataDir();
  testing_util::Use512 u;
  if (!testing_util::LoadUse512(&u)) {
    GTEST_SKIP() << "use512 not found in " << root;
  }
  std::vector<float>& base = u.base;
  std::vector<float>& queries = u.queries;
  size_t n = u.n, d = u.d, nq = u.nq;
  n = 5000;
  nq = 200;
  queries.resize(nq * d);
  TempDir tmp;
  auto db = OpenOrDie(tmp.path());
  ASSERT_TRUE(db);
  std::vector<Point> pts(n);
  for (size_t i = 0; i < n; ++i) {
    pts[i].id = i;
    pts[i].vector.assign(base.begin() + i * d, base.begin() + (i + 1) * d);
  }
  std::vector<std::vector<std::vector<Neighbor>>> results;
  std::vector<std::vector<Neighbor>> truth;
  for (RefineKind r :
       {RefineKind::kNone, RefineKind::kInt8, RefineKind::kFloat32}) {
    CollectionConfig c =
        Config(RefineKindName(r, RefineVocabulary::kRescoreSource),
               static_cast<uint32_t>(d), Metric::kInnerProduct, r);
    c.method = "renorm";
    c.bits = 2;
    c.nlist = 64;
    ASSERT_TRUE(db->CreateCollection(c).ok());
    auto coll = Get(db.get(), c.name);
    ASSERT_TRUE(coll);
    ASSERT_TRUE(coll->Upsert(pts, false).ok());
    ASSERT_TRUE(coll->Train().ok());
    QueryOptions o;
    o.k = 10;
    o.nprobe = 16;
    o.rescore = true;
    o.oversampling = 4;
    auto res = coll->SearchBatch(queries, o);
    ASSERT_TRUE(res.ok()) << res.status();
    results.push_back(*res);
    if (r == RefineKind::kNone) {
      o.exact = true;
      auto ex = coll->SearchBatch(queries, o);
      ASSERT_TRUE(ex.ok()) << ex.status();
      truth = *ex;
    }
    auto info = coll->Info();
    ASSERT_TRUE(info.ok());
    const size_t want = r == RefineKind::kInt8      ? d + 8
                        : r == RefineKind::kFloat32 ? 4 * d + 4
                                                    : 0;
    EXPECT_EQ(info->refine_bytes, want);
  }
  const double raw = Recall10At10(results[0], truth);
  const double int8 = Recall10At10(results[1], truth);
  const double f32 = Recall10At10(results[2], truth);
  std::printf("10-recall@10: raw %.4f int8 %.4f f32 %.4f\n", raw, int8, f32);
  EXPECT_GT(raw, 0.8);  // the rescore works at all
  EXPECT_NEAR(int8, raw, 0.01);
  EXPECT_EQ(f32, raw);
  for (size_t i = 0; i < nq; ++i) {
    ASSERT_EQ(Ids(results[2][i]), Ids(results[0][i])) << "query " << i;
  }
}

class DbRefineWrites
    : public ::testing::TestWithParam<std::tuple<RefineKind, Metric>> {};

// A collection with in-memory codes and a raw twin take the same writes:
// every rescored score is the point's current vector's (exact for f32,
// within the int8 bound), an updated point is rescored with its new vector,
// a deleted one never comes back, and retraining and reopening rebuild the
// codes (same results as before the reopen).
TEST_P(DbRefineWrites, UpsertDeleteRetrainReopenKeepTheCodes) {
  // Not a structured binding: C++17 lambdas cannot capture those (clang
  // refuses, and the sanitizer stages build with clang).
  const RefineKind refine = std::get<0>(GetParam());
  const Metric metric = std::get<1>(GetParam());
  constexpr uint32_t d = 32;
  constexpr size_t n = 3000;
  TempDir tmp;
  auto db = OpenOrDie(tmp.path());
  ASSERT_TRUE(db);
  CollectionConfig cc = Config("codes", d, metric, refine);
  cc.nlist = 16;
  CollectionConfig cr = Config("raw", d, metric, RefineKind::kNone);
  cr.nlist = 16;
  ASSERT_TRUE(db->CreateCollection(cc).ok());
  ASSERT_TRUE(db->CreateCollection(cr).ok());
  // The current vector of every point, to check scores against.
  std::vector<std::vector<float>> current(n + 1);
  std::vector<Point> pts = MakePoints(0, n, d);
  for (const Point& p : pts) current[p.id] = p.vector;
  std::set<uint64_t> deleted;
  auto write = [&](const std::vector<Point>& batch) {
    for (const char* name : {"codes", "raw"}) {
      ASSERT_TRUE(Get(db.get(), name)->Upsert(batch, false).ok());
    }
    for (const Point& p : batch) {
      current[p.id] = p.vector;
      deleted.erase(p.id);
    }
  };
  write(pts);
  for (const char* name : {"codes", "raw"}) {
    ASSERT_TRUE(Get(db.get(), name)->Train().ok());
  }
  QueryOptions o;
  o.k = 10;
  o.nprobe = 4;
  o.rescore = true;
  o.oversampling = 8;
  const size_t nq = 20;
  std::vector<float> queries;
  for (size_t i = 0; i < nq; ++i) {
    auto v = VectorFor(100000 + i, 7, d);
    for (float& x : v) x *= 3;  // not unit: scales matter for ip and l2
    queries.insert(queries.end(), v.begin(), v.end());
  }
  auto search = [&](const char* name) {
    auto r = Get(db.get(), name)->SearchBatch(queries, o);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : std::vector<std::vector<Neighbor>>();
  };
  auto check = [&](const std::string& when) {
    const auto got = search("codes"), raw = search("raw");
    ASSERT_EQ(got.size(), nq);
    for (size_t i = 0; i < nq; ++i) {
      const std::vector<float> q(queries.begin() + i * d,
                                 queries.begin() + (i + 1) * d);
      ASSERT_EQ(got[i].size(), o.k) << when;
      for (const Neighbor& nb : got[i]) {
        ASSERT_FALSE(deleted.count(nb.id))
            << when << ": deleted point " << nb.id << " returned";
        const double want = Goodness(q, current[nb.id], metric);
        const double tol = refine == RefineKind::kInt8
                               ? Int8Bound(q, current[nb.id], metric)
                               : 1e-4 * (1 + std::fabs(want));
        EXPECT_NEAR(nb.score, want, tol)
            << when << ": query " << i << " point " << nb.id;
      }
      if (refine == RefineKind::kFloat32) {
        EXPECT_EQ(Ids(got[i]), Ids(raw[i])) << when << ": query " << i;
      }
    }
  };
  check("after training");

  // Updates: a few points move next to the queries (each query's own
  // vector), so they must rank first with their new scores.
  std::vector<Point> moved;
  for (size_t i = 0; i < 5; ++i) {
    Point p;
    p.id = 10 * i + 1;
    p.vector.assign(queries.begin() + i * d, queries.begin() + (i + 1) * d);
    moved.push_back(p);
  }
  write(moved);
  check("after updates");
  for (size_t i = 0; i < 5; ++i) {
    const auto r = search("codes");
    ASSERT_FALSE(r[i].empty());
    EXPECT_EQ(r[i][0].id, moved[i].id) << "query " << i;
  }
  // Deletes: every point some query returns now, and one moved point.
  std::vector<uint64_t> gone;
  for (const auto& r : search("codes")) {
    for (const Neighbor& nb : r) {
      if (!deleted.count(nb.id)) {
        gone.push_back(nb.id);
        deleted.insert(nb.id);
      }
    }
  }
  for (const char* name : {"codes", "raw"}) {
    auto del = Get(db.get(), name)->Delete(gone, false);
    ASSERT_TRUE(del.ok()) << del.status();
  }
  check("after deletes");
  // New points after the deletes.
  write(MakePoints(n - 50, 50, d, /*version=*/3));
  check("after re-upserts");
  const auto before_reopen = search("codes");

  db.reset();
  db = OpenOrDie(tmp.path());
  ASSERT_TRUE(db);
  auto info = Get(db.get(), "codes")->Info();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->config.refine, refine);
  EXPECT_EQ(info->refine_bytes,
            refine == RefineKind::kInt8 ? d + 8 : 4 * d + 4);
  auto raw_info = Get(db.get(), "raw")->Info();
  ASSERT_TRUE(raw_info.ok());
  EXPECT_EQ(raw_info->config.refine, RefineKind::kNone);
  EXPECT_EQ(info->memory_bytes_per_vector,
            raw_info->memory_bytes_per_vector + info->refine_bytes);
  check("after reopen");
  const auto after_reopen = search("codes");
  for (size_t i = 0; i < nq; ++i) {
    ASSERT_EQ(Ids(after_reopen[i]), Ids(before_reopen[i])) << "query " << i;
    for (size_t j = 0; j < o.k; ++j) {
      EXPECT_EQ(after_reopen[i][j].score, before_reopen[i][j].score);
    }
  }

  for (const char* name : {"codes", "raw"}) {
    ASSERT_TRUE(Get(db.get(), name)->Retrain().ok());
  }
  check("after retraining");
}

INSTANTIATE_TEST_SUITE_P(
    KindsAndMetrics, DbRefineWrites,
    ::testing::Combine(
        ::testing::Values(RefineKind::kInt8, RefineKind::kFloat32),
        ::testing::Values(Metric::kInnerProduct, Metric::kCosine, Metric::kL2)),
    [](const auto& info) {
      return std::string(RefineKindName(std::get<0>(info.param),
                                        RefineVocabulary::kRescoreSource)) +
             "_" + MetricName(std::get<1>(info.param));
    });

TEST(DbRefine, SettingsAreValidated) {
  TempDir tmp;
  auto db = OpenOrDie(tmp.path());
  ASSERT_TRUE(db);
  CollectionConfig c = Config("a", 8, Metric::kCosine, RefineKind::kInt8);
  c.store_vectors = false;
  auto r = db->CreateCollection(c);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("needs store_vectors"), std::string::npos)
      << r.status();
  c.refine = static_cast<RefineKind>(7);
  c.store_vectors = true;
  EXPECT_EQ(db->CreateCollection(c).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseRefineKind("raw", RefineVocabulary::kRescoreSource).value(),
            RefineKind::kNone);
  EXPECT_EQ(ParseRefineKind("int8", RefineVocabulary::kRescoreSource).value(),
            RefineKind::kInt8);
  EXPECT_EQ(ParseRefineKind("f32", RefineVocabulary::kRescoreSource).value(),
            RefineKind::kFloat32);
  EXPECT_EQ(
      ParseRefineKind("none", RefineVocabulary::kRescoreSource).status().code(),
      absl::StatusCode::kInvalidArgument);
  // An untrained collection with codes searches exactly, like any other.
  c.refine = RefineKind::kFloat32;
  ASSERT_TRUE(db->CreateCollection(c).ok());
  auto coll = Get(db.get(), "a");
  ASSERT_TRUE(coll->Upsert(MakePoints(0, 20, 8), false).ok());
  QueryOptions o;
  o.k = 3;
  o.rescore = true;
  auto hits = coll->Search(VectorFor(0, 0, 8), o);
  ASSERT_TRUE(hits.ok()) << hits.status();
  ASSERT_FALSE(hits->empty());
  EXPECT_EQ((*hits)[0].id, 0u);
  auto info = coll->Info();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->refine_bytes, 0u);  // no index yet
}

// Record version 1 (every record before refine existed, and raw ones now)
// reads as raw; a record with codes is version 2 and round-trips.
TEST(DbRefine, CollectionRecordVersions) {
  dbformat::CollectionRecord rec;
  rec.cid = 3;
  rec.config = Config("r", 16, Metric::kL2, RefineKind::kNone);
  rec.generation = 2;
  rec.trained_nlist = 5;
  rec.trained_count = 77;
  std::string v1 = dbformat::EncodeRecord(rec);
  ASSERT_GE(v1.size(), 8u);
  EXPECT_EQ(static_cast<uint8_t>(v1[4]), 1);  // version, little-endian
  auto back = dbformat::DecodeRecord(v1);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->config.refine, RefineKind::kNone);
  EXPECT_EQ(back->trained_count, 77u);
  for (RefineKind r : {RefineKind::kInt8, RefineKind::kFloat32}) {
    rec.config.refine = r;
    const std::string v2 = dbformat::EncodeRecord(rec);
    EXPECT_EQ(static_cast<uint8_t>(v2[4]), 2);
    EXPECT_EQ(v2.size(), v1.size() + 4);
    back = dbformat::DecodeRecord(v2);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->config.refine, r);
    EXPECT_EQ(back->generation, 2u);
    EXPECT_EQ(back->trained_count, 77u);
  }
}

}  // namespace
}  // namespace tqdb
