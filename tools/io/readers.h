// Streaming readers for the vector files `tqdb ingest` loads, plus the side
// files it can pair with them (--ids, --payload): the contract of tools/io/.
// One file a format family implements it (binary.cc: fvecs bvecs ivecs fbin
// u8bin i8bin; npy.cc; hdf5.cc; jsonl.cc and csv.cc over text.cc;
// side_files.cc), on input_file.cc (I/O, number parsing, errors).
//
// Formats (chosen by the file extension, or ReaderOptions::format):
//
//   fvecs  .fvecs   TEXMEX: per row int32 d, then d float32 (little-endian)
//   bvecs  .bvecs   TEXMEX: per row int32 d, then d uint8
//   ivecs  .ivecs   TEXMEX: per row int32 d, then d int32 (converted to float)
//   fbin   .fbin    big-ann-benchmarks: uint32 n, uint32 d, n*d float32
//   u8bin  .u8bin   big-ann-benchmarks: uint32 n, uint32 d, n*d uint8
//   i8bin  .i8bin   big-ann-benchmarks: uint32 n, uint32 d, n*d int8
//   npy    .npy     NumPy v1/v2/v3, 2-D C-order array of <f4 <f2 <f8 |u1 |i1
//   hdf5   .hdf5 .h5  a 2-D float32/float64 dataset (ann-benchmarks "train")
//   jsonl  .jsonl   {"id": 12, "vector": [...], "payload": <any JSON>} a line
//   csv    .csv     id,v1,...,vd a line; optional header line
//
// Memory: a reader holds one batch worth of data plus a bounded buffer
// (4 MiB of raw bytes for the binary formats, one line of at most
// kMaxLineBytes for the text formats), never the whole file.
//
// Numbering in error messages: "row N" is 1-based (row 1 is the first vector
// of the file, so after Skip(k) the next row read is row k+1); "line N" is a
// 1-based line number of a text file (header and blank lines counted);
// "column C" is the 1-based index of the value inside the vector, except for
// csv where it is the 1-based field number of the line (the id is column 1).
// VectorBatch::first_row, by contrast, is a 0-based row index.
//
// Errors (every message starts with the file path):
//   NotFound         the file cannot be opened.
//   DataLoss         the file is truncated: incomplete row, file size not
//                    matching the header, unexpected end of file.
//   InvalidArgument  anything else about the content: unknown format or
//                    extension, bad header, dimension 0 or above kMaxDim,
//                    a row whose dimension differs from the first, NaN or
//                    Inf values (also values overflowing float32), bad
//                    numbers, unparsable JSON, ids that are not unsigned
//                    64-bit integers, empty text files, Skip past the end.
// After an error a reader is in an unspecified state; discard it.
//
// Text formats: lines end with "\n" or "\r\n"; the last line may lack it.
// jsonl and csv skip blank (whitespace-only) lines; the id and payload
// files do not (their line i belongs to row i; see IdReader/PayloadReader).
//
// Thread-safety: a reader is not thread-safe (use one per thread); distinct
// readers may be used from distinct threads, except hdf5 readers: Debian's
// libhdf5 is the serial (non thread-safe) build, so all hdf5 readers of a
// process must be used from one thread at a time. Opening an hdf5 file turns
// off HDF5's automatic error printing for the whole process (H5Eset_auto);
// its errors come back as statuses instead (a failed H5Dread is DataLoss).
// HDF5 files must be trusted: libhdf5 1.10.8 itself crashes on some corrupt
// files (tools/fuzz/libhdf5_crashes/); every other format is parsed here.
// An hdf5 dataset with rows but no stored data (never written) is an error.
#ifndef TQDB_TOOLS_IO_READERS_H_
#define TQDB_TOOLS_IO_READERS_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "quant/coding.h"  // HalfToFloat

namespace tqdb {

// Largest accepted vector dimension; bigger ones (e.g. a corrupt header
// saying 2^31) are an InvalidArgument error, not an allocation.
inline constexpr uint32_t kMaxDim = 65536;

// Longest accepted line of a text file (jsonl, csv, ids, payloads).
inline constexpr size_t kMaxLineBytes = size_t{64} << 20;

// Deepest accepted JSON nesting (payloads are stored, not interpreted).
inline constexpr int kMaxJsonDepth = 256;

struct ReaderOptions {
  // "" = by extension; else one of fvecs bvecs ivecs fbin u8bin i8bin npy
  // hdf5 jsonl csv.
  std::string format;
  // Dataset read from an hdf5 file (ann-benchmarks files hold "train" and
  // "test"). A path inside groups ("group/dataset") works too.
  std::string hdf5_dataset = "train";
};

struct VectorBatch {
  uint64_t first_row = 0;  // 0-based index of the first row in the file
  size_t rows = 0;
  std::vector<float> vectors;  // rows * dim, row-major, all finite
  // One per row when the format carries ids (jsonl "id" present, csv), else
  // empty.
  std::vector<uint64_t> ids;
  // jsonl only: one per row, the "payload" value as compact JSON text, ""
  // when the row has none. Empty for the other formats.
  std::vector<std::string> payloads;
  // jsonl only: one per row, the "sparse_vector" (indices and values of
  // equal lengths, values finite; empty when the row has none).
  std::vector<std::vector<uint32_t>> sparse_indices;
  std::vector<std::vector<float>> sparse_values;
  // jsonl only: one per row, the "text" (BM25: Point::text; "" when the row
  // has none).
  std::vector<std::string> texts;

