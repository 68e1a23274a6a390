// Product quantization (Jegou, Douze & Schmid 2011), the baseline tqdb is
// compared with at equal bytes per vector.
//
// A d-dimensional vector is cut into m contiguous sub-vectors; sub-vector j
// is replaced by the index of its nearest centroid in a codebook of
// K = 2^nbits centroids trained by k-means (k-means++ seeding, Lloyd) on the
// training sample's sub-vectors. The split may be uneven (m need not divide
// d): the first d % m sub-spaces get ceil(d/m) dimensions, the rest
// floor(d/m). PQ stores no per-vector factors, so a code is exactly
// ceil(m * nbits / 8) bytes:
//   nbits 8: byte j is sub-code j;
//   nbits 4: sub-code j is nibble j of the code, LSB-first (PackBits order:
//            sub-code 2i in the low nibble of byte i, 2i+1 in the high one);
//            for odd m the last high nibble is 0.
//
// Search uses asymmetric distance tables: for a query q, ComputeIpTable or
// ComputeL2Table fill m * K floats, and LookupSum(lut, code) returns the
// inner product <q, Decode(code)> or the squared distance
// ||q - Decode(code)||^2 (up to float rounding).
//
// Serialized format (little-endian), version 1:
//   fixed32 magic "TPQ1" | fixed32 version | fixed32 dim | fixed32 m |
//   fixed32 nbits | fixed32 train_iters | fixed64 seed |
//   fixed64 max_train_points | K * dim floats (sub-space j's K x sub_dim(j)
//   centroids, row-major, for j = 0..m-1) | fixed32 crc32c of all before.
// Deserialize returns DataLoss naming the problem (truncated, bad magic,
// checksum mismatch, inconsistent header, wrong length, non-finite
// centroid) and FailedPrecondition for a version this build cannot read.
//
// Thread-safety: a ProductQuantizer is immutable after Train/Deserialize;
// all const methods may be called concurrently.
#ifndef TQDB_QUANT_PQ_H_
#define TQDB_QUANT_PQ_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "quant/kmeans.h"

namespace tqdb {

struct PqOptions {
  // Vector dimension, >= 1.
  uint32_t dim = 0;
  // Number of sub-quantizers, 1 <= m <= dim.
  uint32_t m = 0;
  // Bits per sub-code: 4 or 8 (K = 16 or 256 centroids per sub-space).
  uint32_t nbits = 8;
  // Lloyd iterations of each sub-space's k-means (0 = k-means++ seeds only).
  uint32_t train_iters = 25;
  // Seed of the training sample and of every sub-space's k-means.
  uint64_t seed = 1234;
  // Training sample: at most this many rows, drawn uniformly without
  // replacement when n is larger (FAISS uses 256 * 2^nbits). Must be
  // >= 2^nbits.
  size_t max_train_points = 65536;
  // Threads for Train (sub-spaces in parallel) and EncodeBatch; 0 is
  // treated as 1. Results do not depend on it. Not serialized: a
  // deserialized quantizer has 1.
  uint32_t num_threads = 1;
};

class ProductQuantizer {
 public:
  // Trains on the n rows of x (row-major n x opts.dim floats; not retained).
  // InvalidArgument (naming the value) for: dim 0; m 0 or > dim; nbits not
  // 4 or 8; max_train_points < 2^nbits; n < 2^nbits; x null; a NaN or
  // infinite coordinate.
  static absl::StatusOr<std::unique_ptr<ProductQuantizer>> Train(
      const PqOptions& opts, const float* x, size_t n);
  // Parses bytes written by Serialize() (see the format above).
  static absl::StatusOr<std::unique_ptr<ProductQuantizer>> Deserialize(
      absl::string_view bytes);

  std::string Serialize() const;

  const PqOptions& options() const { return opts_; }
  uint32_t dim() const { return opts_.dim; }
  uint32_t m() const { return opts_.m; }
  uint32_t nbits() const { return opts_.nbits; }
  // Centroids per sub-space, 2^nbits.
  uint32_t ksub() const { return ksub_; }
  // Bytes per code: ceil(m * nbits / 8).
  size_t code_bytes() const { return code_bytes_; }
  // Floats in a distance table: m * ksub().
  size_t lut_size() const { return size_t{opts_.m} * ksub_; }
  // Bytes of centroids a distance table reads (every sub-space's).
  size_t TableBytes() const { return transposed_.size() * sizeof(float); }

  // First dimension and number of dimensions of sub-space j. REQUIRES: j < m.
  uint32_t sub_dim_offset(uint32_t j) const { return offsets_[j]; }
  uint32_t sub_dim(uint32_t j) const { return offsets_[j + 1] - offsets_[j]; }
  // The ksub() x sub_dim(j) row-major centroids of sub-space j.
  const float* centroids(uint32_t j) const {
    return centroids_.data() + size_t{ksub_} * offsets_[j];
  }

  // Writes the code_bytes() code of x (dim floats) to `code`.
  // InvalidArgument if x.size() != dim or x has a NaN/infinite coordinate;
  // `code` is then left unchanged.
  absl::Status Encode(absl::Span<const float> x, uint8_t* code) const;
  // Encodes the n rows of x (n x dim) into codes (n x code_bytes()).
  // InvalidArgument (naming row and coordinate) if any value is NaN or
  // infinite, checked before anything is written; x null with n > 0 is
  // InvalidArgument too.
  absl::Status EncodeBatch(const float* x, size_t n, uint8_t* codes) const;
  // out (dim floats) = concatenation of the coded centroids. `code` must be
  // a code_bytes() code produced by Encode (any bytes are memory-safe).
  void Decode(const uint8_t* code, float* out) const;

  // Asymmetric distance tables for query q (dim floats): lut has lut_size()
  // floats, lut[j * ksub() + c] = <q_j, centroid_{j,c}> (IP) or
  // ||q_j - centroid_{j,c}||^2 (L2), q_j the j-th sub-vector of q.
  void ComputeIpTable(const float* q, float* lut) const;
  void ComputeL2Table(const float* q, float* lut) const;
  // sum_j lut[j * ksub() + code_j].
  float LookupSum(const float* lut, const uint8_t* code) const;

 private:
  ProductQuantizer() = default;
  // Fills offsets_, ksub_, code_bytes_ from opts_.
  void InitLayout();
  // Builds the per-sub-space search structures from centroids_.
  void InitTables();
  // Codes of rows [0, n) of x, all sub-spaces, already validated.
  void EncodeRows(const float* x, size_t n, uint8_t* codes) const;

  PqOptions opts_;
  uint32_t ksub_ = 0;
  size_t code_bytes_ = 0;
  std::vector<uint32_t> offsets_;  // m + 1
  // Sub-space j's ksub x sub_dim(j) centroids start at ksub * offsets_[j].
  std::vector<float> centroids_;
  // Same, transposed per sub-space (sub_dim(j) rows of ksub floats), for the
  // table computations.
  std::vector<float> transposed_;
  std::vector<CentroidAssigner> assigners_;  // one per sub-space
};

}  // namespace tqdb

#endif  // TQDB_QUANT_PQ_H_
