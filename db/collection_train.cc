// Training of a collection: when it runs (Train, Retrain, the background
// thread) and how one run builds the next generation of the index while
// writes and searches go on (CollectionImpl::Training, in named steps).
#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "db/db_impl.h"
#include "db/rocks_util.h"
#include "quant/coding.h"
#include "quant/random.h"
#include "quant/status_macros.h"
#include "rocksdb/write_batch.h"

namespace tqdb {
namespace dbimpl {

using dbformat::CodeKey;
using dbformat::GenPrefix;
using dbformat::IdmapKey;
using dbformat::kNoList;
using dbformat::PointKey;
using dbformat::Prefix;

namespace {

constexpr size_t kEncodeChunk = 4096;   // points per training write batch
constexpr size_t kTrainSample = 65536;  // k-means sample (at least 39/list)
constexpr size_t kFinalCatchUp = 2048;  // dirty points done under the lock
constexpr int kMaxCatchUpRounds = 4;

}  // namespace

// ------------------------------------------------------------ when to train

absl::Status CollectionImpl::Train() {
  TQ_LIFE_GUARD();
  if (state().index) return absl::OkStatus();
  absl::MutexLock tl(&train_mu_);
  return RunTraining(/*retrain=*/false);
}

absl::Status CollectionImpl::Retrain() {
  TQ_LIFE_GUARD();
  if (!config_.store_vectors && state().index) {
    return absl::FailedPreconditionError(
        absl::StrCat("collection '", config_.name,
                     "' does not store vectors "
                     "(store_vectors = false): it cannot be retrained"));
  }
  absl::MutexLock tl(&train_mu_);
  return RunTraining(/*retrain=*/true);
}

void CollectionImpl::WaitForTraining() {
  absl::MutexLock l(&bg_mu_);
  while (bg_running_) bg_done_.Wait(&bg_mu_);
}

void CollectionImpl::StopTraining() {
  stop_ = true;
  std::thread threads[2];
  {
    absl::MutexLock l(&bg_mu_);
    threads[0] = std::move(bg_);
    threads[1] = std::move(indexer_);
    index_done_.SignalAll();
  }
  for (std::thread& t : threads) {
    if (!t.joinable()) continue;
    if (t.get_id() == std::this_thread::get_id()) {
      t.detach();  // cannot happen: the thread holds no owning reference
    } else {
      t.join();
    }
  }
}

void CollectionImpl::AllowBackground() {
  stop_ = false;
  absl::MutexLock l(&bg_mu_);
  StartIndexer();  // the backfills StopTraining interrupted, if any
}

void CollectionImpl::ResumeTraining() {
  absl::MutexLock wl(&write_mu_);
  if (dropped_) return;
  next_auto_train_ = 0;  // a failed training is tried again now
  MaybeStartBackgroundTraining();
}

bool CollectionImpl::AutoNlistOutgrown(uint64_t n,
                                       uint64_t trained_count) const {
  return config_.nlist == 0 && config_.store_vectors && trained_count > 0 &&
         n >=
             core_->options.retrain_growth * static_cast<double>(trained_count);
}

void CollectionImpl::MaybeStartBackgroundTraining() {
  if (!core_->options.background_training) return;
  const uint64_t n = count_.load();
  const State st = state();
  bool retrain = false;
  if (st.index) {
    // An automatic nlist was chosen for the points of the last training:
    // once the collection has grown retrain_growth times past them, rebuild
    // (geometric steps, so the total work stays linear in the final size).
    if (!AutoNlistOutgrown(n, st.trained_count) || n < next_auto_train_) {
      return;
    }
    retrain = true;
  } else if (n < config_.train_threshold || n < next_auto_train_) {
    return;
  }
  absl::MutexLock l(&bg_mu_);
  if (bg_running_ || stop_ || core_->closing) return;
  if (bg_.joinable()) bg_.join();  // finished: bg_running_ is false
  bg_running_ = true;
  bg_ = std::thread([this, retrain] {
    absl::Status s;
    bool again = retrain;
    for (;;) {
      {
        absl::MutexLock tl(&train_mu_);
        s = RunTraining(again);
      }
      // Writes that arrived during the training may have outgrown its
      // automatic nlist already (a bulk load trains at the first 1,000
      // points and ends with many more): retrain now rather than wait for
      // the next write.
      if (!s.ok() || stop_ || core_->closing ||
          !AutoNlistOutgrown(count_.load(), state().trained_count)) {
        break;
      }
      again = true;
    }
    absl::MutexLock l(&bg_mu_);
    if (!s.ok() && !absl::IsCancelled(s)) {
      last_error_ = s.ToString();
      // Try again when the collection has doubled.
      next_auto_train_ = std::max<uint64_t>(2 * count_.load(), 1);
    } else if (s.ok()) {
      last_error_.clear();
    }
    bg_running_ = false;
    bg_done_.SignalAll();
  });
}

absl::Status CollectionImpl::RemoveGeneration(uint32_t gen) {
  rocksdb::WriteBatch batch;
  const std::string a = GenPrefix(cid_, gen), b = GenPrefix(cid_, gen + 1);
  batch.DeleteRange(core_->idmap(), a, b);
  batch.DeleteRange(core_->codes(), a, b);
  return FromRocks(core_->db->Write(rocksdb::WriteOptions(), &batch),
                   core_->dir + ": removing an abandoned training");
}

absl::Status CollectionImpl::RunTraining(bool retrain) {
  training_ = true;
  absl::Status s = TrainLocked(retrain);
  training_ = false;
  return s;
}

// ---------------------------------------------------------- one training run

// Builds generation ng = g + 1 from a snapshot of generation g, which keeps
// serving searches meanwhile, then switches to it. Each step returns early
// (Cancelled) when the database closes or the collection is dropped; the
// destructor undoes what an unfinished run left.
class CollectionImpl::Training {
 public:
  explicit Training(CollectionImpl* c) : c_(c), core_(c->core_.get()) {}
  ~Training();
  Training(const Training&) = delete;
  Training& operator=(const Training&) = delete;

