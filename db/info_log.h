// RocksDB's info log (the LOG file of a data directory), written so that a
// failing or full disk can never stop the process.
//
// Why not RocksDB's own: its logger (EnvLogger, RocksDB 7.8) writes through
// a WritableFileWriter that remembers its first failed write, and the next
// write to such a writer fails an assert() (`sync_without_flush_called_`)
// in builds with assertions, which Debian's librocksdb7.8 is. So once the
// disk is full, the first two lines logged abort the process; SstFileManager's
// recovery thread logs one 5 s after the first error (issue 17, item 1).
//
// This logger formats lines as RocksDB's does and writes them to DIR/LOG
// through the database's rocksdb::FileSystem with no sticky error state: a
// line that cannot be written is dropped and counted, and the next line
// written says how many were lost. An existing LOG is renamed to
// LOG.old.<micros> at open, as RocksDB does (RocksDB deletes the old ones
// beyond keep_log_file_num). Thread-safe.
#ifndef TQDB_DB_INFO_LOG_H_
#define TQDB_DB_INFO_LOG_H_

#include <cstdarg>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"

namespace tqdb {
namespace dbimpl {

class InfoLog : public rocksdb::Logger {
 public:
  // Never fails: without a writable LOG the lines are dropped (and the file
  // is tried again every few seconds).
  InfoLog(std::shared_ptr<rocksdb::FileSystem> fs, const std::string& dir,
          rocksdb::InfoLogLevel level);
  ~InfoLog() override;

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override;
  void Flush() override {}  // every line is written as it comes

  // Lines that could not be written so far.
  uint64_t dropped() const;

 private:
  rocksdb::Status CloseImpl() override;
  // Opens (appending) DIR/LOG if it is not open and the last try is old
  // enough.
  void MaybeOpen(bool first) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Write(const std::string& line) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::shared_ptr<rocksdb::FileSystem> fs_;
  const std::string path_;
  mutable absl::Mutex mu_;  // a leaf
  std::unique_ptr<rocksdb::FSWritableFile> file_ ABSL_GUARDED_BY(mu_);
  int64_t last_open_try_us_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t dropped_reported_ ABSL_GUARDED_BY(mu_) = 0;
  std::string last_error_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace dbimpl
}  // namespace tqdb

#endif  // TQDB_DB_INFO_LOG_H_
