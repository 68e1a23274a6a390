#include "db/rocks_util.h"

#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "db/db.h"

namespace tqdb {
namespace dbimpl {

namespace {
// The payload that marks a full disk (absl::Status::SetPayload).
constexpr char kDiskFullUrl[] = "type.tqdb/tqdb.DiskFull";
}  // namespace

absl::Status DiskFullError(absl::string_view message) {
  absl::Status s = absl::ResourceExhaustedError(message);
  s.SetPayload(kDiskFullUrl, absl::Cord("disk full"));
  return s;
}

absl::Status FromRocks(const rocksdb::Status& s, absl::string_view context) {
  if (s.ok()) return absl::OkStatus();
  const std::string msg = absl::StrCat(context, ": ", s.ToString());
  if (s.IsCorruption()) return absl::DataLossError(msg);
  if (s.IsIOError()) {
    if (s.IsNoSpace()) {
      return DiskFullError(absl::StrCat(
          msg,
          " (the disk is full: writes resume by themselves once space "
          "is freed; reads go on)"));
    }
    if (s.IsPathNotFound() || absl::StrContains(s.ToString(), "No such file")) {
      return absl::DataLossError(msg);
    }
    // The storage failed (EIO, a failed fsync): transient as far as the
    // caller can tell; writes resume by themselves once it works again
    // (db/storage_recovery.h).
    return absl::UnavailableError(msg);
  }
  if (s.IsNotFound()) return absl::NotFoundError(msg);
  if (s.IsInvalidArgument()) return absl::InvalidArgumentError(msg);
  if (s.IsNotSupported()) return absl::UnimplementedError(msg);
  if (s.IsBusy() || s.IsTryAgain() || s.IsTimedOut()) {
    return absl::UnavailableError(msg);
  }
  if (s.IsShutdownInProgress()) return absl::FailedPreconditionError(msg);
  if (s.IsAborted() || s.IsIncomplete()) return absl::AbortedError(msg);
  return absl::InternalError(msg);
}

absl::Status MultiGet(rocksdb::DB* db, const rocksdb::ReadOptions& ro,
                      rocksdb::ColumnFamilyHandle* cf,
                      const std::vector<std::string>& keys,
                      std::vector<rocksdb::PinnableSlice>* values,
                      std::vector<bool>* found, absl::string_view context) {
  const size_t n = keys.size();
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  values->clear();
  values->resize(n);
  std::vector<rocksdb::Status> st(n);
  found->assign(n, false);
  if (n == 0) return absl::OkStatus();
  db->MultiGet(ro, cf, n, slices.data(), values->data(), st.data());
  for (size_t i = 0; i < n; ++i) {
    if (st[i].ok()) {
      (*found)[i] = true;
    } else if (!st[i].IsNotFound()) {
      return FromRocks(st[i], context);
    }
  }
  return absl::OkStatus();
}

RangeIterator::RangeIterator(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                             rocksdb::ReadOptions ro, std::string lo,
                             std::string hi)
    : hi_(std::move(hi)), upper_(hi_) {
  ro.iterate_upper_bound = &upper_;
  it_.reset(db->NewIterator(ro, cf));
  it_->Seek(lo);
}

}  // namespace dbimpl

bool IsDiskFull(const absl::Status& status) {
  return absl::IsResourceExhausted(status) &&
         status.GetPayload(dbimpl::kDiskFullUrl).has_value();
}

}  // namespace tqdb
