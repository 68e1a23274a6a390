#include "index/progressive.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <queue>
#include <utility>

#include "index/bfloat16.h"
#include "index/fixed_point.h"
#include "index/table_kernels.h"

namespace tqdb {
namespace {

constexpr uint32_t kMaxPrefixBits = 4;  // a coordinate's prefix fits a nibble
constexpr double kMaxLevel = 4096;      // |lq| <= 2^12
// Sum of |wq| allowed: sum |wq| * 2^12 stays below 2^31.
constexpr double kWeightBudget = 524287;

}  // namespace

uint32_t DefaultPrefixBits(uint32_t dim, uint64_t code_bits) {
  // D(b) of the unit Gaussian's Lloyd-Max quantizer (Max 1960), b = 1..4.
  constexpr double kDistortion[kMaxPrefixBits] = {0.3634, 0.1175, 0.03455,
                                                  0.009497};
  constexpr double kOneBitDim = 320;  // one and two bits measured level
  uint32_t b = 1;
  while (b < kMaxPrefixBits &&
         kDistortion[b - 1] * kOneBitDim > kDistortion[0] * dim) {
    ++b;
  }
  const uint32_t preferred = b;
  while (b > 1 && code_bits < 2 * uint64_t{b} * dim) --b;
  if (code_bits < 2 * uint64_t{b} * dim || (b == 1 && preferred > 1)) return 0;
  return b;
}

std::unique_ptr<ProgressiveLayout> ProgressiveLayout::Create(
    const ScanCodec& codec, double prefix_bits_per_dim, PrefixSharing sharing) {
  const ScalarCodeInfo* info = codec.scalar_info();
  if (info == nullptr || info->width.empty()) return nullptr;
  const CombineForm cf = codec.combine_form();
  if (cf.kind != CombineForm::kScaled && cf.kind != CombineForm::kScaled2) {
    return nullptr;
  }
  const uint32_t k = static_cast<uint32_t>(info->width.size());
  uint64_t total_bits = 0;
  for (uint32_t j = 0; j < k; ++j) {
    const uint8_t b = info->width[j];
    if (b < 1 || b > 8 || (j > 0 && b > info->width[j - 1])) return nullptr;
    if (info->levels[b].size() != (size_t{1} << b) ||
        info->mass[b].size() != info->levels[b].size()) {
      return nullptr;
    }
    total_bits += b;
  }
  const uint64_t budget = static_cast<uint64_t>(
      std::llround(prefix_bits_per_dim * static_cast<double>(codec.dim())));
  if (budget == 0 || total_bits < 2 * budget) return nullptr;

  std::unique_ptr<ProgressiveLayout> l(new ProgressiveLayout());
  l->codec_ = &codec;
  l->info_ = info;
  l->k_ = k;
  l->codec_factors_ = codec.shape().nfactors;
  l->scaled2_ = cf.kind == CombineForm::kScaled2;

  // Prefix means and the variance left given t top bits, per width.
  double var[9][kMaxPrefixBits + 1] = {};
  for (uint32_t b = 1; b <= 8; ++b) {
    const std::vector<float>& lv = info->levels[b];
    const std::vector<double>& m = info->mass[b];
    if (lv.empty()) continue;
    double total = 0, second = 0;
    for (size_t i = 0; i < lv.size(); ++i) {
      total += m[i];
      second += m[i] * lv[i] * lv[i];
    }
    if (!(total > 0)) return nullptr;
    for (uint32_t t = 0; t <= std::min(b, kMaxPrefixBits); ++t) {
      const uint32_t groups = 1u << t, per = 1u << (b - t);
      std::vector<float>& mu = l->mu_[b][t];
      mu.assign(groups, 0.0f);
      double explained = 0;
      for (uint32_t h = 0; h < groups; ++h) {
        double mh = 0, s = 0;
        for (uint32_t i = h * per; i < (h + 1) * per; ++i) {
          mh += m[i];
          s += m[i] * lv[i];
        }
        const double mean = mh > 0 ? s / mh : 0.0;
        mu[h] = static_cast<float>(mean);
        explained += mh * mean * mean;
      }
      var[b][t] = std::max(0.0, (second - explained) / total);
    }
  }

  // Shared where asked, or (kWhereExact) where the chunk-wise allotment
  // gives every coordinate the bits of the coordinate-wise one.
  std::vector<uint8_t> by_coordinate, by_chunk;
  std::vector<uint8_t> chunk_t;  // the chunks' prefix bits when shared
  if (sharing != PrefixSharing::kAlways) {
    by_coordinate = l->AllotCoordinates(var, budget);
  }
  if (sharing != PrefixSharing::kNever) {
    by_chunk = l->AllotChunks(var, budget, &chunk_t);
  }
  if (sharing == PrefixSharing::kAlways ||
      (sharing == PrefixSharing::kWhereExact && by_chunk == by_coordinate)) {
    l->t_ = std::move(by_chunk);
    l->PackChunks(chunk_t);
  } else {
    l->t_ = std::move(by_coordinate);
    chunk_t.clear();
    l->PackCoordinates();
  }
  if (l->prefix_tables_ == 0) return nullptr;

  // The error model: per coordinate, the variance of the part of c1
  // orthogonal to c (see the header), P_j (1 - 2 kappa) + kappa^2 C_j with
  // C_j = E c_j^2, P_j = E c1_j^2 = C_j - V_j(t_j), kappa = sum P / sum C.
  double sum_p = 0, sum_c = 0;
  std::vector<double> pj(k), cj(k);
  // In the vectors' metric: pass 1 is exact along the code's
  // reconstruction, and delta's norm is that of a vector.
  l->lambda_ = info->metric.empty() ? info->importance : info->metric;
  for (uint32_t j = 0; j < k; ++j) {
    const uint32_t b = info->width[j];
    cj[j] = var[b][0];
    pj[j] = var[b][0] - var[b][l->t_[j]];
    sum_p += l->lambda_[j] * pj[j];
    sum_c += l->lambda_[j] * cj[j];
  }
  const double kappa = sum_c > 0 ? sum_p / sum_c : 0.0;
  // v_j, and its share of sum_j lambda_j v_j.
  std::vector<double> v(k);
  double v_sum = 0;
  for (uint32_t j = 0; j < k; ++j) {
    v[j] = std::max(0.0, pj[j] * (1 - 2 * kappa) + kappa * kappa * cj[j]);
    v_sum += l->lambda_[j] * v[j];
  }
  l->var_share_.resize(k);
  for (uint32_t j = 0; j < k; ++j) {
    l->var_share_[j] = v_sum > 0 ? static_cast<float>(v[j] / v_sum) : 0.0f;
  }

  // The row and RefineDot's tables (scan::RefineTables).
  double max_level = 0;
  for (uint32_t b = 1; b <= 8; ++b) {
    for (float v : info->levels[b]) {
      max_level = std::max(max_level, std::fabs(double{v}));
    }
  }
  if (!(max_level > 0)) return nullptr;
  l->level_scale_ = static_cast<float>(kMaxLevel / max_level);
  // Antisymmetric by construction (codebooks are symmetric about 0; the
  // upper half's magnitudes are mirrored).
  std::vector<int32_t> lq[9];
  for (uint32_t b = 1; b <= 8; ++b) {
    const std::vector<float>& lv = info->levels[b];
    if (lv.empty()) continue;
    const size_t size = lv.size();
    lq[b].resize(size);
    for (size_t i = size / 2; i < size; ++i) {
      const double mag = 0.5 * (double{lv[i]} - double{lv[size - 1 - i]});
      lq[b][i] = static_cast<int32_t>(std::lround(mag * l->level_scale_));
      lq[b][size - 1 - i] = -lq[b][i];
    }
  }
  l->tables_ = scan::BuildRefineTables(info->width, lq, chunk_t);
  const scan::RefineTables& t = l->tables_;
  l->shape_.m8 = t.row_bytes;
  l->shape_.nfactors = l->codec_factors_ + 1;
  l->shape_.nfactors16 = 1;
  if (cf.center_factor >= 0) {
    l->codec_center_ = static_cast<uint32_t>(cf.center_factor);
    l->center1_ = static_cast<int32_t>(l->shape_.nfactors16);
    ++l->shape_.nfactors16;
  }
  return l;
}

std::vector<uint8_t> ProgressiveLayout::AllotCoordinates(
    const double (&var)[9][5], uint64_t budget) const {
  // Water-filling of the prefix bits (ties to the lower coordinate).
  std::vector<uint8_t> t_of(k_, 0);
  auto gain = [&](uint32_t j) {
    const uint32_t b = info_->width[j], t = t_of[j];
    return info_->importance[j] * (var[b][t] - var[b][t + 1]);
  };
  std::priority_queue<std::pair<double, uint32_t>> heap;
  for (uint32_t j = 0; j < k_; ++j) heap.push({gain(j), ~j});
  for (uint64_t left = budget; left > 0 && !heap.empty(); --left) {
    const uint32_t j = ~heap.top().second;
    heap.pop();
    const uint32_t cap = std::min<uint32_t>(info_->width[j], kMaxPrefixBits);
    if (++t_of[j] < cap) heap.push({gain(j), ~j});
  }
  return t_of;
}

void ProgressiveLayout::PackCoordinates() {
  // First-fit decreasing into 4-bit sub-codes.
  std::vector<uint32_t> order;
  for (uint32_t j = 0; j < k_; ++j) {
    if (t_[j] > 0) order.push_back(j);
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return t_[a] > t_[b]; });
  std::vector<uint32_t> used;
  for (uint32_t j : order) {
    const uint8_t t = t_[j];
    size_t g = 0;
    while (g < used.size() && used[g] + t > 4) ++g;
    if (g == used.size()) {
      used.push_back(0);
      nibbles_.emplace_back();
    }
    // The slot's level at each of the 16 entries of its table: the bits
    // of the entry outside the slot's are ignored.
    const std::vector<float>& mu = mu_[info_->width[j]][t];
    const uint32_t at = static_cast<uint32_t>(slot_levels_.size() / 16);
    for (uint32_t c = 0; c < 16; ++c) {
      slot_levels_.push_back(mu[(c >> used[g]) & ((1u << t) - 1)]);
    }
    nibbles_[g].push_back({j, t, static_cast<uint8_t>(used[g]), at});
    used[g] += t;
  }
  prefix_tables_ = static_cast<uint32_t>(nibbles_.size());
  shape_.m4a = (prefix_tables_ + 3) / 4 * 4;
  nibbles_.resize(shape_.m4a);
}

