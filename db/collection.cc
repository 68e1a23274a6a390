// CollectionImpl: writes, reads, search, training and loading of one
// collection. Locking order: train_mu_ -> write_mu_ -> state_mu_ -> bg_mu_.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "db/db_impl.h"
#include "index/scanner.h"
#include "quant/coding.h"
#include "quant/finite.h"
#include "quant/kernels.h"
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

constexpr size_t kLoadChunk = 8192;     // codes per AddEncoded at open
constexpr size_t kEncodeChunk = 4096;   // points per training write batch
constexpr size_t kTrainSample = 65536;  // k-means sample (at least 39/list)
constexpr size_t kFinalCatchUp = 2048;  // dirty points done under the lock
constexpr int kMaxCatchUpRounds = 4;

// Exact scores with the index's conventions: goodness is larger-better
// (inner product, or minus the squared distance), cosine normalizes both.
class ExactScorer {
 public:
  ExactScorer(const float* q, uint32_t d, Metric m)
      : q_(q, q + d), d_(d), m_(m) {
    if (m == Metric::kCosine) {
      const float n = std::sqrt(kernels::Dot(q_.data(), q_.data(), d));
      if (n > 0) {
        for (float& v : q_) v /= n;
      }
    }
  }
  float Goodness(const float* v) const {
    switch (m_) {
      case Metric::kL2:
        return -kernels::L2Sqr(q_.data(), v, d_);
      case Metric::kCosine: {
        const float nsq = kernels::Dot(v, v, d_);
        return nsq > 0 ? kernels::Dot(q_.data(), v, d_) / std::sqrt(nsq) : 0.0f;
      }
      case Metric::kInnerProduct:
        break;
    }
    return kernels::Dot(q_.data(), v, d_);
  }
  std::vector<Neighbor> Finish(TopK* heap) const {
    std::vector<Neighbor> out;
    for (const auto& [g, id] : heap->TakeSorted()) {
      out.push_back({id, m_ == Metric::kL2 ? -g : g});
    }
    return out;
  }

 private:
  std::vector<float> q_;
  const uint32_t d_;
  const Metric m_;
};

absl::string_view SV(const rocksdb::Slice& s) {
  return absl::string_view(s.data(), s.size());
}

std::string ListValue(uint32_t list) {
  std::string v;
  PutFixed32(&v, list);
  return v;
}

// Batched point lookups. found[i] false for NotFound; other errors return.
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

class SnapshotGuard {
 public:
  SnapshotGuard(rocksdb::DB* db, const rocksdb::Snapshot* s) : db_(db), s_(s) {}
  ~SnapshotGuard() {
    if (s_) db_->ReleaseSnapshot(s_);
  }
  const rocksdb::Snapshot* get() const { return s_; }

 private:
  rocksdb::DB* db_;
  const rocksdb::Snapshot* s_;
};

}  // namespace

// Raw vectors for rescoring, read from the vectors family. Remembers the
// first storage error so that a search never silently drops candidates
// because of corruption.
class CollectionImpl::RocksVectorStore : public VectorStore {
 public:
  RocksVectorStore(const DbCore* core, uint32_t cid, uint32_t dim)
      : core_(core), cid_(cid), dim_(dim) {}
  bool GetVector(uint64_t id, float* out) const override {
    rocksdb::PinnableSlice v;
    const rocksdb::Status s = core_->db->Get(
        rocksdb::ReadOptions(), core_->vectors(), PointKey(cid_, id), &v);
    if (s.ok()) {
      if (dbformat::DecodeVector(SV(v), dim_, out)) return true;
      Fail(absl::DataLossError(absl::StrCat(
          core_->dir, ": column family 'vectors': point ", id, " has ",
          v.size(), " bytes, expected ", size_t{dim_} * 4)));
      return false;
    }
    if (!s.IsNotFound()) Fail(FromRocks(s, core_->dir + ": reading vectors"));
    return false;
  }
  absl::Status status() const {
    std::lock_guard<std::mutex> l(mu_);
    return status_;
  }

 private:
  void Fail(absl::Status s) const {
    std::lock_guard<std::mutex> l(mu_);
    if (status_.ok()) status_ = std::move(s);
  }
  const DbCore* core_;
  const uint32_t cid_, dim_;
  mutable std::mutex mu_;
  mutable absl::Status status_;
};

// ---------------------------------------------------------------- FlatStore

void FlatStore::Upsert(const uint64_t* ids, const float* x, size_t n) {
  std::unique_lock<std::shared_mutex> l(mu_);
  for (size_t i = 0; i < n; ++i) {
    auto [it, inserted] =
        slot_.try_emplace(ids[i], static_cast<uint32_t>(ids_.size()));
    if (inserted) {
      ids_.push_back(ids[i]);
      if (!overflowed_) {
        data_.insert(data_.end(), x + i * dim_, x + (i + 1) * dim_);
      }
    } else if (!overflowed_) {
      std::copy(x + i * dim_, x + (i + 1) * dim_,
                data_.begin() + size_t{it->second} * dim_);
    }
  }
  if (!overflowed_ && data_.size() * sizeof(float) > max_bytes_) {
    // Past the memory budget: keep the ids (existence), drop the vectors;
    // searches read the stored ones instead.
    overflowed_ = true;
    std::vector<float>().swap(data_);
  }
}

void FlatStore::Remove(const uint64_t* ids, size_t n) {
  std::unique_lock<std::shared_mutex> l(mu_);
  for (size_t i = 0; i < n; ++i) {
    auto it = slot_.find(ids[i]);
    if (it == slot_.end()) continue;
    const uint32_t s = it->second,
                   last = static_cast<uint32_t>(ids_.size() - 1);
    slot_.erase(it);
    if (s != last) {
      ids_[s] = ids_[last];
      if (!overflowed_) {
        std::copy(data_.begin() + size_t{last} * dim_,
                  data_.begin() + size_t{last + 1} * dim_,
                  data_.begin() + size_t{s} * dim_);
      }
      slot_[ids_[s]] = s;
    }
    ids_.pop_back();
    if (!overflowed_) data_.resize(size_t{last} * dim_);
  }
}

