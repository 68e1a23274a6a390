// The binary files' shared part (internal to tools/io/): element types and
// the reader of rows * dim values at an offset, which TEXMEX fvecs/bvecs/ivecs
// (each row prefixed by its int32 dimension), big-ann-benchmarks
// fbin/u8bin/i8bin (uint32 n, uint32 d, then n*d values) and npy.cc's arrays
// share. Little-endian, as the formats are.
#ifndef TQDB_TOOLS_IO_BINARY_H_
#define TQDB_TOOLS_IO_BINARY_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tools/io/input_file.h"
#include "tools/io/matrix.h"
#include "tools/io/readers.h"

namespace tqdb {
namespace io {

// Element types of the binary files (vectors and ids).
enum class Elem { kF32, kF16, kF64, kU8, kI8, kI32, kI64, kU64, kU32 };

size_t ElemSize(Elem e);

// The little-endian T at p (any alignment).
template <typename T>
T Load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// Where the rows of a binary vector file are.
struct BinaryLayout {
  std::string format;
  uint64_t data_offset = 0;
  bool dim_prefix = false;  // each row starts with int32 d (TEXMEX)
  Elem elem = Elem::kF32;
  uint32_t dim = 0;
  uint64_t rows = 0;        // complete rows in the file
  uint64_t tail_bytes = 0;  // bytes after the last complete row (vecs)
};

// Reads the rows `layout` describes, decoding elem values to floats and
// rejecting non-finite ones ("row N column C").
std::unique_ptr<VectorReader> NewBinaryVectorReader(
    std::unique_ptr<InputFile> file, BinaryLayout layout);

// Checks that `size` is exactly offset + rows * row_bytes, as a header
// says: DataLoss (naming the incomplete row) if the file is shorter,
// InvalidArgument (trailing bytes) if longer. size >= offset.
absl::Status CheckExactSize(const std::string& path, uint64_t size,
                            uint64_t offset, uint64_t rows, uint32_t dim,
                            uint64_t row_bytes);

// Reads up to max_rows rows (0 = all) of the .ivecs file `path` as int32,
// exactly (a VectorReader's floats are exact only up to 2^24), with the
// errors of the ivecs VectorReader; a file without rows is an error.
absl::Status ReadIvecsInts(const std::string& path, size_t max_rows,
                           IntMatrix* out);

}  // namespace io
}  // namespace tqdb

#endif  // TQDB_TOOLS_IO_BINARY_H_
