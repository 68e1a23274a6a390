#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "quant/status_macros.h"
#include "tools/io/binary.h"
#include "tools/io/formats.h"

namespace tqdb {
namespace io {
namespace {

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

}  // namespace

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
  BinaryLayout layout;
  layout.format = "npy";
  layout.data_offset = h.data_offset;
  layout.elem = elem;
  layout.dim = d;
  layout.rows = h.shape[0];
  return NewBinaryVectorReader(std::move(file), std::move(layout));
}

absl::StatusOr<std::unique_ptr<IdReader>> OpenNpyIds(
    std::unique_ptr<InputFile> file) {
  return NpyIdReader::Open(std::move(file));
}

}  // namespace io
}  // namespace tqdb
