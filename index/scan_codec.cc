#include "index/scan_codec.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "index/pca_codec.h"
#include "quant/bitpack.h"
#include "quant/codebook.h"
#include "quant/coding.h"
#include "quant/pq.h"
#include "quant/status_macros.h"
#include "quant/turbo_quantizer.h"

namespace tqdb {
namespace {

constexpr uint32_t kKindTurbo = 0;
constexpr uint32_t kKindPq = 1;
// 2 is pca (index/pca_codec.cc). TurboQuant mse or renorm with a centroid
// correction factor (CodecOptions::center_factor) after the quantizer's
// code: its float32.
constexpr uint32_t kKindTurboCentered = 3;
// TurboQuant mse or renorm with a flags word before the quantizer's
// parameters: kTurboFlag*. The centroid correction alone is kind 3.
constexpr uint32_t kKindTurboFlags = 4;
constexpr uint32_t kTurboFlagCenter = 1;
constexpr uint32_t kTurboFlagCenteredNorm = 2;

// Sub-code counts are padded to a multiple of 4 (an even number of pairs),
// so 64-byte vectors always cover whole pairs.

class TurboScanCodec : public ScanCodec {
 public:
  TurboScanCodec(const CodecOptions& o, std::unique_ptr<TurboQuantizer> tq)
      : options_(o), tq_(std::move(tq)) {
    const uint32_t d = tq_->dim();
    m_ = tq_->mse_bits();
    prod_ = tq_->options().method == TqMethod::kProd;
    if (prod_) options_.center_factor = options_.centered_norm = false;
    center_ = options_.center_factor;
    centered_norm_ = options_.centered_norm;
    if (m_ >= 1 && m_ <= 4) {
      per_nibble_ = (m_ == 3) ? 1 : 4 / m_;
      shape_.m4a = RoundUp4((d + per_nibble_ - 1) / per_nibble_);
    } else if (m_ >= 5) {
      shape_.m8 = d;
    }
    if (prod_) shape_.m4b = RoundUp4((d + 3) / 4);
    shape_.nfactors = static_cast<uint32_t>(tq_->factor_bytes() / 4) +
                      (center_ ? 1 : 0) + (centered_norm_ ? 1 : 0);
    if (!prod_ && m_ >= 1 && tq_->codebook() != nullptr) {
      info_.width.assign(d, static_cast<uint8_t>(m_));
      info_.levels[m_] = tq_->codebook()->centroids;
      info_.mass[m_] = CellMasses(*tq_->codebook());
      info_.importance.assign(d, 1.0);
    }
    describe_ =
        absl::StrCat(TqMethodName(tq_->options().method), " ",
                     tq_->options().bits, "-bit (", code_bytes(), " B)");
  }

  std::string Serialize() const override {
    std::string s;
    if (!centered_norm_) {
      PutFixed32(&s, center_ ? kKindTurboCentered : kKindTurbo);
      PutBytes(&s, tq_->Serialize());
      return s;
    }
    std::string inner;
    PutFixed32(&inner, (center_ ? kTurboFlagCenter : 0) |
                           (centered_norm_ ? kTurboFlagCenteredNorm : 0));
    inner += tq_->Serialize();
    PutFixed32(&s, kKindTurboFlags);
    PutBytes(&s, inner);
    return s;
  }
  const CodecOptions& options() const override { return options_; }
  uint32_t dim() const override { return tq_->dim(); }
  size_t code_bytes() const override {
    return tq_->bytes_per_vector() + extra_bytes();
  }
  const ScanShape& shape() const override { return shape_; }
  size_t query_bytes() const override { return tq_->QueryStateBytes(); }
  std::string Describe() const override { return describe_; }

