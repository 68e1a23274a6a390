// Datetimes in payloads and filters (Qdrant's datetime range and index):
// RFC 3339 strings, read as microseconds since 1970-01-01T00:00:00Z, so
// that a datetime index keeps them as integers and a range compares them
// as such, whatever offsets the strings were written with.
//
// Accepted: YYYY-MM-DD, optionally followed by T (or t, or a space) and
// HH:MM, HH:MM:SS or HH:MM:SS.fraction (1 to 9 digits, kept to the
// microsecond, the rest dropped), then optionally Z (or z) or an offset
// +HH:MM / -HH:MM (also +HHMM). No zone means UTC; a date alone is its
// midnight UTC. Years 0000-9999; month, day (leap years too), hour 0-23,
// minute and second 0-59 checked. Anything else is not a datetime.
//
// Thread-safe: pure functions.
#ifndef TQDB_DB_DATETIME_H_
#define TQDB_DB_DATETIME_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace tqdb {

// Microseconds since the epoch (UTC), or nullopt if `text` is not a
// datetime of the form above.
std::optional<int64_t> ParseDatetime(absl::string_view text);

// "2024-03-01T12:00:00Z" or "2024-03-01T12:00:00.250000Z": the UTC form of
// a value ParseDatetime returned.
std::string FormatDatetime(int64_t micros);

}  // namespace tqdb

#endif  // TQDB_DB_DATETIME_H_
