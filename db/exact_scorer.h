// Exact scores of a query against raw vectors, with the index's conventions
// (index/types.h): goodness is larger-better (the inner product, or minus
// the squared distance) and cosine normalizes both sides; Finish turns the
// best goodnesses back into scores. Used by the untrained collection's
// in-memory store and by exact searches over the stored vectors.
#ifndef TQDB_DB_EXACT_SCORER_H_
#define TQDB_DB_EXACT_SCORER_H_

#include <cmath>
#include <cstdint>
#include <vector>

#include "index/scanner.h"
#include "index/types.h"
#include "quant/kernels.h"

namespace tqdb {
namespace dbimpl {

class ExactScorer {
 public:
  ExactScorer(const float* q, uint32_t d, Metric m)
      : q_(q, q + d), d_(d), m_(m) {
    if (m == Metric::kCosine) {
      const float n = std::sqrt(kernels::Dot(q_.data(), q_.data(), d));
      if (n > 0) {
        for (float& v : q_) v /= n;
      }
    }
  }
  float Goodness(const float* v) const {
    switch (m_) {
      case Metric::kL2:
        return -kernels::L2Sqr(q_.data(), v, d_);
      case Metric::kCosine: {
        const float nsq = kernels::Dot(v, v, d_);
        return nsq > 0 ? kernels::Dot(q_.data(), v, d_) / std::sqrt(nsq) : 0.0f;
      }
      case Metric::kInnerProduct:
        break;
    }
    return kernels::Dot(q_.data(), v, d_);
  }
  std::vector<Neighbor> Finish(TopK* heap) const {
    std::vector<Neighbor> out;
    for (const auto& [g, id] : heap->TakeSorted()) {
      out.push_back({id, m_ == Metric::kL2 ? -g : g});
    }
    return out;
  }

 private:
  std::vector<float> q_;
  const uint32_t d_;
  const Metric m_;
};

}  // namespace dbimpl
}  // namespace tqdb

#endif  // TQDB_DB_EXACT_SCORER_H_
