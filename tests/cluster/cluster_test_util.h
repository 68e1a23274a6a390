// What the cluster tests share: a temporary directory removed at the end,
// and polling with a deadline instead of fixed sleeps.
#ifndef TQDB_TESTS_CLUSTER_CLUSTER_TEST_UTIL_H_
#define TQDB_TESTS_CLUSTER_CLUSTER_TEST_UTIL_H_

#include <stdlib.h>

#include <filesystem>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace tqdb {
namespace testing_util {

class TempDir {
 public:
  TempDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern =
        std::string(tmp && *tmp ? tmp : "/tmp") + "/tqdb_cluster_XXXXXX";
    path_ = mkdtemp(pattern.data()) ? pattern : std::string();
  }
  // Kept (with the services' and nodes' logs) when TQDB_KEEP_TEST_DIRS is
  // set, for a failure's post-mortem.
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty() && std::getenv("TQDB_KEEP_TEST_DIRS") == nullptr) {
      std::filesystem::remove_all(path_, ignored);
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Polls `ready` every 20 ms until it holds (true) or `timeout` passes.
template <typename Ready>
bool Eventually(absl::Duration timeout, Ready ready) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    if (ready()) return true;
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
}

}  // namespace testing_util
}  // namespace tqdb

#endif  // TQDB_TESTS_CLUSTER_CLUSTER_TEST_UTIL_H_
