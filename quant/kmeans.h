// k-means clustering under squared L2, for IVF coarse quantizers and for the
// sub-quantizers of product quantization.
//
// TrainKMeans runs k-means++ seeding (D^2 sampling) followed by Lloyd
// iterations, on a random sample of at most k * max_points_per_centroid
// rows (FAISS convention). The seeding draws exactly from the D^2
// distribution but refreshes the distances in batches: candidates are drawn
// from the weights of the last full pass and accepted with probability
// (current weight / stale weight), the current weight also counting the up
// to 64 centroids chosen since; so the passes over the data are blocked
// matrix products instead of k sequential scans. Clusters that become empty are
// re-seeded the FAISS way: a cluster is chosen with probability proportional to
// (size - 1), its centroid is copied into the empty slot, the two copies are
// pushed apart by a symmetric relative perturbation of 1/1024 per coordinate,
// and the points are split between them at the next assignment.
//
// Distances use ||x||^2 + ||c||^2 - 2<x,c> with precomputed centroid norms,
// evaluated by a cache-blocked, register-blocked SIMD kernel (Highway dynamic
// dispatch): tiles of points against panels of 32 centroids stored
// transposed, so both tiny PQ sub-spaces (d = 2..16) and IVF-sized problems
// (k ~ 1000, d ~ 1536) run at a good fraction of peak FMA throughput.
//
// Determinism: for a fixed seed, input and CPU target, the result is
// identical for every num_threads (each point's distances are computed in the
// same order whatever the split, and all reductions over points run in point
// order). All random choices use the pinned tqdb::Rng, never std::
// distributions. It is also identical on every SIMD target: each centroid
// distance is a running fused multiply-add over the coordinates in order (a
// centroid per lane, emulated with std::fma where the target has no FMA) and
// the norms are sums in kernels::Dot's canonical order, so an index trained
// on an AVX-512 machine and on an AVX2 one is the same index.
//
// Thread-safety: TrainKMeans and AssignNearest are reentrant; they spawn and
// join their own std::threads when num_threads > 1. A CentroidAssigner is
// immutable after construction; Assign() may be called concurrently.
#ifndef TQDB_QUANT_KMEANS_H_
#define TQDB_QUANT_KMEANS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "hwy/aligned_allocator.h"

