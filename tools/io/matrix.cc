#include "tools/io/matrix.h"

#include <algorithm>
#include <memory>

#include "quant/status_macros.h"
#include "tools/io/binary.h"

namespace tqdb {

absl::StatusOr<FloatMatrix> ReadFloatMatrix(const std::string& path,
                                            size_t max_rows,
                                            const ReaderOptions& options) {
  constexpr size_t kBatchRows = 4096;
  TQ_ASSIGN_OR_RETURN(std::unique_ptr<VectorReader> r,
                      VectorReader::Open(path, options));
  FloatMatrix m;
  m.dim = r->dim();
  if (const std::optional<uint64_t> total = r->total_rows()) {
    const uint64_t rows =
        max_rows == 0 ? *total : std::min<uint64_t>(*total, max_rows);
    m.data.reserve(static_cast<size_t>(rows) * m.dim);
  }
  VectorBatch batch;
  while (max_rows == 0 || m.rows < max_rows) {
    const size_t want =
        max_rows == 0 ? kBatchRows : std::min(kBatchRows, max_rows - m.rows);
    TQ_ASSIGN_OR_RETURN(const size_t got, r->Next(want, &batch));
    if (got == 0) break;
    m.data.insert(m.data.end(), batch.vectors.begin(), batch.vectors.end());
    m.rows += got;
  }
  if (m.rows == 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no rows"));
  }
  return m;
}

absl::StatusOr<IntMatrix> ReadIntMatrix(const std::string& path,
                                        size_t max_rows) {
  IntMatrix m;
  TQ_RETURN_IF_ERROR(io::ReadIvecsInts(path, max_rows, &m));
  return m;
}

}  // namespace tqdb