  // Under the write lock: whether to train (*needed), then a snapshot of
  // generation g and the start of write tracking, both at the same point
  // of the write order, so that the snapshot plus the tracked writes are
  // exactly the collection.
  absl::Status Begin(bool retrain, bool* needed);
  // Pass 1 over the snapshot's vectors: counts them and keeps them all up
  // to kTrainSample, else a uniform reservoir sample, so that k-means
  // trains on bounded memory however large the collection.
  absl::Status Sample();
  // Trains the new index on the sample. An automatic nlist follows the
  // count (round(4 sqrt(n)), at most n / 39), not the sample size.
  absl::Status TrainIndex();
  // Encodes every point of the snapshot into generation ng: from the
  // sample when it holds them all, else in a second pass. Writes are not
  // blocked; searches still use generation g.
  absl::Status EncodeAll();
  // Catches up with the writes tracked since the snapshot, a few rounds
  // without the write lock (writes go on), then a last, small one under
  // it, followed at once by the switch, so writes wait only for that.
  absl::Status CatchUpAndSwitch();

 private:
  absl::Status Stopped() const;
  // Reads the snapshot; no cache pollution, long readahead.
  rocksdb::ReadOptions SnapshotScan() const;
  // Generations >= ng left by an earlier abandoned run (open removes them
  // too; this covers a failed cleanup): removed before this run writes.
  absl::Status ClearNewGenerations();
  // Encodes m points into generation ng: their idmap and codes entries,
  // and the new index. prev[i] is the point's list in ng so far (or
  // kNoList), so that a moved point's stale code goes.
  absl::Status WriteChunk(const uint64_t* ids, const float* x, size_t m,
                          const uint32_t* prev);
  // Brings the points in `dirty` up to date in ng from their stored state
  // now: re-encoded if they exist, removed if they were deleted.
  absl::Status CatchUp(const std::vector<uint64_t>& dirty);
  // The record, the trained parameters and the removal of generation g in
  // one synced batch, then the in-memory state, together under state_mu_:
  // a reader sees either generation whole.
  absl::Status Switch() ABSL_EXCLUSIVE_LOCKS_REQUIRED(c_->write_mu_);

