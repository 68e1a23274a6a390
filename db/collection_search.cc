// CollectionImpl::Search and SearchBatch: a query is validated once on the
// way in (db/query.h), then answered exactly (untrained, or exact) or by
// the index (IvfIndex::SearchValidated, which checks nothing again). A
// filter is evaluated once per call into the matching points, and the
// planner (db/planner.h) picks, per query, how the index visits them.
#include <optional>
#include <unordered_map>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "db/db_impl.h"
#include "db/exact_scorer.h"
#include "db/planner.h"
#include "db/query.h"
#include "db/recommend.h"
#include "db/rocks_util.h"
#include "db/search_examples.h"
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
  // One MultiGet (a rescore's candidates: half the cost of as many Gets).
  void GetVectors(const uint64_t* ids, size_t n, size_t dim, float* out,
                  bool* found) const override {
    std::vector<std::string> keys(n);
    for (size_t i = 0; i < n; ++i) keys[i] = PointKey(cid_, ids[i]);
    std::vector<rocksdb::PinnableSlice> values;
    std::vector<bool> have;
    const absl::Status st =
        MultiGet(core_->db, rocksdb::ReadOptions(), core_->vectors(), keys,
                 &values, &have, core_->dir + ": reading vectors");
    if (!st.ok()) {
      Fail(st);
      std::fill(found, found + n, false);
      return;
    }
    for (size_t i = 0; i < n; ++i) {
      found[i] = have[i] && dbformat::DecodeVector(ToStringView(values[i]),
                                                   dim_, out + i * dim);
      if (have[i] && !found[i]) {
        Fail(absl::DataLossError(absl::StrCat(
            core_->dir, ": column family 'vectors': point ", ids[i], " has ",
            values[i].size(), " bytes, expected ", size_t{dim_} * 4)));
      }
    }
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
    const float* query, const QueryOptions& o,
    const std::vector<uint64_t>* only) const {
  ExactScorer scorer(query, config_.dim, config_.metric);
  TopK heap(o.k);
  std::vector<float> v(config_.dim);
  auto cancelled = [&] {
    return absl::CancelledError("search cancelled (deadline or client gone)");
  };
  uint64_t scored = 0;
  if (only != nullptr) {
    // The matching points only: their vectors by key, a chunk at a time.
    constexpr size_t kChunk = 1024;
    std::vector<std::string> keys;
    std::vector<rocksdb::PinnableSlice> vals;
    std::vector<bool> found;
    for (size_t at = 0; at < only->size(); at += kChunk) {
      if (o.cancelled && at > 0 && o.cancelled()) return cancelled();
      const size_t m = std::min(kChunk, only->size() - at);
      keys.resize(m);
      for (size_t i = 0; i < m; ++i) keys[i] = PointKey(cid_, (*only)[at + i]);
      TQ_RETURN_IF_ERROR(MultiGet(core_->db, rocksdb::ReadOptions(),
                                  core_->vectors(), keys, &vals, &found,
                                  core_->dir + ": vectors"));
      for (size_t i = 0; i < m; ++i) {
        if (!found[i]) continue;  // deleted meanwhile
        const uint64_t id = (*only)[at + i];
        if (o.id_filter && !o.id_filter(id)) continue;
        if (!dbformat::DecodeVector(ToStringView(vals[i]), config_.dim,
                                    v.data())) {
          return absl::DataLossError(
              absl::StrCat(core_->dir, ": column family 'vectors': point ", id,
                           " has ", vals[i].size(), " bytes"));
        }
        heap.Push(scorer.Goodness(v.data()), id);
        ++scored;
      }
    }
    if (o.stats != nullptr) *o.stats = ExactSearchStats(scored);
    return scorer.Finish(&heap);
  }
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  ro.readahead_size = size_t{2} << 20;
  RangeIterator it(core_->db, core_->vectors(), ro, Prefix(cid_),
                   Prefix(cid_ + 1));
  size_t seen = 0;
  for (; it->Valid(); it->Next()) {
    uint64_t id;
    TQ_RETURN_IF_ERROR(
        DecodeVectorEntry(it->key(), it->value(), &id, v.data()));
    if (o.cancelled && (++seen & 4095) == 0 && o.cancelled()) {
      return cancelled();
    }
    if (o.id_filter && !o.id_filter(id)) continue;
    heap.Push(scorer.Goodness(v.data()), id);
    ++scored;
  }
  if (!it->status().ok()) {
    return FromRocks(it->status(), core_->dir + ": exact search");
  }
  if (o.stats != nullptr) *o.stats = ExactSearchStats(scored);
  return scorer.Finish(&heap);
}

