// Scalar references of quant/kernels.h. Plain C++, no intrinsics; the float
// sums in the canonical order of kernels.h ("Determinism"), spelled out.
#include <cmath>

#include "quant/coding.h"
#include "quant/kernels.h"

namespace tqdb {
namespace kernels {
namespace scalar {
namespace {

// The canonical sum of term(i, running sum) over i < n.
template <class Term>
float CanonicalSum(size_t n, const Term& term) {
  float sums[kSumLanes] = {};
  for (size_t i = 0; i < n; ++i) {
    sums[i % kSumLanes] = term(i, sums[i % kSumLanes]);
  }
  for (size_t w = kSumLanes / 2; w >= 1; w /= 2) {
    for (size_t j = 0; j < w; ++j) sums[j] += sums[j + w];
  }
  return sums[0];
}

}  // namespace

float Dot(const float* a, const float* b, size_t n) {
  return CanonicalSum(
      n, [&](size_t i, float s) { return std::fma(a[i], b[i], s); });
}

float L2Sqr(const float* a, const float* b, size_t n) {
  return CanonicalSum(n, [&](size_t i, float s) {
    const float t = a[i] - b[i];
    return std::fma(t, t, s);
  });
}

void Fwht(float* x, size_t n, float scale) {
  for (size_t h = 1; h < n; h *= 2) {
    for (size_t i = 0; i < n; i += 2 * h) {
      for (size_t j = i; j < i + h; ++j) {
        const float a = x[j];
        const float b = x[j + h];
        x[j] = a + b;
        x[j + h] = a - b;
      }
    }
  }
  for (size_t i = 0; i < n; ++i) x[i] *= scale;
}

void PermuteSigns(const float* x, const uint32_t* perm, const float* signs,
                  size_t n, float* y) {
  for (size_t i = 0; i < n; ++i) y[i] = x[perm[i]] * signs[i];
}

void Quantize(const float* y, size_t n, const float* thresholds, int bits,
              uint8_t* idx) {
  for (size_t i = 0; i < n; ++i) {
    uint32_t k = 0;
    for (uint32_t step = 1u << (bits - 1); step > 0; step >>= 1) {
      if (y[i] > thresholds[k + step - 1]) k += step;
    }
    idx[i] = static_cast<uint8_t>(k);
  }
}

float DotLut(const float* q, const uint8_t* idx, const float* table, size_t n) {
  return CanonicalSum(
      n, [&](size_t i, float s) { return std::fma(q[i], table[idx[i]], s); });
}

float MaskedSum(const float* q, const uint8_t* bits, size_t n) {
  return CanonicalSum(n, [&](size_t i, float s) {
    return ((bits[i >> 3] >> (i & 7)) & 1) ? s + q[i] : s;
  });
}

void MatVecF16(const uint16_t* m, size_t rows, size_t cols, const float* x,
               float* y) {
  for (size_t r = 0; r < rows; ++r) {
    const uint16_t* row = m + r * cols;
    y[r] = CanonicalSum(cols, [&](size_t i, float s) {
      return std::fma(HalfToFloat(row[i]), x[i], s);
    });
  }
}

float DotI8(const float* q, const int8_t* c, size_t n) {
  return CanonicalSum(n, [&](size_t i, float s) {
    return std::fma(q[i], static_cast<float>(c[i]), s);
  });
}

void DotI8Rows(const float* q, const int8_t* c, size_t stride, size_t rows,
               size_t n, float* out) {
  for (size_t r = 0; r < rows; ++r) out[r] = DotI8(q, c + r * stride, n);
}

float L2SqrI8(const float* q, const int8_t* c, float scale, size_t n) {
  return CanonicalSum(n, [&](size_t i, float s) {
    const float t = q[i] - scale * static_cast<float>(c[i]);
    return std::fma(t, t, s);
  });
}

void DotI16I8Rows(const int16_t* q, const int8_t* c, size_t stride, size_t rows,
                  size_t n, int32_t* out) {
  for (size_t r = 0; r < rows; ++r) {
    int32_t s = 0;
    for (size_t i = 0; i < n; ++i) s += int32_t{q[i]} * c[r * stride + i];
    out[r] = s;
  }
}

void SecondMomentUpper(const float* x, size_t n, size_t d, const double* w,
                       double* m) {
  for (size_t i = 0; i < n; ++i) {
    if (w[i] == 0) continue;
    const float* r = x + i * d;
    for (size_t a = 0; a < d; ++a) {
      const double ra = r[a] * w[i];
      double* row = m + a * d;
      for (size_t b = a; b < d; ++b) row[b] += ra * r[b];
    }
  }
}

}  // namespace scalar
}  // namespace kernels
}  // namespace tqdb
