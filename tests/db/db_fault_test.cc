// Storage faults, injected at the storage boundary (tests/db/fault_fs.h, a
// wrapper around the real file system): for each fault (a full disk, failing
// writes, failing syncs, failing renames, a failing info log, a failing
// flush), writes fail cleanly with a precise code, reads go on, nothing
// acknowledged is lost, and writes resume by themselves once the fault is
// gone, without reopening the database.
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "db/db.h"
#include "gtest/gtest.h"
#include "tests/db/db_test_util.h"
#include "tests/db/fault_fs.h"

namespace tqdb {
namespace {

using dbtest::FaultFs;
using dbtest::MakePoints;
using dbtest::TempDir;

constexpr uint32_t kDim = 16;
constexpr auto kRecoveryDeadline = std::chrono::seconds(30);

class DbFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_ = std::make_shared<FaultFs>();
    options_.file_system = fs_;
    options_.background_training = false;
    Open();
    CollectionConfig cfg;
    cfg.name = "c";
    cfg.dim = kDim;
    cfg.metric = Metric::kL2;
    ASSERT_TRUE(db_->CreateCollection(cfg).ok());
    c_ = *db_->GetCollection("c");
  }

  void Open() {
    auto db = Database::Open(dir_.sub("db"), options_);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
  }

  // Closes (whatever Close says: a failing disk may fail the final flush)
  // and reopens without faults.
  void Reopen() {
    c_.reset();
    db_->Close().IgnoreError();
    db_.reset();
    fs_->Clear();
    Open();
    c_ = *db_->GetCollection("c");
  }

  absl::Status Upsert(uint64_t first, size_t n, bool wait = true) {
    return c_->Upsert(MakePoints(first, n, kDim), wait);
  }

