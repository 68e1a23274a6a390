#include "index/pca_codec.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <queue>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "quant/codebook.h"
#include "quant/coding.h"
#include "quant/kernels.h"
#include "quant/status_macros.h"

// LAPACK (Debian's liblapack): symmetric eigendecomposition.
extern "C" void dsyev_(const char* jobz, const char* uplo, const int* n,
                       double* a, const int* lda, double* w, double* work,
                       const int* lwork, int* info);

namespace tqdb {
namespace {

constexpr uint32_t kKindPca = 2;  // ScanCodec kind tag (see scan_codec.cc)
constexpr uint32_t kPcaMagic = 0x31414350;  // "PCA1"
constexpr uint32_t kPcaVersion = 1;

// Unit-variance Lloyd-Max codebooks for b = 1..8 (Gaussian law).
struct UnitCodebooks {
  std::vector<float> cent[9], thr[9];
  double mse[9] = {1.0};
};

absl::StatusOr<UnitCodebooks> LoadCodebooks() {
  UnitCodebooks u;
  const uint32_t ref = 64;  // N(0, 1/64) tables, scaled by 8 to N(0, 1)
  for (uint32_t b = 1; b <= 8; ++b) {
    TQ_ASSIGN_OR_RETURN(auto cb, GetCodebook(CodebookKind::kGaussian, ref, b));
    for (float c : cb->centroids) u.cent[b].push_back(c * 8.0f);
    for (float t : cb->thresholds) u.thr[b].push_back(t * 8.0f);
    u.mse[b] = cb->expected_mse;
  }
  return u;
}

uint32_t RoundUp4(uint32_t x) { return (x + 3) & ~3u; }

class PcaScanCodec : public ScanCodec {
 public:
  PcaScanCodec(const CodecOptions& o, uint32_t d, std::vector<float> basis,
               std::vector<float> sigma, std::vector<uint8_t> bits,
               UnitCodebooks books)
      : options_(o),
        d_(d),
        basis_(std::move(basis)),
        sigma_(std::move(sigma)),
        bits_(std::move(bits)),
        books_(std::move(books)) {
    // First-fit decreasing packing of 1..4-bit coordinates into nibbles.
    std::vector<uint32_t> order;
    for (uint32_t j = 0; j < d_; ++j) {
      if (bits_[j] >= 1 && bits_[j] <= 4) order.push_back(j);
      if (bits_[j] >= 5) bytes_.push_back(j);
    }
    std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
      return bits_[a] > bits_[b];
    });
    std::vector<uint32_t> used;
    for (uint32_t j : order) {
      size_t g = 0;
      while (g < used.size() && used[g] + bits_[j] > 4) ++g;
      if (g == used.size()) {
        used.push_back(0);
        nibbles_.emplace_back();
      }
      nibbles_[g].push_back({j, bits_[j], static_cast<uint8_t>(used[g])});
      used[g] += bits_[j];
    }
    shape_.m4a = RoundUp4(static_cast<uint32_t>(nibbles_.size()));
    nibbles_.resize(shape_.m4a);
    shape_.m8 = static_cast<uint32_t>(bytes_.size());
    shape_.nfactors = o.single_factor ? 1 : 2;
    code_bytes_ = shape_.m4a / 2 + shape_.m8 + 4 * shape_.nfactors;
    describe_ = absl::StrCat("pca ", o.bits, "-bit (", code_bytes_, " B)");
  }

  std::string Serialize() const override {
    std::string in;
    PutFixed32(&in, kPcaMagic);
    PutFixed32(&in, kPcaVersion);
    PutFixed32(&in, d_);
    PutFixed32(&in, options_.bits);
    PutFixed64(&in, options_.seed);
    PutFixed32(&in, options_.single_factor ? 1 : 0);
    for (float s : sigma_) PutFloat(&in, s);
    in.append(reinterpret_cast<const char*>(bits_.data()), bits_.size());
    for (float v : basis_) PutFloat(&in, v);
    PutCrcTrailer(&in);
    std::string s;
    PutFixed32(&s, kKindPca);
    PutBytes(&s, in);
    return s;
  }
  const CodecOptions& options() const override { return options_; }
  uint32_t dim() const override { return d_; }
  size_t code_bytes() const override { return code_bytes_; }
  const ScanShape& shape() const override { return shape_; }
  std::string Describe() const override { return describe_; }

