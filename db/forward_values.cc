#include "db/forward_values.h"

#include <algorithm>

#include "db/geo.h"

namespace tqdb {
namespace dbimpl {

template <typename T>
void ForwardValues<T>::Clear(uint32_t iid) {
  if (iid >= count_.size()) return;
  if (count_[iid] >= 2) more_.erase(iid);
  count_[iid] = 0;
}

template <typename T>
void ForwardValues<T>::Add(uint32_t iid, T v) {
  if (iid >= count_.size()) {
    const size_t n = std::max<size_t>(size_t{iid} + 1, count_.size() * 3 / 2);
    count_.resize(n, 0);
    first_.resize(n);
  }
  if (count_[iid] == 0) {
    first_[iid] = v;
    count_[iid] = 1;
  } else if (count_[iid] == 1) {
    more_[iid] = {first_[iid], v};
    count_[iid] = 2;
  } else {
    more_[iid].push_back(v);
  }
}

template <typename T>
size_t ForwardValues<T>::MemoryBytes() const {
  size_t bytes = first_.capacity() * sizeof(T) + count_.capacity() +
                 more_.capacity() * (sizeof(uint32_t) + sizeof(std::vector<T>));
  for (const auto& [iid, v] : more_) bytes += v.capacity() * sizeof(T);
  return bytes;
}

template class ForwardValues<uint32_t>;
template class ForwardValues<int64_t>;
template class ForwardValues<double>;
template class ForwardValues<GeoPoint>;

}  // namespace dbimpl
}  // namespace tqdb
