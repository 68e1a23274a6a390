#include "tools/io/input_file.h"

#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/ascii.h"
#include "quant/status_macros.h"
#include "tools/io/readers.h"

namespace tqdb {
namespace io {

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

const char* NonFiniteName(double v) { return std::isnan(v) ? "NaN" : "Inf"; }

std::string Quote(absl::string_view s) {
  if (s.size() > 40) return absl::StrCat("\"", s.substr(0, 40), "...\"");
  return absl::StrCat("\"", s, "\"");
}

// ---------------------------------------------------------------------------
// InputFile.

absl::StatusOr<std::unique_ptr<InputFile>> InputFile::Open(
    const std::string& path, bool need_size) {
  std::unique_ptr<FILE, Closer> f(std::fopen(path.c_str(), "rbe"));
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
  return std::unique_ptr<InputFile>(
      new InputFile(path, std::move(f), S_ISREG(st.st_mode) ? st.st_size : 0));
}

absl::StatusOr<size_t> InputFile::Read(void* buf, size_t n) {
  const size_t got = std::fread(buf, 1, n, f_.get());
  if (got < n && std::ferror(f_.get())) {
    return Truncated(path_, "read error: ", std::strerror(errno));
  }
  return got;
}

absl::Status InputFile::Seek(uint64_t offset) {
  if (offset > static_cast<uint64_t>(std::numeric_limits<off_t>::max()) ||
      fseeko(f_.get(), static_cast<off_t>(offset), SEEK_SET) != 0) {
    return Invalid(path_, "cannot seek to byte ", offset, ": ",
                   std::strerror(errno));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// LineReader.

absl::StatusOr<bool> LineReader::ReadLine(std::string* line) {
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

bool IsBlank(absl::string_view s) {
  return absl::StripAsciiWhitespace(s).empty();
}

// ---------------------------------------------------------------------------
// Numbers.

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

bool ParseU64(absl::string_view s, uint64_t* out) {
  if (s.empty() || s[0] < '0' || s[0] > '9') return false;
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, *out);
  return ptr == end && ec == std::errc();
}

}  // namespace io
}  // namespace tqdb
