// The command-line flags of the tqdb subcommands.
//
// The contract is Abseil's (absl/flags/parse.h): flags and positional
// arguments may come in any order, and "--" ends the flags (everything after
// it is positional). A flag is "--name value" or "--name=value"; a boolean
// flag is a bare "--name" (or "--name=true", "--name=false"). A flag's value
// is the next argument whatever it looks like ("--vector -1,2" works).
// Unknown flags, missing values and positional arguments to a command that
// takes none are errors (InvalidArgument naming the argument), which the
// commands report as usage errors (exit code 2, tools/cli/output.h). A flag
// given twice keeps its last value.
//
// Thread-compatible: plain values.
#ifndef TQDB_TOOLS_CLI_FLAGS_H_
#define TQDB_TOOLS_CLI_FLAGS_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tqdb {

// The flags a command accepts; names without "--".
struct FlagSpec {
  std::set<std::string> values;  // flags that take a value
  std::set<std::string> bools;   // flags that take none
  bool positionals = false;      // whether the command takes positionals

  // This spec with the flags of `more` added (and its positionals allowed
  // if it allows them).
  FlagSpec And(const FlagSpec& more) const;
};

class Flags {
 public:
  static absl::StatusOr<Flags> Parse(const std::vector<std::string>& args,
                                     const FlagSpec& spec);

  // The positional arguments, in order.
  const std::vector<std::string>& positionals() const { return positionals_; }

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
  // Comma-separated point ids (unsigned 64-bit); the error names the
  // value's place in the list.
  absl::StatusOr<std::vector<uint64_t>> GetIdList(
      const std::string& name) const;
  // Comma-separated numbers, each within [min, max] (NaN is not).
  absl::StatusOr<std::vector<float>> GetFloatList(const std::string& name,
                                                  const std::string& def,
                                                  float min, float max) const;
  // Comma-separated words, each one of `allowed`.
  absl::StatusOr<std::vector<std::string>> GetWordList(
      const std::string& name, const std::string& def,
      const std::set<std::string>& allowed) const;

 private:
  std::map<std::string, std::string> values_;
  std::vector<std::string> positionals_;
};

// True if args hold "--help" or "-h" before any "--".
bool WantsHelp(const std::vector<std::string>& args);

// The API key in `path` (--api-key-file of serve and the client commands):
// its first line without surrounding blanks. InvalidArgument naming the file
// if it cannot be read or the key is empty.
absl::StatusOr<std::string> ReadApiKeyFile(const std::string& path);

}  // namespace tqdb

#endif  // TQDB_TOOLS_CLI_FLAGS_H_
