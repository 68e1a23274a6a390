#include "db/storage_recovery.h"

#include <algorithm>
#include <utility>

#include "absl/time/time.h"
#include "rocksdb/env.h"

namespace tqdb {
namespace dbimpl {
namespace {

constexpr absl::Duration kFirstDelay = absl::Milliseconds(200);
constexpr absl::Duration kMaxDelay = absl::Seconds(5);
// Attempts that found nothing to resume before the thread stops looking.
constexpr int kMaxUnconfirmed = 4;

// Whether any column family's active memtable holds an entry (a resume
// flushes it, switching to a new write-ahead log).
bool ActiveMemtableData(rocksdb::DB* db) {
  uint64_t entries = 0;
  return !db->GetAggregatedIntProperty(
             rocksdb::DB::Properties::kNumEntriesActiveMemTable, &entries) ||
         entries > 0;
}

}  // namespace

StorageRecovery::~StorageRecovery() { Stop(); }

void StorageRecovery::Start(rocksdb::DB* db,
                            std::shared_ptr<rocksdb::Logger> log, Hooks hooks) {
  hooks_ = std::move(hooks);
  log_ = std::move(log);
  {
    absl::MutexLock l(&mu_);
    db_ = db;
  }
  thread_ = std::thread([this] { Run(); });
}

void StorageRecovery::Stop() {
  {
    absl::MutexLock l(&mu_);
    stop_ = true;
    cv_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
}

uint64_t StorageRecovery::resumed() const {
  absl::MutexLock l(&mu_);
  return resumed_;
}

StorageRecovery::Stats StorageRecovery::stats() const {
  absl::MutexLock l(&mu_);
  Stats st;
  st.errors = errors_;
  st.recoveries = resumed_;
  st.reopens = reopened_;
  st.writes_stopped = stopped_;
  return st;
}

void StorageRecovery::OnBackgroundError(rocksdb::BackgroundErrorReason reason,
                                        rocksdb::Status* bg_error) {
  if (bg_error->ok()) return;
  if (bg_error->IsIOError() && !bg_error->IsIOFenced() &&
      bg_error->severity() == rocksdb::Status::Severity::kFatalError) {
    // Recoverable by Resume(): see the header.
    *bg_error =
        rocksdb::Status(*bg_error, rocksdb::Status::Severity::kHardError);
  }
  absl::MutexLock l(&mu_);
  ++errors_;
  // Stats::writes_stopped.
  if (bg_error->severity() >= rocksdb::Status::Severity::kSoftError) {
    stopped_ = true;
  }
  // A foreground write: its write-ahead log append or sync failed.
  if (reason == rocksdb::BackgroundErrorReason::kWriteCallback) {
    ++log_failures_;
  }
  pending_ = true;
  cv_.SignalAll();
}

void StorageRecovery::OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason,
                                           rocksdb::Status,
                                           bool* auto_recovery) {
  *auto_recovery = false;  // Run() recovers instead
}

void StorageRecovery::OnErrorRecoveryEnd(
    const rocksdb::BackgroundErrorRecoveryInfo&) {
  absl::MutexLock l(&mu_);
  ++cleared_;
}

void StorageRecovery::Run() {
  absl::MutexLock l(&mu_);
  absl::Duration delay = kFirstDelay;
  int unconfirmed = 0;  // attempts in a row that cleared nothing
  while (!stop_) {
    if (!pending_) {
      delay = kFirstDelay;
      unconfirmed = 0;
      cv_.Wait(&mu_);
      continue;
    }
    // Let the failing operation finish (and a burst of errors settle).
    cv_.WaitWithTimeout(&mu_, delay);
    if (stop_) break;
    pending_ = false;  // errors from here on call for another attempt
    rocksdb::DB* db = db_;
    const uint64_t cleared_before = cleared_;
    uint64_t errors_before = errors_;
    uint64_t log_failures = log_failures_;
    mu_.Unlock();
    bool reopened = false;
    rocksdb::Status s;
    if (hooks_.recover) {
      // With every writer excluded, the counters stay as read here (but
      // for background flushes and compactions, which write no log).
      const auto must_reopen = [&](rocksdb::DB* open) {
        bool log_failed;
        {
          absl::MutexLock l(&mu_);
          errors_before = errors_;
          log_failures = log_failures_;
          log_failed = log_failures != log_failures_handled_;
        }
        // Resume() would keep a failed log (header); RocksDB takes no
        // write while stopped, so the memtables stay as seen.
        return open == nullptr || (log_failed && !ActiveMemtableData(open));
      };
      s = hooks_.recover(must_reopen, &db, &reopened);
    } else {
      s = db->Resume();
    }
    mu_.Lock();
    db_ = db;  // after a reopen: null until one succeeds
    // An error after the attempt began may not be the one it cleared.
    const bool newer_errors = errors_ != errors_before;
    const bool cleared = reopened ? s.ok() : cleared_ != cleared_before;
    if (s.ok() && cleared) {
      ++resumed_;
      if (reopened) ++reopened_;
      if (!newer_errors) stopped_ = false;
      // A resume that cleared an error switched logs (or a reopen did).
      log_failures_handled_ = log_failures;
      delay = kFirstDelay;
      unconfirmed = 0;
      mu_.Unlock();
      if (hooks_.on_resumed) hooks_.on_resumed();
      mu_.Lock();
    } else if (s.ok()) {
      // Nothing to resume: the error may not be recorded yet (header).
      if (++unconfirmed < kMaxUnconfirmed) {
        pending_ = true;
      } else if (!newer_errors) {
        stopped_ = false;  // none was: nothing stops writes
      }
      delay = std::min(2 * delay, kMaxDelay);
      // The attempt stopped the trainings (Hooks::recover): restart them.
      if (hooks_.recover && hooks_.on_resumed) {
        mu_.Unlock();
        hooks_.on_resumed();
        mu_.Lock();
      }
    } else {
      if (log_ != nullptr) {
        rocksdb::Log(
            rocksdb::InfoLogLevel::WARN_LEVEL, log_,
            "tqdb: %s writes failed (next attempt in %s): %s",
            reopened ? "reopening to resume" : "resuming",
            absl::FormatDuration(std::min(2 * delay, kMaxDelay)).c_str(),
            s.ToString().c_str());
      }
      pending_ = true;
      delay = std::min(2 * delay, kMaxDelay);
    }
  }
}

}  // namespace dbimpl
}  // namespace tqdb
