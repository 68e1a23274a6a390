// How a tqdb cluster names its write-ahead log in JetStream: one stream per
// collection, one subject per virtual shard, one durable consumer per
// (node, shard). Collection names ([A-Za-z0-9_-]{1,64}, db/db.h) are valid
// stream names and subject tokens as they are.
//
//   StreamName("docs")           "tqdb_docs"
//   StreamSubjects("docs")       "tqdb.docs.*"
//   ShardSubject("docs", 7)      "tqdb.docs.7"
//   ConsumerName(3, 7)           "node3_shard7"
#ifndef TQDB_RPC_CLUSTER_LOG_NAMES_H_
#define TQDB_RPC_CLUSTER_LOG_NAMES_H_

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace tqdb {
namespace cluster {

inline std::string StreamName(absl::string_view collection) {
  return absl::StrCat("tqdb_", collection);
}

inline std::string StreamSubjects(absl::string_view collection) {
  return absl::StrCat("tqdb.", collection, ".*");
}

inline std::string ShardSubject(absl::string_view collection, uint32_t shard) {
  return absl::StrCat("tqdb.", collection, ".", shard);
}

// Durable names may not contain '.', '*' or '>'.
inline std::string ConsumerName(uint32_t node_id, uint32_t shard) {
  return absl::StrCat("node", node_id, "_shard", shard);
}

}  // namespace cluster
}  // namespace tqdb

#endif  // TQDB_RPC_CLUSTER_LOG_NAMES_H_
