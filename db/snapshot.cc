// Snapshots: DatabaseImpl::CreateSnapshot (a RocksDB checkpoint, marked as
// a snapshot) and Database::RestoreSnapshot (a copy that leaves the snapshot
// as it was). The marker: db/format.h, db/FORMAT.md.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "db/db_impl.h"
#include "db/rocks_util.h"
#include "quant/status_macros.h"
#include "rocksdb/utilities/checkpoint.h"

namespace tqdb {

namespace fs = std::filesystem;

namespace {

// An error of the file system as a status: a full disk is
// ResourceExhausted, the rest Internal; the message names the path.
absl::Status FsError(const std::error_code& ec, absl::string_view what,
                     const fs::path& path) {
  const std::string msg =
      absl::StrCat(what, " ", path.string(), ": ", ec.message());
  if (ec == std::errc::no_space_on_device) {
    return dbimpl::DiskFullError(msg);
  }
  return absl::InternalError(msg);
}

// fsync of a file or directory (restored files must be on disk before the
// copy is renamed into place).
absl::Status Sync(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) {
    const std::error_code ec(errno, std::generic_category());
    if (fd >= 0) ::close(fd);
    return FsError(ec, "cannot sync", path);
  }
  ::close(fd);
  return absl::OkStatus();
}

absl::Status WriteMarker(const fs::path& dir, const std::string& collection) {
  const fs::path path = dir / dbformat::kSnapshotMarker;
  std::ofstream f(path);
  f << "collection=" << collection << "\ncreated=" << std::time(nullptr)
    << "\n";
  f.close();
  if (!f) {
    return absl::InternalError(absl::StrCat("cannot write ", path.string()));
  }
  return Sync(path);
}

}  // namespace

namespace dbimpl {

absl::Status DatabaseImpl::CreateSnapshot(const std::string& target_dir,
                                          const std::string& requested) {
  std::string collection = requested;  // an alias's: its collection
  {
    absl::ReaderMutexLock life(&core_->life_mu);
    if (core_->closed) {
      return absl::FailedPreconditionError("database is closed");
    }
    if (core_->db == nullptr) return core_->ReopeningError();
    if (!collection.empty()) {
      absl::MutexLock l(&mu_);
      collection = Resolve(requested);
      TQ_RETURN_IF_ERROR(Find(collection).status());
    }
    std::error_code ec;
    if (fs::exists(target_dir, ec)) {
      return absl::AlreadyExistsError(
          absl::StrCat("snapshot target ", target_dir, " already exists"));
    }
    rocksdb::Checkpoint* cp = nullptr;
    TQ_RETURN_IF_ERROR(FromRocks(rocksdb::Checkpoint::Create(core_->db, &cp),
                                 core_->dir + ": checkpoint"));
    std::unique_ptr<rocksdb::Checkpoint> cp_owner(cp);
    TQ_RETURN_IF_ERROR(FromRocks(cp->CreateCheckpoint(target_dir),
                                 core_->dir + ": checkpoint to " + target_dir));
  }
  if (!collection.empty()) {
    // Keep only `collection` in the copy (opened before it is marked).
    DatabaseOptions o = core_->options;
    o.background_training = false;
    o.create_if_missing = false;
    o.error_if_exists = false;
    TQ_ASSIGN_OR_RETURN(std::unique_ptr<Database> snap,
                        Database::Open(target_dir, o));
    for (const std::string& name : snap->ListCollections()) {
      if (name != collection) {
        TQ_RETURN_IF_ERROR(snap->DropCollection(name));
      }
    }
    TQ_RETURN_IF_ERROR(snap->Close());
  }
  return WriteMarker(target_dir, collection);
}

}  // namespace dbimpl

absl::Status Database::RestoreSnapshot(const std::string& snapshot_dir,
                                       const std::string& target_dir) {
  const fs::path snap(snapshot_dir), target(target_dir);
  std::error_code ec;
  if (!fs::is_directory(snap, ec)) {
    return absl::NotFoundError(
        absl::StrCat("no snapshot directory ", snapshot_dir));
  }
  if (!fs::exists(snap / dbformat::kSnapshotMarker, ec)) {
    return absl::InvalidArgumentError(
        absl::StrCat(snapshot_dir, " is not a tqdb snapshot (it has no ",
                     dbformat::kSnapshotMarker, " file)"));
  }
  if (fs::exists(target, ec)) {
    return absl::AlreadyExistsError(
        absl::StrCat("restore target ", target_dir, " already exists"));
  }
  // Copied next to the target, renamed into place once complete: a crash
  // or an error leaves no half database at target_dir.
  fs::path tmp = target;
  tmp += ".restoring";
  fs::remove_all(tmp, ec);
  if (!fs::create_directories(tmp, ec)) {
    return FsError(ec, "cannot create", tmp);
  }
  absl::Status status;
  std::error_code it_ec;
  for (fs::directory_iterator it(snap, it_ec), end; !it_ec && it != end;
       it.increment(it_ec)) {
    const fs::path& from = it->path();
    const std::string name = from.filename().string();
    if (name == dbformat::kSnapshotMarker || !it->is_regular_file(ec)) {
      continue;
    }
    const fs::path to = tmp / name;
    // Table files are immutable: a hard link suffices (and costs no
    // space); the rest (MANIFEST, CURRENT, OPTIONS, WAL) is copied, since
    // RocksDB may append to or rename them.
    if (absl::EndsWith(name, ".sst")) {
      fs::create_hard_link(from, to, ec);
      if (!ec) continue;
    }
    if (!fs::copy_file(from, to, ec)) {
      status = FsError(ec, "cannot copy to", to);
      break;
    }
    status = Sync(to);
    if (!status.ok()) break;
  }
  if (status.ok() && it_ec) status = FsError(it_ec, "cannot list", snap);
  if (status.ok()) status = Sync(tmp);
  if (status.ok()) {
    fs::rename(tmp, target, ec);
    if (ec) status = FsError(ec, "cannot rename into", target);
  }
  if (status.ok())
    status = Sync(target.parent_path().empty() ? fs::current_path()
                                               : target.parent_path());
  if (!status.ok()) fs::remove_all(tmp, ec);
  return status;
}

}  // namespace tqdb
