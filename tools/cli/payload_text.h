// How the CLI shows stored bytes it does not control: payloads, and any
// other string that may not be UTF-8 (names, paths, server messages), in
// JSON output and in tables. Nothing here throws or aborts, whatever the
// bytes.
//
// The payload contract: a payload is JSON text (UTF-8), validated at upsert.
// Older versions, and writers going straight to RocksDB, may have stored
// other bytes; they are shown, never fatal:
//  - JSON: a payload that parses as JSON is shown as that JSON value;
//    anything else as a JSON string of its text;
//  - invalid UTF-8: each byte that is not part of a valid UTF-8 sequence is
//    replaced by U+FFFD (the replacement character, "\xef\xbf\xbd");
//  - tables: one line, control characters escaped (\n, \t, \x01), cut at a
//    character boundary.
//
// Thread-safe (pure functions).
#ifndef TQDB_TOOLS_CLI_PAYLOAD_TEXT_H_
#define TQDB_TOOLS_CLI_PAYLOAD_TEXT_H_

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/string_view.h"

namespace tqdb {

// `bytes` with every byte outside a valid UTF-8 sequence replaced by U+FFFD
// (overlong forms, surrogates and code points above U+10FFFF are invalid).
std::string ValidUtf8(absl::string_view bytes);

// The JSON value of a payload: null when empty, the parsed JSON when it is
// JSON, else a string (ValidUtf8 of its bytes).
nlohmann::json PayloadJson(absl::string_view payload);

// A payload in one table cell: ValidUtf8, control characters escaped, at
// most `max_chars` characters (the last three "..." when cut).
std::string PayloadCell(absl::string_view payload, size_t max_chars);

// j.dump(), with any invalid UTF-8 left in its strings replaced by U+FFFD
// instead of throwing (nlohmann's default throws type_error.316).
std::string DumpJson(const nlohmann::json& j);

}  // namespace tqdb

#endif  // TQDB_TOOLS_CLI_PAYLOAD_TEXT_H_
