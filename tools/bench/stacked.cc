#include "tools/bench/stacked.h"

#include <cstddef>
#include <limits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "quant/rotation.h"
#include "quant/status_macros.h"

namespace tqdb {

absl::Status StackRotatedCopies(uint32_t copies, uint64_t seed,
                                FloatMatrix* base, FloatMatrix* queries) {
  if (copies == 0 || copies > kMaxStackCopies) {
    return absl::InvalidArgumentError(absl::StrCat(
        "copies must be in [1, ", kMaxStackCopies, "], got ", copies));
  }
  const size_t n = base->rows, d = base->dim;
  if (n * copies > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    return absl::InvalidArgumentError(
        absl::StrCat(n, " rows x ", copies,
                     " copies exceed the 2^31 ids of a ground truth"));
  }
  if (copies == 1) return absl::OkStatus();
  std::vector<HadamardRotation> rotations;
  rotations.reserve(copies - 1);
  for (uint32_t c = 1; c < copies; ++c) {
    TQ_ASSIGN_OR_RETURN(
        HadamardRotation r,
        HadamardRotation::Create(static_cast<uint32_t>(d), seed + c));
    rotations.push_back(std::move(r));
  }
  std::vector<float> scratch(d);
  base->data.resize(n * copies * d);
  for (uint32_t c = 1; c < copies; ++c) {
    for (size_t r = 0; r < n; ++r) {
      rotations[c - 1].Apply(base->row(r), &base->data[(c * n + r) * d],
                             scratch.data());
    }
  }
  base->rows = n * copies;
  for (size_t i = 0; i < queries->rows; ++i) {
    const size_t c = i % copies;
    if (c == 0) continue;
    float* q = &queries->data[i * d];
    rotations[c - 1].Apply(q, q, scratch.data());
  }
  return absl::OkStatus();
}

}  // namespace tqdb
