#include "db/fusion.h"

#include <algorithm>
#include <cmath>

#include "absl/container/flat_hash_map.h"

namespace tqdb {

std::vector<Neighbor> FuseRanked(const std::vector<RankedList>& lists,
                                 Fusion fusion, size_t limit, double rrf_k) {
  absl::flat_hash_map<uint64_t, double> fused;
  for (const RankedList& l : lists) {
    const std::vector<Neighbor>& hits = *l.hits;
    if (fusion == Fusion::kRrf) {
      for (size_t i = 0; i < hits.size(); ++i) {
        fused[hits[i].id] += 1.0 / (rrf_k + static_cast<double>(i));
      }
      continue;
    }
    if (hits.empty()) continue;
    const double sign = l.lower_is_better ? -1.0 : 1.0;
    double mean = 0;
    for (const Neighbor& h : hits) mean += sign * h.score;
    mean /= static_cast<double>(hits.size());
    double var = 0;
    for (const Neighbor& h : hits) {
      const double d = sign * h.score - mean;
      var += d * d;
    }
    const double sd = std::sqrt(var / static_cast<double>(hits.size()));
    for (const Neighbor& h : hits) {
      fused[h.id] +=
          sd > 0 ? (sign * h.score - (mean - 3 * sd)) / (6 * sd) : 0.5;
    }
  }
  std::vector<Neighbor> out;
  out.reserve(fused.size());
  std::vector<std::pair<double, uint64_t>> ranked;
  ranked.reserve(fused.size());
  for (const auto& [id, s] : fused) ranked.emplace_back(s, id);
  const size_t m = std::min(limit, ranked.size());
  std::partial_sort(ranked.begin(), ranked.begin() + m, ranked.end(),
                    [](const auto& a, const auto& b) {
                      return a.first != b.first ? a.first > b.first
                                                : a.second < b.second;
                    });
  for (size_t i = 0; i < m; ++i) {
    out.push_back({ranked[i].second, static_cast<float>(ranked[i].first)});
  }
  return out;
}

}  // namespace tqdb
