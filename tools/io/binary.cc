#include "tools/io/binary.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "quant/status_macros.h"
#include "tools/io/formats.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the binary readers assume a little-endian host");

namespace tqdb {

namespace io {

size_t ElemSize(Elem e) {
  switch (e) {
    case Elem::kF16:
      return 2;
    case Elem::kU8:
    case Elem::kI8:
      return 1;
    case Elem::kF64:
    case Elem::kI64:
    case Elem::kU64:
      return 8;
    default:
      return 4;
  }
}

namespace {

// Converts `n` values of type `e` at `src` into `dst`. Returns the index of
// the first value that is not finite as a float (NaN/Inf, or a float64
// beyond float32's range) in *bad, or n.
void Decode(Elem e, const uint8_t* src, size_t n, float* dst, size_t* bad) {
  *bad = n;
  switch (e) {
    case Elem::kF32:
      std::memcpy(dst, src, n * 4);
      break;
    case Elem::kF16:
      for (size_t i = 0; i < n; ++i) {
        dst[i] = HalfToFloat(Load<uint16_t>(src + 2 * i));
      }
      break;
    case Elem::kF64:
      for (size_t i = 0; i < n; ++i) {
        dst[i] = static_cast<float>(Load<double>(src + 8 * i));
      }
      break;
    case Elem::kU8:
      for (size_t i = 0; i < n; ++i) dst[i] = src[i];
      return;
    case Elem::kI8:
      for (size_t i = 0; i < n; ++i) {
        dst[i] = static_cast<int8_t>(src[i]);
      }
      return;
    case Elem::kI32:
      for (size_t i = 0; i < n; ++i) {
        dst[i] = static_cast<float>(Load<int32_t>(src + 4 * i));
      }
      return;
    default:  // id types never decode to vectors
      std::memset(dst, 0, n * sizeof(float));
      return;
  }
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(dst[i])) {
      *bad = i;
      return;
    }
  }
}

absl::Status NonFiniteError(const std::string& path, Elem e,
                            const uint8_t* raw_row, uint64_t row1, size_t col) {
  double v;
  if (e == Elem::kF64) {
    v = Load<double>(raw_row + 8 * col);
    if (std::isfinite(v)) {
      return Invalid(path, "row ", row1, " column ", col + 1, ": value ", v,
                     " overflows float32");
    }
  } else if (e == Elem::kF16) {
    v = HalfToFloat(Load<uint16_t>(raw_row + 2 * col));
  } else {
    v = Load<float>(raw_row + 4 * col);
  }
  return Invalid(path, "row ", row1, " column ", col + 1, ": ",
                 NonFiniteName(v));
}

class BinaryVectorReader : public VectorReader {
 public:
  BinaryVectorReader(std::unique_ptr<InputFile> file, BinaryLayout layout)
      : file_(std::move(file)),
        layout_(std::move(layout)),
        row_bytes_((layout_.dim_prefix ? 4 : 0) +
                   uint64_t{layout_.dim} * ElemSize(layout_.elem)) {}

  uint32_t dim() const override { return layout_.dim; }
  std::optional<uint64_t> total_rows() const override { return layout_.rows; }
  const std::string& format() const override { return layout_.format; }
  uint64_t next_row() const override { return next_; }

  absl::StatusOr<size_t> Next(size_t max_rows, VectorBatch* batch) override {
    batch->Clear();
    batch->first_row = next_;
    if (max_rows == 0) return MaxRowsError(path());
    const size_t dim = layout_.dim;
    std::vector<float>& out = batch->vectors;
    TQ_ASSIGN_OR_RETURN(
        batch->rows,
        ReadRows(
            max_rows, [&](size_t k) { out.resize(k * dim); },
            [&](size_t i, uint64_t row1, const uint8_t* p) {
              size_t bad;
              Decode(layout_.elem, p, dim, out.data() + i * dim, &bad);
              return bad == dim
                         ? absl::OkStatus()
                         : NonFiniteError(path(), layout_.elem, p, row1, bad);
            }));
    return batch->rows;
  }

