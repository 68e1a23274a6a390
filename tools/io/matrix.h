// A whole vector file in memory, for the tools that need all of it at once
// (bench, distortion, the recall report): the io/ readers do the parsing, so
// there is one parser per format and one set of error messages (file and
// row). Streaming users (ingest, search) use tools/io/readers.h directly.
#ifndef TQDB_TOOLS_IO_MATRIX_H_
#define TQDB_TOOLS_IO_MATRIX_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/io/readers.h"

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
  std::vector<int32_t> data;  // rows * dim, row-major
  const int32_t* row(size_t i) const { return data.data() + i * dim; }
};

// The first max_rows rows (all if 0) of a vector file VectorReader reads
// (format by extension or options.format). Errors are the reader's (they
// name the file and the row); a file without rows is InvalidArgument.
absl::StatusOr<FloatMatrix> ReadFloatMatrix(const std::string& path,
                                            size_t max_rows = 0,
                                            const ReaderOptions& options = {});

// The first max_rows rows (all if 0) of a TEXMEX .ivecs file (whatever its
// extension), as exact int32 values, e.g. the neighbour ids of a ground
// truth. Errors as the ivecs reader's; a file without rows is an error.
absl::StatusOr<IntMatrix> ReadIntMatrix(const std::string& path,
                                        size_t max_rows = 0);

}  // namespace tqdb

#endif  // TQDB_TOOLS_IO_MATRIX_H_
