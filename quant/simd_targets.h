// Which SIMD targets tqdb's kernels may dispatch to. By default the best
// this CPU supports among those compiled; TQDB_SIMD=<target> caps them, so
// that the AVX2 code can be measured on an AVX-512 machine (the peers'
// builds are often AVX2-only). Results do not depend on the target
// (quant/kernels.h, Determinism): a cap changes speed only.
// kernels::ActiveTargetName() (quant/kernels.h) names the target in use.
//
// Thread-safety: dispatch is process-wide; cap it in main(), before any
// kernel runs and before other threads start.
#ifndef TQDB_QUANT_SIMD_TARGETS_H_
#define TQDB_QUANT_SIMD_TARGETS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tqdb {
namespace kernels {

// The environment variable LimitSimdTargetsFromEnvironment reads.
inline constexpr char kSimdEnvironmentVariable[] = "TQDB_SIMD";

// Disables every target better than `best`, a Highway target name in any
// case: avx3_dl, avx3 (AVX-512), avx2, sse4, ssse3, emu128 or scalar; the
// CPU's best at or below it is then used. InvalidArgument naming the
// choices for another name.
absl::Status LimitSimdTargets(absl::string_view best);
// The same check of the name alone (nothing changes).
absl::Status CheckSimdTargetName(absl::string_view best);

// LimitSimdTargets(TQDB_SIMD) if the variable is set and not empty, else
// lifts any cap (every compiled target the CPU supports); its errors start
// with "TQDB_SIMD=<value>: ".
absl::Status LimitSimdTargetsFromEnvironment();

}  // namespace kernels
}  // namespace tqdb

#endif  // TQDB_QUANT_SIMD_TARGETS_H_
