// SIMD kernels of the quantizer (Highway dynamic dispatch) and their scalar
// references. Every function in tqdb::kernels dispatches once per call to the
// best target the CPU supports; tqdb::kernels::scalar holds the plain C++
// reference with the same contract, kept in tree for tests and debugging.
//
// Determinism: every kernel gives the same bits on every target and in its
// scalar reference, so a search or a training run gives the same results on
// any CPU (an AVX-512 server and an AVX2 replica of it agree). Fwht,
// PermuteSigns and Quantize only add, subtract, multiply by constants and
// compare, in one order. The float sums (Dot, L2Sqr, DotLut, MaskedSum,
// MatVecF16, DotI8, DotI8Rows, L2SqrI8) are all formed one way: term i goes to
// running sum i % kSumLanes, a product term by a fused multiply-add (on
// every target: targets without FMA emulate it with std::fma); the running
// sums start at +0 and are then added pairwise, sum j += sum j + w for
// w = kSumLanes / 2, ..., 2, 1, and the result is sum 0. DotI16I8Rows is
// exact. SecondMomentUpper adds its double terms to each entry in one order.
//
// All pointers must be valid for n elements; nothing is allocated; all
// functions are thread-safe (no shared state).
#ifndef TQDB_QUANT_KERNELS_H_
#define TQDB_QUANT_KERNELS_H_

#include <cstddef>
#include <cstdint>

namespace tqdb {
namespace kernels {

// Running sums of the canonical float sum (Determinism, above): two AVX-512
// vectors, four AVX2 vectors.
inline constexpr size_t kSumLanes = 32;

// Sum of a[i]*b[i].
float Dot(const float* a, const float* b, size_t n);
// Sum of (a[i]-b[i])^2.
float L2Sqr(const float* a, const float* b, size_t n);
// In place: x <- scale * H_n x, H_n the (unnormalized) Walsh-Hadamard matrix.
// REQUIRES: n is a power of two.
void Fwht(float* x, size_t n, float scale);
// y[i] = x[perm[i]] * signs[i] (signs are +1/-1). x and y must not alias.
void PermuteSigns(const float* x, const uint32_t* perm, const float* signs,
                  size_t n, float* y);
// idx[i] = number of thresholds strictly below y[i], by branchless binary
// search. `thresholds` has 2^bits entries: the 2^bits - 1 sorted boundaries
// followed by +infinity. REQUIRES: 1 <= bits <= 8.
void Quantize(const float* y, size_t n, const float* thresholds, int bits,
              uint8_t* idx);
// Sum of q[i] * table[idx[i]].
float DotLut(const float* q, const uint8_t* idx, const float* table, size_t n);
// Sum of q[i] over the i whose bit is set in `bits` (LSB-first bit order).
float MaskedSum(const float* q, const uint8_t* bits, size_t n);
// y[r] = sum_i m[r * cols + i] * x[i] for r < rows, m a row-major matrix of
// IEEE binary16 values (quant/coding.h: FloatToHalf), widened exactly and
// summed in float (several rows at a time, each x chunk loaded once).
void MatVecF16(const uint16_t* m, size_t rows, size_t cols, const float* x,
               float* y);
// Sum of q[i] * c[i] for int8 c (widened exactly): the inner product with
// an int8 code (index/refine_codes.h) before its per-vector scale.
float DotI8(const float* q, const int8_t* c, size_t n);
// out[r] = DotI8(q, c + r * stride, n) for r < rows, bit for bit, several
// rows at a time (each q chunk loaded once for them).
void DotI8Rows(const float* q, const int8_t* c, size_t stride, size_t rows,
               size_t n, float* out);
// Sum of (q[i] - scale * c[i])^2, each scale * c[i] one float product: for
// x with x[i] == scale * c[i] (a vector on its int8 code's grid,
// index/refine_codes.h SnapToInt8Grid) it is L2Sqr(q, x) bit for bit, read
// from n bytes instead of 4n.
float L2SqrI8(const float* q, const int8_t* c, float scale, size_t n);
// out[r] = sum_i q[i] * c[r * stride + i] for r < rows, in int32: exact,
// so the same on every target. The caller keeps n * max|q| * 128 below
// 2^31 (no partial sum overflows). An int8 code's inner product with a
// query rounded to int16 once for many codes (the IVF coarse step).
void DotI16I8Rows(const int16_t* q, const int8_t* c, size_t stride, size_t rows,
                  size_t n, int32_t* out);
// m[a * d + b] += (x_i[a] * w[i]) * x_i[b] for b >= a (the upper triangle of
// the rows' weighted second moment, d x d, row-major), for the n rows x_i =
// x + i * d whose w[i] is not 0 (the others may hold non-finite values),
// each entry's terms added in row order, each term two double products: the
// same bits on every target (no fused multiply-add).
void SecondMomentUpper(const float* x, size_t n, size_t d, const double* w,
                       double* m);

// Name of the Highway target the dispatched functions use on this CPU.
const char* ActiveTargetName();

namespace scalar {
float Dot(const float* a, const float* b, size_t n);
float L2Sqr(const float* a, const float* b, size_t n);
void Fwht(float* x, size_t n, float scale);
void PermuteSigns(const float* x, const uint32_t* perm, const float* signs,
                  size_t n, float* y);
void Quantize(const float* y, size_t n, const float* thresholds, int bits,
              uint8_t* idx);
float DotLut(const float* q, const uint8_t* idx, const float* table, size_t n);
float MaskedSum(const float* q, const uint8_t* bits, size_t n);
void MatVecF16(const uint16_t* m, size_t rows, size_t cols, const float* x,
               float* y);
float DotI8(const float* q, const int8_t* c, size_t n);
void DotI8Rows(const float* q, const int8_t* c, size_t stride, size_t rows,
               size_t n, float* out);
float L2SqrI8(const float* q, const int8_t* c, float scale, size_t n);
void DotI16I8Rows(const int16_t* q, const int8_t* c, size_t stride, size_t rows,
                  size_t n, int32_t* out);
void SecondMomentUpper(const float* x, size_t n, size_t d, const double* w,
                       double* m);
}  // namespace scalar

}  // namespace kernels
}  // namespace tqdb

#endif  // TQDB_QUANT_KERNELS_H_
