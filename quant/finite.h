// Finding NaN and infinity in float vectors, in one branch-free pass. A
// vector is checked once, where it enters from outside (a database query or
// point: db/query.h; the index's and quantizers' public entry points).
//
// Thread-safe, allocation-free; x must be valid for n floats.
#ifndef TQDB_QUANT_FINITE_H_
#define TQDB_QUANT_FINITE_H_

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace tqdb {

// Index of the first NaN or infinity in x[0, n), or -1 if all are finite.
// The all-finite case tests the exponent bits of every value without a
// branch (the compiler vectorizes it); the index is searched for only when
// something is wrong.
inline std::ptrdiff_t FirstNonFinite(const float* x, size_t n) {
  uint32_t bad = 0;
  for (size_t j = 0; j < n; ++j) {
    uint32_t bits;
    std::memcpy(&bits, x + j, sizeof(bits));
    bad |= static_cast<uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
  }
  if (bad == 0) return -1;
  for (size_t j = 0; j < n; ++j) {
    if (!std::isfinite(x[j])) return static_cast<std::ptrdiff_t>(j);
  }
  return -1;
}

}  // namespace tqdb

#endif  // TQDB_QUANT_FINITE_H_
