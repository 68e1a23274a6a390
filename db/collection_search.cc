// CollectionImpl::Search and SearchBatch: a query is validated once on the
// way in (db/query.h), then answered exactly (untrained, or exact) or by
// the index (IvfIndex::SearchValidated, which checks nothing again).
#include <utility>

#include "absl/strings/str_cat.h"
#include "db/db_impl.h"
#include "db/exact_scorer.h"
#include "db/query.h"
#include "db/rocks_util.h"
#include "index/scanner.h"
#include "quant/status_macros.h"

namespace tqdb {
namespace dbimpl {

using dbformat::PointKey;
using dbformat::Prefix;

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
      if (dbformat::DecodeVector(ToStringView(v), dim_, out)) return true;
      Fail(absl::DataLossError(absl::StrCat(
          core_->dir, ": column family 'vectors': point ", id, " has ",
          v.size(), " bytes, expected ", size_t{dim_} * 4)));
      return false;
    }
    if (!s.IsNotFound()) Fail(FromRocks(s, core_->dir + ": reading vectors"));
    return false;
  }
  absl::Status status() const {
    absl::MutexLock l(&mu_);
    return status_;
  }

 private:
  void Fail(absl::Status s) const {
    absl::MutexLock l(&mu_);
    if (status_.ok()) status_ = std::move(s);
  }
  const DbCore* core_;
  const uint32_t cid_, dim_;
  mutable absl::Mutex mu_;  // a leaf
  mutable absl::Status status_ ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<std::vector<Neighbor>> CollectionImpl::ExactFromStorage(
    const float* query, const QueryOptions& o) const {
  ExactScorer scorer(query, config_.dim, config_.metric);
  TopK heap(o.k);
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  ro.readahead_size = size_t{2} << 20;
  RangeIterator it(core_->db, core_->vectors(), ro, Prefix(cid_),
                   Prefix(cid_ + 1));
  std::vector<float> v(config_.dim);
  size_t seen = 0;
  uint64_t scored = 0;
  for (; it->Valid(); it->Next()) {
    uint64_t id;
    TQ_RETURN_IF_ERROR(
        DecodeVectorEntry(it->key(), it->value(), &id, v.data()));
    if (o.cancelled && (++seen & 4095) == 0 && o.cancelled()) {
      return absl::CancelledError("search cancelled (deadline or client gone)");
    }
    if (o.filter && !o.filter(id)) continue;
    heap.Push(scorer.Goodness(v.data()), id);
    ++scored;
  }
  if (!it->status().ok()) {
    return FromRocks(it->status(), core_->dir + ": exact search");
  }
  if (o.stats != nullptr) *o.stats = SearchStats{0, 0, 0, scored};
  return scorer.Finish(&heap);
}

absl::StatusOr<std::vector<Neighbor>> CollectionImpl::SearchOne(
    const State& st, const float* query, const QueryOptions& o) const {
  TQ_RETURN_IF_ERROR(CheckQuery(query, config_.dim, o));
  if (!st.index) {
    // Untrained: exact, from memory while the vectors fit the budget, else
    // from storage (where they always are until the first training).
    if (st.flat->has_vectors()) {
      if (o.stats != nullptr) *o.stats = SearchStats{0, 0, 0, st.flat->size()};
      return st.flat->Search(query, o.k, o.filter ? &o.filter : nullptr);
    }
    return ExactFromStorage(query, o);
  }
  TQ_RETURN_IF_ERROR(CheckTrainedQuery(o, config_, st.index->nlist()));
  if (o.exact) return ExactFromStorage(query, o);
  // Validated above: the index takes the options as they are (it clamps
  // nprobe to its nlist) and does not scan the query again.
  RocksVectorStore store(core_.get(), cid_, config_.dim);
  auto r = st.index->SearchValidated(query, o, o.rescore ? &store : nullptr);
  if (r.ok() && o.rescore) {
    TQ_RETURN_IF_ERROR(store.status());
  }
  return r;
}

absl::StatusOr<std::vector<Neighbor>> CollectionImpl::Search(
    absl::Span<const float> query, const QueryOptions& o) const {
  TQ_LIFE_GUARD();
  TQ_RETURN_IF_ERROR(CheckQueryDim(query.size(), config_));
  return SearchOne(state(), query.data(), o);
}

absl::StatusOr<std::vector<std::vector<Neighbor>>> CollectionImpl::SearchBatch(
    absl::Span<const float> queries, const QueryOptions& o) const {
  TQ_LIFE_GUARD();
  const uint32_t d = config_.dim;
  TQ_RETURN_IF_ERROR(CheckBatchDim(queries.size(), d));
  const size_t nq = queries.size() / d;
  const State st = state();
  std::vector<std::vector<Neighbor>> out(nq);
  std::vector<absl::Status> errs(nq);
  // Each query its own stats (o.stats is one search's), summed at the end.
  std::vector<SearchStats> stats(o.stats != nullptr ? nq : 0);
  core_->pool->ParallelFor(nq, [&](size_t i) {
    absl::StatusOr<std::vector<Neighbor>> r;
    if (o.stats != nullptr) {
      QueryOptions oi = o;
      oi.stats = &stats[i];
      r = SearchOne(st, queries.data() + i * d, oi);
    } else {
      r = SearchOne(st, queries.data() + i * d, o);
    }
    if (r.ok()) {
      out[i] = std::move(*r);
    } else {
      errs[i] = r.status();
    }
  });
  for (size_t i = 0; i < nq; ++i) {
    TQ_RETURN_IF_ERROR(errs[i]) << "query " << i;
  }
  if (o.stats != nullptr) *o.stats = SumStats(stats);
  return out;
}

}  // namespace dbimpl
}  // namespace tqdb
