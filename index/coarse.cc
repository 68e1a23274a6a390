#include "index/coarse.h"

#include <algorithm>
#include <cmath>

#include "quant/coding.h"
#include "quant/kernels.h"

namespace tqdb {
namespace {

// Below this many lists the float scan alone is as cheap.
constexpr uint32_t kMinListsForPrepass = 64;

bool Nearer(const std::pair<float, uint32_t>& a,
            const std::pair<float, uint32_t>& b) {
  return a.first > b.first || (a.first == b.first && a.second < b.second);
}

}  // namespace

CentroidScan::CentroidScan(const float* centroids, uint32_t nlist, uint32_t dim)
    : centroids_(centroids), nlist_(nlist), dim_(dim) {
  if (nlist < kMinListsForPrepass) return;
  half_.resize(size_t{nlist} * dim);
  for (size_t i = 0; i < half_.size(); ++i)
    half_[i] = FloatToHalf(centroids[i]);
  norm_sq_.resize(nlist);
  norm_.resize(nlist);
  for (uint32_t l = 0; l < nlist; ++l) {
    double s = 0;
    for (uint32_t j = 0; j < dim; ++j) {
      const double c = centroids[size_t{l} * dim + j];
      s += c * c;
    }
    norm_sq_[l] = static_cast<float>(s);
    norm_[l] = static_cast<float>(std::sqrt(s));
  }
}

void CentroidScan::Nearest(const float* q, uint32_t nprobe,
                           std::vector<std::pair<float, uint32_t>>* out) const {
  const size_t d = dim_;
  out->clear();
  auto exact = [&](uint32_t l) {
    return std::make_pair(-kernels::L2Sqr(q, centroids_ + l * d, d), l);
  };
  if (half_.empty() || nprobe >= nlist_) {
    out->reserve(nlist_);
    for (uint32_t l = 0; l < nlist_; ++l) out->push_back(exact(l));
  } else {
    thread_local std::vector<float> dot;
    thread_local std::vector<std::pair<float, uint32_t>> upper;
    dot.resize(nlist_);
    kernels::MatVecF16(half_.data(), nlist_, dim_, q, dot.data());
    double qn = 0;
    for (size_t j = 0; j < d; ++j) qn += double{q[j]} * q[j];
    const float qnorm = static_cast<float>(std::sqrt(qn));
    // d~_l = ||c||^2 - 2 <q, c~> (the common ||q||^2 left out); e_l its
    // error bound: 2^-10 ||q|| ||c|| from the halves, doubled, plus a term
    // for subnormal halves and float sums in both passes.
    const float sum_err = 0x1p-22f * static_cast<float>(d);
    auto err = [&](uint32_t l) {
      const float s = qnorm + norm_[l];
      return 0x1p-9f * qnorm * norm_[l] + sum_err * s * s + 1e-30f;
    };
    upper.resize(nlist_);
    for (uint32_t l = 0; l < nlist_; ++l) {
      upper[l] = {norm_sq_[l] - 2 * dot[l] + err(l), l};
    }
    std::nth_element(upper.begin(), upper.begin() + (nprobe - 1), upper.end());
    const float u = upper[nprobe - 1].first;
    for (uint32_t l = 0; l < nlist_; ++l) {
      if (norm_sq_[l] - 2 * dot[l] - err(l) <= u) out->push_back(exact(l));
    }
  }
  if (nprobe < out->size()) {
    std::nth_element(out->begin(), out->begin() + nprobe, out->end(), Nearer);
    out->resize(nprobe);
  }
  std::sort(out->begin(), out->end(), Nearer);
}

size_t CentroidScan::MemoryBytes() const {
  return half_.capacity() * sizeof(uint16_t) +
         (norm_sq_.capacity() + norm_.capacity()) * sizeof(float);
}

}  // namespace tqdb
