#include "tests/db/fault_fs.h"

#include <utility>

namespace tqdb {
namespace dbtest {
namespace {

using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;
using rocksdb::Slice;

// A writable file whose writes and syncs go through FaultFs::Check first.
class FaultFile : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FaultFile(FaultFs* fs, std::string path,
            std::unique_ptr<rocksdb::FSWritableFile> f)
      : FSWritableFileOwnerWrapper(std::move(f)),
        fs_(fs),
        path_(std::move(path)) {}

  IOStatus Append(const Slice& data, const IOOptions& o,
                  IODebugContext* dbg) override {
    IOStatus s = fs_->Check(FaultFs::kWrite, path_);
    return s.ok() ? FSWritableFileOwnerWrapper::Append(data, o, dbg) : s;
  }
  IOStatus Append(const Slice& data, const IOOptions& o,
                  const rocksdb::DataVerificationInfo& v,
                  IODebugContext* dbg) override {
    IOStatus s = fs_->Check(FaultFs::kWrite, path_);
    return s.ok() ? FSWritableFileOwnerWrapper::Append(data, o, v, dbg) : s;
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset,
                            const IOOptions& o, IODebugContext* dbg) override {
    IOStatus s = fs_->Check(FaultFs::kWrite, path_);
    return s.ok() ? FSWritableFileOwnerWrapper::PositionedAppend(data, offset,
                                                                 o, dbg)
                  : s;
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset,
                            const IOOptions& o,
                            const rocksdb::DataVerificationInfo& v,
                            IODebugContext* dbg) override {
    IOStatus s = fs_->Check(FaultFs::kWrite, path_);
    return s.ok() ? FSWritableFileOwnerWrapper::PositionedAppend(data, offset,
                                                                 o, v, dbg)
                  : s;
  }
  IOStatus Flush(const IOOptions& o, IODebugContext* dbg) override {
    IOStatus s = fs_->Check(FaultFs::kWrite, path_);
    return s.ok() ? FSWritableFileOwnerWrapper::Flush(o, dbg) : s;
  }
  IOStatus Sync(const IOOptions& o, IODebugContext* dbg) override {
    IOStatus s = fs_->Check(FaultFs::kSync, path_);
    return s.ok() ? FSWritableFileOwnerWrapper::Sync(o, dbg) : s;
  }
  IOStatus Fsync(const IOOptions& o, IODebugContext* dbg) override {
    IOStatus s = fs_->Check(FaultFs::kSync, path_);
    return s.ok() ? FSWritableFileOwnerWrapper::Fsync(o, dbg) : s;
  }
  IOStatus RangeSync(uint64_t offset, uint64_t nbytes, const IOOptions& o,
                     IODebugContext* dbg) override {
    IOStatus s = fs_->Check(FaultFs::kSync, path_);
    return s.ok()
               ? FSWritableFileOwnerWrapper::RangeSync(offset, nbytes, o, dbg)
               : s;
  }

 private:
  FaultFs* const fs_;
  const std::string path_;
};

// A directory whose Fsync goes through FaultFs::Check first.
class FaultDir : public rocksdb::FSDirectory {
 public:
  FaultDir(FaultFs* fs, std::string path,
           std::unique_ptr<rocksdb::FSDirectory> d)
      : fs_(fs), path_(std::move(path)), target_(std::move(d)) {}
  IOStatus Fsync(const IOOptions& o, IODebugContext* dbg) override {
    IOStatus s = fs_->Check(FaultFs::kSync, path_);
    return s.ok() ? target_->Fsync(o, dbg) : s;
  }
  IOStatus FsyncWithDirOptions(
      const IOOptions& o, IODebugContext* dbg,
      const rocksdb::DirFsyncOptions& dir_options) override {
    IOStatus s = fs_->Check(FaultFs::kSync, path_);
    return s.ok() ? target_->FsyncWithDirOptions(o, dbg, dir_options) : s;
  }
  IOStatus Close(const IOOptions& o, IODebugContext* dbg) override {
    return target_->Close(o, dbg);
  }
  size_t GetUniqueId(char* id, size_t max_size) const override {
    return target_->GetUniqueId(id, max_size);
  }

 private:
  FaultFs* const fs_;
  const std::string path_;
  const std::unique_ptr<rocksdb::FSDirectory> target_;
};

}  // namespace

FaultFs::FaultFs() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}

IOStatus FaultFs::NoSpace() {
  return IOStatus::NoSpace("injected fault", "No space left on device");
}

IOStatus FaultFs::Eio() {
  return IOStatus::IOError("injected fault", "Input/output error");
}

void FaultFs::Fail(uint32_t ops, const IOStatus& error,
                   const std::string& name_part) {
  std::lock_guard<std::mutex> l(mu_);
  ops_ = ops;
  error_ = error;
  name_part_ = name_part;
}

void FaultFs::Clear() {
  std::lock_guard<std::mutex> l(mu_);
  ops_ = 0;
  error_ = IOStatus::OK();
  name_part_.clear();
}

IOStatus FaultFs::Check(Op op, const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  if ((ops_ & op) == 0 ||
      (!name_part_.empty() && path.find(name_part_) == std::string::npos)) {
    return IOStatus::OK();
  }
  ++injected_;
  return error_;
}

IOStatus FaultFs::Wrap(const std::string& f, IOStatus s,
                       std::unique_ptr<rocksdb::FSWritableFile>* r) {
  if (s.ok()) r->reset(new FaultFile(this, f, std::move(*r)));
  return s;
}

IOStatus FaultFs::NewWritableFile(const std::string& f,
                                  const rocksdb::FileOptions& o,
                                  std::unique_ptr<rocksdb::FSWritableFile>* r,
                                  IODebugContext* dbg) {
  IOStatus s = Check(kWrite, f);
  if (!s.ok()) return s;
  return Wrap(f, target()->NewWritableFile(f, o, r, dbg), r);
}

IOStatus FaultFs::ReopenWritableFile(
    const std::string& f, const rocksdb::FileOptions& o,
    std::unique_ptr<rocksdb::FSWritableFile>* r, IODebugContext* dbg) {
  IOStatus s = Check(kWrite, f);
  if (!s.ok()) return s;
  return Wrap(f, target()->ReopenWritableFile(f, o, r, dbg), r);
}

IOStatus FaultFs::ReuseWritableFile(const std::string& f,
                                    const std::string& old_f,
                                    const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    IODebugContext* dbg) {
  IOStatus s = Check(kWrite, f);
  if (!s.ok()) return s;
  return Wrap(f, target()->ReuseWritableFile(f, old_f, o, r, dbg), r);
}

IOStatus FaultFs::NewDirectory(const std::string& name, const IOOptions& o,
                               std::unique_ptr<rocksdb::FSDirectory>* r,
                               IODebugContext* dbg) {
  std::unique_ptr<rocksdb::FSDirectory> d;
  IOStatus s = target()->NewDirectory(name, o, &d, dbg);
  if (s.ok()) r->reset(new FaultDir(this, name, std::move(d)));
  return s;
}

IOStatus FaultFs::RenameFile(const std::string& s, const std::string& t,
                             const IOOptions& o, IODebugContext* dbg) {
  IOStatus st = Check(kRename, t);
  return st.ok() ? target()->RenameFile(s, t, o, dbg) : st;
}

IOStatus FaultFs::LinkFile(const std::string& s, const std::string& t,
                           const IOOptions& o, IODebugContext* dbg) {
  IOStatus st = Check(kRename, t);
  return st.ok() ? target()->LinkFile(s, t, o, dbg) : st;
}

}  // namespace dbtest
}  // namespace tqdb
