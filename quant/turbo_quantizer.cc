#include "quant/turbo_quantizer.h"

#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "quant/bitpack.h"
#include "quant/coding.h"
#include "quant/finite.h"
#include "quant/kernels.h"
#include "quant/random.h"
#include "quant/status_macros.h"

namespace tqdb {
namespace {

constexpr uint32_t kTqMagic = 0x31515154;  // "TQQ1"
constexpr uint32_t kTqVersion = 1;

// Per-thread scratch buffers, grown on demand.
struct Scratch {
  std::vector<float> a, b, c;
  std::vector<uint8_t> idx;
  void Reserve(size_t d) {
    if (a.size() < d) {
      a.resize(d);
      b.resize(d);
      c.resize(d);
      idx.resize(d);
    }
  }
};
Scratch& ThreadScratch(size_t d) {
  thread_local Scratch s;
  s.Reserve(d);
  return s;
}

absl::Status CheckFinite(absl::Span<const float> x, absl::string_view what) {
  const std::ptrdiff_t i = FirstNonFinite(x.data(), x.size());
  if (i < 0) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      what, " coordinate ", i, " is ", std::isnan(x[i]) ? "NaN" : "infinite"));
}

// Double-precision dot product in a fixed order (four interleaved partial
// sums combined pairwise), so its value never depends on the SIMD target.
double DotDouble(const float* a, const float* b, size_t n) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += double{a[i]} * b[i];
    s1 += double{a[i + 1]} * b[i + 1];
    s2 += double{a[i + 2]} * b[i + 2];
    s3 += double{a[i + 3]} * b[i + 3];
  }
  for (; i < n; ++i) s0 += double{a[i]} * b[i];
  return (s0 + s1) + (s2 + s3);
}

// E|u_1| for u uniform on the unit sphere of R^d.
double MeanAbsCoordinate(uint32_t d) {
  return std::exp(std::lgamma(d / 2.0) - std::lgamma((d + 1) / 2.0)) /
         std::sqrt(M_PI);
}

}  // namespace

const char* TqMethodName(TqMethod m) {
  switch (m) {
    case TqMethod::kMse:
      return "mse";
    case TqMethod::kProd:
      return "prod";
    case TqMethod::kRenorm:
      return "renorm";
  }
  return "unknown";
}

absl::StatusOr<TqMethod> ParseTqMethod(absl::string_view name) {
  if (name == "mse") return TqMethod::kMse;
  if (name == "prod") return TqMethod::kProd;
  if (name == "renorm") return TqMethod::kRenorm;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown TurboQuant method '", name, "' (expected mse, prod or renorm)"));
}

absl::StatusOr<std::unique_ptr<TurboQuantizer>> TurboQuantizer::Create(
    const TurboOptions& o) {
  if (o.dim < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("dimension must be >= 2, got ", o.dim));
  }
  if (o.bits < 1 || o.bits > 8) {
    return absl::InvalidArgumentError(
        absl::StrCat("bits per coordinate must be in [1, 8], got ", o.bits));
  }
  if (o.method != TqMethod::kMse && o.method != TqMethod::kProd &&
      o.method != TqMethod::kRenorm) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown method ", static_cast<uint32_t>(o.method)));
  }
  if (o.single_factor && o.method != TqMethod::kRenorm) {
    return absl::InvalidArgumentError(absl::StrCat(
        "single_factor applies to renorm only, not ", TqMethodName(o.method)));
  }
  if (o.sketch != SketchKind::kStructured &&
      o.sketch != SketchKind::kGaussian) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown sketch kind ", static_cast<uint32_t>(o.sketch)));
  }
  TQ_ASSIGN_OR_RETURN(
      HadamardRotation rot,
      HadamardRotation::Create(o.dim, o.seed, o.rotation_rounds));
  std::unique_ptr<TurboQuantizer> q(new TurboQuantizer(o, std::move(rot)));
  if (o.method == TqMethod::kProd && o.sketch == SketchKind::kStructured) {
    TQ_ASSIGN_OR_RETURN(
        HadamardRotation s,
        HadamardRotation::Create(o.dim, o.seed + 1, o.rotation_rounds));
    q->sketch_ = std::make_unique<HadamardRotation>(std::move(s));
  }
  TQ_RETURN_IF_ERROR(q->Init());
  return q;
}

