#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "quant/status_macros.h"
#include "tools/io/formats.h"
#include "tools/io/text.h"

namespace tqdb {
namespace io {
namespace {

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

class CsvReader : public TextVectorReader {
 public:
  static absl::StatusOr<std::unique_ptr<VectorReader>> Open(
      std::unique_ptr<InputFile> file) {
    std::unique_ptr<CsvReader> r(new CsvReader(std::move(file)));
    const std::string& path = r->path();
    TQ_ASSIGN_OR_RETURN(bool got, r->ReadDataLine());
    if (!got) return Invalid(path, "no data rows");
    size_t header_fields = 0;
    uint64_t header_line = 0;
    {
      const absl::string_view first =
          Trim(absl::string_view(r->line()).substr(0, r->line().find(',')));
      float f;
      bool overflow;
      uint64_t u;
      if (!ParseU64(first, &u) && !ParseFloat(first, &f, &overflow) &&
          !overflow) {  // a header line
        header_fields = CountFields(r->line());
        header_line = r->line_number();
        TQ_ASSIGN_OR_RETURN(got, r->ReadDataLine());
        if (!got) return Invalid(path, "no data rows after the header");
      }
    }
    const size_t fields = CountFields(r->line());
    const uint64_t line_no = r->line_number();
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
    r->KeepLine(static_cast<uint32_t>(fields - 1));
    return std::unique_ptr<VectorReader>(std::move(r));
  }

  bool has_ids() const override { return true; }

 private:
  explicit CsvReader(std::unique_ptr<InputFile> file)
      : TextVectorReader(std::move(file), "csv") {}

  // Appends line() (id, dim values) to *batch.
  absl::Status AppendRow(VectorBatch* batch) override {
    const uint32_t dim = this->dim();
    const uint64_t line_no = line_number();
    const size_t fields = CountFields(line());
    if (fields != size_t{dim} + 1) {
      return Invalid(path(), "line ", line_no, ": ", fields,
                     " fields, expected ", dim + 1, " (id and ", dim,
                     " values, as in the first row)");
    }
    absl::string_view rest = line();
    const size_t base = batch->vectors.size();
    batch->vectors.resize(base + dim);
    for (size_t col = 0; col <= dim; ++col) {
      const size_t comma = rest.find(',');
      const absl::string_view field = Trim(rest.substr(0, comma));
      rest = comma == absl::string_view::npos ? absl::string_view()
                                              : rest.substr(comma + 1);
      if (col == 0) {
        uint64_t id;
        if (!ParseU64(field, &id)) {
          return Invalid(path(), "line ", line_no, " column 1: id ",
                         Quote(field), " is not an unsigned 64-bit integer");
        }
        batch->ids.push_back(id);
        continue;
      }
      float f;
      bool overflow;
      if (!ParseFloat(field, &f, &overflow)) {
        return Invalid(path(), "line ", line_no, " column ", col + 1, ": ",
                       overflow ? "number " : "bad number ", Quote(field),
                       overflow ? " overflows float32" : "");
      }
      if (!std::isfinite(f)) {
        return Invalid(path(), "line ", line_no, " column ", col + 1, ": ",
                       NonFiniteName(f));
      }
      batch->vectors[base + col - 1] = f;
    }
    return absl::OkStatus();
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<VectorReader>> OpenCsv(
    std::unique_ptr<InputFile> file) {
  return CsvReader::Open(std::move(file));
}

}  // namespace io
}  // namespace tqdb
