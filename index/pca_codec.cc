#include "index/pca_codec.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "index/fixed_point.h"
#include "index/pca_params.h"
#include "quant/coding.h"
#include "quant/kernels.h"
#include "quant/status_macros.h"

namespace tqdb {
namespace {

using pca::kFactorF16;
using pca::kFactorF32;
using pca::kFactorFormat;
using pca::LoadCodebooks;
using pca::PcaParams;
using pca::UnitCodebooks;

constexpr uint32_t kKindPca = 2;  // ScanCodec kind tag (see scan_codec.cc)
constexpr uint32_t kPcaMagic = 0x31414350;  // "PCA1"
// Version 1: unnormalized residuals, widths {0,1,2,4,8}, nibble-layout codes.
// Version 2: unit-normalized residuals, group rotations, widths 0..8,
// tightly packed codes, float16 factors.
// Version 3: version 2 with a flags word in place of single_factor (bit 0
// single_factor, bit 1 center_factor, bit 2 centered_norm: the second
// factor is ||r||^2 + 2 <c, r>).
// Version 4: flag bit 3, a query weighting by a general d x d matrix (a
// development build's; refused: no collection could choose it).
// Version 5: flag bit 3, the query weighting (CodecOptions::pca_weighting):
// the k weights and the rest weight (PcaParams) follow the rows.
constexpr uint32_t kPcaVersion = 5;
constexpr uint32_t kFlagSingleFactor = 1, kFlagCenterFactor = 2,
                   kFlagCenteredNorm = 4, kFlagWeighted = 8;

// Codebook scales tried per vector: 2^(i/8 - 1/2), i = 0..8.
constexpr int kNumScales = 9;
const double kScales[kNumScales] = {0.70710678, 0.77110541, 0.84089642,
                                    0.91700404, 1.0,        1.09050773,
                                    1.18920712, 1.29683955, 1.41421356};

// The next float above a finite x (std::nextafter(x, +inf), inlined: it
// runs for every coordinate of every scale tried).
inline float NextUp(float x) {
  if (x == 0.0f) return std::numeric_limits<float>::denorm_min();
  uint32_t u;
  std::memcpy(&u, &x, sizeof(u));
  u = x > 0.0f ? u + 1 : u - 1;
  std::memcpy(&x, &u, sizeof(u));
  return x;
}

class PcaScanCodec : public ScanCodec {
 public:
  PcaScanCodec(const CodecOptions& o, PcaParams p, UnitCodebooks books)
      : options_(o), p_(std::move(p)), books_(std::move(books)) {
    // n' takes the place of ||r||^2, which a single factor does not have.
    if (options_.single_factor) options_.centered_norm = false;
    options_.pca_weighting =
        p_.weight.empty() ? PcaWeighting::kOff : PcaWeighting::kOn;
    const uint32_t k = static_cast<uint32_t>(p_.bits.size());
    // Rows come in non-increasing width order, so first fit is first-fit
    // decreasing: 1..4-bit coordinates share 4-bit sub-codes (stream A),
    // 5..8-bit ones get a byte sub-code each (stream C).
    std::vector<uint32_t> used;
    size_t bit_total = 0;
    for (uint32_t i = 0; i < k; ++i) {
      const uint8_t b = p_.bits[i];
      if (runs_.empty() || runs_.back().bits != b) runs_.push_back({i, i, b});
      ++runs_.back().end;
      offset_.push_back(static_cast<uint32_t>(bit_total));
      bit_total += b;
      if (b >= 5) {
        bytes_.push_back(i);
        continue;
      }
      size_t g = 0;
      while (g < used.size() && used[g] + b > 4) ++g;
      if (g == used.size()) {
        used.push_back(0);
        nibbles_.emplace_back();
      }
      nibbles_[g].push_back({i, b, static_cast<uint8_t>(used[g])});
      used[g] += b;
    }
    shape_.m4a = RoundUp4(static_cast<uint32_t>(nibbles_.size()));
    nibbles_.resize(shape_.m4a);
    shape_.m8 = static_cast<uint32_t>(bytes_.size());
    // Factors: f, then ||r||^2 unless single_factor, then the centroid
    // correction if center_factor.
    shape_.nfactors = (o.single_factor ? 1 : 2) + (o.center_factor ? 1 : 0);
    index_bytes_ = (bit_total + 7) / 8;
    factor_bytes_ = p_.factor_format == kFactorF16 ? 2 : 4;
    code_bytes_ = index_bytes_ + factor_bytes_ * shape_.nfactors;
    describe_ = absl::StrCat("pca ", o.bits, "-bit",
                             p_.weight.empty() ? "" : " weighted", " (",
                             code_bytes_, " B)");
    // The query projection's rows, each as precise as its coordinate's code
    // needs: a weight's error adds to the estimate's as its coordinate's
    // level error does, about 2^-b of it for b bits. Rows of 5-8-bit
    // coordinates (the leading ones) are read as binary16 (half the bytes
    // of floats); the rest as int8 multiples of a per-row scale (a quarter),
    // whose rounding (~1% of a weight) adds under 1% to the error of a
    // 4-bit coordinate and less below, times the query rounded to int16
    // once (kernels::DotI16I8Rows: exact, so the same on every target).
    while (wide_rows_ < k && p_.bits[wide_rows_] >= 5) ++wide_rows_;
    rows16_.resize(size_t{wide_rows_} * p_.d);
    for (size_t i = 0; i < rows16_.size(); ++i) {
      rows16_[i] = FloatToHalf(p_.rows[i]);
    }
    rows8_.resize(size_t{k - wide_rows_} * p_.d);
    row8_scale_.resize(k - wide_rows_);
    for (uint32_t i = wide_rows_; i < k; ++i) {
      const float* row = &p_.rows[size_t{i} * p_.d];
      float m = 0;
      for (uint32_t j = 0; j < p_.d; ++j) m = std::max(m, std::fabs(row[j]));
      const float s = m / 127.0f;
      int8_t* dst = &rows8_[size_t{i - wide_rows_} * p_.d];
      for (uint32_t j = 0; j < p_.d; ++j) {
        dst[j] = static_cast<int8_t>(s > 0 ? std::round(row[j] / s) : 0.0f);
      }
      row8_scale_[i - wide_rows_] = s * p_.sigma[i];
    }
    info_.width = p_.bits;
    for (uint32_t i = 0; i < k; ++i) {
      const uint8_t b = p_.bits[i];
      if (info_.levels[b].empty()) {
        info_.levels[b] = books_.cent[b];
        info_.mass[b] = books_.mass[b];
      }
      info_.importance.push_back(double{p_.sigma[i]} * p_.sigma[i]);
      // A unit level step along coordinate i moves A^-1 y_hat by sigma_i
      // rows_i, of squared norm (sigma_i / weight_i)^2.
      if (!p_.weight.empty()) {
        const double m = double{p_.sigma[i]} / p_.weight[i];
        info_.metric.push_back(m * m);
      }
    }
  }

