// Small helpers over RocksDB's API for db/: status conversion, batched
// point lookups, snapshot lifetime, slice views and key-range iteration.
#ifndef TQDB_DB_ROCKS_UTIL_H_
#define TQDB_DB_ROCKS_UTIL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "rocksdb/db.h"

namespace tqdb {
namespace dbimpl {

// rocksdb::Status -> absl::Status, with context. Corruption (and a missing
// file) is DataLoss; a full disk ResourceExhausted; another I/O error
// Unavailable (transient: db/storage_recovery.h resumes writes). RocksDB's
// messages name the file.
absl::Status FromRocks(const rocksdb::Status& s, absl::string_view context);

// ResourceExhausted with `message`, marked as a full disk (IsDiskFull).
absl::Status DiskFullError(absl::string_view message);

// The bytes of a RocksDB slice, without a copy.
inline absl::string_view ToStringView(const rocksdb::Slice& s) {
  return absl::string_view(s.data(), s.size());
}

// Batched point lookups. found[i] false for NotFound; other errors return.
absl::Status MultiGet(rocksdb::DB* db, const rocksdb::ReadOptions& ro,
                      rocksdb::ColumnFamilyHandle* cf,
                      const std::vector<std::string>& keys,
                      std::vector<rocksdb::PinnableSlice>* values,
                      std::vector<bool>* found, absl::string_view context);

// Releases a snapshot when it goes out of scope.
class SnapshotGuard {
 public:
  SnapshotGuard(rocksdb::DB* db, const rocksdb::Snapshot* s) : db_(db), s_(s) {}
  ~SnapshotGuard() {
    if (s_) db_->ReleaseSnapshot(s_);
  }
  SnapshotGuard(const SnapshotGuard&) = delete;
  SnapshotGuard& operator=(const SnapshotGuard&) = delete;
  const rocksdb::Snapshot* get() const { return s_; }

 private:
  rocksdb::DB* db_;
  const rocksdb::Snapshot* s_;
};

// An iterator over the keys [lo, hi) of one column family, positioned at lo.
// `ro` is copied; its iterate_upper_bound is set to hi (owned here).
class RangeIterator {
 public:
  RangeIterator(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                rocksdb::ReadOptions ro, std::string lo, std::string hi);
  RangeIterator(const RangeIterator&) = delete;  // upper_ points into hi_
  RangeIterator& operator=(const RangeIterator&) = delete;
  rocksdb::Iterator* operator->() const { return it_.get(); }

 private:
  const std::string hi_;
  rocksdb::Slice upper_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

}  // namespace dbimpl
}  // namespace tqdb

#endif  // TQDB_DB_ROCKS_UTIL_H_
