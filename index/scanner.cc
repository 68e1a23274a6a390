#include "index/scanner.h"

#include <algorithm>
#include <cmath>

#include "index/scan_kernels.h"
#include "quant/kernels.h"

namespace tqdb {

void TopK::Push(float goodness, uint64_t id) {
  auto cmp = [](const std::pair<float, uint64_t>& a,
                const std::pair<float, uint64_t>& b) {
    return a.first > b.first;
  };
  if (heap_.size() < k_) {
    heap_.emplace_back(goodness, id);
    std::push_heap(heap_.begin(), heap_.end(), cmp);
  } else if (goodness > heap_.front().first) {
    std::pop_heap(heap_.begin(), heap_.end(), cmp);
    heap_.back() = {goodness, id};
    std::push_heap(heap_.begin(), heap_.end(), cmp);
  }
}

std::vector<std::pair<float, uint64_t>> TopK::TakeSorted() {
  std::vector<std::pair<float, uint64_t>> out;
  out.swap(heap_);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  });
  return out;
}

void QuantizedLut::Build(const std::vector<float>& lut, uint32_t m) {
  const uint32_t npairs = m / 2;
  lo.assign(size_t{npairs} * 32, 0);
  hi.assign(size_t{npairs} * 32, 0);
  // One scale for all tables (so integer sums are comparable); each table
  // shifted by its own minimum, the minima summed into the bias.
  float width = 0.0f;
  std::vector<float> mins(m);
  for (uint32_t j = 0; j < m; ++j) {
    const float* t = &lut[size_t{j} * 16];
    const float mn = *std::min_element(t, t + 16);
    const float mx = *std::max_element(t, t + 16);
    mins[j] = mn;
    width = std::max(width, mx - mn);
  }
  scale = width > 0 ? width / 255.0f : 1.0f;
  const float inv = 1.0f / scale;
  double b = 0;
  for (uint32_t j = 0; j < m; ++j) {
    b += mins[j];
    const float* t = &lut[size_t{j} * 16];
    uint8_t* dst = (j % 2 == 0 ? lo.data() : hi.data()) + (j / 2) * 32;
    for (int c = 0; c < 16; ++c) {
      // (t - min) * inv is in [0, 255 + rounding]; +0.5 and truncation
      // round to nearest (and vectorize, unlike nearbyint).
      const float v = std::min(255.0f, (t[c] - mins[j]) * inv + 0.5f);
      const uint8_t q = static_cast<uint8_t>(static_cast<int>(v));
      dst[c] = q;
      dst[c + 16] = q;
    }
  }
  bias = static_cast<float>(b);
}

ListScanner::ListScanner(const ScanCodec& codec, bool l2, bool residual,
                         const float* centroids, uint32_t dim)
    : codec_(codec),
      l2_(l2),
      residual_(residual),
      centroids_(centroids),
      dim_(dim),
      query_(dim),
      u_(dim) {}

void ListScanner::BuildTables(const float* u) {
  codec_.BuildLuts(u, l2_, &luts_);
  const ScanShape& s = codec_.shape();
  if (s.m4a) qa_.Build(luts_.a, s.m4a);
  if (s.m4b) qb_.Build(luts_.b, s.m4b);
}

void ListScanner::SetQuery(const float* query) {
  std::copy(query, query + dim_, query_.begin());
  query_norm_sq_ = kernels::Dot(query, query, dim_);
  // Tables that do not depend on the list are built once here.
  if (!l2_ || !residual_) BuildTables(query);
  if (!residual_) base_ = l2_ ? query_norm_sq_ : 0.0f;
}

void ListScanner::SetList(uint32_t list_no) {
  if (!residual_) return;
  const float* c = centroids_ + size_t{list_no} * dim_;
  if (l2_) {
    for (uint32_t i = 0; i < dim_; ++i) u_[i] = query_[i] - c[i];
    base_ = kernels::Dot(u_.data(), u_.data(), dim_);
    BuildTables(u_.data());
  } else {
    base_ = kernels::Dot(query_.data(), c, dim_);
  }
}

void ListScanner::Scan(const InvertedList& list, TopK* heap,
                       const std::function<bool(uint64_t)>* filter,
                       const uint32_t* block_masks) {
  const uint32_t n = list.size();
  if (n == 0) return;
  const ScanShape& s = codec_.shape();
  const size_t nblocks = list.nblocks();
  if (s.m4a) {
    acc_a_.resize(nblocks * kBlockSize);
    scan::AccumulateList(list.codes_a(), nblocks, s.m4a / 2, qa_.lo.data(),
                         qa_.hi.data(), acc_a_.data(), block_masks);
  }
  if (s.m4b) {
    acc_b_.resize(nblocks * kBlockSize);
    scan::AccumulateList(list.codes_b(), nblocks, s.m4b / 2, qb_.lo.data(),
                         qb_.hi.data(), acc_b_.data(), block_masks);
  }
  const bool lut_l2 = l2_ && codec_.lut_is_l2();
  const CombineForm cf = codec_.combine_form();
  const uint8_t* deleted = list.deleted();
  const uint64_t* ids = list.ids();
  const float* factors = list.factors();
  const uint8_t* codes_c = list.codes_c();
  const float* lut_c = luts_.c.data();
  const uint32_t nf = s.nfactors;
  auto combine = [&](uint32_t slot) {
    const float a = s.m4a ? qa_.scale * acc_a_[slot] + qa_.bias : 0.0f;
    const float b = s.m4b ? qb_.scale * acc_b_[slot] + qb_.bias : 0.0f;
    float c = 0.0f;
    if (s.m8) {
      const uint8_t* sub = codes_c + size_t{slot} * s.m8;
      for (uint32_t j = 0; j < s.m8; ++j) c += lut_c[size_t{j} * 256 + sub[j]];
    }
    const float* f = factors + size_t{slot} * nf;
    float est;
    switch (cf.kind) {
      case CombineForm::kSum:
        est = a + c;
        break;
      case CombineForm::kScaled:
        est = f[0] * (a + c);
        break;
      case CombineForm::kScaled2:
        est = f[0] * f[1] * (a + c);
        break;
      default:
        est = f[0] * (a + c + cf.kappa * f[1] * b);
        break;
    }
    float goodness;
    if (lut_l2) {
      goodness = -est;
    } else if (l2_) {
      float norm_sq = 0.0f;
      if (nf > cf.norm_factor) {
        const float v = f[cf.norm_factor];
        norm_sq = cf.norm_is_squared ? v : v * v;
      }
      goodness = -(base_ + norm_sq - 2.0f * est);
    } else {
      goodness = base_ + est;
    }
    if (heap->full() && goodness <= heap->threshold()) return;
    if (filter && *filter && !(*filter)(ids[slot])) return;
    heap->Push(goodness, ids[slot]);
  };
  if (block_masks == nullptr) {
    for (uint32_t slot = 0; slot < n; ++slot) {
      if (!deleted[slot]) combine(slot);
    }
    return;
  }
  for (size_t blk = 0; blk < nblocks; ++blk) {
    for (uint32_t bits = block_masks[blk]; bits != 0; bits &= bits - 1) {
      combine(static_cast<uint32_t>(blk * kBlockSize + __builtin_ctz(bits)));
    }
  }
}

}  // namespace tqdb
