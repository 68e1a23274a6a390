#include "tools/readers.h"

#include <hdf5.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "quant/status_macros.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the binary readers assume a little-endian host");

namespace tqdb {
namespace {

// Raw bytes a binary reader decodes at a time (bounds its buffer).
constexpr size_t kChunkBytes = size_t{4} << 20;

template <typename... Args>
absl::Status FileError(absl::StatusCode code, const std::string& path,
                       const Args&... args) {
  return absl::Status(code, absl::StrCat(path, ": ", args...));
}
template <typename... Args>
absl::Status Invalid(const std::string& path, const Args&... args) {
  return FileError(absl::StatusCode::kInvalidArgument, path, args...);
}
template <typename... Args>
absl::Status Truncated(const std::string& path, const Args&... args) {
  return FileError(absl::StatusCode::kDataLoss, path, args...);
}

absl::Status MaxRowsError(const std::string& path) {
  return Invalid(path, "Next() needs max_rows > 0");
}

absl::Status DimError(const std::string& path, absl::string_view where,
                      int64_t d) {
  return Invalid(path, where, "dimension ", d, " is out of range [1, ", kMaxDim,
                 "]");
}

absl::Status SkipPastEnd(const std::string& path, uint64_t n, uint64_t left) {
  return Invalid(path, "cannot skip ", n, " rows: only ", left, " rows left");
}

// "NaN" / "Inf" for a non-finite value.
const char* NonFiniteName(double v) { return std::isnan(v) ? "NaN" : "Inf"; }

// ---------------------------------------------------------------------------
// Files.

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};

class InputFile {
 public:
  // Opens `path` for reading. `need_size`: the file must be a regular file
  // (its size is needed); otherwise pipes and devices are fine.
  static absl::StatusOr<std::unique_ptr<InputFile>> Open(
      const std::string& path, bool need_size) {
    std::unique_ptr<FILE, FileCloser> f(std::fopen(path.c_str(), "rbe"));
    if (!f) {
      return FileError(absl::StatusCode::kNotFound, path,
                       "cannot open: ", std::strerror(errno));
    }
    struct stat st;
    if (fstat(fileno(f.get()), &st) != 0) {
      return FileError(absl::StatusCode::kNotFound, path,
                       "cannot stat: ", std::strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) return Invalid(path, "is a directory");
    if (need_size && !S_ISREG(st.st_mode)) {
      return Invalid(path, "not a regular file (this format needs its size)");
    }
    return std::unique_ptr<InputFile>(new InputFile(
        path, std::move(f), S_ISREG(st.st_mode) ? st.st_size : 0));
  }

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }

  // Reads up to n bytes; fewer only at the end of the file.
  absl::StatusOr<size_t> Read(void* buf, size_t n) {
    const size_t got = std::fread(buf, 1, n, f_.get());
    if (got < n && std::ferror(f_.get())) {
      return Truncated(path_, "read error: ", std::strerror(errno));
    }
    return got;
  }

  absl::Status Seek(uint64_t offset) {
    if (offset > static_cast<uint64_t>(std::numeric_limits<off_t>::max()) ||
        fseeko(f_.get(), static_cast<off_t>(offset), SEEK_SET) != 0) {
      return Invalid(path_, "cannot seek to byte ", offset, ": ",
                     std::strerror(errno));
    }
    return absl::OkStatus();
  }

 private:
  InputFile(std::string path, std::unique_ptr<FILE, FileCloser> f,
            uint64_t size)
      : path_(std::move(path)), f_(std::move(f)), size_(size) {}

  std::string path_;
  std::unique_ptr<FILE, FileCloser> f_;
  uint64_t size_;
};

// Splits a text file into lines ("\n" or "\r\n"; the last may lack it).
class LineReader {
 public:
  explicit LineReader(std::unique_ptr<InputFile> file)
      : file_(std::move(file)), buf_(size_t{64} << 10) {}

  const std::string& path() const { return file_->path(); }
  // 1-based number of the line last returned.
  uint64_t line_number() const { return line_number_; }

  // Sets *line to the next line without its terminator; false at the end.
  absl::StatusOr<bool> ReadLine(std::string* line) {
    line->clear();
    bool any = false;
    while (true) {
      if (pos_ == end_) {
        if (eof_) break;
        TQ_ASSIGN_OR_RETURN(end_, file_->Read(buf_.data(), buf_.size()));
        pos_ = 0;
        if (end_ == 0) {
          eof_ = true;
          break;
        }
      }
      any = true;
      const char* start = buf_.data() + pos_;
      const void* nl = std::memchr(start, '\n', end_ - pos_);
      const size_t n = nl ? static_cast<const char*>(nl) - start : end_ - pos_;
      if (line->size() + n > kMaxLineBytes) {
        return Invalid(path(), "line ", line_number_ + 1, ": longer than ",
                       kMaxLineBytes, " bytes");
      }
      line->append(start, n);
      pos_ += n;
      if (nl) {
        ++pos_;
        break;
      }
    }
    if (!any) return false;
    ++line_number_;
    if (!line->empty() && line->back() == '\r') line->pop_back();
    return true;
  }

 private:
  std::unique_ptr<InputFile> file_;
  std::vector<char> buf_;
  size_t pos_ = 0;
  size_t end_ = 0;
  bool eof_ = false;
  uint64_t line_number_ = 0;
};

bool IsBlank(absl::string_view s) {
  return absl::StripAsciiWhitespace(s).empty();
}

// ---------------------------------------------------------------------------
// Numbers.

// Parses all of `s` (no surrounding blanks) as a float. Accepts a leading
// '+'; rejects hex, trailing garbage. Underflow yields the rounded value.
// Returns false for a bad number or overflow (*overflow tells which).
bool ParseFloat(absl::string_view s, float* out, bool* overflow) {
  *overflow = false;
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (s.empty() || s[0] == '+' || s[0] == ' ') return false;
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, *out);
  if (ptr != end) return false;
  if (ec == std::errc::result_out_of_range) {
    double d;
    auto [ptr2, ec2] = std::from_chars(s.data(), end, d);
    if (ptr2 != end || ec2 != std::errc()) {
      *overflow = true;
      return false;
    }
    *out = static_cast<float>(d);
    if (!std::isfinite(*out)) {
      *overflow = true;
      return false;
    }
    return true;
  }
  return ec == std::errc();
}

