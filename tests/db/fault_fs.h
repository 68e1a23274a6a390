// A RocksDB FileSystem for tests that fails file operations on command, the
// way RocksDB's FaultInjectionTestFS and LevelDB's FaultInjectionTestEnv do:
// a real wrapper around the real POSIX file system (every operation that is
// not failed goes through to the disk), not a mock.
//
//   auto fs = std::make_shared<FaultFs>();
//   DatabaseOptions o;
//   o.file_system = fs;
//   auto db = Database::Open(dir, o);
//   fs->Fail(FaultFs::kWrite, FaultFs::NoSpace());  // the disk is full
//   ... writes fail, reads go on ...
//   fs->Clear();                                   // space returns
//
// What fails, while armed (Fail() until Clear()):
//   kWrite   Append, PositionedAppend, Flush of writable files (and creating
//            new writable files), as ENOSPC or EIO would;
//   kSync    Sync, Fsync, RangeSync of files and Fsync of directories;
//   kRename  RenameFile (and LinkFile).
// Reads, deletions and listings always go through. `name_part` limits the
// fault to files whose path contains it (e.g. ".log" for the WAL, ".sst",
// "MANIFEST", "/LOG" for the info log).
//
// Thread-safe: RocksDB calls it from its background threads.
#ifndef TQDB_TESTS_DB_FAULT_FS_H_
#define TQDB_TESTS_DB_FAULT_FS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "rocksdb/file_system.h"

namespace tqdb {
namespace dbtest {

class FaultFs : public rocksdb::FileSystemWrapper {
 public:
  enum Op : uint32_t { kWrite = 1, kSync = 2, kRename = 4 };

  FaultFs();
  const char* Name() const override { return "TqdbFaultFs"; }

  // The errors a full or failing disk gives.
  static rocksdb::IOStatus NoSpace();
  static rocksdb::IOStatus Eio();

  // Fails the operations `ops` (a mask of Op) with `error` on paths that
  // contain `name_part` ("" = every path) until Clear().
  void Fail(uint32_t ops, const rocksdb::IOStatus& error,
            const std::string& name_part = "");
  void Clear();
  // Operations failed so far (for tests to check a fault was hit).
  uint64_t injected() const { return injected_.load(); }

  // The error an operation `op` on `path` gets now (OK when not armed).
  rocksdb::IOStatus Check(Op op, const std::string& path);

  rocksdb::IOStatus NewWritableFile(const std::string& f,
                                    const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReopenWritableFile(
      const std::string& f, const rocksdb::FileOptions& o,
      std::unique_ptr<rocksdb::FSWritableFile>* r,
      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus ReuseWritableFile(
      const std::string& f, const std::string& old_f,
      const rocksdb::FileOptions& o,
      std::unique_ptr<rocksdb::FSWritableFile>* r,
      rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus NewDirectory(const std::string& name,
                                 const rocksdb::IOOptions& o,
                                 std::unique_ptr<rocksdb::FSDirectory>* r,
                                 rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus RenameFile(const std::string& s, const std::string& t,
                               const rocksdb::IOOptions& o,
                               rocksdb::IODebugContext* dbg) override;
  rocksdb::IOStatus LinkFile(const std::string& s, const std::string& t,
                             const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* dbg) override;
  // RocksDB's default info log, with its file created by NewWritableFile
  // above (FileSystemWrapper would create it on the target, bypassing the
  // faults).
  rocksdb::IOStatus NewLogger(const std::string& fname,
                              const rocksdb::IOOptions& o,
                              std::shared_ptr<rocksdb::Logger>* r,
                              rocksdb::IODebugContext* dbg) override {
    return FileSystem::NewLogger(fname, o, r, dbg);
  }

 private:
  rocksdb::IOStatus Wrap(const std::string& f, rocksdb::IOStatus s,
                         std::unique_ptr<rocksdb::FSWritableFile>* r);

  std::mutex mu_;  // guards the three below
  uint32_t ops_ = 0;
  rocksdb::IOStatus error_;
  std::string name_part_;
  std::atomic<uint64_t> injected_{0};
};

}  // namespace dbtest
}  // namespace tqdb

#endif  // TQDB_TESTS_DB_FAULT_FS_H_
