#include "quant/codebook.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <tuple>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "quant/coding.h"

namespace tqdb {
namespace {

constexpr uint32_t kCodebookMagic = 0x31424354;  // "TCB1"

// Mass, first and second moments of t below a cut point (total mass 1).
struct Cum {
  double m0 = 0, m1 = 0, m2 = 0;
};

// One coordinate's law, its density and cumulative moments in closed form.
//
// Gaussian N(0, s^2), s^2 = 1/d: m0 = Phi(z), m1 = -s phi(z),
// m2 = s^2 (Phi(z) - z phi(z)), z = x / s.
//
// Beta, f(t) = (1 - t^2)^((d-3)/2) / T_n on [-1, 1], n = d - 2: with
// t = sin(theta), the mass below x is G_n(theta) = F_n(theta) / T_n, F_n the
// integral of cos^n from -pi/2 and T_n = F_n(pi/2). Integrating by parts,
// F_n = cos^(n-1) sin / n + (n-1)/n F_(n-2) and T_n = (n-1)/n T_(n-2), so G_n
// is G_(n mod 2) plus the terms cos^(j-1) sin / (j T_j), j = n, n-2, ...,
// all of one sign (no cancellation for theta >= 0; the lower half by
// symmetry). m1 = -(1 - x^2)^((d-1)/2) / ((d-1) T_n) exactly, and by parts
// m2 = (-x (1 - x^2)^((d-1)/2) / T_n + G_(n+2) (n+1)/(n+2)) / (d-1).
class Law {
 public:
  Law(CodebookKind kind, uint32_t d)
      : beta_(kind == CodebookKind::kExactBeta), d_(d) {
    total_ = (d - 2) % 2 == 1 ? 2.0 : M_PI;
    for (uint32_t j = (d - 2) % 2 == 1 ? 3 : 2; j <= d - 2; j += 2) {
      total_ *= (j - 1.0) / j;
    }
  }

  double sigma() const { return 1.0 / std::sqrt(static_cast<double>(d_)); }
  // The law's support: (-1, 1) for the Beta law, the real line otherwise.
  double lo() const { return beta_ ? -1.0 : -HUGE_VAL; }
  double hi() const { return beta_ ? 1.0 : HUGE_VAL; }

  double Density(double x) const {
    if (!beta_) {
      const double z = x / sigma();
      return std::exp(-0.5 * z * z) / (sigma() * std::sqrt(2 * M_PI));
    }
    if (x <= -1.0 || x >= 1.0) return 0.0;
    return std::pow(1.0 - x * x, 0.5 * (d_ - 3.0)) / total_;
  }

  Cum Below(double x) const {
    const double var = 1.0 / d_;
    if (x <= lo()) return Cum{};
    if (x >= hi()) return Cum{1.0, 0.0, var};
    if (!beta_) {
      const double z = x / sigma();
      const double cdf = 0.5 * std::erfc(-z / std::sqrt(2.0));
      const double pdf = std::exp(-0.5 * z * z) / std::sqrt(2 * M_PI);
      return Cum{cdf, -sigma() * pdf, var * (cdf - z * pdf)};
    }
    if (x < 0) {
      const Cum up = Below(-x);
      return Cum{1.0 - up.m0, up.m1, var - up.m2};
    }
    const double theta = std::asin(x);
    const double c = std::sqrt(1.0 - x * x);
    const uint32_t n = d_ - 2;
    const bool odd = n % 2 == 1;
    double g = odd ? 0.5 * (x + 1.0) : (theta + M_PI / 2) / M_PI;
    double g_n = g;
    double total = odd ? 2.0 : M_PI;  // T_j, from j = 1 or 0
    double power = odd ? c * c : c;   // cos^(j-1) for j = 3 or 2
    for (uint32_t j = odd ? 3 : 2; j <= n + 2; j += 2) {
      total *= (j - 1.0) / j;
      const double term = power * x / (j * total);
      g += term;
      if (j <= n) g_n = g;
      if (term < 1e-19) break;  // cos^(j-1) only shrinks from here
      power *= c * c;
    }
    const double edge = std::pow(c, d_ - 1.0) / total_;
    return Cum{g_n, -edge / (d_ - 1.0),
               (-x * edge + g * (n + 1.0) / (n + 2.0)) / (d_ - 1.0)};
  }