  absl::Status EncodeBatch(const float* v, size_t n,
                           uint8_t* codes) const override {
    const size_t extra = extra_bytes();
    if (extra == 0) return tq_->EncodeBatch(v, n, codes);
    // The quantizer's codes, then each moved up to its slot with zero
    // factors after it (from the last, so none is overwritten first).
    const size_t inner = tq_->bytes_per_vector(), outer = inner + extra;
    TQ_RETURN_IF_ERROR(tq_->EncodeBatch(v, n, codes));
    for (size_t i = n; i-- > 0;) {
      std::memmove(codes + i * outer, codes + i * inner, inner);
      for (size_t b = 0; b < extra; b += 4) {
        EncodeFloat(codes + i * outer + inner + b, 0.0f);
      }
    }
    return absl::OkStatus();
  }

  void Unpack(const uint8_t* code, uint8_t* sub4a, uint8_t* sub4b,
              uint8_t* sub8, float* factors) const override {
    const uint32_t d = tq_->dim();
    thread_local std::vector<uint8_t> idx;
    idx.assign(d + 8, 0);
    if (m_ > 0) {
      UnpackBits(code, d, static_cast<int>(m_), idx.data(), prod_ ? d : 0);
      if (m_ >= 5) {
        std::memcpy(sub8, idx.data(), d);
      } else {
        for (uint32_t j = 0; j < shape_.m4a; ++j) {
          uint32_t v = 0;
          for (uint32_t i = 0; i < per_nibble_; ++i) {
            const uint32_t c = j * per_nibble_ + i;
            if (c < d) v |= uint32_t{idx[c]} << (m_ * i);
          }
          sub4a[j] = static_cast<uint8_t>(v);
        }
      }
    }
    if (prod_) {
      for (uint32_t j = 0; j < shape_.m4b; ++j) {
        uint32_t v = 0;
        for (uint32_t i = 0; i < 4; ++i) {
          const uint32_t c = 4 * j + i;
          if (c < d && ((code[c >> 3] >> (c & 7)) & 1)) v |= 1u << i;
        }
        sub4b[j] = static_cast<uint8_t>(v);
      }
    }
    const uint8_t* f = code + tq_->code_bytes();
    for (uint32_t i = 0; i < shape_.nfactors; ++i) {
      factors[i] = DecodeFloat(f + 4 * i);
    }
  }

  void BuildLuts(const float* u, bool /*l2*/, QueryLuts* out) const override {
    const uint32_t d = tq_->dim();
    auto q = tq_->PrepareQuery(absl::MakeConstSpan(u, d));
    // u is finite (checked by the index), so PrepareQuery cannot fail.
    const std::vector<float>& r = q->rotated;
    const float* cent =
        tq_->codebook() ? tq_->codebook()->centroids.data() : nullptr;
    out->a.assign(size_t{shape_.m4a} * 16, 0.0f);
    out->b.assign(size_t{shape_.m4b} * 16, 0.0f);
    out->c.assign(size_t{shape_.m8} * 256, 0.0f);
    if (shape_.m4a > 0) {
      const uint32_t mask = (1u << m_) - 1;
      const uint32_t codes = m_ == 3 ? 8 : 16;
      if (per_nibble_ == 1) {
        for (uint32_t j = 0; j < d; ++j) {
          float* t = &out->a[size_t{j} * 16];
          const float rj = r[j];
          for (uint32_t c = 0; c < codes; ++c) t[c] = rj * cent[c];
        }
      } else {
        // Per coordinate i of the group: its 2^m values, then the sum
        // table over all 16 codes.
        float part[4][16];
        for (uint32_t j = 0; j < shape_.m4a; ++j) {
          for (uint32_t i = 0; i < per_nibble_; ++i) {
            const uint32_t coord = j * per_nibble_ + i;
            const float rc = coord < d ? r[coord] : 0.0f;
            for (uint32_t v = 0; v <= mask; ++v) part[i][v] = rc * cent[v];
          }
          float* t = &out->a[size_t{j} * 16];
          for (uint32_t c = 0; c < 16; ++c) {
            float sum = 0.0f;
            for (uint32_t i = 0; i < per_nibble_; ++i) {
              sum += part[i][(c >> (m_ * i)) & mask];
            }
            t[c] = sum;
          }
        }
      }
    }
    if (shape_.m8 > 0) {
      const uint32_t k = 1u << m_;
      for (uint32_t j = 0; j < d; ++j) {
        float* t = &out->c[size_t{j} * 256];
        for (uint32_t c = 0; c < k; ++c) t[c] = r[j] * cent[c];
      }
    }
    if (prod_) {
      const std::vector<float>& s = q->sketched;
      for (uint32_t j = 0; j < shape_.m4b; ++j) {
        float* t = &out->b[size_t{j} * 16];
        for (uint32_t c = 0; c < 16; ++c) {
          float v = 0.0f;
          for (uint32_t i = 0; i < 4; ++i) {
            const uint32_t coord = 4 * j + i;
            if (coord < d) v += ((c >> i) & 1) ? s[coord] : -s[coord];
          }
          t[c] = v;
        }
      }
    }
  }

