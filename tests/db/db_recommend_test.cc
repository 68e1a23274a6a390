// The best_score and sum_scores strategies of a search by example
// (db/recommend.h) against the test's own brute force over the stored
// vectors: the same points in the same order, the same scores, whenever the
// searches under them are exact; most of them when the index answers; a
// caller's filter still applies; the errors.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "db/db.h"
#include "db/recommend.h"
#include "gtest/gtest.h"
#include "tests/db/db_test_util.h"

namespace tqdb {
namespace {

using dbtest::MakePoints;
using dbtest::TempDir;

constexpr uint32_t kDim = 16;
constexpr size_t kPoints = 600;

// Points whose norms differ (1 + id % 5); point kPoints is point 3 moved a
// little, a negative example beside a positive one: half of point 3's
// neighbours are then nearer the negative, and best_score must search
// deeper than k to find k points nearer the positive.
std::vector<Point> Points() {
  std::vector<Point> pts = MakePoints(0, kPoints + 1, kDim);
  for (Point& p : pts) {
    for (float& x : p.vector) x *= static_cast<float>(1 + p.id % 5);
  }
  pts[kPoints].vector = pts[3].vector;
  for (uint32_t j = 0; j < kDim; ++j) {
    pts[kPoints].vector[j] += 0.02f * ((j % 2) ? 1.0f : -1.0f);
  }
  return pts;
}

// The strategies' scores as Qdrant's reco_query.rs defines them, written
// here on their own.
double Sim(Metric m, const std::vector<float>& x, const std::vector<float>& e) {
  double dot = 0, xx = 0, ee = 0, dd = 0;
  for (uint32_t j = 0; j < kDim; ++j) {
    dot += double{x[j]} * e[j];
    xx += double{x[j]} * x[j];
    ee += double{e[j]} * e[j];
    dd += (double{x[j]} - e[j]) * (double{x[j]} - e[j]);
  }
  if (m == Metric::kL2) return -dd;
  if (m == Metric::kCosine) return dot / std::sqrt(xx * ee);
  return dot;
}

double Reference(Metric m, RecommendStrategy s, const std::vector<Point>& pts,
                 const SearchExamples& ex, const std::vector<float>& x) {
  if (s == RecommendStrategy::kSumScores) {
    double sum = 0;
    for (uint64_t id : ex.positive) sum += Sim(m, x, pts[id].vector);
    for (uint64_t id : ex.negative) sum -= Sim(m, x, pts[id].vector);
    return sum;
  }
  double pos = -INFINITY, neg = -INFINITY;
  for (uint64_t id : ex.positive) {
    pos = std::max(pos, Sim(m, x, pts[id].vector));
  }
  for (uint64_t id : ex.negative) {
    neg = std::max(neg, Sim(m, x, pts[id].vector));
  }
  auto f = [](double v) { return 0.5 * (v / (1 + std::fabs(v)) + 1); };
  return pos > neg ? f(pos) : -f(neg);
}

// The k best of the points other than the examples with id >= min_id
// (of the first `held` points and point kPoints).
std::vector<Neighbor> BruteForce(Metric m, RecommendStrategy s,
                                 const std::vector<Point>& pts,
                                 const SearchExamples& ex, size_t k,
                                 uint64_t min_id, size_t held = kPoints) {
  std::vector<Neighbor> all;
  for (const Point& p : pts) {
    if (p.id < min_id || (p.id >= held && p.id != kPoints) ||
        std::count(ex.positive.begin(), ex.positive.end(), p.id) ||
        std::count(ex.negative.begin(), ex.negative.end(), p.id)) {
      continue;
    }
    all.push_back(
        {p.id, static_cast<float>(Reference(m, s, pts, ex, p.vector))});
  }
  std::sort(all.begin(), all.end(), [](const Neighbor& a, const Neighbor& b) {
    return a.score > b.score || (a.score == b.score && a.id < b.id);
  });
  all.resize(std::min(k, all.size()));
  return all;
}

struct Case {
  RecommendStrategy strategy;
  SearchExamples examples;
};

std::vector<Case> CasesFor(Metric m) {
  const auto best = RecommendStrategy::kBestScore;
  const auto sum = RecommendStrategy::kSumScores;
  std::vector<Case> cases = {
      {best, {{3}, {}}},         {best, {{3, 7, 40}, {}}},
      {best, {{3, 7}, {11}}},    {best, {{5}, {6, 9}}},
      {best, {{3}, {kPoints}}},  {sum, {{3}, {}}},
      {sum, {{3, 7, 40}, {11}}}, {sum, {{3, 7, 40, 41}, {11, 12}}}};
  if (m != Metric::kL2) {
    cases.push_back({best, {{}, {6, 9}}});
    cases.push_back({sum, {{}, {6}}});
    cases.push_back({sum, {{5}, {6, 9}}});
  }
  return cases;
}

class DbRecommend : public ::testing::TestWithParam<Metric> {};

// A database in dir (trained only when asked) whose collection "c" holds
// Points().
void OpenWithPoints(const TempDir& dir, Metric metric,
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
  ASSERT_TRUE((*c)->Upsert(Points(), false).ok());
}

TEST_P(DbRecommend, IsTheBruteForceOfTheStrategy) {
  const Metric metric = GetParam();
  TempDir dir;
  std::unique_ptr<Database> db;
  std::shared_ptr<Collection> c;
  ASSERT_NO_FATAL_FAILURE(OpenWithPoints(dir, metric, &db, &c));
  const std::vector<Point> pts = Points();
  size_t found = 0, wanted = 0;
  // Untrained (exact over the stored vectors), then trained: an exact
  // search, and the index over every list.
  for (int trained = 0; trained < 2; ++trained) {
    if (trained) {
      ASSERT_TRUE(c->Train().ok());
    }
    for (bool exact : {true, false}) {
      if (!trained && !exact) continue;
      for (const Case& cs : CasesFor(metric)) {
        for (uint64_t min_id : {uint64_t{0}, uint64_t{300}}) {
          SCOPED_TRACE(::testing::Message()
                       << "strategy " << static_cast<int>(cs.strategy)
                       << " positives " << cs.examples.positive.size()
                       << " negatives " << cs.examples.negative.size()
                       << " trained " << trained << " exact " << exact
                       << " min_id " << min_id);
          QueryOptions o;
          o.k = 10;
          o.exact = exact;
          o.nprobe = 0;
          o.examples = cs.examples;
          o.examples.strategy = cs.strategy;
          if (min_id > 0) {
            auto f = std::make_shared<Filter>();
            f->must.push_back(Condition::InRange(
                "id", Range{{}, {static_cast<double>(min_id)}, {}, {}}));
            o.filter = f;
          }
          auto got = c->Search({}, o);
          ASSERT_TRUE(got.ok()) << got.status();
          const std::vector<Neighbor> want =
              BruteForce(metric, cs.strategy, pts, o.examples, o.k, min_id);
          ASSERT_EQ(got->size(), want.size());
          if (exact) {
            for (size_t i = 0; i < want.size(); ++i) {
              EXPECT_EQ((*got)[i].id, want[i].id) << "rank " << i;
              EXPECT_NEAR((*got)[i].score, want[i].score,
                          1e-5 * (1 + std::fabs(want[i].score)))
                  << "rank " << i;
            }
            continue;
          }
          // The index: its candidates (and sum_scores' scores) are
          // estimates; best_score scores its candidates exactly.
          for (const Neighbor& n : *got) {
            ++found;
            for (const Neighbor& w : want) {
              if (w.id != n.id) continue;
              ++wanted;
              if (cs.strategy == RecommendStrategy::kBestScore) {
                EXPECT_NEAR(n.score, w.score, 1e-5 * (1 + std::fabs(w.score)));
              }
            }
          }
        }
      }
    }
  }
  // Recall of the index answers (every list probed).
  EXPECT_GE(static_cast<double>(wanted), 0.8 * static_cast<double>(found))
      << wanted << " of " << found;
  ASSERT_TRUE(db->Close().ok());
}

// Examples given as vectors are their points' examples but for the
// exclusion: the same results as by ids once a filter leaves those points
// out, under every strategy, alone or beside ids; and they need no stored
// vectors where the strategy reads none.
TEST_P(DbRecommend, VectorsAreTheirPointsWithoutTheExclusion) {
  const Metric metric = GetParam();
  TempDir dir;
  std::unique_ptr<Database> db;
  std::shared_ptr<Collection> c;
  ASSERT_NO_FATAL_FAILURE(OpenWithPoints(dir, metric, &db, &c));
  const std::vector<Point> pts = Points();
  for (const Case& cs : CasesFor(metric)) {
    const SearchExamples& ex = cs.examples;
    QueryOptions by_ids;
    by_ids.k = 10;
    by_ids.examples = ex;
    by_ids.examples.strategy = cs.strategy;
    auto want = c->Search({}, by_ids);
    ASSERT_TRUE(want.ok()) << want.status();
    // All as vectors, then the first positive (or negative) as an id and
    // the rest as vectors.
    for (int mixed = 0; mixed < 2; ++mixed) {
      SCOPED_TRACE(::testing::Message()
                   << "strategy " << static_cast<int>(cs.strategy)
                   << " positives " << ex.positive.size() << " negatives "
                   << ex.negative.size() << " mixed " << mixed);
      QueryOptions by_vectors = by_ids;
      SearchExamples& v = by_vectors.examples;
      v.positive.clear();
      v.negative.clear();
      std::vector<uint64_t> left_out;
      for (uint64_t id : ex.positive) {
        if (mixed && v.positive.empty()) {
          v.positive.push_back(id);
        } else {
          v.positive_vectors.push_back(pts[id].vector);
          left_out.push_back(id);
        }
      }
      for (uint64_t id : ex.negative) {
        if (mixed && ex.positive.empty() && v.negative.empty()) {
          v.negative.push_back(id);
        } else {
          v.negative_vectors.push_back(pts[id].vector);
          left_out.push_back(id);
        }
      }
      auto f = std::make_shared<Filter>();
      f->must_not.push_back(Condition::HasId(left_out));
      by_vectors.filter = f;
      auto got = c->Search({}, by_vectors);
      ASSERT_TRUE(got.ok()) << got.status();
      ASSERT_EQ(got->size(), want->size());
      for (size_t i = 0; i < want->size(); ++i) {
        EXPECT_EQ((*got)[i].id, (*want)[i].id) << "rank " << i;
        EXPECT_NEAR((*got)[i].score, (*want)[i].score,
                    1e-5 * (1 + std::fabs((*want)[i].score)))
            << "rank " << i;
      }
    }
  }
  // A positive vector, no exclusion: its own point comes first (l2 and
  // cosine; under ip a longer point may beat it).
  if (metric != Metric::kInnerProduct) {
    QueryOptions o;
    o.k = 3;
    o.examples.positive_vectors = {pts[42].vector};
    auto got = c->Search({}, o);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ((*got)[0].id, 42u);
  }
  // Without stored vectors: examples as vectors under average_vector and
  // sum_scores; not ids, not best_score.
  CollectionConfig codes_only = c->config();
  codes_only.name = "codes_only";
  codes_only.store_vectors = false;
  ASSERT_TRUE(db->CreateCollection(codes_only).ok());
  auto co = *db->GetCollection("codes_only");
  ASSERT_TRUE(co->Upsert(pts, false).ok());
  for (RecommendStrategy s :
       {RecommendStrategy::kAverageVector, RecommendStrategy::kSumScores}) {
    QueryOptions o;
    o.k = 5;
    o.examples.positive_vectors = {pts[3].vector, pts[7].vector};
    o.examples.strategy = s;
    auto got = co->Search({}, o);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->size(), 5u);
  }
  QueryOptions o;
  o.examples.positive_vectors = {pts[3].vector};
  o.examples.strategy = RecommendStrategy::kBestScore;
  absl::Status s = co->Search({}, o).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "best_score strategy scores"))
      << s;
  o.examples = SearchExamples{{3}, {}};
  s = co->Search({}, o).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "give the examples as vectors"))
      << s;
  ASSERT_TRUE(db->Close().ok());
}