 private:
  bool beta_;
  uint32_t d_;
  double total_;  // T_n
};

// Standard normal quantile, by bisection on erfc (a start point only).
double NormalQuantile(double p) {
  double a = -40, b = 40;
  for (int i = 0; i < 100; ++i) {
    const double m = 0.5 * (a + b);
    (0.5 * std::erfc(-m / std::sqrt(2.0)) < p ? a : b) = m;
  }
  return 0.5 * (a + b);
}

// Each cell's centroid given the levels c (cells cut at the midpoints), and
// the residual c - centroid's largest magnitude.
struct Cells {
  std::vector<double> mean, dlo, dhi;  // d mean / d lower, upper cut
  double residual = 0;
};
Cells Centroids(const Law& law, const std::vector<double>& c) {
  const size_t k = c.size();
  Cells out;
  out.mean.resize(k);
  out.dlo.resize(k);
  out.dhi.resize(k);
  Cum lo_cum = law.Below(law.lo());
  double lo_cut = law.lo(), lo_density = 0;
  for (size_t j = 0; j < k; ++j) {
    const double hi_cut = j + 1 < k ? 0.5 * (c[j] + c[j + 1]) : law.hi();
    const Cum hi_cum = law.Below(hi_cut);
    const double hi_density = j + 1 < k ? law.Density(hi_cut) : 0.0;
    const double m0 = hi_cum.m0 - lo_cum.m0;
    const double mean = m0 > 0 ? (hi_cum.m1 - lo_cum.m1) / m0 : c[j];
    out.mean[j] = mean;
    out.dlo[j] = m0 > 0 && j > 0 ? lo_density * (mean - lo_cut) / m0 : 0.0;
    out.dhi[j] = m0 > 0 && j + 1 < k ? hi_density * (hi_cut - mean) / m0 : 0.0;
    out.residual = std::max(out.residual, std::fabs(c[j] - mean));
    lo_cum = hi_cum;
    lo_cut = hi_cut;
    lo_density = hi_density;
  }
  return out;
}

// Lloyd-Max: the levels c with c_j = the mean of cell j. Newton's method on
// R(c) = c - mean(c), whose Jacobian is tridiagonal (cell j's mean moves
// with its two cuts, each the midpoint of two levels), with a halving line
// search on the residual; a plain Lloyd step where Newton does not descend.
// Lloyd alone converges linearly and slowly (about 800 iterations at 4 bits,
// 70,000 at 8); Newton takes about ten.
Codebook Solve(CodebookKind kind, uint32_t d, uint32_t bits) {
  const Law law(kind, d);
  const size_t k = size_t{1} << bits;
  const double sigma = law.sigma();
  // Panter-Dite start: quantiles of f^(1/3), for a Gaussian N(0, 3 s^2);
  // squashed into (-1, 1) for the Beta law.
  std::vector<double> c(k);
  for (size_t j = 0; j < k; ++j) {
    const double x = std::sqrt(3.0) * sigma * NormalQuantile((j + 0.5) / k);
    c[j] = kind == CodebookKind::kExactBeta ? x / std::sqrt(1 + x * x) : x;
  }
  Cells cells = Centroids(law, c);
  for (int iter = 0; iter < 500 && cells.residual > 1e-14 * sigma; ++iter) {
    // Thomas algorithm for J delta = -R, J = I - d mean / d c.
    std::vector<double> diag(k), upper(k), rhs(k);
    for (size_t j = 0; j < k; ++j) {
      const double lower = -0.5 * cells.dlo[j];
      diag[j] = 1.0 - 0.5 * (cells.dlo[j] + cells.dhi[j]);
      upper[j] = -0.5 * cells.dhi[j];
      rhs[j] = cells.mean[j] - c[j];
      if (j > 0) {
        const double w = lower / diag[j - 1];
        diag[j] -= w * upper[j - 1];
        rhs[j] -= w * rhs[j - 1];
      }
    }
    std::vector<double> delta(k);
    for (size_t j = k; j-- > 0;) {
      delta[j] =
          (rhs[j] - (j + 1 < k ? upper[j] * delta[j + 1] : 0.0)) / diag[j];
    }
    bool stepped = false;
    for (double step = 1.0; step > 1e-3 && !stepped; step *= 0.5) {
      std::vector<double> next(k);
      bool ordered = true;
      for (size_t j = 0; j < k; ++j) {
        next[j] = c[j] + step * delta[j];
        ordered = ordered && next[j] > law.lo() && next[j] < law.hi() &&
                  (j == 0 || next[j] > next[j - 1]) && std::isfinite(next[j]);
      }
      if (!ordered) continue;
      Cells next_cells = Centroids(law, next);
      if (next_cells.residual < cells.residual) {
        c = std::move(next);
        cells = std::move(next_cells);
        stepped = true;
      }
    }
    if (!stepped) {
      const double before = cells.residual;
      c = cells.mean;  // Lloyd
      cells = Centroids(law, c);
      if (!(cells.residual < before)) break;  // at rounding's floor
    }
  }
  // Symmetrize (the law is symmetric; removes round-off).
  for (size_t j = 0; j < k / 2; ++j) {
    const double m = 0.5 * (c[k - 1 - j] - c[j]);
    c[j] = -m;
    c[k - 1 - j] = m;
  }
  // Expected MSE of one coordinate, times d.
  double mse = 0.0;
  Cum lo = law.Below(law.lo());
  for (size_t j = 0; j < k; ++j) {
    const Cum hi = law.Below(j + 1 < k ? 0.5 * (c[j] + c[j + 1]) : law.hi());
    const double m0 = hi.m0 - lo.m0, m1 = hi.m1 - lo.m1, m2 = hi.m2 - lo.m2;
    mse += m2 - 2 * c[j] * m1 + c[j] * c[j] * m0;
    lo = hi;
  }
  Codebook cb;
  cb.kind = kind;
  cb.dim = d;
  cb.bits = bits;
  cb.expected_mse = d * mse;
  cb.centroids.resize(k);
  for (size_t j = 0; j < k; ++j) cb.centroids[j] = static_cast<float>(c[j]);
  cb.thresholds.resize(k);
  for (size_t j = 0; j + 1 < k; ++j) {
    cb.thresholds[j] = 0.5f * (cb.centroids[j] + cb.centroids[j + 1]);
  }
  cb.thresholds[k - 1] = std::numeric_limits<float>::infinity();
  return cb;
}

absl::Status CheckArgs(uint32_t dim, uint32_t bits) {
  if (dim < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("codebook dimension must be >= 2, got ", dim));
  }
  if (bits < 1 || bits > 8) {
    return absl::InvalidArgumentError(
        absl::StrCat("bits per coordinate must be in [1, 8], got ", bits));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<const Codebook>> GetCodebook(CodebookKind kind,
                                                            uint32_t dim,
                                                            uint32_t bits) {
  if (absl::Status s = CheckArgs(dim, bits); !s.ok()) return s;
  if (kind != CodebookKind::kExactBeta && kind != CodebookKind::kGaussian) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown codebook kind ", static_cast<uint32_t>(kind)));
  }
  using Key = std::tuple<uint32_t, uint32_t, uint32_t>;
  static std::mutex mu;
  static auto* cache = new std::map<Key, std::shared_ptr<const Codebook>>();
  const Key key{static_cast<uint32_t>(kind), dim, bits};
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache->find(key);
    if (it != cache->end()) return it->second;
  }
  auto cb = std::make_shared<const Codebook>(Solve(kind, dim, bits));
  std::lock_guard<std::mutex> lock(mu);
  auto [it, inserted] = cache->emplace(key, cb);
  return it->second;
}

std::vector<double> CellMasses(const Codebook& cb) {
  const Law law(cb.kind, cb.dim);
  const size_t k = cb.centroids.size();
  std::vector<double> out(k);
  double lo = 0;
  for (size_t j = 0; j < k; ++j) {
    const double hi = j + 1 < k ? law.Below(cb.thresholds[j]).m0 : 1.0;
    out[j] = hi - lo;
    lo = hi;
  }
  return out;
}

std::string Codebook::Serialize() const {
  std::string s;
  PutFixed32(&s, kCodebookMagic);
  PutFixed32(&s, static_cast<uint32_t>(kind));
  PutFixed32(&s, dim);
  PutFixed32(&s, bits);
  for (float c : centroids) PutFloat(&s, c);
  uint64_t mse_bits;
  std::memcpy(&mse_bits, &expected_mse, 8);
  PutFixed64(&s, mse_bits);
  PutCrcTrailer(&s);
  return s;
}

absl::StatusOr<Codebook> Codebook::Deserialize(absl::string_view bytes) {
  auto corrupt = [](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("codebook: ", why));
  };
  if (bytes.size() < 20) return corrupt("truncated");
  absl::string_view payload;
  if (!CheckCrcTrailer(bytes, &payload)) return corrupt("checksum mismatch");
  Decoder dec(payload);
  uint32_t magic, kind, dim, bits;
  dec.GetFixed32(&magic);
  dec.GetFixed32(&kind);
  dec.GetFixed32(&dim);
  dec.GetFixed32(&bits);
  if (magic != kCodebookMagic) return corrupt("bad magic");
  if (kind > 1 || dim < 2 || bits < 1 || bits > 8) {
    return corrupt("bad kind/dim/bits");
  }
  const uint32_t k = 1u << bits;
  if (dec.remaining() != size_t{k} * 4 + 8) return corrupt("wrong length");
  Codebook cb;
  cb.kind = static_cast<CodebookKind>(kind);
  cb.dim = dim;
  cb.bits = bits;
  cb.centroids.resize(k);
  for (float& c : cb.centroids) dec.GetFloat(&c);
  for (uint32_t j = 0; j + 1 < k; ++j) {
    if (!(cb.centroids[j] < cb.centroids[j + 1])) {
      return corrupt("centroids not strictly increasing");
    }
  }
  uint64_t mse_bits;
  dec.GetFixed64(&mse_bits);
  std::memcpy(&cb.expected_mse, &mse_bits, 8);
  cb.thresholds.resize(k);
  for (uint32_t j = 0; j + 1 < k; ++j) {
    cb.thresholds[j] = 0.5f * (cb.centroids[j] + cb.centroids[j + 1]);
  }
  cb.thresholds[k - 1] = std::numeric_limits<float>::infinity();
  return cb;
}

}  // namespace tqdb
