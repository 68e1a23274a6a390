// Score boosting over gRPC (SearchRequest.formula): a formula search ranks
// the plain search's best prefetch_limit points by the formula, computed
// here from their payloads independently of db/formula.cc; offset,
// threshold, payload selection, batches, groups, an l2 collection; every
// error names what is wrong.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/rpc/rpc_test_util.h"

namespace tqdb {
namespace {

using namespace rpctest;  // NOLINT
using json = nlohmann::json;

constexpr uint32_t kDim = 16;
constexpr uint64_t kPoints = 300;

// Every third point has no "pop"; tags cycle h1, h2, p.
std::string PayloadOf(uint64_t id) {
  json p = {{"tag", id % 3 == 0   ? "h1"
                    : id % 3 == 1 ? "h2"
                                  : "p"},
            {"year", 2000 + static_cast<int>(id % 25)}};
  if (id % 3 != 2) p["pop"] = static_cast<double>(id % 17) / 4;
  return p.dump();
}

// sum($score, mult(0.05, pop), mult(0.2, tag in {h1}),
//     neg(lin_decay(year, target 2024, scale 10))) with pop defaulting to 1.
pb::Formula BoostFormula() {
  pb::Formula f;
  pb::Expressions* sum = f.mutable_expression()->mutable_sum();
  sum->add_expressions()->set_variable("$score");
  pb::Expressions* m1 = sum->add_expressions()->mutable_mult();
  m1->add_expressions()->set_constant(0.05);
  m1->add_expressions()->set_variable("pop");
  pb::Expressions* m2 = sum->add_expressions()->mutable_mult();
  m2->add_expressions()->set_constant(0.2);
  pb::FieldCondition* fc =
      m2->add_expressions()->mutable_condition()->mutable_field();
  fc->set_key("tag");
  fc->mutable_match()->mutable_value()->set_keyword("h1");
  pb::DecayExpression* d =
      sum->add_expressions()->mutable_neg()->mutable_lin_decay();
  d->mutable_x()->set_variable("year");
  d->mutable_target()->set_constant(2024);
  d->set_scale(10);
  (*f.mutable_defaults())["pop"].set_number_value(1);
  return f;
}

double BoostOf(float score, const std::string& payload) {
  const json p = json::parse(payload);
  const double pop = p.contains("pop") ? p["pop"].get<double>() : 1.0;
  const double tag = p["tag"] == "h1" ? 1 : 0;
  const double lin =
      std::max(0.0, 1 - 0.5 / 10 * std::fabs(p["year"].get<double>() - 2024));
  return score + 0.05 * pop + 0.2 * tag - lin;
}

class RpcFormulaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& [name, metric] :
         {std::pair{"c", pb::METRIC_COSINE}, std::pair{"e", pb::METRIC_L2}}) {
      grpc::ClientContext ctx;
      pb::CollectionInfo info;
      ASSERT_TRUE(ts_.collections()
                      .Create(&ctx, CreateReq(name, kDim, metric), &info)
                      .ok());
      pb::UpsertRequest up = UpsertReq(name, 0, kPoints, kDim);
      for (pb::Point& p : *up.mutable_points()) {
        p.set_payload(PayloadOf(p.id()));
      }
      grpc::ClientContext uctx;
      pb::UpsertResponse resp;
      ASSERT_TRUE(ts_.points().Upsert(&uctx, up, &resp).ok());
    }
  }
  grpc::Status Search(const pb::SearchRequest& r, pb::SearchResponse* resp) {
    grpc::ClientContext ctx;
    return ts_.points().Search(&ctx, r, resp);
  }
  // The formula's ranking of the plain search's best `depth` points, worked
  // out here: (value, id), best first.
  std::vector<std::pair<double, uint64_t>> Expected(pb::SearchRequest r,
                                                    uint32_t depth) {
    r.clear_formula();
    r.clear_prefetch_limit();
    r.clear_offset();
    r.clear_score_threshold();
    r.set_limit(depth);
    r.set_with_payload(true);
    pb::SearchResponse plain;
    EXPECT_TRUE(Search(r, &plain).ok());
    std::vector<std::pair<double, uint64_t>> want;
    for (const pb::ScoredPoint& p : plain.points()) {
      want.emplace_back(BoostOf(p.score(), p.payload()), p.id());
    }
    std::sort(want.begin(), want.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    return want;
  }
  TestServer ts_;
};

