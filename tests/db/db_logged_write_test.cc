// Logged writes (Collection::UpsertLogged, DeleteLogged, SkipLogged): the
// hook a cluster replica applies its shard's log through. The sequence is
// stored with the points in one batch, so a replayed entry is skipped and,
// after a kill -9 at any moment, applied_sequence() names exactly the
// entries the collection holds.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "db/db.h"
#include "gtest/gtest.h"
#include "quant/random.h"
#include "tests/db/db_test_util.h"

namespace tqdb {
namespace {

using dbtest::TempDir;
using dbtest::VectorFor;

constexpr uint32_t kDim = 16;

CollectionConfig Config() {
  CollectionConfig c;
  c.name = "c1-s3";
  c.dim = kDim;
  c.metric = Metric::kL2;
  c.train_threshold = 300;  // trains (in the background) during the test
  return c;
}

// Log entry `seq`: every fifth deletes the ids entry seq-2 wrote, the others
// upsert 40 ids (entries seq and seq-1 overlap by 20: replacements).
bool IsDelete(uint64_t seq) { return seq % 5 == 0; }
std::vector<uint64_t> IdsOf(uint64_t seq) {
  const uint64_t writer = IsDelete(seq) ? seq - 2 : seq;
  std::vector<uint64_t> ids;
  for (uint64_t i = 0; i < 40; ++i) ids.push_back(writer * 20 + i);
  return ids;
}
absl::Status Apply(Collection* c, uint64_t seq) {
  if (IsDelete(seq)) return c->DeleteLogged(seq, IdsOf(seq), false).status();
  std::vector<Point> pts;
  for (uint64_t id : IdsOf(seq)) {
    pts.push_back({id, VectorFor(id, seq, kDim), std::to_string(seq)});
  }
  return c->UpsertLogged(seq, pts, false);
}
// id -> the entry that wrote it last, after entries 1..n.
std::map<uint64_t, uint64_t> Expected(uint64_t n) {
  std::map<uint64_t, uint64_t> e;
  for (uint64_t seq = 1; seq <= n; ++seq) {
    for (uint64_t id : IdsOf(seq)) {
      if (IsDelete(seq)) {
        e.erase(id);
      } else {
        e[id] = seq;
      }
    }
  }
  return e;
}

void ExpectHolds(Collection* c, uint64_t n) {
  const auto expected = Expected(n);
  ASSERT_EQ(c->Count(), expected.size()) << "after entry " << n;
  std::vector<uint64_t> ids;
  for (uint64_t id = 0; id < (n + 2) * 20 + 40; ++id) ids.push_back(id);
  auto got = c->Get(ids, true, true);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), expected.size());
  for (const Record& r : *got) {
    auto it = expected.find(r.id);
    ASSERT_NE(it, expected.end()) << "id " << r.id;
    EXPECT_EQ(r.payload, std::to_string(it->second)) << "id " << r.id;
    EXPECT_EQ(r.vector, VectorFor(r.id, it->second, kDim));
  }
}

