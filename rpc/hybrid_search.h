// A search request as it runs on one collection: dense (Collection::Search),
// sparse alone (Collection::SearchSparse), or hybrid, both fused
// (db/fusion.h). The single server answers with it, and a cluster's shards
// answer their part with it; a cluster's node fuses the shards' merged
// dense and sparse answers with FuseHybrid, as SearchLocal fuses one
// collection's.
#ifndef TQDB_RPC_HYBRID_SEARCH_H_
#define TQDB_RPC_HYBRID_SEARCH_H_

#include <cstddef>
#include <vector>

#include "absl/status/statusor.h"
#include "db/db.h"
#include "tqdb/v1/points.pb.h"

namespace tqdb {

// How deep each search of a hybrid request goes: its prefetch_limit, at
// least offset + limit.
size_t PrefetchOf(const v1::SearchRequest& q);

// The best offset + limit points of the fusion of a hybrid request's two
// answers (each best first, at most PrefetchOf deep): scores higher-better.
std::vector<Neighbor> FuseHybrid(const v1::SearchRequest& q, Metric metric,
                                 const std::vector<Neighbor>& dense,
                                 const std::vector<Neighbor>& sparse);

// The sparse query of `q` (HasSparse) on a collection configured by
// `config`: its text's BM25 terms (db/bm25.h; FailedPrecondition when the
// collection has no bm25 settings), else its sparse_vector. *idf: whether
// the IDF weighs it (a text, or sparse_idf).
absl::StatusOr<SparseVector> SparseQueryOf(const CollectionConfig& config,
                                           const v1::SearchRequest& q,
                                           bool* idf);

// Runs `q` on `c` (with sparse_idf or a text, the IDF over `c`'s points); `o`
// is FromProto(q) with its filter, cancellation, stats and info set (a hybrid
// search's info: the dense search's, its plan
// "<plan>+sparse", scored the sum of both).
absl::StatusOr<std::vector<Neighbor>> SearchLocal(const Collection& c,
                                                  const v1::SearchRequest& q,
                                                  QueryOptions o);

}  // namespace tqdb

#endif  // TQDB_RPC_HYBRID_SEARCH_H_