bool FlatStore::has_vectors() const {
  std::shared_lock<std::shared_mutex> l(mu_);
  return !overflowed_;
}

void FlatStore::Contains(const uint64_t* ids, size_t n,
                         std::vector<bool>* out) const {
  std::shared_lock<std::shared_mutex> l(mu_);
  out->resize(n);
  for (size_t i = 0; i < n; ++i) (*out)[i] = slot_.contains(ids[i]);
}

size_t FlatStore::size() const {
  std::shared_lock<std::shared_mutex> l(mu_);
  return ids_.size();
}

std::vector<Neighbor> FlatStore::Search(
    const float* query, uint32_t k,
    const std::function<bool(uint64_t)>* filter) const {
  ExactScorer scorer(query, dim_, metric_);
  TopK heap(k);
  std::shared_lock<std::shared_mutex> l(mu_);
  if (overflowed_) return {};
  for (size_t i = 0; i < ids_.size(); ++i) {
    if (filter && !(*filter)(ids_[i])) continue;
    heap.Push(scorer.Goodness(&data_[i * dim_]), ids_[i]);
  }
  l.unlock();
  return scorer.Finish(&heap);
}

// ----------------------------------------------------------- CollectionImpl

#define TQ_LIFE_GUARD()                                         \
  std::shared_lock<std::shared_mutex> tq_life_(core_->life_mu); \
  TQ_RETURN_IF_ERROR(CheckUsable())

CollectionImpl::CollectionImpl(std::shared_ptr<DbCore> core,
                               const dbformat::CollectionRecord& r)
    : core_(std::move(core)), record_(r) {
  config_.name = r.name;
  config_.dim = r.dim;
  config_.metric = r.metric;
  config_.method = r.method;
  config_.bits = r.bits;
  config_.seed = r.seed;
  config_.nlist = r.nlist;
  config_.store_vectors = r.store_vectors;
  config_.train_threshold = r.train_threshold;
  state_.generation = r.generation;
  if (r.generation == 0) {
    state_.flat = std::make_shared<FlatStore>(
        r.dim, r.metric, core_->options.max_untrained_memory_bytes);
  }
}

CollectionImpl::~CollectionImpl() { StopTraining(); }

absl::Status CollectionImpl::DecodeVectorEntry(const rocksdb::Slice& key,
                                               const rocksdb::Slice& value,
                                               uint64_t* id, float* out) const {
  const char* what = nullptr;
  if (key.size() != dbformat::kPointKeySize) {
    what = "key";
  } else if (!dbformat::DecodeVector(
                 absl::string_view(value.data(), value.size()), config_.dim,
                 out)) {
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

absl::Status CollectionImpl::CheckUsable() const {
  if (core_->closed) {
    return absl::FailedPreconditionError(
        absl::StrCat("database ", core_->dir, " is closed"));
  }
  if (dropped_) {
    return absl::NotFoundError(
        absl::StrCat("collection '", config_.name, "' was dropped"));
  }
  return absl::OkStatus();
}

absl::Status CollectionImpl::Load() {
  const auto t0 = std::chrono::steady_clock::now();
  rocksdb::DB* db = core_->db;
  const uint32_t cid = record_.cid, g = record_.generation;
  const std::string where =
      absl::StrCat(core_->dir, ": collection '", config_.name, "'");

  // Leftovers of interrupted trainings: idmap/codes of other generations.
  {
    rocksdb::WriteBatch batch;
    const std::string lo = Prefix(cid), hi = Prefix(cid + 1),
                      cur = GenPrefix(cid, g), next = GenPrefix(cid, g + 1);
    for (rocksdb::ColumnFamilyHandle* cf : {core_->idmap(), core_->codes()}) {
      for (const auto& [a, b] :
           {std::make_pair(lo, cur), std::make_pair(next, hi)}) {
        if (a >= b) continue;
        rocksdb::ReadOptions ro;
        rocksdb::Slice upper(b);
        ro.iterate_upper_bound = &upper;
        std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, cf));
        it->Seek(a);
        if (!it->status().ok()) return FromRocks(it->status(), where);
        if (it->Valid()) {
          rocksdb::Status s = batch.DeleteRange(cf, a, b);
          if (!s.ok()) return FromRocks(s, where);
        }
      }
    }
    if (batch.Count() > 0) {
      rocksdb::WriteOptions wo;
      wo.sync = true;
      TQ_RETURN_IF_ERROR(FromRocks(
          db->Write(wo, &batch), where + ": removing an interrupted training"));
    }
  }

  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  ro.readahead_size = size_t{4} << 20;
  ro.adaptive_readahead = true;
  uint64_t n = 0;
  if (g == 0) {
    // Untrained: the raw vectors, for exact search.
    const std::string lo = Prefix(cid), hi = Prefix(cid + 1);
    rocksdb::Slice upper(hi);
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(
        db->NewIterator(ro, core_->vectors()));
    std::vector<uint64_t> ids;
    std::vector<float> x;
    const uint32_t d = config_.dim;
    auto flush = [&] {
      state_.flat->Upsert(ids.data(), x.data(), ids.size());
      n += ids.size();
      ids.clear();
      x.clear();
    };
    for (it->Seek(lo); it->Valid(); it->Next()) {
      const rocksdb::Slice k = it->key(), v = it->value();
      if (k.size() != dbformat::kPointKeySize) {
        return absl::DataLossError(
            absl::StrCat(where, ": column family 'vectors' has a key of ",
                         k.size(), " bytes"));
      }
      const uint64_t id = dbformat::GetBig64(k.data() + 4);
      ids.push_back(id);
      x.resize(ids.size() * d);
      if (!dbformat::DecodeVector(absl::string_view(v.data(), v.size()), d,
                                  &x[(ids.size() - 1) * d])) {
        return absl::DataLossError(absl::StrCat(
            where, ": column family 'vectors': point ", id, " has ", v.size(),
            " bytes, expected ", size_t{d} * 4));
      }
      if (ids.size() == kLoadChunk) flush();
    }
    if (!it->status().ok()) return FromRocks(it->status(), where + ": vectors");
    flush();
  } else {
    std::string params;
    rocksdb::Status s = db->Get(rocksdb::ReadOptions(), core_->meta(),
                                dbformat::TrainedKey(cid), &params);
    if (s.IsNotFound()) {
      return absl::DataLossError(absl::StrCat(
          where, ": trained parameters (meta 'trained/') are missing"));
    }
    TQ_RETURN_IF_ERROR(FromRocks(s, where + ": trained parameters"));
    if (params.size() < 4 ||
        DecodeFixed32(reinterpret_cast<const uint8_t*>(params.data())) != g) {
      return absl::DataLossError(absl::StrCat(
          where,
          ": trained parameters (meta 'trained/') do not belong to "
          "generation ",
          g));
    }
    auto idx = IvfIndex::FromTrained(absl::string_view(params).substr(4));
    if (!idx.ok()) {
      return absl::Status(
          idx.status().code(),
          absl::StrCat(where, ": meta 'trained/': ", idx.status().message()));
    }
    std::shared_ptr<IvfIndex> index(std::move(*idx));
    if (index->dim() != config_.dim ||
        index->options().metric != config_.metric) {
      return absl::DataLossError(absl::StrCat(
          where, ": trained parameters do not match the settings"));
    }
    const size_t bpv = index->bytes_per_vector();
    const uint32_t nlist = index->nlist();
    const std::string lo = GenPrefix(cid, g), hi = GenPrefix(cid, g + 1);
    rocksdb::Slice upper(hi);
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, core_->codes()));
    std::vector<uint64_t> ids;
    std::vector<uint32_t> lists;
    std::vector<uint8_t> codes;
    ids.reserve(kLoadChunk);
    lists.reserve(kLoadChunk);
    codes.reserve(kLoadChunk * bpv);
    auto flush = [&]() -> absl::Status {
      TQ_RETURN_IF_ERROR(index->AddEncoded(ids.data(), lists.data(),
                                           codes.data(), ids.size()));
      n += ids.size();
      ids.clear();
      lists.clear();
      codes.clear();
      return absl::OkStatus();
    };
    for (it->Seek(lo); it->Valid(); it->Next()) {
      const rocksdb::Slice k = it->key(), v = it->value();
      if (k.size() != dbformat::kCodeKeySize) {
        return absl::DataLossError(
            absl::StrCat(where, ": column family 'codes' has a key of ",
                         k.size(), " bytes"));
      }
      const uint32_t list = dbformat::GetBig32(k.data() + 8);
      const uint64_t id = dbformat::GetBig64(k.data() + 12);
      if (list >= nlist || v.size() != bpv) {
        return absl::DataLossError(absl::StrCat(
            where, ": column family 'codes': entry of point ", id, " (list ",
            list, " of ", nlist, ") has ", v.size(), " bytes, expected ", bpv));
      }
      ids.push_back(id);
      lists.push_back(list);
      codes.insert(codes.end(), v.data(), v.data() + v.size());
      if (ids.size() == kLoadChunk) {
        TQ_RETURN_IF_ERROR(flush());
      }
    }
    if (!it->status().ok()) return FromRocks(it->status(), where + ": codes");
    TQ_RETURN_IF_ERROR(flush());
    state_.index = std::move(index);
    state_.flat = nullptr;
    state_.trained_count = record_.trained_count;
  }
  count_ = n;
  load_seconds_ =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  return absl::OkStatus();
}

