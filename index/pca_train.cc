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
  std::vector<double> keep(n, 0.0);  // 1: a row used, 0: left out
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
  }
  if (used == 0) {
    return absl::InvalidArgumentError(
        "pca codec: every training residual is zero");
  }
  // The query weighting (CodecOptions::pca_weighting): code y = A r with A =
  // M^(1/2), M the residuals' second moment scaled to mean eigenvalue 1.
  std::vector<double> a_mat, ainv_mat;  // d x d, symmetric
  std::vector<float> y;                 // the rows mapped by A
  const float* coded = train;
  const bool weighted = o.pca_weighting == PcaWeighting::kOn;
  if (weighted) {
    TQ_ASSIGN_OR_RETURN(
        Eigen m, SymmetricEigen(SecondMoment(train, n, d, keep, used), d));
    double mean = 0;
    for (double l : m.lambda) mean += l / d;
    std::vector<double> lam(d);
    double mean_floored = 0;
    for (size_t j = 0; j < d; ++j) {
      lam[j] = std::max(m.lambda[j], kWeightFloor * mean);
      mean_floored += lam[j] / d;
    }
    if (!(mean_floored > 0) || !std::isfinite(mean_floored)) {
      return absl::InvalidArgumentError(
          "pca codec: the training residuals have no finite variance");
    }
    a_mat.assign(d * d, 0.0);
    ainv_mat.assign(d * d, 0.0);
    for (size_t j = 0; j < d; ++j) {
      const double s = std::sqrt(lam[j] / mean_floored);
      const double* v = m.axis(j);
      for (size_t a = 0; a < d; ++a) {
        for (size_t b = 0; b < d; ++b) {
          a_mat[a * d + b] += s * v[a] * v[b];
          ainv_mat[a * d + b] += v[a] * v[b] / s;
        }
      }
    }
    std::vector<float> a_f(a_mat.begin(), a_mat.end());
    y.assign(n * d, 0.0f);
    for (size_t i = 0; i < n; ++i) {
      if (keep[i] == 0) continue;
      for (size_t a = 0; a < d; ++a) {
        y[i * d + a] = kernels::Dot(&a_f[a * d], train + i * d, d);
      }
    }
    coded = y.data();
  }
  // Second moment of the coded directions y / ||y|| (what the codes
  // approximate: the norm is a per-vector factor).
  std::vector<double> inv_norm_sq(n, 0.0);  // 0: a row left out
  size_t coded_rows = 0;
  for (size_t i = 0; i < n; ++i) {
    if (keep[i] == 0) continue;
    double nsq = 0;
    for (size_t a = 0; a < d; ++a)
      nsq += double{coded[i * d + a]} * coded[i * d + a];
    if (!(nsq > 0) || !std::isfinite(nsq)) continue;
    inv_norm_sq[i] = 1.0 / nsq;
    ++coded_rows;
  }
  if (coded_rows == 0) {
    return absl::InvalidArgumentError(
        "pca codec: every training residual is zero");
  }
  TQ_ASSIGN_OR_RETURN(
      Eigen e,
      SymmetricEigen(SecondMoment(coded, n, d, inv_norm_sq, coded_rows), d));
  const std::vector<double>& lambda = e.lambda;

  // Reverse water-filling, one bit at a time (the Lloyd-Max distortion
  // D(b) is convex in b, so greedy is optimal): each bit goes to the axis
  // whose next bit removes the most expected squared error,
  // lambda_j * (D(b_j) - D(b_j + 1)). The budget is the bytes of TurboQuant
  // renorm at o.bits (ceil(o.bits * d / 8) plus its float32 factors) minus
  // this codec's factors, so both take the same bytes per vector; a
  // centroid correction comes on top (2 bytes here, 4 for renorm).
  const size_t nfactors = o.single_factor ? 1 : 2;
  const size_t factor_bytes = kFactorFormat == kFactorF16 ? 2 : 4;
  int64_t budget = static_cast<int64_t>(
      ((size_t{o.bits} * d + 7) / 8 + 4 * nfactors - factor_bytes * nfactors) *
      8);
  std::vector<uint8_t> bits(d, 0);
  auto gain = [&](size_t j) {
    return lambda[j] * (books.mse[bits[j]] - books.mse[bits[j] + 1]);
  };
  std::priority_queue<std::pair<double, size_t>> heap;
  for (size_t j = 0; j < d; ++j) heap.push({gain(j), j});
  while (!heap.empty() && budget > 0) {
    const size_t j = heap.top().second;
    heap.pop();
    --budget;
    if (++bits[j] < 8) heap.push({gain(j), j});
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
  std::vector<double> basis;  // the coded axes (rotated), then the others
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
    }
  }
  const size_t k = p.bits.size();
  if (!weighted) {
    p.rows.assign(basis.begin(), basis.end());
    return p;
  }
  for (size_t j = 0; j < d; ++j) {
    if (bits[j] == 0) basis.insert(basis.end(), e.axis(j), e.axis(j) + d);
  }
  // enc = basis A (every axis: ||y||^2 is the sum of all coordinates'
  // squares), rows = basis A^-1 (the coded ones); A is symmetric.
  auto times = [&](const std::vector<double>& mat, size_t count,
                   std::vector<float>* out) {
    out->assign(count * d, 0.0f);
    for (size_t i = 0; i < count; ++i) {
      for (size_t b = 0; b < d; ++b) {
        double s = 0;
        // mat is symmetric: row b read in place of column b.
        for (size_t a = 0; a < d; ++a) s += basis[i * d + a] * mat[b * d + a];
        (*out)[i * d + b] = static_cast<float>(s);
      }
    }
  };
  times(a_mat, d, &p.enc);
  times(ainv_mat, k, &p.rows);
  return p;
}

}  // namespace pca
}  // namespace tqdb