INSTANTIATE_TEST_SUITE_P(Metrics, DbRecommend,
                         ::testing::Values(Metric::kInnerProduct,
                                           Metric::kCosine, Metric::kL2),
                         [](const auto& info) {
                           return std::string(MetricName(info.param));
                         });

// BestScoreSearch itself over an in-memory exact search: it goes deeper
// than k when the first hits are nearer a negative (the negative beside the
// positive), stops at k when they are not, and stops when a search holds
// every point; each time the brute force's points.
TEST(BestScoreSearch, DeepensUntilTheBoundHolds) {
  const std::vector<Point> pts = Points();
  CollectionConfig cfg;
  cfg.name = "c";
  cfg.dim = kDim;
  for (Metric m : {Metric::kL2, Metric::kCosine, Metric::kInnerProduct}) {
    cfg.metric = m;
    for (size_t npoints : {pts.size(), size_t{15}}) {
      for (const SearchExamples& ex :
           {SearchExamples{{3}, {kPoints}}, SearchExamples{{3}, {}}}) {
        SCOPED_TRACE(::testing::Message()
                     << MetricName(m) << " points " << npoints << " negatives "
                     << ex.negative.size());
        std::vector<size_t> depths;
        // The points but the examples, by the search's own score (l2: the
        // squared distance, lower first), `depth` deep.
        const ExampleSearch search =
            [&](absl::Span<const float> q,
                size_t depth) -> absl::StatusOr<std::vector<ExampleHit>> {
          depths.push_back(depth);
          std::vector<ExampleHit> all;
          const std::vector<float> query(q.begin(), q.end());
          for (size_t i = 0; i <= npoints; ++i) {
            if (i == npoints && npoints < pts.size()) i = kPoints;
            if (i >= pts.size()) break;
            const Point& p = pts[i];
            if (p.id == 3 || (p.id == kPoints && !ex.negative.empty())) {
              continue;
            }
            const double sim = Sim(m, p.vector, query);
            all.push_back({p.id,
                           static_cast<float>(m == Metric::kL2 ? -sim : sim),
                           p.vector});
          }
          std::sort(all.begin(), all.end(),
                    [&](const ExampleHit& a, const ExampleHit& b) {
                      return m == Metric::kL2 ? a.score < b.score
                                              : a.score > b.score;
                    });
          all.resize(std::min(depth, all.size()));
          return all;
        };
        std::vector<Record> records(2);
        records[0].id = 3;
        records[0].vector = pts[3].vector;
        records[1].id = kPoints;
        records[1].vector = pts[kPoints].vector;
        for (Record& r : records) r.has_vector = true;
        auto ev = ExampleVectorsOf(cfg, ex, records);
        ASSERT_TRUE(ev.ok()) << ev.status();
        auto got = BestScoreSearch(cfg, *ev, 10, search);
        ASSERT_TRUE(got.ok()) << got.status();
        const std::vector<Neighbor> want = BruteForce(
            m, RecommendStrategy::kBestScore, pts, ex, 10, 0, npoints);
        ASSERT_EQ(got->size(), want.size());
        for (size_t i = 0; i < want.size(); ++i) {
          EXPECT_EQ((*got)[i].id, want[i].id) << "rank " << i;
        }
        const size_t deepest = *std::max_element(depths.begin(), depths.end());
        if (ex.negative.empty()) {
          EXPECT_EQ(deepest, 10u);  // the bound held at once
        } else if (npoints < pts.size()) {
          EXPECT_LE(deepest, 20u);  // 14 points: complete at 20
        } else if (m == Metric::kL2) {
          EXPECT_GT(deepest, 10u);  // half the first hits nearer the negative
        }
      }
    }
  }
}

