// A cluster node's log line to stderr in one write: a node's threads (its
// replicas, the balancer, the registration) log at once, and lines written
// a piece at a time through std::cerr interleaved mid-line.
//
// Thread-safe.
#ifndef TQDB_RPC_CLUSTER_LOG_LINE_H_
#define TQDB_RPC_CLUSTER_LOG_LINE_H_

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace tqdb {
namespace cluster {

// Writes "tqdb cluster: <text>\n".
inline void LogLine(absl::string_view text) {
  const std::string line = absl::StrCat("tqdb cluster: ", text, "\n");
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace cluster
}  // namespace tqdb

#endif  // TQDB_RPC_CLUSTER_LOG_LINE_H_
