// db/: collections, writes, reads, search before and after training,
// reopen, updates and deletes, snapshots, settings validation.
#include <algorithm>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "db/db.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "tests/db/db_test_util.h"

namespace tqdb {
namespace {

using dbtest::BruteForce;
using dbtest::Ids;
using dbtest::MakePoints;
using dbtest::TempDir;
using dbtest::VectorFor;

std::unique_ptr<Database> OpenOrDie(const std::string& dir,
                                    DatabaseOptions o = DatabaseOptions()) {
  auto db = Database::Open(dir, o);
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? std::move(*db) : nullptr;
}

std::shared_ptr<Collection> Create(Database* db, CollectionConfig c) {
  auto info = db->CreateCollection(c);
  EXPECT_TRUE(info.ok()) << info.status();
  auto coll = db->GetCollection(c.name);
  EXPECT_TRUE(coll.ok()) << coll.status();
  return coll.ok() ? *coll : nullptr;
}

CollectionConfig Config(const std::string& name, uint32_t dim,
                        Metric m = Metric::kCosine) {
  CollectionConfig c;
  c.name = name;
  c.dim = dim;
  c.metric = m;
  return c;
}

std::vector<std::vector<Neighbor>> SearchAll(const Collection& c,
                                             const std::vector<float>& queries,
                                             const QueryOptions& o) {
  auto r = c.SearchBatch(queries, o);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : std::vector<std::vector<Neighbor>>();
}

std::vector<float> Queries(size_t nq, uint32_t d, uint64_t seed) {
  std::vector<float> q;
  for (size_t i = 0; i < nq; ++i) {
    auto v = VectorFor(seed + i, 99, d);
    q.insert(q.end(), v.begin(), v.end());
  }
  return q;
}

void ExpectSameResults(const std::vector<std::vector<Neighbor>>& a,
                       const std::vector<std::vector<Neighbor>>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].size(), b[i].size()) << "query " << i;
    for (size_t j = 0; j < a[i].size(); ++j) {
      EXPECT_EQ(a[i][j].id, b[i][j].id) << "query " << i << " rank " << j;
      EXPECT_EQ(a[i][j].score, b[i][j].score) << "query " << i << " rank " << j;
    }
  }
}

