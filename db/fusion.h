// Fusion of ranked result lists into one (hybrid search: a dense and a
// sparse search of the same query, Qdrant's Query API fusion and Milvus's
// hybrid_search rankers). Both methods give a higher fused score to a
// better point; a point missing from a list gets nothing from it.
//  - kRrf (Reciprocal Rank Fusion, Cormack et al. 2009): sum over the lists
//    of 1 / (k + position), position 0 for a list's best (Qdrant's form;
//    k = 2 by default, as Qdrant's; Milvus's RRFRanker uses 60).
//  - kDbsf (Distribution-Based Score Fusion): each list's scores are mapped
//    linearly so that its mean - 3 sd is 0 and mean + 3 sd is 1 (sd the
//    population deviation of the list; a list whose scores are all equal
//    gives each 0.5), then summed.
// Ties of the fused score: ascending id (the same answer wherever the
// lists were merged: one server or a cluster's node).
#ifndef TQDB_DB_FUSION_H_
#define TQDB_DB_FUSION_H_

#include <cstddef>
#include <vector>

#include "index/types.h"

namespace tqdb {

enum class Fusion { kRrf = 0, kDbsf = 1 };

constexpr double kDefaultRrfK = 2.0;

// One list to fuse: best first; lower_is_better for squared L2 distances.
struct RankedList {
  const std::vector<Neighbor>* hits = nullptr;
  bool lower_is_better = false;
};

// The best `limit` points of the fusion of `lists`. rrf_k > 0 (kRrf).
std::vector<Neighbor> FuseRanked(const std::vector<RankedList>& lists,
                                 Fusion fusion, size_t limit,
                                 double rrf_k = kDefaultRrfK);

}  // namespace tqdb

#endif  // TQDB_DB_FUSION_H_
