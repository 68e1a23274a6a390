#include "tools/flags.h"

#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace tqdb {

absl::StatusOr<Flags> Flags::Parse(const std::vector<std::string>& args,
                                   const std::set<std::string>& value_flags,
                                   const std::set<std::string>& bool_flags) {
  Flags f;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.size() < 3 || a[0] != '-' || a[1] != '-') {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument '", a, "'"));
    }
    std::string name = a.substr(2), value;
    bool has_value = false;
    const size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    if (bool_flags.count(name)) {
      if (has_value && value != "true" && value != "false") {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, " takes no value (or =true/=false)"));
      }
      if (!has_value || value == "true") f.values_[name] = "true";
      continue;
    }
    if (!value_flags.count(name)) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
    if (!has_value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, " needs a value"));
      }
      value = args[++i];
    }
    f.values_[name] = value;
  }
  return f;
}

std::string Flags::GetString(const std::string& name,
                             const std::string& def) const {
  auto it = values_.find(name);
  return it == values_.end() ? def : it->second;
}

absl::StatusOr<int64_t> Flags::GetInt(const std::string& name, int64_t def,
                                      int64_t min, int64_t max) const {
  auto it = values_.find(name);
  if (it == values_.end()) return def;
  int64_t v;
  if (!absl::SimpleAtoi(it->second, &v) || v < min || v > max) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, ": '", it->second, "' is not an integer in [",
                     min, ", ", max, "]"));
  }
  return v;
}

absl::StatusOr<double> Flags::GetDouble(const std::string& name,
                                        double def) const {
  auto it = values_.find(name);
  if (it == values_.end()) return def;
  double v;
  if (!absl::SimpleAtod(it->second, &v)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, ": '", it->second, "' is not a number"));
  }
  return v;
}

absl::StatusOr<std::vector<int64_t>> Flags::GetIntList(const std::string& name,
                                                       const std::string& def,
                                                       int64_t min,
                                                       int64_t max) const {
  const std::string s = GetString(name, def);
  std::vector<int64_t> out;
  for (absl::string_view part : absl::StrSplit(s, ',')) {
    int64_t v;
    if (!absl::SimpleAtoi(part, &v) || v < min || v > max) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, ": '", part,
                                                     "' is not an integer in [",
                                                     min, ", ", max, "]"));
    }
    out.push_back(v);
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> Flags::GetWordList(
    const std::string& name, const std::string& def,
    const std::set<std::string>& allowed) const {
  const std::string s = GetString(name, def);
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(s, ',')) {
    if (!allowed.count(std::string(part))) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, ": '", part, "' is not one of ",
                       absl::StrJoin(allowed, ", ")));
    }
    out.emplace_back(part);
  }
  return out;
}

bool WantsHelp(const std::vector<std::string>& args) {
  for (const std::string& a : args) {
    if (a == "--help" || a == "-h") return true;
  }
  return false;
}

int UsageError(const std::string& command, const absl::Status& s,
               std::ostream& err) {
  err << "tqdb " << command << ": " << s.message() << "\n"
      << "Run 'tqdb " << command << " --help' for usage.\n";
  return 2;
}

absl::StatusOr<std::string> ReadApiKeyFile(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    return absl::InvalidArgumentError(absl::StrCat("cannot read ", path));
  std::string line;
  std::getline(in, line);
  std::string key(absl::StripAsciiWhitespace(line));
  if (key.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": the API key file is empty"));
  }
  return key;
}

}  // namespace tqdb