TEST(DbBasic, CreateListInfoDropAndValidation) {
  TempDir tmp;
  auto db = OpenOrDie(tmp.path());
  ASSERT_TRUE(db);
  EXPECT_TRUE(db->ListCollections().empty());
  auto info = db->CreateCollection(Config("alpha", 16));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->config.train_threshold, 1000u);
  EXPECT_EQ(info->count, 0u);
  EXPECT_FALSE(info->trained);
  CollectionConfig b = Config("beta-2_x", 8, Metric::kL2);
  b.nlist = 4;
  b.bits = 2;
  b.method = "mse";
  info = db->CreateCollection(b);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->config.train_threshold, 39u * 4);
  EXPECT_EQ(db->ListCollections(),
            (std::vector<std::string>{"alpha", "beta-2_x"}));

  EXPECT_EQ(db->CreateCollection(Config("alpha", 16)).status().code(),
            absl::StatusCode::kAlreadyExists);
  for (const std::string& bad :
       std::vector<std::string>{"", "a b", "x/y", std::string(65, 'a'), "é"}) {
    EXPECT_EQ(db->CreateCollection(Config(bad, 16)).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_EQ(db->CreateCollection(Config("d1", 1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  CollectionConfig c = Config("m", 16);
  c.method = "lsh";
  EXPECT_EQ(db->CreateCollection(c).status().code(),
            absl::StatusCode::kInvalidArgument);
  c.method = "renorm";
  c.bits = 9;
  EXPECT_EQ(db->CreateCollection(c).status().code(),
            absl::StatusCode::kInvalidArgument);
  c.bits = 4;
  c.nlist = 100;
  c.train_threshold = 50;
  EXPECT_EQ(db->CreateCollection(c).status().code(),
            absl::StatusCode::kInvalidArgument);

  auto missing = db->GetCollection("nope");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("nope"), std::string::npos);

  // Settings persist; drop persists; a dropped handle says so.
  auto alpha = *db->GetCollection("alpha");
  ASSERT_TRUE(alpha->Upsert(MakePoints(0, 10, 16), true).ok());
  ASSERT_TRUE(db->Close().ok());
  db = OpenOrDie(tmp.path());
  ASSERT_TRUE(db);
  auto beta = db->GetCollection("beta-2_x");
  ASSERT_TRUE(beta.ok());
  EXPECT_EQ((*beta)->config().dim, 8u);
  EXPECT_EQ((*beta)->config().metric, Metric::kL2);
  EXPECT_EQ((*beta)->config().method, "mse");
  EXPECT_EQ((*beta)->config().bits, 2u);
  EXPECT_EQ((*beta)->config().nlist, 4u);
  alpha = *db->GetCollection("alpha");
  EXPECT_EQ(alpha->Count(), 10u);
  ASSERT_TRUE(db->DropCollection("alpha").ok());
  EXPECT_EQ(db->DropCollection("alpha").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(alpha->Count(), 10u);  // the handle's last count
  EXPECT_EQ(alpha->Upsert(MakePoints(0, 1, 16), true).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(alpha->Search(VectorFor(1, 0, 16), QueryOptions()).status().code(),
            absl::StatusCode::kNotFound);
  ASSERT_TRUE(db->Close().ok());
  EXPECT_EQ(beta.value()->Count(), 0u);
  EXPECT_EQ(beta.value()->Info().status().code(),
            absl::StatusCode::kFailedPrecondition);
  db = OpenOrDie(tmp.path());
  EXPECT_EQ(db->ListCollections(), (std::vector<std::string>{"beta-2_x"}));
  // Recreating the name gives an empty collection (no resurrected points).
  alpha = Create(db.get(), Config("alpha", 16));
  EXPECT_EQ(alpha->Count(), 0u);
  auto got = alpha->Get({0, 1, 2}, true, true);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->empty());
}

// A search under way when its collection is dropped (a cluster node drops a
// shard moved away while a read it took a moment earlier still runs) fails
// NotFound: it may have read after the drop deleted the points, and an
// answer from none or part of them would pass for a complete one.
TEST(DbBasic, ASearchUnderWayWhenTheCollectionIsDroppedFailsNotFound) {
  TempDir tmp;
  DatabaseOptions o;
  o.background_training = false;
  o.max_untrained_memory_bytes = 1;  // exact searches scan the stored vectors
  auto db = OpenOrDie(tmp.path(), o);
  auto c = Create(db.get(), Config("c", 4, Metric::kL2));
  ASSERT_TRUE(c->Upsert(MakePoints(0, 9000, 4), true).ok());
  QueryOptions q;
  q.k = 3;
  ASSERT_TRUE(c->Search(VectorFor(7, 0, 4), q).ok());  // whole before
  // The scan asks `cancelled` every 4,096 points: the collection is dropped
  // then, by another thread (as a node's reconciler would).
  bool dropped = false;
  q.cancelled = [&] {
    if (!dropped) {
      dropped = true;
      std::thread([&] { EXPECT_TRUE(db->DropCollection("c").ok()); }).join();
    }
    return false;
  };
  auto r = c->Search(VectorFor(7, 0, 4), q);
  EXPECT_TRUE(dropped);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound) << r.status();
}

TEST(DbBasic, BadPointsRejectWholeBatch) {
  TempDir tmp;
  DatabaseOptions o;
  o.max_batch = 50;
  auto db = OpenOrDie(tmp.path(), o);
  auto c = Create(db.get(), Config("c", 8));
  ASSERT_TRUE(c->Upsert(MakePoints(0, 5, 8), true).ok());
  auto check = [&](std::vector<Point> pts, absl::StatusCode code,
                   const std::string& needle) {
    absl::Status s = c->Upsert(pts, true);
    EXPECT_EQ(s.code(), code) << s;
    EXPECT_NE(s.message().find(needle), std::string::npos) << s;
    EXPECT_EQ(c->Count(), 5u);
    auto got = c->Get({100, 101, 102, 103}, false, false);
    ASSERT_TRUE(got.ok());
    EXPECT_TRUE(got->empty()) << "part of a rejected batch was stored";
  };
  auto pts = MakePoints(100, 4, 8);
  pts[2].vector.pop_back();
  check(pts, absl::StatusCode::kInvalidArgument, "point 2 (id 102)");
  pts = MakePoints(100, 4, 8);
  pts[3].vector[1] = std::nanf("");
  check(pts, absl::StatusCode::kInvalidArgument, "point 3 (id 103)");
  pts = MakePoints(100, 4, 8);
  pts[1].vector[0] = INFINITY;
  check(pts, absl::StatusCode::kInvalidArgument, "point 1 (id 101)");
  pts = MakePoints(100, 4, 8);
  pts[0].vector.clear();
  check(pts, absl::StatusCode::kInvalidArgument, "point 0 (id 100)");
  pts = MakePoints(100, 4, 8);
  std::fill(pts[2].vector.begin(), pts[2].vector.end(), 0.0f);
  check(pts, absl::StatusCode::kInvalidArgument, "point 2 (id 102)");
  check(MakePoints(100, 51, 8), absl::StatusCode::kResourceExhausted,
        "max_batch");
  // Queries are validated too.
  EXPECT_EQ(
      c->Search(std::vector<float>(7, 1.0f), QueryOptions()).status().code(),
      absl::StatusCode::kInvalidArgument);
  QueryOptions k0;
  k0.k = 0;
  EXPECT_EQ(c->Search(VectorFor(1, 0, 8), k0).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// A query is validated once, where it enters the database (db/query.h),
// with the messages the gRPC API passes on as they are.
TEST(DbBasic, QueryErrorsNameTheProblem) {
  TempDir tmp;
  auto db = OpenOrDie(tmp.path());
  CollectionConfig cfg = Config("c", 8);
  cfg.nlist = 4;
  cfg.train_threshold = 1000000;  // explicit Train() only
  auto c = Create(db.get(), cfg);
  ASSERT_TRUE(c->Upsert(MakePoints(0, 200, 8), true).ok());
  auto search = [&](const std::vector<float>& q, const QueryOptions& o) {
    absl::Status s = c->Search(q, o).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    return std::string(s.message());
  };
  EXPECT_EQ(search(std::vector<float>(7, 1.0f), QueryOptions()),
            "vector has 7 dimensions, collection 'c' has 8");
  EXPECT_EQ(search({}, QueryOptions()), "vector is empty");
  std::vector<float> bad = VectorFor(1, 0, 8);
  bad[3] = std::nanf("");
  EXPECT_EQ(search(bad, QueryOptions()), "vector coordinate 3 is NaN");
  bad[3] = -INFINITY;
  EXPECT_EQ(search(bad, QueryOptions()), "vector coordinate 3 is infinite");
  QueryOptions os;
  os.rescore = true;
  os.oversampling = 0.5f;
  EXPECT_EQ(search(VectorFor(1, 0, 8), os),
            "oversampling must be >= 1, got 0.5");
  QueryOptions ps;
  ps.probe_sigmas = -2.0f;
  EXPECT_EQ(search(VectorFor(1, 0, 8), ps),
            "probe_sigmas must be in [0, 1000], got -2");
  std::vector<float> two = VectorFor(2, 0, 8);
  two.insert(two.end(), bad.begin(), bad.end());
  auto batch = c->SearchBatch(two, QueryOptions());
  EXPECT_EQ(batch.status().message(),
            "query 1: vector coordinate 3 is infinite");
  batch = c->SearchBatch(std::vector<float>(12, 1.0f), QueryOptions());
  EXPECT_EQ(batch.status().message(),
            "queries hold 12 floats, not a multiple of dim 8");
  ASSERT_TRUE(c->Train().ok());
  QueryOptions above;
  above.nprobe = 5;  // nlist 4: clamped
  EXPECT_TRUE(c->Search(VectorFor(1, 0, 8), above).ok());
  EXPECT_EQ(search(bad, QueryOptions()), "vector coordinate 3 is infinite");
}

TEST(DbBasic, UpsertGetDeletePayloads) {
  TempDir tmp;
  auto db = OpenOrDie(tmp.path());
  auto c = Create(db.get(), Config("c", 12, Metric::kL2));
  auto pts = MakePoints(1, 20, 12);
  pts[3].payload.clear();
  // Duplicate ids in one batch: the last wins.
  Point dup = pts[0];
  dup.vector = VectorFor(1, 5, 12);
  dup.payload = "\"last\"";
  pts.push_back(dup);
  ASSERT_TRUE(c->Upsert(pts, false).ok());
  EXPECT_EQ(c->Count(), 20u);
  auto got = c->Get({1, 4, 999, 2}, true, true);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 3u);
  EXPECT_EQ((*got)[0].id, 1u);
  EXPECT_EQ((*got)[0].vector, VectorFor(1, 5, 12));
  EXPECT_EQ((*got)[0].payload, "\"last\"");
  EXPECT_EQ((*got)[1].id, 4u);
  EXPECT_TRUE((*got)[1].payload.empty());
  EXPECT_EQ((*got)[2].id, 2u);
  EXPECT_EQ((*got)[2].vector, VectorFor(2, 0, 12));
  got = c->Get({2}, false, false);
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE((*got)[0].has_vector);
  EXPECT_TRUE((*got)[0].payload.empty());

  // Update without payload removes the old payload.
  Point p{2, VectorFor(2, 1, 12), ""};
  ASSERT_TRUE(c->Upsert({p}, true).ok());
  got = c->Get({2}, true, true);
  EXPECT_TRUE((*got)[0].payload.empty());
  EXPECT_EQ((*got)[0].vector, VectorFor(2, 1, 12));
  EXPECT_EQ(c->Count(), 20u);

  auto del = c->Delete({2, 3, 3, 12345}, true);
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(*del, 2u);
  EXPECT_EQ(c->Count(), 18u);
  got = c->Get({2, 3}, true, true);
  EXPECT_TRUE(got->empty());
  // Searches never return deleted points.
  QueryOptions o;
  o.k = 30;
  auto r = c->Search(VectorFor(2, 1, 12), o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 18u);
  for (const Neighbor& n : *r) {
    EXPECT_NE(n.id, 2u);
    EXPECT_NE(n.id, 3u);
  }
}

// Exact search while untrained, for every metric, against brute force.
TEST(DbBasic, UntrainedSearchIsExact) {
  TempDir tmp;
  auto db = OpenOrDie(tmp.path());
  for (Metric m : {Metric::kCosine, Metric::kInnerProduct, Metric::kL2}) {
    auto c = Create(db.get(), Config(std::string("c") + MetricName(m), 24, m));
    auto pts = MakePoints(0, 300, 24);
    for (size_t i = 0; i < pts.size(); ++i) {
      for (float& x : pts[i].vector) x *= 1.0f + (i % 7) * 0.3f;  // norms vary
    }
    ASSERT_TRUE(c->Upsert(pts, false).ok());
    auto info = c->Info();
    ASSERT_TRUE(info.ok());
    EXPECT_FALSE(info->trained);
    QueryOptions o;
    o.k = 10;
    for (int qi = 0; qi < 20; ++qi) {
      auto q = VectorFor(5000 + qi, 0, 24);
      auto r = c->Search(q, o);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(Ids(*r), BruteForce(pts, q, m, 10))
          << MetricName(m) << " " << qi;
    }
    // Filter.
    o.id_filter = [](uint64_t id) { return id % 2 == 0; };
    auto r = c->Search(VectorFor(77, 0, 24), o);
    ASSERT_TRUE(r.ok());
    for (const Neighbor& n : *r) EXPECT_EQ(n.id % 2, 0u);
  }
}

// A bulk load that outruns the first training keeps memory bounded: past
// max_untrained_memory_bytes the untrained collection searches its stored
// vectors, still exactly, and still counts updates right.
TEST(DbBasic, UntrainedMemoryBudgetFallsBackToStoredVectors) {
  TempDir tmp;
  DatabaseOptions o;
  o.background_training = false;
  o.max_untrained_memory_bytes = 100 * 24 * sizeof(float);  // 100 vectors
  auto db = OpenOrDie(tmp.path(), o);
  for (Metric m : {Metric::kCosine, Metric::kL2}) {
    auto c = Create(db.get(), Config(std::string("c") + MetricName(m), 24, m));
    auto pts = MakePoints(0, 400, 24);
    ASSERT_TRUE(c->Upsert(pts, false).ok());
    // Updates of existing points and deletes still count right.
    ASSERT_TRUE(c->Upsert(MakePoints(10, 20, 24, /*version=*/1), false).ok());
    for (size_t i = 10; i < 30; ++i) pts[i] = MakePoints(i, 1, 24, 1)[0];
    ASSERT_EQ(*c->Delete({399, 398, 5000}, false), 2u);
    pts.resize(398);
    EXPECT_EQ(c->Count(), 398u);
    QueryOptions q;
    q.k = 10;
    for (int qi = 0; qi < 10; ++qi) {
      auto v = VectorFor(7000 + qi, 0, 24);
      auto r = c->Search(v, q);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(Ids(*r), BruteForce(pts, v, m, 10)) << MetricName(m);
    }
    // Training from there works as usual.
    ASSERT_TRUE(c->Train().ok());
    EXPECT_TRUE(c->Info()->trained);
    EXPECT_EQ(c->Count(), 398u);
  }
}

// Reopen after a clean close gives identical results, untrained and trained.
TEST(DbBasic, ReopenGivesIdenticalResults) {
  TempDir tmp;
  const uint32_t d = 32;
  const auto queries = Queries(20, d, 7000);
  QueryOptions o;
  o.k = 10;
  o.nprobe = 4;
  std::vector<std::vector<Neighbor>> untrained, trained, rescored;
  {
    auto db = OpenOrDie(tmp.path());
    CollectionConfig cfg = Config("u", d);
    auto u = Create(db.get(), cfg);
    ASSERT_TRUE(u->Upsert(MakePoints(0, 500, d), false).ok());
    untrained = SearchAll(*u, queries, o);
    cfg = Config("t", d);
    cfg.nlist = 16;
    auto t = Create(db.get(), cfg);
    for (int b = 0; b < 4; ++b) {
      ASSERT_TRUE(t->Upsert(MakePoints(b * 500, 500, d), false).ok());
    }
    t->WaitForTraining();
    auto info = t->Info();
    ASSERT_TRUE(info.ok());
    EXPECT_TRUE(info->trained);
    EXPECT_EQ(info->nlist, 16u);
    EXPECT_EQ(info->count, 2000u);
    EXPECT_EQ(info->lists.live, 2000u);
    // Points written after the training are encoded on the write path.
    ASSERT_TRUE(t->Upsert(MakePoints(2000, 300, d), false).ok());
    ASSERT_TRUE(t->Upsert(MakePoints(0, 100, d, /*version=*/3), false).ok());
    trained = SearchAll(*t, queries, o);
    QueryOptions ro = o;
    ro.rescore = true;
    rescored = SearchAll(*t, queries, ro);
    ASSERT_TRUE(db->Close().ok());
  }
  auto db = OpenOrDie(tmp.path());
  auto u = *db->GetCollection("u");
  auto t = *db->GetCollection("t");
  EXPECT_EQ(u->Count(), 500u);
  EXPECT_EQ(t->Count(), 2300u);
  auto info = t->Info();
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(info->trained);
  EXPECT_EQ(info->lists.live, 2300u);
  ExpectSameResults(untrained, SearchAll(*u, queries, o));
  ExpectSameResults(trained, SearchAll(*t, queries, o));
  QueryOptions ro = o;
  ro.rescore = true;
  ExpectSameResults(rescored, SearchAll(*t, queries, ro));
}

// The data-trained codecs persist their parameters too.
TEST(DbBasic, PcaAndPqCollectionsReopen) {
  TempDir tmp;
  const uint32_t d = 32;
  const auto queries = Queries(20, d, 7100);
  QueryOptions o;
  o.k = 10;
  o.nprobe = 8;
  std::vector<std::vector<Neighbor>> before[2];
  const char* methods[2] = {"pca", "pq"};
  {
    auto db = OpenOrDie(tmp.path());
    for (int m = 0; m < 2; ++m) {
      CollectionConfig cfg = Config(methods[m], d);
      cfg.method = methods[m];
      cfg.nlist = 8;
      auto c = Create(db.get(), cfg);
      ASSERT_TRUE(c->Upsert(MakePoints(0, 1500, d), false).ok());
      c->WaitForTraining();
      auto info = c->Info();
      ASSERT_TRUE(info.ok());
      ASSERT_TRUE(info->trained) << methods[m];
      before[m] = SearchAll(*c, queries, o);
      // Each stored point finds itself.
      const auto self = MakePoints(700, 1, d);
      QueryOptions one = o;
      one.k = 1;
      one.nprobe = 8;
      auto r = c->Search(self[0].vector, one);
      ASSERT_TRUE(r.ok());
      ASSERT_EQ(r->size(), 1u);
      EXPECT_EQ((*r)[0].id, 700u) << methods[m];
    }
    ASSERT_TRUE(db->Close().ok());
  }
  auto db = OpenOrDie(tmp.path());
  for (int m = 0; m < 2; ++m) {
    auto c = *db->GetCollection(methods[m]);
    ExpectSameResults(before[m], SearchAll(*c, queries, o));
  }
}

TEST(DbBasic, TrainedSearchQualityAndModes) {
  TempDir tmp;
  const uint32_t d = 32;
  auto db = OpenOrDie(tmp.path());
  CollectionConfig cfg = Config("c", d, Metric::kInnerProduct);
  cfg.nlist = 8;
  cfg.train_threshold = 1000000;  // explicit Train() only
  auto c = Create(db.get(), cfg);
  // Empty: Train refuses.
  EXPECT_EQ(c->Train().code(), absl::StatusCode::kFailedPrecondition);
  auto pts = MakePoints(0, 1500, d);
  ASSERT_TRUE(c->Upsert({pts.begin(), pts.begin() + 1000}, false).ok());
  ASSERT_TRUE(c->Upsert({pts.begin() + 1000, pts.end()}, false).ok());
  EXPECT_FALSE(c->Info()->trained);
  ASSERT_TRUE(c->Train().ok());
  auto info = c->Info();
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(info->trained);
  EXPECT_EQ(info->generation, 1u);
  EXPECT_EQ(info->trained_count, 1500u);
  // renorm 4 bits: the indices, its factor and the centroid correction.
  EXPECT_EQ(info->code_bytes, d * 4 / 8 + 8u);
  EXPECT_GT(info->disk_bytes_per_vector, d * 4.0);
  ASSERT_TRUE(c->Train().ok());  // idempotent
  EXPECT_EQ(c->Info()->generation, 1u);
  QueryOptions o;
  o.k = 10;
  o.nprobe = 0;
  size_t hits_est = 0, hits_rescore = 0;
  for (int qi = 0; qi < 30; ++qi) {
    auto q = VectorFor(9000 + qi, 0, d);
    auto truth = BruteForce(pts, q, Metric::kInnerProduct, 10);
    QueryOptions e = o;
    e.exact = true;
    auto r = c->Search(q, e);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(Ids(*r), truth);
    r = c->Search(q, o);
    ASSERT_TRUE(r.ok());
    hits_est += (*r)[0].id == truth[0];
    e = o;
    e.rescore = true;
    r = c->Search(q, e);
    ASSERT_TRUE(r.ok());
    hits_rescore += (*r)[0].id == truth[0];
    // Each stored point finds itself.
    r = c->Search(pts[qi * 37].vector, o);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ((*r)[0].id, pts[qi * 37].id);
  }
  EXPECT_GE(hits_est, 20u);
  EXPECT_GE(hits_rescore, 29u);
  // nprobe beyond nlist is clamped, not an error.
  o.nprobe = 1000;
  EXPECT_TRUE(c->Search(pts[0].vector, o).ok());
}

TEST(DbBasic, UpdatesAndDeletesSurviveReopenAndRetrain) {
  TempDir tmp;
  const uint32_t d = 16;
  CollectionConfig cfg = Config("c", d, Metric::kL2);
  cfg.nlist = 8;
  {
    auto db = OpenOrDie(tmp.path());
    auto c = Create(db.get(), cfg);
    ASSERT_TRUE(c->Upsert(MakePoints(0, 1000, d), true).ok());
    ASSERT_TRUE(c->Train().ok());
    // Move points far away (other lists), delete others.
    std::vector<Point> moved;
    for (uint64_t id = 0; id < 200; ++id) {
      Point p{id, VectorFor(id, 1, d), "\"moved\""};
      for (float& x : p.vector) x = x * 3 + 5;
      moved.push_back(p);
    }
    ASSERT_TRUE(c->Upsert(moved, true).ok());
    std::vector<uint64_t> del;
    for (uint64_t id = 500; id < 700; ++id) del.push_back(id);
    ASSERT_TRUE(c->Delete(del, true).ok());
    EXPECT_EQ(c->Count(), 800u);
    ASSERT_TRUE(db->Close().ok());
  }
  auto check = [&](Collection* c) {
    EXPECT_EQ(c->Count(), 800u);
    auto info = c->Info();
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->lists.live, 800u);  // no stale codes loaded
    auto got = c->Get({5, 150, 550, 699, 700}, true, true);
    ASSERT_TRUE(got.ok());
    ASSERT_EQ(got->size(), 3u);
    EXPECT_EQ((*got)[0].payload, "\"moved\"");
    EXPECT_EQ((*got)[1].payload, "\"moved\"");
    EXPECT_EQ((*got)[2].id, 700u);
    QueryOptions o;
    o.k = 5;
    o.nprobe = 0;
    o.rescore = true;
    for (uint64_t id : {10u, 199u}) {
      std::vector<float> q = VectorFor(id, 1, d);
      for (float& x : q) x = x * 3 + 5;
      auto r = c->Search(q, o);
      ASSERT_TRUE(r.ok());
      EXPECT_EQ((*r)[0].id, id);
      EXPECT_NEAR((*r)[0].score, 0.0f, 1e-4);
    }
    // Deleted points never come back, even when searching their vectors.
    o.k = 50;
    for (uint64_t id = 500; id < 520; ++id) {
      auto r = c->Search(VectorFor(id, 0, d), o);
      ASSERT_TRUE(r.ok());
      for (const Neighbor& n : *r) {
        EXPECT_FALSE(n.id >= 500 && n.id < 700) << n.id;
      }
    }
  };
  {
    auto db = OpenOrDie(tmp.path());
    auto c = *db->GetCollection("c");
    check(c.get());
    ASSERT_TRUE(c->Retrain().ok());
    EXPECT_EQ(c->Info()->generation, 2u);
    check(c.get());
    ASSERT_TRUE(db->Close().ok());
  }
  auto db = OpenOrDie(tmp.path());
  auto c = *db->GetCollection("c");
  EXPECT_EQ(c->Info()->generation, 2u);
  check(c.get());
}

TEST(DbBasic, BackgroundTrainingAtThreshold) {
  TempDir tmp;
  const uint32_t d = 16;
  auto db = OpenOrDie(tmp.path());
  CollectionConfig cfg = Config("c", d);
  cfg.nlist = 4;  // threshold 156
  auto c = Create(db.get(), cfg);
  ASSERT_TRUE(c->Upsert(MakePoints(0, 150, d), true).ok());
  c->WaitForTraining();
  EXPECT_FALSE(c->Info()->trained);
  ASSERT_TRUE(c->Upsert(MakePoints(150, 10, d), true).ok());
  c->WaitForTraining();
  auto info = c->Info();
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(info->trained) << info->last_training_error;
  EXPECT_EQ(info->lists.live, 160u);
  // Disabled background training: only Train() trains.
  TempDir tmp2;
  DatabaseOptions o;
  o.background_training = false;
  auto db2 = OpenOrDie(tmp2.path(), o);
  auto c2 = Create(db2.get(), cfg);
  ASSERT_TRUE(c2->Upsert(MakePoints(0, 400, d), true).ok());
  c2->WaitForTraining();
  EXPECT_FALSE(c2->Info()->trained);
}

TEST(DbBasic, StoreVectorsFalse) {
  TempDir tmp;
  const uint32_t d = 16;
  CollectionConfig cfg = Config("nv", d);
  cfg.nlist = 4;
  cfg.store_vectors = false;
  {
    auto db = OpenOrDie(tmp.path());
    auto c = Create(db.get(), cfg);
    ASSERT_TRUE(c->Upsert(MakePoints(0, 100, d), true).ok());
    // Untrained: vectors are kept, search is exact.
    auto got = c->Get({3}, true, false);
    ASSERT_TRUE(got.ok());
    EXPECT_TRUE((*got)[0].has_vector);
    ASSERT_TRUE(c->Train().ok());
    got = c->Get({3}, true, true);
    ASSERT_TRUE(got.ok());
    ASSERT_EQ(got->size(), 1u);
    EXPECT_FALSE((*got)[0].has_vector);
    EXPECT_FALSE((*got)[0].payload.empty());
    QueryOptions o;
    o.exact = true;
    EXPECT_EQ(c->Search(VectorFor(3, 0, d), o).status().code(),
              absl::StatusCode::kFailedPrecondition);
    o.exact = false;
    o.rescore = true;
    EXPECT_EQ(c->Search(VectorFor(3, 0, d), o).status().code(),
              absl::StatusCode::kFailedPrecondition);
    EXPECT_EQ(c->Retrain().code(), absl::StatusCode::kFailedPrecondition);
    ASSERT_TRUE(c->Upsert(MakePoints(100, 50, d), true).ok());
    ASSERT_TRUE(db->Close().ok());
  }
  {
    // The vectors family holds nothing more for the collection.
    rocksdb::DB* raw = nullptr;
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(),
                                                tmp.path(), &names)
                    .ok());
    for (const auto& n : names)
      cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    ASSERT_TRUE(rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), tmp.path(),
                                             cfs, &handles, &raw)
                    .ok());
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] != "vectors") continue;
      std::unique_ptr<rocksdb::Iterator> it(
          raw->NewIterator(rocksdb::ReadOptions(), handles[i]));
      it->SeekToFirst();
      EXPECT_FALSE(it->Valid()) << "vectors left after training";
    }
    for (auto* h : handles) raw->DestroyColumnFamilyHandle(h);
    delete raw;
  }
  auto db = OpenOrDie(tmp.path());
  auto c = *db->GetCollection("nv");
  EXPECT_EQ(c->Count(), 150u);
  QueryOptions o;
  o.nprobe = 0;
  for (uint64_t id : {5u, 120u}) {
    auto r = c->Search(VectorFor(id, 0, d), o);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ((*r)[0].id, id);
  }
}

