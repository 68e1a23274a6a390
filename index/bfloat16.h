// bfloat16: the top 16 bits of an IEEE binary32 (8 significant bits, the
// float's exponent range), for per-vector values that only steer a scan
// (the progressive layout's first-pass factors, index/progressive.h) and
// so may be held in half the bytes. Converting back is exact, on every
// target (a shift).
#ifndef TQDB_INDEX_BFLOAT16_H_
#define TQDB_INDEX_BFLOAT16_H_

#include <cmath>
#include <cstdint>
#include <cstring>

namespace tqdb {

// |x - Bf16ToFloat(Bf16Nearest(x))| <= kBf16RelError * |Bf16ToFloat(...)|
// for normal x: half a unit in the last of 8 significant bits, relative to
// the stored value, which is at least the power of two below |x|.
constexpr float kBf16RelError = 1.0f / 256.0f;

inline float Bf16ToFloat(uint16_t b) {
  const uint32_t u = uint32_t{b} << 16;
  float x;
  std::memcpy(&x, &u, sizeof(x));
  return x;
}

namespace bf16_internal {
inline uint32_t Bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof(u));
  return u;
}
// A finite x that rounded to infinity keeps the largest finite magnitude.
inline uint16_t Finite(float x, uint32_t b) {
  if (std::isfinite(x) && (b & 0x7F80u) == 0x7F80u) b = (b & 0x8000u) | 0x7F7Fu;
  return static_cast<uint16_t>(b);
}
}  // namespace bf16_internal

// Rounded to nearest, ties to even. NaN stays NaN.
inline uint16_t Bf16Nearest(float x) {
  const uint32_t u = bf16_internal::Bits(x);
  if (std::isnan(x)) return static_cast<uint16_t>((u >> 16) | 0x40u);
  return bf16_internal::Finite(x, (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

// Rounded away from zero (|stored| >= |x|): for values a bound must not
// understate.
inline uint16_t Bf16Away(float x) {
  const uint32_t u = bf16_internal::Bits(x);
  if (std::isnan(x)) return static_cast<uint16_t>((u >> 16) | 0x40u);
  return bf16_internal::Finite(x, (u >> 16) + ((u & 0xFFFFu) != 0 ? 1u : 0u));
}

}  // namespace tqdb

#endif  // TQDB_INDEX_BFLOAT16_H_
