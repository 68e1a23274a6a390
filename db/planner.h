// The plan of a filtered search over a trained collection, chosen per query
// from the exact number of matching points (the filter's bitmap) by
// comparing the estimated work of the two ways the index can visit them
// (index/ivf_filtered.cc), in units of one 32-slot block run through the
// scan kernel:
//
//  - IVF ("filtered-ivf", FilteredScan::kProbe): lists in centroid order
//    until nprobe / sqrt(s) lists holding matching points were scanned, s =
//    matches / n (one where they are rarer than in the collection counts
//    for its share) and they held sqrt(s) times the points of the query's
//    nprobe nearest lists, and at least k * the oversampling of a rescore:
//    the matches searched as a collection of their own, sized by the
//    index's own rule (lists grow as sqrt(n): s n points would have
//    sqrt(s) nlist lists of sqrt(s) n / nlist points, so the same nprobe
//    examines sqrt(s) times the points, in lists that hold the matches of
//    1 / sqrt(s) of ours). Its neighbours lie further out (a 1%
//    filter's top 10 among the collection's top 1,000), which the deeper
//    probe pays for: measured, the recall of uniform and correlated
//    filters stays at the unfiltered search's or above (README,
//    "Filtered search"). That visits a share max(nprobe / (sqrt(s) nlist
//    * the share of lists holding a match), target / matches) of the
//    collection, target = nprobe * n / nlist * sqrt(s): its centroid
//    distances, every visited slot's membership test, the blocks that
//    hold a match, and each list's setup. The share of lists holding a
//    match is that of uniformly spread matches, or, where the matches
//    were counted (below), the share counted: clustered matches (a
//    correlated filter) sit in fewer lists, and the scan visits more.
//  - Matches ("filtered-matches", FilteredScan::kAllowedOnly): every
//    matching point scored, no coarse step: the blocks holding one and
//    each of their lists' setup, counted (IvfIndex::Spread) between a
//    floor and a ceiling, until the IVF plan is the cheaper for certain.
//    Chosen outright when matches <= target (the IVF plan could stop no
//    sooner).
//
// The unit costs (PlanCosts) come from measurement (README, "Filtered
// search"); both plans return k results whenever k points match.
//
// Thread-safety: pure functions.
#ifndef TQDB_DB_PLANNER_H_
#define TQDB_DB_PLANNER_H_

#include <cstddef>
#include <cstdint>
#include <functional>

#include "db/db.h"
#include "index/ivf_index.h"
#include "index/types.h"

namespace tqdb {
namespace dbimpl {

// Work of the parts of a filtered search, relative to one block of 32 codes
// of b bytes each through the scan kernel (about 32 b shuffled bytes).
struct PlanCosts {
  // One centroid distance: d floats (4 d bytes, a fused multiply-add each).
  static double Centroid(uint32_t dim, size_t code_bytes);
  // Setting up a list: <q, c> (inner product), or the list's lookup tables
  // (L2: a table of 16 entries a sub-code, quantized).
  static double List(uint32_t dim, size_t code_bytes, bool l2);
  // Testing one slot against the allowed set.
  static double Slot(size_t code_bytes);
};

struct PlanInput {
  uint64_t matches = 0;  // points matching the filter
  uint64_t points = 0;   // points in the index
  uint32_t nlist = 0;
  uint32_t nprobe = 0;  // effective (0 or > nlist: nlist)
  uint64_t k_scan = 0;  // k, or k * oversampling when rescoring
  uint32_t dim = 0;
  size_t code_bytes = 0;
  bool l2 = false;
  FilterPlanChoice choice = FilterPlanChoice::kAuto;  // QueryOptions'
};

struct FilterPlan {
  FilteredScan scan = FilteredScan::kProbe;
  uint64_t min_allowed = 0;  // kProbe: the floor, k * oversampling
  const char* name = "filtered-ivf";
  // Estimates, in blocks; matches_cost as far as the matches were counted
  // (the count stops once the IVF plan is the cheaper).
  double ivf_cost = 0, matches_cost = 0;
};

// spread(go_on): where the matches sit, IvfIndex::Spread's counts, which
// stop when go_on returns false (called only when the matches plan may be
// the cheaper one; it costs O(matches) at most).
using SpreadFn = std::function<IvfIndex::AllowedSpread(
    const std::function<bool(const IvfIndex::AllowedSpread&)>& go_on)>;
FilterPlan ChooseFilterPlan(const PlanInput& in, const SpreadFn& spread);

}  // namespace dbimpl
}  // namespace tqdb

#endif  // TQDB_DB_PLANNER_H_
