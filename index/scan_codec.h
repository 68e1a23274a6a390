// ScanCodec: how vectors are coded for the IVF index, and how a code maps
// onto the scan layout of index/inverted_lists.h.
//
// A vector's persisted code (code_bytes() bytes: TurboQuant's tight b*d bits
// plus float factors, or PQ sub-codes) is unpacked once, at insertion, into
// three streams of sub-codes that the scanner sums through per-query lookup
// tables (LUTs), plus per-vector float factors:
//   stream A: m4a 4-bit sub-codes, one 16-entry float LUT each (FastScan);
//   stream B: m4b 4-bit sub-codes (TurboQuant prod's sign sketch, 4 signs a
//             sub-code), one 16-entry LUT each;
//   stream C: m8 8-bit sub-codes, one 256-entry LUT each (TurboQuant with
//             more than 4 Lloyd-Max bits, PQ with 8-bit sub-codes).
// TurboQuant's Lloyd-Max levels are not evenly spaced, so a LUT must cover a
// coordinate's whole index: with m Lloyd-Max bits a 4-bit sub-code packs
// 4/m coordinates (m = 1, 2, 4), one coordinate (m = 3, 3 of 4 bits used),
// and m >= 5 uses stream C. m4a and m4b are multiples of 4 (padding
// sub-codes have all-zero LUTs).
//
// For a query-side vector u (the query for inner products, query - centroid
// for L2), BuildLuts fills the float LUTs; A, B, C are the sums of the LUT
// entries selected by a vector's sub-codes, and Combine(A, B, C, factors)
// estimates <u, v> for the coded vector v. For PQ under L2 the LUTs hold
// squared distances instead (lut_is_l2()), and A + C is ||u - v||^2.
//
// Thread-safety: immutable after Create/Deserialize.
#ifndef TQDB_INDEX_SCAN_CODEC_H_
#define TQDB_INDEX_SCAN_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "index/types.h"
#include "quant/turbo_quantizer.h"

namespace tqdb {

struct CodecOptions {
  // "mse", "prod", "renorm" (TurboQuant), "pca" (data-aware transform
  // coding, index/pca_codec.h) or "pq".
  std::string method = "renorm";
  // TurboQuant: bits per coordinate (1..8). PQ: the bits-per-dimension
  // budget it is compared at when pq_m = 0 (see pq_m).
  uint32_t bits = 4;
  uint64_t seed = 0x7464622d726f74ull;
  // PQ only: bits per sub-code (4 = FastScan, or 8) and the number of
  // sub-quantizers; 0 = equal bytes to TurboQuant renorm at `bits`:
  // m = (ceil(bits * d / 8) + factor bytes) * 8 / pq_nbits, at most d.
  // TurboQuant renorm: one 4-byte factor instead of two (enough for inner
  // products; the index sets it for the ip and cosine metrics). PQ with
  // pq_m = 0: the equal-bytes budget assumes that 4-byte factor.
  bool single_factor = false;
  // mse, renorm and pca: one more per-vector factor, the centroid
  // correction delta = <c, r> - est(<c, r>) of a residual r = x - c coded
  // in the list of centroid c (CombineForm::center_factor). An inner product
  // over residuals, <q, c> + <q, r>, then adds alpha * delta, alpha = <q, c>
  // / ||c||^2: the estimate's error along c (most of it for normalized
  // embeddings, whose residuals are small next to their centroids) is
  // removed. The index sets it for the ip and cosine metrics over residuals
  // and writes delta (IvfIndex::Encode); the codec keeps its place.
  bool center_factor = false;
  // mse, renorm and pca under L2 over residuals: the norm factor holds n' =
  // ||r||^2 + 2 <c, r> instead of ||r||^2 (CombineForm::centered_norm), so
  // that ||q - c - r||^2 = ||q - c||^2 + n' - 2 <q, r> is scored from the
  // query's own tables, built once for every list, instead of tables of
  // q - c built for each probed list. pca keeps n' in the place of ||r||^2
  // (no byte more); TurboQuant adds a float32 (renorm then keeps a single
  // scale factor, as for inner products). The index sets it with
  // center_factor and writes n' (IvfIndex::Encode).
  bool centered_norm = false;
  // pca only: whether to code y = A r instead of the residual r, A ~
  // M^(1/2) for M the residuals' second moment (flattened within each
  // code width, index/pca_params.h), so that a code's squared error counts
  // as queries like the data see it (index/pca_codec.h). kAuto: an IVF
  // index trains both and keeps the weighting only where its own sample
  // ranks better with it (index/codec_choice.h); a codec created alone
  // takes kAuto as kOff. Persisted in the codec's parameters (codecs
  // trained before it have none). kOff here, for the index and the codec
  // alone: the choice doubles a training's time at d = 512; a collection
  // asks for kAuto by default (CollectionConfig::pca_weighting).
  PcaWeighting pca_weighting = PcaWeighting::kOff;
  uint32_t pq_nbits = 4;
  uint32_t pq_m = 0;
  uint32_t pq_train_iters = 25;
  // TurboQuant ablations (not the defaults): prod's sketch matrix and the
  // Lloyd-Max codebook law. Persisted inside the quantizer's parameters.
  SketchKind sketch = SketchKind::kStructured;
  CodebookKind codebook = CodebookKind::kExactBeta;
};

struct ScanShape {
  uint32_t m4a = 0;
  uint32_t m4b = 0;
  uint32_t m8 = 0;
  uint32_t nfactors = 0;
  // Per-vector values held as bfloat16 (index/bfloat16.h) after the
  // nfactors floats: a layout's own, never a codec's (a codec's factors
  // enter its exact score).
  uint32_t nfactors16 = 0;