absl::Status CollectionImpl::Upsert(const std::vector<Point>& points,
                                    bool wait) {
  TQ_LIFE_GUARD();
  const size_t n = points.size();
  if (n == 0) return absl::OkStatus();
  if (n > core_->options.max_batch) {
    return absl::ResourceExhaustedError(
        absl::StrCat("batch of ", n, " points exceeds max_batch ",
                     core_->options.max_batch));
  }
  const uint32_t d = config_.dim;
  for (size_t i = 0; i < n; ++i) {
    const Point& p = points[i];
    auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(
          "point ", i, " (id ", p.id, "): ", why, "; batch rejected"));
    };
    if (p.vector.size() != d) {
      return bad(absl::StrCat("vector has ", p.vector.size(),
                              " coordinates, expected ", d));
    }
    if (const std::ptrdiff_t j = FirstNonFinite(p.vector.data(), d); j >= 0) {
      return bad(absl::StrCat("coordinate ", j, " is ",
                              std::isnan(p.vector[j]) ? "NaN" : "infinite"));
    }
    if (config_.metric == Metric::kCosine &&
        std::all_of(p.vector.begin(), p.vector.end(),
                    [](float v) { return v == 0.0f; })) {
      return bad("zero vector has no direction (metric cosine)");
    }
    if (p.payload.size() > core_->options.max_payload_bytes) {
      return bad(absl::StrCat("payload of ", p.payload.size(),
                              " bytes exceeds max_payload_bytes ",
                              core_->options.max_payload_bytes));
    }
  }
  // Duplicate ids: the last occurrence wins.
  std::vector<size_t> rows;
  rows.reserve(n);
  {
    absl::flat_hash_set<uint64_t> seen;
    seen.reserve(n);
    for (size_t i = n; i-- > 0;) {
      if (seen.insert(points[i].id).second) rows.push_back(i);
    }
    std::reverse(rows.begin(), rows.end());
  }
  const size_t m = rows.size();
  std::vector<uint64_t> ids(m);
  std::vector<float> x(m * d);
  for (size_t r = 0; r < m; ++r) {
    ids[r] = points[rows[r]].id;
    std::copy(points[rows[r]].vector.begin(), points[rows[r]].vector.end(),
              x.begin() + r * d);
  }

  // Encode before taking the write lock (writers of one collection encode
  // in parallel); redone under the lock if a training switched the index.
  std::vector<uint32_t> lists;
  std::vector<uint8_t> codes;
  std::shared_ptr<IvfIndex> encoded_with = state().index;
  auto encode = [&](const IvfIndex& index) {
    lists.resize(m);
    codes.resize(m * index.bytes_per_vector());
    return index.Encode(x.data(), m, lists.data(), codes.data());
  };
  if (encoded_with) {
    TQ_RETURN_IF_ERROR(encode(*encoded_with));
  }

  std::lock_guard<std::mutex> wl(write_mu_);
  if (dropped_) return CheckUsable();
  const State st = state_;  // stable under write_mu_
  const uint32_t cid = record_.cid, g = st.generation;
  if (st.index && st.index != encoded_with) {
    TQ_RETURN_IF_ERROR(encode(*st.index));
  }
  const size_t bpv = st.index ? st.index->bytes_per_vector() : 0;
  // Which points exist: the in-memory state mirrors the stored one under
  // write_mu_. Only existing points of a trained collection need a read
  // (their list, to delete the stale code when it moves).
  std::vector<bool> exists(m);
  if (st.index) {
    for (size_t r = 0; r < m; ++r) exists[r] = st.index->Contains(ids[r]);
  } else {
    st.flat->Contains(ids.data(), m, &exists);
  }
  std::vector<uint32_t> old_list(m, kNoList);
  if (st.index) {
    std::vector<size_t> rows_read;
    std::vector<std::string> keys;
    for (size_t r = 0; r < m; ++r) {
      if (!exists[r]) continue;
      rows_read.push_back(r);
      keys.push_back(IdmapKey(cid, g, ids[r]));
    }
    std::vector<rocksdb::PinnableSlice> old;
    std::vector<bool> found;
    TQ_RETURN_IF_ERROR(MultiGet(core_->db, rocksdb::ReadOptions(),
                                core_->idmap(), keys, &old, &found,
                                core_->dir + ": idmap"));
    for (size_t i = 0; i < rows_read.size(); ++i) {
      const size_t r = rows_read[i];
      exists[r] = found[i];
      if (!found[i]) continue;
      if (old[i].size() != 4) {
        return absl::DataLossError(
            absl::StrCat(core_->dir, ": column family 'idmap': point ", ids[r],
                         " has a ", old[i].size(), "-byte value"));
      }
      old_list[r] =
          DecodeFixed32(reinterpret_cast<const uint8_t*>(old[i].data()));
    }
  }
  const bool keep_vectors = config_.store_vectors || !st.index;
  rocksdb::WriteBatch batch(
      m * ((keep_vectors ? d * 4 : 0) + bpv + 3 * dbformat::kCodeKeySize + 32));
  [[maybe_unused]] std::string vbuf;  // big-endian hosts only
  size_t added = 0;
  for (size_t r = 0; r < m; ++r) {
    const uint64_t id = ids[r];
    const uint32_t list = st.index ? lists[r] : kNoList;
    if (exists[r]) {
      if (st.index && old_list[r] != list && old_list[r] != kNoList) {
        batch.Delete(core_->codes(), CodeKey(cid, g, old_list[r], id));
      }
      if (points[rows[r]].payload.empty()) {
        batch.Delete(core_->payload(), PointKey(cid, id));
      }
    } else {
      ++added;
    }
    batch.Put(core_->idmap(), IdmapKey(cid, g, id), ListValue(list));
    if (st.index) {
      batch.Put(
          core_->codes(), CodeKey(cid, g, list, id),
          rocksdb::Slice(reinterpret_cast<const char*>(&codes[r * bpv]), bpv));
    }
    if (keep_vectors) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
      // The floats' bytes are their little-endian encoding.
      batch.Put(core_->vectors(), PointKey(cid, id),
                rocksdb::Slice(reinterpret_cast<const char*>(&x[r * d]),
                               size_t{d} * 4));
#else
      dbformat::EncodeVector(&x[r * d], d, &vbuf);
      batch.Put(core_->vectors(), PointKey(cid, id), vbuf);
#endif
    }
    if (!points[rows[r]].payload.empty()) {
      batch.Put(core_->payload(), PointKey(cid, id), points[rows[r]].payload);
    }
  }
  rocksdb::WriteOptions wo;
  wo.sync = wait;
  TQ_RETURN_IF_ERROR(
      FromRocks(core_->db->Write(wo, &batch), core_->dir + ": upsert"));
  if (st.index) {
    TQ_RETURN_IF_ERROR(
        st.index->AddEncoded(ids.data(), lists.data(), codes.data(), m));
  } else {
    st.flat->Upsert(ids.data(), x.data(), m);
  }
  count_ += added;
  if (tracking_) dirty_.insert(ids.begin(), ids.end());
  MaybeStartBackgroundTraining();
  return absl::OkStatus();
}