absl::Status TurboQuantizer::Init() {
  const TurboOptions& o = options_;
  mse_bits_ = o.method == TqMethod::kProd ? o.bits - 1 : o.bits;
  code_bytes_ = (size_t{o.bits} * o.dim + 7) / 8;
  factor_bytes_ = (o.method == TqMethod::kMse ||
                   (o.single_factor && o.method == TqMethod::kRenorm))
                      ? 4
                      : 8;
  if (mse_bits_ > 0 && !codebook_) {
    TQ_ASSIGN_OR_RETURN(codebook_, GetCodebook(o.codebook, o.dim, mse_bits_));
  }
  if (o.method == TqMethod::kProd) {
    if (o.sketch == SketchKind::kStructured) {
      kappa_ = static_cast<float>(1.0 / (o.dim * MeanAbsCoordinate(o.dim)));
    } else {
      kappa_ = static_cast<float>(std::sqrt(M_PI / 2) / o.dim);
      Rng rng(o.seed + 1);
      gaussian_.resize(size_t{o.dim} * o.dim);
      for (float& v : gaussian_) v = static_cast<float>(rng.Gaussian());
    }
  }
  return absl::OkStatus();
}

size_t TurboQuantizer::QueryStateBytes() const {
  size_t bytes = rotation_.ApplyBytes();
  if (options_.method == TqMethod::kProd) {
    bytes += sketch_ ? sketch_->ApplyBytes() : gaussian_.size() * sizeof(float);
  }
  if (const Codebook* book = codebook()) {
    bytes += book->centroids.size() * sizeof(float);
  }
  return bytes;
}

void TurboQuantizer::SketchApply(const float* in, float* out,
                                 float* scratch) const {
  const size_t d = options_.dim;
  if (sketch_) {
    sketch_->Apply(in, out, scratch);
  } else {
    for (size_t i = 0; i < d; ++i) {
      out[i] = kernels::Dot(&gaussian_[i * d], in, d);
    }
  }
}

void TurboQuantizer::SketchApplyTranspose(const float* in, float* out,
                                          float* scratch) const {
  const size_t d = options_.dim;
  if (sketch_) {
    sketch_->ApplyInverse(in, out, scratch);
  } else {
    for (size_t j = 0; j < d; ++j) out[j] = 0.0f;
    for (size_t i = 0; i < d; ++i) {
      for (size_t j = 0; j < d; ++j) out[j] += in[i] * gaussian_[i * d + j];
    }
  }
}

absl::Status TurboQuantizer::Encode(absl::Span<const float> x,
                                    uint8_t* code) const {
  if (x.size() != options_.dim) {
    return absl::InvalidArgumentError(absl::StrCat(
        "vector has ", x.size(), " coordinates, expected ", options_.dim));
  }
  TQ_RETURN_IF_ERROR(CheckFinite(x, "vector"));
  EncodeUnchecked(x.data(), code);
  return absl::OkStatus();
}

absl::Status TurboQuantizer::EncodeBatch(const float* x, size_t n,
                                         uint8_t* codes) const {
  const size_t d = options_.dim;
  for (size_t i = 0; i < n; ++i) {
    absl::Status s =
        CheckFinite(absl::MakeConstSpan(x + i * d, d), absl::StrCat("row ", i));
    if (!s.ok()) return s;
  }
  for (size_t i = 0; i < n; ++i) {
    EncodeUnchecked(x + i * d, codes + i * bytes_per_vector());
  }
  return absl::OkStatus();
}

