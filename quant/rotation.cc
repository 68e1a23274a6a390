#include "quant/rotation.h"

#include <cmath>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "quant/coding.h"
#include "quant/kernels.h"
#include "quant/random.h"

namespace tqdb {
namespace {

constexpr uint32_t kRotationMagic = 0x31524854;  // "THR1"
constexpr uint32_t kRotationVersion = 1;

uint32_t LargestPow2AtMost(uint32_t d) {
  uint32_t p = 1;
  while (p * 2 <= d) p *= 2;
  return p;
}

}  // namespace

absl::StatusOr<HadamardRotation> HadamardRotation::Create(uint32_t dim,
                                                          uint64_t seed,
                                                          uint32_t rounds) {
  if (dim < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("rotation dimension must be >= 2, got ", dim));
  }
  if (rounds > 16) {
    return absl::InvalidArgumentError(
        absl::StrCat("rotation rounds must be in [1, 16], got ", rounds));
  }
  HadamardRotation r;
  r.dim_ = dim;
  r.seed_ = seed;
  r.window_ = LargestPow2AtMost(dim);
  r.rounds_ = rounds != 0 ? rounds : (r.window_ == dim ? 3 : 4);
  Rng rng(seed);
  r.perm_.reserve(size_t{r.rounds_} * dim);
  r.signs_.reserve(size_t{r.rounds_} * dim);
  for (uint32_t k = 0; k < r.rounds_; ++k) {
    const std::vector<uint32_t> p = RandomPermutation(dim, &rng);
    r.perm_.insert(r.perm_.end(), p.begin(), p.end());
    for (uint32_t i = 0; i < dim; i += 64) {
      const uint64_t bits = rng.Next();
      for (uint32_t j = i; j < dim && j < i + 64; ++j) {
        r.signs_.push_back(((bits >> (j - i)) & 1) ? -1.0f : 1.0f);
      }
    }
  }
  r.Init();
  return r;
}

void HadamardRotation::Init() {
  scale_ = static_cast<float>(1.0 / std::sqrt(static_cast<double>(window_)));
  inv_perm_.assign(perm_.size(), 0);
  inv_signs_.assign(signs_.size(), 0.0f);
  for (uint32_t k = 0; k < rounds_; ++k) {
    const uint32_t* p = perm_.data() + size_t{k} * dim_;
    const float* s = signs_.data() + size_t{k} * dim_;
    uint32_t* ip = inv_perm_.data() + size_t{k} * dim_;
    float* is = inv_signs_.data() + size_t{k} * dim_;
    // Forward: y[i] = x[p[i]] * s[i]. Inverse: x[j] = y[ip[j]] * is[j] with
    // ip[p[i]] = i and is[p[i]] = s[i].
    for (uint32_t i = 0; i < dim_; ++i) {
      ip[p[i]] = i;
      is[p[i]] = s[i];
    }
  }
}

void HadamardRotation::Apply(const float* in, float* out,
                             float* scratch) const {
  const float* src = in;
  for (uint32_t k = 0; k < rounds_; ++k) {
    kernels::PermuteSigns(src, perm_.data() + size_t{k} * dim_,
                          signs_.data() + size_t{k} * dim_, dim_, scratch);
    kernels::Fwht(scratch, window_, scale_);
    if (window_ != dim_)
      kernels::Fwht(scratch + dim_ - window_, window_, scale_);
    std::memcpy(out, scratch, sizeof(float) * dim_);
    src = out;
  }
}

void HadamardRotation::ApplyInverse(const float* in, float* out,
                                    float* scratch) const {
  if (in != out) std::memcpy(out, in, sizeof(float) * dim_);
  for (uint32_t kk = rounds_; kk > 0; --kk) {
    const uint32_t k = kk - 1;
    if (window_ != dim_) kernels::Fwht(out + dim_ - window_, window_, scale_);
    kernels::Fwht(out, window_, scale_);
    kernels::PermuteSigns(out, inv_perm_.data() + size_t{k} * dim_,
                          inv_signs_.data() + size_t{k} * dim_, dim_, scratch);
    std::memcpy(out, scratch, sizeof(float) * dim_);
  }
}

std::vector<float> HadamardRotation::Apply(const std::vector<float>& in) const {
  std::vector<float> out(dim_), scratch(dim_);
  Apply(in.data(), out.data(), scratch.data());
  return out;
}

std::vector<float> HadamardRotation::ApplyInverse(
    const std::vector<float>& in) const {
  std::vector<float> out(dim_), scratch(dim_);
  ApplyInverse(in.data(), out.data(), scratch.data());
  return out;
}