// Parses all of `s` as a decimal unsigned 64-bit integer (digits only).
bool ParseU64(absl::string_view s, uint64_t* out) {
  if (s.empty() || s[0] < '0' || s[0] > '9') return false;
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, *out);
  return ptr == end && ec == std::errc();
}

}  // namespace

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

void VectorBatch::Clear() {
  first_row = 0;
  rows = 0;
  vectors.clear();
  ids.clear();
  payloads.clear();
}

VectorReader::~VectorReader() = default;
IdReader::~IdReader() = default;
PayloadReader::~PayloadReader() = default;

namespace {

// ---------------------------------------------------------------------------
// Formats.

struct FormatInfo {
  const char* name;
  const char* extensions;  // space-separated, with dots
};
constexpr FormatInfo kFormats[] = {
    {"fvecs", ".fvecs"}, {"bvecs", ".bvecs"},   {"ivecs", ".ivecs"},
    {"fbin", ".fbin"},   {"u8bin", ".u8bin"},   {"i8bin", ".i8bin"},
    {"npy", ".npy"},     {"hdf5", ".hdf5 .h5"}, {"jsonl", ".jsonl"},
    {"csv", ".csv"},
};

std::string SupportedList() {
  std::vector<std::string> names, exts;
  for (const FormatInfo& f : kFormats) {
    names.push_back(f.name);
    exts.push_back(f.extensions);
  }
  return absl::StrCat("supported extensions: ", absl::StrJoin(exts, " "),
                      "; formats (--format): ", absl::StrJoin(names, " "));
}

// ---------------------------------------------------------------------------
// Binary element types.

enum class Elem { kF32, kF16, kF64, kU8, kI8, kI32, kI64, kU64, kU32 };

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

template <typename T>
T Load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

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

// fvecs/bvecs/ivecs (rows prefixed by an int32 dimension), fbin/u8bin/i8bin
// and npy (a header, then rows * dim values).
class BinaryVectorReader : public VectorReader {
 public:
  struct Layout {
    std::string format;
    uint64_t data_offset = 0;
    bool dim_prefix = false;  // each row starts with int32 d (TEXMEX)
    Elem elem = Elem::kF32;
    uint32_t dim = 0;
    uint64_t rows = 0;        // complete rows in the file
    uint64_t tail_bytes = 0;  // bytes after the last complete row (vecs)
  };

  BinaryVectorReader(std::unique_ptr<InputFile> file, Layout layout)
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
    batch->vectors.resize(k * dim);
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
        size_t bad;
        Decode(layout_.elem, p, dim, batch->vectors.data() + (done + r) * dim,
               &bad);
        if (bad != dim) {
          return NonFiniteError(path(), layout_.elem, p, row1, bad);
        }
      }
      done += c;
    }
    next_ += k;
    batch->rows = k;
    return k;
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

  std::unique_ptr<InputFile> file_;
  const Layout layout_;
  const uint64_t row_bytes_;
  uint64_t next_ = 0;
  bool positioned_ = false;
  std::vector<uint8_t> raw_;
};

absl::StatusOr<std::unique_ptr<VectorReader>> OpenVecs(
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
  BinaryVectorReader::Layout layout;
  layout.format = format;
  layout.dim_prefix = true;
  layout.elem = elem;
  layout.dim = static_cast<uint32_t>(d);
  const uint64_t row_bytes = 4 + uint64_t{layout.dim} * ElemSize(elem);
  layout.rows = size / row_bytes;
  layout.tail_bytes = size % row_bytes;
  return std::unique_ptr<VectorReader>(
      new BinaryVectorReader(std::move(file), std::move(layout)));
}

// Checks that `size` is exactly offset + rows * row_bytes.
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
  BinaryVectorReader::Layout layout;
  layout.format = format;
  layout.data_offset = 8;
  layout.elem = elem;
  layout.dim = d;
  layout.rows = n;
  return std::unique_ptr<VectorReader>(
      new BinaryVectorReader(std::move(file), std::move(layout)));
}

// ---------------------------------------------------------------------------
// npy.

struct NpyHeader {
  uint64_t data_offset = 0;
  std::string descr;
  bool fortran_order = false;
  std::vector<uint64_t> shape;
};

// Parses the header dict, a Python literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
class NpyDictParser {
 public:
  NpyDictParser(absl::string_view text, NpyHeader* out) : s_(text), out_(out) {}

  // Returns "" on success, else what is wrong.
  std::string Parse() {
    bool have_descr = false, have_order = false, have_shape = false;
    SkipWs();
    if (!Eat('{')) return "expected '{'";
    while (true) {
      SkipWs();
      if (Eat('}')) break;
      std::string key;
      if (!ParseString(&key)) return "expected a quoted key";
      SkipWs();
      if (!Eat(':')) return absl::StrCat("expected ':' after '", key, "'");
      SkipWs();
      if (key == "descr") {
        if (!ParseString(&out_->descr)) {
          return "'descr' is not a string (structured dtypes are not "
                 "supported)";
        }
        have_descr = true;
      } else if (key == "fortran_order") {
        if (EatWord("True")) {
          out_->fortran_order = true;
        } else if (EatWord("False")) {
          out_->fortran_order = false;
        } else {
          return "'fortran_order' is not True or False";
        }
        have_order = true;
      } else if (key == "shape") {
        std::string err = ParseShape();
        if (!err.empty()) return err;
        have_shape = true;
      } else {
        return absl::StrCat("unexpected key '", key, "'");
      }
      SkipWs();
      if (Eat(',')) continue;
      SkipWs();
      if (Eat('}')) break;
      return "expected ',' or '}'";
    }
    SkipWs();
    if (pos_ != s_.size()) return "unexpected text after the dict";
    if (!have_descr) return "missing 'descr'";
    if (!have_order) return "missing 'fortran_order'";
    if (!have_shape) return "missing 'shape'";
    return "";
  }

