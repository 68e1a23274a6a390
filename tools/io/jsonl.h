// JSON Lines (internal to tools/io/): the JSON helpers the .jsonl vector
// reader ({"id": 12, "vector": [...], "payload": <any JSON>} a line) and the
// --payload reader share. nlohmann::json's exceptions stay
// inside jsonl.cc; the helpers return statuses naming the file and line.
#ifndef TQDB_TOOLS_IO_JSONL_H_
#define TQDB_TOOLS_IO_JSONL_H_

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tools/io/input_file.h"
#include "tools/io/readers.h"

namespace tqdb {
namespace io {

using Json = nlohmann::json;

// Parses one line of JSON (nested at most kMaxJsonDepth deep); errors name
// the line.
absl::Status ParseJsonLine(const std::string& path, uint64_t line_no,
                           const std::string& line, Json* out);

// `j` as compact JSON text; errors name the line.
absl::StatusOr<std::string> CompactJson(const std::string& path,
                                        uint64_t line_no, const Json& j);

}  // namespace io
}  // namespace tqdb

#endif  // TQDB_TOOLS_IO_JSONL_H_