TEST(DbLoggedWriteTest, ReplaysAreSkippedAndTheSequencePersists) {
  TempDir dir;
  {
    auto db = Database::Open(dir.path(), DatabaseOptions());
    ASSERT_TRUE(db.ok()) << db.status();
    ASSERT_TRUE((*db)->CreateCollection(Config()).ok());
    auto c = *(*db)->GetCollection("c1-s3");
    EXPECT_EQ(c->applied_sequence(), 0u);
    for (uint64_t seq = 1; seq <= 12; ++seq) {
      ASSERT_TRUE(Apply(c.get(), seq).ok());
      EXPECT_EQ(c->applied_sequence(), seq);
    }
    // The log delivered 8..12 again: nothing changes.
    for (uint64_t seq = 8; seq <= 12; ++seq) {
      ASSERT_TRUE(Apply(c.get(), seq).ok());
    }
    ExpectHolds(c.get(), 12);
    // Gaps are fine (other shards' entries); an empty entry still counts.
    ASSERT_TRUE(c->UpsertLogged(20, {}, false).ok());
    EXPECT_EQ(c->applied_sequence(), 20u);
    ASSERT_TRUE(c->DeleteLogged(21, {999999}, false).ok());  // deletes none
    EXPECT_EQ(c->applied_sequence(), 21u);
    // A rejected entry leaves everything as it was; SkipLogged moves on.
    std::vector<Point> bad = {{1, std::vector<float>(kDim + 1, 0.5f), ""}};
    EXPECT_TRUE(absl::IsInvalidArgument(c->UpsertLogged(22, bad, false)));
    EXPECT_EQ(c->applied_sequence(), 21u);
    EXPECT_TRUE(absl::IsInvalidArgument(
        ValidatePoints(c->config(), DatabaseOptions(), bad)));
    ASSERT_TRUE(c->SkipLogged(22).ok());
    EXPECT_EQ(c->applied_sequence(), 22u);
    EXPECT_TRUE(absl::IsInvalidArgument(c->UpsertLogged(0, {}, false)));
    // Plain writes do not touch the sequence.
    ASSERT_TRUE(c->Upsert({{777777, VectorFor(1, 1, kDim), ""}}, false).ok());
    EXPECT_EQ(c->applied_sequence(), 22u);
    ASSERT_TRUE((*db)->Close().ok());
  }
  auto db = Database::Open(dir.path(), DatabaseOptions());
  ASSERT_TRUE(db.ok()) << db.status();
  auto c = *(*db)->GetCollection("c1-s3");
  EXPECT_EQ(c->applied_sequence(), 22u);
  // Forgotten (a replica about to take another's copy), also after a
  // reopen; the log applies from its start again.
  ASSERT_TRUE(c->ForgetLogged().ok());
  EXPECT_EQ(c->applied_sequence(), 0u);
  c.reset();
  ASSERT_TRUE((*db)->Close().ok());
  db = Database::Open(dir.path(), DatabaseOptions());
  ASSERT_TRUE(db.ok()) << db.status();
  c = *(*db)->GetCollection("c1-s3");
  EXPECT_EQ(c->applied_sequence(), 0u);
  ASSERT_TRUE(c->UpsertLogged(3, {}, false).ok());
  EXPECT_EQ(c->applied_sequence(), 3u);
  // Dropped and created again: a new collection starts from 0.
  ASSERT_TRUE((*db)->DropCollection("c1-s3").ok());
  ASSERT_TRUE((*db)->CreateCollection(Config()).ok());
  EXPECT_EQ((*(*db)->GetCollection("c1-s3"))->applied_sequence(), 0u);
}

// Every point of a cursor, in pages of `page` points.
std::vector<Record> Drain(PointCursor* cursor, size_t page) {
  std::vector<Record> all;
  for (;;) {
    auto got = cursor->Next(page);
    EXPECT_TRUE(got.ok()) << got.status();
    if (!got.ok() || got->empty()) return all;
    EXPECT_LE(got->size(), page);
    for (Record& r : *got) all.push_back(std::move(r));
  }
}

TEST(DbLoggedWriteTest, ACursorCopiesTheStateOfItsSequence) {
  TempDir dir;
  auto db = Database::Open(dir.path(), DatabaseOptions());
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_TRUE((*db)->CreateCollection(Config()).ok());
  auto c = *(*db)->GetCollection("c1-s3");
  for (uint64_t seq = 1; seq <= 10; ++seq)
    ASSERT_TRUE(Apply(c.get(), seq).ok());
  auto cursor = c->OpenCursor();
  ASSERT_TRUE(cursor.ok()) << cursor.status();
  EXPECT_EQ((*cursor)->applied_sequence(), 10u);
  // Writes after it (a training among them: 300 points) are not in it.
  for (uint64_t seq = 11; seq <= 20; ++seq) {
    ASSERT_TRUE(Apply(c.get(), seq).ok());
  }
  c->WaitForTraining();
  EXPECT_TRUE(absl::IsInvalidArgument((*cursor)->Next(0).status()));
  const std::vector<Record> copy = Drain(cursor->get(), 7);
  const auto at10 = Expected(10);
  ASSERT_EQ(copy.size(), at10.size());
  auto want = at10.begin();
  for (const Record& r : copy) {  // ascending ids, all of them
    EXPECT_EQ(r.id, want->first);
    EXPECT_EQ(r.payload, std::to_string(want->second));
    EXPECT_EQ(r.vector, VectorFor(r.id, want->second, kDim));
    ++want;
  }
  EXPECT_TRUE((*cursor)->Next(7)->empty());  // stays at the end
  // The copy and the log after its sequence make the same collection.
  CollectionConfig other = Config();
  other.name = "c1-s3-copy";
  ASSERT_TRUE((*db)->CreateCollection(other).ok());
  auto d = *(*db)->GetCollection("c1-s3-copy");
  std::vector<Point> pts;
  for (const Record& r : copy) pts.push_back({r.id, r.vector, r.payload});
  ASSERT_TRUE(d->Upsert(pts, false).ok());
  ASSERT_TRUE(d->SkipLogged((*cursor)->applied_sequence()).ok());
  for (uint64_t seq = 1; seq <= 20; ++seq)
    ASSERT_TRUE(Apply(d.get(), seq).ok());
  ExpectHolds(d.get(), 20);

  // A drop ends a cursor (NotFound); a closed database too, its snapshot
  // released (RocksDB would refuse to close with it held).
  auto of_d = d->OpenCursor();
  ASSERT_TRUE(of_d.ok()) << of_d.status();
  ASSERT_TRUE((*db)->DropCollection("c1-s3-copy").ok());
  EXPECT_TRUE(absl::IsNotFound((*of_d)->Next(5).status()));
  auto again = c->OpenCursor();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)->applied_sequence(), 20u);
  ASSERT_EQ((*again)->Next(3)->size(), 3u);
  ASSERT_TRUE((*db)->Close().ok());
  EXPECT_FALSE((*again)->Next(3).ok());
  again->reset();
  // Without stored vectors there is nothing to copy from.
  other.name = "codes-only";
  other.store_vectors = false;
  auto db2 = Database::Open(dir.path() + "/2", DatabaseOptions());
  ASSERT_TRUE(db2.ok()) << db2.status();
  ASSERT_TRUE((*db2)->CreateCollection(other).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(
      (*(*db2)->GetCollection("codes-only"))->OpenCursor().status()));
}

