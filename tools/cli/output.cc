#include "tools/cli/output.h"

namespace tqdb {

int ExitCodeOf(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kUnauthenticated:
      return kExitUsage;
    default:
      return kExitFailure;
  }
}

int Fail(absl::string_view command, const absl::Status& status,
         std::ostream& err) {
  err << "tqdb " << command << ": " << status.message() << "\n";
  return ExitCodeOf(status);
}

int InputError(absl::string_view command, const absl::Status& status,
               std::ostream& err) {
  Fail(command, status, err);
  return kExitUsage;
}

int UsageError(absl::string_view command, absl::string_view message,
               std::ostream& err) {
  err << "tqdb " << command << ": " << message << "\n"
      << "Run 'tqdb " << command << " --help' for usage.\n";
  return kExitUsage;
}

int UsageError(absl::string_view command, const absl::Status& status,
               std::ostream& err) {
  return UsageError(command, status.message(), err);
}

std::optional<Flags> ParseCommandLine(absl::string_view command,
                                      const std::vector<std::string>& args,
                                      const FlagSpec& spec,
                                      absl::string_view usage,
                                      std::ostream& out, std::ostream& err,
                                      int* exit_code) {
  if (WantsHelp(args)) {
    out << usage;
    *exit_code = kExitOk;
    return std::nullopt;
  }
  absl::StatusOr<Flags> flags = Flags::Parse(args, spec);
  if (!flags.ok()) {
    *exit_code = UsageError(command, flags.status(), err);
    return std::nullopt;
  }
  return *std::move(flags);
}

std::string Thousands(uint64_t v) {
  std::string s = std::to_string(v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(i, ",");
  return s;
}

}  // namespace tqdb