std::vector<uint8_t> ProgressiveLayout::AllotChunks(
    const double (&var)[9][5], uint64_t budget,
    std::vector<uint8_t>* out) const {
  // The prefix bits, a chunk of 32 coordinates at a time: a chunk keeps
  // the top T (0, 1, 2 or 4) of its B-bit index fields in the first pass's
  // sub-codes and the rest in the row (scan::RefineTables), so no bit is
  // held twice; a coordinate of width b then has t = max(0, b - (B - T))
  // prefix bits. The T minimize the expected squared error pass 1 leaves,
  // sum_j importance_j V_j(t_j), within the budget of 32 T bits a chunk:
  // a knapsack over the chunks, solved exactly (the steps are lumpy, 32 or
  // 64 bits, so a greedy one can miss it). The tail (k_ % 32) keeps none.
  const std::vector<uint8_t>& width = info_->width;
  const uint32_t nchunks = k_ / scan::kRefineChunk;
  constexpr uint32_t kChunkT[] = {0, 1, 2, 4};
  auto lane_t = [&](uint32_t j, uint32_t T) -> uint32_t {
    const uint32_t B = width[j / scan::kRefineChunk * scan::kRefineChunk];
    return width[j] + T > B ? width[j] + T - B : 0;
  };
  auto chunk_error = [&](uint32_t c, uint32_t T) {
    double e = 0;
    for (uint32_t j = c * scan::kRefineChunk; j < (c + 1) * scan::kRefineChunk;
         ++j) {
      e += info_->importance[j] * var[width[j]][lane_t(j, T)];
    }
    return e;
  };
  // best[c][u]: the least error of chunks c.. with u units (32 bits) left.
  const uint32_t units = static_cast<uint32_t>(
      std::min<uint64_t>(budget / scan::kRefineChunk, 4 * nchunks));
  constexpr double kInf = std::numeric_limits<double>::infinity();
  std::vector<std::vector<double>> best(nchunks + 1,
                                        std::vector<double>(units + 1, 0.0));
  std::vector<std::vector<uint8_t>> pick(nchunks,
                                         std::vector<uint8_t>(units + 1, 0));
  for (uint32_t c = nchunks; c-- > 0;) {
    const uint32_t cap =
        std::min<uint32_t>(width[c * scan::kRefineChunk], kMaxPrefixBits);
    double err[4];
    for (uint32_t i = 0; i < 4; ++i) {
      err[i] = kChunkT[i] <= cap ? chunk_error(c, kChunkT[i]) : kInf;
    }
    for (uint32_t u = 0; u <= units; ++u) {
      best[c][u] = kInf;
      for (uint32_t i = 0; i < 4; ++i) {
        if (kChunkT[i] > u || err[i] == kInf) continue;
        // Ties to the smaller T (fewer bytes for the same error).
        const double e = err[i] + best[c + 1][u - kChunkT[i]];
        if (e < best[c][u]) {
          best[c][u] = e;
          pick[c][u] = static_cast<uint8_t>(kChunkT[i]);
        }
      }
    }
  }
  std::vector<uint8_t>& chunk_t = *out;
  chunk_t.assign(nchunks, 0);
  for (uint32_t c = 0, u = units; c < nchunks; ++c) {
    chunk_t[c] = pick[c][u];
    u -= chunk_t[c];
  }
  std::vector<uint8_t> t_of(k_, 0);
  for (uint32_t j = 0; j < nchunks * scan::kRefineChunk; ++j) {
    t_of[j] = static_cast<uint8_t>(lane_t(j, chunk_t[j / scan::kRefineChunk]));
  }
  return t_of;
}