  std::string Serialize() const override {
    std::string in;
    PutFixed32(&in, kPcaMagic);
    PutFixed32(&in, kPcaVersion);
    PutFixed32(&in, p_.d);
    PutFixed32(&in, options_.bits);
    PutFixed64(&in, options_.seed);
    PutFixed32(&in, (options_.single_factor ? kFlagSingleFactor : 0) |
                        (options_.center_factor ? kFlagCenterFactor : 0) |
                        (options_.centered_norm ? kFlagCenteredNorm : 0) |
                        (p_.weight.empty() ? 0 : kFlagWeighted));
    PutFixed32(&in, p_.factor_format);
    PutFloat(&in, p_.factor_scale);
    PutFixed32(&in, static_cast<uint32_t>(p_.bits.size()));
    in.append(reinterpret_cast<const char*>(p_.bits.data()), p_.bits.size());
    for (float s : p_.sigma) PutFloat(&in, s);
    for (float v : p_.rows) PutFloat(&in, v);
    if (!p_.weight.empty()) {
      for (float v : p_.weight) PutFloat(&in, v);
      PutFloat(&in, p_.rest_weight);
    }
    PutCrcTrailer(&in);
    std::string s;
    PutFixed32(&s, kKindPca);
    PutBytes(&s, in);
    return s;
  }
  const CodecOptions& options() const override { return options_; }
  uint32_t dim() const override { return p_.d; }
  size_t code_bytes() const override { return code_bytes_; }
  const ScanShape& shape() const override { return shape_; }
  // The projection's rows and scales (the float rows that tiny queries
  // take instead are left out: they stand in for the rows counted).
  size_t query_bytes() const override {
    return rows16_.size() * sizeof(uint16_t) + rows8_.size() +
           (row8_scale_.size() + p_.sigma.size()) * sizeof(float);
  }
  std::string Describe() const override { return describe_; }