TEST(DbLoggedWriteTest, ValidateCollectionConfigFillsDefaults) {
  CollectionConfig c = Config();
  c.train_threshold = 0;
  c.nlist = 10;
  ASSERT_TRUE(ValidateCollectionConfig(&c).ok());
  EXPECT_EQ(c.train_threshold, 390u);
  c.dim = 1;
  EXPECT_TRUE(absl::IsInvalidArgument(ValidateCollectionConfig(&c)));
}

// A child applies the log from where the directory is (replaying the last
// few entries first, as a redelivering consumer does) until it is killed;
// after each kill -9 the directory holds exactly entries 1..applied. The
// kill comes a random time after the child says it has applied its first
// entry (a pipe), not after a fixed time: under ASan on a slow machine
// opening the database alone took longer than the old window, and no child
// ever got to apply.
TEST(DbLoggedWriteTest, KillNineLeavesExactlyTheAppliedEntries) {
  TempDir dir;
  {
    auto db = Database::Open(dir.path(), DatabaseOptions());
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->CreateCollection(Config()).ok());
  }
  Rng rng(7);
  uint64_t last = 0;
  for (int round = 0; round < 6; ++round) {
    int started[2];
    ASSERT_EQ(pipe(started), 0);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(started[0]);
      auto db = Database::Open(dir.path(), DatabaseOptions());
      if (!db.ok()) _exit(3);
      auto c = (*db)->GetCollection("c1-s3");
      if (!c.ok()) _exit(4);
      const uint64_t from = (*c)->applied_sequence();
      for (uint64_t seq = from > 3 ? from - 3 : 1;; ++seq) {
        if (!Apply(c->get(), seq).ok()) _exit(5);
        if (started[1] >= 0) {
          const char one = 1;
          if (write(started[1], &one, 1) != 1) _exit(6);
          close(started[1]);
          started[1] = -1;
        }
      }
    }
    close(started[1]);
    char one = 0;
    // 0 bytes: the child exited before applying (its status says why).
    const bool applying = read(started[0], &one, 1) == 1;
    close(started[0]);
    if (applying) {
      usleep(static_cast<useconds_t>(50000 + rng.UniformDouble() * 250000));
    }
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status))
        << "child exited with " << WEXITSTATUS(status);
    auto db = Database::Open(dir.path(), DatabaseOptions());
    ASSERT_TRUE(db.ok()) << db.status();
    auto c = *(*db)->GetCollection("c1-s3");
    const uint64_t applied = c->applied_sequence();
    EXPECT_GE(applied, last);
    last = applied;
    ExpectHolds(c.get(), applied);
    if (HasFatalFailure()) return;
  }
  EXPECT_GT(last, 20u);  // the children got somewhere
}

}  // namespace
}  // namespace tqdb
