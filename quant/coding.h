// Endian-neutral encoding helpers and CRC32C for every tqdb byte format.
// All integers and floats are stored little-endian, independent of the host.
// Readers (Decoder) never read past the end: every Get* returns false on a
// short buffer, and the caller turns that into a DataLoss/InvalidArgument.
#ifndef TQDB_QUANT_CODING_H_
#define TQDB_QUANT_CODING_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/string_view.h"

namespace tqdb {

void PutFixed32(std::string* dst, uint32_t v);
void PutFixed64(std::string* dst, uint64_t v);
void PutFloat(std::string* dst, float v);
// Length-prefixed (fixed32) byte string.
void PutBytes(std::string* dst, absl::string_view bytes);

void EncodeFixed32(uint8_t* dst, uint32_t v);
uint32_t DecodeFixed32(const uint8_t* src);
void EncodeFloat(uint8_t* dst, float v);
float DecodeFloat(const uint8_t* src);

// IEEE binary16. FloatToHalf: round to nearest even; magnitudes beyond the
// largest finite half (65504) saturate to it (inputs are finite).
// HalfToFloat: exact (subnormals, infinities, NaN).
uint16_t FloatToHalf(float f);
float HalfToFloat(uint16_t h);

// Sequential reader over a byte string; does not own the bytes.
class Decoder {
 public:
  explicit Decoder(absl::string_view in) : in_(in) {}
  bool GetFixed32(uint32_t* v);
  bool GetFixed64(uint64_t* v);
  bool GetFloat(float* v);
  bool GetBytes(absl::string_view* v);
  bool GetRaw(size_t n, absl::string_view* v);
  size_t remaining() const { return in_.size(); }

 private:
  absl::string_view in_;
};

// CRC32C (Castagnoli), software table implementation.
uint32_t Crc32c(const void* data, size_t n, uint32_t init = 0);

// Every serialized tqdb blob ends with the fixed32 CRC32C of what precedes
// it. PutCrcTrailer appends it; CheckCrcTrailer returns false if `bytes` is
// shorter than 4 bytes or the checksum does not match, and otherwise sets
// *payload to `bytes` without the trailer.
void PutCrcTrailer(std::string* dst);
bool CheckCrcTrailer(absl::string_view bytes, absl::string_view* payload);

}  // namespace tqdb

#endif  // TQDB_QUANT_CODING_H_
