#include "quant/coding.h"

#include <algorithm>
#include <cmath>

namespace tqdb {

void EncodeFixed32(uint8_t* dst, uint32_t v) {
  for (int i = 0; i < 4; ++i) dst[i] = static_cast<uint8_t>(v >> (8 * i));
}

uint32_t DecodeFixed32(const uint8_t* src) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(src[i]) << (8 * i);
  return v;
}

void EncodeFloat(uint8_t* dst, float v) {
  uint32_t u;
  std::memcpy(&u, &v, 4);
  EncodeFixed32(dst, u);
}

float DecodeFloat(const uint8_t* src) {
  const uint32_t u = DecodeFixed32(src);
  float v;
  std::memcpy(&v, &u, 4);
  return v;
}

void PutFixed32(std::string* dst, uint32_t v) {
  uint8_t buf[4];
  EncodeFixed32(buf, v);
  dst->append(reinterpret_cast<const char*>(buf), 4);
}

void PutFixed64(std::string* dst, uint64_t v) {
  PutFixed32(dst, static_cast<uint32_t>(v));
  PutFixed32(dst, static_cast<uint32_t>(v >> 32));
}

void PutFloat(std::string* dst, float v) {
  uint32_t u;
  std::memcpy(&u, &v, 4);
  PutFixed32(dst, u);
}

void PutBytes(std::string* dst, absl::string_view bytes) {
  PutFixed32(dst, static_cast<uint32_t>(bytes.size()));
  dst->append(bytes.data(), bytes.size());
}

bool Decoder::GetRaw(size_t n, absl::string_view* v) {
  if (in_.size() < n) return false;
  *v = in_.substr(0, n);
  in_.remove_prefix(n);
  return true;
}

bool Decoder::GetFixed32(uint32_t* v) {
  absl::string_view s;
  if (!GetRaw(4, &s)) return false;
  *v = DecodeFixed32(reinterpret_cast<const uint8_t*>(s.data()));
  return true;
}

bool Decoder::GetFixed64(uint64_t* v) {
  uint32_t lo, hi;
  if (!GetFixed32(&lo) || !GetFixed32(&hi)) return false;
  *v = (static_cast<uint64_t>(hi) << 32) | lo;
  return true;
}

bool Decoder::GetFloat(float* v) {
  uint32_t u;
  if (!GetFixed32(&u)) return false;
  std::memcpy(v, &u, 4);
  return true;
}

bool Decoder::GetBytes(absl::string_view* v) {
  uint32_t n;
  if (!GetFixed32(&n)) return false;
  return GetRaw(n, v);
}

namespace {
struct Crc32cTable {
  uint32_t t[256];
  Crc32cTable() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[i] = c;
    }
  }
};
}  // namespace

uint32_t Crc32c(const void* data, size_t n, uint32_t init) {
  static const Crc32cTable table;
  const uint8_t* p = static_cast<const uint8_t*>(data);
  uint32_t c = ~init;
  for (size_t i = 0; i < n; ++i) c = table.t[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return ~c;
}

void PutCrcTrailer(std::string* dst) {
  PutFixed32(dst, Crc32c(dst->data(), dst->size()));
}

bool CheckCrcTrailer(absl::string_view bytes, absl::string_view* payload) {
  if (bytes.size() < 4) return false;
  const size_t n = bytes.size() - 4;
  const uint32_t stored =
      DecodeFixed32(reinterpret_cast<const uint8_t*>(bytes.data() + n));
  if (Crc32c(bytes.data(), n) != stored) return false;
  *payload = bytes.substr(0, n);
  return true;
}

uint16_t FloatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  x &= 0x7fffffffu;
  if (x >= 0x477fe000u) return sign | 0x7bffu;  // >= 65504
  if (x < 0x38800000u) {                        // below 2^-14: subnormal
    float a;
    std::memcpy(&a, &x, 4);
    return sign | static_cast<uint16_t>(std::nearbyint(a * 16777216.0f));
  }
  uint32_t h = (((x >> 23) - 112) << 10) | ((x & 0x7fffffu) >> 13);
  const uint32_t rem = x & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) ++h;
  return sign | static_cast<uint16_t>(std::min<uint32_t>(h, 0x7bffu));
}

float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0x1f) {  // Inf / NaN (keeps the payload)
    bits = sign | 0x7f800000u | (mant << 13);
  } else if (exp != 0) {  // normal
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  } else if (mant == 0) {  // zero
    bits = sign;
  } else {  // subnormal: normalize
    int e = -1;
    do {
      ++e;
      mant <<= 1;
    } while ((mant & 0x400) == 0);
    bits = sign | ((127 - 15 - e) << 23) | ((mant & 0x3ff) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

}  // namespace tqdb