void ProgressiveLayout::PackChunks(const std::vector<uint8_t>& chunk_t) {
  const std::vector<uint8_t>& width = info_->width;
  const uint32_t nchunks = static_cast<uint32_t>(chunk_t.size());
  // The sub-codes: chunk c's prefix segment (4 T bytes, the format of
  // scan::RefineTables) is stream A's pairs from its offset on, a byte's
  // low nibble one sub-code and its high nibble the next. Lane i of a
  // chunk sits in byte e, at nibble shift s: T = 4: i = e or 16 + e (high
  // nibble), s = 0; T = 2: i = 8 q + e, q = 0..3, s = 2 (q % 2), high
  // nibble for q >= 2; T = 1: i = 4 m + e, m = 0..7, s = m % 4, high
  // nibble for m >= 4.
  for (uint32_t c = 0; c < nchunks; ++c) {
    const uint32_t T = chunk_t[c];
    for (uint32_t e = 0; e < 4 * T; ++e) {
      for (uint32_t half = 0; half < 2; ++half) {
        std::vector<Slot> slots;
        const uint32_t per = 4 / T;  // lanes a nibble
        for (uint32_t u = 0; u < per; ++u) {
          const uint32_t lane = T == 4   ? 16 * half + e
                                : T == 2 ? 8 * (2 * half + u) + e
                                         : 4 * (4 * half + u) + e;
          const uint32_t j = c * scan::kRefineChunk + lane;
          const uint32_t t = t_[j];
          if (t == 0) continue;
          // The slot's level at each of the 16 entries of its table: the
          // bits of the entry outside the slot's are ignored.
          const std::vector<float>& mu = mu_[width[j]][t];
          const uint32_t shift = u * T;
          const uint32_t at = static_cast<uint32_t>(slot_levels_.size() / 16);
          for (uint32_t v = 0; v < 16; ++v) {
            slot_levels_.push_back(mu[(v >> shift) & ((1u << t) - 1)]);
          }
          slots.push_back(
              {j, static_cast<uint8_t>(t), static_cast<uint8_t>(shift), at});
        }
        nibbles_.push_back(std::move(slots));
      }
    }
  }
  prefix_tables_ = static_cast<uint32_t>(nibbles_.size());
  shape_.m4a = prefix_tables_;  // 8 T a chunk: a multiple of 8
}