absl::StatusOr<size_t> CollectionImpl::Delete(const std::vector<uint64_t>& in,
                                              bool wait) {
  TQ_LIFE_GUARD();
  if (in.empty()) return size_t{0};
  if (in.size() > core_->options.max_batch) {
    return absl::ResourceExhaustedError(absl::StrCat("batch of ", in.size(),
                                                     " ids exceeds max_batch ",
                                                     core_->options.max_batch));
  }
  std::vector<uint64_t> ids;
  {
    absl::flat_hash_set<uint64_t> seen;
    for (uint64_t id : in) {
      if (seen.insert(id).second) ids.push_back(id);
    }
  }
  std::lock_guard<std::mutex> wl(write_mu_);
  if (dropped_) return CheckUsable();
  const State st = state_;
  const uint32_t cid = record_.cid, g = st.generation;
  std::vector<std::string> keys(ids.size());
  for (size_t r = 0; r < ids.size(); ++r) keys[r] = IdmapKey(cid, g, ids[r]);
  std::vector<rocksdb::PinnableSlice> old;
  std::vector<bool> found;
  TQ_RETURN_IF_ERROR(MultiGet(core_->db, rocksdb::ReadOptions(), core_->idmap(),
                              keys, &old, &found, core_->dir + ": idmap"));
  rocksdb::WriteBatch batch;
  std::vector<uint64_t> gone;
  for (size_t r = 0; r < ids.size(); ++r) {
    if (!found[r]) continue;
    const uint64_t id = ids[r];
    if (old[r].size() != 4) {
      return absl::DataLossError(
          absl::StrCat(core_->dir, ": column family 'idmap': point ", id,
                       " has a ", old[r].size(), "-byte value"));
    }
    const uint32_t old_list =
        DecodeFixed32(reinterpret_cast<const uint8_t*>(old[r].data()));
    batch.Delete(core_->idmap(), keys[r]);
    if (old_list != kNoList) {
      batch.Delete(core_->codes(), CodeKey(cid, g, old_list, id));
    }
    batch.Delete(core_->vectors(), PointKey(cid, id));
    batch.Delete(core_->payload(), PointKey(cid, id));
    gone.push_back(id);
  }
  if (gone.empty()) return size_t{0};
  rocksdb::WriteOptions wo;
  wo.sync = wait;
  TQ_RETURN_IF_ERROR(
      FromRocks(core_->db->Write(wo, &batch), core_->dir + ": delete"));
  if (st.index) {
    st.index->Remove(gone.data(), gone.size());
  } else {
    st.flat->Remove(gone.data(), gone.size());
  }
  count_ -= gone.size();
  if (tracking_) dirty_.insert(gone.begin(), gone.end());
  return gone.size();
}