  float Combine(float a, float b, float c, const float* f) const override {
    // The Lloyd-Max part is in stream A (<= 4 bits) or C; B is the sketch.
    switch (tq_->options().method) {
      case TqMethod::kMse:
        return f[0] * (a + c);
      case TqMethod::kRenorm:
        return tq_->options().single_factor ? f[0] * (a + c)
                                            : f[0] * f[1] * (a + c);
      case TqMethod::kProd:
        return f[0] * (a + c + tq_->kappa() * f[1] * b);
    }
    return 0.0f;
  }
  float NormSq(const float* f) const override {
    return centered_norm_ ? f[shape_.nfactors - 1] : f[0] * f[0];
  }
  void SetCenterFactor(uint8_t* code, float delta) const override {
    EncodeFloat(code + tq_->bytes_per_vector(), delta);
  }
  void SetCenteredNorm(uint8_t* code, float n) const override {
    EncodeFloat(code + tq_->bytes_per_vector() + (center_ ? 4 : 0), n);
  }

  const ScalarCodeInfo* scalar_info() const override {
    return info_.width.empty() ? nullptr : &info_;
  }
  void QueryWeights(const float* u, float* w) const override {
    const uint32_t d = tq_->dim();
    auto q = tq_->PrepareQuery(absl::MakeConstSpan(u, d));
    std::copy(q->rotated.begin(), q->rotated.end(), w);
  }
  void UnpackIndices(const uint8_t* code, uint8_t* idx,
                     float* factors) const override {
    UnpackBits(code, tq_->dim(), static_cast<int>(m_), idx);
    const uint8_t* f = code + tq_->code_bytes();
    for (uint32_t i = 0; i < shape_.nfactors; ++i) {
      factors[i] = DecodeFloat(f + 4 * i);
    }
  }

  uint32_t sub8_bits(uint32_t /*j*/) const override { return m_; }
  CombineForm combine_form() const override {
    CombineForm cf;
    switch (tq_->options().method) {
      case TqMethod::kMse:
        cf.kind = CombineForm::kScaled;
        break;
      case TqMethod::kRenorm:
        cf.kind = tq_->options().single_factor ? CombineForm::kScaled
                                               : CombineForm::kScaled2;
        break;
      case TqMethod::kProd:
        cf.kind = CombineForm::kSketch;
        cf.kappa = tq_->kappa();
        break;
    }
    const int32_t nf = static_cast<int32_t>(shape_.nfactors);
    if (center_) cf.center_factor = nf - (centered_norm_ ? 2 : 1);
    if (centered_norm_) {
      cf.centered_norm = true;
      cf.norm_factor = static_cast<uint32_t>(nf - 1);
      cf.norm_is_squared = true;
    }
    return cf;
  }

 private:
  // Float32 factors after the quantizer's: delta, then n'.
  size_t extra_bytes() const {
    return (center_ ? 4 : 0) + (centered_norm_ ? 4 : 0);
  }

