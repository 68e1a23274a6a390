// The dispatch translation unit of quant/kernels.h (hwy/examples/skeleton.cc
// pattern): foreach_target re-includes this file once per compiled target.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "quant/kernels.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "quant/kernels-inl.h"

HWY_BEFORE_NAMESPACE();
namespace tqdb {
namespace kernels {
namespace HWY_NAMESPACE {

// The target of this copy of the kernels: dispatched, it names the target
// dispatch really uses (hwy::SupportedTargets() would not: in Highway 1.0.3
// it re-selects among all detected targets, undoing hwy::DisableTargets).
const char* DispatchedTargetName() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace kernels
}  // namespace tqdb
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "hwy/targets.h"
#include "quant/kernels.h"

namespace tqdb {
namespace kernels {

HWY_EXPORT(DotImpl);
HWY_EXPORT(L2SqrImpl);
HWY_EXPORT(FwhtImpl);
HWY_EXPORT(PermuteSignsImpl);
HWY_EXPORT(QuantizeImpl);
HWY_EXPORT(DotLutImpl);
HWY_EXPORT(MaskedSumImpl);
HWY_EXPORT(MatVecF16Impl);
HWY_EXPORT(DotI8Impl);
HWY_EXPORT(DotI8RowsImpl);
HWY_EXPORT(L2SqrI8Impl);
HWY_EXPORT(DotI16I8RowsImpl);
HWY_EXPORT(SecondMomentUpperImpl);
HWY_EXPORT(DispatchedTargetName);

float Dot(const float* a, const float* b, size_t n) {
  return HWY_DYNAMIC_DISPATCH(DotImpl)(a, b, n);
}
float L2Sqr(const float* a, const float* b, size_t n) {
  return HWY_DYNAMIC_DISPATCH(L2SqrImpl)(a, b, n);
}
void Fwht(float* x, size_t n, float scale) {
  HWY_DYNAMIC_DISPATCH(FwhtImpl)(x, n, scale);
}
void PermuteSigns(const float* x, const uint32_t* perm, const float* signs,
                  size_t n, float* y) {
  HWY_DYNAMIC_DISPATCH(PermuteSignsImpl)(x, perm, signs, n, y);
}
void Quantize(const float* y, size_t n, const float* thresholds, int bits,
              uint8_t* idx) {
  HWY_DYNAMIC_DISPATCH(QuantizeImpl)(y, n, thresholds, bits, idx);
}
float DotLut(const float* q, const uint8_t* idx, const float* table, size_t n) {
  return HWY_DYNAMIC_DISPATCH(DotLutImpl)(q, idx, table, n);
}
float MaskedSum(const float* q, const uint8_t* bits, size_t n) {
  return HWY_DYNAMIC_DISPATCH(MaskedSumImpl)(q, bits, n);
}

void MatVecF16(const uint16_t* m, size_t rows, size_t cols, const float* x,
               float* y) {
  HWY_DYNAMIC_DISPATCH(MatVecF16Impl)(m, rows, cols, x, y);
}

float DotI8(const float* q, const int8_t* c, size_t n) {
  return HWY_DYNAMIC_DISPATCH(DotI8Impl)(q, c, n);
}

void DotI8Rows(const float* q, const int8_t* c, size_t stride, size_t rows,
               size_t n, float* out) {
  HWY_DYNAMIC_DISPATCH(DotI8RowsImpl)(q, c, stride, rows, n, out);
}

float L2SqrI8(const float* q, const int8_t* c, float scale, size_t n) {
  return HWY_DYNAMIC_DISPATCH(L2SqrI8Impl)(q, c, scale, n);
}

void DotI16I8Rows(const int16_t* q, const int8_t* c, size_t stride, size_t rows,
                  size_t n, int32_t* out) {
  HWY_DYNAMIC_DISPATCH(DotI16I8RowsImpl)(q, c, stride, rows, n, out);
}

void SecondMomentUpper(const float* x, size_t n, size_t d, const double* w,
                       double* m) {
  HWY_DYNAMIC_DISPATCH(SecondMomentUpperImpl)(x, n, d, w, m);
}

const char* ActiveTargetName() {
  return HWY_DYNAMIC_DISPATCH(DispatchedTargetName)();
}

}  // namespace kernels
}  // namespace tqdb
#endif  // HWY_ONCE