void TurboQuantizer::EncodeUnchecked(const float* x, uint8_t* code) const {
  const size_t d = options_.dim;
  Scratch& s = ThreadScratch(d);
  float* y = s.a.data();
  float* tmp = s.b.data();
  float* r = s.c.data();
  uint8_t* idx = s.idx.data();
  std::memset(code, 0, bytes_per_vector());

  // Norm in double, fixed order: identical on every target.
  const double norm = std::sqrt(DotDouble(x, x, d));
  const float inv = norm > 0 ? static_cast<float>(1.0 / norm) : 0.0f;
  for (size_t i = 0; i < d; ++i) tmp[i] = x[i] * inv;
  rotation_.Apply(tmp, y, r);

  // Lloyd-Max stage.
  double y_dot_yhat = 0.0;
  const size_t sign_bits = options_.method == TqMethod::kProd ? d : 0;
  if (mse_bits_ > 0) {
    kernels::Quantize(y, d, codebook_->thresholds.data(), mse_bits_, idx);
    PackBits(idx, d, mse_bits_, code, sign_bits);
    const float* c = codebook_->centroids.data();
    for (size_t i = 0; i < d; ++i) r[i] = c[idx[i]];  // y_hat, for now
    y_dot_yhat = DotDouble(y, r, d);
    for (size_t i = 0; i < d; ++i) r[i] = y[i] - r[i];
  } else {
    for (size_t i = 0; i < d; ++i) r[i] = y[i];
  }

  uint8_t* factors = code + code_bytes_;
  EncodeFloat(factors, static_cast<float>(norm));
  switch (options_.method) {
    case TqMethod::kMse:
      break;
    case TqMethod::kRenorm: {
      const double scale = y_dot_yhat > 1e-30 ? 1.0 / y_dot_yhat : 0.0;
      if (options_.single_factor) {
        EncodeFloat(factors, static_cast<float>(norm * scale));
      } else {
        EncodeFloat(factors + 4, norm > 0 ? static_cast<float>(scale) : 0.0f);
      }
      break;
    }
    case TqMethod::kProd: {
      const double gsq = DotDouble(r, r, d);
      SketchApply(r, tmp, y);  // y is free now
      for (size_t i = 0; i < d; ++i) {
        if (tmp[i] >= 0.0f) code[i >> 3] |= uint8_t(1u << (i & 7));
      }
      EncodeFloat(factors + 4,
                  norm > 0 ? static_cast<float>(std::sqrt(gsq)) : 0.0f);
      break;
    }
  }
}

void TurboQuantizer::Decode(const uint8_t* code, float* out) const {
  const size_t d = options_.dim;
  Scratch& s = ThreadScratch(d);
  float* yh = s.a.data();
  float* tmp = s.b.data();
  float* scratch = s.c.data();
  const size_t sign_bits = options_.method == TqMethod::kProd ? d : 0;
  if (mse_bits_ > 0) {
    UnpackBits(code, d, mse_bits_, s.idx.data(), sign_bits);
    for (size_t i = 0; i < d; ++i) yh[i] = codebook_->centroids[s.idx[i]];
  } else {
    for (size_t i = 0; i < d; ++i) yh[i] = 0.0f;
  }
  const float norm = DecodeFloat(code + code_bytes_);
  if (options_.method == TqMethod::kProd) {
    const float gamma = DecodeFloat(code + code_bytes_ + 4);
    for (size_t i = 0; i < d; ++i) {
      tmp[i] = ((code[i >> 3] >> (i & 7)) & 1) ? 1.0f : -1.0f;
    }
    SketchApplyTranspose(tmp, out, scratch);
    for (size_t i = 0; i < d; ++i) yh[i] += kappa_ * gamma * out[i];
  }
  rotation_.ApplyInverse(yh, out, scratch);
  for (size_t i = 0; i < d; ++i) out[i] *= norm;
}