  CodecOptions options_;
  std::unique_ptr<TurboQuantizer> tq_;
  ScanShape shape_;
  uint32_t m_ = 0, per_nibble_ = 1;
  bool prod_ = false, center_ = false, centered_norm_ = false;
  ScalarCodeInfo info_;
  std::string describe_;
};

class PqScanCodec : public ScanCodec {
 public:
  PqScanCodec(const CodecOptions& o, std::unique_ptr<ProductQuantizer> pq)
      : options_(o), pq_(std::move(pq)) {
    if (pq_->nbits() == 4) {
      shape_.m4a = RoundUp4(pq_->m());
    } else {
      shape_.m8 = pq_->m();
    }
    describe_ = absl::StrCat("pq ", pq_->m(), "x", pq_->nbits(), " (",
                             code_bytes(), " B)");
  }
  std::string Serialize() const override {
    std::string s;
    PutFixed32(&s, kKindPq);
    PutBytes(&s, pq_->Serialize());
    return s;
  }
  const CodecOptions& options() const override { return options_; }
  uint32_t dim() const override { return pq_->dim(); }
  size_t code_bytes() const override { return pq_->code_bytes(); }
  const ScanShape& shape() const override { return shape_; }
  size_t query_bytes() const override { return pq_->TableBytes(); }
  std::string Describe() const override { return describe_; }
  bool lut_is_l2() const override { return true; }

  absl::Status EncodeBatch(const float* v, size_t n,
                           uint8_t* codes) const override {
    return pq_->EncodeBatch(v, n, codes);
  }
  void Unpack(const uint8_t* code, uint8_t* sub4a, uint8_t* /*sub4b*/,
              uint8_t* sub8, float* /*factors*/) const override {
    const uint32_t m = pq_->m();
    if (pq_->nbits() == 4) {
      UnpackBits(code, m, 4, sub4a);
      for (uint32_t j = m; j < shape_.m4a; ++j) sub4a[j] = 0;
    } else {
      std::memcpy(sub8, code, m);
    }
  }
  void BuildLuts(const float* u, bool l2, QueryLuts* out) const override {
    std::vector<float> lut(pq_->lut_size());
    if (l2) {
      pq_->ComputeL2Table(u, lut.data());
    } else {
      pq_->ComputeIpTable(u, lut.data());
    }
    const uint32_t m = pq_->m();
    out->b.clear();
    if (pq_->nbits() == 4) {
      out->a.assign(size_t{shape_.m4a} * 16, 0.0f);
      std::copy(lut.begin(), lut.end(), out->a.begin());
      out->c.clear();
    } else {
      out->a.clear();
      out->c.assign(size_t{m} * 256, 0.0f);
      std::copy(lut.begin(), lut.end(), out->c.begin());
    }
  }
  float Combine(float a, float, float c, const float*) const override {
    return a + c;
  }
  float NormSq(const float*) const override { return 0.0f; }
  CombineForm combine_form() const override { return CombineForm(); }