// A search's filter, evaluated once (a batch shares it): the matching
// points as the index's allowed set (trained), or as point ids (untrained,
// exact). The pin keeps their internal ids from reuse until the searches
// end.
struct CollectionImpl::Prepared {
  Matches m;
  uint64_t matches = 0;
  AllowedSet allowed;
  std::vector<uint64_t> ids;             // ascending; untrained or exact
  absl::flat_hash_set<uint64_t> id_set;  // untrained, in memory
  // Where the matches sit in the index (the planner's), kept for the
  // batch's other queries: a complete count holds for any of them, one
  // that stopped for those whose go_on stops at its counts too (the
  // planner's rule, once it stops, stops at every larger count).
  mutable absl::Mutex spread_mu;
  mutable std::optional<IvfIndex::AllowedSpread> spread
      ABSL_GUARDED_BY(spread_mu);
};

absl::StatusOr<std::unique_ptr<CollectionImpl::Prepared>>
CollectionImpl::Prepare(const QueryOptions& o, const State& st) const {
  if (o.filter == nullptr) return nullptr;
  auto p = std::make_unique<Prepared>();
  TQ_ASSIGN_OR_RETURN(p->m, Match(o.filter));
  const Roaring& ids = p->m.result.ids();
  p->matches = ids.cardinality();
  if (st.index && !o.exact) {
    p->allowed = payload_index_.ToAllowed(ids);
  } else {
    p->ids = payload_index_.ExternalIds(ids);
    std::sort(p->ids.begin(), p->ids.end());
    if (!st.index && st.flat->has_vectors()) {
      p->id_set.insert(p->ids.begin(), p->ids.end());
    }
  }
  return p;
}

absl::StatusOr<std::vector<Neighbor>> CollectionImpl::SearchFiltered(
    const State& st, const float* query, const QueryOptions& o,
    const Prepared& f, SearchInfo* info) const {
  SearchInfo local_info;
  SearchInfo& in = info != nullptr ? *info : local_info;
  in.filtered = true;
  in.matches = f.matches;
  in.filter_ms = f.m.ms;
  in.unindexed_fields = f.m.result.unindexed_fields();
  if (o.stats != nullptr) *o.stats = SearchStats();
  if (f.matches == 0) {
    in.plan = "filtered-none";
    in.nprobe_used = 0;
    return std::vector<Neighbor>();
  }
  if (!st.index || o.exact) {
    if (st.index) {
      TQ_RETURN_IF_ERROR(CheckTrainedQuery(o, config_));
    }
    in.scored = f.matches;
    if (o.stats != nullptr) o.stats->exact_scored = f.matches;
    if (!st.index && st.flat->has_vectors()) {
      in.plan = "filtered-flat";
      const std::function<bool(uint64_t)> only = [&](uint64_t id) {
        return f.id_set.contains(id) && (!o.id_filter || o.id_filter(id));
      };
      return st.flat->Search(query, o.k, &only);
    }
    in.plan = "filtered-exact";
    return ExactFromStorage(query, o, &f.ids);
  }
  const IvfIndex& index = *st.index;
  TQ_RETURN_IF_ERROR(CheckTrainedQuery(o, config_));
  PlanInput pi;
  pi.matches = f.matches;
  pi.points = index.size();
  pi.nlist = index.nlist();
  pi.nprobe = o.nprobe;
  pi.k_scan = KScan(o);
  pi.dim = config_.dim;
  pi.code_bytes = index.bytes_per_vector();
  pi.l2 = config_.metric == Metric::kL2;
  pi.choice = o.filter_plan;
  const FilterPlan plan = ChooseFilterPlan(
      pi,
      [&](const std::function<bool(const IvfIndex::AllowedSpread&)>& go_on) {
        absl::MutexLock lock(&f.spread_mu);
        if (!f.spread || (!f.spread->complete && go_on(*f.spread))) {
          f.spread = index.Spread(f.allowed, go_on);
        }
        return *f.spread;
      });
  QueryOptions local = o;
  SearchParams& sp = local;
  SearchStats stats;
  sp.allowed = &f.allowed;
  sp.filtered_scan = plan.scan;
  sp.min_allowed = plan.min_allowed;
  sp.stats = &stats;
  RocksVectorStore store(core_.get(), cid_, config_.dim);
  auto r = index.SearchValidated(query, local, o.rescore ? &store : nullptr);
  if (r.ok() && o.rescore) {
    TQ_RETURN_IF_ERROR(store.status());
  }
  in.plan = plan.name;
  in.lists_probed = stats.lists_probed;
  in.nprobe_used = stats.lists_probed;
  in.scored = stats.allowed_seen;
  if (o.stats != nullptr) *o.stats = stats;
  return r;
}