  void Clear();
};

// The format name `path` would be read as: `format` itself if it is not ""
// (checked to be supported), else derived from the extension
// (case-insensitive). InvalidArgument, listing the supported formats and
// extensions, otherwise.
absl::StatusOr<std::string> ResolveFormat(const std::string& path,
                                          const std::string& format);

// Reads the vectors of one file, front to back, in batches.
class VectorReader {
 public:
  // Opens `path` and reads only the header (jsonl/csv: up to the first data
  // row) to learn the dimension. fbin/u8bin/i8bin/npy also check the file
  // size against the header here (a truncated file fails at Open, before
  // anything is ingested); fvecs/bvecs/ivecs have no row count, so an
  // incomplete last row, or a row of another dimension, is reported by the
  // Next() call that reaches it. Files without any row are an error, except
  // fbin/npy/hdf5 ones whose header says 0 rows of a valid dimension.
  static absl::StatusOr<std::unique_ptr<VectorReader>> Open(
      const std::string& path, const ReaderOptions& options = {});

  VectorReader(const VectorReader&) = delete;
  VectorReader& operator=(const VectorReader&) = delete;
  virtual ~VectorReader();

  // Vector dimension, in [1, kMaxDim].
  virtual uint32_t dim() const = 0;
  // Number of rows in the file when known without reading it (binary
  // formats: from the header or the file size), for progress/ETA.
  // nullopt for jsonl and csv.
  virtual std::optional<uint64_t> total_rows() const = 0;
  // The format name, e.g. "fvecs".
  virtual const std::string& format() const = 0;
  // 0-based index of the next row Next() returns (= rows consumed so far).
  virtual uint64_t next_row() const = 0;
  // Whether batches carry ids (csv always, jsonl when the first row has an
  // "id"; then every row must have one).
  virtual bool has_ids() const { return false; }
  // Whether batches carry payloads (jsonl).
  virtual bool has_payloads() const { return false; }

  // Clears *batch, then reads up to max_rows (> 0) rows into it. Returns
  // the number of rows read, 0 at the end of the file (and forever after).
  // On error *batch holds unspecified content.
  virtual absl::StatusOr<size_t> Next(size_t max_rows, VectorBatch* batch) = 0;

  // Skips n rows: a seek for the binary formats (skipped rows are not
  // validated), reading lines for text (skipped lines are not parsed).
  // Skipping past the last row is an InvalidArgument error.
  virtual absl::Status Skip(uint64_t n) = 0;

 protected:
  VectorReader() = default;
};

// Reads an --ids file: one id per row of the vector file, in order.
//   - text (any extension but .npy): one unsigned decimal integer per line
//     (surrounding blanks allowed; blank lines are errors: "line N").
//   - .npy: a 1-D array, or a 2-D array of one column, of <i8 <u8 <i4 <u4
//     (negative values are errors: "row N").
class IdReader {
 public:
  static absl::StatusOr<std::unique_ptr<IdReader>> Open(
      const std::string& path);

  IdReader(const IdReader&) = delete;
  IdReader& operator=(const IdReader&) = delete;
  virtual ~IdReader();

  // Number of ids when known without reading (npy), else nullopt.
  virtual std::optional<uint64_t> total() const = 0;
  // Clears *ids, appends up to max_ids (> 0) ids; returns how many, 0 at end.
  virtual absl::StatusOr<size_t> Next(size_t max_ids,
                                      std::vector<uint64_t>* ids) = 0;
  // Skips n ids (InvalidArgument past the end).
  virtual absl::Status Skip(uint64_t n) = 0;

 protected:
  IdReader() = default;
};

// Reads a --payload file (JSON Lines): line i holds the payload of row i,
// any JSON value, returned as compact JSON text. A blank line means "no
// payload" and is returned as "". Unparsable JSON is an InvalidArgument
// error naming the line and the parser's reason.
class PayloadReader {
 public:
  static absl::StatusOr<std::unique_ptr<PayloadReader>> Open(
      const std::string& path);

  PayloadReader(const PayloadReader&) = delete;
  PayloadReader& operator=(const PayloadReader&) = delete;
  virtual ~PayloadReader();

  // Clears *payloads, appends up to max_rows (> 0) payloads; returns how
  // many, 0 at end.
  virtual absl::StatusOr<size_t> Next(size_t max_rows,
                                      std::vector<std::string>* payloads) = 0;
  // Skips n lines without parsing them (InvalidArgument past the end).
  virtual absl::Status Skip(uint64_t n) = 0;

 protected:
  PayloadReader() = default;
};

}  // namespace tqdb

#endif  // TQDB_TOOLS_IO_READERS_H_
