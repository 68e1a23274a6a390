// Collection::UpdateVectors: new vectors for stored points, their payloads
// (and what payload indexes hold of them) kept, searchable by the new
// vectors whether the collection is trained or not, and durable; all or
// nothing: a point the collection does not hold, or a bad vector, writes
// nothing.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "db/db.h"
#include "gtest/gtest.h"
#include "tests/db/db_test_util.h"

namespace tqdb {
namespace {

using dbtest::MakePoints;
using dbtest::TempDir;
using dbtest::VectorFor;

constexpr uint32_t kDim = 16;
constexpr size_t kPoints = 400;

class DbUpdateVectors : public ::testing::TestWithParam<bool> {};

TEST_P(DbUpdateVectors, KeepsPayloadsAndFindsTheNewVectors) {
  const bool trained = GetParam();
  TempDir dir;
  DatabaseOptions opts;
  opts.background_training = false;
  auto db = Database::Open(dir.sub("db"), opts);
  ASSERT_TRUE(db.ok()) << db.status();
  CollectionConfig cfg;
  cfg.name = "c";
  cfg.dim = kDim;
  cfg.metric = Metric::kL2;
  cfg.nlist = 8;
  ASSERT_TRUE((*db)->CreateCollection(cfg).ok());
  auto c = *(*db)->GetCollection("c");
  // Payloads {"id": n, "v": 0}; an integer index on "id".
  ASSERT_TRUE(c->Upsert(MakePoints(0, kPoints, kDim), true).ok());
  ASSERT_TRUE(c->CreateFieldIndex("id", FieldType::kInteger, true).ok());
  if (trained) {
    ASSERT_TRUE(c->Train().ok());
  }
  // Points 0, 7, 14, ... get the vectors of version 1 (payloads not read).
  std::vector<Point> update;
  for (uint64_t id = 0; id < kPoints; id += 7) {
    update.push_back({id, VectorFor(id, 1, kDim), "{\"ignored\": true}"});
  }
  auto n = c->UpdateVectors(update, true);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, update.size());
  EXPECT_EQ(c->Count(), kPoints);
  auto check = [&](const std::shared_ptr<Collection>& col) {
    for (const Point& p : update) {
      SCOPED_TRACE(::testing::Message() << "point " << p.id);
      auto got = col->Get({p.id}, true, true);
      ASSERT_TRUE(got.ok()) << got.status();
      ASSERT_EQ(got->size(), 1u);
      EXPECT_EQ((*got)[0].vector, p.vector);
      EXPECT_EQ((*got)[0].payload,
                "{\"id\":" + std::to_string(p.id) + ",\"v\":0}");
      // The new vector finds its point, through the index (every list)
      // when trained, with a filter on the indexed payload field too.
      QueryOptions o;
      o.k = 1;
      o.nprobe = 0;
      o.rescore = trained;
      auto hits = col->Search(p.vector, o);
      ASSERT_TRUE(hits.ok()) << hits.status();
      ASSERT_EQ(hits->size(), 1u);
      EXPECT_EQ((*hits)[0].id, p.id);
      auto f = std::make_shared<Filter>();
      f->must.push_back(
          Condition::InRange("id", Range{{},
                                         {static_cast<double>(p.id)},
                                         {},
                                         {static_cast<double>(p.id)}}));
      o.filter = f;
      SearchInfo info;
      o.info = &info;
      hits = col->Search(p.vector, o);
      ASSERT_TRUE(hits.ok()) << hits.status();
      ASSERT_EQ(hits->size(), 1u);
      EXPECT_EQ((*hits)[0].id, p.id);
      EXPECT_TRUE(info.unindexed_fields.empty());
    }
  };
  ASSERT_NO_FATAL_FAILURE(check(c));

  // All or nothing: an unknown point, or a vector of another dimension,
  // writes nothing (point 1 keeps its vector).
  const std::vector<float> before = VectorFor(1, 0, kDim);
  auto missing = c->UpdateVectors({{1, VectorFor(1, 2, kDim), ""},
                                   {kPoints + 5, VectorFor(1, 2, kDim), ""}},
                                  false);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(missing.status().message(),
                                "point 405 is not in collection 'c'"))
      << missing.status();
  auto bad = c->UpdateVectors(
      {{1, VectorFor(1, 2, kDim), ""}, {2, std::vector<float>(3, 1.0f), ""}},
      false);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument)
      << bad.status();
  auto one = c->Get({1}, true, false);
  ASSERT_TRUE(one.ok() && one->size() == 1u);
  EXPECT_EQ((*one)[0].vector, before);

  // Durable: the same after a reopen.
  c.reset();
  ASSERT_TRUE((*db)->Close().ok());
  db = Database::Open(dir.sub("db"), opts);
  ASSERT_TRUE(db.ok()) << db.status();
  c = *(*db)->GetCollection("c");
  EXPECT_EQ(c->Count(), kPoints);
  ASSERT_NO_FATAL_FAILURE(check(c));
  ASSERT_TRUE((*db)->Close().ok());
}

INSTANTIATE_TEST_SUITE_P(Trained, DbUpdateVectors, ::testing::Bool(),
                         [](const auto& info) {
                           return std::string(info.param ? "trained"
                                                         : "untrained");
                         });

}  // namespace
}  // namespace tqdb
