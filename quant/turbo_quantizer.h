// TurboQuant encoders and asymmetric inner-product estimators (Zandieh et
// al., arXiv 2504.19874, Algorithms 1 and 2), plus the RaBitQ-style
// renormalized variant.
//
// A vector x of any norm is stored as n = ||x|| plus a code of its direction
// u = x / n. With y = Pi u (HadamardRotation, coordinates ~ N(0, 1/d)):
//
//  kMse    (Algorithm 1): idx_j = Lloyd-Max index of y_j at `bits` bits.
//          Estimate <q, x> ~ n <Pi q, y_hat>. Biased (shrinks towards 0).
//  kRenorm kMse plus the per-vector factor 1/<y, y_hat>:
//          <q, x> ~ n <Pi q, y_hat> / <y, y_hat>, unbiased in the RaBitQ sense
//          (y_hat / ||y_hat|| is the quantized direction, <y, y_hat/|y_hat|>
//          its cosine with the truth).
//  kProd   (Algorithm 2): bits-1 bits of kMse, then the residual r = y - y_hat
//          is sketched as z = sign(S r) (1 bit a coordinate) with gamma =
//          ||r||: <q, x> ~ n (<Pi q, y_hat> + kappa gamma <S Pi q, z>),
//          unbiased over S. S is a second, independent HadamardRotation
//          (orthonormal rows, kappa = 1 / (d E|u_1|) = sqrt(pi/2)/sqrt(d) (1 +
//          O(1/d)), the exact constant for rows uniform on the sphere), or, for
//          checking the paper's claim, a dense i.i.d. N(0,1) matrix (kappa =
//          sqrt(pi/2)/d).
//
// Code layout (bytes_per_vector() bytes, all little-endian):
//   kMse/kRenorm: [ceil(bits*d/8) bytes: idx_j packed LSB-first, bits each]
//   kProd:        [d sign bits z_j, LSB-first][(bits-1)*d index bits]
//                 -- ceil(bits*d/8) bytes together, tightly packed
//   then the per-vector factors, float32 each:
//     kMse: n                     (4 bytes)
//     kRenorm: n, 1/<y, y_hat>    (8 bytes), or with single_factor
//              n/<y, y_hat>       (4 bytes)
//     kProd: n, gamma             (8 bytes)
//
// Determinism: with the structured sketch, Encode() writes bit-identical
// codes on every machine and SIMD target for the same options (norms and
// factors are computed in double in a fixed order). The Gaussian sketch uses
// libm and is not bit-pinned.
//
// Thread-safety: immutable after Create/Deserialize; every const method may
// be called concurrently (scratch space is thread-local).
#ifndef TQDB_QUANT_TURBO_QUANTIZER_H_
#define TQDB_QUANT_TURBO_QUANTIZER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "quant/codebook.h"
#include "quant/rotation.h"

namespace tqdb {

enum class TqMethod : uint32_t { kMse = 0, kProd = 1, kRenorm = 2 };
enum class SketchKind : uint32_t { kStructured = 0, kGaussian = 1 };

// "mse", "prod", "renorm".
const char* TqMethodName(TqMethod m);
absl::StatusOr<TqMethod> ParseTqMethod(absl::string_view name);

struct TurboOptions {
  uint32_t dim = 0;   // >= 2
  uint32_t bits = 4;  // total bits per coordinate, 1..8 (kProd: >= 1)
  TqMethod method = TqMethod::kRenorm;
  uint64_t seed = 0x7464622d726f74ull;  // rotation seed; sketch uses seed+1
  SketchKind sketch = SketchKind::kStructured;       // kProd only
  CodebookKind codebook = CodebookKind::kExactBeta;  // kGaussian: ablation
  uint32_t rotation_rounds = 0;  // 0 = HadamardRotation's default
  // kRenorm only: store the single factor n / <y, y_hat> (4 bytes) instead
  // of n and 1 / <y, y_hat> (8 bytes). Enough for inner products (and
  // cosine); the code no longer records ||x||, so L2 distances cannot be
  // estimated and Decode returns the inner-product-unbiased reconstruction
  // n / <y, y_hat> Pi^T y_hat.
  bool single_factor = false;
};

// A query prepared once for many estimates (holds Pi q, and S Pi q for kProd).
struct TqQuery {
  std::vector<float> rotated;   // Pi q, length d
  std::vector<float> sketched;  // S Pi q (kProd only)
  float sketched_sum = 0.0f;    // sum of sketched
  float norm_sq = 0.0f;         // ||q||^2
};

class TurboQuantizer {
 public:
  // InvalidArgument naming the bad value for dim < 2, bits outside [1, 8].
  static absl::StatusOr<std::unique_ptr<TurboQuantizer>> Create(
      const TurboOptions& options);
  // Parses Serialize() output; DataLoss if corrupt, FailedPrecondition for
  // an unsupported format version.
  static absl::StatusOr<std::unique_ptr<TurboQuantizer>> Deserialize(
      absl::string_view bytes);
  // Options, rotation (explicit permutations and signs), sketch and codebook:
  // everything needed to read existing codes, independent of generators.
  std::string Serialize() const;

