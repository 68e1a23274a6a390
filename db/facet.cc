#include "db/facet.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"

namespace tqdb {

bool FacetHitBefore(const FacetHit& a, const FacetHit& b) {
  if (a.count != b.count) return a.count > b.count;
  return std::tie(a.type, a.integer, a.keyword) <
         std::tie(b.type, b.integer, b.keyword);
}

void TopFacetHits(size_t limit, std::vector<FacetHit>* hits) {
  if (limit == 0 || limit >= hits->size()) {
    std::sort(hits->begin(), hits->end(), FacetHitBefore);
    return;
  }
  std::partial_sort(hits->begin(), hits->begin() + limit, hits->end(),
                    FacetHitBefore);
  hits->resize(limit);
}

std::vector<FacetHit> MergeFacetHits(
    const std::vector<std::vector<FacetHit>>& parts, size_t limit) {
  using Key = std::tuple<FieldType, int64_t, std::string>;
  absl::flat_hash_map<Key, size_t> at;
  std::vector<FacetHit> out;
  for (const std::vector<FacetHit>& part : parts) {
    for (const FacetHit& h : part) {
      auto [it, added] =
          at.try_emplace(Key(h.type, h.integer, h.keyword), out.size());
      if (added) {
        out.push_back(h);
      } else {
        out[it->second].count += h.count;
      }
    }
  }
  TopFacetHits(limit, &out);
  return out;
}

}  // namespace tqdb
