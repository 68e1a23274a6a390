// The pca codec's trained parameters and its training (index/pca_codec.h
// describes the codec; this header is internal to it).
#ifndef TQDB_INDEX_PCA_PARAMS_H_
#define TQDB_INDEX_PCA_PARAMS_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "index/scan_codec.h"

namespace tqdb {
namespace pca {

// Unit-variance Lloyd-Max codebooks for b = 1..8 (Gaussian law).
struct UnitCodebooks {
  std::vector<float> cent[9], thr[9];
  std::vector<double> mass[9];  // of each cell under N(0, 1)
  double mse[9] = {1.0};
};
absl::StatusOr<UnitCodebooks> LoadCodebooks();

constexpr uint32_t kFactorF32 = 0, kFactorF16 = 1;
constexpr uint32_t kFactorFormat = kFactorF16;

// The trained transform. Row i of `rows` (k x d) gives code coordinate i's
// query weight, sigma[i] * <rows_i, q>; the coordinate is quantized with
// bits[i] bits at scale sigma[i]. Without a weighting (`weight` empty) the
// rows are orthonormal axes and a residual r's coordinate i is <rows_i, r> /
// ||r||. With one (CodecOptions::pca_weighting), the code is of y = A r, A
// = sum_i weight[i] axis_i axis_i^T + rest_weight (I - the coded axes'
// projector): the axes are the residuals' principal axes (rotated within
// each width, whose axes share one weight), rows_i = A^-1 axis_i = axis_i /
// weight[i], coordinate i is weight[i]^2 <rows_i, r> / ||y||, and the
// sigma_i <rows_i, q> levels sum to <q, A^-1 y_hat>.
struct PcaParams {
  uint32_t d = 0;
  std::vector<float> rows;
  std::vector<float> sigma;
  std::vector<uint8_t> bits;
  std::vector<float> weight;
  float rest_weight = 0;
  float factor_scale = 1.0f;  // factors are stored divided by this (^2 for L2)
  uint32_t factor_format = kFactorFormat;
};

// Trains the transform on the n residual rows of `train` (see
// index/pca_codec.h). InvalidArgument if every row is zero.
absl::StatusOr<PcaParams> TrainPcaParams(const CodecOptions& o, uint32_t dim,
                                         const float* train, size_t n,
                                         const UnitCodebooks& books);

}  // namespace pca
}  // namespace tqdb

#endif  // TQDB_INDEX_PCA_PARAMS_H_
