// Search by example (QueryOptions::examples, db/search_examples.h): the
// query is 2 mean(positive) - mean(negative) of the stored vectors (each
// normalized under cosine), the examples are left out, a filter still
// applies; and the errors.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "db/db.h"
#include "db/search_examples.h"
#include "gtest/gtest.h"
#include "tests/db/db_test_util.h"

namespace tqdb {
namespace {

using dbtest::MakePoints;
using dbtest::TempDir;

constexpr uint32_t kDim = 16;

// Points whose norms differ (1 + id % 5), so that cosine's normalization
// of the examples shows.
std::vector<Point> Points(size_t n) {
  std::vector<Point> pts = MakePoints(0, n, kDim);
  for (Point& p : pts) {
    for (float& x : p.vector) x *= static_cast<float>(1 + p.id % 5);
  }
  return pts;
}

std::vector<float> Expected(const std::vector<Point>& pts,
                            const SearchExamples& ex, bool cosine) {
  auto mean = [&](const std::vector<uint64_t>& ids) {
    std::vector<double> m(kDim, 0.0);
    for (uint64_t id : ids) {
      const std::vector<float>& v = pts[id].vector;
      double n = 1.0;
      if (cosine) {
        n = 0.0;
        for (float x : v) n += double{x} * x;
        n = std::sqrt(n);
      }
      for (uint32_t j = 0; j < kDim; ++j) m[j] += v[j] / n;
    }
    for (double& x : m) x /= static_cast<double>(ids.size());
    return m;
  };
  const std::vector<double> pos = mean(ex.positive);
  std::vector<float> q(kDim);
  if (ex.negative.empty()) {
    for (uint32_t j = 0; j < kDim; ++j) q[j] = static_cast<float>(pos[j]);
  } else {
    const std::vector<double> neg = mean(ex.negative);
    for (uint32_t j = 0; j < kDim; ++j) {
      q[j] = static_cast<float>(2.0 * pos[j] - neg[j]);
    }
  }
  return q;
}

class DbExamples : public ::testing::TestWithParam<Metric> {};

// A database in dir (trained only when asked) holding collection "c".
void OpenWithCollection(const TempDir& dir, Metric metric,
                        std::unique_ptr<Database>* db,
                        std::shared_ptr<Collection>* c) {
  DatabaseOptions opts;
  opts.background_training = false;
  auto opened = Database::Open(dir.sub("db"), opts);
  ASSERT_TRUE(opened.ok()) << opened.status();
  *db = *std::move(opened);
  CollectionConfig cfg;
  cfg.name = "c";
  cfg.dim = kDim;
  cfg.metric = metric;
  cfg.nlist = 8;
  ASSERT_TRUE((*db)->CreateCollection(cfg).ok());
  *c = *(*db)->GetCollection("c");
}

TEST_P(DbExamples, IsTheSearchOfTheExamplesQueryWithoutThem) {
  TempDir dir;
  std::unique_ptr<Database> db;
  std::shared_ptr<Collection> c;
  ASSERT_NO_FATAL_FAILURE(OpenWithCollection(dir, GetParam(), &db, &c));
  const std::vector<Point> pts = Points(600);
  ASSERT_TRUE(c->Upsert(pts, false).ok());
  const std::vector<SearchExamples> cases = {
      {{3}, {}}, {{3, 7, 40}, {}}, {{3, 7}, {11}}, {{5}, {6, 9}}};
  // Untrained (exact over the stored vectors), then trained (the index,
  // and an exact search).
  for (int trained = 0; trained < 2; ++trained) {
    if (trained) {
      ASSERT_TRUE(c->Train().ok());
    }
    for (bool exact : {true, false}) {
      for (const SearchExamples& ex : cases) {
        QueryOptions by_example;
        by_example.k = 10;
        by_example.exact = exact;
        by_example.nprobe = 8;
        by_example.examples = ex;
        auto got = c->Search({}, by_example);
        ASSERT_TRUE(got.ok()) << got.status();
        QueryOptions by_vector = by_example;
        by_vector.examples = SearchExamples();
        auto f = std::make_shared<Filter>();
        std::vector<uint64_t> ids = ex.positive;
        ids.insert(ids.end(), ex.negative.begin(), ex.negative.end());
        f->must_not.push_back(Condition::HasId(ids));
        by_vector.filter = f;
        const std::vector<float> q =
            Expected(pts, ex, GetParam() == Metric::kCosine);
        auto want = c->Search(q, by_vector);
        ASSERT_TRUE(want.ok()) << want.status();
        ASSERT_EQ(got->size(), 10u);
        ASSERT_EQ(got->size(), want->size());
        for (size_t i = 0; i < got->size(); ++i) {
          EXPECT_EQ((*got)[i].id, (*want)[i].id) << "rank " << i;
          EXPECT_NEAR((*got)[i].score, (*want)[i].score, 1e-4) << "rank " << i;
          for (uint64_t id : ids) EXPECT_NE((*got)[i].id, id);
        }
        // Without the exclusion one positive example (no negatives) would
        // lead an exact search: it is the query (L2), or its direction.
        if (exact && ex.positive.size() == 1 && ex.negative.empty() &&
            GetParam() != Metric::kInnerProduct) {
          QueryOptions unfiltered = by_vector;
          unfiltered.filter = nullptr;
          auto self = c->Search(q, unfiltered);
          ASSERT_TRUE(self.ok()) << self.status();
          EXPECT_EQ((*self)[0].id, ex.positive[0]);
        }
      }
    }
  }
  // A filter of the caller's still applies: ids above 300 only.
  QueryOptions o;
  o.k = 5;
  o.examples = {{3, 7}, {}};
  auto f = std::make_shared<Filter>();
  f->must.push_back(Condition::InRange("id", Range{{300.0}, {}, {}, {}}));
  o.filter = f;
  auto got = c->Search({}, o);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 5u);
  for (const Neighbor& n : *got) EXPECT_GT(n.id, 300u);
  ASSERT_TRUE(db->Close().ok());
}

INSTANTIATE_TEST_SUITE_P(Metrics, DbExamples,
                         ::testing::Values(Metric::kInnerProduct,
                                           Metric::kCosine, Metric::kL2),
                         [](const auto& info) {
                           return std::string(MetricName(info.param));
                         });

TEST(DbExamplesErrors, SayWhatIsWrong) {
  TempDir dir;
  std::unique_ptr<Database> db;
  std::shared_ptr<Collection> c;
  ASSERT_NO_FATAL_FAILURE(OpenWithCollection(dir, Metric::kCosine, &db, &c));
  std::vector<Point> pts = Points(50);
  // Two opposite points: their mean has no direction.
  pts[48].vector = pts[47].vector;
  for (float& x : pts[48].vector) x = -x;
  ASSERT_TRUE(c->Upsert(pts, false).ok());
  auto search = [&](SearchExamples ex, std::vector<float> q = {}) {
    QueryOptions o;
    o.examples = std::move(ex);
    return c->Search(q, o).status();
  };
  auto expect = [](const absl::Status& s, absl::StatusCode code,
                   const std::string& text) {
    EXPECT_EQ(s.code(), code) << s;
    EXPECT_TRUE(absl::StrContains(s.message(), text)) << s;
  };
  expect(search({{1}, {}}, pts[2].vector), absl::StatusCode::kInvalidArgument,
         "not both");
  expect(search({{}, {1}}), absl::StatusCode::kInvalidArgument,
         "at least one positive id");
  expect(search({{1, 999}, {}}), absl::StatusCode::kNotFound,
         "positive example 999 is not a point of collection 'c'");
  expect(search({{1}, {2, 777}}), absl::StatusCode::kNotFound,
         "negative example 777");
  expect(search({std::vector<uint64_t>(kMaxExamples + 1, 1), {}}),
         absl::StatusCode::kInvalidArgument, "1001 examples exceed");
  expect(search({{47, 48}, {}}), absl::StatusCode::kInvalidArgument,
         "zero vector");
  QueryOptions batch;
  batch.examples = {{1}, {}};
  expect(c->SearchBatch({}, batch).status(), absl::StatusCode::kInvalidArgument,
         "one search a call");
  // Without raw vectors there is nothing to make the query of.
  CollectionConfig codes_only = c->config();
  codes_only.name = "codes_only";
  codes_only.store_vectors = false;
  ASSERT_TRUE(db->CreateCollection(codes_only).ok());
  auto co = *db->GetCollection("codes_only");
  ASSERT_TRUE(co->Upsert(Points(10), false).ok());
  QueryOptions o;
  o.examples = {{1}, {}};
  expect(co->Search({}, o).status(), absl::StatusCode::kFailedPrecondition,
         "store_vectors = false");
  ASSERT_TRUE(db->Close().ok());
}

}  // namespace
}  // namespace tqdb