TEST(DbRecommendErrors, SayWhatIsWrong) {
  TempDir dir;
  DatabaseOptions opts;
  opts.background_training = false;
  auto db = Database::Open(dir.sub("db"), opts);
  ASSERT_TRUE(db.ok()) << db.status();
  for (Metric m : {Metric::kL2, Metric::kCosine}) {
    CollectionConfig cfg;
    cfg.name = MetricName(m);
    cfg.dim = kDim;
    cfg.metric = m;
    ASSERT_TRUE((*db)->CreateCollection(cfg).ok());
    ASSERT_TRUE(
        (*(*db)->GetCollection(cfg.name))->Upsert(Points(), false).ok());
  }
  auto search = [&](const std::string& name, RecommendStrategy s,
                    SearchExamples ex) {
    QueryOptions o;
    o.examples = std::move(ex);
    o.examples.strategy = s;
    return (*(*db)->GetCollection(name))->Search({}, o).status();
  };
  auto expect = [](const absl::Status& s, absl::StatusCode code,
                   const std::string& text) {
    EXPECT_EQ(s.code(), code) << s;
    EXPECT_TRUE(absl::StrContains(s.message(), text)) << s;
  };
  const auto best = RecommendStrategy::kBestScore;
  const auto sum = RecommendStrategy::kSumScores;
  expect(search("l2", best, {{}, {1}}), absl::StatusCode::kInvalidArgument,
         "best_score strategy needs a positive id on an l2 collection");
  expect(search("l2", sum, {{1}, {2}}), absl::StatusCode::kInvalidArgument,
         "more positive than negative ids on an l2 collection (1 positive, 1 "
         "negative)");
  expect(search("cosine", sum, {{1}, {1}}), absl::StatusCode::kInvalidArgument,
         "examples cancel out");
  expect(search("cosine", best, {{}, {}}), absl::StatusCode::kInvalidArgument,
         "applies to a search by example");
  expect(search("cosine", best, {{1}, {999}}), absl::StatusCode::kNotFound,
         "negative example 999 is not a point of collection 'cosine'");
  expect(search("cosine", RecommendStrategy::kAverageVector, {{}, {1}}),
         absl::StatusCode::kInvalidArgument, "at least one positive id");
  SearchExamples short_vector{{1}, {}};
  short_vector.negative_vectors = {std::vector<float>(kDim - 1, 1.0f)};
  expect(search("cosine", best, short_vector),
         absl::StatusCode::kInvalidArgument,
         "negative example vector 0 has 15 dimensions, collection 'cosine' "
         "has 16");
  SearchExamples not_finite;
  not_finite.positive_vectors = {std::vector<float>(kDim, 1.0f),
                                 std::vector<float>(kDim, 1.0f)};
  not_finite.positive_vectors[1][4] = NAN;
  expect(search("cosine", sum, not_finite), absl::StatusCode::kInvalidArgument,
         "positive example vector 1 holds a non-finite value at 4");
  ASSERT_TRUE((*db)->Close().ok());
}

}  // namespace
}  // namespace tqdb
