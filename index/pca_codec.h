// A data-aware variant of tqdb's codec ("pca"): transform coding of the IVF
// residuals. A residual r is coded as its norm (in a per-vector factor) and
// its direction u = r / ||r||, like TurboQuant. Training diagonalizes the
// second moment of the training directions (PCA, eigenvalues lambda_j, sum
// 1) and gives principal axis j b_j in 0..8 bits by reverse water-filling
// (one bit at a time to the axis whose next bit removes the most expected
// squared error, lambda_j * (D(b) - D(b + 1)), D = the unit Gaussian
// Lloyd-Max distortion). The axes that got the same width b form a group;
// a seeded Haar-random rotation within each group (the group's share of
// TurboQuant's random rotation) makes its coordinates Gaussian-like with a
// common variance, the group's mean lambda, and each is quantized with the
// Lloyd-Max codebook of that Gaussian. On isotropic data every axis gets
// the same width and the codec is TurboQuant with a Gaussian codebook; on
// anisotropic data (use512's residual eigenvalue AM/GM is 3.2) bits go
// where the variance is. Inner products use TurboQuant's renorm estimator,
// <q, r> ~ f * <q, u_hat> with f = ||r|| / <u, u_hat>.
// Its error is ||r|| <q, u_hat / <u, u_hat> - u>, of size tan(angle(u,
// u_hat)), so each vector is coded with the codebook scale (one of nine,
// 2^(i/8 - 1/2) times the trained one) whose code has the largest cosine
// with u; the factor absorbs the scale, so it is not stored.
//
// Size: the bytes of TurboQuant renorm at the same `bits` (ceil(bits * d / 8)
// plus 4 bytes per float32 factor), spent as float16 factors (2 bytes each,
// stored relative to the training RMS of ||r||, so any norm scale fits) and
// sum_j b_j = the remaining bits of indices, packed tightly LSB-first in
// row order. Factors: f, and ||r||^2 unless options.single_factor (L2;
// ||r||^2 + 2 <c, r> with options.centered_norm); then, 2 bytes on top, the
// centroid correction if options.center_factor (index/scan_codec.h;
// renorm's takes 4).
//
// Scan layout (Unpack): 1..4-bit coordinates share 4-bit sub-codes (stream
// A, first-fit decreasing; a 3-bit coordinate uses a sub-code alone unless
// a 1-bit one joins it), 5..8-bit ones get a byte sub-code each (stream C).
//
// Format: version 2 (format version 1, unnormalized residuals in a nibble
// layout, is refused with FailedPrecondition: rebuild from the raw vectors).
#ifndef TQDB_INDEX_PCA_CODEC_H_
#define TQDB_INDEX_PCA_CODEC_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "index/scan_codec.h"

namespace tqdb {

// Trains on the n residual rows of `train` (at least 2 non-zero rows,
// better > dim). InvalidArgument for bits outside [1, 8], dim < 2 or too
// little training data.
absl::StatusOr<std::unique_ptr<ScanCodec>> CreatePcaCodec(
    const CodecOptions& options, uint32_t dim, const float* train, size_t n);
absl::StatusOr<std::unique_ptr<ScanCodec>> DeserializePcaCodec(
    absl::string_view bytes);

}  // namespace tqdb

#endif  // TQDB_INDEX_PCA_CODEC_H_