  absl::Status EncodeBatch(const float* v, size_t n,
                           uint8_t* codes) const override {
    std::vector<float> coef(d_);
    std::vector<uint8_t> idx(d_);
    for (size_t i = 0; i < n; ++i) {
      const float* r = v + i * d_;
      uint8_t* code = codes + i * code_bytes_;
      std::memset(code, 0, code_bytes_);
      double dot = 0, nsq = 0;
      for (uint32_t j = 0; j < d_; ++j) {
        const double c = kernels::Dot(&basis_[size_t{j} * d_], r, d_);
        nsq += c * c;
        const uint32_t b = bits_[j];
        if (b == 0) continue;
        const float z = static_cast<float>(c / sigma_[j]);
        const std::vector<float>& t = books_.thr[b];
        const uint32_t k = static_cast<uint32_t>(
            std::upper_bound(t.begin(), t.end() - 1, z) - t.begin());
        // upper_bound counts thresholds <= z; the quantizer counts those < z
        // (ties go low), identical but for exact ties.
        idx[j] = static_cast<uint8_t>(k);
        dot += c * sigma_[j] * books_.cent[b][k];
      }
      for (uint32_t g = 0; g < nibbles_.size(); ++g) {
        uint32_t val = 0;
        for (const Slot& s : nibbles_[g])
          val |= uint32_t{idx[s.coord]} << s.shift;
        code[g / 2] |= static_cast<uint8_t>((g % 2) ? val << 4 : val);
      }
      for (uint32_t t = 0; t < bytes_.size(); ++t) {
        code[shape_.m4a / 2 + t] = idx[bytes_[t]];
      }
      uint8_t* f = code + shape_.m4a / 2 + shape_.m8;
      EncodeFloat(f, dot > 1e-30 ? static_cast<float>(nsq / dot) : 0.0f);
      if (shape_.nfactors == 2) EncodeFloat(f + 4, static_cast<float>(nsq));
    }
    return absl::OkStatus();
  }

  void Unpack(const uint8_t* code, uint8_t* sub4a, uint8_t* /*sub4b*/,
              uint8_t* sub8, float* factors) const override {
    for (uint32_t g = 0; g < shape_.m4a; ++g) {
      sub4a[g] = (g % 2) ? code[g / 2] >> 4 : code[g / 2] & 0xF;
    }
    std::memcpy(sub8, code + shape_.m4a / 2, shape_.m8);
    const uint8_t* f = code + shape_.m4a / 2 + shape_.m8;
    for (uint32_t i = 0; i < shape_.nfactors; ++i) {
      factors[i] = DecodeFloat(f + 4 * i);
    }
  }

  void BuildLuts(const float* u, bool /*l2*/, QueryLuts* out) const override {
    std::vector<float> w(d_);  // sigma_j * <e_j, u>
    for (uint32_t j = 0; j < d_; ++j) {
      w[j] = sigma_[j] * kernels::Dot(&basis_[size_t{j} * d_], u, d_);
    }
    out->a.assign(size_t{shape_.m4a} * 16, 0.0f);
    out->b.clear();
    out->c.assign(size_t{shape_.m8} * 256, 0.0f);
    for (uint32_t g = 0; g < shape_.m4a; ++g) {
      float* t = &out->a[size_t{g} * 16];
      for (uint32_t c = 0; c < 16; ++c) {
        float s = 0.0f;
        for (const Slot& sl : nibbles_[g]) {
          const uint32_t k = (c >> sl.shift) & ((1u << sl.bits) - 1);
          s += w[sl.coord] * books_.cent[sl.bits][k];
        }
        t[c] = s;
      }
    }
    for (uint32_t i = 0; i < bytes_.size(); ++i) {
      const uint32_t j = bytes_[i];
      float* t = &out->c[size_t{i} * 256];
      for (uint32_t c = 0; c < (1u << bits_[j]); ++c) {
        t[c] = w[j] * books_.cent[bits_[j]][c];
      }
    }
  }

  float Combine(float a, float, float c, const float* f) const override {
    return f[0] * (a + c);
  }
  float NormSq(const float* f) const override {
    return shape_.nfactors == 2 ? f[1] : 0.0f;
  }
  CombineForm combine_form() const override {
    CombineForm cf;
    cf.kind = CombineForm::kScaled;
    cf.norm_factor = 1;  // f = {scale, ||r||^2} when L2 is supported
    cf.norm_is_squared = true;
    return cf;
  }

