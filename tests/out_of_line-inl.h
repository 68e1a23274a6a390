// Per-target test helper of the Highway kernel tests (tests/quant/
// kernels_test.cc, tests/index/scan_kernels_test.cc): included inside their
// foreach_target loop, so it has the per-target include guard of a -inl.h.
#if defined(TQDB_TESTS_OUT_OF_LINE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TQDB_TESTS_OUT_OF_LINE_INL_H_
#undef TQDB_TESTS_OUT_OF_LINE_INL_H_
#else
#define TQDB_TESTS_OUT_OF_LINE_INL_H_
#endif

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace tqdb {
namespace testing_util {
namespace HWY_NAMESPACE {

// Calls a kernel under test through a pointer the compiler cannot see
// through (volatile), so each kernel is compiled once per target, out of
// line, instead of inlined into every test loop the compiler unrolls.
// Inlined, EMU128's lane-by-lane code took clang 58 s under ASan+UBSan for
// one test (kernels_test's TestSumsAreTheReference), the longest
// compilation of the ASan stage. (A NOINLINE wrapper would not do: the
// kernels are HWY_INLINE, so the wrapper gets an inlined copy of its own.)
template <auto kKernel, typename... Args>
auto OutOfLine(Args... args) {
  auto* volatile kernel = kKernel;
  return kernel(args...);
}

}  // namespace HWY_NAMESPACE
}  // namespace testing_util
}  // namespace tqdb
HWY_AFTER_NAMESPACE();

#endif  // TQDB_TESTS_OUT_OF_LINE_INL_H_