namespace {

// What a search with options `o` over `index` (null: untrained) does.
void Describe(const IvfIndex* index, const QueryOptions& o, SearchInfo* info) {
  info->exact = index == nullptr || o.exact;
  info->nprobe_used = 0;
  if (!info->exact) {
    const uint32_t nlist = index->nlist();
    info->nprobe_used = o.nprobe == 0 || o.nprobe > nlist ? nlist : o.nprobe;
  }
}

}  // namespace

absl::StatusOr<std::vector<Neighbor>> CollectionImpl::SearchOne(
    const State& st, const float* query, const QueryOptions& o,
    const Prepared* filter, SearchInfo* info) const {
  TQ_RETURN_IF_ERROR(CheckQuery(query, config_.dim, o));
  TQ_RETURN_IF_ERROR(CheckQueryDirection(query, config_));
  if (info != nullptr) Describe(st.index.get(), o, info);
  if (filter != nullptr) return SearchFiltered(st, query, o, *filter, info);
  if (!st.index) {
    // Untrained: exact, from memory while the vectors fit the budget, else
    // from storage (where they always are until the first training).
    if (st.flat->has_vectors()) {
      if (info != nullptr) info->plan = "flat";
      if (o.stats != nullptr) *o.stats = ExactSearchStats(st.flat->size());
      return st.flat->Search(query, o.k, o.id_filter ? &o.id_filter : nullptr);
    }
    if (info != nullptr) info->plan = "exact";
    return ExactFromStorage(query, o);
  }
  TQ_RETURN_IF_ERROR(CheckTrainedQuery(o, config_));
  if (o.exact) {
    if (info != nullptr) info->plan = "exact";
    return ExactFromStorage(query, o);
  }
  // Validated above: the index takes the options as they are (it clamps
  // nprobe to its nlist) and does not scan the query again.
  RocksVectorStore store(core_.get(), cid_, config_.dim);
  absl::StatusOr<std::vector<Neighbor>> r;
  if (info != nullptr && o.stats == nullptr) {
    QueryOptions local = o;
    SearchStats stats;
    local.stats = &stats;
    r = st.index->SearchValidated(query, local, o.rescore ? &store : nullptr);
    info->lists_probed = stats.lists_probed;
  } else {
    r = st.index->SearchValidated(query, o, o.rescore ? &store : nullptr);
    if (info != nullptr) info->lists_probed = o.stats->lists_probed;
  }
  if (info != nullptr) info->plan = "ivf";
  if (r.ok() && o.rescore) {
    TQ_RETURN_IF_ERROR(store.status());
  }
  return r;
}

