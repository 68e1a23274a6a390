// Readers for TEXMEX .fvecs / .ivecs files (each row: int32 d, then d
// little-endian float32 / int32 values).
//
// Errors name the file and the row (1-based, like a line number):
// NotFound if the file cannot be opened, InvalidArgument for a truncated row,
// a row whose dimension differs from the first, a non-positive dimension,
// or (fvecs) a NaN/Inf value. Nothing is returned on error.
#ifndef TQDB_TOOLS_VECS_IO_H_
#define TQDB_TOOLS_VECS_IO_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace tqdb {

struct FloatMatrix {
  size_t rows = 0;
  size_t dim = 0;
  std::vector<float> data;  // rows * dim, row-major
  const float* row(size_t i) const { return data.data() + i * dim; }
};

struct IntMatrix {
  size_t rows = 0;
  size_t dim = 0;
  std::vector<int32_t> data;
  const int32_t* row(size_t i) const { return data.data() + i * dim; }
};

// Reads at most max_rows rows (all if 0).
absl::Status ReadFvecs(const std::string& path, FloatMatrix* out,
                       size_t max_rows = 0);
absl::Status ReadIvecs(const std::string& path, IntMatrix* out,
                       size_t max_rows = 0);

}  // namespace tqdb

#endif  // TQDB_TOOLS_VECS_IO_H_