  CollectionImpl* const c_;
  const DbCore* const core_;
  bool begun_ = false, wrote_ = false, switched_ = false;
  uint32_t g_ = 0, ng_ = 0;
  const rocksdb::Snapshot* snap_ = nullptr;
  uint64_t n_ = 0;             // points in the snapshot
  std::vector<uint64_t> ids_;  // the sample (then a chunk of pass 2)
  std::vector<float> x_;       // their vectors
  std::shared_ptr<IvfIndex> index_;
  // Memory of the sample and of the new index, until the switch.
  MemoryBudget::Reservation sample_memory_, index_memory_;
};

absl::Status CollectionImpl::TrainLocked(bool retrain) {
  Training run(this);
  bool needed = false;
  TQ_RETURN_IF_ERROR(run.Begin(retrain, &needed));
  if (!needed) return absl::OkStatus();
  TQ_RETURN_IF_ERROR(run.Sample());
  TQ_RETURN_IF_ERROR(run.TrainIndex());
  TQ_RETURN_IF_ERROR(run.EncodeAll());
  return run.CatchUpAndSwitch();
}

CollectionImpl::Training::~Training() {
  if (!begun_) return;
  {
    absl::MutexLock wl(&c_->write_mu_);
    c_->tracking_ = false;
    c_->dirty_.clear();
  }
  if (!switched_ && wrote_) c_->RemoveGeneration(ng_).IgnoreError();
  core_->db->ReleaseSnapshot(snap_);
}

absl::Status CollectionImpl::Training::Stopped() const {
  return absl::CancelledError(
      absl::StrCat("training of '", c_->config_.name,
                   "' stopped (database closing or collection dropped)"));
}

rocksdb::ReadOptions CollectionImpl::Training::SnapshotScan() const {
  rocksdb::ReadOptions ro;
  ro.snapshot = snap_;
  ro.fill_cache = false;
  ro.readahead_size = size_t{4} << 20;
  return ro;
}

absl::Status CollectionImpl::Training::Begin(bool retrain, bool* needed) {
  if (c_->stop_) return Stopped();
  absl::MutexLock wl(&c_->write_mu_);
  if (c_->dropped_) return c_->DroppedError();
  const State st = c_->state();
  if (st.index && !retrain) return absl::OkStatus();
  if (st.index && !c_->config_.store_vectors) {
    return absl::FailedPreconditionError("retraining needs stored vectors");
  }
  if (c_->count_ == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "collection '", c_->config_.name, "' is empty: nothing to train on"));
  }
  g_ = st.generation;
  ng_ = g_ + 1;
  snap_ = core_->db->GetSnapshot();
  c_->tracking_ = true;
  c_->dirty_.clear();
  begun_ = true;
  *needed = true;
  return absl::OkStatus();
}

absl::Status CollectionImpl::Training::Sample() {
  const uint32_t d = c_->config_.dim, cid = c_->cid_;
  const size_t rows = std::min<uint64_t>(c_->count_.load(), kTrainSample);
  TQ_RETURN_IF_ERROR(core_->memory->Reserve(
      c_->config_.name, cid, rows * (size_t{d} * sizeof(float) + 8),
      absl::StrCat("training (a sample of ", rows, " vectors)"),
      &sample_memory_));
  Rng rng(c_->config_.seed ^ (uint64_t{ng_} * 0x9E3779B97F4A7C15ull));
  RangeIterator it(core_->db, core_->vectors(), SnapshotScan(), Prefix(cid),
                   Prefix(cid + 1));
  std::vector<float> v(d);
  for (; it->Valid(); it->Next()) {
    uint64_t id;
    TQ_RETURN_IF_ERROR(
        c_->DecodeVectorEntry(it->key(), it->value(), &id, v.data()));
    ++n_;
    size_t slot;
    if (ids_.size() < kTrainSample) {
      slot = ids_.size();
      ids_.push_back(id);
      x_.resize(x_.size() + d);
    } else {
      const uint64_t r = rng.Uniform(n_);
      if (r >= kTrainSample) continue;
      slot = r;
      ids_[slot] = id;
    }
    std::copy(v.begin(), v.end(), x_.begin() + slot * d);
    if ((n_ & 4095) == 0 && c_->stop_) return Stopped();
  }
  if (!it->status().ok()) {
    return FromRocks(it->status(), core_->dir + ": training scan");
  }
  if (n_ == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "collection '", c_->config_.name, "' is empty: nothing to train on"));
  }
  return absl::OkStatus();
}

