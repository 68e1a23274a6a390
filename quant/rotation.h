// Random rotations of R^d used by the quantizer.
//
// HadamardRotation is the production rotation: a seeded, structured,
// orthogonal transform applied in O(R * d log d) for every d >= 2, with no
// padding (the output has exactly d coordinates). Let P be the largest power
// of two <= d. Round r (r = 0..R-1) applies
//     x <- D_r * Perm_r * x             (random permutation, random signs)
//     x[0 : P]   <- H_P x[0 : P] / sqrt(P)       (normalized Walsh-Hadamard)
//     x[d-P : d] <- H_P x[d-P : d] / sqrt(P)     (only when d != P)
// The two windows overlap whenever d is not a power of two, so every
// coordinate is mixed in every round (a single alternating window leaves a
// coordinate untouched with probability (1 - P/d) per round, which shows up
// as heavy-tailed rotated coordinates). R defaults to 3 for powers of two
// (HD3) and 4 otherwise (measured: 3 rounds at d = 768 still leave the
// rotated coordinates of e_0 with kurtosis 3.4 instead of 3).
//
// Determinism: permutations and signs come from the pinned Rng (random.h),
// and the transform only permutes, flips signs, adds, subtracts and scales,
// so Apply() is bit-identical on every machine and every SIMD target for the
// same seed. Serialize() stores the explicit permutations and signs, so a
// persisted rotation never depends on the generator again.
//
// DenseRotation is a Haar-distributed d x d orthogonal matrix (QR of a
// Gaussian matrix, sign-corrected): O(d^2) per vector, the reference for tests
// and for the paper's exact setting. It uses libm, so it is not bit-pinned.
//
// Thread-safety: both classes are immutable after construction; Apply and
// ApplyInverse may be called concurrently.
#ifndef TQDB_QUANT_ROTATION_H_
#define TQDB_QUANT_ROTATION_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tqdb {

class HadamardRotation {
 public:
  // Returns InvalidArgument if dim < 2 or rounds is outside [1, 16].
  // rounds = 0 selects the default (3 for powers of two, 4 otherwise).
  static absl::StatusOr<HadamardRotation> Create(uint32_t dim, uint64_t seed,
                                                 uint32_t rounds = 0);
  // Parses bytes written by Serialize(); DataLoss on any inconsistency.
  static absl::StatusOr<HadamardRotation> Deserialize(absl::string_view bytes);

  std::string Serialize() const;

  uint32_t dim() const { return dim_; }
  uint32_t rounds() const { return rounds_; }
  uint64_t seed() const { return seed_; }

  // out = Pi * in. `in` and `out` hold dim() floats and may alias.
  // `scratch` must hold dim() floats and not alias in/out.
  void Apply(const float* in, float* out, float* scratch) const;
  // out = Pi^T * in (the inverse).
  void ApplyInverse(const float* in, float* out, float* scratch) const;

  // Bytes of its own state Apply reads (the permutations and signs), for
  // accounting the memory a query reads.
  size_t ApplyBytes() const {
    return perm_.size() * sizeof(uint32_t) + signs_.size() * sizeof(float);
  }

  // Convenience overloads allocating their own scratch.
  std::vector<float> Apply(const std::vector<float>& in) const;
  std::vector<float> ApplyInverse(const std::vector<float>& in) const;

 private:
  HadamardRotation() = default;
  void Init();

  uint32_t dim_ = 0;
  uint32_t rounds_ = 0;
  uint32_t window_ = 0;  // P
  uint64_t seed_ = 0;
  float scale_ = 1.0f;              // 1/sqrt(P)
  std::vector<uint32_t> perm_;      // rounds * dim
  std::vector<uint32_t> inv_perm_;  // rounds * dim
  std::vector<float> signs_;        // rounds * dim, +1/-1
  std::vector<float> inv_signs_;    // signs permuted for the inverse
};

class DenseRotation {
 public:
  static absl::StatusOr<DenseRotation> Create(uint32_t dim, uint64_t seed);
  uint32_t dim() const { return dim_; }
  void Apply(const float* in, float* out) const;  // no aliasing
  void ApplyInverse(const float* in, float* out) const;
  // Row-major matrix entries.
  const std::vector<float>& matrix() const { return m_; }

 private:
  uint32_t dim_ = 0;
  std::vector<float> m_;
};

}  // namespace tqdb

#endif  // TQDB_QUANT_ROTATION_H_
