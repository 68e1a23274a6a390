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
constexpr int kGridPoints = 1 << 20;

// A density tabulated on n equal bins of a parameter u (theta for the Beta
// law, t itself for the Gaussian), with prefix sums of mass, first and second
// moments of t. Cumulative functions interpolate linearly inside a bin, so
// they are continuous in the cut point and Lloyd iterations never stall on
// the grid.
struct Grid {
  bool theta = false;      // u = asin(t) (Beta) or u = t (Gaussian)
  double u0 = 0, h = 0;    // first bin edge, bin width
  std::vector<double> t;   // bin midpoints, in t units
  std::vector<double> w0;  // prefix sums of weight, size n+1
  std::vector<double> w1;  // prefix sums of weight * t
  std::vector<double> w2;  // prefix sums of weight * t^2
};

Grid MakeGrid(CodebookKind kind, uint32_t d, int points = kGridPoints) {
  Grid g;
  g.t.resize(points);
  std::vector<double> w(points);
  const double sigma = 1.0 / std::sqrt(static_cast<double>(d));
  if (kind == CodebookKind::kExactBeta) {
    // t = sin(theta); f(t) dt ~ cos^(d-2)(theta) dtheta, smooth for d >= 2.
    // Beyond 16 sigma the mass is below 1e-50: cut the range there.
    g.theta = true;
    const double lim = 16.0 * sigma < 1.0 ? std::asin(16.0 * sigma) : M_PI / 2;
    g.u0 = -lim;
    g.h = 2 * lim / points;
    for (int i = 0; i < points; ++i) {
      const double th = g.u0 + (i + 0.5) * g.h;
      g.t[i] = std::sin(th);
      w[i] = (d == 2) ? 1.0 : std::exp((d - 2.0) * std::log(std::cos(th)));
    }
  } else {
    g.u0 = -16.0 * sigma;
    g.h = 32.0 * sigma / points;
    for (int i = 0; i < points; ++i) {
      const double x = g.u0 + (i + 0.5) * g.h;
      g.t[i] = x;
      const double z = x / sigma;
      w[i] = std::exp(-0.5 * z * z);
    }
  }
  g.w0.assign(points + 1, 0.0);
  g.w1.assign(points + 1, 0.0);
  g.w2.assign(points + 1, 0.0);
  for (int i = 0; i < points; ++i) {
    g.w0[i + 1] = g.w0[i] + w[i];
    g.w1[i + 1] = g.w1[i] + w[i] * g.t[i];
    g.w2[i + 1] = g.w2[i] + w[i] * g.t[i] * g.t[i];
  }
  return g;
}

// Cumulative mass and moments of t below the cut point x (in t units).
struct Cum {
  double m0, m1, m2;
};
Cum CumulativeAt(const Grid& g, double x) {
  const size_t n = g.t.size();
  double u = x;
  if (g.theta) u = x >= 1.0 ? M_PI / 2 : (x <= -1.0 ? -M_PI / 2 : std::asin(x));
  const double p = (u - g.u0) / g.h;
  if (p <= 0) return {0, 0, 0};
  if (p >= static_cast<double>(n)) return {g.w0[n], g.w1[n], g.w2[n]};
  const size_t i = static_cast<size_t>(p);
  const double f = p - static_cast<double>(i);
  return {g.w0[i] + f * (g.w0[i + 1] - g.w0[i]),
          g.w1[i] + f * (g.w1[i + 1] - g.w1[i]),
          g.w2[i] + f * (g.w2[i + 1] - g.w2[i])};
}

