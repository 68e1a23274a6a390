#include "index/scanner.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "index/prefetch.h"
#include "index/scan_kernels.h"
#include "index/table_kernels.h"
#include "quant/kernels.h"

namespace tqdb {

static_assert(static_cast<uint32_t>(CombineForm::kSum) ==
                      scan::CombineParams::kSum &&
                  static_cast<uint32_t>(CombineForm::kScaled) ==
                      scan::CombineParams::kScaled &&
                  static_cast<uint32_t>(CombineForm::kScaled2) ==
                      scan::CombineParams::kScaled2 &&
                  static_cast<uint32_t>(CombineForm::kSketch) ==
                      scan::CombineParams::kSketch,
              "scan::CombineParams::Form mirrors CombineForm::Kind");

uint32_t ListScanner::LiveSlots(const InvertedList& list,
                                const uint32_t* block_masks, uint32_t blk,
                                uint32_t n) {
  if (block_masks != nullptr) return block_masks[blk];
  const uint32_t first = blk * kBlockSize;
  const uint32_t count = std::min<uint32_t>(kBlockSize, n - first);
  uint32_t live = count == kBlockSize ? ~0u : (1u << count) - 1;
  if (list.tombstones() > 0) {
    const uint8_t* deleted = list.deleted();
    for (uint32_t v = 0; v < count; ++v) {
      if (deleted[first + v]) live &= ~(1u << v);
    }
  }
  return live;
}

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

void QuantizedLut::Build(const std::vector<float>& lut, uint32_t m,
                         float min_scale) {
  const uint32_t npairs = m / 2;
  lo.resize(size_t{npairs} * 32);
  hi.resize(size_t{npairs} * 32);
  // One scale for all tables (so integer sums are comparable); each table
  // shifted by its own minimum, the minima summed into the bias.
  thread_local std::vector<float> mins;
  mins.resize(m);
  const float width = scan::LutRanges(lut.data(), m, mins.data());
  scale = width > 0 ? width / 255.0f : 1.0f;
  if (min_scale > scale) scale = min_scale;
  scan::QuantizeLuts(lut.data(), m, mins.data(), 1.0f / scale, lo.data(),
                     hi.data());
  double b = 0;
  for (uint32_t j = 0; j < m; ++j) b += mins[j];
  bias = static_cast<float>(b);
}

float QuantizedByteLut::Span(const std::vector<float>& lut,
                             const std::vector<uint8_t>& bits) {
  float span = 0.0f;
  for (size_t j = 0; j < bits.size(); ++j) {
    const float* t = &lut[j * 256];
    const auto [mn, mx] = std::minmax_element(t, t + (size_t{1} << bits[j]));
    span = std::max(span, *mx - *mn);
  }
  return span;
}

void QuantizedByteLut::Build(const std::vector<float>& table,
                             const std::vector<uint8_t>& bits, float step) {
  const uint32_t m8 = static_cast<uint32_t>(bits.size());
  m = (m8 + 1) & ~1u;
  ntab.assign(m / 2, 1);
  for (uint32_t j = 0; j < m8; ++j) {
    const uint8_t tables = static_cast<uint8_t>(((1u << bits[j]) + 15) / 16);
    ntab[j / 2] = std::max(ntab[j / 2], tables);
  }
  std::vector<size_t> base(m / 2 + 1, 0);
  for (uint32_t q = 0; q < m / 2; ++q) {
    base[q + 1] = base[q] + ntab[q] * scan::kByteLutTableBytes;
  }
  // Entries no sub-code selects are left as they were (the kernel reads
  // them into lanes it then discards), but for the padding sub-code's 0s.
  lut.resize(base[m / 2]);
  if (m != m8) {
    for (uint32_t p = 0; p < 2; ++p) {
      uint8_t* dst = &lut[scan::ByteLutOffset(base[m / 2 - 1], m8, 0, p)];
      dst[0] = dst[16] = 0;
    }
  }
  scale = step;
  const float inv = 1.0f / step;
  double b = 0;
  for (uint32_t j = 0; j < m8; ++j) {
    const uint32_t used = 1u << bits[j];
    const float* t = &table[size_t{j} * 256];
    const float mn = *std::min_element(t, t + used);
    b += mn;
    for (uint32_t i = 0; i < used; ++i) {
      const float v = std::min(65535.0f, (t[i] - mn) * inv + 0.5f);
      const uint32_t q = static_cast<uint32_t>(v);
      for (uint32_t p = 0; p < 2; ++p) {
        uint8_t* dst =
            &lut[scan::ByteLutOffset(base[j / 2], j, i / 16, p) + i % 16];
        dst[0] = dst[16] = static_cast<uint8_t>(p == 0 ? q & 0xFF : q >> 8);
      }
    }
  }
  bias = static_cast<float>(b);
}

ListScanner::ListScanner(const ScanCodec& codec, bool l2, bool residual,
                         const float* centroids, uint32_t dim,
                         const ProgressiveLayout* progressive)
    : codec_(codec),
      prog_(progressive),
      l2_(l2),
      residual_(residual),
      shared_l2_(l2 && residual && codec.combine_form().centered_norm),
      centroids_(centroids),
      dim_(dim) {
  // The per-list tables of L2 (q - c) have no centroid term to correct.
  if (residual_ && (!l2_ || shared_l2_)) {
    center_ = codec.combine_form().center_factor;
  }
}

void ListScanner::SwapBuffers(Buffers* b) { std::swap(buf_, *b); }

void ListScanner::BuildTables(const float* u) {
  ++tables_built_;
  if (prog_ != nullptr) {
    prog_->BuildQuery(u, &buf_.pq);
    buf_.qa.Build(buf_.pq.lut, prog_->shape().m4a);
    buf_.pq.lut_err =
        buf_.qa.scale *
        std::sqrt(static_cast<float>(prog_->prefix_tables()) / 12);
    return;
  }
  codec_.BuildLuts(u, l2_, &buf_.luts);
  const ScanShape& s = codec_.shape();
  if (s.m4b) buf_.qb.Build(buf_.luts.b, s.m4b);
  if (s.m8 == 0) {
    buf_.qa.Build(buf_.luts.a, s.m4a);
    a_scale_ = buf_.qa.scale;
    a_bias_ = buf_.qa.bias;
    return;
  }
  if (c_bits_.empty()) {
    for (uint32_t j = 0; j < s.m8; ++j) {
      c_bits_.push_back(static_cast<uint8_t>(codec_.sub8_bits(j)));
    }
  }
  const float span = QuantizedByteLut::Span(buf_.luts.c, c_bits_);
  uint32_t shift = 0;
  float step = span > 0 ? span / 65535.0f : 1.0f;
  float bias = 0.0f;
  if (s.m4a) {
    buf_.qa.Build(buf_.luts.a, s.m4a, step);
    // Finer while C's widest table fits in uint16 and every sum in uint32.
    const double sum_a = 255.0 * s.m4a, sum_c = 65535.0 * s.m8;
    while (shift < 16 &&
           double{span} * (1u << (shift + 1)) <= 65535.0 * buf_.qa.scale &&
           sum_a * (1u << (shift + 1)) + sum_c < 4294967295.0) {
      ++shift;
    }
    step = std::ldexp(buf_.qa.scale, -static_cast<int>(shift));
    bias = buf_.qa.bias;
  }
  buf_.qc.Build(buf_.luts.c, c_bits_, step);
  buf_.qc.shift = shift;
  a_scale_ = step;
  a_bias_ = bias + buf_.qc.bias;
}

void ListScanner::SetQuery(const float* query) {
  buf_.lower.Reset(0);
  buf_.pending.clear();
  buf_.lists.clear();
  pending_cap_ = 512;
  buf_.query.assign(query, query + dim_);
  buf_.u.resize(dim_);
  if (prog_ != nullptr) buf_.prefix.resize(prog_->shape().m4a / 2);
  query_norm_sq_ = kernels::Dot(query, query, dim_);
  // Tables that do not depend on the list are built once here.
  if (!PerListTables()) BuildTables(query);
  list_w_err_ = buf_.pq.w_err;
  if (prog_ != nullptr && centroid_w_ != nullptr && !PerListTables()) {
    buf_.error_w.resize(buf_.pq.w.size());
    prog_->ErrorWeights(buf_.pq.w.data(), buf_.error_w.data());
    error_w_norm_ = std::sqrt(kernels::Dot(
        buf_.error_w.data(), buf_.error_w.data(), buf_.error_w.size()));
  }
  if (!residual_) base_ = l2_ ? query_norm_sq_ : 0.0f;
}

void ListScanner::SetList(uint32_t list_no) {
  if (!residual_) return;
  const float* c = centroids_ + size_t{list_no} * dim_;
  if (l2_) {
    for (uint32_t i = 0; i < dim_; ++i) buf_.u[i] = buf_.query[i] - c[i];
    base_ = kernels::Dot(buf_.u.data(), buf_.u.data(), dim_);
    if (!shared_l2_) {
      BuildTables(buf_.u.data());
      list_w_err_ = buf_.pq.w_err;
      return;
    }
    if (center_ >= 0) {
      SetCenterWeight(list_no, kernels::Dot(buf_.query.data(), c, dim_));
    }
  } else {
    base_ = kernels::Dot(buf_.query.data(), c, dim_);
    if (center_ >= 0) SetCenterWeight(list_no, base_);
  }
}

void ListScanner::SetList(uint32_t list_no, float dist_sq) {
  if (!residual_ || PerListTables() || centroid_norm_sq_ == nullptr) {
    SetList(list_no);
    return;
  }
  // ||q - c||^2 = ||q||^2 - 2 <q, c> + ||c||^2.
  const float ip =
      0.5f * (query_norm_sq_ + centroid_norm_sq_[list_no] - dist_sq);
  base_ = l2_ ? dist_sq : ip;
  if (center_ >= 0) SetCenterWeight(list_no, ip);
}

void ListScanner::SetCenterWeight(uint32_t list_no, float ip) {
  const float* c = centroids_ + size_t{list_no} * dim_;
  const float norm_sq = centroid_norm_sq_ != nullptr
                            ? centroid_norm_sq_[list_no]
                            : kernels::Dot(c, c, dim_);
  center_w_ = norm_sq > 0 ? ip / norm_sq : 0.0f;
  if (prog_ != nullptr && centroid_w_ != nullptr &&
      prog_->center1_factor() >= 0) {
    // W of w(q) - alpha w(c), from a dot product a list with the int8
    // code w^ of w(c). Its rounding errors, about independent with the RMS
    // ||w(c) - w^|| / sqrt(k), put <e, w^> off <e, w(c)> (e = buf_.error_w) by
    // a deviation of ||e|| ||w(c) - w^|| / sqrt(k) (Cauchy-Schwarz's worst
    // case is sqrt(k) times that, and let 8% more candidates through on
    // use512): sigmas_ of them, on the side that widens the bound.
    const float a = center_w_;
    const float ew = centroid_w_->codec().Dot(buf_.error_w.data(),
                                              centroid_w_->code(list_no));
    const float slack = sigmas_ * error_w_norm_ *
                        centroid_w_->err_norm(list_no) *
                        centroid_w_->inv_sqrt_k();
    const float w2 = buf_.pq.w_err * buf_.pq.w_err - 2.0f * a * ew +
                     2.0f * std::fabs(a) * slack +
                     a * a * centroid_w_->werr_sq(list_no);
    list_w_err_ = std::sqrt(std::max(0.0f, w2));
  }
}

void ListScanner::Prefetch(uint32_t list_no, const InvertedList& list) const {
  if (prog_ == nullptr) return;
  // The code of the centroid's weights that SetCenterWeight reads (GloVe
  // `pca` 6 bits nprobe 104 and use512 `pca` 4 bits nprobe 48: 1.01x).
  if (center_ >= 0 && centroid_w_ != nullptr && prog_->center1_factor() >= 0) {
    PrefetchBytes(centroid_w_->code(list_no),
                  centroid_w_->codec().code_bytes());
  }
  const size_t block_bytes = size_t{prog_->shape().m4a} / 2 * kBlockSize;
  // Past the first blocks of a long list the hardware prefetcher follows:
  // the factors of the blocks in kPrefetchBytes, the codes' first
  // kPrefetchCodeBytes (one index, alternated in one process, against the
  // codes of all those blocks: use512 `pca` 4 bits nprobe 36 1.018x, 2 bits
  // nprobe 48 1.021x, GloVe-100 `pca` 4 bits nprobe 104 1.011x, 6 bits
  // nprobe 72 0.998x: more prefetches in flight than lines worth it).
  const uint32_t nblocks = static_cast<uint32_t>(std::min<size_t>(
      list.nblocks(),
      (kPrefetchBytes + block_bytes - 1) / std::max<size_t>(block_bytes, 1)));
  PrefetchBytes(list.codes_a(),
                std::min<size_t>(kPrefetchCodeBytes, nblocks * block_bytes));
  // g1 (a float column), g2 and delta1 (adjacent bfloat16 columns).
  const uint32_t g1 = prog_->codec_factors();
  const size_t bytes16 = size_t{prog_->shape().nfactors16} * kBlockSize * 2;
  for (uint32_t blk = 0; blk < nblocks; ++blk) {
    PrefetchBytes(list.BlockFactors(blk, g1), kBlockSize * sizeof(float));
    PrefetchBytes(list.BlockFactors16(blk, 0), bytes16);
  }
}

void ListScanner::ScanBlocks(const InvertedList& list, const uint32_t* acc_a,
                             const uint32_t* acc_b, TopK* heap,
                             const std::function<bool(uint64_t)>* filter,
                             const uint32_t* block_masks) {
  // The scores of a block's 32 slots at once (scan::CombineMask), compared
  // with the k-th score as it stood before the block: only the slots that
  // beat it reach the heap, which checks again against the current k-th.
  const ScanShape& s = codec_.shape();
  const CombineForm cf = codec_.combine_form();
  const uint32_t n = list.size();
  const uint32_t nf = s.nfactors;
  scan::CombineParams cp;
  cp.form = static_cast<scan::CombineParams::Form>(cf.kind);
  cp.a_scale = a_scale_;
  cp.a_bias = a_bias_;
  cp.b_scale = buf_.qb.scale;
  cp.b_bias = buf_.qb.bias;
  cp.kappa = cf.kappa;
  cp.base = base_;
  cp.lut_l2 = l2_ && codec_.lut_is_l2();
  cp.l2 = l2_;
  cp.norm_squared = cf.norm_is_squared;
  cp.center = center_w_;
  const bool has_norm = l2_ && !cp.lut_l2 && nf > cf.norm_factor;
  const uint64_t* ids = list.ids();
  const bool filtering = filter != nullptr && *filter;
  constexpr float kNone = -std::numeric_limits<float>::infinity();
  float goodness[kBlockSize];
  const size_t nblocks = list.nblocks();
  auto push = [&](uint32_t first, uint32_t cand) {
    for (; cand != 0; cand &= cand - 1) {
      const uint32_t v = static_cast<uint32_t>(__builtin_ctz(cand));
      if (heap->full() && goodness[v] <= heap->threshold()) continue;
      if (filtering && !(*filter)(ids[first + v])) continue;
      heap->Push(goodness[v], ids[first + v]);
    }
  };
  if (block_masks == nullptr && list.tombstones() == 0) {
    // Every slot is live: one kernel call runs up to the next block with
    // a candidate, which then meets the k-th score as it stands.
    scan::FactorColumns fc;
    fc.factors = list.factors();
    fc.nfactors = nf;
    fc.f0 = nf > 0 ? 0 : -1;
    fc.f1 = nf > 1 ? 1 : -1;
    fc.norm = has_norm ? static_cast<int32_t>(cf.norm_factor) : -1;
    fc.center = center_;
    for (uint32_t blk = 0; blk < nblocks; ++blk) {
      uint32_t cand = 0;
      blk = scan::CombineRange(acc_a, s.m4b ? acc_b : nullptr, fc, n, blk, cp,
                               heap->full() ? heap->threshold() : kNone,
                               goodness, &cand);
      if (blk >= nblocks) break;
      push(blk * kBlockSize, cand);
    }
    return;
  }
  for (uint32_t blk = 0; blk < nblocks; ++blk) {
    const uint32_t first = blk * kBlockSize;
    const uint32_t live = LiveSlots(list, block_masks, blk, n);
    if (live == 0) continue;
    uint32_t cand =
        live & scan::CombineMask(
                   acc_a + first, s.m4b ? acc_b + first : nullptr,
                   nf > 0 ? list.BlockFactors(blk, 0) : nullptr,
                   nf > 1 ? list.BlockFactors(blk, 1) : nullptr,
                   has_norm ? list.BlockFactors(blk, cf.norm_factor) : nullptr,
                   center_ >= 0 ? list.BlockFactors(blk, center_) : nullptr, cp,
                   heap->full() ? heap->threshold() : kNone, goodness);
    push(first, cand);
  }
}

bool ListScanner::ScansSums() const {
  const ScanShape& s = codec_.shape();
  return prog_ == nullptr && s.m8 == 0 && s.m4a > 0 && !PerListTables();
}

void ListScanner::ScanSums(const InvertedList& list, const uint32_t* acc_a,
                           const uint32_t* acc_b, TopK* heap,
                           const std::function<bool(uint64_t)>* filter) {
  if (list.size() == 0) return;
  ScanBlocks(list, acc_a, acc_b, heap, filter, nullptr);
}

void ListScanner::Scan(const InvertedList& list, TopK* heap,
                       const std::function<bool(uint64_t)>* filter,
                       const uint32_t* block_masks) {
  const uint32_t n = list.size();
  if (n == 0) return;
  if (prog_ != nullptr) {
    ScanProgressive(list, heap, filter, block_masks);
    return;
  }
  const ScanShape& s = codec_.shape();
  const size_t nblocks = list.nblocks();
  if (s.m4a) {
    buf_.acc_a.resize(nblocks * kBlockSize);
    scan::AccumulateList(list.codes_a(), nblocks, s.m4a / 2, buf_.qa.lo.data(),
                         buf_.qa.hi.data(), buf_.acc_a.data(), block_masks);
  } else {
    buf_.acc_a.assign(nblocks * kBlockSize, 0);  // (prod at 1 bit: B alone)
  }
  if (s.m4b) {
    buf_.acc_b.resize(nblocks * kBlockSize);
    scan::AccumulateList(list.codes_b(), nblocks, s.m4b / 2, buf_.qb.lo.data(),
                         buf_.qb.hi.data(), buf_.acc_b.data(), block_masks);
  }
  if (s.m8) {
    // Stream C adds onto A's sums (zero without stream A), a block at a
    // time, the blocks the masks skip left out.
    scan::AccumulateBytes(list.codes_c(), nblocks, buf_.qc.m,
                          buf_.qc.lut.data(), buf_.qc.ntab.data(),
                          buf_.qc.shift, buf_.acc_a.data(), block_masks);
  }
  ScanBlocks(list, buf_.acc_a.data(), buf_.acc_b.data(), heap, filter,
             block_masks);
}

}  // namespace tqdb
