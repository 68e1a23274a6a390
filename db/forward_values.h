// The values of one payload index's field per point (internal id): what
// updates remove, per-point checks read and a numeric index's edge buckets
// are filtered by. Most points hold one value: kept inline in a dense
// array; the few with several in a map.
//
// Thread-compatible: the owner (PayloadIndex) locks around it.
#ifndef TQDB_DB_FORWARD_VALUES_H_
#define TQDB_DB_FORWARD_VALUES_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace tqdb {
namespace dbimpl {

template <typename T>
class ForwardValues {
 public:
  void Clear(uint32_t iid);
  void Add(uint32_t iid, T v);  // a value the point does not hold yet
  size_t Count(uint32_t iid) const {
    if (iid >= count_.size()) return 0;
    return count_[iid] < 2 ? count_[iid] : more_.at(iid).size();
  }
  template <typename F>
  void ForEach(uint32_t iid, F&& f) const {
    if (iid >= count_.size() || count_[iid] == 0) return;
    if (count_[iid] == 1) {
      f(first_[iid]);
      return;
    }
    for (const T& v : more_.at(iid)) f(v);
  }
  // Whether a value of the point satisfies pred (stops at the first).
  template <typename P>
  bool Any(uint32_t iid, P&& pred) const {
    if (iid >= count_.size() || count_[iid] == 0) return false;
    if (count_[iid] == 1) return pred(first_[iid]);
    for (const T& v : more_.at(iid)) {
      if (pred(v)) return true;
    }
    return false;
  }
  size_t MemoryBytes() const;

 private:
  std::vector<T> first_;
  std::vector<uint8_t> count_;  // 0, 1, or 2 for "in more_"
  absl::flat_hash_map<uint32_t, std::vector<T>> more_;
};

}  // namespace dbimpl
}  // namespace tqdb

#endif  // TQDB_DB_FORWARD_VALUES_H_