absl::StatusOr<TqQuery> TurboQuantizer::PrepareQuery(
    absl::Span<const float> q) const {
  const size_t d = options_.dim;
  if (q.size() != d) {
    return absl::InvalidArgumentError(
        absl::StrCat("query has ", q.size(), " coordinates, expected ", d));
  }
  TQ_RETURN_IF_ERROR(CheckFinite(q, "query"));
  TqQuery out;
  out.rotated.resize(d);
  std::vector<float> scratch(d);
  rotation_.Apply(q.data(), out.rotated.data(), scratch.data());
  double nsq = 0;
  for (float v : q) nsq += double{v} * v;
  out.norm_sq = static_cast<float>(nsq);
  if (options_.method == TqMethod::kProd) {
    out.sketched.resize(d);
    SketchApply(out.rotated.data(), out.sketched.data(), scratch.data());
    double sum = 0;
    for (float v : out.sketched) sum += v;
    out.sketched_sum = static_cast<float>(sum);
  }
  return out;
}

float TurboQuantizer::Estimate(const TqQuery& q, const uint8_t* code,
                               bool simd) const {
  const size_t d = options_.dim;
  const size_t sign_bits = options_.method == TqMethod::kProd ? d : 0;
  float a = 0.0f;
  if (mse_bits_ > 0) {
    Scratch& s = ThreadScratch(d);
    UnpackBits(code, d, mse_bits_, s.idx.data(), sign_bits);
    a = simd ? kernels::DotLut(q.rotated.data(), s.idx.data(),
                               codebook_->centroids.data(), d)
             : kernels::scalar::DotLut(q.rotated.data(), s.idx.data(),
                                       codebook_->centroids.data(), d);
  }
  const float norm = DecodeFloat(code + code_bytes_);
  switch (options_.method) {
    case TqMethod::kMse:
      return norm * a;
    case TqMethod::kRenorm:
      if (options_.single_factor) return norm * a;
      return norm * DecodeFloat(code + code_bytes_ + 4) * a;
    case TqMethod::kProd: {
      const float gamma = DecodeFloat(code + code_bytes_ + 4);
      const float pos =
          simd ? kernels::MaskedSum(q.sketched.data(), code, d)
               : kernels::scalar::MaskedSum(q.sketched.data(), code, d);
      const float b = 2.0f * pos - q.sketched_sum;
      return norm * (a + kappa_ * gamma * b);
    }
  }
  return 0.0f;
}

float TurboQuantizer::EstimateIp(const TqQuery& q, const uint8_t* code) const {
  return Estimate(q, code, /*simd=*/true);
}

float TurboQuantizer::EstimateIpScalar(const TqQuery& q,
                                       const uint8_t* code) const {
  return Estimate(q, code, /*simd=*/false);
}

void TurboQuantizer::EstimateIpBatch(const TqQuery& q, const uint8_t* codes,
                                     size_t n, float* out) const {
  const size_t bpv = bytes_per_vector();
  for (size_t i = 0; i < n; ++i) out[i] = Estimate(q, codes + i * bpv, true);
}

float TurboQuantizer::StoredNorm(const uint8_t* code) const {
  return DecodeFloat(code + code_bytes_);
}

std::string TurboQuantizer::Serialize() const {
  std::string s;
  PutFixed32(&s, kTqMagic);
  PutFixed32(&s, kTqVersion);
  PutFixed32(&s, options_.dim);
  PutFixed32(&s, options_.bits);
  PutFixed32(&s, static_cast<uint32_t>(options_.method));
  PutFixed64(&s, options_.seed);
  PutFixed32(&s, static_cast<uint32_t>(options_.sketch));
  PutFixed32(&s, static_cast<uint32_t>(options_.codebook));
  PutFixed32(&s, options_.rotation_rounds);
  PutFixed32(&s, options_.single_factor ? 1 : 0);
  PutBytes(&s, rotation_.Serialize());
  PutBytes(&s, sketch_ ? sketch_->Serialize() : std::string());
  PutBytes(&s, codebook_ ? codebook_->Serialize() : std::string());
  PutCrcTrailer(&s);
  return s;
}