absl::Status CollectionImpl::Training::TrainIndex() {
  const CollectionConfig& config = c_->config_;
  IvfOptions io;
  io.dim = config.dim;
  io.metric = config.metric;
  io.nlist = config.nlist;
  if (io.nlist == 0) {
    uint32_t nl =
        static_cast<uint32_t>(std::lround(4.0 * std::sqrt(double(n_))));
    io.nlist = std::max<uint32_t>(1, std::min<uint64_t>(nl, n_ / 39));
  }
  io.nlist = static_cast<uint32_t>(std::min<uint64_t>(io.nlist, ids_.size()));
  io.codec.method = config.method;
  io.codec.bits = config.bits;
  io.codec.seed = config.seed;
  io.codec.pca_weighting = config.pca_weighting;
  io.seed = config.seed + ng_;
  io.threads = core_->options.threads;
  io.layout.refine = config.refine;
  io.layout.prefix_sharing = config.prefix_sharing;
  // A close or drop does not wait for the k-means (minutes on a large
  // collection).
  io.cancelled = [c = c_] { return c->stop_.load(); };
  absl::StatusOr<std::unique_ptr<IvfIndex>> trained =
      IvfIndex::Train(io, x_.data(), ids_.size());
  if (absl::IsCancelled(trained.status())) return Stopped();
  TQ_RETURN_IF_ERROR(trained.status());
  index_ = *std::move(trained);
  if (c_->stop_) return Stopped();
  // The new index for every point, beside the index that serves meanwhile.
  const size_t bytes = index_->MemoryBytes() +
                       static_cast<size_t>(n_) * index_->MemoryBytesPerVector();
  return core_->memory->Reserve(
      config.name, c_->cid_, bytes,
      absl::StrCat("training (a new index of ", n_, " points, nlist ",
                   index_->nlist(), ")"),
      &index_memory_);
}

absl::Status CollectionImpl::Training::ClearNewGenerations() {
  const uint32_t cid = c_->cid_;
  rocksdb::WriteBatch clear;
  clear.DeleteRange(core_->idmap(), GenPrefix(cid, ng_), Prefix(cid + 1));
  clear.DeleteRange(core_->codes(), GenPrefix(cid, ng_), Prefix(cid + 1));
  return FromRocks(core_->db->Write(rocksdb::WriteOptions(), &clear),
                   core_->dir + ": training write");
}

absl::Status CollectionImpl::Training::WriteChunk(const uint64_t* ids,
                                                  const float* x, size_t m,
                                                  const uint32_t* prev) {
  const uint32_t cid = c_->cid_;
  const size_t bpv = index_->bytes_per_vector();
  std::vector<uint32_t> lists(m);
  std::vector<uint8_t> codes(m * bpv);
  TQ_RETURN_IF_ERROR(index_->Encode(x, m, lists.data(), codes.data()));
  // The points' internal ids now (a point deleted since the snapshot has
  // none, kNoIid: it is dirty, and the catch-up removes it).
  std::vector<uint32_t> iids(m);
  for (size_t i = 0; i < m; ++i) iids[i] = c_->payload_index_.Find(ids[i]);
  rocksdb::WriteBatch batch;
  for (size_t i = 0; i < m; ++i) {
    if (prev && prev[i] != kNoList && prev[i] != lists[i]) {
      batch.Delete(core_->codes(), CodeKey(cid, ng_, prev[i], ids[i]));
    }
    batch.Put(core_->idmap(), IdmapKey(cid, ng_, ids[i]),
              dbformat::EncodeListValue(lists[i]));
    batch.Put(
        core_->codes(), CodeKey(cid, ng_, lists[i], ids[i]),
        rocksdb::Slice(reinterpret_cast<const char*>(&codes[i * bpv]), bpv));
  }
  wrote_ = true;
  TQ_RETURN_IF_ERROR(
      FromRocks(core_->db->Write(rocksdb::WriteOptions(), &batch),
                core_->dir + ": training write"));
  return index_->AddEncoded(ids, lists.data(), codes.data(), m, iids.data(), x);
}

