#include "quant/simd_targets.h"

#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/status/statusor.h"
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

// The entry named `name` (any case), or InvalidArgument naming the choices.
absl::StatusOr<const NamedTarget*> FindTarget(absl::string_view name) {
  for (const NamedTarget& t : kTargets) {
    if (absl::EqualsIgnoreCase(name, t.name)) return &t;
  }
  std::string names;
  for (const NamedTarget& t : kTargets) {
    absl::StrAppend(&names, names.empty() ? "" : ", ", t.name);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("'", name, "' is not a SIMD target: one of ", names));
}

}  // namespace

absl::Status LimitSimdTargets(absl::string_view best) {
  TQ_ASSIGN_OR_RETURN(const NamedTarget* t, FindTarget(best));
  hwy::DisableTargets(t->bit - 1);  // every better target
  return absl::OkStatus();
}

absl::Status CheckSimdTargetName(absl::string_view best) {
  return FindTarget(best).status();
}

absl::Status LimitSimdTargetsFromEnvironment() {
  const char* value = std::getenv(kSimdEnvironmentVariable);
  if (value == nullptr || *value == '\0') {
    hwy::DisableTargets(0);
    return absl::OkStatus();
  }
  return WithContext(LimitSimdTargets(value), kSimdEnvironmentVariable, "=",
                     value);
}

}  // namespace kernels
}  // namespace tqdb