absl::StatusOr<std::vector<Neighbor>> CollectionImpl::Search(
    absl::Span<const float> query, const QueryOptions& o) const {
  TQ_LIFE_GUARD();
  if (o.examples.empty()) {
    if (o.examples.strategy != RecommendStrategy::kAverageVector) {
      return absl::InvalidArgumentError(
          "a recommend strategy applies to a search by example (positive / "
          "negative ids)");
    }
    return UnlessDropped(SearchQuery(query, o));
  }
  TQ_RETURN_IF_ERROR(CheckExamples(o.examples, query.size(), config_));
  const std::vector<uint64_t> ids = ExampleIds(o.examples);
  std::vector<Record> records;
  if (!ids.empty()) {
    TQ_ASSIGN_OR_RETURN(records,
                        UnlessDropped(GetRecords(ids, /*with_vectors=*/true,
                                                 /*with_payload=*/false)));
  }
  QueryOptions by_example = o;
  by_example.examples = SearchExamples();
  by_example.filter = ExcludingExamples(o.filter, o.examples);
  switch (o.examples.strategy) {
    case RecommendStrategy::kAverageVector: {
      TQ_ASSIGN_OR_RETURN(std::vector<float> q,
                          ExampleQuery(config_, o.examples, records));
      return UnlessDropped(SearchQuery(q, by_example));
    }
    case RecommendStrategy::kSumScores: {
      TQ_ASSIGN_OR_RETURN(const ExampleVectors ev,
                          ExampleVectorsOf(config_, o.examples, records));
      TQ_ASSIGN_OR_RETURN(const EquivalentSearch es,
                          SumScoresSearch(config_, ev));
      TQ_ASSIGN_OR_RETURN(std::vector<Neighbor> hits,
                          UnlessDropped(SearchQuery(es.query, by_example)));
      for (Neighbor& h : hits) h.score = es.Score(h.score);
      return hits;
    }
    case RecommendStrategy::kBestScore:
      break;
  }
  TQ_ASSIGN_OR_RETURN(const ExampleVectors ev,
                      ExampleVectorsOf(config_, o.examples, records));
  // Each candidate search's hits with their stored vectors.
  const ExampleSearch search =
      [&](absl::Span<const float> q,
          size_t depth) -> absl::StatusOr<std::vector<ExampleHit>> {
    QueryOptions deeper = by_example;
    deeper.k = depth;
    TQ_ASSIGN_OR_RETURN(std::vector<Neighbor> found,
                        UnlessDropped(SearchQuery(q, deeper)));
    std::vector<uint64_t> ids(found.size());
    for (size_t i = 0; i < found.size(); ++i) ids[i] = found[i].id;
    TQ_ASSIGN_OR_RETURN(std::vector<Record> got,
                        UnlessDropped(GetRecords(ids, /*with_vectors=*/true,
                                                 /*with_payload=*/false)));
    std::unordered_map<uint64_t, std::vector<float>*> vectors;
    for (Record& r : got) vectors[r.id] = &r.vector;
    std::vector<ExampleHit> hits;
    hits.reserve(found.size());
    for (const Neighbor& n : found) {
      // (A point deleted since the search comes without a vector.)
      auto it = vectors.find(n.id);
      hits.push_back({n.id, n.score,
                      it != vectors.end() ? std::move(*it->second)
                                          : std::vector<float>()});
    }
    return hits;
  };
  return BestScoreSearch(config_, ev, o.k, search);
}

absl::StatusOr<std::vector<Neighbor>> CollectionImpl::SearchQuery(
    absl::Span<const float> query, const QueryOptions& o) const {
  TQ_RETURN_IF_ERROR(CheckQueryDim(query.size(), config_));
  const State st = state();
  TQ_ASSIGN_OR_RETURN(std::unique_ptr<Prepared> filter, Prepare(o, st));
  return SearchOne(st, query.data(), o, filter.get(), o.info);
}

absl::StatusOr<std::vector<std::vector<Neighbor>>> CollectionImpl::SearchBatch(
    absl::Span<const float> queries, const QueryOptions& o) const {
  TQ_LIFE_GUARD();
  if (!o.examples.empty()) {
    return absl::InvalidArgumentError(
        "a search by example is one search a call (Search, not SearchBatch)");
  }
  const uint32_t d = config_.dim;
  TQ_RETURN_IF_ERROR(CheckBatchDim(queries.size(), d));
  const size_t nq = queries.size() / d;
  const State st = state();
  TQ_ASSIGN_OR_RETURN(std::unique_ptr<Prepared> filter, Prepare(o, st));
  std::vector<std::vector<Neighbor>> out(nq);
  std::vector<absl::Status> errs(nq);
  // Each query its own stats (o.stats is one search's), summed at the end.
  std::vector<SearchStats> stats(o.stats != nullptr ? nq : 0);
  core_->pool->ParallelFor(nq, [&](size_t i) {
    SearchInfo* info = o.info != nullptr ? &o.info[i] : nullptr;
    absl::StatusOr<std::vector<Neighbor>> r;
    if (o.stats != nullptr) {
      QueryOptions oi = o;
      oi.stats = &stats[i];
      r = SearchOne(st, queries.data() + i * d, oi, filter.get(), info);
    } else {
      r = SearchOne(st, queries.data() + i * d, o, filter.get(), info);
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
  return UnlessDropped<std::vector<std::vector<Neighbor>>>(std::move(out));
}

}  // namespace dbimpl
}  // namespace tqdb
