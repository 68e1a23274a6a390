// CollectionImpl::SearchSparse: exact dot-product search of the points'
// sparse vectors (db/sparse_index.h), with the filter evaluated as for a
// dense search (db/collection_filter.cc).
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "db/db_impl.h"
#include "quant/status_macros.h"

namespace tqdb {
namespace dbimpl {

absl::StatusOr<std::vector<Neighbor>> CollectionImpl::SearchSparse(
    const SparseVector& query, const QueryOptions& o) const {
  TQ_LIFE_GUARD();
  if (o.k == 0) return absl::InvalidArgumentError("k must be >= 1");
  if (!o.examples.empty()) {
    return absl::InvalidArgumentError(
        "a sparse search takes no examples (search by example is dense)");
  }
  SparseVector q = query;
  TQ_RETURN_IF_ERROR(CheckSparseVector("sparse query", &q));
  if (q.indices.empty()) {
    return absl::InvalidArgumentError(
        "sparse query is empty: give at least one index and its value");
  }
  SearchInfo local_info;
  SearchInfo& info = o.info != nullptr ? *o.info : local_info;
  info = SearchInfo();
  info.exact = true;
  info.plan = "sparse";
  absl::flat_hash_set<uint64_t> matching;
  std::function<bool(uint64_t)> allowed = o.id_filter;
  if (o.filter != nullptr) {
    TQ_ASSIGN_OR_RETURN(Matches m, Match(o.filter));
    std::vector<uint64_t> ids = payload_index_.ExternalIds(m.result.ids());
    matching.insert(ids.begin(), ids.end());
    info.filtered = true;
    info.plan = "filtered-sparse";
    info.matches = ids.size();
    info.filter_ms = m.ms;
    info.unindexed_fields = m.result.unindexed_fields();
    allowed = [&](uint64_t id) {
      return matching.contains(id) && (!o.id_filter || o.id_filter(id));
    };
  }
  std::vector<Neighbor> out;
  uint64_t scored = 0;
  const std::function<bool()>* cancelled = o.cancelled ? &o.cancelled : nullptr;
  if (!info.filtered || info.matches > 0) {
    TQ_RETURN_IF_ERROR(sparse_.Search(q, o.k, allowed ? &allowed : nullptr,
                                      cancelled, &out, &scored));
  }
  info.scored = scored;
  if (o.stats != nullptr) *o.stats = ExactSearchStats(scored);
  return UnlessDropped<std::vector<Neighbor>>(std::move(out));
}

absl::StatusOr<SparseTermStats> CollectionImpl::SparseStats(
    const std::vector<uint32_t>& terms) const {
  TQ_LIFE_GUARD();
  return UnlessDropped<SparseTermStats>(sparse_.Stats(terms));
}

}  // namespace dbimpl
}  // namespace tqdb
