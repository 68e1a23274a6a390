#include "quant/simd_targets.h"

#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "hwy/targets.h"
#include "quant/status_macros.h"

namespace tqdb {
namespace kernels {

namespace {

struct NamedTarget {
  const char* name;
  int64_t bit;
};

// Highway's x86 targets, best first (a lower bit is a better target).
constexpr NamedTarget kTargets[] = {
    {"avx3_dl", HWY_AVX3_DL}, {"avx3", HWY_AVX3},   {"avx2", HWY_AVX2},
    {"sse4", HWY_SSE4},       {"ssse3", HWY_SSSE3}, {"emu128", HWY_EMU128},
    {"scalar", HWY_SCALAR}};

}  // namespace

absl::Status LimitSimdTargets(absl::string_view best) {
  TQ_RETURN_IF_ERROR(CheckSimdTargetName(best));
  for (const NamedTarget& t : kTargets) {
    if (absl::EqualsIgnoreCase(best, t.name)) {
      hwy::DisableTargets(t.bit - 1);  // every better target
    }
  }
  return absl::OkStatus();
}

absl::Status CheckSimdTargetName(absl::string_view best) {
  for (const NamedTarget& t : kTargets) {
    if (absl::EqualsIgnoreCase(best, t.name)) return absl::OkStatus();
  }
  std::string names;
  for (const NamedTarget& t : kTargets) {
    absl::StrAppend(&names, names.empty() ? "" : ", ", t.name);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("'", best, "' is not a SIMD target: one of ", names));
}

absl::Status LimitSimdTargetsFromEnvironment() {
  const char* value = std::getenv(kSimdEnvironmentVariable);
  if (value == nullptr || *value == '\0') return absl::OkStatus();
  return WithContext(LimitSimdTargets(value), kSimdEnvironmentVariable, "=",
                     value);
}

}  // namespace kernels
}  // namespace tqdb