  absl::Status EncodeBatch(const float* v, size_t n,
                           uint8_t* codes) const override {
    const uint32_t d = p_.d, k = static_cast<uint32_t>(p_.bits.size());
    const bool weighted = !p_.weight.empty();
    std::vector<double> c(k), g(k);
    std::vector<float> z(k);
    std::vector<uint8_t> idx(k), cand(k);
    for (size_t i = 0; i < n; ++i) {
      const float* r = v + i * d;
      uint8_t* code = codes + i * code_bytes_;
      std::memset(code, 0, code_bytes_);
      double nsq = 0;
      for (uint32_t a = 0; a < d; ++a) nsq += double{r[a]} * r[a];
      const double norm = std::sqrt(nsq);
      double factor = 0;
      if (norm > 0) {
        // g: the query rows' products with r (with the weighting those of
        // A^-1 r along the axes); c: the coordinates of the coded direction
        // (of r, or of y = A r with the weighting).
        for (uint32_t j = 0; j < k; ++j) {
          g[j] = kernels::Dot(&p_.rows[size_t{j} * d], r, d);
        }
        double ynorm = norm;
        if (weighted) {
          // ||y||^2: the coded axes' part, and rest_weight^2 times the
          // part of ||r||^2 off them.
          double ysq = 0, coded_sq = 0;
          for (uint32_t j = 0; j < k; ++j) {
            const double t = double{p_.weight[j]} * g[j];  // <axis_j, r>
            c[j] = p_.weight[j] * t;
            coded_sq += t * t;
            ysq += c[j] * c[j];
          }
          const double rw = p_.rest_weight;
          ysq += rw * rw * std::max(0.0, nsq - coded_sq);
          ynorm = std::sqrt(ysq);
        } else {
          std::copy(g.begin(), g.end(), c.begin());
        }
        for (uint32_t j = 0; j < k; ++j) {
          c[j] = ynorm > 0 ? c[j] / ynorm : 0.0;
        }
        // Without the weighting the renorm estimate errs by ||r|| <q,
        // u_hat / <u, u_hat> - u>, whose size is tan(angle(u, u_hat)): pick,
        // among codebook scales kScales[s] (the codebook of N(0, (s
        // sigma)^2)), the one whose code has the largest cosine with u.
        // With it, the factor f = ||r||^2 / <r, r_hat> (r_hat = A^-1 y_hat)
        // makes the estimate exact along r, and the scale kept is the one
        // with the least weighted error ||f y_hat - y||^2 = f^2 ||y_hat||^2
        // - 2 f ||y|| <u_y, y_hat> + ||y||^2. The scale is not stored: the
        // factor absorbs it.
        // A coordinate's level is the cell of z = c / (sigma s), the
        // boundaries at or below z counted (kernels::Quantize counts those
        // strictly below its input: the next float up counts them).
        double best = weighted ? std::numeric_limits<double>::infinity() : -1;
        for (int si = 0; si < kNumScales; ++si) {
          for (uint32_t j = 0; j < k; ++j) {
            z[j] =
                NextUp(static_cast<float>(c[j] / (p_.sigma[j] * kScales[si])));
          }
          for (const BitRun& run : runs_) {
            kernels::Quantize(&z[run.begin], run.end - run.begin,
                              books_.thr[run.bits].data(), run.bits,
                              &cand[run.begin]);
          }
          double dt = 0, nn = 0, gg = 0;
          for (uint32_t j = 0; j < k; ++j) {
            const double v = p_.sigma[j] * books_.cent[p_.bits[j]][cand[j]];
            dt += c[j] * v;
            nn += v * v;
            if (weighted) gg += g[j] * v;
          }
          if (weighted) {
            if (!(gg > 1e-30)) continue;
            const double f = nsq / gg;
            const double loss = f * f * nn - 2 * f * ynorm * dt + ynorm * ynorm;
            if (loss < best) {
              best = loss;
              factor = f;
              idx.swap(cand);
            }
            continue;
          }
          const double cs = nn > 0 ? dt / std::sqrt(nn) : 0;
          if (cs > best) {
            best = cs;
            factor = dt > 1e-30 ? norm / dt : 0.0;
            idx.swap(cand);
          }
        }
        if (factor != 0 || !weighted) {
          for (uint32_t j = 0; j < k; ++j)
            WriteBits(code, offset_[j], p_.bits[j], idx[j]);
        }
      }
      uint8_t* f = code + index_bytes_;
      PutFactor(f, factor, 1);
      if (!options_.single_factor) PutFactor(f + factor_bytes_, nsq, 2);
    }
    return absl::OkStatus();
  }

