// Helpers of the tests of tools/: a temporary directory, and running a
// subcommand's Run function as the tqdb binary would.
#ifndef TQDB_TESTS_TOOLS_TOOLS_TEST_UTIL_H_
#define TQDB_TESTS_TOOLS_TOOLS_TEST_UTIL_H_

#include <stdlib.h>

#include <filesystem>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace tqdb {
namespace testing_util {

// A fresh directory under the test's temporary directory, removed with
// everything in it when destroyed.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "tqdb_tools_XXXXXX";
    EXPECT_NE(mkdtemp(tmpl.data()), nullptr);
    path_ = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A subcommand's entry point (RunIngest, RunBench, ...).
using RunFn = int (*)(const std::vector<std::string>&, std::ostream&,
                      std::ostream&);

// What a subcommand did: its exit code, stdout and stderr.
struct Outcome {
  int code = -1;
  std::string out, err;
};

inline Outcome RunCommand(RunFn run, const std::vector<std::string>& args) {
  std::ostringstream out, err;
  Outcome o;
  o.code = run(args, out, err);
  o.out = out.str();
  o.err = err.str();
  return o;
}

}  // namespace testing_util
}  // namespace tqdb

#endif  // TQDB_TESTS_TOOLS_TOOLS_TEST_UTIL_H_