 private:
  void SkipWs() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' ||
                                s_[pos_] == '\t' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Eat(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool EatWord(absl::string_view w) {
    if (s_.substr(pos_, w.size()) == w) {
      pos_ += w.size();
      return true;
    }
    return false;
  }
  // A '...' or "..." string without escapes (numpy never writes any).
  bool ParseString(std::string* out) {
    if (pos_ >= s_.size() || (s_[pos_] != '\'' && s_[pos_] != '"')) {
      return false;
    }
    const char quote = s_[pos_++];
    const size_t end = s_.find(quote, pos_);
    if (end == absl::string_view::npos) return false;
    const absl::string_view body = s_.substr(pos_, end - pos_);
    if (body.find('\\') != absl::string_view::npos) return false;
    *out = std::string(body);
    pos_ = end + 1;
    return true;
  }
  std::string ParseShape() {
    if (!Eat('(')) return "'shape' is not a tuple";
    out_->shape.clear();
    while (true) {
      SkipWs();
      if (Eat(')')) return "";
      const size_t start = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      uint64_t v;
      if (!ParseU64(s_.substr(start, pos_ - start), &v)) {
        return "'shape' holds something else than non-negative integers";
      }
      Eat('L');  // Python 2 longs
      if (out_->shape.size() >= 32) return "'shape' has too many dimensions";
      out_->shape.push_back(v);
      SkipWs();
      if (Eat(',')) continue;
      SkipWs();
      if (Eat(')')) return "";
      return "'shape': expected ',' or ')'";
    }
  }

  absl::string_view s_;
  size_t pos_ = 0;
  NpyHeader* out_;
};

std::string ShapeString(const std::vector<uint64_t>& shape) {
  return absl::StrCat("(", absl::StrJoin(shape, ", "), ")");
}

absl::Status ReadNpyHeader(InputFile* file, NpyHeader* h) {
  const std::string& path = file->path();
  uint8_t pre[12];
  TQ_ASSIGN_OR_RETURN(const size_t got, file->Read(pre, 10));
  if (got < 6 || std::memcmp(pre, "\x93NUMPY", 6) != 0) {
    return Invalid(path, "not a .npy file (no \\x93NUMPY magic)");
  }
  if (got < 10) return Truncated(path, "incomplete npy header");
  const int major = pre[6];
  uint64_t header_len, offset;
  if (major == 1) {
    header_len = Load<uint16_t>(pre + 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    TQ_ASSIGN_OR_RETURN(const size_t got2, file->Read(pre + 10, 2));
    if (got2 != 2) return Truncated(path, "incomplete npy header");
    header_len = Load<uint32_t>(pre + 8);
    offset = 12;
  } else {
    return Invalid(path, "unsupported npy format version ", major, ".",
                   static_cast<int>(pre[7]), " (supported: 1.0, 2.0, 3.0)");
  }
  if (header_len > (size_t{1} << 20)) {
    return Invalid(path, "npy header length ", header_len,
                   " is implausible (over 1 MiB)");
  }
  std::string text(header_len, '\0');
  TQ_ASSIGN_OR_RETURN(const size_t got3, file->Read(text.data(), header_len));
  if (got3 != header_len) {
    return Truncated(path, "incomplete npy header (", got3, " of ", header_len,
                     " bytes)");
  }
  const std::string err = NpyDictParser(text, h).Parse();
  if (!err.empty()) return Invalid(path, "bad npy header: ", err);
  h->data_offset = offset + header_len;
  return absl::OkStatus();
}

// Maps a numpy dtype string to an element type among `allowed`.
absl::StatusOr<Elem> NpyElem(
    const std::string& path, const std::string& descr,
    const std::vector<std::pair<Elem, const char*>>& allowed) {
  std::string norm = descr;
  const bool one_byte = norm.size() == 3 && norm[2] == '1';
  if (!norm.empty() && (norm[0] == '>' && !one_byte)) {
    return Invalid(path, "big-endian dtype '", descr, "' is not supported");
  }
  // One-byte types have no byte order: numpy writes '|u1', accept '<'/'>'/'='
  // too; '=' is native, i.e. little-endian here.
  if (!norm.empty() &&
      (norm[0] == '|' || norm[0] == '=' || (one_byte && norm[0] == '>'))) {
    norm[0] = '<';
  }
  std::vector<std::string> names;
  for (const auto& [e, name] : allowed) {
    if (norm == name) return e;
    names.push_back(name);
  }
  return Invalid(path, "unsupported dtype '", descr,
                 "' (supported: ", absl::StrJoin(names, " "), ")");
}

absl::StatusOr<std::unique_ptr<VectorReader>> OpenNpy(
    std::unique_ptr<InputFile> file) {
  const std::string& path = file->path();
  NpyHeader h;
  TQ_RETURN_IF_ERROR(ReadNpyHeader(file.get(), &h));
  if (h.fortran_order) {
    return Invalid(path, "fortran_order arrays are not supported (save a ",
                   "C-order array, e.g. np.ascontiguousarray)");
  }
  TQ_ASSIGN_OR_RETURN(const Elem elem, NpyElem(path, h.descr,
                                               {{Elem::kF32, "<f4"},
                                                {Elem::kF16, "<f2"},
                                                {Elem::kF64, "<f8"},
                                                {Elem::kU8, "<u1"},
                                                {Elem::kI8, "<i1"}}));
  if (h.shape.size() != 2) {
    return Invalid(path, "array shape ", ShapeString(h.shape),
                   " is not 2-D (rows, dim)");
  }
  if (h.shape[1] == 0 || h.shape[1] > kMaxDim) {
    return DimError(path, "shape: ",
                    static_cast<int64_t>(
                        std::min<uint64_t>(h.shape[1], uint64_t{1} << 62)));
  }
  const uint32_t d = static_cast<uint32_t>(h.shape[1]);
  const uint64_t row_bytes = uint64_t{d} * ElemSize(elem);
  if (file->size() < h.data_offset) {
    return Truncated(path, "file ends inside the npy header");
  }
  TQ_RETURN_IF_ERROR(CheckExactSize(path, file->size(), h.data_offset,
                                    h.shape[0], d, row_bytes));
  BinaryVectorReader::Layout layout;
  layout.format = "npy";
  layout.data_offset = h.data_offset;
  layout.elem = elem;
  layout.dim = d;
  layout.rows = h.shape[0];
  return std::unique_ptr<VectorReader>(
      new BinaryVectorReader(std::move(file), std::move(layout)));
}

// ---------------------------------------------------------------------------
// hdf5.

// Owns an HDF5 identifier.
class H5Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  H5Handle() = default;
  H5Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  H5Handle(H5Handle&& o) noexcept : id_(o.id_), closer_(o.closer_) {
    o.id_ = -1;
  }
  H5Handle& operator=(H5Handle&& o) noexcept {
    std::swap(id_, o.id_);
    std::swap(closer_, o.closer_);
    return *this;
  }
  ~H5Handle() {
    if (id_ >= 0) closer_(id_);
  }
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_ = -1;
  Closer closer_ = nullptr;
};

herr_t CollectH5Error(unsigned /*n*/, const H5E_error2_t* e, void* data) {
  auto* out = static_cast<std::string*>(data);
  if (e->desc != nullptr && e->desc[0] != '\0') *out = e->desc;
  return 0;
}

// The innermost message of HDF5's current error stack, then clears it.
std::string H5ErrorText() {
  std::string text;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, CollectH5Error, &text);
  H5Eclear2(H5E_DEFAULT);
  return text.empty() ? "unknown HDF5 error" : text;
}

