// IvfIndex's probe statistics (ProbeOrder::kBestExpected, index/types.h):
// how widely each list's vectors spread around its centroid, and in how
// many dimensions, so that the coarse step ranks a list by the best score
// it can be expected to hold, not by its centroid alone.
#include <algorithm>
#include <cmath>
#include <vector>

#include "index/ivf_index.h"
#include "quant/kernels.h"

namespace tqdb {

namespace {

// Vectors of the training sample the statistics read (assigning them costs
// about one k-means iteration over as many).
constexpr size_t kMaxProbeSample = 32768;

}  // namespace

void IvfIndex::TrainProbeStats(const float* x, size_t n, uint32_t threads) {
  list_spread_.clear();
  spread_dims_ = 0;
  if (options_.metric == Metric::kL2 || nlist_ < 2 || n < 2) return;
  const uint32_t d = options_.dim;
  // An even spread of rows over the sample (the prepared training vectors
  // are in the caller's order, often already shuffled).
  const size_t m = std::min(n, kMaxProbeSample);
  std::vector<float> sample(m * d);
  for (size_t i = 0; i < m; ++i) {
    const size_t row = i * n / m;
    std::copy(x + row * d, x + (row + 1) * d, &sample[i * d]);
  }
  std::vector<uint32_t> assign(m);
  std::vector<float> dist(m);
  assigner_->Assign(sample.data(), m, d, assign.data(), dist.data(), threads);
  std::vector<double> sum(nlist_, 0.0);
  std::vector<uint32_t> count(nlist_, 0);
  double total = 0;
  for (size_t i = 0; i < m; ++i) {
    sum[assign[i]] += dist[i];
    ++count[assign[i]];
    total += dist[i];
  }
  const double mean = total / static_cast<double>(m);
  if (!(mean > 0)) return;  // every vector on its centroid: no spread
  // A list the sample barely reached is not ranked on one vector's spread:
  // one pseudo-vector at the mean spread joins its own.
  list_spread_.resize(nlist_);
  for (uint32_t l = 0; l < nlist_; ++l) {
    list_spread_[l] = static_cast<float>((sum[l] + mean) / (count[l] + 1));
  }
  // The effective dimension (tr S)^2 / tr(S^2) of the residuals' covariance
  // S: E ||r||^2 = tr S, and for independent residuals E <r_i, r_j>^2 =
  // tr(S^2), estimated over disjoint pairs of the sample (the covariance
  // itself would cost d^2 a vector). <q, r> then has a deviation of about
  // sqrt(E ||r||^2 / d_eff) for a query q of unit norm in the data's span,
  // sqrt(E ||r||^2 / d) only if the residuals were isotropic.
  for (size_t i = 0; i < m; ++i) {
    const float* c = &centroids_[size_t{assign[i]} * d];
    for (uint32_t j = 0; j < d; ++j) sample[i * d + j] -= c[j];
  }
  const size_t pairs = m / 2;
  double cross = 0;
  for (size_t i = 0; i < pairs; ++i) {
    const double ip = kernels::Dot(&sample[i * d], &sample[(pairs + i) * d], d);
    cross += ip * ip;
  }
  cross /= static_cast<double>(pairs);
  spread_dims_ =
      cross > 0 ? static_cast<float>(std::min<double>(mean * mean / cross, d))
                : static_cast<float>(d);
}

void IvfIndex::ProbeReach(const float* q, const SearchParams& p,
                          const std::vector<std::pair<float, uint32_t>>& order,
                          std::vector<float>* reach) const {
  reach->clear();
  if (!(p.probe_sigmas > 0) || probe_sigma_.empty()) return;
  const float qn = kernels::Dot(q, q, options_.dim);
  // probe_sigma_ is twice sigma_l (it ranks in squared distances). The
  // list's size is left out (the expected best of n members would add
  // sqrt(2 ln n) deviations): on use512 that variant needed more codes
  // for the same recall (2,430 against 2,250 a query at 10-R@10 0.956).
  const float scale = 0.5f * p.probe_sigmas * std::sqrt(qn);
  reach->resize(order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    const auto& [neg_dist, l] = order[i];
    // <q, c> from ||q - c||^2 = ||q||^2 - 2 <q, c> + ||c||^2.
    const float ip = 0.5f * (qn + centroid_norms_[l] + neg_dist);
    (*reach)[i] = ip + scale * probe_sigma_[l];
  }
}

void IvfIndex::UpdateProbeKappa() {
  // sqrt(2 ln n) is the expected largest of n normal deviates (of unit
  // deviation). With each list's own n the ranking took larger lists first:
  // fewer lists for a recall, but as many codes or more (use512 and GloVe,
  // counted per code scanned); the mean size ranks lists by spread alone.
  const double n = std::max(
      2.0, static_cast<double>(where_.size()) / std::max<uint32_t>(nlist_, 1));
  probe_kappa_.store(static_cast<float>(std::sqrt(2.0 * std::log(n))),
                     std::memory_order_relaxed);
}

}  // namespace tqdb