TEST(DbBasic, ImbalanceReportedAndRetrainFixesIt) {
  TempDir tmp;
  const uint32_t d = 16;
  auto db = OpenOrDie(tmp.path());
  CollectionConfig cfg = Config("c", d, Metric::kL2);
  cfg.nlist = 16;
  cfg.train_threshold = 100000;
  auto c = Create(db.get(), cfg);
  ASSERT_TRUE(c->Upsert(MakePoints(0, 1000, d), false).ok());
  ASSERT_TRUE(c->Train().ok());
  EXPECT_FALSE(c->Info()->retrain_recommended) << c->Info()->retrain_reason;
  // Drift: 3000 new points in a tight blob far from the trained data.
  std::vector<Point> blob;
  for (uint64_t id = 1000; id < 4000; ++id) {
    Point p{id, VectorFor(id, 0, d), ""};
    for (float& x : p.vector) x = x + 4.0f;
    blob.push_back(p);
  }
  ASSERT_TRUE(c->Upsert(blob, false).ok());
  auto info = c->Info();
  ASSERT_TRUE(info.ok());
  EXPECT_GT(info->imbalance, 3.0);
  EXPECT_TRUE(info->retrain_recommended);
  EXPECT_FALSE(info->retrain_reason.empty());
  ASSERT_TRUE(c->Retrain().ok());
  info = c->Info();
  EXPECT_LT(info->imbalance, 3.0);
  EXPECT_FALSE(info->retrain_recommended) << info->retrain_reason;
  EXPECT_EQ(info->lists.live, 4000u);
}

}  // namespace
}  // namespace tqdb