absl::StatusOr<std::unique_ptr<TurboQuantizer>> TurboQuantizer::Deserialize(
    absl::string_view bytes) {
  auto corrupt = [](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("TurboQuant parameters: ", why));
  };
  if (bytes.size() < 8) return corrupt("truncated");
  absl::string_view payload;
  if (!CheckCrcTrailer(bytes, &payload)) return corrupt("checksum mismatch");
  Decoder dec(payload);
  uint32_t magic = 0, version = 0, method = 0, sketch = 0, codebook = 0,
           single = 0;
  TurboOptions o;
  uint64_t seed = 0;
  absl::string_view rot_bytes, sketch_bytes, cb_bytes;
  if (!dec.GetFixed32(&magic) || !dec.GetFixed32(&version)) {
    return corrupt("truncated header");
  }
  if (magic != kTqMagic) return corrupt("bad magic");
  if (version != kTqVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("TurboQuant format version ", version,
                     " is not supported (this build reads ", kTqVersion, ")"));
  }
  if (!dec.GetFixed32(&o.dim) || !dec.GetFixed32(&o.bits) ||
      !dec.GetFixed32(&method) || !dec.GetFixed64(&seed) ||
      !dec.GetFixed32(&sketch) || !dec.GetFixed32(&codebook) ||
      !dec.GetFixed32(&o.rotation_rounds) || !dec.GetFixed32(&single) ||
      !dec.GetBytes(&rot_bytes) || !dec.GetBytes(&sketch_bytes) ||
      !dec.GetBytes(&cb_bytes) || dec.remaining() != 0) {
    return corrupt("truncated or trailing bytes");
  }
  if (method > 2 || sketch > 1 || codebook > 1 || o.bits < 1 || o.bits > 8 ||
      single > 1 || (single && method != 2)) {
    return corrupt("bad method/sketch/codebook/bits/factor layout");
  }
  o.single_factor = single != 0;
  o.method = static_cast<TqMethod>(method);
  o.sketch = static_cast<SketchKind>(sketch);
  o.codebook = static_cast<CodebookKind>(codebook);
  o.seed = seed;
  TQ_ASSIGN_OR_RETURN(HadamardRotation rot,
                      HadamardRotation::Deserialize(rot_bytes));
  if (rot.dim() != o.dim) return corrupt("rotation dimension mismatch");
  std::unique_ptr<TurboQuantizer> q(new TurboQuantizer(o, std::move(rot)));
  const bool want_sketch =
      o.method == TqMethod::kProd && o.sketch == SketchKind::kStructured;
  if (want_sketch != !sketch_bytes.empty()) return corrupt("sketch mismatch");
  if (want_sketch) {
    TQ_ASSIGN_OR_RETURN(HadamardRotation s,
                        HadamardRotation::Deserialize(sketch_bytes));
    if (s.dim() != o.dim) return corrupt("sketch dimension mismatch");
    q->sketch_ = std::make_unique<HadamardRotation>(std::move(s));
  }
  const uint32_t mse_bits = o.method == TqMethod::kProd ? o.bits - 1 : o.bits;
  if ((mse_bits > 0) != !cb_bytes.empty()) return corrupt("codebook mismatch");
  if (mse_bits > 0) {
    TQ_ASSIGN_OR_RETURN(Codebook cb, Codebook::Deserialize(cb_bytes));
    if (cb.dim != o.dim || cb.bits != mse_bits || cb.kind != o.codebook) {
      return corrupt("codebook does not match the options");
    }
    q->codebook_ = std::make_shared<const Codebook>(std::move(cb));
  }
  TQ_RETURN_IF_ERROR(q->Init());
  return q;
}

}  // namespace tqdb