size_t ProgressiveLayout::memory_bytes_per_vector() const {
  return shape_.bytes_per_vector();
}

void ProgressiveLayout::Unpack(const uint8_t* code, uint8_t* sub4a,
                               uint8_t* row, float* factors,
                               const float* wc) const {
  thread_local std::vector<uint8_t> idx;
  idx.assign(k_, 0);
  codec_->UnpackIndices(code, idx.data(), factors);
  const std::vector<uint8_t>& width = info_->width;
  for (uint32_t g = 0; g < shape_.m4a; ++g) {
    uint32_t v = 0;
    for (const Slot& s : nibbles_[g]) {
      v |= static_cast<uint32_t>(idx[s.coord] >> (width[s.coord] - s.bits))
           << s.shift;
    }
    sub4a[g] = static_cast<uint8_t>(v);
  }
  scan::PackRefineRow(tables_, idx.data(), row);
  // g1 = scale * ||c||^2 / <c, c1>, g2 = scale * ||c|| tan(c, c1).
  // wc_c, wc_c1: <w(c), c> and <w(c), c1> for delta1.
  double cc = 0, cc1 = 0, c1c1 = 0, wc_c = 0, wc_c1 = 0;
  for (uint32_t j = 0; j < k_; ++j) {
    const uint32_t b = width[j], t = t_[j];
    const double c = info_->levels[b][idx[j]], lam = lambda_[j];
    cc += lam * c * c;
    if (wc != nullptr) wc_c += double{wc[j]} * c;
    if (t == 0) continue;
    const double c1 = mu_[b][t][idx[j] >> (b - t)];
    cc1 += lam * c * c1;
    c1c1 += lam * c1 * c1;
    if (wc != nullptr) wc_c1 += double{wc[j]} * c1;
  }
  const double scale = Scale(factors);
  // No usable prefix: a bound that never rules the vector out (finite, so
  // that it times a zero deviation is 0, not NaN).
  float g1 = 0, g2 = std::numeric_limits<float>::max();
  if (cc1 > 0 && cc > 0) {
    const double cos2 = std::min(1.0, cc1 * cc1 / (cc * c1c1));
    g1 = static_cast<float>(scale * cc / cc1);
    g2 = static_cast<float>(scale * std::sqrt(cc * (1 - cos2) / cos2));
  } else if (cc == 0) {
    g2 = 0;  // a zero code estimates 0 in both passes
  }
  // g2 and delta1 are held as bfloat16: g2, a deviation, rounded up;
  // delta1 to nearest, which the scan's bound allows for.
  factors[codec_factors_] = g1;
  float* f16 = factors + codec_factors_ + 1;
  f16[0] = Bf16ToFloat(Bf16Away(g2));
  if (center1_ >= 0) {
    // delta1 = <c, r> - g1 <w(c), c1>, <c, r> = delta + scale <w(c), c>.
    const double delta = factors[codec_center_];
    f16[center1_] = Bf16ToFloat(Bf16Nearest(
        static_cast<float>(delta + scale * wc_c - double{g1} * wc_c1)));
  }
}