  // Bytes a vector takes in the streams and factors of this shape (an
  // inverted list's memory per vector, block padding aside).
  size_t bytes_per_vector() const {
    return m4a / 2 + m4b / 2 + m8 + 4 * size_t{nfactors} +
           2 * size_t{nfactors16};
  }
};

// A 4-bit sub-code count padded as ScanShape's m4a and m4b are.
inline uint32_t RoundUp4(uint32_t x) { return (x + 3) & ~3u; }

// The arithmetic of Combine, for scanners that inline it:
//   kSum:      a + c                      (PQ)
//   kScaled:   f0 * (a + c)               (TurboQuant mse)
//   kScaled2:  f0 * f1 * (a + c)          (TurboQuant renorm)
//   kSketch:   f0 * (a + c + kappa * f1 * b)   (TurboQuant prod)
// For L2, ||v||^2 is factor norm_factor, squared unless norm_is_squared.
// center_factor: the factor holding the centroid correction delta
// (CodecOptions::center_factor), or -1. centered_norm: factor norm_factor
// (squared) is ||r||^2 + 2 <c, r> (CodecOptions::centered_norm): L2 over
// residuals scores with the query's tables, not those of q - c.
struct CombineForm {
  enum Kind { kSum, kScaled, kScaled2, kSketch } kind = kSum;
  float kappa = 0.0f;
  uint32_t norm_factor = 0;
  bool norm_is_squared = false;
  int32_t center_factor = -1;
  bool centered_norm = false;
};

// The coordinate-wise view of a scalar-quantized code (TurboQuant mse and
// renorm, pca), which the progressive scan (index/progressive.h) reads in
// bit planes: code coordinate j holds a width[j]-bit index into
// levels[width[j]] (2^b ascending values, symmetric about 0), and for the
// query weights w = QueryWeights(u) the codec's estimate of <u, v> is
//   scale * sum_j w_j levels[width[j]][idx_j],
// scale = f0 (CombineForm::kScaled) or f0 * f1 (kScaled2) of the vector's
// factors.
struct ScalarCodeInfo {
  std::vector<uint8_t> width;    // per code coordinate, 1..8, non-increasing
  std::vector<float> levels[9];  // levels[b]: 2^b values (b with a user)
  // mass[b][i]: probability of level i's cell under the coordinate's law
  // (the Beta law of a rotated unit vector's coordinate, or the Gaussian
  // of a pca axis): the weights of the prefix reconstructions.
  std::vector<double> mass[9];
  // Expected w_j^2 up to a common factor (1 for TurboQuant, the axis
  // variance for pca): where the bits of the first pass go.
  std::vector<double> importance;
  // The squared norm, in the vectors' space, of a unit level step along
  // coordinate j (the codec's reconstruction moves by it); empty: the
  // importance (orthonormal axes). The query weighting of pca differs
  // (index/pca_params.h): its error counts as queries see it, its
  // reconstruction is A^-1 y_hat.
  std::vector<double> metric;
};

struct QueryLuts {
  std::vector<float> a;  // m4a * 16
  std::vector<float> b;  // m4b * 16
  std::vector<float> c;  // m8 * 256, entries past 2^sub8_bits(j) unused
};

class ScanCodec {
 public:
  virtual ~ScanCodec() = default;

