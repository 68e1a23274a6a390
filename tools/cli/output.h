// How every tqdb subcommand ends (the one output and exit-code policy):
// results go to `out`; a failure is one line on `err`,
// "tqdb <command>: <message>", where an input error's message names the file
// and the row or line (the readers' contract, tools/io/readers.h); the exit
// code is
//   0  success,
//   2  a usage or input error: a bad flag or argument, an unreadable or
//      malformed file, and whatever else the user fixes in the command or
//      the data (an unknown collection, a wrong dimension, ...),
//   1  an internal or other failure (a server that does not answer, a
//      failed write, a bug).
//
// Thread-compatible: plain functions.
#ifndef TQDB_TOOLS_CLI_OUTPUT_H_
#define TQDB_TOOLS_CLI_OUTPUT_H_

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "tools/cli/flags.h"

namespace tqdb {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// kExitUsage for the codes a user fixes in the command line or the input
// (InvalidArgument, NotFound, AlreadyExists, FailedPrecondition,
// OutOfRange, ResourceExhausted, Unauthenticated), kExitFailure for the
// rest. OK is kExitOk.
int ExitCodeOf(const absl::Status& status);

// Writes "tqdb <command>: <message>" to err; returns ExitCodeOf(status).
int Fail(absl::string_view command, const absl::Status& status,
         std::ostream& err);

// An error reading an input file (its message names the file and the row or
// line): writes it as Fail does and returns kExitUsage, whatever the code (a
// truncated file is DataLoss).
int InputError(absl::string_view command, const absl::Status& status,
               std::ostream& err);

// A usage error: writes "tqdb <command>: <message>" and a pointer to
// "tqdb <command> --help" to err; returns kExitUsage.
int UsageError(absl::string_view command, absl::string_view message,
               std::ostream& err);
int UsageError(absl::string_view command, const absl::Status& status,
               std::ostream& err);

// How every command starts: "--help" (or "-h") writes `usage` to out and
// ends the command with kExitOk; arguments that do not parse with `spec`
// end it with a usage error. Returns the flags, or nullopt with *exit_code
// set to what the command returns.
std::optional<Flags> ParseCommandLine(absl::string_view command,
                                      const std::vector<std::string>& args,
                                      const FlagSpec& spec,
                                      absl::string_view usage,
                                      std::ostream& out, std::ostream& err,
                                      int* exit_code);

// 1234567 -> "1,234,567" (counts in tables and messages).
std::string Thousands(uint64_t v);

}  // namespace tqdb

#endif  // TQDB_TOOLS_CLI_OUTPUT_H_
