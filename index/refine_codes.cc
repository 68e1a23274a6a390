#include "index/refine_codes.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "quant/echo.h"
#include "quant/kernels.h"

namespace tqdb {

namespace {

struct RefineKindNames {
  RefineKind kind;
  const char* codes;           // RefineVocabulary::kCodes
  const char* rescore_source;  // RefineVocabulary::kRescoreSource
};

constexpr RefineKindNames kRefineKindNames[] = {
    {RefineKind::kNone, "none", "raw"},
    {RefineKind::kInt8, "int8", "int8"},
    {RefineKind::kFloat32, "f32", "f32"},
};

const char* NameIn(const RefineKindNames& names, RefineVocabulary vocabulary) {
  return vocabulary == RefineVocabulary::kCodes ? names.codes
                                                : names.rescore_source;
}

}  // namespace

const char* RefineKindName(RefineKind kind, RefineVocabulary vocabulary) {
  for (const RefineKindNames& names : kRefineKindNames) {
    if (names.kind == kind) return NameIn(names, vocabulary);
  }
  return NameIn(kRefineKindNames[0], vocabulary);
}

absl::StatusOr<RefineKind> ParseRefineKind(absl::string_view name,
                                           RefineVocabulary vocabulary) {
  std::string accepted;
  for (const RefineKindNames& names : kRefineKindNames) {
    if (name == NameIn(names, vocabulary)) return names.kind;
    absl::StrAppend(&accepted, accepted.empty() ? "" : ", ",
                    NameIn(names, vocabulary));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      vocabulary == RefineVocabulary::kCodes ? "refine codes '"
                                             : "rescoring source '",
      EchoInput(name), "' is not one of ", accepted));
}

RefineCodec::RefineCodec(RefineKind kind, uint32_t dim)
    : kind_(kind), dim_(dim) {
  switch (kind) {
    case RefineKind::kInt8:
      words_ = 2 + (dim + 3) / 4;  // s, ||x^||^2, the int8 values
      break;
    case RefineKind::kFloat32:
      words_ = 1 + dim;  // ||x||^2, the vector
      break;
    default:
      words_ = 0;
  }
}

void RefineCodec::Encode(const float* x, float* code) const {
  if (kind_ == RefineKind::kFloat32) {
    code[0] = kernels::Dot(x, x, dim_);
    std::memcpy(code + 1, x, dim_ * sizeof(float));
    return;
  }
  if (kind_ != RefineKind::kInt8) return;
  float amax = 0.0f;
  for (uint32_t i = 0; i < dim_; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float s = amax > 0 ? amax / 127.0f : 1.0f;
  const float inv = 1.0f / s;
  int8_t* c = reinterpret_cast<int8_t*>(code + 2);
  std::memset(c, 0, size_t{words_ - 2} * sizeof(float));
  double norm = 0;
  for (uint32_t i = 0; i < dim_; ++i) {
    const float v = std::round(x[i] * inv);
    const int q = static_cast<int>(std::clamp(v, -127.0f, 127.0f));
    c[i] = static_cast<int8_t>(q);
    norm += double{s * static_cast<float>(q)} * (s * static_cast<float>(q));
  }
  code[0] = static_cast<float>(norm);
  code[1] = s;
}

float RefineCodec::Dot(const float* q, const float* code) const {
  if (kind_ == RefineKind::kFloat32) return kernels::Dot(q, code + 1, dim_);
  return code[1] *
         kernels::DotI8(q, reinterpret_cast<const int8_t*>(code + 2), dim_);
}

float RefineCodec::L2Sqr(const float* q, const float* code) const {
  return kernels::L2SqrI8(q, reinterpret_cast<const int8_t*>(code + 2), code[1],
                          dim_);
}

void RefineCodec::Decode(const float* code, float* out) const {
  if (kind_ == RefineKind::kFloat32) {
    std::memcpy(out, code + 1, dim_ * sizeof(float));
    return;
  }
  if (kind_ != RefineKind::kInt8) return;
  const int8_t* c = reinterpret_cast<const int8_t*>(code + 2);
  for (uint32_t i = 0; i < dim_; ++i) out[i] = code[1] * c[i];
}

void RefineCodec::DotRowsInt(const int16_t* q16, const float* codes,
                             size_t rows, int32_t* out) const {
  kernels::DotI16I8Rows(q16, reinterpret_cast<const int8_t*>(codes + 2),
                        code_bytes(), rows, dim_, out);
}

void SnapToInt8Grid(float* x, uint32_t d) {
  const RefineCodec codec(RefineKind::kInt8, d);
  std::vector<float> code(codec.code_words()), snapped(d);
  // Decoding rounds s c8 to float, whose largest coordinate may then give
  // the code a scale an ulp away: a few rounds reach a vector that codes to
  // itself.
  for (int round = 0; round < 4; ++round) {
    codec.Encode(x, code.data());
    codec.Decode(code.data(), snapped.data());
    if (std::equal(x, x + d, snapped.begin())) return;
    std::copy(snapped.begin(), snapped.end(), x);
  }
}

}  // namespace tqdb