 private:
  CodecOptions options_;
  std::unique_ptr<ProductQuantizer> pq_;
  ScanShape shape_;
  std::string describe_;
};

}  // namespace

float EstimateFromLuts(const ScanCodec& codec, const QueryLuts& luts,
                       const uint8_t* code) {
  const ScanShape& s = codec.shape();
  thread_local std::vector<uint8_t> a, b, c;
  thread_local std::vector<float> f;
  a.resize(s.m4a);
  b.resize(s.m4b);
  c.resize(s.m8);
  f.resize(s.nfactors);
  codec.Unpack(code, a.data(), b.data(), c.data(), f.data());
  float sa = 0, sb = 0, sc = 0;
  for (uint32_t j = 0; j < s.m4a; ++j) sa += luts.a[size_t{j} * 16 + a[j]];
  for (uint32_t j = 0; j < s.m4b; ++j) sb += luts.b[size_t{j} * 16 + b[j]];
  for (uint32_t j = 0; j < s.m8; ++j) sc += luts.c[size_t{j} * 256 + c[j]];
  return codec.Combine(sa, sb, sc, f.data());
}

absl::StatusOr<std::unique_ptr<ScanCodec>> ScanCodec::Create(
    const CodecOptions& o, uint32_t dim, const float* train, size_t n) {
  if (o.method == "pca") return CreatePcaCodec(o, dim, train, n);
  if (o.method == "pq") {
    if (o.pq_nbits != 4 && o.pq_nbits != 8) {
      return absl::InvalidArgumentError(absl::StrCat(
          "PQ bits per sub-code must be 4 or 8, got ", o.pq_nbits));
    }
    if (o.bits < 1 || o.bits > 8) {
      return absl::InvalidArgumentError(
          absl::StrCat("bits per dimension must be in [1, 8], got ", o.bits));
    }
    uint32_t m = o.pq_m;
    if (m == 0) {
      const size_t bytes =
          (size_t{o.bits} * dim + 7) / 8 + (o.single_factor ? 4 : 8);
      m = static_cast<uint32_t>(std::min<size_t>(bytes * 8 / o.pq_nbits, dim));
    }
    PqOptions po;
    po.dim = dim;
    po.m = m;
    po.nbits = o.pq_nbits;
    po.seed = o.seed;
    po.train_iters = o.pq_train_iters;
    TQ_ASSIGN_OR_RETURN(auto pq, ProductQuantizer::Train(po, train, n));
    return std::unique_ptr<ScanCodec>(new PqScanCodec(o, std::move(pq)));
  }
  TQ_ASSIGN_OR_RETURN(TqMethod method, ParseTqMethod(o.method));
  TurboOptions to;
  to.dim = dim;
  to.bits = o.bits;
  to.method = method;
  to.seed = o.seed;
  to.single_factor = o.single_factor && method == TqMethod::kRenorm;
  to.sketch = o.sketch;
  to.codebook = o.codebook;
  TQ_ASSIGN_OR_RETURN(auto tq, TurboQuantizer::Create(to));
  return std::unique_ptr<ScanCodec>(new TurboScanCodec(o, std::move(tq)));
}

absl::StatusOr<std::unique_ptr<ScanCodec>> ScanCodec::Deserialize(
    absl::string_view bytes) {
  Decoder dec(bytes);
  uint32_t kind;
  absl::string_view inner;
  if (!dec.GetFixed32(&kind) || !dec.GetBytes(&inner) || dec.remaining()) {
    return absl::DataLossError("codec parameters: truncated");
  }
  if (kind == kKindTurbo || kind == kKindTurboCentered ||
      kind == kKindTurboFlags) {
    uint32_t flags = kind == kKindTurboCentered ? kTurboFlagCenter : 0;
    if (kind == kKindTurboFlags) {
      Decoder fdec(inner);
      if (!fdec.GetFixed32(&flags)) {
        return absl::DataLossError("codec parameters: truncated flags");
      }
      if ((flags & ~(kTurboFlagCenter | kTurboFlagCenteredNorm)) != 0) {
        return absl::DataLossError(
            absl::StrCat("codec parameters: unknown TurboQuant flags ", flags));
      }
      inner.remove_prefix(4);
    }
    TQ_ASSIGN_OR_RETURN(auto tq, TurboQuantizer::Deserialize(inner));
    if (flags != 0 && tq->options().method == TqMethod::kProd) {
      return absl::DataLossError(
          "codec parameters: centroid terms for TurboQuant prod");
    }
    CodecOptions o;
    o.center_factor = (flags & kTurboFlagCenter) != 0;
    o.centered_norm = (flags & kTurboFlagCenteredNorm) != 0;
    o.method = TqMethodName(tq->options().method);
    o.bits = tq->options().bits;
    o.seed = tq->options().seed;
    o.single_factor = tq->options().single_factor;
    o.sketch = tq->options().sketch;
    o.codebook = tq->options().codebook;
    return std::unique_ptr<ScanCodec>(new TurboScanCodec(o, std::move(tq)));
  }
  if (kind == kKindPq) {
    TQ_ASSIGN_OR_RETURN(auto pq, ProductQuantizer::Deserialize(inner));
    CodecOptions o;
    o.method = "pq";
    o.pq_nbits = pq->nbits();
    o.pq_m = pq->m();
    o.seed = pq->options().seed;
    return std::unique_ptr<ScanCodec>(new PqScanCodec(o, std::move(pq)));
  }
  if (kind == 2) return DeserializePcaCodec(inner);
  return absl::DataLossError(
      absl::StrCat("codec parameters: unknown kind ", kind));
}

}  // namespace tqdb