std::string HadamardRotation::Serialize() const {
  std::string s;
  PutFixed32(&s, kRotationMagic);
  PutFixed32(&s, kRotationVersion);
  PutFixed32(&s, dim_);
  PutFixed32(&s, rounds_);
  PutFixed64(&s, seed_);
  for (uint32_t v : perm_) PutFixed32(&s, v);
  // Signs as bits, LSB-first per round.
  for (uint32_t k = 0; k < rounds_; ++k) {
    for (uint32_t i = 0; i < dim_; i += 8) {
      uint8_t byte = 0;
      for (uint32_t j = i; j < dim_ && j < i + 8; ++j) {
        if (signs_[size_t{k} * dim_ + j] < 0) byte |= uint8_t(1u << (j - i));
      }
      s.push_back(static_cast<char>(byte));
    }
  }
  PutCrcTrailer(&s);
  return s;
}

absl::StatusOr<HadamardRotation> HadamardRotation::Deserialize(
    absl::string_view bytes) {
  auto corrupt = [](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("rotation parameters: ", why));
  };
  if (bytes.size() < 28) return corrupt("truncated header");
  absl::string_view payload;
  if (!CheckCrcTrailer(bytes, &payload)) return corrupt("checksum mismatch");
  Decoder dec(payload);
  uint32_t magic, version, dim, rounds;
  uint64_t seed;
  dec.GetFixed32(&magic);
  dec.GetFixed32(&version);
  dec.GetFixed32(&dim);
  dec.GetFixed32(&rounds);
  dec.GetFixed64(&seed);
  if (magic != kRotationMagic) return corrupt("bad magic");
  if (version != kRotationVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("rotation format version ", version,
                     " is not supported (this build "
                     "reads version ",
                     kRotationVersion, ")"));
  }
  if (dim < 2 || rounds < 1 || rounds > 16) return corrupt("bad dim/rounds");
  const size_t sign_bytes_per_round = (dim + 7) / 8;
  if (dec.remaining() !=
      size_t{rounds} * dim * 4 + size_t{rounds} * sign_bytes_per_round) {
    return corrupt("wrong length");
  }
  HadamardRotation r;
  r.dim_ = dim;
  r.rounds_ = rounds;
  r.seed_ = seed;
  r.window_ = LargestPow2AtMost(dim);
  r.perm_.resize(size_t{rounds} * dim);
  for (uint32_t k = 0; k < rounds; ++k) {
    std::vector<bool> seen(dim, false);
    for (uint32_t i = 0; i < dim; ++i) {
      uint32_t v;
      dec.GetFixed32(&v);
      if (v >= dim || seen[v]) return corrupt("not a permutation");
      seen[v] = true;
      r.perm_[size_t{k} * dim + i] = v;
    }
  }
  r.signs_.resize(size_t{rounds} * dim);
  for (uint32_t k = 0; k < rounds; ++k) {
    absl::string_view raw;
    dec.GetRaw(sign_bytes_per_round, &raw);
    for (uint32_t j = 0; j < dim; ++j) {
      const bool neg = (static_cast<uint8_t>(raw[j / 8]) >> (j % 8)) & 1;
      r.signs_[size_t{k} * dim + j] = neg ? -1.0f : 1.0f;
    }
  }
  r.Init();
  return r;
}

absl::StatusOr<DenseRotation> DenseRotation::Create(uint32_t dim,
                                                    uint64_t seed) {
  if (dim < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("rotation dimension must be >= 2, got ", dim));
  }
  const size_t d = dim;
  Rng rng(seed);
  std::vector<double> a(d * d);
  for (double& v : a) v = rng.Gaussian();
  // Modified Gram-Schmidt on the rows, twice for stability; the sign of
  // each R diagonal entry is absorbed (positive), which makes Q Haar.
  for (size_t i = 0; i < d; ++i) {
    double* ri = &a[i * d];
    for (int pass = 0; pass < 2; ++pass) {
      for (size_t j = 0; j < i; ++j) {
        const double* rj = &a[j * d];
        double dot = 0;
        for (size_t k = 0; k < d; ++k) dot += ri[k] * rj[k];
        for (size_t k = 0; k < d; ++k) ri[k] -= dot * rj[k];
      }
    }
    double nrm = 0;
    for (size_t k = 0; k < d; ++k) nrm += ri[k] * ri[k];
    nrm = std::sqrt(nrm);
    for (size_t k = 0; k < d; ++k) ri[k] /= nrm;
  }
  DenseRotation r;
  r.dim_ = dim;
  r.m_.resize(d * d);
  for (size_t i = 0; i < d * d; ++i) r.m_[i] = static_cast<float>(a[i]);
  return r;
}

void DenseRotation::Apply(const float* in, float* out) const {
  for (size_t i = 0; i < dim_; ++i) {
    out[i] = kernels::Dot(&m_[i * dim_], in, dim_);
  }
}

void DenseRotation::ApplyInverse(const float* in, float* out) const {
  for (size_t j = 0; j < dim_; ++j) out[j] = 0.0f;
  for (size_t i = 0; i < dim_; ++i) {
    const float v = in[i];
    const float* row = &m_[i * dim_];
    for (size_t j = 0; j < dim_; ++j) out[j] += v * row[j];
  }
}

}  // namespace tqdb