  // Next() for int32 files (ivecs), without the conversion to float.
  absl::StatusOr<size_t> NextInts(size_t max_rows, std::vector<int32_t>* out) {
    out->clear();
    if (max_rows == 0) return MaxRowsError(path());
    const size_t dim = layout_.dim;
    return ReadRows(
        max_rows, [&](size_t k) { out->resize(k * dim); },
        [&](size_t i, uint64_t, const uint8_t* p) {
          std::memcpy(out->data() + i * dim, p, dim * sizeof(int32_t));
          return absl::OkStatus();
        });
  }

  absl::Status Skip(uint64_t n) override {
    const uint64_t left = layout_.rows - next_;
    if (n > left) return SkipPastEnd(path(), n, left);
    next_ += n;
    positioned_ = false;
    return absl::OkStatus();
  }

 private:
  const std::string& path() const { return file_->path(); }

  // Reads the next k <= max_rows rows: calls size(k), then visit(i, row1,
  // values) for each row i < k (row1: its 1-based number in the file,
  // values: its elements after the checked dimension prefix). Returns k, 0
  // at the end.
  template <typename Size, typename Visit>
  absl::StatusOr<size_t> ReadRows(size_t max_rows, Size size, Visit visit) {
    if (!positioned_) {
      TQ_RETURN_IF_ERROR(file_->Seek(layout_.data_offset + next_ * row_bytes_));
      positioned_ = true;
    }
    const uint64_t left = layout_.rows - next_;
    if (left == 0) {
      if (layout_.tail_bytes != 0) {
        return Truncated(path(), "row ", layout_.rows + 1, ": incomplete (",
                         layout_.tail_bytes, " bytes of ", row_bytes_, ")");
      }
      return 0;
    }
    const size_t k = static_cast<size_t>(std::min<uint64_t>(max_rows, left));
    const size_t dim = layout_.dim;
    size(k);
    const size_t chunk_rows =
        std::max<size_t>(1, kChunkBytes / static_cast<size_t>(row_bytes_));
    for (size_t done = 0; done < k;) {
      const size_t c = std::min(chunk_rows, k - done);
      raw_.resize(c * row_bytes_);
      TQ_ASSIGN_OR_RETURN(const size_t got,
                          file_->Read(raw_.data(), raw_.size()));
      if (got != raw_.size()) {  // the file shrank since Open
        return Truncated(path(), "row ", next_ + done + got / row_bytes_ + 1,
                         ": unexpected end of file");
      }
      for (size_t r = 0; r < c; ++r) {
        const uint64_t row1 = next_ + done + r + 1;
        const uint8_t* p = raw_.data() + r * row_bytes_;
        if (layout_.dim_prefix) {
          const int32_t d = Load<int32_t>(p);
          if (d != static_cast<int32_t>(dim)) {
            return Invalid(path(), "row ", row1, ": dimension ", d,
                           ", expected ", dim, " (as in row 1)");
          }
          p += 4;
        }
        TQ_RETURN_IF_ERROR(visit(done + r, row1, p));
      }
      done += c;
    }
    next_ += k;
    return k;
  }

  std::unique_ptr<InputFile> file_;
  const BinaryLayout layout_;
  const uint64_t row_bytes_;
  uint64_t next_ = 0;
  bool positioned_ = false;
  std::vector<uint8_t> raw_;
};

absl::StatusOr<std::unique_ptr<BinaryVectorReader>> OpenVecsReader(
    std::unique_ptr<InputFile> file, const std::string& format, Elem elem) {
  const std::string& path = file->path();
  const uint64_t size = file->size();
  if (size == 0) return Invalid(path, "empty file (no rows)");
  if (size < 4) {
    return Truncated(path, "row 1: incomplete (", size, " bytes)");
  }
  uint8_t head[4];
  TQ_ASSIGN_OR_RETURN(const size_t got, file->Read(head, 4));
  if (got != 4) return Truncated(path, "row 1: unexpected end of file");
  const int32_t d = Load<int32_t>(head);
  if (d <= 0 || static_cast<uint32_t>(d) > kMaxDim) {
    return DimError(path, "row 1: ", d);
  }
  BinaryLayout layout;
  layout.format = format;
  layout.dim_prefix = true;
  layout.elem = elem;
  layout.dim = static_cast<uint32_t>(d);
  const uint64_t row_bytes = 4 + uint64_t{layout.dim} * ElemSize(elem);
  layout.rows = size / row_bytes;
  layout.tail_bytes = size % row_bytes;
  return std::make_unique<BinaryVectorReader>(std::move(file),
                                              std::move(layout));
}

}  // namespace