  // Retries an upsert until it is acknowledged; false after the deadline.
  bool UpsertEventually(uint64_t first, size_t n) {
    const auto until = std::chrono::steady_clock::now() + kRecoveryDeadline;
    absl::Status s;
    while (std::chrono::steady_clock::now() < until) {
      s = Upsert(first, n);
      if (s.ok()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "writes did not resume: " << s;
    return false;
  }

  // Reads work: count, get, search (exact and through whatever index).
  void ExpectReadsWork(uint64_t first, size_t n) {
    SCOPED_TRACE("reads during the fault");
    EXPECT_GE(c_->Count(), n);
    auto got = c_->Get({first, first + n - 1}, true, true);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->size(), 2u);
    const std::vector<float> q = dbtest::VectorFor(first, 0, kDim);
    QueryOptions o;
    o.k = 1;
    auto hits = c_->Search(q, o);
    ASSERT_TRUE(hits.ok()) << hits.status();
    ASSERT_EQ(hits->size(), 1u);
    EXPECT_EQ((*hits)[0].id, first);
    auto info = c_->Info();
    EXPECT_TRUE(info.ok()) << info.status();
  }

  // After a reopen: ids in `acked` are all stored; ids of `maybe` are all
  // there or none (a failed batch is never half applied); nothing else.
  void ExpectStored(const std::vector<std::pair<uint64_t, size_t>>& acked,
                    std::pair<uint64_t, size_t> maybe) {
    uint64_t expected = 0;
    for (const auto& [first, n] : acked) {
      std::vector<uint64_t> ids;
      for (size_t i = 0; i < n; ++i) ids.push_back(first + i);
      auto got = c_->Get(ids, true, true);
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(got->size(), n) << "acknowledged batch at " << first;
      expected += n;
      for (const Record& r : *got) {
        EXPECT_EQ(r.vector, dbtest::VectorFor(r.id, 0, kDim));
      }
    }
    std::vector<uint64_t> ids;
    for (size_t i = 0; i < maybe.second; ++i) ids.push_back(maybe.first + i);
    auto got = c_->Get(ids, false, false);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(got->empty() || got->size() == maybe.second)
        << got->size() << " of the failed batch's " << maybe.second
        << " points are stored";
    EXPECT_EQ(c_->Count(), expected + got->size());
  }

  // With a fault armed, a synced write is refused UNAVAILABLE and reads go
  // on; once the fault clears, writes succeed again, and after a reopen the
  // acknowledged writes are stored and the refused one is whole or absent.
  void ExpectRefusedWriteThenRecovery() {
    const absl::Status s = Upsert(1000, 100, /*wait=*/true);
    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
    ExpectReadsWork(0, 100);
    fs_->Clear();
    ASSERT_TRUE(UpsertEventually(2000, 100));
    Reopen();
    ExpectStored({{0, 100}, {2000, 100}}, {1000, 100});
  }

  TempDir dir_;
  std::shared_ptr<FaultFs> fs_;
  DatabaseOptions options_;
  std::unique_ptr<Database> db_;
  std::shared_ptr<Collection> c_;
};

// The disk fills up (every write fails with ENOSPC), then space returns.
TEST_F(DbFaultTest, FullDiskFailsWritesCleanlyAndRecovers) {
  ASSERT_TRUE(Upsert(0, 100).ok());
  fs_->Fail(FaultFs::kWrite, FaultFs::NoSpace());
  for (int i = 0; i < 3; ++i) {
    const absl::Status s = Upsert(1000, 100);
    EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  }
  EXPECT_EQ(c_->Delete({0}, true).status().code(),
            absl::StatusCode::kResourceExhausted);
  ExpectReadsWork(0, 100);
  // The background threads keep running (and logging) meanwhile.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ExpectReadsWork(0, 100);
  EXPECT_GT(fs_->injected(), 0u);
  fs_->Clear();
  ASSERT_TRUE(UpsertEventually(2000, 100));
  ASSERT_TRUE(Upsert(3000, 100, /*wait=*/false).ok());
  Reopen();
  ExpectStored({{0, 100}, {2000, 100}, {3000, 100}}, {1000, 100});
}

// The disk fills up when every memtable is empty (just after an open, or
// just after a resume, which flushes them all): RocksDB's resume then has
// nothing to flush and would keep the write-ahead log whose write failed; a
// write to it aborts Debian's RocksDB (its checks are compiled in). Three
// episodes: after an open (a reopen recovers), with data in a memtable (a
// resume), right after that resume (a reopen again). Writes resume each
// time, nothing acknowledged is lost, and the storage stats follow.
TEST_F(DbFaultTest, FullDiskWithEmptyMemtablesRecovers) {
  ASSERT_TRUE(Upsert(0, 100).ok());
  Reopen();  // flushes: every memtable empty
  auto fail_one_write = [&](uint64_t first) {
    fs_->Fail(FaultFs::kWrite | FaultFs::kSync, FaultFs::NoSpace());
    const absl::Status s = Upsert(first, 100);
    EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    ExpectReadsWork(0, 100);
    const StorageStats st = db_->storage_stats();
    EXPECT_EQ(st.writes_stopped, 1u);
    EXPECT_GE(st.storage_errors, 1u);
    fs_->Clear();
  };
  fail_one_write(1000);  // memtables empty: reopened
  ASSERT_TRUE(UpsertEventually(2000, 100));
  // The recovery thread counts an attempt after it returns: a write may
  // pass first.
  auto writes_resume_eventually = [&] {
    const auto until = std::chrono::steady_clock::now() + kRecoveryDeadline;
    while (db_->storage_stats().writes_stopped != 0 &&
           std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return db_->storage_stats().writes_stopped == 0;
  };
  fail_one_write(3000);  // 2000's points in a memtable: resumed
  // Resumed without a write (the resume flushed every memtable).
  ASSERT_TRUE(writes_resume_eventually());
  // The compaction the resume's flush may start runs first: one failing
  // for space would fail the next write before it reaches the log (a soft
  // error, which a resume clears).
  const auto until = std::chrono::steady_clock::now() + kRecoveryDeadline;
  for (StorageStats st = db_->storage_stats();
       (st.compaction_pending != 0 || st.compactions_running != 0) &&
       std::chrono::steady_clock::now() < until;
       st = db_->storage_stats()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  fail_one_write(5000);  // right after the resume: reopened
  ASSERT_TRUE(UpsertEventually(6000, 100));
  ASSERT_TRUE(writes_resume_eventually());
  const StorageStats st = db_->storage_stats();
  EXPECT_GE(st.storage_recoveries, 3u);
  EXPECT_GE(st.storage_reopens, 2u);
  EXPECT_LT(st.storage_reopens, st.storage_recoveries);
  // The failed writes are gone (as after RocksDB's own resume), in memory
  // and on disk alike.
  EXPECT_EQ(c_->Count(), 300u);
  Reopen();
  ExpectStored({{0, 100}, {2000, 100}, {6000, 100}}, {1000, 100});
  for (uint64_t first : {3000, 5000}) {
    auto failed = c_->Get({first, first + 99}, false, false);
    ASSERT_TRUE(failed.ok()) << failed.status();
    EXPECT_TRUE(failed->empty()) << first;
  }
  EXPECT_EQ(c_->Count(), 300u);
}

// The reopen of FullDiskWithEmptyMemtablesRecovers fails once the old
// instance is closed (its new MANIFEST cannot be written): calls answer
// UNAVAILABLE, nothing aborts, and the next attempt opens it.
TEST_F(DbFaultTest, FailedReopenAnswersUnavailableUntilItSucceeds) {
  ASSERT_TRUE(Upsert(0, 100).ok());
  Reopen();
  fs_->Fail(FaultFs::kWrite | FaultFs::kSync, FaultFs::NoSpace());
  EXPECT_EQ(Upsert(1000, 100).code(), absl::StatusCode::kResourceExhausted);
  // The probe and the close go through; the open's MANIFEST does not.
  fs_->Fail(FaultFs::kWrite | FaultFs::kSync, FaultFs::NoSpace(), "MANIFEST");
  absl::Status got;
  const auto until = std::chrono::steady_clock::now() + kRecoveryDeadline;
  while (std::chrono::steady_clock::now() < until) {
    got = c_->Get({0}, false, false).status();
    if (got.code() == absl::StatusCode::kUnavailable) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(got.code(), absl::StatusCode::kUnavailable) << got;
  EXPECT_TRUE(absl::StrContains(got.message(), "being reopened")) << got;
  EXPECT_EQ(Upsert(2000, 100).code(), absl::StatusCode::kUnavailable);
  QueryOptions q;
  q.k = 1;
  EXPECT_EQ(c_->Search(dbtest::VectorFor(0, 0, kDim), q).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(db_->storage_stats().memtable_bytes, 0u);
  EXPECT_EQ(db_->storage_stats().writes_stopped, 1u);
  fs_->Clear();
  ASSERT_TRUE(UpsertEventually(2000, 100));
  ExpectReadsWork(0, 100);
  Reopen();
  ExpectStored({{0, 100}, {2000, 100}}, {1000, 100});
}

// The database closes (a shutdown) right after a write to the log failed,
// before the recovery ran: the close neither aborts nor loses anything
// acknowledged, the fault still there or gone.
TEST_F(DbFaultTest, CloseRightAfterAFailedLogWrite) {
  for (bool clear_first : {false, true}) {
    SCOPED_TRACE(clear_first ? "space returned" : "disk still full");
    ASSERT_TRUE(Upsert(0, 100).ok());
    Reopen();  // every memtable empty
    fs_->Fail(FaultFs::kWrite | FaultFs::kSync, FaultFs::NoSpace());
    EXPECT_EQ(Upsert(1000, 100).code(), absl::StatusCode::kResourceExhausted);
    if (clear_first) fs_->Clear();
    Reopen();  // closes with the fault as it stands
    ExpectStored({{0, 100}}, {1000, 100});
  }
}

// A snapshot is asked for right after a write to the log failed, before
// the recovery ran: it fails or succeeds, nothing aborts, and writes resume.
TEST_F(DbFaultTest, SnapshotRightAfterAFailedLogWrite) {
  ASSERT_TRUE(Upsert(0, 100).ok());
  Reopen();  // every memtable empty
  fs_->Fail(FaultFs::kWrite | FaultFs::kSync, FaultFs::NoSpace(), ".log");
  EXPECT_NE(Upsert(1000, 100).code(), absl::StatusCode::kOk);
  fs_->Clear();
  const absl::Status snap = db_->CreateSnapshot(dir_.sub("snap"));
  ASSERT_TRUE(UpsertEventually(2000, 100));
  if (snap.ok()) {
    auto copy = Database::Open(dir_.sub("snap"), options_);
    ASSERT_TRUE(copy.ok()) << copy.status();
    auto c = (*copy)->GetCollection("c");
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ((*c)->Count(), 100u);
  }
  Reopen();
  ExpectStored({{0, 100}, {2000, 100}}, {1000, 100});
}

// Only the RocksDB info log (LOG) cannot be written: nothing else notices.
TEST_F(DbFaultTest, FailingInfoLogIsHarmless) {
  fs_->Fail(FaultFs::kWrite | FaultFs::kSync, FaultFs::NoSpace(), "/LOG");
  for (uint64_t b = 0; b < 20; ++b) {
    ASSERT_TRUE(Upsert(b * 100, 100).ok());
  }
  ASSERT_TRUE(db_->CreateSnapshot(dir_.sub("snap")).ok());
  ASSERT_TRUE(c_->Train().ok());
  ExpectReadsWork(0, 100);
  EXPECT_GT(fs_->injected(), 0u);  // the LOG was written to, and failed
  Reopen();
  ExpectStored({{0, 2000}}, {0, 0});
}

// The write-ahead log fails with EIO (a failing disk, not a full one).
TEST_F(DbFaultTest, FailingWalWriteFailsWritesAndRecovers) {
  ASSERT_TRUE(Upsert(0, 100).ok());
  fs_->Fail(FaultFs::kWrite, FaultFs::Eio(), ".log");
  ExpectRefusedWriteThenRecovery();
}

// fsync fails: a synced write (wait = true) is not acknowledged.
TEST_F(DbFaultTest, FailingSyncFailsSyncedWritesAndRecovers) {
  ASSERT_TRUE(Upsert(0, 100).ok());
  fs_->Fail(FaultFs::kSync, FaultFs::Eio());
  ExpectRefusedWriteThenRecovery();
}

// A memtable flush fails (SST files cannot be written): the acknowledged
// writes still in the memtable survive, and the flush is redone.
TEST_F(DbFaultTest, FailingFlushKeepsAcknowledgedWrites) {
  c_.reset();
  db_->Close().IgnoreError();
  db_.reset();
  options_.write_buffer_bytes = 256 << 10;  // flush often
  Open();
  c_ = *db_->GetCollection("c");
  fs_->Fail(FaultFs::kWrite, FaultFs::Eio(), ".sst");
  std::vector<std::pair<uint64_t, size_t>> acked;
  absl::Status s;
  for (uint64_t b = 0; b < 200 && s.ok(); ++b) {
    s = Upsert(b * 100, 100, /*wait=*/false);
    if (s.ok()) acked.push_back({b * 100, 100});
  }
  ASSERT_FALSE(s.ok()) << "no flush failed";
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  ExpectReadsWork(0, 100);
  fs_->Clear();
  ASSERT_TRUE(UpsertEventually(100000, 100));
  acked.push_back({100000, 100});
  Reopen();
  ExpectStored(acked, {acked.size() * 100 - 100, 0});
}

// Renames fail: a snapshot (a checkpoint renames its directory into place)
// fails cleanly and the database goes on; so does opening, which renames
// the OPTIONS file into place.
TEST_F(DbFaultTest, FailingRenameFailsSnapshotAndOpenCleanly) {
  ASSERT_TRUE(Upsert(0, 100).ok());
  fs_->Fail(FaultFs::kRename, FaultFs::Eio());
  EXPECT_FALSE(db_->CreateSnapshot(dir_.sub("snap")).ok());
  ASSERT_TRUE(Upsert(1000, 100).ok());
  ExpectReadsWork(0, 100);
  c_.reset();
  db_->Close().IgnoreError();
  db_.reset();
  auto failed = Database::Open(dir_.sub("db"), options_);
  EXPECT_FALSE(failed.ok());
  failed = absl::UnknownError("closed");
  fs_->Clear();
  Open();
  c_ = *db_->GetCollection("c");
  ExpectStored({{0, 100}, {1000, 100}}, {0, 0});
  EXPECT_TRUE(db_->CreateSnapshot(dir_.sub("snap2")).ok());
}

// Closing on a full disk reports the failed flush; nothing acknowledged is
// lost (it is in the write-ahead log).
TEST_F(DbFaultTest, CloseOnFullDiskLosesNothingAcknowledged) {
  ASSERT_TRUE(Upsert(0, 100, /*wait=*/false).ok());
  ASSERT_TRUE(Upsert(100, 100, /*wait=*/true).ok());
  fs_->Fail(FaultFs::kWrite, FaultFs::NoSpace(), ".sst");
  c_.reset();
  EXPECT_FALSE(db_->Close().ok());
  db_.reset();
  fs_->Clear();
  Open();
  c_ = *db_->GetCollection("c");
  ExpectStored({{0, 200}}, {0, 0});
}

// A background training whose final (synced) write fails stops; once the
// storage recovers, the collection trains again by itself, without waiting
// for another write.
TEST_F(DbFaultTest, TrainingResumesAfterRecovery) {
  c_.reset();
  db_->Close().IgnoreError();
  db_.reset();
  options_.background_training = true;
  Open();
  CollectionConfig cfg;
  cfg.name = "t";
  cfg.dim = kDim;
  cfg.nlist = 4;
  cfg.train_threshold = 400;
  ASSERT_TRUE(db_->CreateCollection(cfg).ok());
  c_ = *db_->GetCollection("t");
  ASSERT_TRUE(Upsert(0, 399).ok());
  // Unsynced writes go on; the training's switch (a synced write) fails.
  fs_->Fail(FaultFs::kSync, FaultFs::Eio(), ".log");
  ASSERT_TRUE(Upsert(399, 1, /*wait=*/false).ok());
  c_->WaitForTraining();
  auto info = c_->Info();
  ASSERT_TRUE(info.ok());
  ASSERT_FALSE(info->trained);
  EXPECT_NE(info->last_training_error, "");
  fs_->Clear();
  const auto until = std::chrono::steady_clock::now() + kRecoveryDeadline;
  while (!c_->Info()->trained && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  c_->WaitForTraining();
  info = c_->Info();
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(info->trained) << info->last_training_error;
  EXPECT_EQ(info->count, 400u);
  Reopen();
  c_ = *db_->GetCollection("t");
  EXPECT_TRUE(c_->Info()->trained);
  EXPECT_EQ(c_->Count(), 400u);
}

}  // namespace
}  // namespace tqdb
