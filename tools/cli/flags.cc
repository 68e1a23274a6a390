#include "tools/cli/flags.h"

#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace tqdb {

FlagSpec FlagSpec::And(const FlagSpec& more) const {
  FlagSpec all = *this;
  all.values.insert(more.values.begin(), more.values.end());
  all.bools.insert(more.bools.begin(), more.bools.end());
  all.positionals = positionals || more.positionals;
  return all;
}

absl::StatusOr<Flags> Flags::Parse(const std::vector<std::string>& args,
                                   const FlagSpec& spec) {
  Flags f;
  bool flags_ended = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (!flags_ended && a == "--") {
      flags_ended = true;
      continue;
    }
    if (flags_ended || a.size() < 3 || a[0] != '-' || a[1] != '-') {
      if (!spec.positionals) {
        return absl::InvalidArgumentError(
            absl::StrCat("unexpected argument '", a, "'"));
      }
      f.positionals_.push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    bool has_value = false;
    const size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    if (spec.bools.count(name)) {
      if (has_value && value != "true" && value != "false") {
        return absl::InvalidArgumentError(
            absl::StrCat("--", name, " takes no value (or =true/=false)"));
      }
      if (!has_value || value == "true") {
        f.values_[name] = "true";
      } else {
        f.values_.erase(name);
      }
      continue;
    }
    if (!spec.values.count(name)) {
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

absl::StatusOr<std::vector<uint64_t>> Flags::GetIdList(
    const std::string& name) const {
  std::vector<uint64_t> ids;
  int col = 0;
  for (absl::string_view part : absl::StrSplit(GetString(name, ""), ',')) {
    ++col;
    uint64_t id;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(part), &id)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--", name, ": value ", col, " ('", part, "') is not a point id"));
    }
    ids.push_back(id);
  }
  return ids;
}

absl::StatusOr<std::vector<float>> Flags::GetFloatList(const std::string& name,
                                                       const std::string& def,
                                                       float min,
                                                       float max) const {
  const std::string s = GetString(name, def);
  std::vector<float> out;
  for (absl::string_view part : absl::StrSplit(s, ',')) {
    float v;
    if (!absl::SimpleAtof(part, &v) || !(v >= min) || v > max) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, ": '", part,
                                                     "' is not a number in [",
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
    if (a == "--") return false;
    if (a == "--help" || a == "-h") return true;
  }
  return false;
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