  // Creates the codec for `dim`-dimensional vectors. PQ trains on the n
  // rows of `train` (the residuals the index will encode); TurboQuant needs
  // no training data (train may be null).
  static absl::StatusOr<std::unique_ptr<ScanCodec>> Create(
      const CodecOptions& options, uint32_t dim, const float* train, size_t n);
  static absl::StatusOr<std::unique_ptr<ScanCodec>> Deserialize(
      absl::string_view bytes);
  virtual std::string Serialize() const = 0;

  virtual const CodecOptions& options() const = 0;
  virtual uint32_t dim() const = 0;
  // Persisted bytes per vector: codes plus per-vector factors.
  virtual size_t code_bytes() const = 0;
  virtual const ScanShape& shape() const = 0;
  // Human-readable, e.g. "renorm 4-bit (264 B)" or "pq 264x4 (132 B)".
  virtual std::string Describe() const = 0;
  // True if the LUTs built for L2 give squared distances (PQ).
  virtual bool lut_is_l2() const { return false; }

  // Encodes n rows (finite, checked by the caller).
  virtual absl::Status EncodeBatch(const float* v, size_t n,
                                   uint8_t* codes) const = 0;
  // Scan layout of one code: sub4a[m4a], sub4b[m4b], sub8[m8] (values
  // < 16, < 16, < 256) and factors[nfactors].
  virtual void Unpack(const uint8_t* code, uint8_t* sub4a, uint8_t* sub4b,
                      uint8_t* sub8, float* factors) const = 0;
  // Float LUTs for the query-side vector u (dim floats). `l2` asks for
  // distance tables where the codec supports them (lut_is_l2()).
  virtual void BuildLuts(const float* u, bool l2, QueryLuts* out) const = 0;
  // Estimated <u, v> from the LUT sums.
  virtual float Combine(float a, float b, float c,
                        const float* factors) const = 0;
  virtual CombineForm combine_form() const = 0;
  // Bits of stream C's sub-code j (5..8): its values stay below 2^bits, and
  // so do the LUT entries the scan reads.
  virtual uint32_t sub8_bits(uint32_t /*j*/) const { return 8; }
  // ||v||^2 of the coded vector (for L2 when !lut_is_l2()): f0^2 for
  // TurboQuant; n' with combine_form().centered_norm.
  virtual float NormSq(const float* factors) const = 0;
  // REQUIRES combine_form().center_factor >= 0: stores delta in a code
  // (EncodeBatch leaves it 0).
  virtual void SetCenterFactor(uint8_t* /*code*/, float /*delta*/) const {}
  // REQUIRES combine_form().centered_norm: stores n' = ||r||^2 + 2 <c, r>
  // in a code (EncodeBatch leaves ||r||^2 there, or 0 for TurboQuant).
  virtual void SetCenteredNorm(uint8_t* /*code*/, float /*n*/) const {}

  // Bytes of the codec's own state a query's tables read (a projection, a
  // rotation, codebooks): once a search, or once a probed list where the
  // tables are built per list. For IvfIndex::BytesRead.
  virtual size_t query_bytes() const = 0;
  // The coordinate-wise view, or null (prod, PQ: no progressive scan).
  virtual const ScalarCodeInfo* scalar_info() const { return nullptr; }
  // REQUIRES scalar_info(): w[width.size()] for the query-side vector u.
  virtual void QueryWeights(const float* /*u*/, float* /*w*/) const {}
  // REQUIRES scalar_info(): idx[width.size()] and factors[nfactors] of a
  // persisted code.
  virtual void UnpackIndices(const uint8_t* /*code*/, uint8_t* /*idx*/,
                             float* /*factors*/) const {}
};

// The codec's float estimate of <u, v> for one persisted code: Combine of
// the sums of the float LUTs of u (BuildLuts, inner-product tables) that its
// sub-codes select (the sums a scan's uint8 tables approximate). Unpacks
// into thread-local scratch.
float EstimateFromLuts(const ScanCodec& codec, const QueryLuts& luts,
                       const uint8_t* code);

}  // namespace tqdb

#endif  // TQDB_INDEX_SCAN_CODEC_H_
