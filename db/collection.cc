// CollectionImpl: construction, reads of points, Info and drop. The rest of
// the class, one concern a file: collection_load.cc (open),
// collection_write.cc (Upsert, Delete), collection_search.cc and
// collection_train.cc. Lock order: db/db_impl.h.
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "db/db_impl.h"
#include "db/rocks_util.h"
#include "quant/status_macros.h"
#include "rocksdb/write_batch.h"

namespace tqdb {
namespace dbimpl {

using dbformat::IdmapKey;
using dbformat::PointKey;
using dbformat::Prefix;

CollectionImpl::CollectionImpl(std::shared_ptr<DbCore> core,
                               const dbformat::CollectionRecord& r)
    : core_(std::move(core)), config_(r.config), cid_(r.cid) {
  absl::MutexLock wl(&write_mu_);
  absl::MutexLock sl(&state_mu_);
  record_ = r;
  state_.generation = r.generation;
  if (r.generation == 0) {
    state_.flat = std::make_shared<FlatStore>(
        config_.dim, config_.metric, core_->options.max_untrained_memory_bytes);
  }
}

CollectionImpl::~CollectionImpl() { StopTraining(); }

absl::Status CollectionImpl::CheckUsable() const {
  if (core_->closed) {
    return absl::FailedPreconditionError(
        absl::StrCat("database ", core_->dir, " is closed"));
  }
  if (core_->db == nullptr) return core_->ReopeningError();
  if (dropped_) return DroppedError();
  return absl::OkStatus();
}

absl::Status CollectionImpl::DroppedError() const {
  return absl::NotFoundError(
      absl::StrCat("collection '", config_.name, "' was dropped"));
}

void CollectionImpl::AccountMemory() const {
  const State st = state();
  size_t bytes = 0;
  if (st.index) bytes += st.index->MemoryBytes();
  if (st.flat) bytes += st.flat->MemoryBytes();
  bytes += sparse_.memory_bytes();
  core_->memory->Set(cid_, bytes);
}

absl::Status CollectionImpl::DecodeVectorEntry(const rocksdb::Slice& key,
                                               const rocksdb::Slice& value,
                                               uint64_t* id, float* out) const {
  const char* what = nullptr;
  if (key.size() != dbformat::kPointKeySize) {
    what = "key";
  } else if (!dbformat::DecodeVector(ToStringView(value), config_.dim, out)) {
    what = "entry";
  }
  if (what != nullptr) {
    return absl::DataLossError(
        absl::StrCat(core_->dir, ": column family 'vectors': malformed ", what,
                     " in collection '", config_.name, "'"));
  }
  *id = dbformat::GetBig64(key.data() + 4);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Record>> CollectionImpl::Get(
    const std::vector<uint64_t>& ids, bool with_vectors,
    bool with_payload) const {
  TQ_LIFE_GUARD();
  return UnlessDropped(GetRecords(ids, with_vectors, with_payload));
}

absl::StatusOr<std::vector<Record>> CollectionImpl::GetRecords(
    const std::vector<uint64_t>& ids, bool with_vectors,
    bool with_payload) const {
  rocksdb::DB* db = core_->db;
  uint32_t g;
  const rocksdb::Snapshot* snap;
  {
    // A training's final step changes the generation and the stored data
    // together under state_mu_: the snapshot matches the generation.
    absl::ReaderMutexLock l(&state_mu_);
    g = state_.generation;
    snap = db->GetSnapshot();
  }
  SnapshotGuard guard(db, snap);
  rocksdb::ReadOptions ro;
  ro.snapshot = snap;
  std::vector<std::string> keys(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) keys[i] = IdmapKey(cid_, g, ids[i]);
  std::vector<rocksdb::PinnableSlice> vals;
  std::vector<bool> found;
  TQ_RETURN_IF_ERROR(MultiGet(db, ro, core_->idmap(), keys, &vals, &found,
                              core_->dir + ": idmap"));
  std::vector<Record> out;
  std::vector<std::string> pkeys;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!found[i]) continue;
    out.push_back(Record{ids[i], false, {}, {}});
    pkeys.push_back(PointKey(cid_, ids[i]));
  }
  if (with_vectors && (config_.store_vectors || g == 0)) {
    TQ_RETURN_IF_ERROR(MultiGet(db, ro, core_->vectors(), pkeys, &vals, &found,
                                core_->dir + ": vectors"));
    for (size_t i = 0; i < out.size(); ++i) {
      if (!found[i]) {
        return absl::DataLossError(
            absl::StrCat(core_->dir, ": column family 'vectors' lacks point ",
                         out[i].id, " of collection '", config_.name, "'"));
      }
      out[i].vector.resize(config_.dim);
      if (!dbformat::DecodeVector(ToStringView(vals[i]), config_.dim,
                                  out[i].vector.data())) {
        return absl::DataLossError(
            absl::StrCat(core_->dir, ": column family 'vectors': point ",
                         out[i].id, " has ", vals[i].size(), " bytes"));
      }
      out[i].has_vector = true;
    }
  }
  if (with_vectors) {
    TQ_RETURN_IF_ERROR(ReadSparse(ro, pkeys, &out));
  }
  if (with_payload) {
    TQ_RETURN_IF_ERROR(MultiGet(db, ro, core_->payload(), pkeys, &vals, &found,
                                core_->dir + ": payload"));
    for (size_t i = 0; i < out.size(); ++i) {
      if (found[i]) out[i].payload = vals[i].ToString();
    }
  }
  return out;
}

absl::Status CollectionImpl::ReadSparse(const rocksdb::ReadOptions& ro,
                                        const std::vector<std::string>& keys,
                                        std::vector<Record>* out) const {
  std::vector<rocksdb::PinnableSlice> vals;
  std::vector<bool> found;
  TQ_RETURN_IF_ERROR(MultiGet(core_->db, ro, core_->sparse(), keys, &vals,
                              &found, core_->dir + ": sparse"));
  for (size_t i = 0; i < out->size(); ++i) {
    if (found[i] &&
        !DecodeSparseVector(ToStringView(vals[i]), &(*out)[i].sparse)) {
      return absl::DataLossError(
          absl::StrCat(core_->dir, ": column family 'sparse': point ",
                       (*out)[i].id, " has a malformed entry"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<CollectionInfo> CollectionImpl::Info() const {
  TQ_LIFE_GUARD();
  return UnlessDropped<CollectionInfo>(InfoLocked());
}

CollectionInfo CollectionImpl::InfoLocked() const {
  const State st = state();
  CollectionInfo info;
  info.config = config_;
  info.collection_id = cid_;
  info.count = count_.load();
  info.trained = st.index != nullptr;
  info.generation = st.generation;
  info.trained_count = st.trained_count;
  info.training = training_.load();
  for (const FieldIndexState& f : payload_index_.Fields()) {
    FieldIndexInfo fi;
    fi.field = f.field;
    fi.type = f.type;
    fi.ready = f.ready;
    fi.points = f.points;
    fi.memory_bytes = f.memory_bytes;
    info.field_indexes.push_back(std::move(fi));
  }
  {
    absl::MutexLock l(&bg_mu_);
    info.last_training_error = last_error_;
  }
  if (st.index) {
    info.nlist = st.index->nlist();
    info.lists = st.index->stats();
    info.imbalance = info.lists.imbalance;
    info.code_bytes = st.index->bytes_per_vector();
    info.codec = st.index->codec().Describe();
    info.memory_bytes_per_vector = st.index->MemoryBytesPerVector();
    info.refine_bytes = st.index->refine_bytes_per_vector();
    const DatabaseOptions& opt = core_->options;
    if (info.imbalance > opt.retrain_imbalance) {
      info.retrain_recommended = true;
      info.retrain_reason = absl::StrCat("list imbalance ", info.imbalance,
                                         " > ", opt.retrain_imbalance);
    } else if (st.trained_count > 0 &&
               info.count >= opt.retrain_growth * st.trained_count) {
      info.retrain_recommended = true;
      info.retrain_reason = absl::StrCat("grew from ", st.trained_count, " to ",
                                         info.count, " points");
    }
  }
  const std::string lo = Prefix(cid_), hi = Prefix(cid_ + 1);
  rocksdb::Range range(lo, hi);
  rocksdb::SizeApproximationOptions so;
  so.include_memtables = true;
  so.include_files = true;
  uint64_t total = 0;
  for (int f = 1; f < dbformat::kNumCfs; ++f) {
    uint64_t size = 0;
    rocksdb::Status s =
        core_->db->GetApproximateSizes(so, core_->cf[f], &range, 1, &size);
    if (s.ok()) total += size;
  }
  info.disk_bytes = total;
  info.disk_bytes_per_vector =
      info.count ? static_cast<double>(total) / info.count : 0.0;
  info.load_seconds = load_seconds_;
  size_t held = 0;
  if (st.index) held += info.memory_index_bytes = st.index->MemoryBytes();
  if (st.flat) held += st.flat->MemoryBytes();
  info.sparse_points = sparse_.points();
  held += info.sparse_memory_bytes = sparse_.memory_bytes();
  const MemoryBudget::Usage u = core_->memory->usage(cid_);
  info.memory_bytes = std::max(u.collection, held);
  info.memory_reserved_bytes = info.memory_bytes - held;
  info.memory_total_bytes = u.total;
  info.memory_limit_bytes = u.limit;
  return info;
}

void CollectionImpl::MarkDropped(rocksdb::WriteBatch* batch) {
  absl::MutexLock tl(&train_mu_);
  absl::MutexLock wl(&write_mu_);
  dropped_ = true;
  const std::string lo = Prefix(cid_), hi = Prefix(cid_ + 1);
  for (int f = 1; f < dbformat::kNumCfs; ++f) {
    batch->DeleteRange(core_->cf[f], lo, hi);
  }
  batch->Delete(core_->meta(), dbformat::CollectionKey(config_.name));
  batch->Delete(core_->meta(), dbformat::TrainedKey(cid_));
  batch->Delete(core_->meta(), dbformat::AppliedKey(cid_));
}

}  // namespace dbimpl
}  // namespace tqdb
