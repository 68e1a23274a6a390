// The vector reader of each format family (internal to tools/io/): what
// VectorReader::Open and IdReader::Open dispatch to, one .cc file a family.
// Each takes the opened file and reads only what it needs to learn the
// dimension (and, where a header says, the row count, checked against the
// file size).
#ifndef TQDB_TOOLS_IO_FORMATS_H_
#define TQDB_TOOLS_IO_FORMATS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tools/io/binary.h"
#include "tools/io/input_file.h"
#include "tools/io/readers.h"

namespace tqdb {
namespace io {

// binary.cc: fvecs/bvecs/ivecs (elem kF32/kU8/kI32) learn the dimension
// from row 1; a row of another dimension or an incomplete last row is
// reported by the Next() call that reaches it.
absl::StatusOr<std::unique_ptr<VectorReader>> OpenVecs(
    std::unique_ptr<InputFile> file, const std::string& format, Elem elem);
// binary.cc: fbin/u8bin/i8bin (elem kF32/kU8/kI8), the header's n and d.
absl::StatusOr<std::unique_ptr<VectorReader>> OpenBin(
    std::unique_ptr<InputFile> file, const std::string& format, Elem elem);

// npy.cc: a 2-D array of <f4 <f2 <f8 |u1 |i1 (NumPy format 1, 2 or 3,
// C order, little-endian).
absl::StatusOr<std::unique_ptr<VectorReader>> OpenNpy(
    std::unique_ptr<InputFile> file);
// npy.cc: a 1-D or (n, 1) array of <i8 <u8 <i4 <u4, for --ids; negative
// ids are errors ("row N").
absl::StatusOr<std::unique_ptr<IdReader>> OpenNpyIds(
    std::unique_ptr<InputFile> file);

// hdf5.cc: the dataset `dataset` ("train", or a path inside groups) of
// `path`, read by Debian's libhdf5 (see the notes in readers.h).
absl::StatusOr<std::unique_ptr<VectorReader>> OpenHdf5(
    const std::string& path, const std::string& dataset);

// jsonl.cc: learns the dimension, and whether rows carry ids, from the
// first data line.
absl::StatusOr<std::unique_ptr<VectorReader>> OpenJsonl(
    std::unique_ptr<InputFile> file);

// jsonl.cc: a --payload file, one JSON value (or a blank line) a row.
std::unique_ptr<PayloadReader> OpenJsonlPayloads(
    std::unique_ptr<InputFile> file);

// csv.cc: "id,v1,...,vd" lines after an optional header line (a first
// field that is not a number); the dimension from the first data line.
absl::StatusOr<std::unique_ptr<VectorReader>> OpenCsv(
    std::unique_ptr<InputFile> file);

}  // namespace io
}  // namespace tqdb

#endif  // TQDB_TOOLS_IO_FORMATS_H_