 private:
  struct Slot {
    uint32_t coord;
    uint8_t bits, shift;
  };
  CodecOptions options_;
  uint32_t d_;
  std::vector<float> basis_;  // row j = principal axis j
  std::vector<float> sigma_;
  std::vector<uint8_t> bits_;
  UnitCodebooks books_;
  std::vector<std::vector<Slot>> nibbles_;
  std::vector<uint32_t> bytes_;
  ScanShape shape_;
  size_t code_bytes_ = 0;
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
  if (train == nullptr || n < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("pca codec: needs at least 2 training rows, got ", n));
  }
  const size_t d = dim;
  // Second moment of the residuals (what the codes approximate).
  std::vector<double> cov(d * d, 0.0);
  for (size_t i = 0; i < n; ++i) {
    const float* r = train + i * d;
    for (size_t a = 0; a < d; ++a) {
      const double ra = r[a];
      double* row = &cov[a * d];
      for (size_t b = a; b < d; ++b) row[b] += ra * r[b];
    }
  }
  for (size_t a = 0; a < d; ++a) {
    for (size_t b = a; b < d; ++b) {
      cov[a * d + b] /= n;
      cov[b * d + a] = cov[a * d + b];
    }
  }
  const int nn = static_cast<int>(d);
  int info = 0, lwork = -1;
  std::vector<double> w(d);
  double query = 0;
  dsyev_("V", "U", &nn, cov.data(), &nn, w.data(), &query, &lwork, &info);
  lwork = std::max(1, static_cast<int>(query));
  std::vector<double> work(lwork);
  dsyev_("V", "U", &nn, cov.data(), &nn, w.data(), work.data(), &lwork, &info);
  if (info != 0) {
    return absl::InternalError(
        absl::StrCat("pca codec: eigendecomposition failed (info ", info, ")"));
  }
  // dsyev: ascending eigenvalues, eigenvector k in column k (column-major),
  // i.e. contiguous at cov[k * d]. Keep descending order.
  std::vector<float> basis(d * d), sigma(d);
  for (size_t j = 0; j < d; ++j) {
    const size_t k = d - 1 - j;
    sigma[j] = static_cast<float>(std::sqrt(std::max(w[k], 1e-20)));
    for (size_t a = 0; a < d; ++a)
      basis[j * d + a] = static_cast<float>(cov[k * d + a]);
  }
  TQ_ASSIGN_OR_RETURN(UnitCodebooks books, LoadCodebooks());
  // Reverse water-filling, greedily, over the widths that pack without
  // waste (1, 2, 4 bits in nibbles, 8 in bytes), so the code takes b * d
  // bits like TurboQuant's: each step goes to the coordinate whose next
  // width removes the most expected squared error per bit spent.
  auto next_width = [](uint8_t b) -> uint8_t {
    return b == 0 ? 1 : (b == 1 ? 2 : (b == 2 ? 4 : (b == 4 ? 8 : 0)));
  };
  std::vector<uint8_t> bits(d, 0);
  auto gain = [&](size_t j) {
    const uint8_t nb = next_width(bits[j]);
    const double var = double{sigma[j]} * sigma[j];
    return var * (books.mse[bits[j]] - books.mse[nb]) / (nb - bits[j]);
  };
  std::priority_queue<std::pair<double, size_t>> heap;
  for (size_t j = 0; j < d; ++j) heap.push({gain(j), j});
  int64_t budget = int64_t{o.bits} * static_cast<int64_t>(d);
  while (!heap.empty() && budget > 0) {
    const size_t j = heap.top().second;
    heap.pop();
    const uint8_t nb = next_width(bits[j]);
    if (nb - bits[j] > budget) continue;  // too wide for what is left
    budget -= nb - bits[j];
    bits[j] = nb;
    if (bits[j] < 8) heap.push({gain(j), j});
  }
  return std::unique_ptr<ScanCodec>(
      new PcaScanCodec(o, dim, std::move(basis), std::move(sigma),
                       std::move(bits), std::move(books)));
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
  uint32_t magic = 0, version = 0, d = 0, bits = 0, single = 0;
  uint64_t seed = 0;
  if (!dec.GetFixed32(&magic) || !dec.GetFixed32(&version) ||
      magic != kPcaMagic) {
    return corrupt("bad header");
  }
  if (version != kPcaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "pca codec format version ", version, " is not supported"));
  }
  if (!dec.GetFixed32(&d) || !dec.GetFixed32(&bits) || !dec.GetFixed64(&seed) ||
      !dec.GetFixed32(&single) || d < 2 || bits < 1 || bits > 8 ||
      dec.remaining() != size_t{d} * 4 + d + size_t{d} * d * 4) {
    return corrupt("bad dimensions");
  }
  CodecOptions o;
  o.method = "pca";
  o.bits = bits;
  o.seed = seed;
  o.single_factor = single != 0;
  std::vector<float> sigma(d), basis(size_t{d} * d);
  std::vector<uint8_t> b(d);
  for (float& s : sigma) dec.GetFloat(&s);
  absl::string_view raw;
  dec.GetRaw(d, &raw);
  std::memcpy(b.data(), raw.data(), d);
  for (uint8_t v : b) {
    if (v > 8) return corrupt("bits out of range");
  }
  for (float& v : basis) dec.GetFloat(&v);
  TQ_ASSIGN_OR_RETURN(UnitCodebooks books, LoadCodebooks());
  return std::unique_ptr<ScanCodec>(
      new PcaScanCodec(o, d, std::move(basis), std::move(sigma), std::move(b),
                       std::move(books)));
}

}  // namespace tqdb
