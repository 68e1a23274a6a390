// A filter turned into the set of matching points (internal ids), over the
// payload indexes, in two phases:
//  1. (under the payload index's reader lock) every condition on an indexed
//     field, has_id and whole nested filters over indexed fields become
//     bitmaps by set algebra: `must` from the smallest estimate up, a
//     condition whose estimate dwarfs the result so far checked point by
//     point from the index's per-point values instead of being built
//     (kCheckRatio), `must_not` subtracted, `should` united. A filter with
//     no other condition is then complete.
//  2. (without the lock) conditions on fields without a ready index need the
//     payloads: phase 1 leaves the smallest candidate superset it can prove
//     (the bitmaps of the indexed `must` and `must_not` conditions) and the
//     caller reads those points' payloads and Decide()s each one; every
//     indexed condition is then a bitmap lookup, every other one evaluated
//     on the payload (db/payload_match.h).
//
// Thread-compatible: one FilterResult per query.
#ifndef TQDB_DB_FILTER_EVAL_H_
#define TQDB_DB_FILTER_EVAL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "db/field_index.h"
#include "db/filter.h"
#include "db/id_map.h"
#include "roaring/roaring.hh"

namespace tqdb {
namespace dbimpl {

// A condition whose estimated matches exceed kCheckRatio times the points
// matched so far is checked per point rather than materialized. A check
// reads the point's values at scattered ids: a cache miss or two, 30-60 ns
// on a million points (filter_benchmark); a bitmap union costs 1-2 ns per
// point of a sparse bitmap and less for dense ones, and the intersection
// after it little.
constexpr uint64_t kCheckRatio = 48;

// What phase 1 reads, under the payload index's lock.
struct IndexView {
  const IdMap* ids;
  const Roaring* live;
  // The ready index of a field, or nullptr (then conditions on the field
  // are evaluated on the payloads).
  std::function<const FieldIndex*(const std::string&)> field;
};

class FilterResult {
 public:
  FilterResult();
  ~FilterResult();
  FilterResult(FilterResult&&) noexcept;
  FilterResult& operator=(FilterResult&&) noexcept;

  // Phase 1. InvalidArgument for a malformed path (none after CheckFilter).
  static absl::StatusOr<FilterResult> Evaluate(
      std::shared_ptr<const Filter> filter, const IndexView& view);

  // Phase 2, when !complete(): candidates (internal id, point id),
  // ascending internal ids; Decide(i, payload) for each (payload nullptr:
  // none, or not JSON), then Finish().
  bool complete() const { return complete_; }
  const std::vector<std::pair<uint32_t, uint64_t>>& candidates() const {
    return candidates_;
  }
  void Decide(size_t i, const nlohmann::json* payload);
  void Finish();

  // The matching points (once complete).
  const Roaring& ids() const { return ids_; }
  // Keys evaluated on payloads (no ready index), sorted.
  const std::vector<std::string>& unindexed_fields() const {
    return unindexed_;
  }

 private:
  struct Node;
  std::shared_ptr<const Filter> filter_;
  std::unique_ptr<Node> root_;
  bool complete_ = true;
  Roaring ids_;
  std::vector<std::pair<uint32_t, uint64_t>> candidates_;
  std::vector<uint32_t> decided_;  // matching candidates, ascending
  std::vector<std::string> unindexed_;
};

}  // namespace dbimpl
}  // namespace tqdb

#endif  // TQDB_DB_FILTER_EVAL_H_