TEST_F(RpcFormulaTest, RanksThePrefetchedPointsByTheFormula) {
  for (uint64_t qi = 0; qi < 5; ++qi) {
    pb::SearchRequest r =
        SearchReq("c", dbtest::VectorFor(5000 + qi, 0, kDim), 10);
    *r.mutable_formula() = BoostFormula();
    r.set_prefetch_limit(60);
    r.set_with_payload(true);
    pb::SearchResponse got;
    ASSERT_TRUE(Search(r, &got).ok());
    const auto want = Expected(r, 60);
    ASSERT_EQ(got.points_size(), 10);
    for (int i = 0; i < got.points_size(); ++i) {
      EXPECT_EQ(got.points(i).id(), want[i].second) << "query " << qi;
      EXPECT_NEAR(got.points(i).score(), want[i].first, 1e-5);
      EXPECT_EQ(got.points(i).payload(), PayloadOf(got.points(i).id()));
    }
    // The plan is the plain search's; the formula moves points.
    pb::SearchRequest plain = r;
    plain.clear_formula();
    plain.clear_prefetch_limit();
    pb::SearchResponse p;
    ASSERT_TRUE(Search(plain, &p).ok());
    EXPECT_EQ(got.plan().kind(), p.plan().kind());
    bool moved = false;
    for (int i = 0; i < 10; ++i) {
      moved = moved || p.points(i).id() != got.points(i).id();
    }
    EXPECT_TRUE(moved);

    // An offset pages the formula's ranking; the threshold cuts by its
    // value; no payload unless asked, then through the selector.
    r.set_offset(4);
    r.set_limit(5);
    r.set_score_threshold(static_cast<float>(want[6].first));
    r.set_with_payload(false);
    ASSERT_TRUE(Search(r, &got).ok());
    ASSERT_EQ(got.points_size(), 3);
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(got.points(i).id(), want[4 + i].second);
      EXPECT_TRUE(got.points(i).payload().empty());
    }
    r.clear_score_threshold();
    r.set_with_payload(true);
    r.mutable_payload_selector()->add_include("tag");
    ASSERT_TRUE(Search(r, &got).ok());
    ASSERT_EQ(got.points_size(), 5);
    EXPECT_EQ(json::parse(got.points(0).payload()),
              json({{"tag", json::parse(PayloadOf(want[4].second))["tag"]}}));
  }
}

TEST_F(RpcFormulaTest, DepthDefaultsToOffsetPlusLimit) {
  pb::SearchRequest r = SearchReq("c", dbtest::VectorFor(77, 0, kDim), 8);
  *r.mutable_formula() = BoostFormula();
  pb::SearchResponse got;
  ASSERT_TRUE(Search(r, &got).ok());
  const auto want = Expected(r, 8);
  ASSERT_EQ(got.points_size(), 8);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(got.points(i).id(), want[i].second);
}

TEST_F(RpcFormulaTest, L2ScoresAreDistancesHigherFirst) {
  // "$score" on l2 is the distance; a formula ranks higher first, so
  // neg($score) keeps the plain order and $score reverses it.
  pb::SearchRequest r = SearchReq("e", dbtest::VectorFor(9, 0, kDim), 10);
  pb::SearchResponse plain, by_neg, by_score;
  ASSERT_TRUE(Search(r, &plain).ok());
  r.mutable_formula()->mutable_expression()->mutable_neg()->set_variable(
      "$score");
  ASSERT_TRUE(Search(r, &by_neg).ok());
  r.mutable_formula()->mutable_expression()->set_variable("$score");
  ASSERT_TRUE(Search(r, &by_score).ok());
  ASSERT_EQ(by_neg.points_size(), 10);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(by_neg.points(i).id(), plain.points(i).id());
    EXPECT_FLOAT_EQ(by_neg.points(i).score(), -plain.points(i).score());
    EXPECT_EQ(by_score.points(i).id(), plain.points(9 - i).id());
  }
}