absl::StatusOr<std::vector<Record>> CollectionImpl::Get(
    const std::vector<uint64_t>& ids, bool with_vectors,
    bool with_payload) const {
  TQ_LIFE_GUARD();
  rocksdb::DB* db = core_->db;
  uint32_t g;
  const rocksdb::Snapshot* snap;
  {
    // A training's final step changes the generation and the stored data
    // together under state_mu_: the snapshot matches the generation.
    std::shared_lock<std::shared_mutex> l(state_mu_);
    g = state_.generation;
    snap = db->GetSnapshot();
  }
  SnapshotGuard guard(db, snap);
  rocksdb::ReadOptions ro;
  ro.snapshot = snap;
  const uint32_t cid = record_.cid;
  std::vector<std::string> keys(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) keys[i] = IdmapKey(cid, g, ids[i]);
  std::vector<rocksdb::PinnableSlice> vals;
  std::vector<bool> found;
  TQ_RETURN_IF_ERROR(MultiGet(db, ro, core_->idmap(), keys, &vals, &found,
                              core_->dir + ": idmap"));
  std::vector<Record> out;
  std::vector<std::string> pkeys;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!found[i]) continue;
    out.push_back(Record{ids[i], false, {}, {}});
    pkeys.push_back(PointKey(cid, ids[i]));
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
      if (!dbformat::DecodeVector(SV(vals[i]), config_.dim,
                                  out[i].vector.data())) {
        return absl::DataLossError(
            absl::StrCat(core_->dir, ": column family 'vectors': point ",
                         out[i].id, " has ", vals[i].size(), " bytes"));
      }
      out[i].has_vector = true;
    }
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

absl::Status CollectionImpl::CheckQuery(const float* q,
                                        const QueryOptions& o) const {
  if (o.k == 0) return absl::InvalidArgumentError("k must be >= 1");
  if (o.rescore && !(o.oversampling >= 1.0f)) {
    return absl::InvalidArgumentError(
        absl::StrCat("oversampling must be >= 1, got ", o.oversampling));
  }
  if (const std::ptrdiff_t j = FirstNonFinite(q, config_.dim); j >= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "query coordinate ", j, " is ", std::isnan(q[j]) ? "NaN" : "infinite"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Neighbor>> CollectionImpl::ExactFromStorage(
    const float* query, const QueryOptions& o) const {
  const uint32_t d = config_.dim, cid = record_.cid;
  ExactScorer scorer(query, d, config_.metric);
  TopK heap(o.k);
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  ro.readahead_size = size_t{2} << 20;
  const std::string lo = Prefix(cid), hi = Prefix(cid + 1);
  rocksdb::Slice upper(hi);
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(
      core_->db->NewIterator(ro, core_->vectors()));
  std::vector<float> v(d);
  size_t seen = 0;
  for (it->Seek(lo); it->Valid(); it->Next()) {
    uint64_t id;
    TQ_RETURN_IF_ERROR(
        DecodeVectorEntry(it->key(), it->value(), &id, v.data()));
    if (o.cancelled && (++seen & 4095) == 0 && o.cancelled()) {
      return absl::CancelledError("search cancelled (deadline or client gone)");
    }
    if (o.filter && !o.filter(id)) continue;
    heap.Push(scorer.Goodness(v.data()), id);
  }
  if (!it->status().ok()) {
    return FromRocks(it->status(), core_->dir + ": exact search");
  }
  return scorer.Finish(&heap);
}

absl::StatusOr<std::vector<Neighbor>> CollectionImpl::SearchOne(
    const State& st, const float* query, const QueryOptions& o) const {
  TQ_RETURN_IF_ERROR(CheckQuery(query, o));
  if (!st.index) {
    // Untrained: exact, from memory while the vectors fit the budget, else
    // from storage (where they always are until the first training).
    if (st.flat->has_vectors()) {
      return st.flat->Search(query, o.k, o.filter ? &o.filter : nullptr);
    }
    return ExactFromStorage(query, o);
  }
  if ((o.exact || o.rescore) && !config_.store_vectors) {
    return absl::FailedPreconditionError(
        absl::StrCat("collection '", config_.name,
                     "' does not store vectors "
                     "(store_vectors = false): no exact search or rescoring"));
  }
  if (o.exact) return ExactFromStorage(query, o);
  RocksVectorStore store(core_.get(), record_.cid, config_.dim);
  SearchParams p;
  p.k = o.k;
  if (o.strict_nprobe && o.nprobe > st.index->nlist()) {
    return absl::InvalidArgumentError(
        absl::StrCat("nprobe ", o.nprobe, " exceeds nlist ", st.index->nlist(),
                     " of collection '", config_.name, "'"));
  }
  p.nprobe = o.nprobe == 0 ? 0 : std::min(o.nprobe, st.index->nlist());
  p.rescore = o.rescore;
  p.oversampling = o.oversampling;
  p.store = o.rescore ? &store : nullptr;
  p.filter = o.filter;
  p.cancelled = o.cancelled;
  auto r = st.index->Search(query, p);
  if (r.ok() && o.rescore) {
    TQ_RETURN_IF_ERROR(store.status());
  }
  return r;
}

absl::StatusOr<std::vector<Neighbor>> CollectionImpl::Search(
    absl::Span<const float> query, const QueryOptions& o) const {
  TQ_LIFE_GUARD();
  if (query.size() != config_.dim) {
    return absl::InvalidArgumentError(absl::StrCat(
        "query has ", query.size(), " coordinates, expected ", config_.dim));
  }
  return SearchOne(state(), query.data(), o);
}

absl::StatusOr<std::vector<std::vector<Neighbor>>> CollectionImpl::SearchBatch(
    absl::Span<const float> queries, const QueryOptions& o) const {
  TQ_LIFE_GUARD();
  const uint32_t d = config_.dim;
  if (queries.size() % d != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "queries hold ", queries.size(), " floats, not a multiple of dim ", d));
  }
  const size_t nq = queries.size() / d;
  const State st = state();
  std::vector<std::vector<Neighbor>> out(nq);
  std::vector<absl::Status> errs(nq);
  core_->pool->ParallelFor(nq, [&](size_t i) {
    auto r = SearchOne(st, queries.data() + i * d, o);
    if (r.ok()) {
      out[i] = std::move(*r);
    } else {
      errs[i] = r.status();
    }
  });
  for (size_t i = 0; i < nq; ++i) {
    if (!errs[i].ok()) {
      return absl::Status(errs[i].code(),
                          absl::StrCat("query ", i, ": ", errs[i].message()));
    }
  }
  return out;
}

