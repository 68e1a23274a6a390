#include "tools/io/text.h"

#include "quant/status_macros.h"

namespace tqdb {
namespace io {

absl::StatusOr<bool> TextVectorReader::ReadDataLine() {
  bool got;
  do {
    TQ_ASSIGN_OR_RETURN(got, lines_.ReadLine(&line_));
  } while (got && IsBlank(line_));
  return got;
}

absl::StatusOr<size_t> TextVectorReader::Next(size_t max_rows,
                                              VectorBatch* batch) {
  batch->Clear();
  batch->first_row = next_;
  if (max_rows == 0) return MaxRowsError(path());
  size_t k = 0;
  while (k < max_rows) {
    if (!have_line_) {
      TQ_ASSIGN_OR_RETURN(const bool got, ReadDataLine());
      if (!got) break;
    }
    have_line_ = false;
    TQ_RETURN_IF_ERROR(AppendRow(batch));
    ++k;
  }
  next_ += k;
  batch->rows = k;
  return k;
}

absl::Status TextVectorReader::Skip(uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) {
    if (have_line_) {
      have_line_ = false;
    } else {
      TQ_ASSIGN_OR_RETURN(const bool got, ReadDataLine());
      if (!got) return SkipPastEnd(path(), n, i);
    }
    ++next_;
  }
  return absl::OkStatus();
}

}  // namespace io
}  // namespace tqdb