absl::Status CollectionImpl::Training::EncodeAll() {
  TQ_RETURN_IF_ERROR(ClearNewGenerations());
  const uint32_t d = c_->config_.dim, cid = c_->cid_;
  if (n_ <= kTrainSample) {
    for (size_t lo = 0; lo < ids_.size(); lo += kEncodeChunk) {
      const size_t m = std::min(kEncodeChunk, ids_.size() - lo);
      TQ_RETURN_IF_ERROR(WriteChunk(&ids_[lo], &x_[lo * d], m, nullptr));
      if (c_->stop_) return Stopped();
    }
  } else {
    ids_.clear();
    x_.clear();
    RangeIterator it(core_->db, core_->vectors(), SnapshotScan(), Prefix(cid),
                     Prefix(cid + 1));
    for (; it->Valid(); it->Next()) {
      uint64_t id;
      x_.resize((ids_.size() + 1) * d);
      TQ_RETURN_IF_ERROR(c_->DecodeVectorEntry(it->key(), it->value(), &id,
                                               &x_[ids_.size() * d]));
      ids_.push_back(id);
      if (ids_.size() == kEncodeChunk) {
        TQ_RETURN_IF_ERROR(
            WriteChunk(ids_.data(), x_.data(), ids_.size(), nullptr));
        ids_.clear();
        x_.clear();
        if (c_->stop_) return Stopped();
      }
    }
    if (!it->status().ok()) {
      return FromRocks(it->status(), core_->dir + ": training scan");
    }
    TQ_RETURN_IF_ERROR(
        WriteChunk(ids_.data(), x_.data(), ids_.size(), nullptr));
  }
  std::vector<uint64_t>().swap(ids_);
  std::vector<float>().swap(x_);
  sample_memory_.Release();
  return absl::OkStatus();
}

