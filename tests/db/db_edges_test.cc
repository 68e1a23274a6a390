// Edges of the database's contract that users met (issue 17): a training
// that a crash interrupted, a zero query vector under cosine, nprobe above
// nlist, echoed user input, concurrent create and drop of one name.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "db/db.h"
#include "gtest/gtest.h"
#include "tests/db/db_test_util.h"

namespace tqdb {
namespace {

using dbtest::MakePoints;
using dbtest::RacingRounds;
using dbtest::TempDir;

constexpr uint32_t kDim = 16;

std::unique_ptr<Database> OpenDb(const std::string& dir, bool background) {
  DatabaseOptions o;
  o.background_training = background;
  auto db = Database::Open(dir, o);
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? std::move(*db) : nullptr;
}

// Creates `cfg.name` (kDim) and upserts points [0, n) with a wait.
std::shared_ptr<Collection> CreateFilled(Database& db, CollectionConfig cfg,
                                         size_t n) {
  cfg.dim = kDim;
  EXPECT_TRUE(db.CreateCollection(cfg).ok());
  auto c = db.GetCollection(cfg.name);
  EXPECT_TRUE(c.ok()) << c.status();
  if (!c.ok()) return nullptr;
  EXPECT_TRUE((*c)->Upsert(MakePoints(0, n, kDim), true).ok());
  return *c;
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
    cfg.train_threshold = 500;
    auto c = CreateFilled(*db, cfg, 1000);
    ASSERT_NE(c, nullptr);
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
  cfg.train_threshold = 500;
  auto c = CreateFilled(*db, cfg, 1000);
  ASSERT_NE(c, nullptr);
  c.reset();
  ASSERT_TRUE(db->Close().ok());
  db = OpenDb(dir.path(), /*background=*/false);
  c = *db->GetCollection("c");
  c->WaitForTraining();
  EXPECT_FALSE(c->Info()->trained);
}

// Upsert rejects the zero vector under cosine; so does a search, the same
// way (it used to return arbitrary ids with score 0), trained or not, in a
// batch or alone. Other metrics take it.
TEST(DbEdges, ZeroQueryUnderCosineIsRejected) {
  TempDir dir;
  auto db = OpenDb(dir.path(), /*background=*/false);
  for (Metric m : {Metric::kCosine, Metric::kInnerProduct, Metric::kL2}) {
    CollectionConfig cfg;
    cfg.name = MetricName(m);
    cfg.metric = m;
    cfg.nlist = 4;
    auto c = CreateFilled(*db, cfg, 300);
    ASSERT_NE(c, nullptr);
    const std::vector<float> zero(kDim, 0.0f);
    for (bool trained : {false, true}) {
      SCOPED_TRACE(absl::StrCat(cfg.name, trained ? " trained" : ""));
      if (trained) {
        ASSERT_TRUE(c->Train().ok());
      }
      auto r = c->Search(zero, QueryOptions());
      std::vector<float> two = dbtest::VectorFor(1, 0, kDim);
      two.insert(two.end(), zero.begin(), zero.end());
      auto batch = c->SearchBatch(two, QueryOptions());
      if (m != Metric::kCosine) {
        EXPECT_TRUE(r.ok()) << r.status();
        EXPECT_TRUE(batch.ok()) << batch.status();
        continue;
      }
      EXPECT_EQ(r.status().message(),
                "vector is zero: a zero vector has no direction (metric "
                "cosine)");
      EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_EQ(batch.status().message(),
                "query 1: vector is zero: a zero vector has no direction "
                "(metric cosine)");
    }
  }
}

// nprobe above nlist is clamped, and the search says what it probed.
TEST(DbEdges, SearchReportsTheNprobeItUsed) {
  TempDir dir;
  auto db = OpenDb(dir.path(), /*background=*/false);
  CollectionConfig cfg;
  cfg.name = "c";
  cfg.nlist = 4;
  auto c = CreateFilled(*db, cfg, 300);
  ASSERT_NE(c, nullptr);
  const std::vector<float> q = dbtest::VectorFor(9, 0, kDim);
  SearchInfo info;
  QueryOptions o;
  o.info = &info;
  o.nprobe = 16;
  ASSERT_TRUE(c->Search(q, o).ok());
  EXPECT_TRUE(info.exact);  // untrained
  EXPECT_EQ(info.nprobe_used, 0u);
  ASSERT_TRUE(c->Train().ok());
  for (uint32_t nprobe : {16u, 4u, 3u, 0u}) {
    o.nprobe = nprobe;
    auto r = c->Search(q, o);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ((*r)[0].id, 9u);
    EXPECT_FALSE(info.exact);
    EXPECT_EQ(info.nprobe_used, nprobe == 0 ? 4u : std::min(nprobe, 4u));
  }
  o.nprobe = 2;
  std::vector<float> two = q;
  two.insert(two.end(), q.begin(), q.end());
  std::vector<SearchInfo> infos(2);  // SearchBatch: one per query
  o.info = infos.data();
  ASSERT_TRUE(c->SearchBatch(two, o).ok());
  EXPECT_EQ(infos[0].nprobe_used, 2u);
  EXPECT_EQ(infos[1].nprobe_used, 2u);
  o.info = &info;
  o.exact = true;
  ASSERT_TRUE(c->Search(q, o).ok());
  EXPECT_TRUE(info.exact);
  EXPECT_EQ(info.nprobe_used, 0u);
}

// Create and drop of one name race: a create that succeeded returns the new
// collection's info (it used to read it after releasing the lock, and a
// drop in between made the successful create report NotFound "was
// dropped"). Every outcome is one of: created, already exists; dropped, not
// found.
TEST(DbEdges, CreateRacingDropNeverReportsItsOwnCollectionDropped) {
  TempDir dir;
  auto db = OpenDb(dir.path(), /*background=*/false);
  CollectionConfig cfg;
  cfg.name = "x";
  cfg.dim = kDim;
  // More threads than cores, so that a creator is often preempted between
  // its create and what follows.
  constexpr int kThreads = 4, kRounds = RacingRounds(1500);
  std::atomic<int> created{0}, dropped{0}, bad{0}, creating{kThreads};
  absl::Mutex mu;
  std::string bad_message;
  auto note = [&](const absl::Status& s) {
    absl::MutexLock l(&mu);
    if (bad++ == 0) bad_message = s.ToString();
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kRounds; ++i) {
        auto info = db->CreateCollection(cfg);
        if (info.ok()) {
          ++created;
        } else if (!absl::IsAlreadyExists(info.status())) {
          note(info.status());
        }
      }
      --creating;
    });
    threads.emplace_back([&] {
      while (creating > 0) {
        const absl::Status s = db->DropCollection("x");
        if (s.ok()) {
          ++dropped;
        } else if (!absl::IsNotFound(s)) {
          note(s);
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0) << "first: " << bad_message;
  EXPECT_GT(created.load(), 0);
  EXPECT_GT(dropped.load(), 0);
}

}  // namespace
}  // namespace tqdb