  void Unpack(const uint8_t* code, uint8_t* sub4a, uint8_t* /*sub4b*/,
              uint8_t* sub8, float* factors) const override {
    for (uint32_t g = 0; g < shape_.m4a; ++g) {
      uint32_t val = 0;
      for (const Slot& s : nibbles_[g]) {
        val |= ReadBits(code, offset_[s.row], s.bits) << s.shift;
      }
      sub4a[g] = static_cast<uint8_t>(val);
    }
    for (uint32_t t = 0; t < bytes_.size(); ++t) {
      sub8[t] = static_cast<uint8_t>(
          ReadBits(code, offset_[bytes_[t]], p_.bits[bytes_[t]]));
    }
    const uint8_t* f = code + index_bytes_;
    for (uint32_t i = 0; i < shape_.nfactors; ++i) {
      factors[i] = GetFactor(f + factor_bytes_ * i, FactorPower(i));
    }
  }

  void BuildLuts(const float* u, bool /*l2*/, QueryLuts* out) const override {
    const uint32_t k = static_cast<uint32_t>(p_.bits.size());
    thread_local std::vector<float> w;  // sigma_i * <row_i, u>
    w.resize(k);
    QueryWeights(u, w.data());
    out->a.assign(size_t{shape_.m4a} * 16, 0.0f);
    out->b.clear();
    // Entries past a sub-code's 2^bits are never read: left as they were
    // (clearing them cost a quarter of the scan's kernel time on use512).
    out->c.resize(size_t{shape_.m8} * 256);
    // A sub-code's slots fill its bits from the lowest, so its table grows
    // slot by slot: with the entries of the bits below (`filled` of them)
    // in place, entry q * filled + low = entry low + w * level(q): one add
    // an entry (the same sums, in the same order, as summing each entry's
    // slots). Entries past the slots' bits repeat the ones below, as if
    // those bits were ignored.
    for (uint32_t g = 0; g < shape_.m4a; ++g) {
      float* t = &out->a[size_t{g} * 16];
      uint32_t filled = 1;
      for (const Slot& sl : nibbles_[g]) {
        const float wr = w[sl.row];
        const float* level = books_.cent[sl.bits].data();
        for (uint32_t q = (1u << sl.bits) - 1; q > 0; --q) {
          for (uint32_t low = 0; low < filled; ++low) {
            t[q * filled + low] = t[low] + wr * level[q];
          }
        }
        for (uint32_t low = 0; low < filled; ++low) t[low] += wr * level[0];
        filled <<= sl.bits;
      }
      for (uint32_t c = filled; c < 16; ++c) t[c] = t[c & (filled - 1)];
    }
    for (uint32_t i = 0; i < bytes_.size(); ++i) {
      const uint32_t j = bytes_[i];
      float* t = &out->c[size_t{i} * 256];
      for (uint32_t c = 0; c < (1u << p_.bits[j]); ++c) {
        t[c] = w[j] * books_.cent[p_.bits[j]][c];
      }
    }
  }