absl::StatusOr<CollectionInfo> CollectionImpl::Info() const {
  TQ_LIFE_GUARD();
  const State st = state();
  CollectionInfo info;
  info.config = config_;
  info.collection_id = record_.cid;
  info.count = count_.load();
  info.trained = st.index != nullptr;
  info.generation = st.generation;
  info.trained_count = st.trained_count;
  info.training = training_.load();
  {
    std::lock_guard<std::mutex> l(bg_mu_);
    info.last_training_error = last_error_;
  }
  if (st.index) {
    info.nlist = st.index->nlist();
    info.lists = st.index->stats();
    info.imbalance = info.lists.imbalance;
    info.code_bytes = st.index->bytes_per_vector();
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
  const std::string lo = Prefix(record_.cid), hi = Prefix(record_.cid + 1);
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
  info.disk_bytes_per_vector =
      info.count ? static_cast<double>(total) / info.count : 0.0;
  info.load_seconds = load_seconds_;
  return info;
}

// ----------------------------------------------------------------- Training

absl::Status CollectionImpl::Train() {
  TQ_LIFE_GUARD();
  if (state().index) return absl::OkStatus();
  std::lock_guard<std::mutex> tl(train_mu_);
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
  std::lock_guard<std::mutex> tl(train_mu_);
  return RunTraining(/*retrain=*/true);
}

void CollectionImpl::WaitForTraining() {
  std::unique_lock<std::mutex> l(bg_mu_);
  bg_cv_.wait(l, [&] { return !bg_running_; });
}

void CollectionImpl::StopTraining() {
  stop_ = true;
  std::thread t;
  {
    std::lock_guard<std::mutex> l(bg_mu_);
    t = std::move(bg_);
  }
  if (t.joinable()) {
    if (t.get_id() == std::this_thread::get_id()) {
      t.detach();  // cannot happen: the thread holds no owning reference
    } else {
      t.join();
    }
  }
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
  bool retrain = false;
  if (state_.index) {
    // An automatic nlist was chosen for the points of the last training:
    // once the collection has grown retrain_growth times past them, rebuild
    // (geometric steps, so the total work stays linear in the final size).
    if (!AutoNlistOutgrown(n, state_.trained_count) || n < next_auto_train_) {
      return;
    }
    retrain = true;
  } else if (n < config_.train_threshold || n < next_auto_train_) {
    return;
  }
  std::lock_guard<std::mutex> l(bg_mu_);
  if (bg_running_ || stop_ || core_->closing) return;
  if (bg_.joinable()) bg_.join();  // finished: bg_running_ is false
  bg_running_ = true;
  bg_ = std::thread([this, retrain] {
    absl::Status s;
    bool again = retrain;
    for (;;) {
      {
        std::lock_guard<std::mutex> tl(train_mu_);
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
    std::lock_guard<std::mutex> l(bg_mu_);
    if (!s.ok() && !absl::IsCancelled(s)) {
      last_error_ = s.ToString();
      // Try again when the collection has doubled.
      next_auto_train_ = std::max<uint64_t>(2 * count_.load(), 1);
    } else if (s.ok()) {
      last_error_.clear();
    }
    bg_running_ = false;
    bg_cv_.notify_all();
  });
}

absl::Status CollectionImpl::RemoveGeneration(uint32_t gen) {
  rocksdb::WriteBatch batch;
  const std::string a = GenPrefix(record_.cid, gen),
                    b = GenPrefix(record_.cid, gen + 1);
  batch.DeleteRange(core_->idmap(), a, b);
  batch.DeleteRange(core_->codes(), a, b);
  return FromRocks(core_->db->Write(rocksdb::WriteOptions(), &batch),
                   core_->dir + ": removing an abandoned training");
}

absl::Status CollectionImpl::RunTraining(bool retrain) {
  training_ = true;
  bool trained_now = false;
  absl::Status s = TrainLocked(retrain, &trained_now);
  training_ = false;
  return s;
}

absl::Status CollectionImpl::TrainLocked(bool retrain, bool* trained_now) {
  auto stopped = [&] {
    return absl::CancelledError(
        absl::StrCat("training of '", config_.name,
                     "' stopped (database closing or collection dropped)"));
  };
  if (stop_) return stopped();
  rocksdb::DB* db = core_->db;
  const uint32_t cid = record_.cid, d = config_.dim;
  uint32_t g;
  const rocksdb::Snapshot* snap;
  {
    std::lock_guard<std::mutex> wl(write_mu_);
    if (dropped_) return CheckUsable();
    if (state_.index && !retrain) return absl::OkStatus();
    if (state_.index && !config_.store_vectors) {
      return absl::FailedPreconditionError("retraining needs stored vectors");
    }
    if (count_ == 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "collection '", config_.name, "' is empty: nothing to train on"));
    }
    g = state_.generation;
    snap = db->GetSnapshot();
    tracking_ = true;
    dirty_.clear();
  }
  SnapshotGuard snap_guard(db, snap);
  const uint32_t ng = g + 1;
  bool flipped = false, wrote = false;
  struct Cleanup {
    CollectionImpl* c;
    uint32_t ng;
    bool* flipped;
    bool* wrote;
    ~Cleanup() {
      {
        std::lock_guard<std::mutex> wl(c->write_mu_);
        c->tracking_ = false;
        c->dirty_.clear();
      }
      if (!*flipped && *wrote) c->RemoveGeneration(ng).IgnoreError();
    }
  } cleanup{this, ng, &flipped, &wrote};

  // Pass 1: the vectors at the snapshot; keep all up to kTrainSample (then
  // a uniform reservoir sample for k-means).
  rocksdb::ReadOptions ro;
  ro.snapshot = snap;
  ro.fill_cache = false;
  ro.readahead_size = size_t{4} << 20;
  const std::string lo = Prefix(cid), hi = Prefix(cid + 1);
  rocksdb::Slice upper(hi);
  ro.iterate_upper_bound = &upper;
  std::vector<uint64_t> ids;
  std::vector<float> x;
  uint64_t n = 0;
  Rng rng(config_.seed ^ (uint64_t{ng} * 0x9E3779B97F4A7C15ull));
  {
    std::unique_ptr<rocksdb::Iterator> it(
        db->NewIterator(ro, core_->vectors()));
    std::vector<float> v(d);
    for (it->Seek(lo); it->Valid(); it->Next()) {
      uint64_t id;
      TQ_RETURN_IF_ERROR(
          DecodeVectorEntry(it->key(), it->value(), &id, v.data()));
      ++n;
      size_t slot;
      if (ids.size() < kTrainSample) {
        slot = ids.size();
        ids.push_back(id);
        x.resize(x.size() + d);
      } else {
        const uint64_t r = rng.Uniform(n);
        if (r >= kTrainSample) continue;
        slot = r;
        ids[slot] = id;
      }
      std::copy(v.begin(), v.end(), x.begin() + slot * d);
      if ((n & 4095) == 0 && stop_) return stopped();
    }
    if (!it->status().ok()) {
      return FromRocks(it->status(), core_->dir + ": training scan");
    }
  }
  if (n == 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "collection '", config_.name, "' is empty: nothing to train on"));
  }
  IvfOptions io;
  io.dim = d;
  io.metric = config_.metric;
  io.nlist = config_.nlist;
  if (io.nlist == 0) {
    uint32_t nl =
        static_cast<uint32_t>(std::lround(4.0 * std::sqrt(double(n))));
    io.nlist = std::max<uint32_t>(1, std::min<uint64_t>(nl, n / 39));
  }
  io.nlist = static_cast<uint32_t>(std::min<uint64_t>(io.nlist, ids.size()));
  io.codec.method = config_.method;
  io.codec.bits = config_.bits;
  io.codec.seed = config_.seed;
  io.seed = config_.seed + ng;
  io.threads = core_->options.threads;
  TQ_ASSIGN_OR_RETURN(std::unique_ptr<IvfIndex> trained,
                      IvfIndex::Train(io, x.data(), ids.size()));
  std::shared_ptr<IvfIndex> index(std::move(trained));
  if (stop_) return stopped();
  const size_t bpv = index->bytes_per_vector();

  // Writes one chunk of the new generation (and inserts it into `index`).
  // prev[i]: the point's list in the new generation so far, or kNoList.
  auto write_chunk = [&](const uint64_t* cids, const float* cx, size_t m,
                         const uint32_t* prev) -> absl::Status {
    std::vector<uint32_t> lists(m);
    std::vector<uint8_t> codes(m * bpv);
    TQ_RETURN_IF_ERROR(index->Encode(cx, m, lists.data(), codes.data()));
    rocksdb::WriteBatch batch;
    for (size_t i = 0; i < m; ++i) {
      if (prev && prev[i] != kNoList && prev[i] != lists[i]) {
        batch.Delete(core_->codes(), CodeKey(cid, ng, prev[i], cids[i]));
      }
      batch.Put(core_->idmap(), IdmapKey(cid, ng, cids[i]),
                ListValue(lists[i]));
      batch.Put(
          core_->codes(), CodeKey(cid, ng, lists[i], cids[i]),
          rocksdb::Slice(reinterpret_cast<const char*>(&codes[i * bpv]), bpv));
    }
    wrote = true;
    TQ_RETURN_IF_ERROR(FromRocks(db->Write(rocksdb::WriteOptions(), &batch),
                                 core_->dir + ": training write"));
    return index->AddEncoded(cids, lists.data(), codes.data(), m);
  };

  // Whatever an earlier, abandoned training left in generations >= ng goes
  // first (open removes such leftovers too; this covers a failed cleanup).
  {
    rocksdb::WriteBatch clear;
    clear.DeleteRange(core_->idmap(), GenPrefix(cid, ng), hi);
    clear.DeleteRange(core_->codes(), GenPrefix(cid, ng), hi);
    TQ_RETURN_IF_ERROR(FromRocks(db->Write(rocksdb::WriteOptions(), &clear),
                                 core_->dir + ": training write"));
  }
  // Pass 2: encode every point of the snapshot.
  if (n <= kTrainSample) {
    for (size_t lo_i = 0; lo_i < ids.size(); lo_i += kEncodeChunk) {
      const size_t m = std::min(kEncodeChunk, ids.size() - lo_i);
      TQ_RETURN_IF_ERROR(write_chunk(&ids[lo_i], &x[lo_i * d], m, nullptr));
      if (stop_) return stopped();
    }
  } else {
    ids.clear();
    x.clear();
    std::unique_ptr<rocksdb::Iterator> it(
        db->NewIterator(ro, core_->vectors()));
    for (it->Seek(lo); it->Valid(); it->Next()) {
      uint64_t id;
      x.resize((ids.size() + 1) * d);
      TQ_RETURN_IF_ERROR(
          DecodeVectorEntry(it->key(), it->value(), &id, &x[ids.size() * d]));
      ids.push_back(id);
      if (ids.size() == kEncodeChunk) {
        TQ_RETURN_IF_ERROR(
            write_chunk(ids.data(), x.data(), ids.size(), nullptr));
        ids.clear();
        x.clear();
        if (stop_) return stopped();
      }
    }
    if (!it->status().ok()) {
      return FromRocks(it->status(), core_->dir + ": training scan");
    }
    TQ_RETURN_IF_ERROR(write_chunk(ids.data(), x.data(), ids.size(), nullptr));
  }
  ids.clear();
  ids.shrink_to_fit();
  x.clear();
  x.shrink_to_fit();

  // Catch up with the writes since the snapshot: a few rounds without the
  // write lock, the last (small) one under it, then the switch.
  auto catch_up = [&](std::vector<uint64_t> dirty) -> absl::Status {
    for (size_t at = 0; at < dirty.size(); at += kEncodeChunk) {
      // A bulk load can leave millions of points to catch up with: stop
      // promptly when the database closes.
      if (stop_) return stopped();
      const size_t m = std::min(kEncodeChunk, dirty.size() - at);
      std::vector<std::string> pkeys(m), ikeys(m);
      for (size_t i = 0; i < m; ++i) {
        pkeys[i] = PointKey(cid, dirty[at + i]);
        ikeys[i] = IdmapKey(cid, ng, dirty[at + i]);
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
        const uint32_t prev =
            has_list[i] && lists[i].size() == 4
                ? DecodeFixed32(
                      reinterpret_cast<const uint8_t*>(lists[i].data()))
                : kNoList;
        if (has_vec[i]) {
          up_ids.push_back(id);
          up_prev.push_back(prev);
          up_x.resize(up_ids.size() * d);
          if (!dbformat::DecodeVector(SV(vecs[i]), d,
                                      &up_x[(up_ids.size() - 1) * d])) {
            return absl::DataLossError(
                absl::StrCat(core_->dir, ": column family 'vectors': point ",
                             id, " has ", vecs[i].size(), " bytes"));
          }
        } else if (has_list[i]) {
          del.Delete(core_->idmap(), ikeys[i]);
          if (prev != kNoList)
            del.Delete(core_->codes(), CodeKey(cid, ng, prev, id));
          del_ids.push_back(id);
        }
      }
      if (!up_ids.empty()) {
        TQ_RETURN_IF_ERROR(write_chunk(up_ids.data(), up_x.data(),
                                       up_ids.size(), up_prev.data()));
      }
      if (!del_ids.empty()) {
        TQ_RETURN_IF_ERROR(FromRocks(db->Write(rocksdb::WriteOptions(), &del),
                                     core_->dir + ": training write"));
        index->Remove(del_ids.data(), del_ids.size());
      }
    }
    return absl::OkStatus();
  };
  for (int round = 0;; ++round) {
    if (stop_) return stopped();
    std::unique_lock<std::mutex> wl(write_mu_);
    if (dropped_) return CheckUsable();
    const bool final =
        dirty_.size() <= kFinalCatchUp || round + 1 >= kMaxCatchUpRounds;
    std::vector<uint64_t> dirty(dirty_.begin(), dirty_.end());
    dirty_.clear();
    if (!final) {
      wl.unlock();
      TQ_RETURN_IF_ERROR(catch_up(std::move(dirty)));
      continue;
    }
    TQ_RETURN_IF_ERROR(catch_up(std::move(dirty)));
    // The switch: record, trained parameters and removal of the old
    // generation in one synced batch; then the in-memory state, together.
    dbformat::CollectionRecord rec = record_;
    rec.generation = ng;
    rec.trained_nlist = index->nlist();
    rec.trained_count = n;  // points the centroids were trained from
    rocksdb::WriteBatch batch;
    batch.Put(core_->meta(), dbformat::CollectionKey(config_.name),
              dbformat::EncodeRecord(rec));
    std::string params;
    PutFixed32(&params, ng);
    params += index->SerializeTrained();
    batch.Put(core_->meta(), dbformat::TrainedKey(cid), params);
    batch.DeleteRange(core_->idmap(), GenPrefix(cid, g), GenPrefix(cid, ng));
    batch.DeleteRange(core_->codes(), GenPrefix(cid, g), GenPrefix(cid, ng));
    if (!config_.store_vectors) {
      batch.DeleteRange(core_->vectors(), lo, hi);
    }
    rocksdb::WriteOptions wo;
    wo.sync = true;
    {
      std::unique_lock<std::shared_mutex> sl(state_mu_);
      TQ_RETURN_IF_ERROR(FromRocks(db->Write(wo, &batch),
                                   core_->dir + ": finishing training"));
      flipped = true;
      state_.generation = ng;
      state_.index = index;
      state_.flat = nullptr;
      state_.trained_count = rec.trained_count;
    }
    record_.generation = rec.generation;
    record_.trained_nlist = rec.trained_nlist;
    record_.trained_count = rec.trained_count;
    *trained_now = true;
    return absl::OkStatus();
  }
}

void CollectionImpl::MarkDropped(rocksdb::WriteBatch* batch) {
  std::lock_guard<std::mutex> tl(train_mu_);
  std::lock_guard<std::mutex> wl(write_mu_);
  dropped_ = true;
  const std::string lo = Prefix(record_.cid), hi = Prefix(record_.cid + 1);
  for (int f = 1; f < dbformat::kNumCfs; ++f) {
    batch->DeleteRange(core_->cf[f], lo, hi);
  }
  batch->Delete(core_->meta(), dbformat::CollectionKey(config_.name));
  batch->Delete(core_->meta(), dbformat::TrainedKey(record_.cid));
}

}  // namespace dbimpl
}  // namespace tqdb