  const TurboOptions& options() const { return options_; }
  uint32_t dim() const { return options_.dim; }
  // Bits of the Lloyd-Max stage: bits (kMse, kRenorm) or bits - 1 (kProd).
  uint32_t mse_bits() const { return mse_bits_; }
  // Packed index and sign bytes: ceil(bits * d / 8).
  size_t code_bytes() const { return code_bytes_; }
  // Per-vector float32 factors: 4 (kMse, single-factor kRenorm) or 8.
  size_t factor_bytes() const { return factor_bytes_; }
  size_t bytes_per_vector() const { return code_bytes_ + factor_bytes_; }
  float kappa() const { return kappa_; }
  const Codebook* codebook() const {
    return codebook_.get();
  }  // null if mse_bits 0
  const HadamardRotation& rotation() const { return rotation_; }

  // Writes bytes_per_vector() bytes to `code`. InvalidArgument if x has the
  // wrong length or a non-finite coordinate (the message names it). A zero
  // vector encodes with n = 0 and estimates 0.
  absl::Status Encode(absl::Span<const float> x, uint8_t* code) const;
  // n rows of dim() floats -> n codes, contiguous. All-or-nothing: on error
  // (naming the row) nothing useful is left in `codes`.
  absl::Status EncodeBatch(const float* x, size_t n, uint8_t* codes) const;
  // Reconstruction x_tilde = n Pi^T (y_hat [+ kappa gamma S^T z]).
  void Decode(const uint8_t* code, float* out) const;

  absl::StatusOr<TqQuery> PrepareQuery(absl::Span<const float> q) const;
  // Bytes of the quantizer's own state PrepareQuery and a query's tables
  // read: the rotation, the sketch (kProd) and the codebook.
  size_t QueryStateBytes() const;
  // Estimated <q, x> for one code (SIMD, dispatched).
  float EstimateIp(const TqQuery& q, const uint8_t* code) const;
  // Same, scalar reference path (tests).
  float EstimateIpScalar(const TqQuery& q, const uint8_t* code) const;
  // out[i] = EstimateIp(q, codes + i * bytes_per_vector()).
  void EstimateIpBatch(const TqQuery& q, const uint8_t* codes, size_t n,
                       float* out) const;
  // The first stored factor: ||x||, or n / <y, y_hat> with single_factor.
  float StoredNorm(const uint8_t* code) const;

 private:
  TurboQuantizer(const TurboOptions& o, HadamardRotation rot)
      : options_(o), rotation_(std::move(rot)) {}
  absl::Status Init();
  void EncodeUnchecked(const float* x, uint8_t* code) const;
  float Estimate(const TqQuery& q, const uint8_t* code, bool simd) const;
  void SketchApply(const float* in, float* out, float* scratch) const;
  void SketchApplyTranspose(const float* in, float* out, float* scratch) const;

  TurboOptions options_;
  uint32_t mse_bits_ = 0;
  size_t code_bytes_ = 0;
  size_t factor_bytes_ = 0;
  float kappa_ = 0.0f;
  HadamardRotation rotation_;
  std::unique_ptr<HadamardRotation> sketch_;  // structured S
  std::vector<float> gaussian_;               // dense S, row-major d x d
  std::shared_ptr<const Codebook> codebook_;
};

}  // namespace tqdb

#endif  // TQDB_QUANT_TURBO_QUANTIZER_H_