  float Combine(float a, float, float c, const float* f) const override {
    return f[0] * (a + c);
  }
  float NormSq(const float* f) const override {
    return options_.single_factor ? 0.0f : f[1];
  }
  void SetCenterFactor(uint8_t* code, float delta) const override {
    PutFactor(code + index_bytes_ + factor_bytes_ * (shape_.nfactors - 1),
              delta, 1);
  }
  void SetCenteredNorm(uint8_t* code, float n) const override {
    PutFactor(code + index_bytes_ + factor_bytes_, n, 2);
  }

  const ScalarCodeInfo* scalar_info() const override { return &info_; }
  void QueryWeights(const float* u, float* w) const override {
    const uint32_t k = static_cast<uint32_t>(p_.bits.size());
    const uint32_t d = p_.d;
    kernels::MatVecF16(rows16_.data(), wide_rows_, d, u, w);
    for (uint32_t i = 0; i < wide_rows_; ++i) w[i] *= p_.sigma[i];
    if (wide_rows_ == k) return;
    // u ~ t u16, |u16| <= qlim: no int32 sum of d products of int8 rows
    // overflows.
    const float qlim = static_cast<float>(Int16QueryLimit(d));
    float umax, usum;
    AbsMaxAndSum(u, d, &umax, &usum);
    const float t = umax / qlim;
    if (!(t >= std::numeric_limits<float>::min())) {
      // Zero, or too small for t's multiples: the float rows.
      for (uint32_t i = wide_rows_; i < k; ++i) {
        w[i] = kernels::Dot(&p_.rows[size_t{i} * d], u, d) * p_.sigma[i];
      }
      return;
    }
    thread_local std::vector<int16_t> u16;
    thread_local std::vector<int32_t> dot;
    u16.resize(d);
    dot.resize(k - wide_rows_);
    RoundToInt16(u, d, 1.0f / t, qlim, u16.data());
    kernels::DotI16I8Rows(u16.data(), rows8_.data(), d, k - wide_rows_, d,
                          dot.data());
    for (uint32_t i = wide_rows_; i < k; ++i) {
      // t * dot first: the weight's own magnitude (scale * t can be
      // denormal for tiny queries).
      w[i] = row8_scale_[i - wide_rows_] *
             (t * static_cast<float>(dot[i - wide_rows_]));
    }
  }
  void UnpackIndices(const uint8_t* code, uint8_t* idx,
                     float* factors) const override {
    const uint32_t k = static_cast<uint32_t>(p_.bits.size());
    for (uint32_t i = 0; i < k; ++i) {
      idx[i] = static_cast<uint8_t>(ReadBits(code, offset_[i], p_.bits[i]));
    }
    const uint8_t* f = code + index_bytes_;
    for (uint32_t i = 0; i < shape_.nfactors; ++i) {
      factors[i] = GetFactor(f + factor_bytes_ * i, FactorPower(i));
    }
  }
  uint32_t sub8_bits(uint32_t j) const override { return p_.bits[bytes_[j]]; }
  CombineForm combine_form() const override {
    CombineForm cf;
    cf.kind = CombineForm::kScaled;
    cf.norm_factor = 1;  // f = {scale, ||r||^2} when L2 is supported
    cf.norm_is_squared = true;
    cf.centered_norm = options_.centered_norm;
    if (options_.center_factor) {
      cf.center_factor = static_cast<int32_t>(shape_.nfactors) - 1;
    }
    return cf;
  }

