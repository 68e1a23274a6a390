// What every reader of tools/io/ is built on (internal to tools/io/): the
// input file (open, read, seek, lines), the number parsers of the text
// formats, and the errors, each starting with the file path (see the error
// contract in tools/io/readers.h).
#ifndef TQDB_TOOLS_IO_INPUT_FILE_H_
#define TQDB_TOOLS_IO_INPUT_FILE_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace tqdb {
namespace io {

// Raw bytes a binary reader decodes at a time (bounds its buffer).
inline constexpr size_t kChunkBytes = size_t{4} << 20;

// "path: <args...>" with the given code.
template <typename... Args>
absl::Status FileError(absl::StatusCode code, const std::string& path,
                       const Args&... args) {
  return absl::Status(code, absl::StrCat(path, ": ", args...));
}
// Bad content: InvalidArgument.
template <typename... Args>
absl::Status Invalid(const std::string& path, const Args&... args) {
  return FileError(absl::StatusCode::kInvalidArgument, path, args...);
}
// A truncated file: DataLoss.
template <typename... Args>
absl::Status Truncated(const std::string& path, const Args&... args) {
  return FileError(absl::StatusCode::kDataLoss, path, args...);
}

// Next() called with max_rows 0.
absl::Status MaxRowsError(const std::string& path);
// A dimension outside [1, kMaxDim]; `where` is e.g. "row 1: ".
absl::Status DimError(const std::string& path, absl::string_view where,
                      int64_t d);
// Skip(n) with only `left` rows left.
absl::Status SkipPastEnd(const std::string& path, uint64_t n, uint64_t left);

// "NaN" / "Inf" for a non-finite value.
const char* NonFiniteName(double v);

// Shown in messages: a field of a text line, quoted and shortened.
std::string Quote(absl::string_view s);

// An open input file. Not thread-safe.
class InputFile {
 public:
  // Opens `path` for reading. `need_size`: the file must be a regular file
  // (its size is needed); otherwise pipes and devices are fine. NotFound if
  // it cannot be opened, InvalidArgument for a directory.
  static absl::StatusOr<std::unique_ptr<InputFile>> Open(
      const std::string& path, bool need_size);

  const std::string& path() const { return path_; }
  // The size of a regular file, else 0.
  uint64_t size() const { return size_; }

  // Reads up to n bytes; fewer only at the end of the file.
  absl::StatusOr<size_t> Read(void* buf, size_t n);
  absl::Status Seek(uint64_t offset);

 private:
  struct Closer {
    void operator()(FILE* f) const { std::fclose(f); }
  };
  InputFile(std::string path, std::unique_ptr<FILE, Closer> f, uint64_t size)
      : path_(std::move(path)), f_(std::move(f)), size_(size) {}

  std::string path_;
  std::unique_ptr<FILE, Closer> f_;
  uint64_t size_;
};

// Splits a text file into lines ("\n" or "\r\n"; the last may lack it). A
// line longer than kMaxLineBytes is an error, not an allocation.
class LineReader {
 public:
  explicit LineReader(std::unique_ptr<InputFile> file)
      : file_(std::move(file)), buf_(size_t{64} << 10) {}

  const std::string& path() const { return file_->path(); }
  // 1-based number of the line last returned.
  uint64_t line_number() const { return line_number_; }

  // Sets *line to the next line without its terminator; false at the end.
  absl::StatusOr<bool> ReadLine(std::string* line);

 private:
  std::unique_ptr<InputFile> file_;
  std::vector<char> buf_;
  size_t pos_ = 0;
  size_t end_ = 0;
  bool eof_ = false;
  uint64_t line_number_ = 0;
};

// Whether `s` holds only whitespace.
bool IsBlank(absl::string_view s);

// Parses all of `s` (no surrounding blanks) as a float. Accepts a leading
// '+'; rejects hex, trailing garbage. Underflow yields the rounded value.
// Returns false for a bad number or overflow (*overflow tells which).
bool ParseFloat(absl::string_view s, float* out, bool* overflow);

// Parses all of `s` as a decimal unsigned 64-bit integer (digits only).
bool ParseU64(absl::string_view s, uint64_t* out);

}  // namespace io
}  // namespace tqdb

#endif  // TQDB_TOOLS_IO_INPUT_FILE_H_
