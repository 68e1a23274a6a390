// Recovery from storage errors without reopening the database: when a write
// to disk fails (a full disk, EIO on a write or an fsync, a failed flush),
// RocksDB stops accepting writes (reads go on); this resumes them, by
// itself, once the storage works again.
//
// How: a rocksdb::EventListener sees every background error and
//  - keeps an I/O error recoverable: RocksDB classes a failed WAL or
//    MANIFEST write or a failed flush as a "fatal" error when
//    paranoid_checks is on (tqdb keeps it on for its open-time checks),
//    which only a reopen clears. A non-corruption I/O error is downgraded to
//    a "hard" error, which DB::Resume() recovers from (it switches to a new
//    WAL and MANIFEST and flushes the memtables, which hold every
//    acknowledged write: acknowledged writes are never lost). Corruption and
//    data loss keep their severity (writes stay stopped: DataLoss).
//  - turns RocksDB's own recovery off (its SstFileManager resumes after a
//    full disk only once free space exceeds the largest write buffer, 64 MB
//    by default, so a small or nearly full disk never recovers) and runs its
//    own: a thread calls DB::Resume() after 200 ms, then with a doubling
//    delay up to 5 s, until it succeeds. Resume() flushes the memtables
//    (so the write-ahead log they came from can go): on a disk that is
//    still full the attempt fails after writing at most the free space,
//    deletes what it wrote, and changes nothing.
// RocksDB reports an error to its listeners before it records it (with its
// mutex released), so an attempt can come in between, find nothing to
// resume and "succeed": an attempt counts only if RocksDB says it cleared
// an error (OnErrorRecoveryEnd); otherwise the thread looks again, with the
// same backoff, a few times (an error RocksDB reports but never records,
// one below the severity that stops anything, needs no resume).
// A failed write to the write-ahead log leaves its writer failed for good,
// and RocksDB 7.8's Resume() replaces the log only when it flushes a
// non-empty active memtable: with every one empty (the failure came first
// after an open, a resume or a full flush) it would keep the failed log,
// and the next write to it aborts the process (Debian builds RocksDB with
// its assertions) or fails forever. Then the database reopens RocksDB in
// place instead (DatabaseImpl::ReopenStorage), after probing that the disk
// takes writes again.
// The choice and the attempt run with every writer excluded
// (Hooks::recover: public calls wait, background trainings are stopped):
// a write still in flight when the choice was made (its log append slower
// than the first attempt's delay) could otherwise fail on a log the resume
// then keeps. The cost: reads wait for an attempt too (one every 0.2-5 s
// while writes are stopped; on a disk still full it fails after writing
// at most the free space).
// After a successful resume or reopen, and after an attempt through
// Hooks::recover that found nothing to resume, `on_resumed` runs (on the
// recovery thread): the database restarts the background trainings the
// error, or the attempt, stopped. Failed attempts go to the info log.
//
// Thread-safety: the listener's callbacks come from RocksDB's threads with
// no tqdb lock held; Start and Stop are called by Database::Open and Close.
#ifndef TQDB_DB_STORAGE_RECOVERY_H_
#define TQDB_DB_STORAGE_RECOVERY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "rocksdb/db.h"
#include "rocksdb/listener.h"

namespace tqdb {
namespace dbimpl {

class StorageRecovery : public rocksdb::EventListener {
 public:
  StorageRecovery() = default;
  ~StorageRecovery() override;

  // What the database does for the recovery (each may be empty).
  struct Hooks {
    // Runs one attempt with every writer of the database excluded: calls
    // must_reopen(db) with the open instance (null while a reopen has not
    // succeeded), then resumes it, or closes and reopens RocksDB in place
    // (sets *reopened). Sets *db to the instance open afterwards (null:
    // closed, not reopened yet). An error: the thread tries again later.
    // Empty: the thread resumes, excluding nothing.
    std::function<rocksdb::Status(
        const std::function<bool(rocksdb::DB* db)>& must_reopen,
        rocksdb::DB** db, bool* reopened)>
        recover;
    // After each successful resume or reopen, and each attempt through
    // `recover` that found nothing to resume.
    std::function<void()> on_resumed;
  };

  // Starts the recovery thread for `db` (once, after DB::Open succeeded);
  // failed attempts are logged to `log` (may be null).
  void Start(rocksdb::DB* db, std::shared_ptr<rocksdb::Logger> log,
             Hooks hooks);
  // Stops and joins the thread; before the DB is closed. Idempotent.
  void Stop();

  // Resumes that succeeded so far (for tests and Info).
  uint64_t resumed() const;

  // For monitoring (Database::storage_stats).
  struct Stats {
    uint64_t errors = 0;      // storage errors RocksDB reported
    uint64_t recoveries = 0;  // resumes and reopens that cleared one
    uint64_t reopens = 0;     // of which reopens
    // An error that fails writes is not cleared: a hard one, or a soft one
    // (a compaction out of space: it stops background work, and with
    // RocksDB's own recovery off writes fail while it is recorded).
    bool writes_stopped = false;
  };
  Stats stats() const;

  // rocksdb::EventListener.
  void OnBackgroundError(rocksdb::BackgroundErrorReason reason,
                         rocksdb::Status* bg_error) override;
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason reason,
                            rocksdb::Status bg_error,
                            bool* auto_recovery) override;
  void OnErrorRecoveryEnd(
      const rocksdb::BackgroundErrorRecoveryInfo& info) override;

 private:
  void Run();

  Hooks hooks_;                           // set by Start
  std::shared_ptr<rocksdb::Logger> log_;  // set by Start
  mutable absl::Mutex mu_;                // a leaf
  absl::CondVar cv_;
  rocksdb::DB* db_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  // An error was reported since the last resume attempt began.
  bool pending_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t resumed_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t errors_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t reopened_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  // Errors RocksDB said it cleared (OnErrorRecoveryEnd).
  uint64_t cleared_ ABSL_GUARDED_BY(mu_) = 0;
  // Failed writes to the write-ahead log; those up to the last recovery.
  uint64_t log_failures_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t log_failures_handled_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;  // started by Start, joined by Stop
};

}  // namespace dbimpl
}  // namespace tqdb

#endif  // TQDB_DB_STORAGE_RECOVERY_H_