 private:
  struct Slot {
    uint32_t row;
    uint8_t bits, shift;
  };

  static void WriteBits(uint8_t* dst, uint32_t off, uint32_t bits, uint32_t v) {
    for (uint32_t i = 0; i < bits; ++i, ++off) {
      dst[off >> 3] |= static_cast<uint8_t>(((v >> i) & 1) << (off & 7));
    }
  }
  static uint32_t ReadBits(const uint8_t* src, uint32_t off, uint32_t bits) {
    uint32_t v = 0;
    for (uint32_t i = 0; i < bits; ++i, ++off) {
      v |= uint32_t{(src[off >> 3] >> (off & 7)) & 1u} << i;
    }
    return v;
  }
  // Factor i's scale: factor_scale^power, power 2 for ||r||^2, 1 for the
  // others (f and the centroid correction, linear in ||r||).
  int FactorPower(uint32_t i) const {
    return i == 1 && !options_.single_factor ? 2 : 1;
  }
  // power = 1 for the scale factor, 2 for ||r||^2.
  void PutFactor(uint8_t* dst, double value, int power) const {
    if (p_.factor_format == kFactorF32) {
      EncodeFloat(dst, static_cast<float>(value));
      return;
    }
    const double s = power == 1 ? p_.factor_scale
                                : double{p_.factor_scale} * p_.factor_scale;
    const uint16_t h = FloatToHalf(static_cast<float>(value / s));
    dst[0] = static_cast<uint8_t>(h & 0xff);
    dst[1] = static_cast<uint8_t>(h >> 8);
  }
  float GetFactor(const uint8_t* src, int power) const {
    if (p_.factor_format == kFactorF32) return DecodeFloat(src);
    const float s =
        power == 1 ? p_.factor_scale : p_.factor_scale * p_.factor_scale;
    return HalfToFloat(static_cast<uint16_t>(src[0] | (src[1] << 8))) * s;
  }

