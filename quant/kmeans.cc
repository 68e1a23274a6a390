// k-means (see quant/kmeans.h). This file is also the Highway dispatch
// translation unit of its nearest-centroid kernel: foreach_target re-includes
// it once per SIMD target (hwy/examples/skeleton.cc pattern); everything
// outside the per-target block is compiled once (HWY_ONCE).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "quant/kmeans.cc"
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "quant/kernels-inl.h"
#include "quant/kernels.h"

// Shared by every target.
#ifndef TQDB_QUANT_KMEANS_CONSTANTS_
#define TQDB_QUANT_KMEANS_CONSTANTS_
namespace tqdb {
namespace kmeans_internal {
// Centroids per panel of the transposed layout.
constexpr size_t kPanel = 32;
// Points per tile are chosen so that a tile takes about this many bytes...
constexpr size_t kTileBytes = 512 * 1024;
constexpr size_t kMaxTilePoints = 256;
// ...and consecutive panels are grouped into blocks of about this size, which
// stay in L2 while every point of the tile passes over them.
constexpr size_t kPanelBlockBytes = 768 * 1024;
}  // namespace kmeans_internal
}  // namespace tqdb
#endif

HWY_BEFORE_NAMESPACE();
namespace tqdb {
namespace kmeans_internal {
namespace HWY_NAMESPACE {

namespace hn = hwy::HWY_NAMESPACE;

// Up to 16 lanes. A panel of 32 centroids is processed in passes of two
// vectors (2N centroids): one pass on AVX-512, two on AVX2, four on SSE4.
using DF = hn::CappedTag<float, 16>;
using DI = hn::RebindToSigned<DF>;
constexpr size_t kLanes = hn::MaxLanes(DF());
constexpr size_t kPassWidth = 2 * kLanes;
constexpr size_t kPasses = kPanel / kPassWidth;
// Rows per kernel call, so that the 2R accumulators, the 2R running minima
// and indices, two panel vectors and a broadcast fit in the register file
// (27 of 32 vectors on AVX-512, 15 of 16 below).
constexpr size_t kRows = kLanes >= 16 ? 6 : 3;
static_assert(kPanel % kPassWidth == 0, "panel must be whole passes");

// For R rows and panels [p0, p1): s = ||c||^2 - 2<x,c> for every centroid
// (panels store -2c transposed). Each row keeps a per-lane running minimum
// and its index (centroids visited in increasing order, strict <, so each
// lane keeps its first minimum); one horizontal reduction per call then
// updates (best, best_idx) of the first `valid` rows with the first
// (lowest-index) minimum.
template <size_t R>
HWY_INLINE void BlockKernel(const float* const* rows, size_t dim,
                            const float* HWY_RESTRICT panels,
                            const float* HWY_RESTRICT norms, size_t p0,
                            size_t p1, size_t valid, float* HWY_RESTRICT best,
                            uint32_t* HWY_RESTRICT best_idx) {
  const DF d;
  const DI di;
  using V = hn::Vec<DF>;
  using VI = hn::Vec<DI>;
  V vmin[R];
  VI vidx[R];
  for (size_t r = 0; r < R; ++r) {
    vmin[r] = hn::Set(d, std::numeric_limits<float>::infinity());
    vidx[r] = hn::Zero(di);
  }
  const VI iota = hn::Iota(di, 0);
  for (size_t p = p0; p < p1; ++p) {
    const float* HWY_RESTRICT panel = panels + p * dim * kPanel;
    for (size_t h = 0; h < kPasses; ++h) {
      const size_t first = p * kPanel + h * kPassWidth;  // centroid index
      const float* HWY_RESTRICT col = panel + h * kPassWidth;
      V acc0[R], acc1[R];
      {
        const V n0 = hn::Load(d, norms + first);
        const V n1 = hn::Load(d, norms + first + kLanes);
        for (size_t r = 0; r < R; ++r) {
          acc0[r] = n0;
          acc1[r] = n1;
        }
      }
      for (size_t j = 0; j < dim; ++j) {
        const V c0 = hn::Load(d, col + j * kPanel);
        const V c1 = hn::Load(d, col + j * kPanel + kLanes);
        for (size_t r = 0; r < R; ++r) {
          const V xv = hn::Set(d, rows[r][j]);
          acc0[r] = kernels::HWY_NAMESPACE::FusedMulAdd(d, xv, c0, acc0[r]);
          acc1[r] = kernels::HWY_NAMESPACE::FusedMulAdd(d, xv, c1, acc1[r]);
        }
      }
      const VI ids0 = hn::Add(iota, hn::Set(di, static_cast<int32_t>(first)));
      const VI ids1 =
          hn::Add(iota, hn::Set(di, static_cast<int32_t>(first + kLanes)));
      for (size_t r = 0; r < R; ++r) {
        const auto lt0 = hn::Lt(acc0[r], vmin[r]);
        vmin[r] = hn::IfThenElse(lt0, acc0[r], vmin[r]);
        vidx[r] = hn::IfThenElse(hn::RebindMask(di, lt0), ids0, vidx[r]);
        const auto lt1 = hn::Lt(acc1[r], vmin[r]);
        vmin[r] = hn::IfThenElse(lt1, acc1[r], vmin[r]);
        vidx[r] = hn::IfThenElse(hn::RebindMask(di, lt1), ids1, vidx[r]);
      }
    }
  }
  for (size_t r = 0; r < valid; ++r) {
    const V mv = hn::MinOfLanes(d, vmin[r]);
    const float mval = hn::GetLane(mv);
    if (mval < best[r]) {
      best[r] = mval;
      const VI cand =
          hn::IfThenElse(hn::RebindMask(di, hn::Eq(vmin[r], mv)), vidx[r],
                         hn::Set(di, std::numeric_limits<int32_t>::max()));
      best_idx[r] =
          static_cast<uint32_t>(hn::GetLane(hn::MinOfLanes(di, cand)));
    }
  }
}

// ||row||^2 in an order every target shares (quant/kmeans.h, Determinism):
// kernels::Dot's canonical sum, or for tiny PQ sub-spaces a plain running
// fused sum (inline: a dispatched call per point would cost more than the
// distances themselves there).
HWY_INLINE float SquaredNorm(const float* HWY_RESTRICT row, size_t dim) {
  if (dim >= kernels::kSumLanes) {
    return kernels::HWY_NAMESPACE::DotImpl(row, row, dim);
  }
  float s = 0.0f;
  for (size_t j = 0; j < dim; ++j) s = std::fma(row[j], row[j], s);
  return s;
}

void AssignRangeImpl(const float* x, size_t n, size_t stride, size_t dim,
                     const float* panels, const float* norms, size_t num_panels,
                     uint32_t* assign, float* dist) {
  const size_t panel_floats = dim * kPanel;
  const size_t tile = std::min(
      kMaxTilePoints, std::max(kRows, kTileBytes / (sizeof(float) * dim)));
  const size_t block =
      std::max<size_t>(1, kPanelBlockBytes / (sizeof(float) * panel_floats));
  float best[kMaxTilePoints];
  uint32_t best_idx[kMaxTilePoints];
  for (size_t i0 = 0; i0 < n; i0 += tile) {
    const size_t nt = std::min(tile, n - i0);
    std::fill(best, best + nt, std::numeric_limits<float>::infinity());
    std::fill(best_idx, best_idx + nt, 0u);
    for (size_t p0 = 0; p0 < num_panels; p0 += block) {
      const size_t p1 = std::min(num_panels, p0 + block);
      for (size_t r0 = 0; r0 < nt; r0 += kRows) {
        const size_t valid = std::min(kRows, nt - r0);
        const float* rows[kRows];
        for (size_t r = 0; r < kRows; ++r) {
          rows[r] = x + (i0 + r0 + std::min(r, valid - 1)) * stride;
        }
        BlockKernel<kRows>(rows, dim, panels, norms, p0, p1, valid, best + r0,
                           best_idx + r0);
      }
    }
    for (size_t r = 0; r < nt; ++r) {
      assign[i0 + r] = best_idx[r];
      if (dist != nullptr) {
        const float* row = x + (i0 + r) * stride;
        const float v = SquaredNorm(row, dim) + best[r];
        dist[i0 + r] = v > 0.0f ? v : 0.0f;
      }
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace kmeans_internal
}  // namespace tqdb
HWY_AFTER_NAMESPACE();

#if HWY_ONCE

#include <cmath>
#include <cstring>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "quant/kmeans.h"
#include "quant/parallel.h"
#include "quant/random.h"
#include "quant/status_macros.h"

namespace tqdb {
namespace kmeans_internal {
HWY_EXPORT(AssignRangeImpl);
}  // namespace kmeans_internal

namespace {

using kmeans_internal::kPanel;
using quant_internal::NonFiniteName;
using quant_internal::ParallelRanges;

// k-means++: centroids added since the last full distance refresh are
// "pending"; the D^2 weights are refreshed (one blocked pass over all points
// against all pending centroids) when kSeedBatch are pending, or after
// kSeedMaxRejections consecutive rejected candidates.
constexpr size_t kSeedBatch = 64;
constexpr uint32_t kSeedMaxRejections = 16;
// Relative perturbation of a split centroid (FAISS's EPS).
constexpr float kSplitEps = 1.0f / 1024.0f;

// InvalidArgument naming the first non-finite coordinate, or a row whose
// squared norm overflows float.
absl::Status CheckFinite(const float* x, size_t n, uint32_t dim) {
  for (size_t i = 0; i < n; ++i) {
    const float* row = x + i * dim;
    if (std::isfinite(kernels::Dot(row, row, dim))) continue;
    for (uint32_t j = 0; j < dim; ++j) {
      if (!std::isfinite(row[j])) {
        return absl::InvalidArgumentError(
            absl::StrCat("k-means: row ", i, " coordinate ", j, " is ",
                         NonFiniteName(row[j])));
      }
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "k-means: row ", i, " has a squared norm that overflows float"));
  }
  return absl::OkStatus();
}

// m distinct indices of [0, n), uniformly at random (partial Fisher-Yates),
// in the order drawn.
std::vector<size_t> SampleIndices(size_t n, size_t m, Rng* rng) {
  std::vector<size_t> idx(n);
  for (size_t i = 0; i < n; ++i) idx[i] = i;
  for (size_t i = 0; i < m; ++i) {
    const size_t j = i + static_cast<size_t>(rng->Uniform(n - i));
    std::swap(idx[i], idx[j]);
  }
  idx.resize(m);
  return idx;
}

// False when `cancelled` said so (polled before each refresh).
bool SeedKMeansPlusPlus(const float* x, size_t n, uint32_t dim, uint32_t k,
                        uint32_t num_threads,
                        const std::function<bool()>& cancelled, Rng* rng,
                        float* centroids) {
  // d2[i]: squared distance of point i to the nearest centroid that was
  // chosen before the last refresh (the "stale" weight W_i). The current
  // weight w_i = min(W_i, distance to the pending centroids) is never larger,
  // so drawing i with probability W_i / sum(W) and accepting it with
  // probability w_i / W_i draws exactly from the D^2 distribution.
  std::vector<float> d2(n, std::numeric_limits<float>::infinity());
  std::vector<double> cum(n);
  std::vector<size_t> pending;
  std::vector<float> pending_rows;
  std::vector<uint32_t> tmp_assign(n);
  std::vector<float> tmp_dist(n);
  uint32_t chosen = 0;
  auto add = [&](size_t i) {
    std::memcpy(centroids + size_t{chosen} * dim, x + i * dim,
                sizeof(float) * dim);
    ++chosen;
    pending.push_back(i);
  };
  add(static_cast<size_t>(rng->Uniform(n)));
  double total = 0;
  uint32_t rejections = 0;
  bool refresh = true;
  while (chosen < k) {
    if (!pending.empty() && (refresh || pending.size() >= kSeedBatch)) {
      if (cancelled && cancelled()) return false;
      pending_rows.resize(pending.size() * dim);
      for (size_t p = 0; p < pending.size(); ++p) {
        std::memcpy(&pending_rows[p * dim], x + pending[p] * dim,
                    sizeof(float) * dim);
      }
      const CentroidAssigner assigner(
          pending_rows.data(), static_cast<uint32_t>(pending.size()), dim);
      assigner.Assign(x, n, dim, tmp_assign.data(), tmp_dist.data(),
                      num_threads);
      for (size_t i = 0; i < n; ++i) d2[i] = std::min(d2[i], tmp_dist[i]);
      for (size_t p : pending) d2[p] = 0.0f;
      double s = 0;
      for (size_t i = 0; i < n; ++i) {
        s += d2[i];
        cum[i] = s;
      }
      total = s;
      pending.clear();
      rejections = 0;
      refresh = false;
    }
    if (!(total > 0)) {
      // Every point coincides with a chosen centroid (fewer than k distinct
      // points): any choice is as good; empty clusters are split later.
      add(static_cast<size_t>(rng->Uniform(n)));
      continue;
    }
    const double u = rng->UniformDouble() * total;
    size_t i = static_cast<size_t>(std::upper_bound(cum.begin(), cum.end(), u) -
                                   cum.begin());
    if (i >= n) i = n - 1;
    while (i > 0 && d2[i] == 0.0f) --i;  // guard against rounding
    const float stale = d2[i];
    float w = stale;
    for (size_t p : pending) {
      w = std::min(w, kernels::L2Sqr(x + i * dim, x + p * dim, dim));
    }
    const bool accept =
        stale > 0 &&
        (w >= stale || (w > 0 && rng->UniformDouble() * stale < w));
    if (accept) {
      add(i);
    } else if (++rejections >= kSeedMaxRejections) {
      refresh = true;
    }
  }
  return true;
}

// Assigns every point; returns the objective and fills sizes.
double AssignAll(const float* x, size_t n, uint32_t dim,
                 const std::vector<float>& centroids, uint32_t k,
                 uint32_t num_threads, uint32_t* assign, float* dist,
                 std::vector<uint32_t>* sizes) {
  const CentroidAssigner assigner(centroids.data(), k, dim);
  assigner.Assign(x, n, dim, assign, dist, num_threads);
  sizes->assign(k, 0);
  double objective = 0;
  for (size_t i = 0; i < n; ++i) {
    objective += dist[i];
    ++(*sizes)[assign[i]];
  }
  return objective;
}

// Centroid c <- mean of its points (double sums, in point order), for the
// non-empty clusters; empty ones keep their old value. Threads split the
// centroids, so every sum is formed in the same order for any thread count.
void UpdateCentroids(const float* x, size_t n, uint32_t dim, uint32_t k,
                     const uint32_t* assign, const std::vector<uint32_t>& sizes,
                     uint32_t num_threads, std::vector<float>* centroids) {
  std::vector<double> sums(size_t{k} * dim);
  // Each thread scans all assignments, so only big problems are split.
  const uint32_t threads = n * dim >= (size_t{1} << 20) ? num_threads : 1;
  ParallelRanges(k, threads, 1, [&](size_t c0, size_t c1) {
    for (size_t i = 0; i < n; ++i) {
      const uint32_t c = assign[i];
      if (c < c0 || c >= c1) continue;
      double* s = &sums[size_t{c} * dim];
      const float* row = x + i * dim;
      for (uint32_t j = 0; j < dim; ++j) s[j] += row[j];
    }
    for (size_t c = c0; c < c1; ++c) {
      if (sizes[c] == 0) continue;
      const double inv = 1.0 / sizes[c];
      float* out = &(*centroids)[c * dim];
      const double* s = &sums[c * dim];
      for (uint32_t j = 0; j < dim; ++j) {
        out[j] = static_cast<float>(s[j] * inv);
      }
    }
  });
}

// FAISS-style re-seeding of empty clusters; returns how many were split.
uint32_t SplitEmptyClusters(uint32_t dim, uint32_t k, Rng* rng,
                            std::vector<float>* centroids,
                            std::vector<uint32_t>* sizes) {
  uint32_t splits = 0;
  std::vector<uint32_t>& sz = *sizes;
  for (uint32_t ci = 0; ci < k; ++ci) {
    if (sz[ci] != 0) continue;
    // Pick cj with probability proportional to sizes[cj] - 1.
    uint64_t total = 0;
    for (uint32_t c = 0; c < k; ++c) total += sz[c] > 1 ? sz[c] - 1 : 0;
    if (total == 0) break;  // nothing left to split
    uint64_t r = rng->Uniform(total);
    uint32_t cj = 0;
    for (; cj < k; ++cj) {
      const uint64_t wgt = sz[cj] > 1 ? sz[cj] - 1 : 0;
      if (r < wgt) break;
      r -= wgt;
    }
    float* dst = &(*centroids)[size_t{ci} * dim];
    float* src = &(*centroids)[size_t{cj} * dim];
    std::memcpy(dst, src, sizeof(float) * dim);
    for (uint32_t j = 0; j < dim; ++j) {
      if (j % 2 == 0) {
        dst[j] *= 1.0f + kSplitEps;
        src[j] *= 1.0f - kSplitEps;
      } else {
        dst[j] *= 1.0f - kSplitEps;
        src[j] *= 1.0f + kSplitEps;
      }
    }
    // Assume an even split until the next assignment.
    sz[ci] = sz[cj] / 2;
    sz[cj] -= sz[ci];
    ++splits;
  }
  return splits;
}

}  // namespace

double ImbalanceFactor(absl::Span<const uint32_t> sizes) {
  double total = 0, squares = 0;
  for (uint32_t s : sizes) {
    total += s;
    squares += static_cast<double>(s) * s;
  }
  if (total == 0) return 0;
  return static_cast<double>(sizes.size()) * squares / (total * total);
}

CentroidAssigner::CentroidAssigner(const float* centroids, uint32_t k,
                                   uint32_t dim)
    : k_(k), dim_(dim), num_panels_((size_t{k} + kPanel - 1) / kPanel) {
  const size_t padded = num_panels_ * kPanel;
  panels_ = hwy::AllocateAligned<float>(std::max<size_t>(1, padded * dim));
  norms_ = hwy::AllocateAligned<float>(std::max<size_t>(1, padded));
  std::fill(panels_.get(), panels_.get() + padded * dim, 0.0f);
  for (size_t c = 0; c < padded; ++c) {
    float* panel = panels_.get() + (c / kPanel) * dim * kPanel;
    const size_t lane = c % kPanel;
    if (c >= k) {
      norms_[c] = std::numeric_limits<float>::infinity();
      continue;
    }
    const float* row = centroids + c * dim;
    norms_[c] = kernels::Dot(row, row, dim);
    for (uint32_t j = 0; j < dim; ++j)
      panel[j * kPanel + lane] = -2.0f * row[j];
  }
}

void CentroidAssigner::Assign(const float* x, size_t n, size_t stride,
                              uint32_t* assign, float* dist,
                              uint32_t num_threads) const {
  if (k_ == 0 || dim_ == 0 || n == 0) return;
  // At least about 2^20 multiply-adds per thread.
  const size_t min_per_thread = std::max<size_t>(
      1, (size_t{1} << 20) / (size_t{dim_} * num_panels_ * kPanel));
  ParallelRanges(n, num_threads, min_per_thread, [&](size_t b, size_t e) {
    HWY_DYNAMIC_DISPATCH(kmeans_internal::AssignRangeImpl)
    (x + b * stride, e - b, stride, dim_, panels_.get(), norms_.get(),
     num_panels_, assign + b, dist != nullptr ? dist + b : nullptr);
  });
}

void AssignNearest(const float* centroids, uint32_t k, const float* x, size_t n,
                   uint32_t dim, uint32_t* assign, float* dist,
                   uint32_t num_threads) {
  if (k == 0 || dim == 0 || n == 0) return;
  const CentroidAssigner assigner(centroids, k, dim);
  assigner.Assign(x, n, dim, assign, dist, num_threads);
}

namespace {
absl::Status Cancelled() { return absl::CancelledError("k-means cancelled"); }
}  // namespace

absl::StatusOr<KMeansResult> TrainKMeans(const float* x, size_t n, uint32_t dim,
                                         const KMeansOptions& opts) {
  const uint32_t k = opts.k;
  if (k == 0) {
    return absl::InvalidArgumentError("k-means: k must be >= 1, got 0");
  }
  if (dim == 0) {
    return absl::InvalidArgumentError("k-means: dim must be >= 1, got 0");
  }
  if (n < k) {
    return absl::InvalidArgumentError(
        absl::StrCat("k-means: need at least k=", k, " points, got ", n));
  }
  if (x == nullptr) {
    return absl::InvalidArgumentError("k-means: x is null");
  }
  TQ_RETURN_IF_ERROR(CheckFinite(x, n, dim));
  const uint32_t threads = std::max<uint32_t>(1, opts.num_threads);
  Rng rng(opts.seed);

  // Training sample.
  const float* data = x;
  size_t nt = n;
  std::vector<float> sample;
  if (opts.max_points_per_centroid > 0 &&
      n > uint64_t{k} * opts.max_points_per_centroid) {
    nt = size_t{k} * opts.max_points_per_centroid;
    std::vector<size_t> idx = SampleIndices(n, nt, &rng);
    std::sort(idx.begin(), idx.end());
    sample.resize(nt * dim);
    for (size_t i = 0; i < nt; ++i) {
      std::memcpy(&sample[i * dim], x + idx[i] * dim, sizeof(float) * dim);
    }
    data = sample.data();
  }

  KMeansResult res;
  res.num_train = nt;
  res.centroids.resize(size_t{k} * dim);
  if (opts.init == KMeansInit::kRandom) {
    const std::vector<size_t> idx = SampleIndices(nt, k, &rng);
    for (uint32_t c = 0; c < k; ++c) {
      std::memcpy(&res.centroids[size_t{c} * dim], data + idx[c] * dim,
                  sizeof(float) * dim);
    }
  } else if (!SeedKMeansPlusPlus(data, nt, dim, k, threads, opts.cancelled,
                                 &rng, res.centroids.data())) {
    return Cancelled();
  }

  std::vector<uint32_t> assign(nt), prev(nt);
  std::vector<float> dist(nt);
  res.objective = AssignAll(data, nt, dim, res.centroids, k, threads,
                            assign.data(), dist.data(), &res.sizes);
  for (uint32_t it = 0; it < opts.max_iter; ++it) {
    if (opts.cancelled && opts.cancelled()) return Cancelled();
    UpdateCentroids(data, nt, dim, k, assign.data(), res.sizes, threads,
                    &res.centroids);
    const uint32_t splits =
        SplitEmptyClusters(dim, k, &rng, &res.centroids, &res.sizes);
    res.empty_splits += splits;
    ++res.iterations;
    assign.swap(prev);
    res.objective = AssignAll(data, nt, dim, res.centroids, k, threads,
                              assign.data(), dist.data(), &res.sizes);
    // Converged: the centroids are the means of an assignment that
    // reproduces itself.
    if (splits == 0 && assign == prev &&
        std::find(res.sizes.begin(), res.sizes.end(), 0u) == res.sizes.end()) {
      break;
    }
  }
  res.min_size = *std::min_element(res.sizes.begin(), res.sizes.end());
  res.max_size = *std::max_element(res.sizes.begin(), res.sizes.end());
  res.imbalance = ImbalanceFactor(res.sizes);
  return res;
}

}  // namespace tqdb
#endif  // HWY_ONCE
