// A small command-line flag parser for tqdb subcommands.
//
// Accepts "--name value", "--name=value" and, for declared boolean flags,
// bare "--name". Unknown flags, missing values and stray positional
// arguments are errors (InvalidArgument naming the flag), which the CLI turns
// into exit code 2. Not thread-safe; parse once in main.
#ifndef TQDB_TOOLS_FLAGS_H_
#define TQDB_TOOLS_FLAGS_H_

#include <cstdint>
#include <map>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tqdb {

class Flags {
 public:
  // `value_flags` take a value; `bool_flags` do not. Names without "--".
  static absl::StatusOr<Flags> Parse(const std::vector<std::string>& args,
                                     const std::set<std::string>& value_flags,
                                     const std::set<std::string>& bool_flags);

  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  std::string GetString(const std::string& name,
                        const std::string& def = "") const;
  absl::StatusOr<int64_t> GetInt(const std::string& name, int64_t def,
                                 int64_t min, int64_t max) const;
  absl::StatusOr<double> GetDouble(const std::string& name, double def) const;
  // Comma-separated integers, each within [min, max].
  absl::StatusOr<std::vector<int64_t>> GetIntList(const std::string& name,
                                                  const std::string& def,
                                                  int64_t min,
                                                  int64_t max) const;
  // Comma-separated words, each one of `allowed`.
  absl::StatusOr<std::vector<std::string>> GetWordList(
      const std::string& name, const std::string& def,
      const std::set<std::string>& allowed) const;

 private:
  std::map<std::string, std::string> values_;
};

// The API key in `path` (--api-key-file of serve and the client commands):
// its first line without surrounding blanks. InvalidArgument naming the file
// if it cannot be read or the key is empty.
absl::StatusOr<std::string> ReadApiKeyFile(const std::string& path);

// True if args hold "--help" or "-h".
bool WantsHelp(const std::vector<std::string>& args);

// Writes "tqdb <command>: <message>" and a pointer to --help to err;
// returns 2, the usage-error exit code.
int UsageError(const std::string& command, const absl::Status& s,
               std::ostream& err);

}  // namespace tqdb

#endif  // TQDB_TOOLS_FLAGS_H_
