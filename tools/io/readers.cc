// The readers' entry points: the format of a path, and the vector reader of
// each format (tools/io/<format>.cc).
#include "tools/io/readers.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "quant/status_macros.h"
#include "tools/io/formats.h"
#include "tools/io/input_file.h"

namespace tqdb {

void VectorBatch::Clear() {
  first_row = 0;
  rows = 0;
  vectors.clear();
  ids.clear();
  payloads.clear();
  sparse_indices.clear();
  sparse_values.clear();
  texts.clear();
}

VectorReader::~VectorReader() = default;
IdReader::~IdReader() = default;
PayloadReader::~PayloadReader() = default;

namespace {

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

}  // namespace

absl::StatusOr<std::string> ResolveFormat(const std::string& path,
                                          const std::string& format) {
  if (!format.empty()) {
    for (const FormatInfo& f : kFormats) {
      if (format == f.name) return format;
    }
    return io::Invalid(path, "unknown format '", format, "'; ",
                       SupportedList());
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
    return io::Invalid(path, "unknown extension '", path.substr(dot), "'; ",
                       SupportedList());
  }
  return io::Invalid(path, "no file extension to tell the format; ",
                     SupportedList());
}

absl::StatusOr<std::unique_ptr<VectorReader>> VectorReader::Open(
    const std::string& path, const ReaderOptions& options) {
  TQ_ASSIGN_OR_RETURN(const std::string format,
                      ResolveFormat(path, options.format));
  if (format == "hdf5") return io::OpenHdf5(path, options.hdf5_dataset);
  const bool text = format == "jsonl" || format == "csv";
  TQ_ASSIGN_OR_RETURN(std::unique_ptr<io::InputFile> f,
                      io::InputFile::Open(path, !text));
  using io::Elem;
  if (format == "fvecs") return io::OpenVecs(std::move(f), format, Elem::kF32);
  if (format == "bvecs") return io::OpenVecs(std::move(f), format, Elem::kU8);
  if (format == "ivecs") return io::OpenVecs(std::move(f), format, Elem::kI32);
  if (format == "fbin") return io::OpenBin(std::move(f), format, Elem::kF32);
  if (format == "u8bin") return io::OpenBin(std::move(f), format, Elem::kU8);
  if (format == "i8bin") return io::OpenBin(std::move(f), format, Elem::kI8);
  if (format == "npy") return io::OpenNpy(std::move(f));
  if (format == "jsonl") return io::OpenJsonl(std::move(f));
  return io::OpenCsv(std::move(f));
}

}  // namespace tqdb
