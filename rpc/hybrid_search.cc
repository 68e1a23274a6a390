#include "rpc/hybrid_search.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "db/bm25.h"
#include "db/fusion.h"
#include "db/sparse_index.h"
#include "quant/status_macros.h"
#include "rpc/convert.h"

namespace tqdb {

size_t PrefetchOf(const v1::SearchRequest& q) {
  return std::max<size_t>(q.prefetch_limit(), size_t{q.offset()} + q.limit());
}

std::vector<Neighbor> FuseHybrid(const v1::SearchRequest& q, Metric metric,
                                 const std::vector<Neighbor>& dense,
                                 const std::vector<Neighbor>& sparse) {
  const Fusion fusion =
      q.fusion() == v1::FUSION_DBSF ? Fusion::kDbsf : Fusion::kRrf;
  return FuseRanked({{&dense, metric == Metric::kL2}, {&sparse, false}}, fusion,
                    size_t{q.offset()} + q.limit(),
                    q.has_rrf_k() ? q.rrf_k() : kDefaultRrfK);
}

absl::StatusOr<SparseVector> SparseQueryOf(const CollectionConfig& config,
                                           const v1::SearchRequest& q,
                                           bool* idf) {
  *idf = q.sparse_idf();
  if (q.text().empty()) return FromProto(q.sparse_vector());
  if (!config.bm25.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "collection '", config.name,
        "' has no bm25 settings: a text is searched only in a collection "
        "created with bm25"));
  }
  *idf = true;
  return Bm25Query(*config.bm25, q.text());
}

absl::StatusOr<std::vector<Neighbor>> SearchLocal(const Collection& c,
                                                  const v1::SearchRequest& q,
                                                  QueryOptions o) {
  if (!HasSparse(q)) {
    return c.Search(absl::MakeConstSpan(q.vector().data(), q.vector_size()), o);
  }
  bool idf = false;
  TQ_ASSIGN_OR_RETURN(SparseVector sparse, SparseQueryOf(c.config(), q, &idf));
  if (idf) {
    TQ_RETURN_IF_ERROR(CheckSparseVector("sparse query", &sparse));
    TQ_ASSIGN_OR_RETURN(const SparseTermStats stats,
                        c.SparseStats(sparse.indices));
    ApplyIdf(stats, &sparse);
  }
  if (!IsHybrid(q)) return c.SearchSparse(sparse, o);
  o.k = static_cast<uint32_t>(PrefetchOf(q));
  TQ_ASSIGN_OR_RETURN(
      std::vector<Neighbor> dense,
      c.Search(absl::MakeConstSpan(q.vector().data(), q.vector_size()), o));
  SearchInfo* info = o.info;
  SearchInfo sparse_info;
  o.info = &sparse_info;
  o.stats = nullptr;
  TQ_ASSIGN_OR_RETURN(std::vector<Neighbor> by_sparse,
                      c.SearchSparse(sparse, o));
  if (info != nullptr) {
    info->plan = absl::StrCat(info->plan, "+sparse");
    info->scored += sparse_info.scored;
  }
  return FuseHybrid(q, c.config().metric, dense, by_sparse);
}

}  // namespace tqdb
