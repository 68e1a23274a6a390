// The line-based formats' shared parts (internal to tools/io/): the vector
// reader that skips blank lines, keeps the first data line its Open looked
// at, and runs the batch loop of Next() and Skip() (jsonl.cc and csv.cc
// parse one line into one row), and the side-file reader of one entry per
// line (--ids, --payload).
#ifndef TQDB_TOOLS_IO_TEXT_H_
#define TQDB_TOOLS_IO_TEXT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "quant/status_macros.h"
#include "tools/io/input_file.h"
#include "tools/io/readers.h"

namespace tqdb {
namespace io {

class TextVectorReader : public VectorReader {
 public:
  uint32_t dim() const override { return dim_; }
  std::optional<uint64_t> total_rows() const override { return std::nullopt; }
  const std::string& format() const override { return format_; }
  uint64_t next_row() const override { return next_; }

  absl::StatusOr<size_t> Next(size_t max_rows, VectorBatch* batch) final;
  // Skipped lines are not parsed.
  absl::Status Skip(uint64_t n) final;

 protected:
  TextVectorReader(std::unique_ptr<InputFile> file, std::string format)
      : lines_(std::move(file)), format_(std::move(format)) {}

  // Reads the next non-blank line into line(); false at the end.
  absl::StatusOr<bool> ReadDataLine();
  // For Open, once it has learnt the dimension from the data line in
  // line(): the first Next() starts with that line.
  void KeepLine(uint32_t dim) {
    dim_ = dim;
    have_line_ = true;
  }

  const std::string& path() const { return lines_.path(); }
  const std::string& line() const { return line_; }
  uint64_t line_number() const { return lines_.line_number(); }

  // Parses line() and appends its row (dim() values, and the id and
  // payload where the format has them) to *batch.
  virtual absl::Status AppendRow(VectorBatch* batch) = 0;

 private:
  LineReader lines_;
  const std::string format_;
  std::string line_;
  bool have_line_ = false;
  uint32_t dim_ = 0;
  uint64_t next_ = 0;
};

// A text side file of one entry per line (IdReader or PayloadReader).
template <typename Base>
class OnePerLineReader : public Base {
 public:
  explicit OnePerLineReader(std::unique_ptr<InputFile> file)
      : lines_(std::move(file)) {}

  // Skips n lines without parsing them.
  absl::Status Skip(uint64_t n) override {
    for (uint64_t i = 0; i < n; ++i) {
      TQ_ASSIGN_OR_RETURN(const bool got, lines_.ReadLine(&line_));
      if (!got) return SkipPastEnd(lines_.path(), n, i);
    }
    return absl::OkStatus();
  }

 protected:
  LineReader lines_;
  std::string line_;
};

}  // namespace io
}  // namespace tqdb

#endif  // TQDB_TOOLS_IO_TEXT_H_
