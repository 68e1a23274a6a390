// Facet counts (Collection::Facet): the order of FacetHits, the cut to the
// most frequent values, and the merge of counts taken over disjoint sets of
// points (a cluster's shards), which is exact when each set's counts are
// complete (limit 0).
//
// Thread-compatible: functions of their arguments.
#ifndef TQDB_DB_FACET_H_
#define TQDB_DB_FACET_H_

#include <cstddef>
#include <vector>

#include "db/db.h"

namespace tqdb {

// Whether a comes before b: more points first, then the smaller value
// (keywords bytewise, integers numerically, false before true).
bool FacetHitBefore(const FacetHit& a, const FacetHit& b);

// Orders the hits and keeps the first `limit` (0: all).
void TopFacetHits(size_t limit, std::vector<FacetHit>* hits);

// The sums of the counts of equal values over `parts`, ordered and cut to
// `limit` (0: all).
std::vector<FacetHit> MergeFacetHits(
    const std::vector<std::vector<FacetHit>>& parts, size_t limit);

}  // namespace tqdb

#endif  // TQDB_DB_FACET_H_