absl::Status CollectionImpl::Training::CatchUp(
    const std::vector<uint64_t>& dirty) {
  const uint32_t d = c_->config_.dim, cid = c_->cid_;
  rocksdb::DB* db = core_->db;
  for (size_t at = 0; at < dirty.size(); at += kEncodeChunk) {
    // A bulk load can leave millions of points to catch up with: stop
    // promptly when the database closes.
    if (c_->stop_) return Stopped();
    const size_t m = std::min(kEncodeChunk, dirty.size() - at);
    std::vector<std::string> pkeys(m), ikeys(m);
    for (size_t i = 0; i < m; ++i) {
      pkeys[i] = PointKey(cid, dirty[at + i]);
      ikeys[i] = IdmapKey(cid, ng_, dirty[at + i]);
    }
    std::vector<rocksdb::PinnableSlice> vecs, lists;
    std::vector<bool> has_vec, has_list;
    TQ_RETURN_IF_ERROR(MultiGet(db, rocksdb::ReadOptions(), core_->vectors(),
                                pkeys, &vecs, &has_vec,
                                core_->dir + ": vectors"));
    TQ_RETURN_IF_ERROR(MultiGet(db, rocksdb::ReadOptions(), core_->idmap(),
                                ikeys, &lists, &has_list,
                                core_->dir + ": idmap"));
    std::vector<uint64_t> up_ids, del_ids;
    std::vector<uint32_t> up_prev;
    std::vector<float> up_x;
    rocksdb::WriteBatch del;
    for (size_t i = 0; i < m; ++i) {
      const uint64_t id = dirty[at + i];
      uint32_t prev = kNoList;
      if (has_list[i] &&
          !dbformat::DecodeListValue(ToStringView(lists[i]), &prev)) {
        prev = kNoList;
      }
      if (has_vec[i]) {
        up_ids.push_back(id);
        up_prev.push_back(prev);
        up_x.resize(up_ids.size() * d);
        if (!dbformat::DecodeVector(ToStringView(vecs[i]), d,
                                    &up_x[(up_ids.size() - 1) * d])) {
          return absl::DataLossError(
              absl::StrCat(core_->dir, ": column family 'vectors': point ", id,
                           " has ", vecs[i].size(), " bytes"));
        }
      } else if (has_list[i]) {
        del.Delete(core_->idmap(), ikeys[i]);
        if (prev != kNoList) {
          del.Delete(core_->codes(), CodeKey(cid, ng_, prev, id));
        }
        del_ids.push_back(id);
      }
    }
    if (!up_ids.empty()) {
      TQ_RETURN_IF_ERROR(WriteChunk(up_ids.data(), up_x.data(), up_ids.size(),
                                    up_prev.data()));
    }
    if (!del_ids.empty()) {
      TQ_RETURN_IF_ERROR(FromRocks(db->Write(rocksdb::WriteOptions(), &del),
                                   core_->dir + ": training write"));
      index_->Remove(del_ids.data(), del_ids.size());
    }
  }
  return absl::OkStatus();
}

absl::Status CollectionImpl::Training::CatchUpAndSwitch() {
  for (int round = 0;; ++round) {
    if (c_->stop_) return Stopped();
    std::vector<uint64_t> dirty;
    {
      absl::MutexLock wl(&c_->write_mu_);
      if (c_->dropped_) return c_->DroppedError();
      const bool final =
          c_->dirty_.size() <= kFinalCatchUp || round + 1 >= kMaxCatchUpRounds;
      dirty.assign(c_->dirty_.begin(), c_->dirty_.end());
      c_->dirty_.clear();
      if (final) {
        TQ_RETURN_IF_ERROR(CatchUp(dirty));
        return Switch();
      }
    }
    TQ_RETURN_IF_ERROR(CatchUp(dirty));
  }
}

absl::Status CollectionImpl::Training::Switch() {
  const uint32_t cid = c_->cid_;
  dbformat::CollectionRecord rec = c_->record_;
  rec.generation = ng_;
  rec.trained_nlist = index_->nlist();
  rec.trained_count = n_;  // points the centroids were trained from
  rocksdb::WriteBatch batch;
  batch.Put(core_->meta(), dbformat::CollectionKey(c_->config_.name),
            dbformat::EncodeRecord(rec));
  std::string params;
  PutFixed32(&params, ng_);
  params += index_->SerializeTrained();
  batch.Put(core_->meta(), dbformat::TrainedKey(cid), params);
  batch.DeleteRange(core_->idmap(), GenPrefix(cid, g_), GenPrefix(cid, ng_));
  batch.DeleteRange(core_->codes(), GenPrefix(cid, g_), GenPrefix(cid, ng_));
  if (!c_->config_.store_vectors) {
    batch.DeleteRange(core_->vectors(), Prefix(cid), Prefix(cid + 1));
  }
  rocksdb::WriteOptions wo;
  wo.sync = true;
  {
    absl::MutexLock sl(&c_->state_mu_);
    TQ_RETURN_IF_ERROR(FromRocks(core_->db->Write(wo, &batch),
                                 core_->dir + ": finishing training"));
    switched_ = true;
    c_->state_.generation = ng_;
    c_->state_.index = index_;
    c_->state_.flat = nullptr;
    c_->state_.trained_count = rec.trained_count;
  }
  c_->record_ = rec;
  c_->AccountMemory();
  index_memory_.Release();
  return absl::OkStatus();
}

}  // namespace dbimpl
}  // namespace tqdb