std::unique_ptr<VectorReader> NewBinaryVectorReader(
    std::unique_ptr<InputFile> file, BinaryLayout layout) {
  return std::make_unique<BinaryVectorReader>(std::move(file),
                                              std::move(layout));
}

absl::StatusOr<std::unique_ptr<VectorReader>> OpenVecs(
    std::unique_ptr<InputFile> file, const std::string& format, Elem elem) {
  TQ_ASSIGN_OR_RETURN(std::unique_ptr<BinaryVectorReader> r,
                      OpenVecsReader(std::move(file), format, elem));
  return std::unique_ptr<VectorReader>(std::move(r));
}

absl::Status CheckExactSize(const std::string& path, uint64_t size,
                            uint64_t offset, uint64_t rows, uint32_t dim,
                            uint64_t row_bytes) {
  const uint64_t data = size - offset;  // size >= offset checked by callers
  const uint64_t complete = data / row_bytes;
  if (rows > complete) {
    std::string expected;
    if (rows <= (std::numeric_limits<uint64_t>::max() - offset) / row_bytes) {
      expected = absl::StrCat(offset + rows * row_bytes, " bytes");
    } else {
      expected = "more than 2^64 bytes";
    }
    return Truncated(path, "file size ", size, " bytes does not match the ",
                     "header (", rows, " rows of dimension ", dim, " need ",
                     expected, "): row ", complete + 1, " is incomplete");
  }
  if (rows < complete || data % row_bytes != 0) {
    return Invalid(path, "file size ", size, " bytes does not match the ",
                   "header (", rows, " rows of dimension ", dim, " need ",
                   offset + rows * row_bytes,
                   " bytes): ", data - rows * row_bytes, " trailing bytes");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<VectorReader>> OpenBin(
    std::unique_ptr<InputFile> file, const std::string& format, Elem elem) {
  const std::string& path = file->path();
  const uint64_t size = file->size();
  uint8_t head[8];
  TQ_ASSIGN_OR_RETURN(const size_t got, file->Read(head, 8));
  if (got != 8) {
    return Truncated(path, "incomplete header (", size, " of 8 bytes)");
  }
  const uint32_t n = Load<uint32_t>(head);
  const uint32_t d = Load<uint32_t>(head + 4);
  if (d == 0 || d > kMaxDim) return DimError(path, "header: ", d);
  const uint64_t row_bytes = uint64_t{d} * ElemSize(elem);
  TQ_RETURN_IF_ERROR(CheckExactSize(path, size, 8, n, d, row_bytes));
  BinaryLayout layout;
  layout.format = format;
  layout.data_offset = 8;
  layout.elem = elem;
  layout.dim = d;
  layout.rows = n;
  return NewBinaryVectorReader(std::move(file), std::move(layout));
}

absl::Status ReadIvecsInts(const std::string& path, size_t max_rows,
                           IntMatrix* out) {
  constexpr size_t kBatchRows = 4096;
  *out = IntMatrix();
  TQ_ASSIGN_OR_RETURN(std::unique_ptr<InputFile> file,
                      InputFile::Open(path, /*need_size=*/true));
  TQ_ASSIGN_OR_RETURN(std::unique_ptr<BinaryVectorReader> r,
                      OpenVecsReader(std::move(file), "ivecs", Elem::kI32));
  out->dim = r->dim();
  std::vector<int32_t> batch;
  while (max_rows == 0 || out->rows < max_rows) {
    const size_t want =
        max_rows == 0 ? kBatchRows : std::min(kBatchRows, max_rows - out->rows);
    TQ_ASSIGN_OR_RETURN(const size_t got, r->NextInts(want, &batch));
    if (got == 0) break;
    out->data.insert(out->data.end(), batch.begin(), batch.end());
    out->rows += got;
  }
  return absl::OkStatus();
}

}  // namespace io
}  // namespace tqdb