void ProgressiveLayout::BuildQuery(const float* u, ProgressiveQuery* q) const {
  q->w.resize(k_);
  codec_->QueryWeights(u, q->w.data());
  q->lut.assign(size_t{shape_.m4a} * 16, 0.0f);
  // Entry c of a table: the sum over its slots of w * the slot's level at
  // c, in slot order, in a local array (a loop of 16 that vectorizes;
  // written through q->lut, which may alias the levels, it stayed scalar).
  for (uint32_t g = 0; g < prefix_tables_; ++g) {
    float tab[16] = {0};
    for (const Slot& sl : nibbles_[g]) {
      const float w = q->w[sl.coord];
      const float* level = &slot_levels_[size_t{sl.levels} * 16];
      for (uint32_t c = 0; c < 16; ++c) tab[c] += w * level[c];
    }
    std::copy(tab, tab + 16, &q->lut[size_t{g} * 16]);
  }
  float max_abs, sum_abs;
  AbsMaxAndSum(q->w.data(), k_, &max_abs, &sum_abs);
  q->w_err = WeightError(q->w.data());
  // sum_abs raised past the float sum's rounding: sum |wq| stays within
  // the budget.
  float s = std::max(
      max_abs / 32767.0f,
      sum_abs * 1.001f / static_cast<float>(kWeightBudget - (k_ + 1) / 2.0));
  if (!(s > 0)) s = 1.0f;
  q->wq.resize(k_);
  // |w / s| <= 32767 (to rounding).
  scan::RoundRefineWeights(q->w.data(), k_, tables_.nchunks, 1.0f / s,
                           q->wq.data());
  q->wq_scale = static_cast<float>(s / level_scale_);
}

