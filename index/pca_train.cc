// Training of the pca codec's transform (index/pca_params.h).
#include <algorithm>
#include <cmath>
#include <queue>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "index/pca_params.h"
#include "quant/codebook.h"
#include "quant/kernels.h"
#include "quant/rotation.h"
#include "quant/status_macros.h"

// LAPACK (Debian's liblapack): symmetric eigendecomposition.
extern "C" void dsyev_(const char* jobz, const char* uplo, const int* n,
                       double* a, const int* lda, double* w, double* work,
                       const int* lwork, int* info);

namespace tqdb {
namespace pca {
namespace {

// Eigendecomposition of the symmetric d x d matrix m (upper triangle read),
// in place: eigenvalues descending in lambda (negative ones as 0),
// eigenvector j (of lambda[j]) returned by axis(j).
struct Eigen {
  size_t d = 0;
  std::vector<double> vectors;  // dsyev's columns: ascending eigenvalues
  std::vector<double> lambda;
  const double* axis(size_t j) const { return &vectors[(d - 1 - j) * d]; }
};

absl::StatusOr<Eigen> SymmetricEigen(std::vector<double> m, size_t d) {
  const int nn = static_cast<int>(d);
  int info = 0, lwork = -1;
  std::vector<double> w(d);
  double query = 0;
  dsyev_("V", "U", &nn, m.data(), &nn, w.data(), &query, &lwork, &info);
  lwork = std::max(1, static_cast<int>(query));
  std::vector<double> work(lwork);
  dsyev_("V", "U", &nn, m.data(), &nn, w.data(), work.data(), &lwork, &info);
  if (info != 0) {
    return absl::InternalError(
        absl::StrCat("pca codec: eigendecomposition failed (info ", info, ")"));
  }
  Eigen e;
  e.d = d;
  e.vectors = std::move(m);
  e.lambda.resize(d);
  for (size_t j = 0; j < d; ++j) e.lambda[j] = std::max(w[d - 1 - j], 0.0);
  return e;
}

// sum_i w_i x_i x_i^T / count (w_i = 0 leaves row i out), both triangles
// (dsyev reads the row-major lower one).
std::vector<double> SecondMoment(const float* x, size_t n, size_t d,
                                 const std::vector<double>& w, double count) {
  std::vector<double> m(d * d, 0.0);
  kernels::SecondMomentUpper(x, n, d, w.data(), m.data());
  for (size_t a = 0; a < d; ++a) {
    for (size_t b = a; b < d; ++b) {
      m[a * d + b] /= count;
      m[b * d + a] = m[a * d + b];
    }
  }
  return m;
}

// The weighting's floor: an axis of the residuals' second moment with less
// than this share of the mean variance is weighted as if it had this much,
// so that A^-1 stays within sqrt(1000) ~ 32x of the mean scale where the
// training sample has (next to) no variance: the query weights A^-1 puts
// there multiply levels the codes hardly use, and the floor keeps
// sampling noise in those axes from being magnified.
constexpr double kWeightFloor = 1e-3;

}  // namespace

absl::StatusOr<UnitCodebooks> LoadCodebooks() {
  UnitCodebooks u;
  const uint32_t ref = 64;  // N(0, 1/64) tables, scaled by 8 to N(0, 1)
  for (uint32_t b = 1; b <= 8; ++b) {
    TQ_ASSIGN_OR_RETURN(auto cb, GetCodebook(CodebookKind::kGaussian, ref, b));
    for (float c : cb->centroids) u.cent[b].push_back(c * 8.0f);
    for (float t : cb->thresholds) u.thr[b].push_back(t * 8.0f);
    u.mse[b] = cb->expected_mse;
    u.mass[b] = CellMasses(*cb);
  }
  return u;
}

absl::StatusOr<PcaParams> TrainPcaParams(const CodecOptions& o, uint32_t dim,
                                         const float* train, size_t n,
                                         const UnitCodebooks& books) {
  const size_t d = dim;
  std::vector<double> keep(n, 0.0);         // 1: a row used, 0: left out
  std::vector<double> inv_norm_sq(n, 0.0);  // 1 / ||r||^2, 0: left out
  double norm_sq_sum = 0;
  size_t used = 0;
  for (size_t i = 0; i < n; ++i) {
    const float* r = train + i * d;
    double nsq = 0;
    for (size_t a = 0; a < d; ++a) nsq += double{r[a]} * r[a];
    if (!(nsq > 0) || !std::isfinite(nsq)) continue;
    norm_sq_sum += nsq;
    ++used;
    keep[i] = 1.0;
    inv_norm_sq[i] = 1.0 / nsq;
  }
  if (used == 0) {
    return absl::InvalidArgumentError(
        "pca codec: every training residual is zero");
  }
  // The budget is the bytes of TurboQuant renorm at o.bits (ceil(o.bits * d
  // / 8) plus its float32 factors) minus this codec's factors, so both take
  // the same bytes per vector; a centroid correction comes on top (2 bytes
  // here, 4 for renorm).
  const size_t nfactors = o.single_factor ? 1 : 2;
  const size_t factor_bytes = kFactorFormat == kFactorF16 ? 2 : 4;
  const int64_t budget = static_cast<int64_t>(
      ((size_t{o.bits} * d + 7) / 8 + 4 * nfactors - factor_bytes * nfactors) *
      8);
  // Reverse water-filling, one bit at a time (the Lloyd-Max distortion
  // D(b) is convex in b, so greedy is optimal): each bit goes to the axis
  // whose next bit removes the most expected squared error,
  // lambda_j * (D(b_j) - D(b_j + 1)).
  auto allot = [&](const std::vector<double>& lambda) {
    std::vector<uint8_t> bits(d, 0);
    auto gain = [&](size_t j) {
      return lambda[j] * (books.mse[bits[j]] - books.mse[bits[j] + 1]);
    };
    std::priority_queue<std::pair<double, size_t>> heap;
    for (size_t j = 0; j < d; ++j) heap.push({gain(j), j});
    for (int64_t left = budget; left > 0 && !heap.empty(); --left) {
      const size_t j = heap.top().second;
      heap.pop();
      if (++bits[j] < 8) heap.push({gain(j), j});
    }
    return bits;
  };

  // The coded axes and the second moment of the coded directions along
  // them (lambda); with the weighting, each axis's weight (scale of A).
  std::vector<double> lambda, scale;
  std::vector<uint8_t> bits;
  Eigen e;
  const bool weighted = o.pca_weighting == PcaWeighting::kOn;
  if (!weighted) {
    // The principal axes of the directions r / ||r||.
    TQ_ASSIGN_OR_RETURN(
        e, SymmetricEigen(SecondMoment(train, n, d, inv_norm_sq, used), d));
    lambda = e.lambda;
    bits = allot(lambda);
  } else {
    // The query weighting: code y = A r with A ~ M^(1/2), M the residuals'
    // second moment, so that errors count as queries like the data see
    // them. A is M^(1/2) flattened within each width (the arithmetic mean
    // of M's floored eigenvalues over the width's axes): the axes of a
    // width share one codebook scale through a random rotation, and a
    // weight constant over it keeps the code's metric in the vectors'
    // space diagonal (ScalarCodeInfo::metric), which the progressive scan's
    // first-pass bound needs (a full M^(1/2) ranked no better in
    // simulation: use512 2 bits 0.954 / 0.955).
    TQ_ASSIGN_OR_RETURN(
        e, SymmetricEigen(SecondMoment(train, n, d, keep, used), d));
    double mean = 0;
    for (double l : e.lambda) mean += l / d;
    std::vector<double> floored(d);
    for (size_t j = 0; j < d; ++j) {
      floored[j] = std::max(e.lambda[j], kWeightFloor * mean);
    }
    if (!(mean > 0) || !std::isfinite(mean)) {
      return absl::InvalidArgumentError(
          "pca codec: the training residuals have no finite variance");
    }
    // z: the kept rows' coordinates along M's axes.
    std::vector<float> axes(d * d);
    for (size_t j = 0; j < d; ++j) {
      for (size_t a = 0; a < d; ++a) axes[j * d + a] = e.axis(j)[a];
    }
    std::vector<float> z;
    z.reserve(used * d);
    for (size_t i = 0; i < n; ++i) {
      if (keep[i] == 0) continue;
      for (size_t j = 0; j < d; ++j) {
        z.push_back(kernels::Dot(&axes[j * d], train + i * d, d));
      }
    }
    // lambda_j = E[y_j^2 / ||y||^2] for the weights s: the coded
    // directions' second moment along the axes (diagonal up to the
    // normalization's coupling, which the allotment ignores).
    auto direction_moment = [&](const std::vector<double>& s) {
      std::vector<double> out(d, 0.0), s2(d);
      for (size_t j = 0; j < d; ++j) s2[j] = s[j] * s[j];
      for (size_t i = 0; i < used; ++i) {
        const float* zi = &z[i * d];
        double ysq = 0;
        for (size_t j = 0; j < d; ++j) ysq += s2[j] * zi[j] * zi[j];
        if (!(ysq > 0)) continue;
        for (size_t j = 0; j < d; ++j) out[j] += s2[j] * zi[j] * zi[j] / ysq;
      }
      for (double& v : out) v /= static_cast<double>(used);
      return out;
    };
    // From the full M^(1/2), three rounds of: allot the bits, flatten the
    // weights over each width.
    scale.resize(d);
    for (size_t j = 0; j < d; ++j) scale[j] = std::sqrt(floored[j] / mean);
    for (int round = 0; round < 3; ++round) {
      bits = allot(direction_moment(scale));
      double sum[9] = {0};
      size_t count[9] = {0};
      for (size_t j = 0; j < d; ++j) {
        sum[bits[j]] += floored[j] / mean;
        ++count[bits[j]];
      }
      for (size_t j = 0; j < d; ++j) {
        scale[j] = std::sqrt(sum[bits[j]] / count[bits[j]]);
      }
    }
    lambda = direction_moment(scale);
  }

  // Axes of equal width share one codebook scale: a Haar-random rotation
  // within each group (seeded by o.seed and the width) makes its
  // coordinates Gaussian-like with the group's mean variance, whatever the
  // law of the individual principal coordinates. The MSE of an ideal
  // per-axis Gaussian quantizer is unchanged (sum lambda_j D(b) is
  // rotation-invariant within a group); what the rotation buys is the
  // Gaussian shape the Lloyd-Max codebook is designed for. The rotation is
  // folded into the stored rows, so encoding stays one k x d product.
  PcaParams p;
  p.d = dim;
  p.factor_format = kFactorFormat;
  p.factor_scale = static_cast<float>(std::sqrt(norm_sq_sum / used));
  if (!(p.factor_scale > 0) || !std::isfinite(p.factor_scale)) {
    p.factor_scale = 1.0f;
  }
  std::vector<double> basis;       // the coded axes (rotated)
  std::vector<double> row_weight;  // with the weighting: the row's width's
  for (uint32_t b = 8; b >= 1; --b) {
    std::vector<size_t> group;
    double var = 0;
    for (size_t j = 0; j < d; ++j) {
      if (bits[j] == b) {
        group.push_back(j);
        var += lambda[j];
      }
    }
    const size_t m = group.size();
    if (m == 0) continue;
    const float sigma = static_cast<float>(std::sqrt(std::max(var / m, 1e-30)));
    std::vector<float> rot(1, 1.0f);  // m x m, row-major
    if (m >= 2) {
      TQ_ASSIGN_OR_RETURN(
          DenseRotation dr,
          DenseRotation::Create(static_cast<uint32_t>(m),
                                o.seed + 0x9e3779b97f4a7c15ull * b));
      rot = dr.matrix();
    }
    for (size_t i = 0; i < m; ++i) {
      for (size_t a = 0; a < d; ++a) {
        double s = 0;
        for (size_t t = 0; t < m; ++t)
          s += rot[i * m + t] * e.axis(group[t])[a];
        basis.push_back(s);
      }
      p.sigma.push_back(sigma);
      p.bits.push_back(static_cast<uint8_t>(b));
      if (weighted) row_weight.push_back(scale[group[0]]);
    }
  }
  if (!weighted) {
    p.rows.assign(basis.begin(), basis.end());
    return p;
  }
  // rows = A^-1 axes: the axes of a width divided by its weight.
  const size_t k = p.bits.size();
  p.rows.resize(k * d);
  for (size_t i = 0; i < k; ++i) {
    const double w = row_weight[i];
    p.weight.push_back(static_cast<float>(w));
    for (size_t a = 0; a < d; ++a) {
      p.rows[i * d + a] = static_cast<float>(basis[i * d + a] / w);
    }
  }
  p.rest_weight = 1.0f;
  for (size_t j = 0; j < d; ++j) {
    if (bits[j] == 0) p.rest_weight = static_cast<float>(scale[j]);
  }
  return p;
}

}  // namespace pca
}  // namespace tqdb
