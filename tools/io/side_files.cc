// The side files of an ingest: --ids (text here, or .npy through npy.cc) and
// --payload (JSON Lines, through jsonl.cc). Line i, or element i, belongs to
// row i of the vector file, so blank lines count (see IdReader and
// PayloadReader).
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "quant/status_macros.h"
#include "tools/io/formats.h"
#include "tools/io/input_file.h"
#include "tools/io/readers.h"
#include "tools/io/text.h"

namespace tqdb {
namespace io {
namespace {

class TextIdReader : public OnePerLineReader<IdReader> {
 public:
  using OnePerLineReader::OnePerLineReader;

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
};

bool EndsWithLower(const std::string& path, absl::string_view ext) {
  return path.size() >= ext.size() &&
         absl::AsciiStrToLower(path.substr(path.size() - ext.size())) == ext;
}

}  // namespace
}  // namespace io

absl::StatusOr<std::unique_ptr<IdReader>> IdReader::Open(
    const std::string& path) {
  const bool npy = io::EndsWithLower(path, ".npy");
  TQ_ASSIGN_OR_RETURN(std::unique_ptr<io::InputFile> file,
                      io::InputFile::Open(path, npy));
  if (npy) return io::OpenNpyIds(std::move(file));
  return std::unique_ptr<IdReader>(new io::TextIdReader(std::move(file)));
}

absl::StatusOr<std::unique_ptr<PayloadReader>> PayloadReader::Open(
    const std::string& path) {
  TQ_ASSIGN_OR_RETURN(std::unique_ptr<io::InputFile> file,
                      io::InputFile::Open(path, false));
  return io::OpenJsonlPayloads(std::move(file));
}

}  // namespace tqdb