TEST_F(RpcFormulaTest, BatchesAndGroups) {
  pb::SearchBatchRequest b;
  b.set_collection("c");
  for (uint64_t i = 0; i < 3; ++i) {
    pb::SearchRequest* q = b.add_searches();
    *q = SearchReq("c", dbtest::VectorFor(300 + i, 0, kDim), 6);
    if (i != 1) {
      *q->mutable_formula() = BoostFormula();
      q->set_prefetch_limit(30);
    }
  }
  grpc::ClientContext ctx;
  pb::SearchBatchResponse batch;
  ASSERT_TRUE(ts_.points().SearchBatch(&ctx, b, &batch).ok());
  ASSERT_EQ(batch.results_size(), 3);
  for (int i = 0; i < 3; ++i) {
    pb::SearchResponse one;
    ASSERT_TRUE(Search(b.searches(i), &one).ok());
    ASSERT_EQ(batch.results(i).points_size(), one.points_size());
    for (int j = 0; j < one.points_size(); ++j) {
      EXPECT_EQ(batch.results(i).points(j).id(), one.points(j).id());
      EXPECT_EQ(batch.results(i).points(j).score(), one.points(j).score());
    }
    EXPECT_EQ(batch.results(i).plan().kind(), one.plan().kind());
  }
  // Groups by tag of a formula search: each group's best hit is the best of
  // its tag in the formula's ranking.
  pb::SearchRequest g = SearchReq("c", dbtest::VectorFor(301, 0, kDim), 3);
  *g.mutable_formula() = BoostFormula();
  g.set_group_by("tag");
  pb::SearchResponse groups;
  ASSERT_TRUE(Search(g, &groups).ok());
  ASSERT_EQ(groups.groups_size(), 3);
  float last = INFINITY;
  for (const pb::PointGroup& grp : groups.groups()) {
    ASSERT_GT(grp.hits_size(), 0);
    EXPECT_LE(grp.hits(0).score(), last);
    last = grp.hits(0).score();
    EXPECT_EQ(json::parse(PayloadOf(grp.hits(0).id()))["tag"], grp.keyword());
  }
}

TEST_F(RpcFormulaTest, ErrorsNameWhatIsWrong) {
  auto expect = [&](const pb::SearchRequest& r, grpc::StatusCode code,
                    const std::string& part) {
    pb::SearchResponse resp;
    const grpc::Status s = Search(r, &resp);
    EXPECT_EQ(s.error_code(), code) << s.error_message();
    EXPECT_TRUE(absl::StrContains(s.error_message(), part))
        << s.error_message() << " lacks " << part;
  };
  pb::SearchRequest r = SearchReq("c", dbtest::VectorFor(1, 0, kDim), 5);
  r.set_prefetch_limit(50);
  expect(r, grpc::INVALID_ARGUMENT,
         "prefetch_limit applies to a hybrid search");
  r.mutable_formula()->mutable_expression()->set_variable("pop");
  r.set_prefetch_limit(3);
  expect(r, grpc::INVALID_ARGUMENT, "prefetch_limit 3 must be in");
  r.set_prefetch_limit(50);
  // Every third point has no pop, and no default is given.
  expect(r, grpc::INVALID_ARGUMENT,
         "has no value in its payload nor in the formula's defaults");
  expect(r, grpc::INVALID_ARGUMENT, "formula: point ");
  (*r.mutable_formula()->mutable_defaults())["pop"].set_string_value("x");
  expect(r, grpc::INVALID_ARGUMENT, "defaults['pop']: expected a number");
  r.mutable_formula()->clear_defaults();
  r.mutable_formula()->mutable_expression()->mutable_sum();
  expect(r, grpc::INVALID_ARGUMENT, "sum: needs at least one expression");
  r.mutable_formula()
      ->mutable_expression()
      ->mutable_sum()
      ->add_expressions()
      ->mutable_div()
      ->mutable_left()
      ->set_constant(1);
  expect(r, grpc::INVALID_ARGUMENT,
         "formula.sum[0].div.right: expression is "
         "empty");
  r.mutable_formula()->mutable_expression()->mutable_sqrt()->set_constant(-1);
  expect(r, grpc::INVALID_ARGUMENT, "sqrt(-1) = ");
  r.mutable_formula()->clear_expression();
  expect(r, grpc::INVALID_ARGUMENT, "formula.expression: expression is empty");
  // The server keeps serving.
  r.clear_formula();
  r.clear_prefetch_limit();
  pb::SearchResponse ok;
  EXPECT_TRUE(Search(r, &ok).ok());
  EXPECT_EQ(ok.points_size(), 5);
}

}  // namespace
}  // namespace tqdb