void ProgressiveLayout::ErrorWeights(const float* w, float* out) const {
  for (uint32_t j = 0; j < k_; ++j) out[j] = w[j] * var_share_[j];
}

float ProgressiveLayout::WeightError(const float* w) const {
  // Lanes of partial sums, so that the loop vectorizes (a float sum in
  // one chain does not); w v_j first, so that a share of 0 gives 0 for
  // any finite w.
  constexpr uint32_t kLanes = 16;
  float part[kLanes] = {0};
  uint32_t j = 0;
  for (; j + kLanes <= k_; j += kLanes) {
    for (uint32_t l = 0; l < kLanes; ++l) {
      part[l] += (w[j + l] * var_share_[j + l]) * w[j + l];
    }
  }
  float err = 0;
  for (; j < k_; ++j) err += (w[j] * var_share_[j]) * w[j];
  for (uint32_t l = 0; l < kLanes; ++l) err += part[l];
  return std::sqrt(std::max(err, 0.0f));
}

CentroidWeights::CentroidWeights(const ProgressiveLayout& layout,
                                 const ScanCodec& codec, const float* centroids,
                                 uint32_t nlist, uint32_t dim)
    : k_(static_cast<uint32_t>(codec.scalar_info()->width.size())),
      inv_sqrt_k_(1.0f / std::sqrt(static_cast<float>(k_))),
      w_(size_t{nlist} * k_),
      codec_(RefineKind::kInt8, k_),
      codes_(size_t{nlist} * codec_.code_words()),
      err_norm_(nlist),
      werr_sq_(nlist) {
  std::vector<float> decoded(k_);
  for (uint32_t l = 0; l < nlist; ++l) {
    float* w = &w_[size_t{l} * k_];
    codec.QueryWeights(centroids + size_t{l} * dim, w);
    const float e = layout.WeightError(w);
    werr_sq_[l] = e * e;
    float* c = &codes_[size_t{l} * codec_.code_words()];
    codec_.Encode(w, c);
    codec_.Decode(c, decoded.data());
    double err = 0;
    for (uint32_t j = 0; j < k_; ++j) {
      const double x = double{w[j]} - decoded[j];
      err += x * x;
    }
    // Rounded up: the bound needs at least the error.
    err_norm_[l] = static_cast<float>(std::sqrt(err)) * 1.001f;
  }
}

}  // namespace tqdb
