// A data-aware variant of tqdb's codec ("pca"): transform coding of the IVF
// residuals. The residual covariance is diagonalized (PCA, trained with the
// index); each principal coordinate j gets b_j in {0, 1, 2, 4, 8} bits by
// reverse water-filling (greedy: every step goes to the coordinate whose
// next width removes the most sigma_j^2 * D(b) per bit spent; total b * d
// bits, widths that pack into nibbles and bytes without waste) and is
// quantized with the Lloyd-Max codebook of N(0, sigma_j^2); inner products
// use TurboQuant's renorm estimator, <q, r> ~ s * <E^T q, r_hat> with
// s = ||r||^2 / <r, r_hat>. When the residual spectrum is uneven (real
// embeddings: use512's eigenvalue AM/GM is 3.2) this spends the bits where
// the variance is. When the spectrum is flat (GloVe after centring: 1.03)
// it gains nothing, and at 3 bits it loses to a uniform 3-bit code.
//
// Scan layout: coordinates with 1, 2 or 4 bits are packed into 4-bit
// sub-codes (stream A), 8-bit ones into byte sub-codes (stream C), 0-bit
// ones are dropped. The persisted code is that layout plus the factors (s, and
// ||r||^2 for L2), so bytes_per_vector() is the true size.
#ifndef TQDB_INDEX_PCA_CODEC_H_
#define TQDB_INDEX_PCA_CODEC_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "index/scan_codec.h"

namespace tqdb {

// Trains on the n residual rows of `train` (at least dim + 1 rows).
absl::StatusOr<std::unique_ptr<ScanCodec>> CreatePcaCodec(
    const CodecOptions& options, uint32_t dim, const float* train, size_t n);
absl::StatusOr<std::unique_ptr<ScanCodec>> DeserializePcaCodec(
    absl::string_view bytes);

}  // namespace tqdb

#endif  // TQDB_INDEX_PCA_CODEC_H_
