// PointCursor (db/db.h): a collection's points under one RocksDB snapshot,
// a page at a time. The snapshot is registered in DbCore::cursor_snapshots
// so that closing (or reopening) the database releases it first.
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "db/db_impl.h"
#include "db/rocks_util.h"
#include "quant/coding.h"
#include "quant/status_macros.h"

namespace tqdb {
namespace dbimpl {

class PointCursorImpl final : public PointCursor {
 public:
  // Call with core->life_mu held shared and the collection usable.
  PointCursorImpl(std::shared_ptr<const CollectionImpl> c,
                  std::shared_ptr<DbCore> core)
      : c_(std::move(c)), core_(std::move(core)) {
    snap_ = core_->db->GetSnapshot();
    absl::MutexLock l(&core_->cursors_mu);
    core_->cursor_snapshots.insert(&snap_);
  }
  ~PointCursorImpl() override {
    absl::ReaderMutexLock life(&core_->life_mu);
    if (snap_ != nullptr) core_->db->ReleaseSnapshot(snap_);
    absl::MutexLock l(&core_->cursors_mu);
    core_->cursor_snapshots.erase(&snap_);
  }

  // Reads the applied sequence the snapshot holds (life_mu held shared).
  absl::Status ReadApplied() {
    rocksdb::ReadOptions ro;
    ro.snapshot = snap_;
    std::string value;
    const rocksdb::Status s = core_->db->Get(
        ro, core_->meta(), dbformat::AppliedKey(c_->cid()), &value);
    if (s.IsNotFound()) return absl::OkStatus();
    TQ_RETURN_IF_ERROR(FromRocks(s, core_->dir + ": applied sequence"));
    if (!Decoder(value).GetFixed64(&applied_)) {
      return absl::DataLossError(absl::StrCat(
          core_->dir, ": meta 'applied' entry of collection '",
          c_->config().name, "' has ", value.size(), " bytes, expected 8"));
    }
    return absl::OkStatus();
  }

  uint64_t applied_sequence() const override { return applied_; }

  absl::StatusOr<std::vector<Record>> Next(size_t max_points) override {
    if (max_points == 0) {
      return absl::InvalidArgumentError("max_points must be >= 1");
    }
    absl::ReaderMutexLock life(&core_->life_mu);
    TQ_RETURN_IF_ERROR(c_->CheckUsable());
    if (snap_ == nullptr) {
      return absl::AbortedError(absl::StrCat(
          "the copy of collection '", c_->config().name,
          "' ended: the database was closed or reopened; start it again"));
    }
    std::vector<Record> out;
    if (done_) return out;
    rocksdb::ReadOptions ro;
    ro.snapshot = snap_;
    const uint32_t cid = c_->cid();
    RangeIterator it(core_->db, core_->vectors(), ro,
                     dbformat::PointKey(cid, next_id_),
                     dbformat::Prefix(cid + 1));
    std::vector<std::string> keys;
    for (; it->Valid() && out.size() < max_points; it->Next()) {
      Record r;
      r.has_vector = true;
      r.vector.resize(c_->config().dim);
      TQ_RETURN_IF_ERROR(c_->DecodeVectorEntry(it->key(), it->value(), &r.id,
                                               r.vector.data()));
      keys.emplace_back(it->key().data(), it->key().size());
      out.push_back(std::move(r));
    }
    TQ_RETURN_IF_ERROR(FromRocks(it->status(), core_->dir + ": vectors"));
    if (out.size() < max_points || out.back().id == kLastId) {
      done_ = true;
    } else {
      next_id_ = out.back().id + 1;
    }
    std::vector<rocksdb::PinnableSlice> vals;
    std::vector<bool> found;
    TQ_RETURN_IF_ERROR(MultiGet(core_->db, ro, core_->payload(), keys, &vals,
                                &found, core_->dir + ": payload"));
    for (size_t i = 0; i < out.size(); ++i) {
      if (found[i]) out[i].payload = std::string(ToStringView(vals[i]));
    }
    TQ_RETURN_IF_ERROR(c_->ReadSparse(ro, keys, &out));
    // A drop's range delete may have come before the snapshot.
    if (c_->dropped_) return c_->DroppedError();
    return out;
  }

 private:
  static constexpr uint64_t kLastId = std::numeric_limits<uint64_t>::max();

  const std::shared_ptr<const CollectionImpl> c_;
  const std::shared_ptr<DbCore> core_;
  // Cleared (after release) by DbCore::DestroyHandles.
  const rocksdb::Snapshot* snap_ = nullptr;
  uint64_t applied_ = 0;
  uint64_t next_id_ = 0;
  bool done_ = false;
};

absl::StatusOr<std::unique_ptr<PointCursor>> CollectionImpl::OpenCursor()
    const {
  if (!config_.store_vectors) {
    return absl::FailedPreconditionError(absl::StrCat(
        "collection '", config_.name,
        "' keeps no vectors (store_vectors false): its points cannot be "
        "copied"));
  }
  std::unique_ptr<PointCursorImpl> cursor;
  // (A cursor is destroyed outside the guard: its destructor takes
  // life_mu itself.)
  const absl::Status s = [&]() -> absl::Status {
    TQ_LIFE_GUARD();
    cursor = std::make_unique<PointCursorImpl>(shared_from_this(), core_);
    TQ_RETURN_IF_ERROR(cursor->ReadApplied());
    if (dropped_) return DroppedError();
    return absl::OkStatus();
  }();
  if (!s.ok()) return s;
  return std::unique_ptr<PointCursor>(std::move(cursor));
}

}  // namespace dbimpl
}  // namespace tqdb
