// The database's side of db/storage_recovery.h: DatabaseImpl::RecoverStorage
// runs each attempt with every writer excluded, and ReopenStorage closes and
// opens RocksDB again in place when a resume cannot replace a failed
// write-ahead log (every memtable empty).
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "db/db_impl.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"

namespace tqdb {
namespace dbimpl {
namespace {

// What a reopen writes at most, roughly: a MANIFEST listing every file, the
// OPTIONS file, the first blocks of a log.
constexpr size_t kProbeBytes = 1 << 20;
constexpr char kProbeName[] = "tqdb-storage-probe";

// Whether the disk takes writes again: writes and syncs kProbeBytes to a
// file in dir, then removes it. A reopen on a disk still full would fail
// after closing.
rocksdb::Status ProbeStorage(rocksdb::FileSystem* fs, const std::string& dir) {
  const std::string path = dir + "/" + kProbeName;
  rocksdb::IOOptions io;
  std::unique_ptr<rocksdb::FSWritableFile> f;
  rocksdb::IOStatus s =
      fs->NewWritableFile(path, rocksdb::FileOptions(), &f, nullptr);
  const std::string block(64 << 10, '\0');
  for (size_t n = 0; s.ok() && n < kProbeBytes; n += block.size()) {
    s = f->Append(block, io, nullptr);
  }
  if (s.ok()) s = f->Sync(io, nullptr);
  if (f != nullptr) f->Close(io, nullptr).PermitUncheckedError();
  fs->DeleteFile(path, io, nullptr).PermitUncheckedError();
  return s;
}

// Whether some memtable holds entries (acknowledged writes whose only copy
// is a write-ahead log).
bool MemtablesHoldData(rocksdb::DB* db) {
  uint64_t active = 0, immutable = 0;
  return !db->GetAggregatedIntProperty(
             rocksdb::DB::Properties::kNumEntriesActiveMemTable, &active) ||
         !db->GetAggregatedIntProperty(
             rocksdb::DB::Properties::kNumImmutableMemTable, &immutable) ||
         active > 0 || immutable > 0;
}

// Removes the write-ahead logs (NNNNNN.log) of a closed database in dir.
void RemoveLogs(rocksdb::FileSystem* fs, const std::string& dir) {
  rocksdb::IOOptions io;
  std::vector<std::string> names;
  if (!fs->GetChildren(dir, io, &names, nullptr).ok()) return;
  for (const std::string& name : names) {
    if (name.size() <= 4 || name.compare(name.size() - 4, 4, ".log") != 0 ||
        name.find_first_not_of("0123456789") != name.size() - 4) {
      continue;
    }
    fs->DeleteFile(dir + "/" + name, io, nullptr).PermitUncheckedError();
  }
}

}  // namespace

absl::Status DbCore::ReopeningError() const {
  return absl::UnavailableError(
      absl::StrCat("database ", dir,
                   ": the storage is being reopened after a storage error "
                   "(a full or failing disk); try again later"));
}

rocksdb::Status DatabaseImpl::RecoverStorage(
    const std::function<bool(rocksdb::DB* db)>& must_reopen, rocksdb::DB** db,
    bool* reopened) {
  // Background work holds no lock: stop it first (StorageRecovery's
  // on_resumed restarts the trainings the error failed).
  {
    absl::MutexLock l(&mu_);
    for (auto& [name, c] : collections_) c->StopTraining();
  }
  absl::MutexLock life(&core_->life_mu);
  *db = core_->db;
  *reopened = false;
  if (core_->closed || core_->closing) {
    return rocksdb::Status::ShutdownInProgress();
  }
  rocksdb::Status s;
  if (must_reopen(core_->db)) {
    *reopened = true;
    s = ReopenStorage(db);
  } else {
    s = core_->db->Resume();
  }
  // Failed: writes stay stopped, and so does the background work, until an
  // attempt succeeds.
  if (!s.ok()) return s;
  // A Close that began meanwhile (it sets closing, then stops background
  // work under mu_, then waits for this thread) must find nothing started
  // after its stop: checked under mu_.
  absl::MutexLock l(&mu_);
  if (core_->closing) return s;
  for (auto& [name, c] : collections_) c->AllowBackground();
  return s;
}

rocksdb::Status DatabaseImpl::ReopenStorage(rocksdb::DB** db) {
  rocksdb::Env* env = core_->db_options.env != nullptr
                          ? core_->db_options.env
                          : rocksdb::Env::Default();
  rocksdb::FileSystem* fs = env->GetFileSystem().get();
  rocksdb::Status s = ProbeStorage(fs, core_->dir);
  if (!s.ok()) return s;
  if (core_->db != nullptr) {
    // Resume first: it flushes the memtables switched out before the error
    // (acknowledged writes) without writing to the failed log. With no
    // public call running, nothing writes before the close.
    s = core_->db->Resume();
    if (!s.ok()) return s;
    // Then the logs hold only writes that failed (never acknowledged):
    // removed, so that a failed write fully in a log is not replayed.
    const bool logs_unneeded = !MemtablesHoldData(core_->db);
    core_->DestroyHandles();
    // Fails ("Seen error"): the failed log's buffer is not written.
    core_->db->Close().PermitUncheckedError();
    delete core_->db;
    core_->db = nullptr;
    *db = nullptr;
    if (logs_unneeded) RemoveLogs(fs, core_->dir);
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  s = rocksdb::DB::Open(core_->db_options, core_->dir, core_->cf_descs,
                        &handles, &raw);
  if (!s.ok()) return s;
  for (size_t i = 0; i < handles.size(); ++i) {
    core_->AddHandle(core_->cf_descs[i].name, handles[i]);
  }
  core_->db = raw;
  *db = raw;
  return rocksdb::Status::OK();
}

}  // namespace dbimpl
}  // namespace tqdb