herr_t CollectName(hid_t /*group*/, const char* name, const H5L_info_t*,
                   void* data) {
  auto* names = static_cast<std::vector<std::string>*>(data);
  if (names->size() >= 20) return 1;  // enough for a message
  names->push_back(name);
  return 0;
}

class Hdf5Reader : public VectorReader {
 public:
  static absl::StatusOr<std::unique_ptr<VectorReader>> Open(
      const std::string& path, const std::string& dataset) {
    // Report missing/unreadable files like the other formats.
    TQ_RETURN_IF_ERROR(InputFile::Open(path, true).status());
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    std::unique_ptr<Hdf5Reader> r(new Hdf5Reader(path));
    r->file_ =
        H5Handle(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    if (!r->file_.ok()) {
      return Invalid(path, "not a readable HDF5 file (", H5ErrorText(), ")");
    }
    const htri_t exists =
        dataset.empty()
            ? 0
            : H5Lexists(r->file_.get(), dataset.c_str(), H5P_DEFAULT);
    if (exists <= 0) {
      H5Eclear2(H5E_DEFAULT);
      std::vector<std::string> names;
      H5Literate(r->file_.get(), H5_INDEX_NAME, H5_ITER_NATIVE, nullptr,
                 CollectName, &names);
      H5Eclear2(H5E_DEFAULT);
      return Invalid(path, "no dataset '", dataset, "' (the file has: ",
                     names.empty() ? "nothing" : absl::StrJoin(names, ", "),
                     ")");
    }
    r->dataset_ = H5Handle(
        H5Dopen2(r->file_.get(), dataset.c_str(), H5P_DEFAULT), H5Dclose);
    if (!r->dataset_.ok()) {
      return Invalid(path, "cannot open dataset '", dataset, "' (",
                     H5ErrorText(), ")");
    }
    H5Handle type(H5Dget_type(r->dataset_.get()), H5Tclose);
    if (!type.ok()) {
      return Invalid(path, "dataset '", dataset, "': cannot read its type (",
                     H5ErrorText(), ")");
    }
    const H5T_class_t cls = H5Tget_class(type.get());
    const size_t tsize = H5Tget_size(type.get());
    if (cls != H5T_FLOAT || (tsize != 4 && tsize != 8)) {
      return Invalid(path, "dataset '", dataset, "' has an unsupported type (",
                     cls == H5T_FLOAT     ? "float"
                     : cls == H5T_INTEGER ? "integer"
                                          : "non-numeric",
                     " of ", tsize, " bytes); need float32 or float64");
    }
    r->double_ = tsize == 8;
    r->space_ = H5Handle(H5Dget_space(r->dataset_.get()), H5Sclose);
    if (!r->space_.ok()) {
      return Invalid(path, "dataset '", dataset, "': cannot read its shape (",
                     H5ErrorText(), ")");
    }
    const int ndims = H5Sget_simple_extent_ndims(r->space_.get());
    if (ndims != 2) {
      H5Eclear2(H5E_DEFAULT);
      return Invalid(path, "dataset '", dataset, "' is ", std::max(ndims, 0),
                     "-D; need 2-D (rows, dim)");
    }
    hsize_t dims[2];
    if (H5Sget_simple_extent_dims(r->space_.get(), dims, nullptr) != 2) {
      return Invalid(path, "dataset '", dataset, "': cannot read its shape (",
                     H5ErrorText(), ")");
    }
    if (dims[1] == 0 || dims[1] > kMaxDim) {
      return DimError(
          path, absl::StrCat("dataset '", dataset, "': "),
          static_cast<int64_t>(std::min<hsize_t>(dims[1], hsize_t{1} << 62)));
    }
    if (dims[0] > 0 && H5Dget_storage_size(r->dataset_.get()) == 0) {
      H5Eclear2(H5E_DEFAULT);
      return Invalid(path, "dataset '", dataset, "' has ", dims[0],
                     " rows but no stored data (never written)");
    }
    r->dim_ = static_cast<uint32_t>(dims[1]);
    r->rows_ = dims[0];
    r->dataset_name_ = dataset;
    return std::unique_ptr<VectorReader>(std::move(r));
  }

  uint32_t dim() const override { return dim_; }
  std::optional<uint64_t> total_rows() const override { return rows_; }
  const std::string& format() const override { return format_; }
  uint64_t next_row() const override { return next_; }

  absl::StatusOr<size_t> Next(size_t max_rows, VectorBatch* batch) override {
    batch->Clear();
    batch->first_row = next_;
    if (max_rows == 0) return MaxRowsError(path_);
    const size_t k =
        static_cast<size_t>(std::min<uint64_t>(max_rows, rows_ - next_));
    if (k == 0) return 0;
    batch->vectors.resize(k * dim_);
    const size_t row_bytes = size_t{dim_} * (double_ ? 8 : 4);
    const size_t chunk_rows = std::max<size_t>(1, kChunkBytes / row_bytes);
    for (size_t done = 0; done < k;) {
      const size_t c = std::min(chunk_rows, k - done);
      const hsize_t start[2] = {next_ + done, 0};
      const hsize_t count[2] = {c, dim_};
      float* dst = batch->vectors.data() + done * dim_;
      if (H5Sselect_hyperslab(space_.get(), H5S_SELECT_SET, start, nullptr,
                              count, nullptr) < 0) {
        return ReadError(done, c);
      }
      H5Handle mem(H5Screate_simple(2, count, nullptr), H5Sclose);
      if (!mem.ok()) return ReadError(done, c);
      herr_t st;
      if (double_) {
        doubles_.resize(c * dim_);
        st = H5Dread(dataset_.get(), H5T_NATIVE_DOUBLE, mem.get(), space_.get(),
                     H5P_DEFAULT, doubles_.data());
      } else {
        st = H5Dread(dataset_.get(), H5T_NATIVE_FLOAT, mem.get(), space_.get(),
                     H5P_DEFAULT, dst);
      }
      if (st < 0) return ReadError(done, c);
      for (size_t i = 0; i < c * dim_; ++i) {
        if (double_) dst[i] = static_cast<float>(doubles_[i]);
        if (!std::isfinite(dst[i])) {
          const uint64_t row1 = next_ + done + i / dim_ + 1;
          const size_t col1 = i % dim_ + 1;
          if (double_ && std::isfinite(doubles_[i])) {
            return Invalid(path_, "dataset '", dataset_name_, "' row ", row1,
                           " column ", col1, ": value ", doubles_[i],
                           " overflows float32");
          }
          return Invalid(path_, "dataset '", dataset_name_, "' row ", row1,
                         " column ", col1, ": ", NonFiniteName(dst[i]));
        }
      }
      done += c;
    }
    next_ += k;
    batch->rows = k;
    return k;
  }

  absl::Status Skip(uint64_t n) override {
    const uint64_t left = rows_ - next_;
    if (n > left) return SkipPastEnd(path_, n, left);
    next_ += n;
    return absl::OkStatus();
  }

 private:
  explicit Hdf5Reader(std::string path) : path_(std::move(path)) {}

  absl::Status ReadError(size_t done, size_t c) {
    return Truncated(path_, "dataset '", dataset_name_, "' rows ",
                     next_ + done + 1, "-", next_ + done + c,
                     ": HDF5 read failed (", H5ErrorText(), ")");
  }

  const std::string path_;
  const std::string format_ = "hdf5";
  std::string dataset_name_;
  // Declaration order = reverse close order: space, dataset, then file.
  H5Handle file_;
  H5Handle dataset_;
  H5Handle space_;
  bool double_ = false;
  uint32_t dim_ = 0;
  uint64_t rows_ = 0;
  uint64_t next_ = 0;
  std::vector<double> doubles_;
};

// ---------------------------------------------------------------------------
// JSON helpers (nlohmann::json; its exceptions stay inside this file).

using Json = nlohmann::json;

// Nesting depth of the JSON text, brackets inside strings ignored; stops
// counting past kMaxJsonDepth. Guards the recursive parts of the library.
int JsonDepth(absl::string_view s) {
  int depth = 0, max_depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      max_depth = std::max(max_depth, ++depth);
      if (max_depth > kMaxJsonDepth) return max_depth;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return max_depth;
}

// Parses one line of JSON; errors name the line.
absl::Status ParseJsonLine(const std::string& path, uint64_t line_no,
                           const std::string& line, Json* out) {
  if (JsonDepth(line) > kMaxJsonDepth) {
    return Invalid(path, "line ", line_no, ": JSON nested deeper than ",
                   kMaxJsonDepth, " levels");
  }
  try {
    *out = Json::parse(line);
  } catch (const std::exception& e) {
    return Invalid(path, "line ", line_no, ": unparsable JSON: ", e.what());
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> CompactJson(const std::string& path,
                                        uint64_t line_no, const Json& j) {
  try {
    return j.dump();
  } catch (const std::exception& e) {
    return Invalid(path, "line ", line_no, ": cannot serialize: ", e.what());
  }
}

struct JsonlRow {
  std::vector<float> vector;
  bool has_id = false;
  uint64_t id = 0;
  std::string payload;
};

// Fills *row from one parsed line. `dim` 0 = not known yet (first row).
absl::Status DecodeJsonlRow(const std::string& path, uint64_t line_no,
                            const Json& j, uint32_t dim, JsonlRow* row) {
  if (!j.is_object()) {
    return Invalid(path, "line ", line_no, ": not a JSON object");
  }
  const auto v = j.find("vector");
  if (v == j.end()) {
    return Invalid(path, "line ", line_no, ": no \"vector\" field");
  }
  if (!v->is_array()) {
    return Invalid(path, "line ", line_no, ": \"vector\" is not an array");
  }
  const size_t n = v->size();
  if (dim == 0) {
    if (n == 0 || n > kMaxDim) {
      return DimError(path, absl::StrCat("line ", line_no, ": "),
                      static_cast<int64_t>(n));
    }
  } else if (n != dim) {
    return Invalid(path, "line ", line_no, ": dimension ", n, ", expected ",
                   dim, " (as in the first row)");
  }
  row->vector.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const Json& x = (*v)[i];
    if (!x.is_number()) {
      return Invalid(path, "line ", line_no, " column ", i + 1,
                     ": not a number");
    }
    const double d = x.get<double>();
    const float f = static_cast<float>(d);
    if (!std::isfinite(f)) {
      if (std::isfinite(d)) {
        return Invalid(path, "line ", line_no, " column ", i + 1, ": value ", d,
                       " overflows float32");
      }
      return Invalid(path, "line ", line_no, " column ", i + 1, ": ",
                     NonFiniteName(d));
    }
    row->vector[i] = f;
  }
  const auto id = j.find("id");
  row->has_id = id != j.end();
  if (row->has_id) {
    if (!id->is_number_unsigned()) {
      return Invalid(path, "line ", line_no, ": \"id\" ", id->dump(),
                     " is not an unsigned 64-bit integer");
    }
    row->id = id->get<uint64_t>();
  }
  const auto payload = j.find("payload");
  if (payload == j.end()) {
    row->payload.clear();
  } else {
    TQ_ASSIGN_OR_RETURN(row->payload, CompactJson(path, line_no, *payload));
  }
  return absl::OkStatus();
}

class JsonlReader : public VectorReader {
 public:
  static absl::StatusOr<std::unique_ptr<VectorReader>> Open(
      std::unique_ptr<InputFile> file) {
    std::unique_ptr<JsonlReader> r(new JsonlReader(std::move(file)));
    TQ_ASSIGN_OR_RETURN(const bool got, r->ReadRow(&r->pending_));
    if (!got) return Invalid(r->lines_.path(), "no data rows");
    r->have_pending_ = true;
    return std::unique_ptr<VectorReader>(std::move(r));
  }

  uint32_t dim() const override { return dim_; }
  std::optional<uint64_t> total_rows() const override { return std::nullopt; }
  const std::string& format() const override { return format_; }
  uint64_t next_row() const override { return next_; }
  bool has_ids() const override { return has_ids_; }
  bool has_payloads() const override { return true; }

  absl::StatusOr<size_t> Next(size_t max_rows, VectorBatch* batch) override {
    batch->Clear();
    batch->first_row = next_;
    if (max_rows == 0) return MaxRowsError(lines_.path());
    size_t k = 0;
    while (k < max_rows) {
      if (!have_pending_) {
        TQ_ASSIGN_OR_RETURN(const bool got, ReadRow(&pending_));
        if (!got) break;
      }
      have_pending_ = false;
      batch->vectors.insert(batch->vectors.end(), pending_.vector.begin(),
                            pending_.vector.end());
      if (has_ids_) batch->ids.push_back(pending_.id);
      batch->payloads.push_back(std::move(pending_.payload));
      ++k;
    }
    next_ += k;
    batch->rows = k;
    return k;
  }

  absl::Status Skip(uint64_t n) override {
    for (uint64_t i = 0; i < n; ++i) {
      if (have_pending_) {
        have_pending_ = false;
      } else {
        bool got;
        do {
          TQ_ASSIGN_OR_RETURN(got, lines_.ReadLine(&line_));
        } while (got && IsBlank(line_));
        if (!got) return SkipPastEnd(lines_.path(), n, i);
      }
      ++next_;
    }
    return absl::OkStatus();
  }

 private:
  explicit JsonlReader(std::unique_ptr<InputFile> file)
      : lines_(std::move(file)) {}

  // Reads the next non-blank line into *row; false at the end.
  absl::StatusOr<bool> ReadRow(JsonlRow* row) {
    bool got;
    do {
      TQ_ASSIGN_OR_RETURN(got, lines_.ReadLine(&line_));
    } while (got && IsBlank(line_));
    if (!got) return false;
    const std::string& path = lines_.path();
    const uint64_t line_no = lines_.line_number();
    Json j;
    TQ_RETURN_IF_ERROR(ParseJsonLine(path, line_no, line_, &j));
    TQ_RETURN_IF_ERROR(DecodeJsonlRow(path, line_no, j, dim_, row));
    if (dim_ == 0) {
      dim_ = static_cast<uint32_t>(row->vector.size());
      has_ids_ = row->has_id;
      first_line_ = line_no;
    } else if (row->has_id != has_ids_) {
      return Invalid(path, "line ", line_no, ": ",
                     row->has_id ? "has an \"id\" but" : "has no \"id\" but",
                     " the first row (line ", first_line_, ") ",
                     has_ids_ ? "has one" : "has none",
                     "; ids must be given for all rows or none");
    }
    return true;
  }

  LineReader lines_;
  const std::string format_ = "jsonl";
  std::string line_;
  JsonlRow pending_;
  bool have_pending_ = false;
  uint32_t dim_ = 0;
  bool has_ids_ = false;
  uint64_t first_line_ = 0;
  uint64_t next_ = 0;
};

// ---------------------------------------------------------------------------
// csv.

absl::string_view Trim(absl::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

size_t CountFields(absl::string_view line) {
  return static_cast<size_t>(std::count(line.begin(), line.end(), ',')) + 1;
}

// Shown in messages: the field, shortened.
std::string Quote(absl::string_view s) {
  if (s.size() > 40) return absl::StrCat("\"", s.substr(0, 40), "...\"");
  return absl::StrCat("\"", s, "\"");
}

class CsvReader : public VectorReader {
 public:
  static absl::StatusOr<std::unique_ptr<VectorReader>> Open(
      std::unique_ptr<InputFile> file) {
    std::unique_ptr<CsvReader> r(new CsvReader(std::move(file)));
    const std::string& path = r->lines_.path();
    TQ_ASSIGN_OR_RETURN(bool got, r->ReadNonBlank());
    if (!got) return Invalid(path, "no data rows");
    size_t header_fields = 0;
    uint64_t header_line = 0;
    {
      const absl::string_view first =
          Trim(absl::string_view(r->line_).substr(0, r->line_.find(',')));
      float f;
      bool overflow;
      uint64_t u;
      if (!ParseU64(first, &u) && !ParseFloat(first, &f, &overflow) &&
          !overflow) {  // a header line
        header_fields = CountFields(r->line_);
        header_line = r->lines_.line_number();
        TQ_ASSIGN_OR_RETURN(got, r->ReadNonBlank());
        if (!got) return Invalid(path, "no data rows after the header");
      }
    }
    const size_t fields = CountFields(r->line_);
    const uint64_t line_no = r->lines_.line_number();
    if (fields < 2) {
      return Invalid(path, "line ", line_no, ": 1 field; need id,v1,...,vd");
    }
    if (fields - 1 > kMaxDim) {
      return DimError(path, absl::StrCat("line ", line_no, ": "),
                      static_cast<int64_t>(fields - 1));
    }
    if (header_fields != 0 && header_fields != fields) {
      return Invalid(path, "line ", line_no, ": ", fields,
                     " fields, but the header (line ", header_line, ") has ",
                     header_fields);
    }
    r->dim_ = static_cast<uint32_t>(fields - 1);
    r->have_line_ = true;
    return std::unique_ptr<VectorReader>(std::move(r));
  }

  uint32_t dim() const override { return dim_; }
  std::optional<uint64_t> total_rows() const override { return std::nullopt; }
  const std::string& format() const override { return format_; }
  uint64_t next_row() const override { return next_; }
  bool has_ids() const override { return true; }

  absl::StatusOr<size_t> Next(size_t max_rows, VectorBatch* batch) override {
    batch->Clear();
    batch->first_row = next_;
    if (max_rows == 0) return MaxRowsError(lines_.path());
    size_t k = 0;
    while (k < max_rows) {
      if (!have_line_) {
        TQ_ASSIGN_OR_RETURN(const bool got, ReadNonBlank());
        if (!got) break;
      }
      have_line_ = false;
      TQ_RETURN_IF_ERROR(ParseRow(batch));
      ++k;
    }
    next_ += k;
    batch->rows = k;
    return k;
  }

  absl::Status Skip(uint64_t n) override {
    for (uint64_t i = 0; i < n; ++i) {
      if (have_line_) {
        have_line_ = false;
      } else {
        TQ_ASSIGN_OR_RETURN(const bool got, ReadNonBlank());
        if (!got) return SkipPastEnd(lines_.path(), n, i);
      }
      ++next_;
    }
    return absl::OkStatus();
  }

 private:
  explicit CsvReader(std::unique_ptr<InputFile> file)
      : lines_(std::move(file)) {}

  absl::StatusOr<bool> ReadNonBlank() {
    bool got;
    do {
      TQ_ASSIGN_OR_RETURN(got, lines_.ReadLine(&line_));
    } while (got && IsBlank(line_));
    return got;
  }

  // Appends line_ (id, dim values) to *batch.
  absl::Status ParseRow(VectorBatch* batch) {
    const std::string& path = lines_.path();
    const uint64_t line_no = lines_.line_number();
    const size_t fields = CountFields(line_);
    if (fields != size_t{dim_} + 1) {
      return Invalid(path, "line ", line_no, ": ", fields, " fields, expected ",
                     dim_ + 1, " (id and ", dim_, " values, as in the first ",
                     "row)");
    }
    absl::string_view rest = line_;
    const size_t base = batch->vectors.size();
    batch->vectors.resize(base + dim_);
    for (size_t col = 0; col <= dim_; ++col) {
      const size_t comma = rest.find(',');
      const absl::string_view field = Trim(rest.substr(0, comma));
      rest = comma == absl::string_view::npos ? absl::string_view()
                                              : rest.substr(comma + 1);
      if (col == 0) {
        uint64_t id;
        if (!ParseU64(field, &id)) {
          return Invalid(path, "line ", line_no, " column 1: id ", Quote(field),
                         " is not an unsigned 64-bit integer");
        }
        batch->ids.push_back(id);
        continue;
      }
      float f;
      bool overflow;
      if (!ParseFloat(field, &f, &overflow)) {
        return Invalid(path, "line ", line_no, " column ", col + 1, ": ",
                       overflow ? "number " : "bad number ", Quote(field),
                       overflow ? " overflows float32" : "");
      }
      if (!std::isfinite(f)) {
        return Invalid(path, "line ", line_no, " column ", col + 1, ": ",
                       NonFiniteName(f));
      }
      batch->vectors[base + col - 1] = f;
    }
    return absl::OkStatus();
  }

  LineReader lines_;
  const std::string format_ = "csv";
  std::string line_;
  bool have_line_ = false;
  uint32_t dim_ = 0;
  uint64_t next_ = 0;
};

// ---------------------------------------------------------------------------
// Id and payload side files.

class TextIdReader : public IdReader {
 public:
  explicit TextIdReader(std::unique_ptr<InputFile> file)
      : lines_(std::move(file)) {}

  std::optional<uint64_t> total() const override { return std::nullopt; }

  absl::StatusOr<size_t> Next(size_t max_ids,
                              std::vector<uint64_t>* ids) override {
    ids->clear();
    if (max_ids == 0) return MaxRowsError(lines_.path());
    while (ids->size() < max_ids) {
      TQ_ASSIGN_OR_RETURN(const bool got, lines_.ReadLine(&line_));
      if (!got) break;
      const absl::string_view field = absl::StripAsciiWhitespace(line_);
      uint64_t id;
      if (!ParseU64(field, &id)) {
        return Invalid(lines_.path(), "line ", lines_.line_number(), ": ",
                       field.empty() ? "blank line, expected an id"
                                     : absl::StrCat("id ", Quote(field),
                                                    " is not an unsigned "
                                                    "64-bit integer"));
      }
      ids->push_back(id);
    }
    return ids->size();
  }

  absl::Status Skip(uint64_t n) override {
    for (uint64_t i = 0; i < n; ++i) {
      TQ_ASSIGN_OR_RETURN(const bool got, lines_.ReadLine(&line_));
      if (!got) return SkipPastEnd(lines_.path(), n, i);
    }
    return absl::OkStatus();
  }

 private:
  LineReader lines_;
  std::string line_;
};

class NpyIdReader : public IdReader {
 public:
  static absl::StatusOr<std::unique_ptr<IdReader>> Open(
      std::unique_ptr<InputFile> file) {
    const std::string& path = file->path();
    NpyHeader h;
    TQ_RETURN_IF_ERROR(ReadNpyHeader(file.get(), &h));
    TQ_ASSIGN_OR_RETURN(const Elem elem, NpyElem(path, h.descr,
                                                 {{Elem::kI64, "<i8"},
                                                  {Elem::kU64, "<u8"},
                                                  {Elem::kI32, "<i4"},
                                                  {Elem::kU32, "<u4"}}));
    if (!(h.shape.size() == 1 || (h.shape.size() == 2 && h.shape[1] == 1))) {
      return Invalid(path, "id array shape ", ShapeString(h.shape),
                     " is not (n,) or (n, 1)");
    }
    if (file->size() < h.data_offset) {
      return Truncated(path, "file ends inside the npy header");
    }
    TQ_RETURN_IF_ERROR(CheckExactSize(path, file->size(), h.data_offset,
                                      h.shape[0], 1, ElemSize(elem)));
    return std::unique_ptr<IdReader>(
        new NpyIdReader(std::move(file), elem, h.shape[0], h.data_offset));
  }

  std::optional<uint64_t> total() const override { return rows_; }

  absl::StatusOr<size_t> Next(size_t max_ids,
                              std::vector<uint64_t>* ids) override {
    ids->clear();
    if (max_ids == 0) return MaxRowsError(file_->path());
    if (!positioned_) {
      TQ_RETURN_IF_ERROR(file_->Seek(offset_ + next_ * ElemSize(elem_)));
      positioned_ = true;
    }
    const size_t k =
        static_cast<size_t>(std::min<uint64_t>(max_ids, rows_ - next_));
    const size_t es = ElemSize(elem_);
    const size_t chunk = kChunkBytes / es;
    for (size_t done = 0; done < k;) {
      const size_t c = std::min(chunk, k - done);
      raw_.resize(c * es);
      TQ_ASSIGN_OR_RETURN(const size_t got,
                          file_->Read(raw_.data(), raw_.size()));
      if (got != raw_.size()) {
        return Truncated(file_->path(), "row ", next_ + done + got / es + 1,
                         ": unexpected end of file");
      }
      for (size_t i = 0; i < c; ++i) {
        const uint8_t* p = raw_.data() + i * es;
        int64_t v;
        switch (elem_) {
          case Elem::kU64:
            ids->push_back(Load<uint64_t>(p));
            continue;
          case Elem::kU32:
            ids->push_back(Load<uint32_t>(p));
            continue;
          case Elem::kI32:
            v = Load<int32_t>(p);
            break;
          default:
            v = Load<int64_t>(p);
            break;
        }
        if (v < 0) {
          return Invalid(file_->path(), "row ", next_ + done + i + 1,
                         ": negative id ", v);
        }
        ids->push_back(static_cast<uint64_t>(v));
      }
      done += c;
    }
    next_ += k;
    return k;
  }

  absl::Status Skip(uint64_t n) override {
    const uint64_t left = rows_ - next_;
    if (n > left) return SkipPastEnd(file_->path(), n, left);
    next_ += n;
    positioned_ = false;
    return absl::OkStatus();
  }

 private:
  NpyIdReader(std::unique_ptr<InputFile> file, Elem elem, uint64_t rows,
              uint64_t offset)
      : file_(std::move(file)), elem_(elem), rows_(rows), offset_(offset) {}

  std::unique_ptr<InputFile> file_;
  const Elem elem_;
  const uint64_t rows_;
  const uint64_t offset_;
  uint64_t next_ = 0;
  bool positioned_ = false;
  std::vector<uint8_t> raw_;
};

class JsonlPayloadReader : public PayloadReader {
 public:
  explicit JsonlPayloadReader(std::unique_ptr<InputFile> file)
      : lines_(std::move(file)) {}

  absl::StatusOr<size_t> Next(size_t max_rows,
                              std::vector<std::string>* payloads) override {
    payloads->clear();
    if (max_rows == 0) return MaxRowsError(lines_.path());
    while (payloads->size() < max_rows) {
      TQ_ASSIGN_OR_RETURN(const bool got, lines_.ReadLine(&line_));
      if (!got) break;
      if (IsBlank(line_)) {
        payloads->emplace_back();
        continue;
      }
      Json j;
      TQ_RETURN_IF_ERROR(
          ParseJsonLine(lines_.path(), lines_.line_number(), line_, &j));
      TQ_ASSIGN_OR_RETURN(std::string text,
                          CompactJson(lines_.path(), lines_.line_number(), j));
      payloads->push_back(std::move(text));
    }
    return payloads->size();
  }

  absl::Status Skip(uint64_t n) override {
    for (uint64_t i = 0; i < n; ++i) {
      TQ_ASSIGN_OR_RETURN(const bool got, lines_.ReadLine(&line_));
      if (!got) return SkipPastEnd(lines_.path(), n, i);
    }
    return absl::OkStatus();
  }

 private:
  LineReader lines_;
  std::string line_;
};

bool EndsWithLower(const std::string& path, absl::string_view ext) {
  return path.size() >= ext.size() &&
         absl::AsciiStrToLower(path.substr(path.size() - ext.size())) == ext;
}

}  // namespace

absl::StatusOr<std::string> ResolveFormat(const std::string& path,
                                          const std::string& format) {
  if (!format.empty()) {
    for (const FormatInfo& f : kFormats) {
      if (format == f.name) return format;
    }
    return Invalid(path, "unknown format '", format, "'; ", SupportedList());
  }
  const size_t slash = path.rfind('/');
  const size_t dot = path.rfind('.');
  if (dot != std::string::npos && (slash == std::string::npos || dot > slash)) {
    const std::string ext = absl::AsciiStrToLower(path.substr(dot));
    for (const FormatInfo& f : kFormats) {
      for (absl::string_view e : absl::StrSplit(f.extensions, ' ')) {
        if (ext == e) return std::string(f.name);
      }
    }
    return Invalid(path, "unknown extension '", path.substr(dot), "'; ",
                   SupportedList());
  }
  return Invalid(path, "no file extension to tell the format; ",
                 SupportedList());
}

absl::StatusOr<std::unique_ptr<VectorReader>> VectorReader::Open(
    const std::string& path, const ReaderOptions& options) {
  TQ_ASSIGN_OR_RETURN(const std::string format,
                      ResolveFormat(path, options.format));
  if (format == "hdf5") return Hdf5Reader::Open(path, options.hdf5_dataset);
  const bool text = format == "jsonl" || format == "csv";
  TQ_ASSIGN_OR_RETURN(std::unique_ptr<InputFile> file,
                      InputFile::Open(path, !text));
  if (format == "fvecs") return OpenVecs(std::move(file), format, Elem::kF32);
  if (format == "bvecs") return OpenVecs(std::move(file), format, Elem::kU8);
  if (format == "ivecs") return OpenVecs(std::move(file), format, Elem::kI32);
  if (format == "fbin") return OpenBin(std::move(file), format, Elem::kF32);
  if (format == "u8bin") return OpenBin(std::move(file), format, Elem::kU8);
  if (format == "i8bin") return OpenBin(std::move(file), format, Elem::kI8);
  if (format == "npy") return OpenNpy(std::move(file));
  if (format == "jsonl") return JsonlReader::Open(std::move(file));
  return CsvReader::Open(std::move(file));
}

absl::StatusOr<std::unique_ptr<IdReader>> IdReader::Open(
    const std::string& path) {
  const bool npy = EndsWithLower(path, ".npy");
  TQ_ASSIGN_OR_RETURN(std::unique_ptr<InputFile> file,
                      InputFile::Open(path, npy));
  if (npy) return NpyIdReader::Open(std::move(file));
  return std::unique_ptr<IdReader>(new TextIdReader(std::move(file)));
}

absl::StatusOr<std::unique_ptr<PayloadReader>> PayloadReader::Open(
    const std::string& path) {
  TQ_ASSIGN_OR_RETURN(std::unique_ptr<InputFile> file,
                      InputFile::Open(path, false));
  return std::unique_ptr<PayloadReader>(
      new JsonlPayloadReader(std::move(file)));
}

}  // namespace tqdb
