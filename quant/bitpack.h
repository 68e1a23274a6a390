// Tight bit packing of small integer codes, LSB-first: value i of width b
// occupies bits [off + i*b, off + (i+1)*b) of the byte stream, bit k of the
// stream being bit (k % 8) of byte k / 8. Endian-independent.
#ifndef TQDB_QUANT_BITPACK_H_
#define TQDB_QUANT_BITPACK_H_

#include <cstddef>
#include <cstdint>

namespace tqdb {

// ORs n values of `bits` bits (1..8) into dst starting at bit offset `off`.
// REQUIRES: the target bits of dst are zero.
inline void PackBits(const uint8_t* values, size_t n, int bits, uint8_t* dst,
                     size_t off = 0) {
  if (bits == 8 && off % 8 == 0) {
    for (size_t i = 0; i < n; ++i) dst[off / 8 + i] = values[i];
    return;
  }
  size_t pos = off;
  for (size_t i = 0; i < n; ++i, pos += bits) {
    const uint32_t v = values[i];
    const size_t byte = pos >> 3;
    const int shift = static_cast<int>(pos & 7);
    dst[byte] |= static_cast<uint8_t>(v << shift);
    if (shift + bits > 8)
      dst[byte + 1] |= static_cast<uint8_t>(v >> (8 - shift));
  }
}

// Inverse of PackBits.
inline void UnpackBits(const uint8_t* src, size_t n, int bits, uint8_t* values,
                       size_t off = 0) {
  const uint32_t mask = (1u << bits) - 1;
  if (off % 8 == 0) {
    src += off / 8;
    if (bits == 8) {
      for (size_t i = 0; i < n; ++i) values[i] = src[i];
      return;
    }
    if (bits == 4) {
      size_t i = 0;
      for (; i + 2 <= n; i += 2) {
        values[i] = src[i / 2] & 0xF;
        values[i + 1] = src[i / 2] >> 4;
      }
      if (i < n) values[i] = src[i / 2] & 0xF;
      return;
    }
    if (bits == 2 || bits == 1) {
      const int per = 8 / bits;
      for (size_t i = 0; i < n; ++i) {
        values[i] = (src[i / per] >> ((i % per) * bits)) & mask;
      }
      return;
    }
    off = 0;
  }
  size_t pos = off;
  for (size_t i = 0; i < n; ++i, pos += bits) {
    const size_t byte = pos >> 3;
    const int shift = static_cast<int>(pos & 7);
    uint32_t v = src[byte] >> shift;
    if (shift + bits > 8)
      v |= static_cast<uint32_t>(src[byte + 1]) << (8 - shift);
    values[i] = static_cast<uint8_t>(v & mask);
  }
}

}  // namespace tqdb

#endif  // TQDB_QUANT_BITPACK_H_
