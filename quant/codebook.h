// Lloyd-Max scalar codebooks for one coordinate of a rotated unit vector.
//
// After a uniformly random rotation, each coordinate t of a unit vector in
// R^d follows f_d(t) ~ (1 - t^2)^((d-3)/2) on [-1, 1] (TurboQuant, Lemma 1),
// close to N(0, 1/d) for large d. ExactBeta(d, b) solves the continuous 1-D
// k-means (Lloyd-Max) problem for f_d with 2^b levels: each cell's mass and
// mean come in closed form (codebook.cc, class Law: O(d) for the Beta law,
// O(1) for the Gaussian), and Newton's method on the centroid condition
// runs from a Panter-Dite (f^(1/3)) start until the levels are their cells'
// means to 1e-14 sigma: 10 ms at 8 bits and d = 1536, 0.1 ms at 4 bits and
// d = 16, where tabulating the density and iterating Lloyd took 0.2 s
// (every process that creates a collection computes one). Gaussian(d, b) does
// the same for N(0, 1/d) (the large-d limit), kept for the exact-vs-Gaussian
// ablation.
//
// Results are computed once per (kind, d, b) and cached for the process
// (thread-safe). Centroids are in the units of t (unit-vector coordinates),
// i.e. the Gaussian table values divided by sqrt(d).
#ifndef TQDB_QUANT_CODEBOOK_H_
#define TQDB_QUANT_CODEBOOK_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tqdb {

enum class CodebookKind : uint32_t { kExactBeta = 0, kGaussian = 1 };

struct Codebook {
  CodebookKind kind = CodebookKind::kExactBeta;
  uint32_t dim = 0;
  uint32_t bits = 0;
  // 2^bits sorted centroids (symmetric about 0).
  std::vector<float> centroids;
  // 2^bits - 1 sorted boundaries (midpoints) followed by +infinity: the
  // threshold table kernels::Quantize expects.
  std::vector<float> thresholds;
  // The codebook's own prediction of E||y - y_hat||^2 for a unit vector
  // (d times the per-coordinate MSE).
  double expected_mse = 0.0;

  // Serialized form (persisted with collections): kind, dim, bits,
  // centroids, expected_mse, crc32c. Boundaries are re-derived.
  std::string Serialize() const;
  static absl::StatusOr<Codebook> Deserialize(absl::string_view bytes);
};

// Cached; InvalidArgument for dim < 2 or bits outside [1, 8].
absl::StatusOr<std::shared_ptr<const Codebook>> GetCodebook(CodebookKind kind,
                                                            uint32_t dim,
                                                            uint32_t bits);

// Probability of each centroid's cell (between its thresholds) under the
// codebook's law (kind, dim); sums to 1. In closed form: O(2^bits * dim),
// a few microseconds, since every collection's index computes them on load.
std::vector<double> CellMasses(const Codebook& cb);

}  // namespace tqdb

#endif  // TQDB_QUANT_CODEBOOK_H_
