// Shared body of the readers' libFuzzer fuzzers (tools/fuzz/*_fuzzer.cc).
//
// Each input is written to a per-process file in /dev/shm (fast; $TMPDIR or
// /tmp when /dev/shm is absent) with the format's extension, opened with the
// reader under test and read to the end in small batches with a Skip(1)
// between batches. Errors are fine; crashes, sanitizer reports and broken
// invariants (batch sizes, non-finite values) abort.
#ifndef TQDB_TOOLS_FUZZ_FUZZ_UTIL_H_
#define TQDB_TOOLS_FUZZ_FUZZ_UTIL_H_

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "tools/io/readers.h"

namespace tqdb {
namespace fuzz {

// Batches read per input at most: enough to cross every buffer boundary of
// the small inputs libFuzzer makes; bounds the time of inputs declaring
// huge, cheap row counts (e.g. an hdf5 dataset of 10^12 unallocated rows).
constexpr int kMaxBatches = 300;

inline void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
    std::abort();
  }
}

// Scratch files of this process, one per extension (removed at exit).
inline std::set<std::string>* scratch_paths = nullptr;

// Writes the input to this process's scratch file for `ext`; returns its
// path.
inline const std::string& WriteInput(const uint8_t* data, size_t size,
                                     const char* ext) {
  static const std::string base = [] {
    const char* dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : nullptr;
    if (dir == nullptr) dir = std::getenv("TMPDIR");
    if (dir == nullptr) dir = "/tmp";
    scratch_paths = new std::set<std::string>;
    // libFuzzer's -max_total_time ends in exit(), which runs this.
    std::atexit([] {
      for (const std::string& p : *scratch_paths) std::remove(p.c_str());
    });
    return std::string(dir) + "/tqdb_fuzz_" + std::to_string(getpid());
  }();
  const std::string* path = &*scratch_paths->insert(base + ext).first;
  FILE* f = std::fopen(path->c_str(), "wb");
  Check(f != nullptr, "cannot create the scratch file");
  Check(size == 0 || std::fwrite(data, 1, size, f) == size, "short write");
  std::fclose(f);
  return *path;
}

// Opens `path` with `options` and reads every batch (3 rows each, Skip(1)
// after every other batch), checking invariants. Returns the rows read, or
// -1 on a (legitimate) error status.
inline int64_t ReadAllBatches(const std::string& path,
                              const ReaderOptions& options) {
  absl::StatusOr<std::unique_ptr<VectorReader>> r =
      VectorReader::Open(path, options);
  if (!r.ok()) {
    Check(!r.status().message().empty(), "empty error message");
    return -1;
  }
  VectorReader& reader = **r;
  const uint32_t dim = reader.dim();
  Check(dim >= 1 && dim <= kMaxDim, "dim out of range");
  VectorBatch batch;
  int64_t rows = 0;
  for (int i = 0; i < kMaxBatches; ++i) {
    const uint64_t first = reader.next_row();
    absl::StatusOr<size_t> n = reader.Next(3, &batch);
    if (!n.ok()) return -1;
    Check(*n <= 3 && batch.rows == *n, "batch row count");
    Check(batch.first_row == first, "first_row");
    Check(batch.vectors.size() == batch.rows * dim, "vectors size");
    Check(batch.ids.size() == (reader.has_ids() ? batch.rows : 0), "ids");
    Check(batch.payloads.size() == (reader.has_payloads() ? batch.rows : 0),
          "payloads");
    for (float v : batch.vectors) Check(std::isfinite(v), "non-finite value");
    if (reader.total_rows()) {
      Check(reader.next_row() <= *reader.total_rows(), "past total_rows");
    }
    if (*n == 0) {
      Check(reader.Next(3, &batch).value_or(1) == 0, "Next after the end");
      Check(reader.Skip(1).code() == absl::StatusCode::kInvalidArgument,
            "Skip past the end");
      return rows;
    }
    rows += static_cast<int64_t>(*n);
    if (i % 2 == 1 && !reader.Skip(1).ok()) return -1;
  }
  return rows;
}

// Opens the input as `format` and reads every batch.
inline int FuzzVectorReader(const uint8_t* data, size_t size,
                            const char* format, const char* ext) {
  ReaderOptions options;
  options.format = format;
  ReadAllBatches(WriteInput(data, size, ext), options);
  return 0;
}

// Opens the input as an --ids file (text, or npy when ext is ".npy").
inline int FuzzIdReader(const uint8_t* data, size_t size, const char* ext) {
  const std::string& path = WriteInput(data, size, ext);
  absl::StatusOr<std::unique_ptr<IdReader>> r = IdReader::Open(path);
  if (!r.ok()) return 0;
  std::vector<uint64_t> ids;
  for (int i = 0; i < kMaxBatches; ++i) {
    absl::StatusOr<size_t> n = (*r)->Next(3, &ids);
    if (!n.ok()) return 0;
    Check(*n <= 3 && ids.size() == *n, "id count");
    if (*n == 0) return 0;
    if (i % 2 == 1 && !(*r)->Skip(1).ok()) return 0;
  }
  return 0;
}

// Opens the input as a --payload file.
inline int FuzzPayloadReader(const uint8_t* data, size_t size) {
  const std::string& path = WriteInput(data, size, ".jsonl");
  absl::StatusOr<std::unique_ptr<PayloadReader>> r = PayloadReader::Open(path);
  if (!r.ok()) return 0;
  std::vector<std::string> payloads;
  for (int i = 0; i < kMaxBatches; ++i) {
    absl::StatusOr<size_t> n = (*r)->Next(3, &payloads);
    if (!n.ok()) return 0;
    Check(*n <= 3 && payloads.size() == *n, "payload count");
    if (*n == 0) return 0;
    if (i % 2 == 1 && !(*r)->Skip(1).ok()) return 0;
  }
  return 0;
}

}  // namespace fuzz
}  // namespace tqdb

#endif  // TQDB_TOOLS_FUZZ_FUZZ_UTIL_H_
