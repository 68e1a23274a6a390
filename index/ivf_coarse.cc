// IvfIndex's coarse step: the nprobe lists ranked first, by ||q - c||^2
// plus a per-list offset (0 for ProbeOrder::kNearest; index/ivf_probe.cc).
// With LayoutOptions::quantized_coarse, every centroid is scored on its
// int8 code first and only the centroids that can still be among the
// nprobe first are scored exactly: the lists and their order are those of
// scoring every centroid exactly.
#include <algorithm>
#include <cmath>
#include <limits>

#include "index/fixed_point.h"
#include "index/ivf_index.h"
#include "index/prefetch.h"
#include "index/radix_select.h"
#include "quant/kernels.h"

namespace tqdb {
namespace {

// The quantized step's bounds on each list's rank (below). A function of
// its own: GCC vectorizes the loop only over restrict-qualified parameters
// (1.2 us of a use512 query at 565 lists, scalar); the same operations in
// the same order as one list at a time, so the same floats.
struct CoarseQuery {
  float qn, t, q1, q_norm, q_err, round_norm;
};
void CoarseBounds(uint32_t n, const CoarseQuery& q,
                  const int32_t* __restrict dot, const float* __restrict scale,
                  const float* __restrict err_norm,
                  const float* __restrict code_norm,
                  const float* __restrict c_norm_sq,
                  const float* __restrict offset, float* __restrict lo,
                  float* __restrict hi) {
  for (uint32_t l = 0; l < n; ++l) {
    const float s = scale[l];
    const float est = q.qn - 2.0f * (s * q.t * static_cast<float>(dot[l])) +
                      c_norm_sq[l] + offset[l];
    const float err =
        2.0f * (std::min(0.5f * q.q1 * s, q.q_norm * err_norm[l]) +
                std::min(q.q_err * s, q.round_norm * code_norm[l])) +
        1e-4f * (q.qn + c_norm_sq[l] + std::fabs(offset[l]));
    lo[l] = est - err;
    hi[l] = est + err;
  }
}

}  // namespace

float IvfIndex::ExactCentroidDistance(const float* q, uint32_t l) const {
  const uint32_t d = options_.dim;
  if (centroid_on_code_.empty() || !centroid_on_code_[l]) {
    return kernels::L2Sqr(q, &centroids_[size_t{l} * d], d);
  }
  return coarse_codec_.L2Sqr(
      q, &coarse_codes_[size_t{l} * coarse_codec_.code_words()]);
}

const void* IvfIndex::ExactCentroidBytes(uint32_t l, size_t* bytes) const {
  if (centroid_on_code_.empty() || !centroid_on_code_[l]) {
    *bytes = size_t{options_.dim} * sizeof(float);
    return &centroids_[size_t{l} * options_.dim];
  }
  *bytes = coarse_codec_.code_bytes();
  return &coarse_codes_[size_t{l} * coarse_codec_.code_words()];
}

void IvfIndex::NearestLists(const float* q, uint32_t nprobe, ProbeOrder how,
                            std::vector<std::pair<float, uint32_t>>* order,
                            SearchStats* stats) const {
  const uint32_t d = options_.dim;
  order->clear();
  stats->centroids_quantized = 0;
  // A list's rank: ||q - c||^2 plus its offset (0 for kNearest, else
  // -(||c||^2 + kappa sigma), kappa read once here: a writer may change it
  // meanwhile), so that the quantized step below bounds the rank as it
  // bounds the distance.
  // (The zeros are written once a thread and list count, not a query.)
  thread_local std::vector<float> zeros, best_expected;
  if (zeros.size() != nlist_) zeros.assign(nlist_, 0.0f);
  const float* offset = zeros.data();
  if (how == ProbeOrder::kBestExpected && !probe_sigma_.empty()) {
    const float kappa = probe_kappa_.load(std::memory_order_relaxed);
    best_expected.resize(nlist_);
    for (uint32_t l = 0; l < nlist_; ++l) {
      best_expected[l] = -(centroid_norms_[l] + kappa * probe_sigma_[l]);
    }
    offset = best_expected.data();
  }
  // The exact ranks as integer keys that sort first first, ties towards
  // the lower list id: a comparator of float pairs mispredicted in the
  // selection and sort below. The distances themselves go to `order`.
  thread_local std::vector<uint64_t> nearest;
  thread_local std::vector<float> exact_dist;
  nearest.clear();
  exact_dist.resize(nlist_);
  auto exact = [&](uint32_t l) {
    const float dist = ExactCentroidDistance(q, l);
    exact_dist[l] = dist;
    nearest.push_back(uint64_t{OrderKey(dist + offset[l])} << 32 | l);
  };
  // The query rounded to int16 with one scale t (below): no int32 partial
  // sum overflows when d * qlim * 128 < 2^31, and the rounding bound needs
  // a normal t; the bounds need ||q||^2 well inside float's range. Other
  // queries (denormals, norms past 1e18) are scored exactly.
  float qmax, q1;
  AbsMaxAndSum(q, d, &qmax, &q1);
  const int32_t qlim = Int16QueryLimit(d);
  const float t = qmax / static_cast<float>(qlim);
  const float qn = kernels::Dot(q, q, d);
  const bool quantizable =
      (qmax == 0 || t >= std::numeric_limits<float>::min()) &&
      qn < std::numeric_limits<float>::max() / 1024;
  if (coarse_codes_.empty() || nprobe >= nlist_ || !quantizable) {
    nearest.reserve(nlist_);
    for (uint32_t l = 0; l < nlist_; ++l) exact(l);
  } else {
    // ||q - c||^2 = ||q||^2 - 2 <q, c> + ||c||^2 with <q, c> on the code
    // c^ = s c8 (|c_i - c^_i| <= s / 2) and the query rounded to int16,
    // q ~ t q16 (|q_i - t q16_i| <= t / 2, to float rounding: below), so
    // that the dot products are exact integer sums (int8 codes times an
    // int16 query: 0.6 of the float kernel's time, tests/index/
    // scan_benchmark). <q, c> - s t <q16, c8> = <q, c - c^> + <q - t q16,
    // c^>: the first term is at most min(||q||_1 s / 2, ||q|| ||c - c^||),
    // the second min(64 d t s, ||q - t q16|| ||c^||) (the Cauchy-Schwarz
    // forms, with the norms kept per centroid, are the tighter for dense
    // vectors: about sqrt(d / 12) s ||q|| against 0.4 sqrt(d) s ||q||), and
    // the distance errs by twice that, plus the rounding of the float
    // arithmetic (here and in L2Sqr), bounded generously by 1e-4 of the
    // magnitudes. Every list whose lower bound is at most the nprobe-th
    // smallest upper bound is scored exactly: the nprobe nearest are among
    // them.
    q1 *= 1.001f;
    thread_local std::vector<int16_t> q16;
    thread_local std::vector<int32_t> dot;
    thread_local std::vector<float> lo, hi;
    thread_local std::vector<float> scaled, round_err;
    q16.resize(d);
    scaled.resize(d);
    round_err.resize(d);
    // Each coordinate's rounding error is within 0.502 t (RoundToInt16),
    // covered by q_err's 1.01.
    const float inv_t = t > 0 ? 1.0f / t : 0.0f;
    RoundToInt16(q, d, inv_t, static_cast<float>(qlim), q16.data());
    const float q_err = 1.01f * 64.0f * static_cast<float>(d) * t;
    // ||q|| and ||q - t q16|| from the query in units of t, |q / t| <=
    // qlim: for tiny queries ||q||^2 in float underflows, q / t does not.
    for (uint32_t i = 0; i < d; ++i) {
      scaled[i] = q[i] * inv_t;
      round_err[i] = scaled[i] - static_cast<float>(q16[i]);
    }
    // Rounded up, as the bound needs (the 1.001 and 1.01 cover the float
    // sums' rounding, relative d 2^-24 at most).
    const float q_norm =
        t * std::sqrt(kernels::Dot(scaled.data(), scaled.data(), d)) * 1.001f;
    const float round_norm =
        t * std::sqrt(kernels::Dot(round_err.data(), round_err.data(), d)) *
        1.01f;
    lo.resize(nlist_);
    hi.resize(nlist_);
    dot.resize(nlist_);
    coarse_codec_.DotRowsInt(q16.data(), coarse_codes_.data(), nlist_,
                             dot.data());
    CoarseBounds(nlist_, CoarseQuery{qn, t, q1, q_norm, q_err, round_norm},
                 dot.data(), coarse_scale_.data(), coarse_err_norm_.data(),
                 coarse_code_norm_.data(), centroid_norms_.data(), offset,
                 lo.data(), hi.data());
    stats->centroids_quantized = nlist_;
    thread_local std::vector<uint32_t> keys;
    const float cut = RankValue(hi, nprobe - 1, &keys);
    // The lists to score exactly, gathered without a branch on the data
    // (the test mispredicted), then scored with the next centroid loading.
    thread_local std::vector<uint32_t> pick;
    pick.resize(nlist_);
    size_t picked = 0;
    for (uint32_t l = 0; l < nlist_; ++l) {
      pick[picked] = l;
      picked += lo[l] <= cut;
    }
    nearest.reserve(picked);
    for (size_t i = 0; i < picked; ++i) {
      if (i + 1 < picked) {
        size_t bytes;
        const void* next = ExactCentroidBytes(pick[i + 1], &bytes);
        PrefetchBytes(next, bytes);
      }
      exact(pick[i]);
    }
  }
  stats->centroids_exact = static_cast<uint32_t>(nearest.size());
  // Nearest lists first: the heap's threshold rises early, which the
  // progressive scan's bound uses to skip more candidates. `nearest` holds
  // the lists in ascending number, so sorting by rank alone (stably) sorts
  // by rank, then number.
  thread_local std::vector<uint64_t> sort_scratch;
  SortByHighHalf(nearest.data(), nearest.size(), &sort_scratch);
  if (nprobe < nearest.size()) nearest.resize(nprobe);
  order->resize(nearest.size());
  for (size_t i = 0; i < nearest.size(); ++i) {
    const uint32_t l = static_cast<uint32_t>(nearest[i]);
    (*order)[i] = {-exact_dist[l], l};
  }
}

}  // namespace tqdb
