// Concurrent readers during writes and during background training; several
// writers on one collection; the switch from exact search to the index is
// atomic (a stable point is found by every search, before, during and after
// the training).
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "db/db.h"
#include "gtest/gtest.h"
#include "quant/random.h"
#include "tests/db/db_test_util.h"

namespace tqdb {
namespace {

using dbtest::MakePoints;
using dbtest::TempDir;
using dbtest::VectorFor;

TEST(DbConcurrency, ReadersDuringWritesAndBackgroundTraining) {
  TempDir tmp;
  const uint32_t d = 64;
  auto db = Database::Open(tmp.path(), DatabaseOptions());
  ASSERT_TRUE(db.ok()) << db.status();
  CollectionConfig cfg;
  cfg.name = "c";
  cfg.dim = d;
  cfg.metric = Metric::kCosine;
  cfg.nlist = 64;
  cfg.train_threshold = 12000;
  ASSERT_TRUE((*db)->CreateCollection(cfg).ok());
  auto c = *(*db)->GetCollection("c");
  // Stable points: written first, never touched again.
  const uint64_t kStable = 200;
  ASSERT_TRUE(c->Upsert(MakePoints(0, kStable, d), false).ok());

  std::atomic<bool> done{false};
  std::atomic<int> searches{0}, errors{0}, misses{0};
  std::atomic<int> seen_untrained{0}, seen_trained{0};
  auto reader = [&](uint64_t seed) {
    Rng rng(seed);
    while (!done) {
      const uint64_t id = rng.Uniform(kStable);
      QueryOptions o;
      o.k = 5;
      o.nprobe = 0;
      o.rescore = true;
      const bool trained_before = c->Info()->trained;
      auto r = c->Search(VectorFor(id, 0, d), o);
      ++searches;
      if (!r.ok()) {
        ++errors;
        ADD_FAILURE() << r.status();
        continue;
      }
      (trained_before ? seen_trained : seen_untrained)++;
      if (r->empty() || (*r)[0].id != id) ++misses;
      // Get sees the point as well, with its vector.
      auto g = c->Get({id}, true, true);
      if (!g.ok() || g->size() != 1 || (*g)[0].vector != VectorFor(id, 0, d)) {
        ++misses;
      }
    }
  };
  std::vector<std::thread> readers;
  for (int i = 0; i < 2; ++i) readers.emplace_back(reader, 100 + i);

  // Two writers: inserts, updates and deletes of their own id ranges, each
  // write checked to be searchable at once.
  std::atomic<int> writes_during_training{0}, writes{0};
  auto writer = [&](uint64_t base) {
    Rng rng(base);
    for (int b = 0; b < 40; ++b) {
      auto pts = MakePoints(base + b * 250, 250, d);
      ASSERT_TRUE(c->Upsert(pts, b % 4 == 0).ok());
      ++writes;
      if (c->Info()->training) ++writes_during_training;
      const Point& p = pts[rng.Uniform(pts.size())];
      QueryOptions o;
      o.k = 1;
      o.nprobe = 0;
      o.rescore = true;
      auto r = c->Search(p.vector, o);
      ASSERT_TRUE(r.ok()) << r.status();
      ASSERT_FALSE(r->empty());
      EXPECT_EQ((*r)[0].id, p.id) << "a write was not searchable at once";
      if (b % 5 == 4) {
        std::vector<uint64_t> del;
        for (uint64_t i = 0; i < 50; ++i)
          del.push_back(base + (b - 1) * 250 + i);
        auto n = c->Delete(del, false);
        ASSERT_TRUE(n.ok());
        EXPECT_EQ(*n, 50u);
      }
    }
  };
  std::thread w1(writer, 1000000), w2(writer, 2000000);
  w1.join();
  w2.join();
  c->WaitForTraining();
  // A few more searches after the switch.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  done = true;
  for (auto& t : readers) t.join();

  auto info = c->Info();
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(info->trained) << info->last_training_error;
  const uint64_t expected = kStable + 2 * (40 * 250 - 8 * 50);
  EXPECT_EQ(c->Count(), expected);
  EXPECT_EQ(info->lists.live, expected);
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(misses.load(), 0);
  EXPECT_GT(seen_untrained.load(), 0);
  EXPECT_GT(seen_trained.load(), 0);
  EXPECT_GT(writes_during_training.load(), 0)
      << "writes were blocked for the whole training";
  printf(
      "searches %d (untrained %d, trained %d), writes %d, during training "
      "%d\n",
      searches.load(), seen_untrained.load(), seen_trained.load(),
      writes.load(), writes_during_training.load());

  // Everything written is there after a reopen.
  ASSERT_TRUE((*db)->Close().ok());
  auto db2 = Database::Open(tmp.path(), DatabaseOptions());
  ASSERT_TRUE(db2.ok()) << db2.status();
  auto c2 = *(*db2)->GetCollection("c");
  EXPECT_EQ(c2->Count(), expected);
  EXPECT_EQ(c2->Info()->lists.live, expected);
}

// Readers and writers while Retrain() runs repeatedly: no search fails or
// misses a stable point, counts stay exact.
TEST(DbConcurrency, SearchesDuringRetrain) {
  TempDir tmp;
  const uint32_t d = 32;
  auto db = Database::Open(tmp.path(), DatabaseOptions());
  ASSERT_TRUE(db.ok());
  CollectionConfig cfg;
  cfg.name = "c";
  cfg.dim = d;
  cfg.metric = Metric::kL2;
  cfg.nlist = 32;
  ASSERT_TRUE((*db)->CreateCollection(cfg).ok());
  auto c = *(*db)->GetCollection("c");
  ASSERT_TRUE(c->Upsert(MakePoints(0, 5000, d), false).ok());
  ASSERT_TRUE(c->Train().ok());
  std::atomic<bool> done{false};
  std::atomic<int> bad{0}, searches{0};
  std::thread reader([&] {
    Rng rng(5);
    while (!done) {
      const uint64_t id = rng.Uniform(1000);
      QueryOptions o;
      o.k = 3;
      o.nprobe = 0;
      o.rescore = true;
      auto r = c->Search(VectorFor(id, 0, d), o);
      ++searches;
      if (!r.ok() || r->empty() || (*r)[0].id != id) ++bad;
    }
  });
  std::thread writer([&] {
    for (int b = 0; b < 30 && !done; ++b) {
      ASSERT_TRUE(c->Upsert(MakePoints(10000 + b * 100, 100, d), false).ok());
      ASSERT_TRUE(c->Upsert(MakePoints(1000 + b * 100, 100, d, 1), false).ok());
      ASSERT_TRUE(c->Delete({static_cast<uint64_t>(4000 + b)}, false).ok());
    }
  });
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(c->Retrain().ok());
  writer.join();
  done = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0) << "of " << searches.load();
  EXPECT_EQ(c->Info()->generation, 4u);
  EXPECT_EQ(c->Count(), 5000u + 3000 - 30);
  EXPECT_EQ(c->Info()->lists.live, 5000u + 3000 - 30);
  // Updated points carry their new vectors in the index.
  QueryOptions o;
  o.k = 1;
  o.nprobe = 0;
  o.rescore = true;
  auto r = c->Search(VectorFor(1234, 1, d), o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].id, 1234u);
}

}  // namespace
}  // namespace tqdb