Codebook Solve(CodebookKind kind, uint32_t d, uint32_t bits, const Grid& g) {
  const int k = 1 << bits;
  const double sigma = 1.0 / std::sqrt(static_cast<double>(d));
  // Panter-Dite start: centroids at quantiles of f^(1/3) ~ for a near-
  // Gaussian law that is N(0, 3/d). Use the grid: cumulative of w^(1/3).
  std::vector<double> c(k);
  {
    std::vector<double> cum(g.t.size() + 1, 0.0);
    for (size_t i = 0; i < g.t.size(); ++i) {
      const double wi = g.w0[i + 1] - g.w0[i];
      cum[i + 1] = cum[i] + std::cbrt(wi);
    }
    for (int j = 0; j < k; ++j) {
      const double target = cum.back() * (j + 0.5) / k;
      const size_t i =
          std::lower_bound(cum.begin(), cum.end(), target) - cum.begin();
      c[j] = g.t[std::min(i, g.t.size() - 1)];
    }
  }
  std::vector<double> b(k - 1);
  const size_t n = g.t.size();
  const Cum all{g.w0[n], g.w1[n], g.w2[n]};
  for (int iter = 0; iter < 100000; ++iter) {
    for (int j = 0; j + 1 < k; ++j) b[j] = 0.5 * (c[j] + c[j + 1]);
    double moved = 0.0;
    Cum lo{0, 0, 0};
    for (int j = 0; j < k; ++j) {
      const Cum hi = (j + 1 < k) ? CumulativeAt(g, b[j]) : all;
      const double m0 = hi.m0 - lo.m0;
      if (m0 > 0) {
        const double nc = (hi.m1 - lo.m1) / m0;
        moved = std::max(moved, std::fabs(nc - c[j]));
        c[j] = nc;
      }
      lo = hi;
    }
    if (moved < 1e-10 * sigma) break;
  }
  // Symmetrize (the law is symmetric; removes grid round-off).
  for (int j = 0; j < k / 2; ++j) {
    const double m = 0.5 * (c[k - 1 - j] - c[j]);
    c[j] = -m;
    c[k - 1 - j] = m;
  }
  for (int j = 0; j + 1 < k; ++j) b[j] = 0.5 * (c[j] + c[j + 1]);
  // Expected MSE of one coordinate, times d.
  double mse = 0.0;
  Cum lo{0, 0, 0};
  for (int j = 0; j < k; ++j) {
    const Cum hi = (j + 1 < k) ? CumulativeAt(g, b[j]) : all;
    const double m0 = hi.m0 - lo.m0, m1 = hi.m1 - lo.m1, m2 = hi.m2 - lo.m2;
    mse += m2 - 2 * c[j] * m1 + c[j] * c[j] * m0;
    lo = hi;
  }
  const double total = all.m0;
  Codebook cb;
  cb.kind = kind;
  cb.dim = d;
  cb.bits = bits;
  cb.expected_mse = d * mse / total;
  cb.centroids.resize(k);
  for (int j = 0; j < k; ++j) cb.centroids[j] = static_cast<float>(c[j]);
  cb.thresholds.resize(k);
  for (int j = 0; j + 1 < k; ++j) {
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
  static auto* grids = new std::map<std::pair<uint32_t, uint32_t>,
                                    std::shared_ptr<const Grid>>();
  const Key key{static_cast<uint32_t>(kind), dim, bits};
  std::shared_ptr<const Grid> grid;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache->find(key);
    if (it != cache->end()) return it->second;
    auto git = grids->find({static_cast<uint32_t>(kind), dim});
    if (git != grids->end()) grid = git->second;
  }
  if (!grid) {
    grid = std::make_shared<const Grid>(MakeGrid(kind, dim));
    std::lock_guard<std::mutex> lock(mu);
    // Keep a handful of grids (8 MiB each x 4 arrays) for reuse across b.
    if (grids->size() >= 4) grids->clear();
    (*grids)[{static_cast<uint32_t>(kind), dim}] = grid;
  }
  auto cb = std::make_shared<const Codebook>(Solve(kind, dim, bits, *grid));
  std::lock_guard<std::mutex> lock(mu);
  auto [it, inserted] = cache->emplace(key, cb);
  return it->second;
}

std::vector<double> CellMasses(const Codebook& cb) {
  // 2^16 bins: masses to ~1e-9, plenty for weights of reconstructions.
  const Grid g = MakeGrid(cb.kind, cb.dim, 1 << 16);
  const size_t n = g.t.size();
  const size_t k = cb.centroids.size();
  std::vector<double> out(k);
  double lo = 0;
  for (size_t j = 0; j < k; ++j) {
    const double hi =
        j + 1 < k ? CumulativeAt(g, cb.thresholds[j]).m0 : g.w0[n];
    out[j] = (hi - lo) / g.w0[n];
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