namespace tqdb {

// How the initial centroids are chosen.
enum class KMeansInit : uint32_t {
  // k-means++ (Arthur & Vassilvitskii 2007): the first centroid is a uniform
  // random point, every next one a point drawn with probability proportional
  // to its squared distance to the nearest centroid chosen so far.
  kKMeansPlusPlus = 0,
  // k distinct random points (FAISS's default). Kept as a baseline.
  kRandom = 1,
};

struct KMeansOptions {
  // Number of centroids. REQUIRED: >= 1 and <= number of points.
  uint32_t k = 0;
  // Maximum number of Lloyd update steps. Training stops earlier when an
  // assignment step changes no point's cluster (and no cluster is empty).
  // 0 returns the seeding itself (with its sizes and objective).
  uint32_t max_iter = 25;
  // Seed of every random choice (training sample, seeding, splits).
  uint64_t seed = 1234;
  // Training sample cap: when n > k * max_points_per_centroid, a uniform
  // random subset of that many rows is used (like FAISS). 0 = no cap.
  uint32_t max_points_per_centroid = 256;
  // Threads for the assignment, seeding and update steps; 0 is treated as 1.
  // The result does not depend on this value.
  uint32_t num_threads = 1;
  // Seeding method.
  KMeansInit init = KMeansInit::kKMeansPlusPlus;
  // Optional: polled before each seeding refresh and each Lloyd step; when
  // it returns true, training stops with Cancelled (a database that closes
  // does not wait for a long training). Must be thread-safe.
  std::function<bool()> cancelled;
};

struct KMeansResult {
  // k * dim floats, row-major: centroid c is centroids[c*dim, (c+1)*dim).
  std::vector<float> centroids;
  // Points of the training sample nearest to each centroid (final
  // assignment). Sums to num_train. An entry can be 0 only when the sample
  // has fewer than k distinct points (splitting could not separate them).
  std::vector<uint32_t> sizes;
  // Sum over the training sample of the squared distance to the nearest
  // returned centroid.
  double objective = 0;
  // Lloyd update steps performed (<= max_iter).
  uint32_t iterations = 0;
  // Total number of empty clusters re-seeded by splitting, over all steps.
  uint32_t empty_splits = 0;
  // Rows actually used for training (n, or the sample size).
  size_t num_train = 0;
  // List-size statistics of `sizes`.
  uint32_t min_size = 0;
  uint32_t max_size = 0;
  // FAISS imbalance factor k * sum(sizes[i]^2) / (sum sizes)^2: 1 for
  // perfectly balanced lists, k when every point is in one list.
  double imbalance = 0;
};

// Clusters the n rows of x (row-major n x dim floats; not retained).
// Errors (InvalidArgument, message naming the offending value): k == 0,
// dim == 0, n < k, x == nullptr, a NaN or infinite coordinate, or a row whose
// squared norm overflows float.
absl::StatusOr<KMeansResult> TrainKMeans(const float* x, size_t n, uint32_t dim,
                                         const KMeansOptions& opts);

// FAISS imbalance factor of a list-size histogram (see KMeansResult);
// 0 for an empty histogram or when all sizes are 0.
double ImbalanceFactor(absl::Span<const uint32_t> sizes);

// Nearest-centroid search against a fixed set of centroids, with the
// centroid norms and the SIMD-friendly transposed layout precomputed once.
// Use it instead of AssignNearest when the same centroids serve many calls
// (PQ encoding, IVF insertion). Copies the centroids; immutable afterwards.
// Movable, not copyable.
class CentroidAssigner {
 public:
  // REQUIRES: k >= 1, dim >= 1, centroids holds k * dim finite floats.
  CentroidAssigner(const float* centroids, uint32_t k, uint32_t dim);

  uint32_t k() const { return k_; }
  uint32_t dim() const { return dim_; }

  // For each i < n, the point x + i * stride (dim floats; stride >= dim lets
  // callers pass sub-vectors of wider rows) gets assign[i] = index of the
  // nearest centroid by squared L2, ties broken towards the lowest index,
  // and, if dist != nullptr, dist[i] = that squared distance (clamped at 0;
  // computed as ||x||^2 + ||c||^2 - 2<x,c>, so accurate to about
  // 1e-7 * ||x||^2). Non-finite input gives unspecified (but memory-safe)
  // results. Uses up to num_threads threads (0 is treated as 1); the output
  // does not depend on the thread count.
  void Assign(const float* x, size_t n, size_t stride, uint32_t* assign,
              float* dist = nullptr, uint32_t num_threads = 1) const;

 private:
  uint32_t k_;
  uint32_t dim_;
  size_t num_panels_;
  // Panel p holds centroids [32p, 32p + 32) as dim rows of 32 floats,
  // scaled by -2; padding centroids are 0.
  hwy::AlignedFreeUniquePtr<float[]> panels_;
  // ||c||^2 per padded centroid; +infinity for padding.
  hwy::AlignedFreeUniquePtr<float[]> norms_;
};

// Nearest centroid by squared L2 for each of the n rows of x (n x dim,
// row-major): writes assign[n] and, if non-null, dist[n] (squared L2).
// Equivalent to CentroidAssigner(centroids, k, dim).Assign(x, n, dim, ...);
// does nothing when k == 0, dim == 0 or n == 0.
void AssignNearest(const float* centroids, uint32_t k, const float* x, size_t n,
                   uint32_t dim, uint32_t* assign, float* dist = nullptr,
                   uint32_t num_threads = 1);

}  // namespace tqdb

#endif  // TQDB_QUANT_KMEANS_H_