  CodecOptions options_;
  PcaParams p_;
  UnitCodebooks books_;
  std::vector<uint32_t> offset_;  // bit offset of each row's index
  // Rows [begin, end) of one width: bits are non-increasing, so a width's
  // rows are one run (EncodeBatch quantizes a run in one call).
  struct BitRun {
    uint32_t begin, end;
    uint8_t bits;
  };
  std::vector<BitRun> runs_;
  std::vector<std::vector<Slot>> nibbles_;
  std::vector<uint32_t> bytes_;
  ScanShape shape_;
  size_t index_bytes_ = 0, factor_bytes_ = 4, code_bytes_ = 0;
  // The query projection's rows (see the constructor): the first
  // wide_rows_ (5-8-bit coordinates) in binary16, the rest int8 times
  // row8_scale_ (sigma included).
  uint32_t wide_rows_ = 0;
  std::vector<uint16_t> rows16_;
  std::vector<int8_t> rows8_;
  std::vector<float> row8_scale_;
  ScalarCodeInfo info_;
  std::string describe_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ScanCodec>> CreatePcaCodec(const CodecOptions& o,
                                                          uint32_t dim,
                                                          const float* train,
                                                          size_t n) {
  if (o.bits < 1 || o.bits > 8) {
    return absl::InvalidArgumentError(
        absl::StrCat("bits per dimension must be in [1, 8], got ", o.bits));
  }
  if (dim < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("pca codec: dimension must be >= 2, got ", dim));
  }
  if (train == nullptr || n < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("pca codec: needs at least 2 training rows, got ", n));
  }
  TQ_ASSIGN_OR_RETURN(UnitCodebooks books, LoadCodebooks());
  TQ_ASSIGN_OR_RETURN(PcaParams p,
                      pca::TrainPcaParams(o, dim, train, n, books));
  return std::unique_ptr<ScanCodec>(
      new PcaScanCodec(o, std::move(p), std::move(books)));
}

absl::StatusOr<std::unique_ptr<ScanCodec>> DeserializePcaCodec(
    absl::string_view bytes) {
  auto corrupt = [](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("pca codec parameters: ", why));
  };
  if (bytes.size() < 8) return corrupt("truncated");
  absl::string_view payload;
  if (!CheckCrcTrailer(bytes, &payload)) return corrupt("checksum mismatch");
  Decoder dec(payload);
  uint32_t magic = 0, version = 0, d = 0, bits = 0, single = 0, format = 0,
           k = 0;
  uint64_t seed = 0;
  if (!dec.GetFixed32(&magic) || !dec.GetFixed32(&version) ||
      magic != kPcaMagic) {
    return corrupt("bad header");
  }
  if (version < 2 || version > kPcaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "pca codec format version ", version, " is not supported (this build ",
        "reads version ", kPcaVersion,
        "); rebuild the index or collection from the raw vectors"));
  }
  PcaParams p;
  if (!dec.GetFixed32(&d) || !dec.GetFixed32(&bits) || !dec.GetFixed64(&seed) ||
      !dec.GetFixed32(&single) || !dec.GetFixed32(&format) ||
      !dec.GetFloat(&p.factor_scale) || !dec.GetFixed32(&k) || d < 2 ||
      bits < 1 || bits > 8 || k > d || format > kFactorF16 ||
      !(p.factor_scale > 0)) {
    return corrupt("bad dimensions");
  }
  const bool weighted = version >= 4 && (single & kFlagWeighted) != 0;
  if (weighted && version == 4) {
    return absl::FailedPreconditionError(
        "pca codec format version 4 with a query weighting is not supported "
        "(this build weights by version 5's per-width weights); rebuild the "
        "index from the raw vectors");
  }
  if (dec.remaining() != size_t{k} + size_t{k} * 4 + size_t{k} * d * 4 +
                             (weighted ? size_t{k} * 4 + 4 : 0)) {
    return corrupt("bad dimensions");
  }
  CodecOptions o;
  o.method = "pca";
  o.bits = bits;
  o.seed = seed;
  // Version 2 stored single_factor (0 or 1) where later versions have flags.
  if (single > (version == 2 ? 1u : version == 3 ? 7u : 15u)) {
    return corrupt("bad flags");
  }
  o.single_factor = (single & kFlagSingleFactor) != 0;
  o.center_factor = (single & kFlagCenterFactor) != 0;
  o.centered_norm = (single & kFlagCenteredNorm) != 0;
  if (o.single_factor && o.centered_norm) return corrupt("bad flags");
  p.d = d;
  p.factor_format = format;
  absl::string_view raw;
  dec.GetRaw(k, &raw);
  p.bits.assign(raw.begin(), raw.end());
  for (size_t i = 0; i < k; ++i) {
    if (p.bits[i] < 1 || p.bits[i] > 8 || (i > 0 && p.bits[i] > p.bits[i - 1]))
      return corrupt("bits out of range");
  }
  p.sigma.resize(k);
  p.rows.resize(size_t{k} * d);
  for (float& s : p.sigma) dec.GetFloat(&s);
  for (float& v : p.rows) dec.GetFloat(&v);
  if (weighted) {
    p.weight.resize(k);
    for (float& v : p.weight) dec.GetFloat(&v);
    dec.GetFloat(&p.rest_weight);
    for (float v : p.weight) {
      if (!(v > 0) || !std::isfinite(v)) return corrupt("bad weights");
    }
    if (!(p.rest_weight > 0) || !std::isfinite(p.rest_weight)) {
      return corrupt("bad weights");
    }
  }
  TQ_ASSIGN_OR_RETURN(UnitCodebooks books, LoadCodebooks());
  return std::unique_ptr<ScanCodec>(
      new PcaScanCodec(o, std::move(p), std::move(books)));
}

}  // namespace tqdb
